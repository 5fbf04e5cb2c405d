/* One model shared by several threads, each with its own session, on the cpu backend: every run
 * must give the ref backend's outputs (the cpu backend's primitive cache, packed weights,
 * workspaces and execution contexts are shared between the threads).
 *
 * Usage: test_cpu_threads MODEL SET [SET ...]     SET: comma-separated input .pb files
 *        test_cpu_threads                          (the demo model and its three inputs)
 * Exit status 0 when every run matched, 1 otherwise, 77 when dycl was built without the cpu
 * backend or the model files are missing (CTest's skip). */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* strdup, strtok_r */
#endif
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dycl/dycl.h"

#define MAX_SETS 16
#define MAX_IO 8
#define THREADS 4
#define ITERS 40

typedef struct set {
  int n_in, n_out;
  dycl_value_t* in[MAX_IO];
  dycl_value_t* want[MAX_IO]; /* the ref backend's outputs (NULL: the run fails) */
} set_t;

static dycl_model_t* g_model;
static set_t g_sets[MAX_SETS];
static int g_n_sets;

static int fail(const char* what, dycl_status_t s) {
  fprintf(stderr, "test_cpu_threads: %s: %s\n", what, s ? dycl_status_message(s) : "");
  dycl_status_free(s);
  return 1;
}

/* Whether got matches want: same type and shape, floats within 1e-5 + 1e-3 relative. */
static int same(const dycl_value_t* want, const dycl_value_t* got, char* why, size_t n) {
  if (dycl_value_kind(want) != dycl_value_kind(got) || dycl_value_kind(want) != DYCL_VALUE_TENSOR ||
      dycl_value_dtype(want) != dycl_value_dtype(got) || dycl_value_rank(want) != dycl_value_rank(got) ||
      dycl_value_numel(want) != dycl_value_numel(got)) {
    snprintf(why, n, "type or shape differs");
    return 0;
  }
  int64_t numel = dycl_value_numel(want);
  if (dycl_value_dtype(want) == DYCL_DTYPE_FLOAT32) {
    const float *a = dycl_value_data(want), *b = dycl_value_data(got);
    for (int64_t i = 0; i < numel; i++)
      if (!(fabsf(a[i] - b[i]) <= 1e-5f + 1e-3f * fabsf(a[i])) && !(isnan(a[i]) && isnan(b[i]))) {
        snprintf(why, n, "value %lld: got %g, expected %g", (long long)i, b[i], a[i]);
        return 0;
      }
    return 1;
  }
  size_t bytes = (size_t)numel * dycl_dtype_size(dycl_value_dtype(want));
  if (bytes && memcmp(dycl_value_data(want), dycl_value_data(got), bytes)) {
    snprintf(why, n, "values differ");
    return 0;
  }
  return 1;
}

static void* worker(void* arg) {
  long id = (long)arg;
  long bad = 0;
  dycl_session_t* sess;
  dycl_status_t s = dycl_session_create(g_model, &sess);
  if (s) {
    fail("session", s);
    return (void*)1;
  }
  for (int it = 0; it < ITERS; it++) {
    const set_t* c = &g_sets[(it + id) % g_n_sets];
    dycl_value_t* out[MAX_IO] = {0};
    s = dycl_session_run(sess, c->in, c->n_in, out, c->n_out);
    if (s && c->want[0]) {
      fail("run", s);
      bad++;
      continue;
    }
    if (!s && !c->want[0]) {
      fprintf(stderr, "test_cpu_threads: thread %ld: a run the ref backend rejects succeeded\n", id);
      bad++;
    }
    dycl_status_free(s);
    for (int j = 0; j < c->n_out; j++) {
      char why[160];
      if (out[j] && c->want[j] && !same(c->want[j], out[j], why, sizeof why)) {
        fprintf(stderr, "test_cpu_threads: thread %ld, set %d, output %d: %s\n", id, (it + (int)id) % g_n_sets, j, why);
        bad++;
      }
      dycl_value_release(out[j]);
    }
  }
  dycl_session_destroy(sess);
  return (void*)bad;
}

int main(int argc, char** argv) {
  static char* demo[] = {NULL, "models/demo/early_exit.onnx", "models/demo/inputs/easy.pb",
                         "models/demo/inputs/medium.pb", "models/demo/inputs/hard.pb"};
  if (argc < 2) {
    argc = 5;
    argv = demo;
  }
  if (argc - 2 > MAX_SETS) {
    fprintf(stderr, "test_cpu_threads: at most %d input sets\n", MAX_SETS);
    return 2;
  }
  FILE* f = fopen(argv[1], "rb");
  if (!f) {
    printf("test_cpu_threads: no model at %s: skipped\n", argv[1]);
    return 77;
  }
  fclose(f);
  dycl_options_t opt;
  dycl_options_init(&opt);
  dycl_model_t* ref;
  dycl_status_t s = dycl_model_load(argv[1], &opt, &ref);
  if (s) return fail("loading with the ref backend", s);
  opt.backend = "cpu";
  s = dycl_model_load(argv[1], &opt, &g_model);
  if (s) {
    int unsupported = dycl_status_code(s) == DYCL_CODE_UNSUPPORTED;
    fail("loading with the cpu backend", s);
    dycl_model_destroy(ref);
    if (unsupported) printf("test_cpu_threads: the cpu backend is not built: skipped\n");
    return unsupported ? 77 : 1;
  }
  int n_in = dycl_model_num_inputs(ref), n_out = dycl_model_num_outputs(ref);
  if (n_in > MAX_IO || n_out > MAX_IO) return fail("too many inputs or outputs", NULL);
  dycl_session_t* rs;
  if ((s = dycl_session_create(ref, &rs))) return fail("session", s);
  int rc = 0;
  for (int k = 2; k < argc && !rc; k++) {
    set_t* c = &g_sets[g_n_sets++];
    c->n_in = n_in;
    c->n_out = n_out;
    char* spec = strdup(argv[k]);
    char* save = NULL;
    int i = 0;
    for (char* p = strtok_r(spec, ",", &save); p && !rc; p = strtok_r(NULL, ",", &save)) {
      if (i >= n_in)
        rc = fail("too many input files in a set", NULL);
      else if ((s = dycl_value_load_file(NULL, p, dycl_model_input_kind(ref, i), &c->in[i])))
        rc = fail(p, s);
      i++;
    }
    free(spec);
    if (!rc && i != n_in) rc = fail("an input set has the wrong number of files", NULL);
    if (!rc) dycl_status_free(dycl_session_run(rs, c->in, n_in, c->want, n_out)); /* failing sets: want NULL */
  }
  dycl_session_destroy(rs);
  long bad = 0;
  if (!rc) {
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
      if (pthread_create(&th[t], NULL, worker, (void*)t)) return fail("pthread_create", NULL);
    for (int t = 0; t < THREADS; t++) {
      void* r;
      pthread_join(th[t], &r);
      bad += (long)r;
    }
  }
  for (int k = 0; k < g_n_sets; k++)
    for (int j = 0; j < MAX_IO; j++) {
      dycl_value_release(g_sets[k].in[j]);
      dycl_value_release(g_sets[k].want[j]);
    }
  dycl_model_destroy(g_model);
  dycl_model_destroy(ref);
  printf("test_cpu_threads: %d threads x %d runs over %d input sets, %ld mismatches\n", THREADS, ITERS, g_n_sets, bad);
  return rc || bad ? 1 : 0;
}
