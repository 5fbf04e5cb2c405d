/* Base utilities: status construction, allocation, arenas, checked arithmetic, hashing.
 * Depends on nothing but libc. */
#ifndef DYCL_BASE_BASE_H
#define DYCL_BASE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dycl/dycl.h"

#if defined(__GNUC__)
#define DYCL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define DYCL_UNUSED __attribute__((unused))
#else
#define DYCL_PRINTF(a, b)
#define DYCL_UNUSED
#endif

/* ------------------------------------------------------------------ status */

dycl_status_t dycl_error(dycl_code_t code, const char* fmt, ...) DYCL_PRINTF(2, 3);
dycl_status_t dycl_errorv(dycl_code_t code, const char* fmt, va_list ap);
/* A new status with `prefix: ` put before the message of `inner` (which is consumed). */
dycl_status_t dycl_error_wrap(dycl_status_t inner, const char* fmt, ...) DYCL_PRINTF(2, 3);
dycl_status_t dycl_error_nomem(void);

#define DYCL_RETURN_IF_ERROR(expr)     \
  do {                                 \
    dycl_status_t dycl_s_ = (expr);    \
    if (dycl_s_) return dycl_s_;       \
  } while (0)

/* Assigns to `status` and jumps to `label` on error. */
#define DYCL_GOTO_IF_ERROR(status, expr, label) \
  do {                                          \
    (status) = (expr);                          \
    if (status) goto label;                     \
  } while (0)

/* -------------------------------------------------------------- allocation */

const dycl_allocator_t* dycl_allocator_default(void);
static inline const dycl_allocator_t* dycl_alloc_or_default(const dycl_allocator_t* a) {
  return a ? a : dycl_allocator_default();
}
void* dycl_malloc(const dycl_allocator_t* a, size_t size);
void* dycl_calloc(const dycl_allocator_t* a, size_t n, size_t size); /* overflow-checked */
void dycl_free(const dycl_allocator_t* a, void* ptr);
/* Grows an array of `*cap` elements of `elem` bytes to hold at least `need`; keeps contents. */
dycl_status_t dycl_grow(const dycl_allocator_t* a, void** ptr, size_t elem, int64_t* cap, int64_t need);

/* ---------------------------------------------------------------- arena */

/* A bump allocator for compiler data: everything is freed at once by dycl_arena_destroy. */
typedef struct dycl_arena_block dycl_arena_block_t;
typedef struct dycl_arena {
  const dycl_allocator_t* alloc;
  dycl_arena_block_t* head;
  size_t used_total;
} dycl_arena_t;

void dycl_arena_init(dycl_arena_t* arena, const dycl_allocator_t* alloc);
void dycl_arena_destroy(dycl_arena_t* arena);
/* Zero-filled, 16-byte aligned; NULL on failure. */
void* dycl_arena_alloc(dycl_arena_t* arena, size_t size);
void* dycl_arena_calloc(dycl_arena_t* arena, size_t n, size_t size);
char* dycl_arena_strdup(dycl_arena_t* arena, const char* s);
char* dycl_arena_strndup(dycl_arena_t* arena, const char* s, size_t n);
char* dycl_arena_printf(dycl_arena_t* arena, const char* fmt, ...) DYCL_PRINTF(2, 3);

/* -------------------------------------------------------- checked arithmetic */

/* Return false on overflow. */
static inline bool dycl_mul_i64(int64_t a, int64_t b, int64_t* r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool dycl_add_i64(int64_t a, int64_t b, int64_t* r) { return !__builtin_add_overflow(a, b, r); }
static inline bool dycl_mul_size(size_t a, size_t b, size_t* r) { return !__builtin_mul_overflow(a, b, r); }

/* ------------------------------------------------------------------ hashing */

uint64_t dycl_hash_str(const char* s);

/* CLOCK_MONOTONIC time in nanoseconds. */
int64_t dycl_mono_ns(void);

/* A string → int map (open addressing). Keys are borrowed: they must outlive the map. */
typedef struct dycl_strmap {
  const dycl_allocator_t* alloc;
  const char** keys;
  int* vals;
  int64_t cap, len;
} dycl_strmap_t;

void dycl_strmap_init(dycl_strmap_t* m, const dycl_allocator_t* alloc);
void dycl_strmap_destroy(dycl_strmap_t* m);
dycl_status_t dycl_strmap_put(dycl_strmap_t* m, const char* key, int val);
/* Returns false when absent. */
bool dycl_strmap_get(const dycl_strmap_t* m, const char* key, int* val);

/* ------------------------------------------------------------------ dtypes */

bool dycl_dtype_is_float(dycl_dtype_t t); /* float16/bfloat16/float32/float64 */
bool dycl_dtype_is_int(dycl_dtype_t t);   /* signed or unsigned integers, not bool */
bool dycl_dtype_is_signed(dycl_dtype_t t);
bool dycl_dtype_is_valid(int t);          /* a dtype dycl can hold */

float dycl_f16_to_f32(uint16_t h);
uint16_t dycl_f32_to_f16(float f);
float dycl_bf16_to_f32(uint16_t h);
uint16_t dycl_f32_to_bf16(float f);

#endif
