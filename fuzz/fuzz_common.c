/* Helpers shared by the fuzz harnesses. The harness process is single-threaded and its entry
 * points take no context, so the per-process temporary folder is kept in file-scope state here
 * (the library itself keeps none). */
#include "fuzz_common.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp_dir[256];
static char tmp_file[512];
static FILE* null_stream;
static int verbose = -1; /* DYCL_FUZZ_VERBOSE set: print every error status */

static void remove_tmp_dir(void) {
  if (!tmp_dir[0]) return;
  DIR* d = opendir(tmp_dir);
  if (d) {
    struct dirent* e;
    char p[600];
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(tmp_dir);
  tmp_dir[0] = 0;
}

static void close_null_stream(void) {
  if (null_stream) fclose(null_stream);
  null_stream = NULL;
}

static void* capped_alloc(void* ctx, size_t size) {
  (void)ctx;
  if (size > FUZZ_MAX_ALLOCATION) fuzz_fail("an allocation of %zu bytes (over %zu)", size, FUZZ_MAX_ALLOCATION);
  return malloc(size ? size : 1);
}

static void capped_free(void* ctx, void* p) {
  (void)ctx;
  free(p);
}

const dycl_allocator_t* fuzz_allocator(void) {
  static const dycl_allocator_t a = {capped_alloc, capped_free, NULL};
  return &a;
}

const char* fuzz_tmp_path(const char* name) {
  if (!tmp_dir[0]) {
    const char* base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(tmp_dir, sizeof tmp_dir, "%s/dycl-fuzz-XXXXXX", base);
    if (!mkdtemp(tmp_dir)) {
      tmp_dir[0] = 0;
      return NULL;
    }
    atexit(remove_tmp_dir);
  }
  if ((size_t)snprintf(tmp_file, sizeof tmp_file, "%s/%s", tmp_dir, name) >= sizeof tmp_file) return NULL;
  return tmp_file;
}

int fuzz_write_file(const char* path, const uint8_t* data, size_t size) {
  FILE* f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = size ? fwrite(data, 1, size, f) : 0;
  return fclose(f) == 0 && w == size ? 0 : -1;
}

FILE* fuzz_null_stream(void) {
  if (!null_stream) {
    null_stream = fopen("/dev/null", "w");
    if (!null_stream) fuzz_fail("cannot open /dev/null");
    atexit(close_null_stream);
  }
  return null_stream;
}

void fuzz_fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("dycl fuzz: invariant broken: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

void fuzz_check_status(dycl_status_t s) {
  if (!s) return;
  const char* msg = dycl_status_message(s);
  if (!msg || !*msg) fuzz_fail("an error status without a message (code %s)", dycl_code_name(dycl_status_code(s)));
  if (strchr(msg, '\n')) fuzz_fail("an error message of more than one line: %s", msg);
  if (dycl_status_code(s) == DYCL_CODE_INTERNAL) fuzz_fail("an internal error: %s", msg);
  if (verbose < 0) verbose = getenv("DYCL_FUZZ_VERBOSE") != NULL;
  if (verbose) fprintf(stderr, "dycl fuzz: %s: %s\n", dycl_code_name(dycl_status_code(s)), msg);
  dycl_status_free(s);
}

uint8_t fuzz_u8(fuzz_reader_t* r) {
  if (!r->n) return 0;
  r->n--;
  return *r->p++;
}

uint64_t fuzz_u64(fuzz_reader_t* r) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)fuzz_u8(r) << (8 * i);
  return v;
}
