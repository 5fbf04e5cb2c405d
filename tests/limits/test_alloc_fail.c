/* Allocation-failure sweep: for each model of SWEEP (tests/limits/make_models.py writes it: the demo
 * model and models with Loop, Scan, nested If and sequences), load it, read its inputs, create a
 * session, run it on the ref backend and write its outputs, through an allocator that fails its N-th
 * allocation — for every N from 1 until the whole sequence succeeds without reaching an N-th
 * allocation. Each attempt must either fail with DYCL_CODE_NO_MEMORY and a one-line message, or
 * succeed with outputs byte for byte those of a run without failures (dycl may retry what failed,
 * e.g. folding a constant, later); after a failed run the same session must run again, correctly,
 * once allocations succeed; and when everything is destroyed no allocation may be outstanding.
 *
 * Usage: test_alloc_fail SWEEP WORKDIR [NAME]   (NAME: only that model)
 * Prints one line per model and a total `allocation failures injected: N`. Exit 0 when every
 * attempt behaved, 1 otherwise. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dycl/dycl.h"

/* ----------------------------------------------------------- the allocator */

typedef struct failing {
  int64_t calls;       /* allocations asked for since the last reset */
  int64_t fail_at;     /* the allocation (1-based) that returns NULL; 0: none */
  int64_t outstanding; /* blocks allocated and not yet freed */
  int64_t injected;    /* failures returned, in all */
} failing_t;

static void* fa_alloc(void* ctx, size_t size) {
  failing_t* f = ctx;
  if (++f->calls == f->fail_at) {
    f->injected++;
    return NULL;
  }
  void* p = malloc(size ? size : 1);
  if (p) f->outstanding++;
  return p;
}

static void fa_free(void* ctx, void* p) {
  failing_t* f = ctx;
  if (!p) return;
  f->outstanding--;
  free(p);
}

/* ---------------------------------------------------------------- helpers */

#define MAX_IO 16

typedef struct sweep_model {
  char name[64];
  char path[1024];
  char inputs[MAX_IO][1024];
  int n_inputs;
} sweep_model_t;

typedef struct blob {
  unsigned char* data;
  size_t size;
} blob_t;

static bool read_all(const char* path, blob_t* b) {
  FILE* f = fopen(path, "rb");
  if (!f) return false;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  b->data = malloc(n > 0 ? (size_t)n : 1);
  b->size = n > 0 ? (size_t)n : 0;
  bool ok = b->data && fread(b->data, 1, b->size, f) == b->size;
  fclose(f);
  return ok;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What one attempt did. */
typedef struct attempt {
  dycl_status_t status; /* NULL: success */
  const char* stage;    /* where it failed */
  bool ran_again;       /* after a failed run: the retry without failures matched */
  blob_t outs[MAX_IO];
  int n_outs;
} attempt_t;

static void attempt_clear(attempt_t* a) {
  dycl_status_free(a->status);
  for (int j = 0; j < a->n_outs; j++) free(a->outs[j].data);
  memset(a, 0, sizeof *a);
}

/* Writes the outputs to WORKDIR and reads the files back into a->outs. */
static dycl_status_t save_outputs(const dycl_model_t* m, dycl_value_t** outs, int n_out, const char* workdir,
                                  attempt_t* a) {
  for (int j = 0; j < a->n_outs; j++) free(a->outs[j].data);
  a->n_outs = 0;
  for (int j = 0; j < n_out; j++) {
    char path[1200];
    snprintf(path, sizeof path, "%s/alloc_fail_out_%d.pb", workdir, j);
    dycl_status_t s = dycl_value_save_file(outs[j], dycl_model_output_name(m, j), path);
    if (s) return s;
    if (!read_all(path, &a->outs[a->n_outs++])) return dycl_status_create(DYCL_CODE_IO, "cannot read back %s", path);
  }
  return NULL;
}

static bool same_outputs(const attempt_t* x, const attempt_t* y) {
  if (x->n_outs != y->n_outs) return false;
  for (int j = 0; j < x->n_outs; j++)
    if (x->outs[j].size != y->outs[j].size || memcmp(x->outs[j].data, y->outs[j].data, x->outs[j].size) != 0)
      return false;
  return true;
}

/* Load, read inputs, create a session, run, write outputs; with `f` failing as configured. When the
 * run itself fails, allocations are let through and the same session runs again (its outputs are
 * then what a->outs holds and a->ran_again says so). */
static void attempt(const sweep_model_t* sm, failing_t* f, const char* workdir, attempt_t* a) {
  dycl_allocator_t alloc = {fa_alloc, fa_free, f};
  dycl_options_t opts;
  dycl_options_init(&opts);
  opts.allocator = &alloc;
  opts.backend = "ref";
  dycl_model_t* m = NULL;
  dycl_session_t* sess = NULL;
  dycl_value_t* ins[MAX_IO] = {0};
  dycl_value_t* outs[MAX_IO] = {0};
  int n_in = 0, n_out = 0;
  memset(a, 0, sizeof *a);
  a->stage = "load";
  a->status = dycl_model_load(sm->path, &opts, &m);
  if (a->status) goto out;
  n_in = dycl_model_num_inputs(m);
  n_out = dycl_model_num_outputs(m);
  if (n_in != sm->n_inputs || n_out > MAX_IO) {
    a->status = dycl_status_create(DYCL_CODE_INTERNAL, "%s: %d inputs, %d outputs: not what the sweep list says", sm->name,
                                   n_in, n_out);
    goto out;
  }
  a->stage = "input";
  for (int i = 0; i < n_in && !a->status; i++)
    a->status = dycl_value_load_file(&alloc, sm->inputs[i], dycl_model_input_kind(m, i), &ins[i]);
  if (a->status) goto out;
  a->stage = "session";
  a->status = dycl_session_create(m, &sess);
  if (a->status) goto out;
  a->stage = "run";
  a->status = dycl_session_run(sess, ins, n_in, outs, n_out);
  if (a->status) {
    /* the session must be usable again once memory is there */
    int64_t saved = f->fail_at;
    f->fail_at = 0;
    dycl_status_t s2 = dycl_session_run(sess, ins, n_in, outs, n_out);
    if (!s2) s2 = save_outputs(m, outs, n_out, workdir, a);
    if (s2) {
      fprintf(stderr, "  %s: the run after a failed one failed too: %s\n", sm->name, dycl_status_message(s2));
      dycl_status_free(s2);
    } else {
      a->ran_again = true;
    }
    f->fail_at = saved;
    goto out;
  }
  a->stage = "save";
  a->status = save_outputs(m, outs, n_out, workdir, a);
out:
  for (int j = 0; j < MAX_IO; j++) dycl_value_release(outs[j]);
  for (int i = 0; i < MAX_IO; i++) dycl_value_release(ins[i]);
  dycl_session_destroy(sess);
  dycl_model_destroy(m);
}

/* ------------------------------------------------------------------- main */

static int read_sweep(const char* path, sweep_model_t* models, int max) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  char line[8192];
  int n = 0;
  while (n < max && fgets(line, sizeof line, f)) {
    sweep_model_t* m = &models[n];
    memset(m, 0, sizeof *m);
    char* save = NULL;
    char* tok = strtok_r(line, " \t\r\n", &save);
    if (!tok) continue;
    snprintf(m->name, sizeof m->name, "%s", tok);
    tok = strtok_r(NULL, " \t\r\n", &save);
    if (!tok) continue;
    snprintf(m->path, sizeof m->path, "%s", tok);
    while ((tok = strtok_r(NULL, " \t\r\n", &save)) && m->n_inputs < MAX_IO)
      snprintf(m->inputs[m->n_inputs++], sizeof m->inputs[0], "%s", tok);
    n++;
  }
  fclose(f);
  return n;
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s SWEEP WORKDIR [NAME]\n", argv[0]);
    return 2;
  }
  static sweep_model_t models[32];
  int n_models = read_sweep(argv[1], models, 32);
  if (n_models <= 0) {
    fprintf(stderr, "alloc_fail: cannot read a model list from %s\n", argv[1]);
    return 2;
  }
  const char* workdir = argv[2];
  int64_t total_injected = 0, total_attempts = 0;
  int failures = 0, tested = 0;
  for (int k = 0; k < n_models; k++) {
    const sweep_model_t* sm = &models[k];
    if (argc == 4 && strcmp(argv[3], sm->name) != 0) continue;
    tested++;
    double t0 = now_s();
    failing_t f = {0, 0, 0, 0};
    attempt_t ref;
    attempt(sm, &f, workdir, &ref);
    if (ref.status || f.outstanding) {
      fprintf(stderr, "alloc_fail: %s: the run without failures %s: %s\n", sm->name,
              ref.status ? "failed" : "leaked", ref.status ? dycl_status_message(ref.status) : "");
      attempt_clear(&ref);
      failures++;
      continue;
    }
    int64_t clean_calls = f.calls;
    int64_t absorbed = 0, bad = 0, n;
    for (n = 1;; n++) {
      f.calls = 0;
      f.fail_at = n;
      int64_t before = f.injected;
      attempt_t a;
      attempt(sm, &f, workdir, &a);
      total_attempts++;
      bool reached = f.injected > before;
      const char* problem = NULL;
      if (f.outstanding) problem = "allocations left outstanding after everything was destroyed";
      else if (a.status && dycl_status_code(a.status) != DYCL_CODE_NO_MEMORY) problem = "an error other than out of memory";
      else if (a.status && strchr(dycl_status_message(a.status), '\n')) problem = "a message of more than one line";
      else if (a.status && !strcmp(a.stage, "run") && !a.ran_again) problem = "the session could not run again";
      else if (a.status && !strcmp(a.stage, "run") && !same_outputs(&a, &ref)) problem = "the run after a failed one gave other outputs";
      else if (!a.status && !same_outputs(&a, &ref)) problem = "success with other outputs";
      else if (a.status && !reached) problem = "an error without an allocation failing";
      if (problem) {
        fprintf(stderr, "alloc_fail: %s: failing allocation %" PRId64 " (%s): %s%s%s\n", sm->name, n, a.stage, problem,
                a.status ? ": " : "", a.status ? dycl_status_message(a.status) : "");
        f.outstanding = 0;
        if (++bad >= 10) {
          attempt_clear(&a);
          break;
        }
      }
      if (!a.status && reached) absorbed++;
      bool done = !a.status && !reached;
      attempt_clear(&a);
      if (done) break;
      if (n > 10 * clean_calls + 1000) {
        fprintf(stderr, "alloc_fail: %s: still failing after %" PRId64 " attempts\n", sm->name, n);
        bad++;
        break;
      }
    }
    attempt_clear(&ref);
    int64_t injected = f.injected;
    total_injected += injected;
    if (bad) failures++;
    printf("alloc_fail: %-5s %6" PRId64 " allocations in a clean load+run; failed each of them in turn: %" PRId64
           " failures injected, %" PRId64 " recovered from, %" PRId64 " problems (%.1f s)\n",
           sm->name, clean_calls, injected, absorbed, bad, now_s() - t0);
    fflush(stdout);
  }
  if (!tested) {
    fprintf(stderr, "alloc_fail: no model named %s\n", argc == 4 ? argv[3] : "");
    return 2;
  }
  printf("allocation failures injected: %" PRId64 " over %d models (%" PRId64 " attempts); %d model%s with problems\n",
         total_injected, tested, total_attempts, failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
