/* The limits of dycl_options_t through the C API: each one exceeded gives DYCL_CODE_LIMIT (negative
 * values DYCL_CODE_INVALID_INPUT) with a one-line message naming it, a session that hit a limit runs
 * again, tensor memory is given back after a failed run, outputs and values a recorder keeps do not
 * outlive anything they need, and the deadline check costs well under a microsecond per loop
 * iteration. Models from tests/limits/make_models.py.
 *
 * Usage: test_limits_api DIR (the folder make_models.py wrote). Exit 0 when every check passes. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dycl/dycl.h"

static int g_failed, g_checks;
static const char* g_dir;

#define CHECK(cond, ...)                                 \
  do {                                                   \
    g_checks++;                                          \
    if (!(cond)) {                                       \
      g_failed++;                                        \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                      \
      fprintf(stderr, "\n");                             \
    }                                                    \
  } while (0)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char* model_path(const char* name) {
  static char buf[2048];
  snprintf(buf, sizeof buf, "%s/%s", g_dir, name);
  return buf;
}

static dycl_options_t ref_options(void) {
  dycl_options_t o;
  dycl_options_init(&o);
  o.backend = "ref";
  return o;
}

/* Checks that s is an error of `code` whose one-line message contains `word`; frees s. */
static void expect_error(dycl_status_t s, dycl_code_t code, const char* word, const char* what) {
  CHECK(s != NULL, "%s: succeeded, expected %s", what, dycl_code_name(code));
  if (!s) return;
  const char* msg = dycl_status_message(s);
  CHECK(dycl_status_code(s) == code, "%s: got %s (%s), expected %s", what, dycl_code_name(dycl_status_code(s)), msg,
        dycl_code_name(code));
  CHECK(strstr(msg, word) != NULL, "%s: message '%s' does not mention '%s'", what, msg, word);
  CHECK(strchr(msg, '\n') == NULL, "%s: message has more than one line", what);
  dycl_status_free(s);
}

static void expect_ok(dycl_status_t s, const char* what) {
  CHECK(s == NULL, "%s: %s", what, s ? dycl_status_message(s) : "");
  dycl_status_free(s);
}

static dycl_value_t* scalar_f32(float v) {
  dycl_value_t* t = NULL;
  dycl_status_t s = dycl_value_create_tensor(NULL, DYCL_DTYPE_FLOAT32, 0, NULL, &v, &t);
  expect_ok(s, "scalar_f32");
  return t;
}

static dycl_value_t* scalar_i64(int64_t v) {
  dycl_value_t* t = NULL;
  dycl_status_t s = dycl_value_create_tensor(NULL, DYCL_DTYPE_INT64, 0, NULL, &v, &t);
  expect_ok(s, "scalar_i64");
  return t;
}

static dycl_value_t* ones(int64_t n) {
  float* buf = malloc((size_t)n * sizeof *buf);
  for (int64_t i = 0; i < n; i++) buf[i] = 1.0f;
  dycl_value_t* t = NULL;
  expect_ok(dycl_value_create_tensor(NULL, DYCL_DTYPE_FLOAT32, 1, &n, buf, &t), "ones");
  free(buf);
  return t;
}

/* ------------------------------------------------------------------ tests */

static void test_bad_options(void) {
  dycl_model_t* m = NULL;
  dycl_options_t o = ref_options();
  o.max_nesting = -1;
  expect_error(dycl_model_load(model_path("if.onnx"), &o, &m), DYCL_CODE_INVALID_INPUT, "max_nesting", "max_nesting -1");
  o = ref_options();
  o.max_iterations = -5;
  expect_error(dycl_model_load(model_path("if.onnx"), &o, &m), DYCL_CODE_INVALID_INPUT, "max_iterations",
               "max_iterations -5");
  o = ref_options();
  o.deadline_seconds = -1;
  expect_error(dycl_model_load(model_path("if.onnx"), &o, &m), DYCL_CODE_INVALID_INPUT, "deadline", "deadline -1");
  o.deadline_seconds = NAN;
  expect_error(dycl_model_load(model_path("if.onnx"), &o, &m), DYCL_CODE_INVALID_INPUT, "deadline", "deadline NaN");
  o.deadline_seconds = INFINITY;
  expect_error(dycl_model_load(model_path("if.onnx"), &o, &m), DYCL_CODE_INVALID_INPUT, "deadline", "deadline inf");
  CHECK(m == NULL, "a failed load left a model");
}

static void test_nesting(void) {
  dycl_model_t* m = NULL;
  dycl_options_t o = ref_options();
  o.max_nesting = 4;
  expect_error(dycl_model_load(model_path("nest5.onnx"), &o, &m), DYCL_CODE_LIMIT, "nested more than 4", "nest5, max 4");
  o.max_nesting = 5;
  expect_ok(dycl_model_load(model_path("nest5.onnx"), &o, &m), "nest5, max 5");
  dycl_model_destroy(m);
  m = NULL;
  o.max_nesting = 1;
  expect_error(dycl_model_load(model_path("nest3.onnx"), &o, &m), DYCL_CODE_LIMIT, "nested more than 1", "nest3, max 1");
  o.max_nesting = 0; /* the default, 64 */
  expect_ok(dycl_model_load(model_path("nest5.onnx"), &o, &m), "nest5, default");
  dycl_model_destroy(m);
}

/* Runs `name` with the options and inputs; returns the status, *stats filled. */
static dycl_status_t run_model(const char* name, const dycl_options_t* o, dycl_value_t** ins, int n_in,
                               dycl_run_stats_t* stats, double* secs) {
  dycl_model_t* m = NULL;
  dycl_session_t* sess = NULL;
  dycl_value_t* outs[4] = {0};
  dycl_status_t s = dycl_model_load(model_path(name), o, &m);
  if (!s) s = dycl_session_create(m, &sess);
  double t0 = now_s();
  if (!s) s = dycl_session_run(sess, ins, n_in, outs, dycl_model_num_outputs(m));
  if (secs) *secs = now_s() - t0;
  if (stats && sess) dycl_session_stats(sess, stats);
  for (int j = 0; j < 4; j++) dycl_value_release(outs[j]);
  dycl_session_destroy(sess);
  dycl_model_destroy(m);
  return s;
}

static void test_iterations(void) {
  dycl_value_t* x = scalar_f32(0);
  dycl_value_t* trip = scalar_i64(100);
  dycl_value_t* ins[2] = {x, trip};
  dycl_options_t o = ref_options();
  dycl_run_stats_t st;
  o.max_iterations = 1000;
  expect_error(run_model("endless.onnx", &o, ins, 1, &st, NULL), DYCL_CODE_LIMIT, "more than 1000 iterations",
               "endless loop, max 1000");
  CHECK(st.loop_iterations == 1000, "the endless loop ran %" PRId64 " iterations before failing, not 1000",
        st.loop_iterations);
  o.max_iterations = 100;
  expect_ok(run_model("counted.onnx", &o, ins, 2, &st, NULL), "100 iterations, max 100");
  CHECK(st.loop_iterations == 100, "counted loop: %" PRId64 " iterations", st.loop_iterations);
  o.max_iterations = 99;
  expect_error(run_model("counted.onnx", &o, ins, 2, &st, NULL), DYCL_CODE_LIMIT, "max-iterations",
               "100 iterations, max 99");
  /* Scan counts too */
  dycl_model_t* m = NULL;
  dycl_session_t* sess = NULL;
  o.max_iterations = 4;
  expect_ok(dycl_model_load(model_path("scan.onnx"), &o, &m), "load scan");
  if (m) {
    expect_ok(dycl_session_create(m, &sess), "scan session");
    int64_t d5x2[2] = {5, 2}, d2 = 2;
    dycl_value_t *s0 = NULL, *a = NULL, *outs[3] = {0};
    expect_ok(dycl_value_create_tensor(NULL, DYCL_DTYPE_FLOAT32, 1, &d2, NULL, &s0), "s0");
    expect_ok(dycl_value_create_tensor(NULL, DYCL_DTYPE_FLOAT32, 2, d5x2, NULL, &a), "a");
    dycl_value_t* sins[3] = {s0, a, a};
    if (sess) expect_error(dycl_session_run(sess, sins, 3, outs, 3), DYCL_CODE_LIMIT, "scan ran more than 4", "scan of 5, max 4");
    dycl_value_release(s0);
    dycl_value_release(a);
    dycl_session_destroy(sess);
    dycl_model_destroy(m);
  }
  dycl_value_release(x);
  dycl_value_release(trip);
}

static void test_deadline(void) {
  dycl_value_t* x = scalar_f32(0);
  dycl_value_t* trip = scalar_i64(100);
  dycl_value_t* ins[2] = {x, trip};
  dycl_options_t o = ref_options();
  o.deadline_seconds = 0.2;
  dycl_model_t* m = NULL;
  dycl_session_t* sess = NULL;
  expect_ok(dycl_model_load(model_path("endless.onnx"), &o, &m), "load endless");
  if (m) expect_ok(dycl_session_create(m, &sess), "endless session");
  for (int r = 0; sess && r < 2; r++) { /* the same session twice: each run gets the whole deadline */
    dycl_value_t* out = NULL;
    double t0 = now_s();
    dycl_status_t s = dycl_session_run(sess, ins, 1, &out, 1);
    double dt = now_s() - t0;
    expect_error(s, DYCL_CODE_LIMIT, "deadline of 0.2 s", "endless loop, deadline 0.2 s");
    CHECK(dt >= 0.2 && dt < 5.0, "run %d with a 0.2 s deadline took %.3f s", r, dt);
    CHECK(out == NULL, "a failed run left an output");
  }
  dycl_session_destroy(sess);
  dycl_model_destroy(m);
  o.deadline_seconds = 60;
  expect_ok(run_model("counted.onnx", &o, ins, 2, NULL, NULL), "counted loop, deadline 60 s");

  /* the cost of the check: a loop of many cheap iterations with and without a deadline */
  dycl_value_t* many = scalar_i64(200000);
  ins[1] = many;
  double best[2] = {1e30, 1e30}, per_iter_ns = 0;
  /* best of 5 runs each, alternating; measured again (up to 3 times) when a busy machine blurs it */
  for (int attempt = 0; attempt < 3; attempt++) {
    for (int rep = 0; rep < 5; rep++)
      for (int with = 0; with < 2; with++) {
        dycl_options_t oo = ref_options();
        oo.deadline_seconds = with ? 3600 : 0;
        double secs = 0;
        expect_ok(run_model("counted.onnx", &oo, ins, 2, NULL, &secs), "200000 iterations");
        if (secs < best[with]) best[with] = secs;
      }
    per_iter_ns = (best[1] - best[0]) / 200000 * 1e9;
    if (per_iter_ns < 1000) break;
  }
  printf("limits.api: 200000 loop iterations: %.1f ns each without a deadline, %.1f ns with one (%+.1f ns)\n",
         best[0] / 200000 * 1e9, best[1] / 200000 * 1e9, per_iter_ns);
  CHECK(per_iter_ns < 1000, "the deadline check costs %.1f ns per iteration", per_iter_ns);
  dycl_value_release(many);
  dycl_value_release(x);
  dycl_value_release(trip);
}

/* The recorder keeps (retains) every value it sees. */
typedef struct keeper {
  dycl_value_t* kept[256];
  int n;
} keeper_t;

static dycl_status_t keep_values(void* user, int subnet, const dycl_value_t* const* ins, int n_in,
                                 const dycl_value_t* const* outs, int n_out) {
  keeper_t* k = user;
  (void)subnet, (void)ins, (void)n_in;
  for (int j = 0; j < n_out && k->n < 256; j++) k->kept[k->n++] = dycl_value_retain((dycl_value_t*)outs[j]);
  return NULL;
}

static void test_memory(void) {
  dycl_value_t* x = ones(1024);
  dycl_value_t* trip12 = scalar_i64(12); /* the last doubling needs 8 + 16 MiB live */
  dycl_value_t* trip4 = scalar_i64(4);
  dycl_value_t* trip8 = scalar_i64(8); /* 0.5 + 1 MiB live at the end, 1 MiB output */
  dycl_options_t o = ref_options();
  o.max_memory = 8 << 20;
  dycl_model_t* m = NULL;
  dycl_session_t* sess = NULL;
  expect_ok(dycl_model_load(model_path("growing.onnx"), &o, &m), "load growing");
  if (m) expect_ok(dycl_session_create(m, &sess), "growing session");
  for (int r = 0; sess && r < 50; r++) {
    dycl_value_t* outs[2] = {0};
    dycl_value_t* ins[2] = {x, trip12};
    expect_error(dycl_session_run(sess, ins, 2, outs, 2), DYCL_CODE_LIMIT, "--max-memory", "growing to 16 MiB, max 8 MiB");
    ins[1] = trip4; /* nothing of the failed run may still count */
    expect_ok(dycl_session_run(sess, ins, 2, outs, 2), "growing to 64 KiB after a failed run");
    dycl_value_release(outs[0]);
    dycl_value_release(outs[1]);
  }
  dycl_session_destroy(sess);
  dycl_model_destroy(m);
  m = NULL;
  sess = NULL;

  /* outputs stop counting once returned: keep eight 1 MiB outputs under a 2 MiB limit */
  o.max_memory = 2 << 20;
  expect_ok(dycl_model_load(model_path("growing.onnx"), &o, &m), "load growing, 2 MiB");
  if (m) expect_ok(dycl_session_create(m, &sess), "session, 2 MiB");
  dycl_value_t* kept[16] = {0};
  for (int r = 0; sess && r < 8; r++) {
    dycl_value_t* ins[2] = {x, trip8};
    expect_ok(dycl_session_run(sess, ins, 2, &kept[2 * r], 2), "growing to 1 MiB, outputs kept");
  }
  /* values a recorder keeps count until released, and may outlive the session and the model */
  keeper_t k = {{0}, 0};
  if (sess) {
    dycl_session_set_recorder(sess, keep_values, &k);
    dycl_value_t* outs[2] = {0};
    dycl_value_t* ins[2] = {x, trip8};
    /* the first run keeps 8 + 16 + ... + 1024 KiB: just under the limit */
    expect_ok(dycl_session_run(sess, ins, 2, outs, 2), "a recorder keeping every value, first run");
    dycl_value_release(outs[0]);
    dycl_value_release(outs[1]);
    CHECK(k.n > 0, "the recorder saw no values");
    expect_error(dycl_session_run(sess, ins, 2, outs, 2), DYCL_CODE_LIMIT, "--max-memory",
                 "a recorder keeping every value, second run");
  }
  dycl_session_destroy(sess);
  dycl_model_destroy(m);
  for (int i = 0; i < k.n; i++) dycl_value_release(k.kept[i]); /* after the session: still valid */
  for (int i = 0; i < 16; i++) {
    if (i % 2 == 1 && kept[i]) CHECK(dycl_value_numel(kept[i]) == 1024 << 8, "output %d has %" PRId64 " elements", i,
                                     dycl_value_numel(kept[i]));
    dycl_value_release(kept[i]);
  }

  /* the default (half of physical memory) lets a 16 MiB run through */
  o = ref_options();
  dycl_value_t* ins[2] = {x, trip12};
  expect_ok(run_model("growing.onnx", &o, ins, 2, NULL, NULL), "growing to 16 MiB, default limit");
  /* max_tensor_bytes: one tensor */
  o.max_tensor_bytes = 1 << 20;
  expect_error(run_model("growing.onnx", &o, ins, 2, NULL, NULL), DYCL_CODE_LIMIT, "over the limit of 1048576",
               "growing to 16 MiB, max_tensor_bytes 1 MiB");
  dycl_value_release(x);
  dycl_value_release(trip12);
  dycl_value_release(trip4);
  dycl_value_release(trip8);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  test_bad_options();
  test_nesting();
  test_iterations();
  test_deadline();
  test_memory();
  printf("limits.api: %d checks, %d failed\n", g_checks, g_failed);
  return g_failed ? 1 : 0;
}
