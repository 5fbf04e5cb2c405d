/* Allocation-failure sweep. SWEEP (tests/limits/make_models.py writes it) has one line per case,
 * `MODE NAME MODEL [INPUT...]`:
 *   ref, cpu  load the model, read its inputs, create a session, run it on that backend (cpu: with
 *             2 threads, so that the fast kernels' worker pool is made) and write its outputs;
 *   compile   load the model, then dycl_model_compile it into WORKDIR/alloc_fail_pkg;
 *   split     load the model, then dycl_model_split it into WORKDIR/alloc_fail_split;
 * all through an allocator that fails its N-th allocation (for compile and split: the N-th after
 * the load, which the ref and cpu cases sweep) — for every N from 1 until the whole sequence
 * succeeds without reaching an N-th allocation, or, where a clean pass makes more than
 * --max-attempts allocations, every N up to half that bound and then every S-th (the line printed
 * says so). Each attempt must either fail with DYCL_CODE_NO_MEMORY and a one-line message, or
 * succeed with outputs (for compile and split: every file written) byte for byte those of a pass
 * without failures (dycl may retry what failed, e.g. folding a constant, later); after a failed run
 * the same session must run again, correctly, once allocations succeed; and when everything is
 * destroyed no allocation may be outstanding. The cpu lines are skipped when dycl was built without
 * oneDNN (the line printed says so).
 *
 * Usage: test_alloc_fail SWEEP WORKDIR [--max-attempts K] [--verbose] [NAME]   (NAME: only that case,
 * as NAME or MODE/NAME; --verbose: name each failed allocation dycl recovered from)
 * Prints one line per case and a total `allocation failures injected: N`. Exit 0 when every
 * attempt behaved, 1 otherwise. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

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

typedef enum mode { MODE_REF, MODE_CPU, MODE_COMPILE, MODE_SPLIT } mode_t_;
static const char* const MODE_NAMES[] = {"ref", "cpu", "compile", "split"};
static bool is_emit_mode(mode_t_ m) { return m == MODE_COMPILE || m == MODE_SPLIT; }

typedef struct sweep_model {
  mode_t_ mode;
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
  b->data = NULL;
  b->size = 0;
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

/* ---- the files under a folder (what compile and split wrote), and removing them ---- */

typedef struct tree {
  char** paths; /* relative to the root, sorted */
  int n, cap;
  size_t root_len;
  bool failed;
} tree_t;

static tree_t* tree_walking; /* nftw has no user pointer; the test is single-threaded */

static int tree_visit(const char* path, const struct stat* sb, int type, struct FTW* ftw) {
  (void)sb;
  (void)ftw;
  tree_t* t = tree_walking;
  if (type != FTW_F) return 0;
  if (t->n == t->cap) {
    int cap = t->cap ? 2 * t->cap : 64;
    char** p = realloc(t->paths, (size_t)cap * sizeof *p);
    if (!p) {
      t->failed = true;
      return 1;
    }
    t->paths = p;
    t->cap = cap;
  }
  size_t len = strlen(path);
  char* rel = malloc(len + 1);
  if (!rel) {
    t->failed = true;
    return 1;
  }
  memcpy(rel, path + (len > t->root_len ? t->root_len : len), len - (len > t->root_len ? t->root_len : len) + 1);
  t->paths[t->n++] = rel;
  return 0;
}

static int cmp_str(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

static int remove_visit(const char* path, const struct stat* sb, int type, struct FTW* ftw) {
  (void)sb;
  (void)type;
  (void)ftw;
  remove(path);
  return 0;
}

static void remove_tree(const char* dir) {
  struct stat st;
  if (stat(dir, &st) == 0) nftw(dir, remove_visit, 16, FTW_DEPTH | FTW_PHYS);
}

/* Every file under dir as one blob: per file (sorted by path) its path, its size and its bytes. */
static bool snapshot_tree(const char* dir, blob_t* out) {
  out->data = NULL;
  out->size = 0;
  tree_t t = {NULL, 0, 0, strlen(dir), false};
  tree_walking = &t;
  bool ok = nftw(dir, tree_visit, 16, FTW_PHYS) == 0 && !t.failed;
  tree_walking = NULL;
  if (ok) qsort(t.paths, (size_t)t.n, sizeof *t.paths, cmp_str);
  size_t cap = 0;
  for (int i = 0; ok && i < t.n; i++) {
    char full[2048];
    snprintf(full, sizeof full, "%s%s", dir, t.paths[i]);
    blob_t f;
    ok = read_all(full, &f);
    char head[1200];
    int hn = snprintf(head, sizeof head, "%s\n%zu\n", t.paths[i], f.size);
    size_t need = out->size + (size_t)hn + f.size;
    if (ok && need > cap) {
      cap = need * 2;
      unsigned char* d = realloc(out->data, cap);
      if (!d) ok = false;
      else out->data = d;
    }
    if (ok) {
      memcpy(out->data + out->size, head, (size_t)hn);
      if (f.size) memcpy(out->data + out->size + hn, f.data, f.size);
      out->size = need;
    }
    free(f.data);
  }
  for (int i = 0; i < t.n; i++) free(t.paths[i]);
  free(t.paths);
  return ok;
}

/* What one attempt did. */
typedef struct attempt {
  dycl_status_t status; /* NULL: success */
  const char* stage;    /* where it failed */
  bool ran_again;       /* after a failed run: the retry without failures matched */
  blob_t outs[MAX_IO];  /* the outputs' files (compile, split: one snapshot of the folder) */
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

/* ref, cpu: load, read inputs, create a session, run, write outputs; with `f` failing as
 * configured. When the run itself fails, allocations are let through and the same session runs
 * again (its outputs are then what a->outs holds and a->ran_again says so). */
static void attempt_run(const sweep_model_t* sm, failing_t* f, const char* workdir, attempt_t* a) {
  dycl_allocator_t alloc = {fa_alloc, fa_free, f};
  dycl_options_t opts;
  dycl_options_init(&opts);
  opts.allocator = &alloc;
  opts.backend = MODE_NAMES[sm->mode];
  if (sm->mode == MODE_CPU) opts.threads = 2; /* a worker pool for the large elementwise groups */
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

/* compile, split: load without failures, then compile or split with the `fail_after`-th
 * allocation after the load failing (0: none); a->outs[0]: a snapshot of what was written.
 * *load_calls: the allocations the load made. */
static void attempt_emit(const sweep_model_t* sm, failing_t* f, int64_t fail_after, const char* workdir, attempt_t* a,
                         int64_t* load_calls) {
  dycl_allocator_t alloc = {fa_alloc, fa_free, f};
  dycl_options_t opts;
  dycl_options_init(&opts);
  opts.allocator = &alloc;
  opts.backend = "ref";
  dycl_model_t* m = NULL;
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/%s", workdir, sm->mode == MODE_COMPILE ? "alloc_fail_pkg" : "alloc_fail_split");
  remove_tree(dir);
  memset(a, 0, sizeof *a);
  f->fail_at = 0;
  a->stage = "load";
  a->status = dycl_model_load(sm->path, &opts, &m);
  *load_calls = f->calls;
  if (a->status) goto out;
  f->fail_at = fail_after ? f->calls + fail_after : 0;
  a->stage = MODE_NAMES[sm->mode];
  if (sm->mode == MODE_COMPILE) {
    dycl_compile_options_t co;
    memset(&co, 0, sizeof co);
    co.name = "swept";
    co.quiet = 1;
    co.command_line = "test_alloc_fail"; /* the backend: the default (cpu when built with oneDNN) */
    a->status = dycl_model_compile(m, &co, dir);
  } else {
    a->status = dycl_model_split(m, dir);
  }
  if (!a->status) {
    a->stage = "snapshot";
    a->n_outs = 1;
    if (!snapshot_tree(dir, &a->outs[0])) a->status = dycl_status_create(DYCL_CODE_IO, "cannot read back %s", dir);
  }
out:
  dycl_model_destroy(m);
  remove_tree(dir);
}

static void attempt(const sweep_model_t* sm, failing_t* f, int64_t n, const char* workdir, attempt_t* a) {
  f->calls = 0;
  if (sm->mode == MODE_REF || sm->mode == MODE_CPU) {
    f->fail_at = n;
    attempt_run(sm, f, workdir, a);
  } else {
    int64_t load_calls = 0;
    attempt_emit(sm, f, n, workdir, a, &load_calls);
    f->calls -= load_calls; /* count what compile or split asked for */
  }
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
    int mode = -1;
    for (int i = 0; i < 4; i++)
      if (!strcmp(tok, MODE_NAMES[i])) mode = i;
    if (mode < 0) {
      fclose(f);
      fprintf(stderr, "alloc_fail: %s: unknown mode '%s' (ref, cpu, compile or split)\n", path, tok);
      return -1;
    }
    m->mode = (mode_t_)mode;
    tok = strtok_r(NULL, " \t\r\n", &save);
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

static bool cpu_backend_built(void) {
#ifdef DYCL_HAVE_ONEDNN
  return true;
#else
  return false;
#endif
}

int main(int argc, char** argv) {
  const char* sweep = NULL;
  const char* workdir = NULL;
  const char* only = NULL;
  int64_t max_attempts = 4000;
  bool verbose = false;
  int pos = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--verbose")) {
      verbose = true;
    } else if (!strcmp(argv[i], "--max-attempts") && i + 1 < argc) {
      char* end;
      max_attempts = strtoll(argv[++i], &end, 10);
      if (*end || max_attempts < 2) {
        fprintf(stderr, "alloc_fail: --max-attempts takes a number of at least 2\n");
        return 2;
      }
    } else if (pos == 0) {
      sweep = argv[i], pos++;
    } else if (pos == 1) {
      workdir = argv[i], pos++;
    } else if (pos == 2) {
      only = argv[i], pos++;
    } else {
      pos++;
    }
  }
  if (pos < 2 || pos > 3) {
    fprintf(stderr, "usage: %s SWEEP WORKDIR [--max-attempts K] [--verbose] [NAME]\n", argv[0]);
    return 2;
  }
  static sweep_model_t models[32];
  int n_models = read_sweep(sweep, models, 32);
  if (n_models <= 0) {
    fprintf(stderr, "alloc_fail: cannot read a model list from %s\n", sweep);
    return 2;
  }
  int64_t total_injected = 0, total_attempts = 0;
  int failures = 0, tested = 0, skipped = 0;
  for (int k = 0; k < n_models; k++) {
    const sweep_model_t* sm = &models[k];
    char label[80];
    snprintf(label, sizeof label, "%s/%s", MODE_NAMES[sm->mode], sm->name);
    if (only && strcmp(only, sm->name) != 0 && strcmp(only, label) != 0) continue;
    if (sm->mode == MODE_CPU && !cpu_backend_built()) {
      printf("alloc_fail: %-14s skipped: dycl was built without oneDNN (no cpu backend)\n", label);
      skipped++;
      continue;
    }
    tested++;
    double t0 = now_s();
    failing_t f = {0, 0, 0, 0};
    attempt_t ref;
    attempt(sm, &f, 0, workdir, &ref);
    if (ref.status || f.outstanding) {
      fprintf(stderr, "alloc_fail: %s: the pass without failures %s: %s\n", label, ref.status ? "failed" : "leaked",
              ref.status ? dycl_status_message(ref.status) : "");
      attempt_clear(&ref);
      failures++;
      continue;
    }
    int64_t clean_calls = f.calls;
    /* every N up to `dense`, then every `stride`-th */
    int64_t dense = clean_calls, stride = 1;
    if (clean_calls > max_attempts) {
      dense = max_attempts / 2;
      stride = (clean_calls - dense + max_attempts / 2 - 1) / (max_attempts / 2);
    }
    int64_t absorbed = 0, bad = 0, attempts = 0, n;
    for (n = 1;; n += n < dense ? 1 : stride) {
      int64_t before = f.injected;
      attempt_t a;
      attempt(sm, &f, n, workdir, &a);
      attempts++;
      total_attempts++;
      bool reached = f.injected > before;
      const char* problem = NULL;
      bool is_run = sm->mode == MODE_REF || sm->mode == MODE_CPU;
      if (f.outstanding) problem = "allocations left outstanding after everything was destroyed";
      else if (a.status && dycl_status_code(a.status) != DYCL_CODE_NO_MEMORY) problem = "an error other than out of memory";
      else if (a.status && strchr(dycl_status_message(a.status), '\n')) problem = "a message of more than one line";
      else if (a.status && is_run && !strcmp(a.stage, "run") && !a.ran_again) problem = "the session could not run again";
      else if (a.status && is_run && !strcmp(a.stage, "run") && !same_outputs(&a, &ref)) problem = "the run after a failed one gave other outputs";
      else if (!a.status && !same_outputs(&a, &ref)) problem = is_run ? "success with other outputs" : "success with other files written";
      else if (a.status && !reached) problem = "an error without an allocation failing";
      if (problem) {
        fprintf(stderr, "alloc_fail: %s: failing allocation %" PRId64 " (%s): %s%s%s\n", label, n, a.stage, problem,
                a.status ? ": " : "", a.status ? dycl_status_message(a.status) : "");
        f.outstanding = 0;
        if (++bad >= 10) {
          attempt_clear(&a);
          break;
        }
      }
      if (!a.status && reached) {
        absorbed++;
        if (verbose) fprintf(stderr, "alloc_fail: %s: recovered from failing allocation %" PRId64 "\n", label, n);
      }
      bool done = !a.status && !reached;
      attempt_clear(&a);
      if (done) break;
      if (n > 10 * clean_calls + 1000) {
        fprintf(stderr, "alloc_fail: %s: still failing after %" PRId64 " attempts\n", label, n);
        bad++;
        break;
      }
    }
    attempt_clear(&ref);
    int64_t injected = f.injected;
    total_injected += injected;
    if (bad) failures++;
    char how[160];
    if (stride == 1)
      snprintf(how, sizeof how, "failed each of them in turn");
    else
      snprintf(how, sizeof how, "sampled: failed each of the first %" PRId64 ", then every %" PRId64 "th", dense, stride);
    printf("alloc_fail: %-14s %6" PRId64 " allocations in a clean %s; %s: %" PRId64 " failures injected, %" PRId64
           " recovered from, %" PRId64 " problems (%" PRId64 " attempts, %.1f s)\n",
           label, clean_calls, is_emit_mode(sm->mode) ? MODE_NAMES[sm->mode] : "load+run", how, injected, absorbed, bad,
           attempts, now_s() - t0);
    fflush(stdout);
  }
  if (!tested) {
    if (skipped) {
      printf("allocation failures injected: 0 (every case skipped)\n");
      return 0;
    }
    fprintf(stderr, "alloc_fail: no case named %s\n", only ? only : "");
    return 2;
  }
  printf("allocation failures injected: %" PRId64 " over %d cases (%" PRId64 " attempts, %d skipped); %d case%s with "
         "problems\n",
         total_injected, tested, total_attempts, skipped, failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
