/* dycl — the command line. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "dycl/dycl.h"
#include "tools/commands.h"

#define EXIT_MODEL_ERROR 1
#define EXIT_USAGE 2

static const char* MAIN_HELP =
    "dycl " DYCL_VERSION " — a compiler for dynamic neural networks (ONNX with If/Loop/Scan)\n"
    "\n"
    "usage: dycl <command> [options]\n"
    "\n"
    "commands:\n"
    "  run MODEL [INPUT ...] [-o DIR]     run a model on inputs (.pb or .npy files)\n"
    "  bench MODEL [INPUT ...]            measure the latency of a run\n"
    "  inspect MODEL [--dot FILE]         print the host tree and the sub-networks\n"
    "  compile MODEL -o PKG [--name NAME] emit a self-contained C package\n"
    "  split MODEL -o DIR                 write each sub-network as a static ONNX model\n"
    "\n"
    "`dycl <command> --help` describes a command. Exit codes: 0 success, 1 model or input error,\n"
    "2 usage error.\n";

static const char* RUN_HELP =
    "usage: dycl run MODEL [INPUT ...] [-o DIR] [options]\n"
    "\n"
    "Runs MODEL on the given inputs, one file per graph input in the order of the graph's inputs\n"
    "(inputs backed by initializers excluded): an ONNX TensorProto/SequenceProto/OptionalProto .pb\n"
    "file, or a NumPy .npy file.\n"
    "\n"
    "options:\n"
    "  -o DIR                 write DIR/output_<j>.pb for the j-th graph output (created if missing)\n"
    "  --backend NAME         execution backend: cpu (oneDNN; the default when built with it) or ref\n"
    "                         (portable reference kernels, the oracle)\n"
    "  --max-iterations N     fail a Loop/Scan that runs more than N iterations (default 2^40)\n"
    "  --max-tensor-bytes SIZE\n"
    "                         fail when one tensor would need more than SIZE bytes (default 16G)\n"
    "  --max-memory SIZE      fail when the tensors live at once in the run would need more than\n"
    "                         SIZE bytes (default: half of the physical memory)\n"
    "  --max-nesting N        fail to load a model whose subgraphs nest more than N deep (default 64)\n"
    "  --deadline SECONDS     fail a run still going after SECONDS of wall-clock time (checked\n"
    "                         between host steps and loop iterations; default: none)\n"
    "  --threads N            threads the cpu backend may use (default: all cores; ref runs on one)\n"
    "  --stats                print how many sub-networks, branches and iterations the run took\n"
    "  -h, --help             show this help\n"
    "\n"
    "Without -o, prints each output's name, type, shape and leading values.\n";

static const char* BENCH_HELP =
    "usage: dycl bench MODEL [INPUT ...] [options]\n"
    "\n"
    "Measures the in-process latency of a run (loading and preparation excluded). Inputs as for\n"
    "`dycl run`. Before it, a line `memory: arena_bytes=<planned arena of the sub-networks'\n"
    "intermediates> arena_lower_bound_bytes=<the most any plan must hold> peak_tensor_bytes=<most tensor\n"
    "bytes live at once in a run> peak_rss_kib=<the process's peak resident memory>\n"
    "allocations_per_run=<the most blocks a timed run took from the allocator: 0 in the steady state>`.\n"
    "The last line printed is `median_us=<x> p10_us=<x> p90_us=<x>`.\n"
    "\n"
    "options:\n"
    "  --iters N      timed runs (default 20)\n"
    "  --warmup N     untimed runs first (default 3)\n"
    "  --threads N    threads the cpu backend may use (default: all cores; ref runs on one)\n"
    "  --backend NAME execution backend: cpu (default when built with oneDNN) or ref\n"
    "  --profile [N]  after the timed runs, as many again with profiling on, and before the last\n"
    "                 line a table of the N nodes (default 30) that took the most time: share of\n"
    "                 the run, microseconds per run, steps per run, sub-network, op type, nodes fused\n"
    "                 into its steps (+k), node name. A fused step counts at the node the backend\n"
    "                 runs it at (the cpu backend: a Conv with the BatchNormalization, Add and\n"
    "                 activation after it at the Conv; an elementwise chain at its last node)\n"
    "  --max-iterations N       limits as for `dycl run`; the memory limit and the deadline\n"
    "  --max-tensor-bytes SIZE  apply to each run, and a run that exceeds one ends the\n"
    "  --max-memory SIZE        benchmark with exit status 1\n"
    "  --max-nesting N\n"
    "  --deadline SECONDS\n"
    "  -h, --help     show this help\n";

static const char* INSPECT_HELP =
    "usage: dycl inspect MODEL [--dot FILE]\n"
    "\n"
    "Loads and partitions MODEL, then prints the host tree (sub-network calls, if, loop, scan) and,\n"
    "for each sub-network, its ops, inputs and outputs.\n"
    "\n"
    "options:\n"
    "  --dot FILE   also write the host tree as a Graphviz graph to FILE\n"
    "  -h, --help   show this help\n";

int dycl_cli_usage(const char* help, const char* fmt, const char* arg) {
  fprintf(stderr, "dycl: usage error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n%s", help);
  return EXIT_USAGE;
}

int dycl_cli_fail(dycl_status_t s) {
  fprintf(stderr, "dycl: error: %s\n", dycl_status_message(s));
  dycl_status_free(s);
  return EXIT_MODEL_ERROR;
}

/* A byte count: digits with an optional K, M, G or T (powers of 1024, an optional trailing B or iB),
 * e.g. 512M or 2G; at least 1. */
static bool parse_size(const char* s, uint64_t* out) {
  char* end;
  errno = 0;
  if (*s < '0' || *s > '9') return false;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s) return false;
  unsigned shift = 0;
  switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: break;
  }
  if (shift && (*end == 'i' || *end == 'I') && (end[1] == 'b' || end[1] == 'B')) end += 2;
  else if (*end == 'b' || *end == 'B') end++;
  if (*end || v == 0 || v > (UINT64_MAX >> shift)) return false;
  *out = (uint64_t)v << shift;
  return true;
}

/* Seconds: a positive finite decimal number (0.25, 10). */
static bool parse_seconds(const char* s, double* out) {
  char* end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v > 0) || v > 1e9) return false;
  *out = v;
  return true;
}

static bool parse_i64(const char* s, int64_t* out) {
  char* end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 0) return false;
  *out = v;
  return true;
}

typedef struct args {
  const char* model;
  const char* inputs[4096];
  int n_inputs;
  const char* out_dir;
  const char* dot;
  const char* record_dir; /* hidden: --record-subnets DIR */
  dycl_options_t opts;
  int64_t iters, warmup;
  bool stats;
  int profile; /* bench --profile [N]: rows of the profile table (0: no profile) */
} args_t;

/* Parses the options shared by the commands; returns -1 when fine, else an exit code. */
static int parse_args(int argc, char** argv, const char* help, const char* cmd, args_t* a) {
  dycl_options_init(&a->opts);
  a->iters = 20;
  a->warmup = 3;
  bool is_run = strcmp(cmd, "run") == 0, is_bench = strcmp(cmd, "bench") == 0, is_inspect = strcmp(cmd, "inspect") == 0;
  for (int i = 0; i < argc; i++) {
    const char* s = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t v;
    if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
      fputs(help, stdout);
      return 0;
    }
    if (is_run && strcmp(s, "-o") == 0) {
      if (!next) return dycl_cli_usage(help, "%s needs a folder", s);
      a->out_dir = argv[++i];
    } else if (is_inspect && strcmp(s, "--dot") == 0) {
      if (!next) return dycl_cli_usage(help, "%s needs a file name", s);
      a->dot = argv[++i];
    } else if ((is_run || is_bench) && strcmp(s, "--backend") == 0) {
      if (!next) return dycl_cli_usage(help, "%s needs a name", s);
      a->opts.backend = argv[++i];
    } else if (is_run && strcmp(s, "--record-subnets") == 0) {
      if (!next) return dycl_cli_usage(help, "%s needs a folder", s);
      a->record_dir = argv[++i];
    } else if (is_run && strcmp(s, "--stats") == 0) {
      a->stats = true;
    } else if (strcmp(s, "--max-tensor-bytes") == 0 || ((is_run || is_bench) && strcmp(s, "--max-memory") == 0)) {
      uint64_t size;
      if (!next || !parse_size(next, &size)) return dycl_cli_usage(help, "%s needs a size in bytes of at least 1 (e.g. 4096, 512M, 2G)", s);
      i++;
      if (strcmp(s, "--max-memory") == 0) a->opts.max_memory = size;
      else a->opts.max_tensor_bytes = size;
    } else if ((is_run || is_bench) && strcmp(s, "--deadline") == 0) {
      if (!next || !parse_seconds(next, &a->opts.deadline_seconds))
        return dycl_cli_usage(help, "%s needs a number of seconds above 0 (e.g. 0.5)", s);
      i++;
    } else if (strcmp(s, "--max-iterations") == 0 || ((is_run || is_bench) && strcmp(s, "--max-nesting") == 0)) {
      if (!next || !parse_i64(next, &v) || v < 1 || (strcmp(s, "--max-nesting") == 0 && v > 1000000))
        return dycl_cli_usage(help, "%s needs a whole number of at least 1", s);
      i++;
      if (strcmp(s, "--max-iterations") == 0) a->opts.max_iterations = v;
      else a->opts.max_nesting = (int)v;
    } else if ((is_bench && (strcmp(s, "--iters") == 0 || strcmp(s, "--warmup") == 0)) ||
               ((is_run || is_bench) && strcmp(s, "--threads") == 0)) {
      if (!next || !parse_i64(next, &v)) return dycl_cli_usage(help, "%s needs a non-negative integer", s);
      i++;
      if (strcmp(s, "--iters") == 0) a->iters = v;
      else if (strcmp(s, "--warmup") == 0) a->warmup = v;
      else a->opts.threads = (int)v;
    } else if (is_bench && strcmp(s, "--profile") == 0) {
      a->profile = 30;
      if (next && parse_i64(next, &v)) { /* an optional row count */
        if (v < 1 || v > 1000000) return dycl_cli_usage(help, "%s takes a number of rows of at least 1", s);
        a->profile = (int)v;
        i++;
      }
    } else if (s[0] == '-' && s[1]) {
      return dycl_cli_usage(help, "unknown option '%s'", s);
    } else if (!a->model) {
      a->model = s;
    } else if (is_inspect) {
      return dycl_cli_usage(help, "unexpected argument '%s'", s);
    } else {
      if (a->n_inputs >= (int)(sizeof a->inputs / sizeof a->inputs[0])) return dycl_cli_usage(help, "too many inputs%s", "");
      a->inputs[a->n_inputs++] = s;
    }
  }
  if (!a->model) return dycl_cli_usage(help, "missing MODEL%s", "");
  if (is_bench && a->iters < 1) return dycl_cli_usage(help, "--iters must be at least 1%s", "");
  return -1;
}

static dycl_status_t load_inputs(const dycl_model_t* m, const args_t* a, dycl_value_t** vals) {
  int n = dycl_model_num_inputs(m);
  if (a->n_inputs != n) {
    char names[1024] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof names - 64; i++)
      len += (size_t)snprintf(names + len, sizeof names - len, "%s'%s'", i ? ", " : "", dycl_model_input_name(m, i));
    return dycl_status_create(DYCL_CODE_INVALID_INPUT, "the model takes %d input%s (%s), %d given", n, n == 1 ? "" : "s",
                              names, a->n_inputs);
  }
  for (int i = 0; i < n; i++) {
    dycl_status_t s = dycl_value_load_file(NULL, a->inputs[i], dycl_model_input_kind(m, i), &vals[i]);
    if (s) return s;
  }
  return NULL;
}

/* --record-subnets DIR (a debugging aid, not in the help): every sub-network call's inputs and
 * outputs, as DIR/subnet_<k>/call_<n>/input_<i>.pb and output_<j>.pb, plus kinds.json telling which
 * files hold sequences or optionals. */
typedef struct recorder {
  const char* dir;
  int64_t* calls; /* per sub-network index */
  int64_t cap;
} recorder_t;

static dycl_status_t make_dirs(char* path) {
  for (char* p = path + 1;; p++) {
    if (*p != '/' && *p) continue;
    char c = *p;
    *p = 0;
    int rc = mkdir(path, 0777);
    *p = c;
    if (rc != 0 && errno != EEXIST) return dycl_status_create(DYCL_CODE_IO, "cannot create folder '%s': %s", path, strerror(errno));
    if (!c) return NULL;
  }
}

static const char* value_kind_name(const dycl_value_t* v) {
  dycl_value_kind_t k = dycl_value_kind(v);
  return k == DYCL_VALUE_SEQUENCE ? "sequence" : k == DYCL_VALUE_OPTIONAL ? "optional" : "tensor";
}

static dycl_status_t record_subnet(void* user, int subnet, const dycl_value_t* const* ins, int n_in,
                                   const dycl_value_t* const* outs, int n_out) {
  recorder_t* r = user;
  if (subnet < 0) return dycl_status_create(DYCL_CODE_INTERNAL, "bad sub-network index %d", subnet);
  if (subnet >= r->cap) {
    int64_t cap = subnet + 16;
    int64_t* c = realloc(r->calls, (size_t)cap * sizeof *c);
    if (!c) return dycl_status_create(DYCL_CODE_NO_MEMORY, "out of memory");
    for (int64_t i = r->cap; i < cap; i++) c[i] = 0;
    r->calls = c;
    r->cap = cap;
  }
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/subnet_%d/call_%" PRId64, r->dir, subnet, r->calls[subnet]++);
  dycl_status_t s = make_dirs(dir);
  for (int i = 0; i < n_in + n_out && !s; i++) {
    bool in = i < n_in;
    snprintf(path, sizeof path, "%s/%s_%d.pb", dir, in ? "input" : "output", in ? i : i - n_in);
    char name[32];
    snprintf(name, sizeof name, "%s_%d", in ? "input" : "output", in ? i : i - n_in);
    s = dycl_value_save_file(in ? ins[i] : outs[i - n_in], name, path);
  }
  if (s) return s;
  snprintf(path, sizeof path, "%s/kinds.json", dir);
  FILE* f = fopen(path, "w");
  if (!f) return dycl_status_create(DYCL_CODE_IO, "cannot write '%s'", path);
  fprintf(f, "{\"inputs\": [");
  for (int i = 0; i < n_in; i++) fprintf(f, "%s\"%s\"", i ? ", " : "", value_kind_name(ins[i]));
  fprintf(f, "], \"outputs\": [");
  for (int j = 0; j < n_out; j++) fprintf(f, "%s\"%s\"", j ? ", " : "", value_kind_name(outs[j]));
  fprintf(f, "]}\n");
  if (fclose(f) != 0) return dycl_status_create(DYCL_CODE_IO, "cannot write '%s'", path);
  return NULL;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void* x, const void* y) {
  double a = *(const double*)x, b = *(const double*)y;
  return (a > b) - (a < b);
}

/* bench --profile: `iters` runs with profiling on, then the table of the `rows` costliest nodes. */
static dycl_status_t bench_profile(dycl_session_t* sess, dycl_value_t** ins, int n_in, dycl_value_t** outs, int n_out,
                                   int64_t iters, int rows) {
  dycl_status_t s = dycl_session_set_profiling(sess, 1);
  for (int64_t i = 0; i < iters && !s; i++) {
    s = dycl_session_run(sess, ins, n_in, outs, n_out);
    for (int j = 0; j < n_out; j++) {
      dycl_value_release(outs[j]);
      outs[j] = NULL;
    }
  }
  if (s) return s;
  dycl_profile_totals_t t;
  int n = dycl_session_profile(sess, NULL, 0, &t);
  dycl_profile_entry_t* e = calloc((size_t)n + 1, sizeof *e);
  if (!e) return dycl_status_create(DYCL_CODE_NO_MEMORY, "out of memory");
  dycl_session_profile(sess, e, n, NULL);
  double runs = t.runs > 0 ? (double)t.runs : 1, run_us = t.run_seconds * 1e6 / runs;
  printf("profile: %" PRId64 " more runs with profiling on, %.1f us per run: %.2f sub-network calls taking %.1f us, "
         "the host module %.1f us\n",
         t.runs, run_us, (double)t.subnet_calls / runs, t.subnet_seconds * 1e6 / runs,
         (t.run_seconds - t.subnet_seconds) * 1e6 / runs);
  printf("  %6s %9s %9s %6s  %-28s %s\n", "share", "us/run", "steps/run", "subnet", "op (+fused)", "node");
  double rest = 0;
  int rest_n = 0;
  for (int i = 0; i < n; i++) {
    double us = e[i].seconds * 1e6 / runs, share = run_us > 0 ? 100 * us / run_us : 0;
    if (i >= rows) {
      rest += share;
      rest_n++;
      continue;
    }
    char op[64];
    if (e[i].fused) snprintf(op, sizeof op, "%s (+%d)", e[i].op, e[i].fused);
    else snprintf(op, sizeof op, "%s", e[i].op);
    printf("  %5.1f%% %9.1f %9.2f %6d  %-28s %s\n", share, us, (double)e[i].calls / runs, e[i].subnet, op, e[i].node);
  }
  if (rest_n) printf("  %5.1f%% in %d more nodes\n", rest, rest_n);
  free(e);
  return NULL;
}

static int cmd_run_or_bench(int argc, char** argv, bool bench) {
  args_t* a = calloc(1, sizeof *a);
  if (!a) return dycl_cli_fail(dycl_status_create(DYCL_CODE_NO_MEMORY, "out of memory"));
  int rc = parse_args(argc, argv, bench ? BENCH_HELP : RUN_HELP, bench ? "bench" : "run", a);
  if (rc >= 0) {
    free(a);
    return rc;
  }
  dycl_model_t* m = NULL;
  dycl_session_t* sess = NULL;
  dycl_value_t** ins = NULL;
  dycl_value_t** outs = NULL;
  double* times = NULL;
  recorder_t rec = {a->record_dir, NULL, 0};
  dycl_status_t s = dycl_model_load(a->model, &a->opts, &m);
  if (s) goto out;
  int n_in = dycl_model_num_inputs(m), n_out = dycl_model_num_outputs(m);
  ins = calloc((size_t)n_in + 1, sizeof *ins);
  outs = calloc((size_t)n_out + 1, sizeof *outs);
  if (!ins || !outs) {
    s = dycl_status_create(DYCL_CODE_NO_MEMORY, "out of memory");
    goto out;
  }
  s = load_inputs(m, a, ins);
  if (s) goto out;
  s = dycl_session_create(m, &sess);
  if (s) goto out;
  if (a->record_dir) dycl_session_set_recorder(sess, record_subnet, &rec);
  if (!bench) {
    double t0 = now_us();
    s = dycl_session_run(sess, ins, n_in, outs, n_out);
    double t1 = now_us();
    if (s) goto out;
    if (a->out_dir) {
      if (mkdir(a->out_dir, 0777) != 0 && errno != EEXIST) {
        s = dycl_status_create(DYCL_CODE_IO, "cannot create output folder '%s': %s", a->out_dir, strerror(errno));
        goto out;
      }
      for (int j = 0; j < n_out && !s; j++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/output_%d.pb", a->out_dir, j);
        s = dycl_value_save_file(outs[j], dycl_model_output_name(m, j), path);
      }
      if (s) goto out;
    } else {
      for (int j = 0; j < n_out; j++) {
        printf("%s: ", dycl_model_output_name(m, j));
        dycl_value_print(outs[j], stdout, 8);
        printf("\n");
      }
    }
    if (a->stats || !a->out_dir) {
      dycl_run_stats_t st;
      dycl_session_stats(sess, &st);
      printf(
              "run: %.1f us, %" PRId64 " sub-network calls, %" PRId64 " branches, %" PRId64 " loop iterations\n", t1 - t0,
              st.subnet_calls, st.branches_taken, st.loop_iterations);
    }
  } else {
    times = calloc((size_t)a->iters, sizeof *times);
    if (!times) {
      s = dycl_status_create(DYCL_CODE_NO_MEMORY, "out of memory");
      goto out;
    }
    uint64_t peak_tensor = 0, allocs = 0;
    for (int64_t i = 0; i < a->warmup + a->iters && !s; i++) {
      double t0 = now_us();
      s = dycl_session_run(sess, ins, n_in, outs, n_out);
      double t1 = now_us();
      dycl_run_stats_t st;
      dycl_session_stats(sess, &st);
      if (st.peak_tensor_bytes > peak_tensor) peak_tensor = st.peak_tensor_bytes;
      if (i >= a->warmup && st.allocations > allocs) allocs = st.allocations;
      for (int j = 0; j < n_out; j++) {
        dycl_value_release(outs[j]);
        outs[j] = NULL;
      }
      if (i >= a->warmup) times[i - a->warmup] = t1 - t0;
    }
    if (s) goto out;
    qsort(times, (size_t)a->iters, sizeof *times, cmp_double);
    int64_t n = a->iters;
    double med = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    printf("model: %s\nbackend: %s, %" PRId64 " warm-up + %" PRId64 " timed runs\n", a->model, a->opts.backend, a->warmup, n);
    dycl_run_stats_t st;
    dycl_session_stats(sess, &st);
    struct rusage ru;
    long rss_kib = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
    printf("memory: arena_bytes=%" PRIu64 " arena_lower_bound_bytes=%" PRIu64 " peak_tensor_bytes=%" PRIu64
           " peak_rss_kib=%ld allocations_per_run=%" PRIu64 "\n",
           st.arena_bytes, st.arena_lower_bound, peak_tensor, rss_kib, allocs);
    if (a->profile) {
      s = bench_profile(sess, ins, n_in, outs, n_out, a->iters, a->profile);
      if (s) goto out;
    }
    printf("median_us=%.1f p10_us=%.1f p90_us=%.1f\n", med, times[(n - 1) / 10], times[(n - 1) * 9 / 10]);
  }
out:
  if (outs)
    for (int j = 0; m && j < dycl_model_num_outputs(m); j++) dycl_value_release(outs[j]);
  if (ins)
    for (int i = 0; m && i < dycl_model_num_inputs(m); i++) dycl_value_release(ins[i]);
  free(ins);
  free(outs);
  free(times);
  free(rec.calls);
  dycl_session_destroy(sess);
  dycl_model_destroy(m);
  free(a);
  return s ? dycl_cli_fail(s) : 0;
}

static int cmd_inspect(int argc, char** argv) {
  args_t* a = calloc(1, sizeof *a);
  if (!a) return dycl_cli_fail(dycl_status_create(DYCL_CODE_NO_MEMORY, "out of memory"));
  int rc = parse_args(argc, argv, INSPECT_HELP, "inspect", a);
  if (rc >= 0) {
    free(a);
    return rc;
  }
  dycl_model_t* m = NULL;
  dycl_status_t s = dycl_model_load(a->model, &a->opts, &m);
  if (!s) {
    dycl_model_inspect(m, stdout);
    if (a->dot) {
      FILE* f = fopen(a->dot, "w");
      if (!f) {
        s = dycl_status_create(DYCL_CODE_IO, "cannot write '%s'", a->dot);
      } else {
        s = dycl_model_write_dot(m, f);
        if (fclose(f) != 0 && !s) s = dycl_status_create(DYCL_CODE_IO, "cannot write '%s'", a->dot);
        if (!s) fprintf(stderr, "wrote %s\n", a->dot);
      }
    }
  }
  dycl_model_destroy(m);
  free(a);
  return s ? dycl_cli_fail(s) : 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "dycl: usage error: missing command\n\n%s", MAIN_HELP);
    return EXIT_USAGE;
  }
  const char* cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    fputs(MAIN_HELP, stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("dycl %s (ONNX opsets up to %d)\n", DYCL_VERSION, DYCL_MAX_OPSET);
    return 0;
  }
  if (strcmp(cmd, "run") == 0) return cmd_run_or_bench(argc - 2, argv + 2, false);
  if (strcmp(cmd, "bench") == 0) return cmd_run_or_bench(argc - 2, argv + 2, true);
  if (strcmp(cmd, "inspect") == 0) return cmd_inspect(argc - 2, argv + 2);
  if (strcmp(cmd, "compile") == 0) return dycl_cmd_compile(argc - 2, argv + 2);
  if (strcmp(cmd, "split") == 0) return dycl_cmd_split(argc - 2, argv + 2);
  fprintf(stderr, "dycl: usage error: unknown command '%s'\n\n%s", cmd, MAIN_HELP);
  return EXIT_USAGE;
}
