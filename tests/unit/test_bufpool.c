/* The session buffer pool (src/base/bufpool.h): blocks come back for reuse, a run in the steady
 * state takes nothing from the underlying allocator, and the pool outlives its session for as
 * long as an output it made is alive. */
#include <stdint.h>

#include "base/base.h"
#include "base/bufpool.h"
#include "dycl/dycl.h"
#include "test_util.h"

/* An allocator that counts what it is asked for. */
typedef struct counting {
  int64_t allocs, frees;
} counting_t;

static void* count_alloc(void* ctx, size_t size) {
  ((counting_t*)ctx)->allocs++;
  return malloc(size);
}

static void count_free(void* ctx, void* ptr) {
  if (ptr) ((counting_t*)ctx)->frees++;
  free(ptr);
}

static uint64_t rng_next(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Sizes of every magnitude: each block is 16-byte aligned and holds what was asked; the same
 * sizes asked again come from the cache; a size class is never shared by sizes more than 25% apart. */
static void test_reuse(void) {
  counting_t c = {0, 0};
  dycl_allocator_t base = {count_alloc, count_free, &c};
  dycl_bufpool_t* pool = dycl_bufpool_create(&base);
  CHECK(pool != NULL);
  if (!pool) return;
  const dycl_allocator_t* a = dycl_bufpool_allocator(pool);
  enum { N = 400 };
  size_t sizes[N];
  void* ptrs[N];
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < N; i++) sizes[i] = i < 64 ? (size_t)i : (size_t)(rng_next(&s) % ((size_t)1 << (6 + i % 18)));
  for (int round = 0; round < 3; round++) {
    dycl_bufpool_stats_t before, after;
    dycl_bufpool_stats(pool, &before);
    for (int i = 0; i < N; i++) {
      ptrs[i] = dycl_malloc(a, sizes[i]);
      CHECK(ptrs[i] != NULL);
      CHECK(((uintptr_t)ptrs[i] & 15) == 0);
      if (ptrs[i] && sizes[i]) memset(ptrs[i], (int)(i & 0xff), sizes[i]); /* all of it is ours (ASan) */
    }
    for (int i = 0; i < N; i++) dycl_free(a, ptrs[N - 1 - i]);
    dycl_bufpool_stats(pool, &after);
    CHECK(after.live_bytes == 0);
    if (round == 0) CHECK(after.base_allocs - before.base_allocs == N);
    else CHECK(after.base_allocs == before.base_allocs && after.reuses - before.reuses == N);
  }
  /* freed blocks wait in the cache, not in the base allocator */
  CHECK(c.frees == 0);
  dycl_bufpool_stats_t st;
  dycl_bufpool_stats(pool, &st);
  CHECK(st.cached_bytes > 0);
  /* a size 25% above another's class takes a block of its own */
  void* p = dycl_malloc(a, 1000);
  dycl_free(a, p);
  dycl_bufpool_stats(pool, &st);
  uint64_t made = st.base_allocs;
  void* q = dycl_malloc(a, 1300);
  dycl_bufpool_stats(pool, &st);
  CHECK(q != NULL && st.base_allocs == made + 1);
  dycl_free(a, q);
  dycl_bufpool_close(pool);
  CHECK(c.allocs == c.frees); /* closing gave everything back (the pool included) */
}

/* Blocks out when the pool is closed come back later; the last one frees the pool. */
static void test_close_with_outstanding(void) {
  counting_t c = {0, 0};
  dycl_allocator_t base = {count_alloc, count_free, &c};
  dycl_bufpool_t* pool = dycl_bufpool_create(&base);
  CHECK(pool != NULL);
  if (!pool) return;
  const dycl_allocator_t* a = dycl_bufpool_allocator(pool);
  void* keep1 = dycl_malloc(a, 100);
  void* keep2 = dycl_malloc(a, (size_t)3 << 20);
  void* gone = dycl_malloc(a, 5000);
  dycl_free(a, gone);
  dycl_bufpool_close(pool);
  CHECK(c.frees == 1); /* the cached block */
  CHECK(keep1 && keep2);
  if (keep1) memset(keep1, 1, 100);
  dycl_free(a, keep1);
  CHECK(c.frees == 2);
  dycl_free(a, keep2); /* the last one: the pool goes with it */
  CHECK(c.allocs == c.frees);
  /* no blocks out: closing frees the pool at once */
  dycl_bufpool_t* empty = dycl_bufpool_create(&base);
  dycl_bufpool_close(empty);
  CHECK(c.allocs == c.frees);
}

/* A failing base allocator: the pool reports NULL and stays usable. */
static void* fail_alloc(void* ctx, size_t size) {
  (void)size;
  int* left = ctx;
  if (*left <= 0) return NULL;
  (*left)--;
  return malloc(size);
}

static void plain_free(void* ctx, void* ptr) {
  (void)ctx;
  free(ptr);
}

static void test_failure(void) {
  int left = 2;
  dycl_allocator_t base = {fail_alloc, plain_free, &left};
  dycl_bufpool_t* pool = dycl_bufpool_create(&base); /* takes one */
  CHECK(pool != NULL);
  if (!pool) return;
  const dycl_allocator_t* a = dycl_bufpool_allocator(pool);
  void* p = dycl_malloc(a, 64); /* the last one */
  CHECK(p != NULL);
  CHECK(dycl_malloc(a, 128) == NULL);
  dycl_free(a, p);
  void* again = dycl_malloc(a, 60); /* same class: from the cache, no base allocation needed */
  CHECK(again == p);
  dycl_free(a, again);
  CHECK(dycl_malloc(a, SIZE_MAX - 8) == NULL); /* overflow of the header: refused */
  dycl_bufpool_close(pool);
}

/* The demo model: once a session has run, further runs take nothing from the model's allocator
 * (ref: every intermediate comes from the pool; cpu: what the arena does not hold), and the
 * outputs stay valid after their session is gone. */
static void test_session_steady_state(const char* backend) {
  counting_t c = {0, 0};
  dycl_allocator_t counting = {count_alloc, count_free, &c};
  dycl_options_t o;
  dycl_options_init(&o);
  o.allocator = &counting;
  if (backend) o.backend = backend;
  dycl_model_t* m = NULL;
  dycl_status_t s = dycl_model_load("models/demo/early_exit.onnx", &o, &m);
  if (s && backend && dycl_status_code(s) == DYCL_CODE_UNSUPPORTED) { /* a build without oneDNN */
    fprintf(stderr, "test_bufpool: backend %s not built: %s\n", backend, dycl_status_message(s));
    dycl_status_free(s);
    return;
  }
  CHECK_OK(s);
  if (!m) return;
  dycl_session_t* S = NULL;
  CHECK_OK(dycl_session_create(m, &S));
  int64_t dims[4] = {1, 3, 32, 32};
  static float xd[3 * 32 * 32];
  for (int i = 0; i < 3 * 32 * 32; i++) xd[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
  dycl_value_t* x = NULL;
  CHECK_OK(dycl_value_create_tensor(NULL, DYCL_DTYPE_FLOAT32, 4, dims, xd, &x));
  dycl_value_t* outs[2] = {NULL, NULL};
  int64_t first_allocs = 0;
  unsigned char first[4096];
  size_t first_bytes = 0;
  for (int run = 0; run < 4 && S; run++) {
    int64_t before = c.allocs;
    CHECK_OK(dycl_session_run(S, &x, 1, outs, 2));
    int64_t during = c.allocs - before;
    dycl_run_stats_t st;
    dycl_session_stats(S, &st);
    if (run == 0) {
      first_allocs = during;
      CHECK(st.allocations > 0);
      if (outs[0]) {
        first_bytes = (size_t)dycl_value_numel(outs[0]) * sizeof(float);
        CHECK(first_bytes > 0 && first_bytes <= sizeof first);
        if (first_bytes > sizeof first) first_bytes = sizeof first;
        memcpy(first, dycl_value_data(outs[0]), first_bytes);
      }
    } else {
      CHECK(st.allocations == 0);
      CHECK(during == 0); /* the model's allocator saw nothing */
      if (during) fprintf(stderr, "test_bufpool: %s run %d: %lld allocations\n", backend, run, (long long)during);
    }
    if (run < 3)
      for (int j = 0; j < 2; j++) {
        dycl_value_release(outs[j]);
        outs[j] = NULL;
      }
  }
  CHECK(first_allocs > 0);
  dycl_session_destroy(S);
  /* the outputs of the last run outlive their session, and hold what the first run gave */
  CHECK(outs[0] && outs[1]);
  if (outs[0]) CHECK((size_t)dycl_value_numel(outs[0]) * sizeof(float) == first_bytes && !memcmp(dycl_value_data(outs[0]), first, first_bytes));
  for (int j = 0; j < 2; j++) dycl_value_release(outs[j]);
  dycl_value_release(x);
  dycl_model_destroy(m);
  CHECK(c.allocs == c.frees); /* nothing left behind */
}

int main(void) {
  test_reuse();
  test_close_with_outstanding();
  test_failure();
  test_session_steady_state("ref");
  test_session_steady_state("cpu");
  return test_finish("test_bufpool");
}
