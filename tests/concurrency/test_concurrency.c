/* One dycl_model_t shared by several threads, each with its own dycl_session_t: every concurrent
 * run must give what a serial run of the same model gives, bit for bit (conc_harness.h).
 *
 * Usage: test_concurrency [--backend ref|cpu] [--cpu-threads N] [--threads N] [--iters N]
 *                         [--max-iterations N] [--name NAME] MODEL SET [SET ...]
 *   SET            the input files of one run, comma-separated, in the order of the model's inputs
 *   --backend      the backend the model is loaded for (default ref)
 *   --cpu-threads  dycl_options_t.threads: the OpenMP threads of the cpu backend's primitives
 *                  (default 0: OpenMP's default)
 *   --threads      threads running at once (default 4), --iters runs per thread (default 20)
 *   --max-iterations  dycl_options_t.max_iterations: input sets running longer loops fail (the
 *                  concurrent runs must then fail alike), exercising the error paths side by side
 *   --name         what the result line calls the model (default: its folder and file name)
 * Prints one line: threads, runs, input sets and mismatches. Exit status 0 when every run
 * matched, 1 on a mismatch or an error, 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conc_harness.h"
#include "dycl/dycl.h"

/* the harness's value accessors, on the library's values */
static int cv_kind(const dycl_value_t* v) { return (int)dycl_value_kind(v); }
static int cv_length(const dycl_value_t* v) {
  return dycl_value_kind(v) == DYCL_VALUE_SEQUENCE ? dycl_value_seq_length(v) : dycl_value_optional_get(v) != NULL;
}
static const dycl_value_t* cv_item(const dycl_value_t* v, int i) {
  return dycl_value_kind(v) == DYCL_VALUE_SEQUENCE ? dycl_value_seq_item(v, i) : dycl_value_optional_get(v);
}
static void cv_tensor(const dycl_value_t* v, conc_tensor_t* t) {
  t->dtype = (int)dycl_value_dtype(v);
  t->rank = dycl_value_rank(v);
  for (int d = 0; d < t->rank && d < 8; d++) t->dims[d] = dycl_value_dims(v)[d];
  t->data = dycl_value_data(v);
}
static void cv_release(dycl_value_t* v) { dycl_value_release(v); }

static void* make_session(void* ctx, char* err, size_t n) {
  dycl_session_t* s = NULL;
  dycl_status_t st = dycl_session_create(ctx, &s);
  if (st) {
    snprintf(err, n, "%s", dycl_status_message(st));
    dycl_status_free(st);
    return NULL;
  }
  return s;
}

static int run_session(void* ctx, void* inst, dycl_value_t* const* in, dycl_value_t** out, char* err, size_t n) {
  const dycl_model_t* m = ctx;
  dycl_status_t st = dycl_session_run(inst, in, dycl_model_num_inputs(m), out, dycl_model_num_outputs(m));
  if (!st) return 0;
  snprintf(err, n, "%s", dycl_status_message(st));
  dycl_status_free(st);
  return 1;
}

static void destroy_session(void* inst) { dycl_session_destroy(inst); }

static int load_input(void* ctx, int i, const char* path, dycl_value_t** out, char* err, size_t n) {
  dycl_status_t st = dycl_value_load_file(NULL, path, dycl_model_input_kind(ctx, i), out);
  if (!st) return 0;
  snprintf(err, n, "%s", dycl_status_message(st));
  dycl_status_free(st);
  return 1;
}

static int usage(const char* msg) {
  fprintf(stderr,
          "test_concurrency: usage error: %s\n"
          "usage: test_concurrency [--backend ref|cpu] [--cpu-threads N] [--threads N] [--iters N] [--max-iterations N] "
          "[--name NAME] MODEL SET [SET ...]\n",
          msg);
  return 2;
}

int main(int argc, char** argv) {
  dycl_options_t opt;
  dycl_options_init(&opt);
  opt.backend = "ref"; /* not the library's default (cpu when built): the test names its backend */
  int threads = 4, iters = 20, argi = 1;
  const char* name = NULL;
  int max_iterations = 0;
  const conc_int_opt_t nums[] = {{"--cpu-threads", 1024, &opt.threads},
                                 {"--threads", CONC_MAX_THREADS, &threads},
                                 {"--iters", 1000000, &iters},
                                 {"--max-iterations", 1 << 30, &max_iterations}};
  for (; argi < argc && argv[argi][0] == '-'; argi += 2) {
    const char* a = argv[argi];
    const char* v = argi + 1 < argc ? argv[argi + 1] : NULL;
    if (!v) return usage("an option without its value");
    int r = conc_int_option(nums, (int)(sizeof nums / sizeof nums[0]), a, v);
    if (r == 2) return usage("a bad number");
    if (r == 0) continue;
    if (!strcmp(a, "--backend"))
      opt.backend = v;
    else if (!strcmp(a, "--name"))
      name = v;
    else
      return usage("unknown option");
  }
  opt.max_iterations = max_iterations;
  if (argc - argi < 2) return usage("a model and at least one input set are needed");
  if (argc - argi - 1 > CONC_MAX_SETS) return usage("too many input sets");
  const char* path = argv[argi];
  dycl_model_t* model;
  dycl_status_t st = dycl_model_load(path, &opt, &model);
  if (st) {
    fprintf(stderr, "test_concurrency: %s: %s\n", path, dycl_status_message(st));
    dycl_status_free(st);
    return 1;
  }
  /* named by the model's folder and file (the suite's and node tests' models are all model.onnx) */
  if (!name) {
    name = path + strlen(path);
    for (int slashes = 0; name > path && slashes < 2; name--)
      if (name[-1] == '/' && ++slashes == 2) break;
  }
  char what[600];
  snprintf(what, sizeof what, "concurrency %s [%s]", name, opt.backend);
  int rc = 1;
  conc_set_t* sets = calloc(CONC_MAX_SETS, sizeof *sets);
  int n_sets = 0;
  if (!sets) {
    fprintf(stderr, "%s: out of memory\n", what);
    goto done;
  }
  if (dycl_model_num_inputs(model) > CONC_MAX_IO || dycl_model_num_outputs(model) > CONC_MAX_IO) {
    fprintf(stderr, "%s: more than %d inputs or outputs\n", what, CONC_MAX_IO);
    goto done;
  }
  for (int k = argi + 1; k < argc; k++, n_sets++)
    if (!conc_load_set(argv[k], dycl_model_num_inputs(model), load_input, model, &sets[n_sets], what)) goto done;
  conc_target_t t = {model,        dycl_model_num_inputs(model), dycl_model_num_outputs(model), make_session,
                     run_session, destroy_session};
  rc = conc_check(&t, what, sets, n_sets, threads, iters);
done:
  if (sets) conc_free_sets(sets, n_sets + (n_sets < CONC_MAX_SETS));
  free(sets);
  dycl_model_destroy(model);
  return rc;
}
