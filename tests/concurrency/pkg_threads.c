/* A package made by `dycl compile` run from several threads at once, one instance each: every
 * concurrent run must give what a serial run of the package gives, bit for bit (conc_harness.h).
 *
 * Built by run_concurrency.py against one package:
 *   cc -DPKG_NAME=NAME -DPKG_HEADER='"NAME.h"' -IPKG -Itests/concurrency \
 *      tests/concurrency/pkg_threads.c PKG/libNAME.a -lm -lpthread
 * Usage: pkg_threads WEIGHTS [--threads N] [--iters N] [--max-iterations N] SET [SET ...]
 *   WEIGHTS  the package's NAME.weights (ignored when its weights are embedded)
 *   SET      the input files of one run, comma-separated, in the order of the model's inputs
 *   --max-iterations  NAME_set_limits on every instance: input sets running longer loops fail (the
 *            concurrent runs must then fail alike)
 * Runs go through NAME_run_values (the package's values: sequence and optional inputs and outputs
 * too), and only the API of NAME.h is used.
 * Prints one line: threads, runs, input sets and mismatches. Exit status 0 when every run
 * matched, 1 on a mismatch or an error, 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include PKG_HEADER
#include "conc_harness.h"

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define P(x) CAT(PKG_NAME, x) /* P(run): NAME_run */
#define STR2(x) #x
#define STR(x) STR2(x)

/* the harness's value accessors, on the package's values */
static int cv_kind(const struct dycl_value* v) { return P(value_kind)(v); }
static int cv_length(const struct dycl_value* v) { return P(value_length)(v); }
static const struct dycl_value* cv_item(const struct dycl_value* v, int i) { return P(value_item)(v, i); }
static void cv_tensor(const struct dycl_value* v, conc_tensor_t* t) {
  P(tensor_t) x;
  memset(t, 0, sizeof *t);
  if (P(value_tensor)(v, &x) != 0) {
    t->rank = -1; /* not a tensor: never equal */
    return;
  }
  t->dtype = x.dtype;
  t->rank = x.rank;
  memcpy(t->dims, x.dims, sizeof t->dims);
  t->data = x.data;
}
static void cv_release(struct dycl_value* v) { P(value_release)(v); }

typedef struct pkg_ctx {
  const char* weights;
  int max_iterations; /* 0: the package's default */
} pkg_ctx_t;

static void* make_instance(void* ctx, char* err, size_t n) {
  const pkg_ctx_t* c = ctx;
  P(t)* m = NULL;
  if (P(create)(c->weights, &m, err, n) != 0) return NULL;
  if (c->max_iterations) P(set_limits)(m, c->max_iterations, 0);
  return m;
}

static int run_instance(void* ctx, void* inst, struct dycl_value* const* in, struct dycl_value** out, char* err,
                        size_t n) {
  (void)ctx;
  if (P(run_values)(inst, in, out) == 0) return 0;
  snprintf(err, n, "%s", P(error)(inst));
  return 1;
}

static void destroy_instance(void* inst) { P(destroy)(inst); }

static int load_input(void* ctx, int i, const char* path, struct dycl_value** out, char* err, size_t n) {
  (void)ctx;
  return P(value_load)(path, P(input_kind)(i), out, err, n) != 0;
}

static int usage(const char* msg) {
  fprintf(stderr, "pkg_threads: usage error: %s\n"
          "usage: pkg_threads WEIGHTS [--threads N] [--iters N] [--max-iterations N] SET [SET ...]\n",
          msg);
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 2) return usage("the weights file is needed");
  pkg_ctx_t ctx = {argv[1], 0};
  int threads = 4, iters = 20, argi = 2;
  const conc_int_opt_t nums[] = {{"--threads", CONC_MAX_THREADS, &threads},
                                 {"--iters", 1000000, &iters},
                                 {"--max-iterations", 1 << 30, &ctx.max_iterations}};
  for (; argi < argc && argv[argi][0] == '-'; argi += 2) {
    const char* v = argi + 1 < argc ? argv[argi + 1] : NULL;
    if (!v) return usage("an option without its value");
    int r = conc_int_option(nums, (int)(sizeof nums / sizeof nums[0]), argv[argi], v);
    if (r) return usage(r == 1 ? "unknown option" : "a bad number");
  }
  if (argi >= argc) return usage("at least one input set is needed");
  if (argc - argi > CONC_MAX_SETS) return usage("too many input sets");
  char what[160];
  int len = snprintf(what, sizeof what, "concurrency package %s", STR(PKG_NAME));
  if (ctx.max_iterations && len > 0 && (size_t)len < sizeof what)
    snprintf(what + len, sizeof what - (size_t)len, " --max-iterations %d", ctx.max_iterations);
  if (P(NUM_INPUTS) > CONC_MAX_IO || P(NUM_OUTPUTS) > CONC_MAX_IO) {
    fprintf(stderr, "%s: more than %d inputs or outputs\n", what, CONC_MAX_IO);
    return 1;
  }
  conc_set_t* sets = calloc(CONC_MAX_SETS, sizeof *sets);
  if (!sets) return fprintf(stderr, "%s: out of memory\n", what), 1;
  int n_sets = 0, rc = 1;
  for (int k = argi; k < argc; k++, n_sets++)
    if (!conc_load_set(argv[k], P(NUM_INPUTS), load_input, NULL, &sets[n_sets], what)) goto done;
  conc_target_t t = {&ctx, P(NUM_INPUTS), P(NUM_OUTPUTS), make_instance, run_instance, destroy_instance};
  rc = conc_check(&t, what, sets, n_sets, threads, iters);
done:
  conc_free_sets(sets, n_sets + (n_sets < CONC_MAX_SETS));
  free(sets);
  return rc;
}
