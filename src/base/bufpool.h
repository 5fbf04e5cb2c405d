/* A session's buffer pool: an allocator that keeps the blocks freed to it and hands them out
 * again, so that a run whose tensor shapes are only known at run time (a sequence that grows, a
 * batch of experts, a decoder's step) allocates nothing from the underlying allocator once the
 * session has run on inputs of that size: the steady state of a run makes no allocation.
 *
 * Blocks are cached by size class (four classes per power of two: at most 25% slack), each with a
 * 16-byte header (so that blocks keep malloc's 16-byte alignment; dycl aligns what needs more
 * itself). A block is made only when its class's cache is empty, so a class never holds more
 * blocks, cached and handed out, than were once handed out at the same time: the pool keeps at
 * most what the session's runs once needed of each class. Blocks over 1 GiB are never cached. The statically planned intermediates do not come from here (backend/mem_plan.h): the
 * pool serves what the planner cannot place, the host's values and the outputs.
 *
 * Ownership: the session creates the pool and closes it when it is destroyed; closing frees the
 * cached blocks, and the pool itself is freed once the last block handed out comes back (a
 * model's outputs may outlive the session that made them, and keep its allocator alive until then).
 * Thread-safe: a block may be freed on any thread (outputs released while the session runs again).
 * Under AddressSanitizer a cached block is poisoned, so a use after free is still reported. */
#ifndef DYCL_BASE_BUFPOOL_H
#define DYCL_BASE_BUFPOOL_H

#include <stdint.h>

#include "dycl/dycl.h"

typedef struct dycl_bufpool dycl_bufpool_t;

typedef struct dycl_bufpool_stats {
  uint64_t base_allocs;  /* blocks taken from the underlying allocator */
  uint64_t reuses;       /* allocations served from the cache */
  uint64_t cached_bytes; /* bytes held in the cache now */
  uint64_t live_bytes;   /* bytes handed out and not yet returned */
} dycl_bufpool_stats_t;

/* NULL when out of memory. `base` (NULL: malloc) must outlive the pool. */
dycl_bufpool_t* dycl_bufpool_create(const dycl_allocator_t* base);
/* The pool as an allocator; valid until the pool is freed (see above). */
const dycl_allocator_t* dycl_bufpool_allocator(dycl_bufpool_t* pool);
void dycl_bufpool_stats(dycl_bufpool_t* pool, dycl_bufpool_stats_t* out);
/* Frees the cache; the pool goes when its last outstanding block is freed (at once if none). */
void dycl_bufpool_close(dycl_bufpool_t* pool);

#endif
