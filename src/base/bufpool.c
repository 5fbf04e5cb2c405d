/* A session's buffer pool (bufpool.h). */
#include "base/bufpool.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

#if defined(__SANITIZE_ADDRESS__)
#define BUFPOOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUFPOOL_ASAN 1
#endif
#endif
#ifdef BUFPOOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define HDR 16                         /* header bytes before every block */
#define MAX_CACHED ((size_t)1 << 30)   /* blocks above this size go straight back */
#define N_CLASSES (4 + (30 - 6) * 4)   /* 16..64 in steps of 16, then 4 per power of two up to 1 GiB */
#define CLS_DIRECT 0xffffffffu         /* not cached: freed to the base allocator */

typedef struct block {
  unsigned cls;       /* size class, or CLS_DIRECT */
  struct block* next; /* in a bin */
} block_t;
_Static_assert(sizeof(block_t) <= HDR, "the block header fits in HDR bytes");

struct dycl_bufpool {
  dycl_allocator_t iface;
  const dycl_allocator_t* base;
  atomic_flag lock; /* a spin lock: held for a few instructions, contended only when outputs are
                     * freed on another thread while the session runs */
  block_t* bins[N_CLASSES];
  size_t cached;       /* bytes (class sizes) in the bins */
  size_t live;         /* bytes (class sizes) handed out */
  size_t n_live;       /* blocks handed out */
  bool closed;
  uint64_t base_allocs, reuses;
};

static inline void lock(dycl_bufpool_t* p) {
  while (atomic_flag_test_and_set_explicit(&p->lock, memory_order_acquire)) sched_yield();
}

static inline void unlock(dycl_bufpool_t* p) { atomic_flag_clear_explicit(&p->lock, memory_order_release); }

/* The usable bytes of class c. */
static size_t class_size(unsigned c) {
  if (c < 4) return (size_t)16 * (c + 1);
  unsigned k = 6 + (c - 4) / 4, j = (c - 4) % 4 + 1;
  return ((size_t)1 << k) + (size_t)j * ((size_t)1 << (k - 2));
}

/* The smallest class holding n bytes, or CLS_DIRECT when n is above MAX_CACHED. */
static unsigned class_of(size_t n) {
  if (n == 0) n = 1;
  if (n > MAX_CACHED) return CLS_DIRECT;
  if (n <= 64) return (unsigned)((n + 15) / 16 - 1);
  unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1)); /* 2^k < n <= 2^(k+1) */
  size_t base = (size_t)1 << k, step = base / 4;
  unsigned j = (unsigned)((n - base + step - 1) / step); /* 1..4 */
  return 4 + (k - 6) * 4 + (j - 1);
}

static void pool_free_all(dycl_bufpool_t* p) {
  for (unsigned c = 0; c < N_CLASSES; c++) {
    for (block_t *b = p->bins[c], *n; b; b = n) {
      UNPOISON(b, HDR + class_size(c));
      n = b->next;
      dycl_free(p->base, b);
    }
    p->bins[c] = NULL;
  }
  p->cached = 0;
}

static void pool_destroy(dycl_bufpool_t* p) { dycl_free(p->base, p); }

static void* pool_alloc(void* ctx, size_t size) {
  dycl_bufpool_t* p = ctx;
  unsigned c = class_of(size);
  size_t bytes = c == CLS_DIRECT ? size : class_size(c);
  if (bytes > SIZE_MAX - HDR) return NULL;
  lock(p);
  block_t* b = c != CLS_DIRECT ? p->bins[c] : NULL;
  if (b) {
    UNPOISON(b, HDR + bytes);
    p->bins[c] = b->next;
    p->cached -= bytes;
    p->reuses++;
  } else {
    unlock(p);
    b = dycl_malloc(p->base, HDR + bytes);
    if (!b) return NULL;
    lock(p);
    p->base_allocs++;
  }
  if (c != CLS_DIRECT) p->live += bytes;
  p->n_live++;
  unlock(p);
  b->cls = c;
  b->next = NULL;
  return (char*)b + HDR;
}

static void pool_free(void* ctx, void* ptr) {
  if (!ptr) return;
  dycl_bufpool_t* p = ctx;
  block_t* b = (block_t*)((char*)ptr - HDR);
  unsigned c = b->cls;
  bool give_back = c == CLS_DIRECT, last = false;
  size_t bytes = give_back ? 0 : class_size(c);
  lock(p);
  p->n_live--;
  if (!give_back) {
    p->live -= bytes;
    /* cached unless the pool is closing: a block is only made when its class's cache is empty,
     * so a class never holds more blocks than were once handed out at the same time */
    if (!p->closed) {
      b->next = p->bins[c];
      p->bins[c] = b;
      p->cached += bytes;
      POISON(b, HDR + bytes);
      b = NULL;
    }
  }
  last = p->closed && p->n_live == 0;
  unlock(p);
  if (b) dycl_free(p->base, b);
  if (last) pool_destroy(p);
}

dycl_bufpool_t* dycl_bufpool_create(const dycl_allocator_t* base) {
  base = dycl_alloc_or_default(base);
  dycl_bufpool_t* p = dycl_calloc(base, 1, sizeof *p);
  if (!p) return NULL;
  atomic_flag_clear(&p->lock);
  p->base = base;
  p->iface.alloc = pool_alloc;
  p->iface.free = pool_free;
  p->iface.ctx = p;
  return p;
}

const dycl_allocator_t* dycl_bufpool_allocator(dycl_bufpool_t* pool) { return &pool->iface; }

void dycl_bufpool_stats(dycl_bufpool_t* pool, dycl_bufpool_stats_t* out) {
  lock(pool);
  out->base_allocs = pool->base_allocs;
  out->reuses = pool->reuses;
  out->cached_bytes = pool->cached;
  out->live_bytes = pool->live;
  unlock(pool);
}

void dycl_bufpool_close(dycl_bufpool_t* pool) {
  if (!pool) return;
  lock(pool);
  pool->closed = true;
  pool_free_all(pool);
  bool last = pool->n_live == 0;
  unlock(pool);
  if (last) pool_destroy(pool);
}
