/* Replays files through a fuzz harness without libFuzzer: the regression test
 * (tests/fuzz/fuzz.cmake) links each harness with this main.
 *
 * Usage: fuzz_<harness>_replay PATH...   each PATH a file or a folder (its files, sorted, not
 * recursive). Prints one line per folder and a total; exits 0 when every file ran through
 * LLVMFuzzerTestOneInput (a finding aborts the process, as under libFuzzer), 1 when a path cannot
 * be read or no file was given, 2 on a usage error. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int replay_file(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open '%s'\n", path);
    return -1;
  }
  size_t cap = 4096, n = 0;
  uint8_t* buf = malloc(cap);
  size_t r;
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      uint8_t* nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  int err = ferror(f);
  fclose(f);
  if (!buf || err) {
    free(buf);
    fprintf(stderr, "replay: cannot read '%s'\n", path);
    return -1;
  }
  /* a copy of exactly n bytes, so that reading past the input is caught by the sanitizers */
  uint8_t* exact = malloc(n ? n : 1);
  if (!exact) {
    free(buf);
    return -1;
  }
  if (n) memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

static int cmp_str(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

static int replay_dir(const char* dir, int* count) {
  DIR* d = opendir(dir);
  if (!d) {
    fprintf(stderr, "replay: cannot open folder '%s'\n", dir);
    return -1;
  }
  char** names = NULL;
  size_t n = 0, cap = 0;
  struct dirent* e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char** nn = realloc(names, cap * sizeof *names);
      if (!nn) {
        rc = -1;
        break;
      }
      names = nn;
    }
    names[n] = strdup(e->d_name);
    if (!names[n]) {
      rc = -1;
      break;
    }
    n++;
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp_str);
  int here = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (replay_file(path) != 0) rc = -1;
    else here++;
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  printf("replay: %s: %d files\n", dir, here);
  *count += here;
  return rc;
}

int main(int argc, char** argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fprintf(argc < 2 ? stderr : stdout, "usage: %s PATH...   (files, or folders of files, to run through the harness)\n",
            argv[0]);
    return argc < 2 ? 2 : 0;
  }
  LLVMFuzzerInitialize(&argc, &argv);
  int count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: cannot open '%s'\n", argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      if (replay_dir(argv[i], &count) != 0) return 1;
    } else {
      if (replay_file(argv[i]) != 0) return 1;
      count++;
    }
  }
  printf("replay: %d inputs, no finding\n", count);
  if (count == 0) {
    fprintf(stderr, "replay: no input files\n");
    return 1;
  }
  return 0;
}
