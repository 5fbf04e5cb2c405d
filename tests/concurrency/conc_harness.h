/* The concurrency check shared by test_concurrency.c (the library: one dycl_model_t, one
 * dycl_session_t per thread) and pkg_threads.c (a generated package: one instance per thread).
 *
 * Given a way to make an instance and to run it on values, conc_check runs every input set once on
 * one instance (the serial runs, the reference), then starts THREADS threads at the same moment (a
 * barrier), each making its own instance and running ITERS runs over the input sets (thread t
 * starts at set t, so different inputs — and shapes, and paths — run side by side), and requires
 * every concurrent run to give the serial run's outputs bit for bit (same kernels, same inputs),
 * or to fail with the serial run's message. No global state.
 *
 * Values are opaque `struct dycl_value` (the library's dycl_value_t, or a package's own values):
 * the including file defines the accessors
 *   static int cv_kind(const struct dycl_value* v);          0 tensor, 1 sequence, 2 optional
 *   static int cv_length(const struct dycl_value* v);        sequence length; optional: 0 or 1
 *   static const struct dycl_value* cv_item(const struct dycl_value* v, int i);  (optional: i = 0)
 *   static void cv_tensor(const struct dycl_value* v, conc_tensor_t* t);
 *   static void cv_release(struct dycl_value* v);            NULL is a no-op
 */
#ifndef DYCL_TESTS_CONC_HARNESS_H
#define DYCL_TESTS_CONC_HARNESS_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dycl_value;

/* A view of a tensor (ONNX TensorProto.DataType codes; strings: an array of `const char*`). */
typedef struct conc_tensor {
  int dtype, rank;
  int64_t dims[8];
  const void* data;
} conc_tensor_t;

static int cv_kind(const struct dycl_value* v);
static int cv_length(const struct dycl_value* v);
static const struct dycl_value* cv_item(const struct dycl_value* v, int i);
static void cv_tensor(const struct dycl_value* v, conc_tensor_t* t);
static void cv_release(struct dycl_value* v);

#define CONC_MAX_SETS 32
#define CONC_MAX_IO 16
#define CONC_MAX_THREADS 64

/* What is run: an instance maker, a runner and a destroyer over the caller's context. */
typedef struct conc_target {
  void* ctx;
  int n_in, n_out;
  /* A new instance, or NULL with a message in err. */
  void* (*create)(void* ctx, char* err, size_t err_size);
  /* Runs inst on n_in borrowed inputs; on success (0) out[0..n_out) are new references, else err
   * holds the message and out is left NULL. */
  int (*run)(void* ctx, void* inst, struct dycl_value* const* in, struct dycl_value** out, char* err, size_t err_size);
  void (*destroy)(void* inst);
} conc_target_t;

typedef struct conc_set {
  struct dycl_value* in[CONC_MAX_IO];
  struct dycl_value* want[CONC_MAX_IO]; /* the serial run's outputs; NULL when it failed */
  int failed;
  char error[512]; /* the serial run's message when it failed */
} conc_set_t;

typedef struct conc_job {
  const conc_target_t* target;
  conc_set_t* sets;
  int n_sets, iters, id;
  pthread_barrier_t* start;
  /* results of the thread */
  long runs, mismatches;
  char first[512]; /* the first mismatch, for the report */
} conc_job_t;

/* Bytes per element of an ONNX element type (0: string or unknown). */
static size_t conc_dtype_size(int dtype) {
  switch (dtype) {
    case 2: case 3: case 9: return 1;            /* uint8, int8, bool */
    case 4: case 5: case 10: case 16: return 2; /* (u)int16, float16, bfloat16 */
    case 1: case 6: case 12: return 4;          /* float, int32, uint32 */
    case 7: case 11: case 13: return 8;         /* int64, double, uint64 */
    default: return 0;
  }
}

/* Whether a and b are the same value bit for bit (kind, type, shape, data, recursively); why
 * says where they differ. */
static int conc_same(const struct dycl_value* a, const struct dycl_value* b, char* why, size_t n) {
  if (!a || !b) {
    snprintf(why, n, "%s", a || b ? "one value is missing" : "");
    return !a && !b;
  }
  if (cv_kind(a) != cv_kind(b)) return snprintf(why, n, "kind differs"), 0;
  if (cv_kind(a) != 0) { /* a sequence or an optional */
    if (cv_length(a) != cv_length(b)) return snprintf(why, n, "sequence length or optional state differs"), 0;
    for (int i = 0; i < cv_length(a); i++)
      if (!conc_same(cv_item(a, i), cv_item(b, i), why, n)) return 0;
    return 1;
  }
  conc_tensor_t x, y;
  cv_tensor(a, &x);
  cv_tensor(b, &y);
  if (x.dtype != y.dtype || x.rank != y.rank || x.rank < 0 || x.rank > 8 ||
      memcmp(x.dims, y.dims, (size_t)x.rank * sizeof(int64_t)))
    return snprintf(why, n, "type or shape differs"), 0;
  int64_t numel = 1;
  for (int d = 0; d < x.rank; d++) numel *= x.dims[d];
  if (x.dtype == 8) { /* strings */
    const char* const* xs = x.data;
    const char* const* ys = y.data;
    for (int64_t i = 0; i < numel; i++)
      if (strcmp(xs[i] ? xs[i] : "", ys[i] ? ys[i] : "")) return snprintf(why, n, "string %lld differs", (long long)i), 0;
    return 1;
  }
  size_t es = conc_dtype_size(x.dtype);
  if (!es) return snprintf(why, n, "element type %d unknown", x.dtype), 0;
  const unsigned char *xb = x.data, *yb = y.data;
  for (int64_t i = 0; i < numel; i++)
    if (memcmp(xb + (size_t)i * es, yb + (size_t)i * es, es))
      return snprintf(why, n, "element %lld of %lld differs", (long long)i, (long long)numel), 0;
  return 1;
}

static void* conc_worker(void* arg) {
  conc_job_t* j = arg;
  const conc_target_t* t = j->target;
  char err[512];
  void* inst = t->create(t->ctx, err, sizeof err);
  pthread_barrier_wait(j->start); /* every thread has its instance: the runs start together */
  if (!inst) {
    snprintf(j->first, sizeof j->first, "thread %d: cannot make an instance: %.440s", j->id, err);
    j->mismatches++;
    return NULL;
  }
  for (int it = 0; it < j->iters; it++) {
    int k = (j->id + it) % j->n_sets;
    conc_set_t* c = &j->sets[k];
    struct dycl_value* out[CONC_MAX_IO] = {0};
    char why[600] = "";
    err[0] = 0;
    int rc = t->run(t->ctx, inst, c->in, out, err, sizeof err);
    j->runs++;
    if (rc && !c->failed)
      snprintf(why, sizeof why, "failed (%.500s) where the serial run succeeded", err);
    else if (!rc && c->failed)
      snprintf(why, sizeof why, "succeeded where the serial run failed (%.500s)", c->error);
    else if (rc && strcmp(err, c->error))
      snprintf(why, sizeof why, "failed with '%.250s', the serial run with '%.250s'", err, c->error);
    for (int o = 0; o < t->n_out && !rc && !why[0]; o++) {
      char d[160];
      if (!conc_same(c->want[o], out[o], d, sizeof d)) snprintf(why, sizeof why, "output %d: %.160s", o, d);
    }
    for (int o = 0; o < t->n_out; o++) cv_release(out[o]);
    if (why[0]) {
      if (!j->mismatches) snprintf(j->first, sizeof j->first, "thread %d, run %d, input set %d: %.440s", j->id, it, k, why);
      j->mismatches++;
    }
  }
  t->destroy(inst);
  return NULL;
}

/* Runs the check on sets[0..n_sets) (their inputs loaded); prints one line naming `what`.
 * Returns 0 when every concurrent run matched its serial run, 1 otherwise. */
static int conc_check(const conc_target_t* t, const char* what, conc_set_t* sets, int n_sets, int threads, int iters) {
  char err[512];
  void* inst = t->create(t->ctx, err, sizeof err);
  if (!inst) {
    fprintf(stderr, "%s: cannot make an instance: %s\n", what, err);
    return 1;
  }
  int n_failing = 0;
  for (int k = 0; k < n_sets; k++) { /* the serial runs */
    err[0] = 0;
    sets[k].failed = t->run(t->ctx, inst, sets[k].in, sets[k].want, err, sizeof err) != 0;
    if (sets[k].failed) {
      snprintf(sets[k].error, sizeof sets[k].error, "%.500s", err);
      n_failing++;
    }
  }
  t->destroy(inst);
  if (n_failing == n_sets) {
    fprintf(stderr, "%s: every serial run failed (%s): nothing to compare\n", what, sets[0].error);
    return 1;
  }
  conc_job_t jobs[CONC_MAX_THREADS];
  pthread_t th[CONC_MAX_THREADS];
  pthread_barrier_t start;
  if (pthread_barrier_init(&start, NULL, (unsigned)threads)) {
    fprintf(stderr, "%s: pthread_barrier_init failed\n", what);
    return 1;
  }
  int started = 0;
  for (int i = 0; i < threads; i++) {
    jobs[i] = (conc_job_t){.target = t, .sets = sets, .n_sets = n_sets, .iters = iters, .id = i, .start = &start};
    if (pthread_create(&th[i], NULL, conc_worker, &jobs[i])) break;
    started++;
  }
  if (started < threads) { /* the barrier would never open: fatal for a test */
    fprintf(stderr, "%s: pthread_create failed after %d threads\n", what, started);
    exit(1);
  }
  long runs = 0, bad = 0;
  const char* first = NULL;
  for (int i = 0; i < threads; i++) {
    pthread_join(th[i], NULL);
    runs += jobs[i].runs;
    bad += jobs[i].mismatches;
    if (jobs[i].mismatches && !first) first = jobs[i].first;
  }
  pthread_barrier_destroy(&start);
  printf("%s: %d threads x %d runs = %ld concurrent runs over %d input sets (%d failing alike), %ld mismatches\n", what,
         threads, iters, runs, n_sets, n_failing, bad);
  if (first) fprintf(stderr, "%s: first mismatch: %s\n", what, first);
  return bad ? 1 : 0;
}

/* The numeric options of a program: "--threads N" and the like, N in 1..max. */
typedef struct conc_int_opt {
  const char* name;
  int max;
  int* dst;
} conc_int_opt_t;

/* Option `a` with the value `v`: 0 when it is one of opts (parsed into its dst), 1 when it is
 * none of them, 2 when its value is not a number in range. */
static int conc_int_option(const conc_int_opt_t* opts, int n, const char* a, const char* v) {
  for (int i = 0; i < n; i++) {
    if (strcmp(a, opts[i].name)) continue;
    char* end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < 1 || x > opts[i].max) return 2;
    *opts[i].dst = (int)x;
    return 0;
  }
  return 1;
}

/* Loads one input set, "FILE[,FILE...]" with one file per input, through load(ctx, i, path, ...),
 * which returns 0 or an error with its message in err. */
typedef int (*conc_load_fn)(void* ctx, int i, const char* path, struct dycl_value** out, char* err, size_t err_size);
static int conc_load_set(const char* spec, int n_in, conc_load_fn load, void* ctx, conc_set_t* set, const char* what) {
  char path[4096];
  if (n_in == 0 && !spec[0]) return 1; /* a model without inputs: the empty set */
  int i = 0;
  for (const char* p = spec;; i++) {
    const char* comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (i >= n_in || i >= CONC_MAX_IO || len >= sizeof path) {
      fprintf(stderr, "%s: input set '%s': more files than the %d inputs, or a path too long\n", what, spec, n_in);
      return 0;
    }
    memcpy(path, p, len);
    path[len] = 0;
    char err[512] = "";
    if (load(ctx, i, path, &set->in[i], err, sizeof err)) {
      fprintf(stderr, "%s: %s: %s\n", what, path, err);
      return 0;
    }
    if (!comma) break;
    p = comma + 1;
  }
  if (i + 1 != n_in) {
    fprintf(stderr, "%s: input set '%s' has %d files, the model %d inputs\n", what, spec, i + 1, n_in);
    return 0;
  }
  return 1;
}

static void conc_free_sets(conc_set_t* sets, int n_sets) {
  for (int k = 0; k < n_sets; k++)
    for (int i = 0; i < CONC_MAX_IO; i++) {
      cv_release(sets[k].in[i]);
      cv_release(sets[k].want[i]);
    }
}

#endif
