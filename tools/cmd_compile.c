/* dycl compile — emits a self-contained C package for a model, optionally builds it, and reports how
 * long each phase took. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emit/c_emit.h"
#include "exec/model.h"
#include "tools/commands.h"

static const char* COMPILE_HELP =
    "usage: dycl compile MODEL -o PKG [--name NAME] [--backend cpu|ref] [--build] [--quiet]\n"
    "\n"
    "Writes a self-contained C package for MODEL into the folder PKG (created if missing):\n"
    "  PKG/NAME.h            the API: create an instance, run it, read the outputs\n"
    "  PKG/NAME.c            the host module: the model's If/Loop/Scan as C control flow\n"
    "  PKG/NAME_subnets.c    the sub-networks: their kernel calls (ref), or their tables for the backend (cpu)\n"
    "  PKG/NAME_weights.c    the weights, when small (else PKG/NAME.weights, read at run time)\n"
    "  PKG/runtime/          the dycl runtime sources the model needs (kernels, the backend)\n"
    "  PKG/Makefile          `make -C PKG` builds PKG/libNAME.a and PKG/run, a runner taking the\n"
    "                        arguments of `dycl run` (INPUT ... -o DIR, --threads N)\n"
    "libNAME.a exports only the functions of NAME.h: packages link side by side. Link programs with\n"
    "libNAME.a -lm (ref) or libNAME.a -ldnnl -lgomp -lpthread -lm (cpu).\n"
    "\n"
    "options:\n"
    "  -o PKG         the package folder (required)\n"
    "  --name NAME    package name and symbol prefix, a C identifier (default: from MODEL's file name)\n"
    "  --backend NAME what runs the sub-networks: cpu (dycl's cpu backend, oneDNN; the default when\n"
    "                 dycl was built with it) or ref (the portable reference kernels; the default\n"
    "                 otherwise). The package computes what `dycl run --backend NAME` computes.\n"
    "  --build        also run `make -C PKG`\n"
    "  --quiet        no progress report (also when stderr is not a terminal)\n"
    "  -h, --help     show this help\n";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(bool quiet, const char* phase, double seconds, const char* detail) {
  if (quiet) return;
  if (seconds < 1) fprintf(stderr, "dycl compile: %-9s %8.1f ms  %s\n", phase, seconds * 1e3, detail);
  else fprintf(stderr, "dycl compile: %-9s %8.2f s   %s\n", phase, seconds, detail);
}

/* The command line, quoted where needed, for the provenance header. */
static char* join_command(int argc, char** argv) {
  size_t n = 32;
  for (int i = 0; i < argc; i++) n += strlen(argv[i]) * 2 + 3;
  char* s = malloc(n);
  if (!s) return NULL;
  size_t k = (size_t)snprintf(s, n, "dycl compile");
  for (int i = 0; i < argc; i++) {
    bool plain = *argv[i] != 0;
    for (const char* p = argv[i]; *p; p++)
      if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') || strchr("-_./=+,:", *p)))
        plain = false;
    if (plain) {
      k += (size_t)snprintf(s + k, n - k, " %s", argv[i]);
    } else {
      s[k++] = ' ';
      s[k++] = '\'';
      for (const char* p = argv[i]; *p; p++) {
        if (*p == '\'') {
          s[k++] = '\'';
          s[k++] = '\\';
          s[k++] = '\'';
        }
        s[k++] = *p;
      }
      s[k++] = '\'';
      s[k] = 0;
    }
  }
  return s;
}

/* Runs `make -C dir -jN`; its output is kept and shown only when it fails. Returns its exit status. */
static int run_make(const char* dir) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  char jobs[32];
  snprintf(jobs, sizeof jobs, "-j%ld", cpus > 0 ? cpus : 1);
  int fds[2];
  if (pipe(fds) != 0) return -1;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execlp("make", "make", "--no-print-directory", "-C", dir, jobs, (char*)NULL);
    fprintf(stderr, "cannot run make: %s\n", strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  char* out = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 > cap) {
      char* n = realloc(out, cap ? cap * 2 : 65536);
      if (!n) break;
      out = n;
      cap = cap ? cap * 2 : 65536;
    }
    ssize_t r = read(fds[0], out + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
  }
  close(fds[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) {
      free(out);
      return -1;
    }
  int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  if (rc != 0 && out) fwrite(out, 1, len, stderr);
  free(out);
  return rc;
}

int dycl_cmd_compile(int argc, char** argv) {
  const char *model_path = NULL, *out = NULL, *name = NULL, *backend = NULL;
  bool build = false, quiet = !isatty(2);
  for (int i = 0; i < argc; i++) {
    const char* s = argv[i];
    const char* next = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
      fputs(COMPILE_HELP, stdout);
      return 0;
    } else if (strcmp(s, "-o") == 0 || strcmp(s, "--name") == 0 || strcmp(s, "--backend") == 0) {
      if (!next) return dycl_cli_usage(COMPILE_HELP, "%s needs a value", s);
      if (s[1] == 'o') out = next;
      else if (s[2] == 'n') name = next;
      else backend = next;
      i++;
    } else if (strcmp(s, "--build") == 0) {
      build = true;
    } else if (strcmp(s, "--quiet") == 0 || strcmp(s, "-q") == 0) {
      quiet = true;
    } else if (s[0] == '-' && s[1]) {
      return dycl_cli_usage(COMPILE_HELP, "unknown option '%s'", s);
    } else if (!model_path) {
      model_path = s;
    } else {
      return dycl_cli_usage(COMPILE_HELP, "unexpected argument '%s'", s);
    }
  }
  if (!model_path) return dycl_cli_usage(COMPILE_HELP, "missing MODEL%s", "");
  if (!out) return dycl_cli_usage(COMPILE_HELP, "missing -o PKG%s", "");
  const dycl_cemit_backend_t* be;
  dycl_status_t bs = dycl_cemit_find_backend(backend, &be);
  if (bs) return dycl_cli_fail(bs);
  backend = be->name;

  /* loaded as `dycl run --backend NAME` loads it: the same program, prepared by the same backend */
  dycl_options_t opts;
  dycl_options_init(&opts);
  opts.backend = backend;
  dycl_model_t* m = NULL;
  dycl_load_phases_t ph;
  double t0 = now_s();
  dycl_status_t s = dycl_model_load_phases(model_path, &opts, &m, &ph);
  double t2 = now_s();
  if (!s) {
    char detail[512];
    snprintf(detail, sizeof detail, "%s: %d nodes in %d graphs, opset %d", model_path, m->ir->n_nodes, m->ir->n_graphs,
             m->ir->opset);
    report(quiet, "load", ph.load_s, detail);
    snprintf(detail, sizeof detail,
             "%d nodes folded into constants, %d If nodes with a constant condition inlined, %d BatchNormalization "
             "folded, %d Pad folded, %d Concat inputs flattened, %d loop concatenations made scan outputs, %d common "
             "subexpressions merged, %d dead nodes removed",
             ph.opt.folded, ph.opt.inlined, ph.opt.bn_folded, ph.opt.pad_folded, ph.opt.concat_flattened,
             ph.opt.loop_concats, ph.opt.cse_merged, ph.opt.dce_removed);
    report(quiet, "optimize", ph.optimize_s, detail);
    snprintf(detail, sizeof detail, "%d sub-networks", m->program->n_subnets);
    report(quiet, "partition", ph.partition_s, detail);
  }
  char* cmdline = join_command(argc, argv);
  char summary[1024] = "";
  if (!s) {
    dycl_compile_options_t co = {name, backend, cmdline, quiet};
    s = dycl_cemit_compile(m, &co, out, summary, sizeof summary);
  }
  double t3 = now_s();
  free(cmdline);
  dycl_model_destroy(m);
  if (s) return dycl_cli_fail(s);
  report(quiet, "emit", t3 - t2, summary);
  if (build) {
    int rc = run_make(out);
    double t4 = now_s();
    if (rc != 0) return dycl_cli_fail(dycl_status_create(DYCL_CODE_IO, "`make -C %s` failed (exit status %d)", out, rc));
    char detail[512];
    snprintf(detail, sizeof detail, "make -C %s: lib, runner", out);
    report(quiet, "make", t4 - t3, detail);
    report(quiet, "total", t4 - t0, "");
  } else {
    report(quiet, "total", t3 - t0, "");
  }
  return 0;
}
