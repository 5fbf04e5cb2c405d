#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ status */

struct dycl_status {
  dycl_code_t code;
  bool is_static;
  char message[];
};

/* The one status that needs no allocation; it is never written. */
static const struct {
  dycl_code_t code;
  bool is_static;
  char message[32];
} nomem_status = {DYCL_CODE_NO_MEMORY, true, "out of memory"};

dycl_status_t dycl_error_nomem(void) { return (dycl_status_t)(void*)&nomem_status; }

dycl_status_t dycl_errorv(dycl_code_t code, const char* fmt, va_list ap) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) n = 0;
  size_t len = strlen(buf);
  /* one line: newlines in messages (from names in a model) become spaces */
  for (size_t i = 0; i < len; i++)
    if (buf[i] == '\n' || buf[i] == '\r') buf[i] = ' ';
  struct dycl_status* s = malloc(sizeof *s + len + 1);
  if (!s) return dycl_error_nomem();
  s->code = code;
  s->is_static = false;
  memcpy(s->message, buf, len + 1);
  return s;
}

dycl_status_t dycl_error(dycl_code_t code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dycl_status_t s = dycl_errorv(code, fmt, ap);
  va_end(ap);
  return s;
}

dycl_status_t dycl_status_create(dycl_code_t code, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dycl_status_t s = dycl_errorv(code, fmt, ap);
  va_end(ap);
  return s;
}

dycl_status_t dycl_error_wrap(dycl_status_t inner, const char* fmt, ...) {
  char prefix[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  dycl_status_t s = dycl_error(inner->code, "%s: %s", prefix, inner->message);
  dycl_status_free(inner);
  return s;
}

dycl_code_t dycl_status_code(const struct dycl_status* s) { return s ? s->code : DYCL_CODE_OK; }
const char* dycl_status_message(const struct dycl_status* s) { return s ? s->message : "ok"; }
void dycl_status_free(dycl_status_t s) {
  if (s && !s->is_static) free(s);
}

const char* dycl_code_name(dycl_code_t code) {
  switch (code) {
    case DYCL_CODE_OK: return "ok";
    case DYCL_CODE_INVALID_MODEL: return "invalid model";
    case DYCL_CODE_INVALID_INPUT: return "invalid input";
    case DYCL_CODE_UNSUPPORTED: return "unsupported";
    case DYCL_CODE_IO: return "i/o error";
    case DYCL_CODE_NO_MEMORY: return "out of memory";
    case DYCL_CODE_LIMIT: return "limit exceeded";
    case DYCL_CODE_RUNTIME: return "runtime error";
    case DYCL_CODE_INTERNAL: return "internal error";
  }
  return "unknown";
}

/* -------------------------------------------------------------- allocation */

static void* default_alloc(void* ctx, size_t size) {
  (void)ctx;
  return malloc(size ? size : 1);
}
static void default_free(void* ctx, void* ptr) {
  (void)ctx;
  free(ptr);
}
static const dycl_allocator_t default_allocator = {default_alloc, default_free, NULL};

const dycl_allocator_t* dycl_allocator_default(void) { return &default_allocator; }

void* dycl_malloc(const dycl_allocator_t* a, size_t size) {
  a = dycl_alloc_or_default(a);
  return a->alloc(a->ctx, size);
}

void* dycl_calloc(const dycl_allocator_t* a, size_t n, size_t size) {
  size_t total;
  if (!dycl_mul_size(n, size, &total)) return NULL;
  void* p = dycl_malloc(a, total);
  if (p) memset(p, 0, total);
  return p;
}

void dycl_free(const dycl_allocator_t* a, void* ptr) {
  if (!ptr) return;
  a = dycl_alloc_or_default(a);
  a->free(a->ctx, ptr);
}

dycl_status_t dycl_grow(const dycl_allocator_t* a, void** ptr, size_t elem, int64_t* cap, int64_t need) {
  if (need <= *cap) return NULL;
  int64_t ncap = *cap ? *cap : 8;
  while (ncap < need) {
    if (ncap > INT64_MAX / 2) return dycl_error_nomem();
    ncap *= 2;
  }
  size_t bytes;
  if (!dycl_mul_size((size_t)ncap, elem, &bytes)) return dycl_error_nomem();
  void* p = dycl_malloc(a, bytes);
  if (!p) return dycl_error_nomem();
  if (*ptr) memcpy(p, *ptr, (size_t)*cap * elem);
  memset((char*)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
  dycl_free(a, *ptr);
  *ptr = p;
  *cap = ncap;
  return NULL;
}

/* ---------------------------------------------------------------- arena */

struct dycl_arena_block {
  dycl_arena_block_t* next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
};

void dycl_arena_init(dycl_arena_t* arena, const dycl_allocator_t* alloc) {
  arena->alloc = dycl_alloc_or_default(alloc);
  arena->head = NULL;
  arena->used_total = 0;
}

void dycl_arena_destroy(dycl_arena_t* arena) {
  dycl_arena_block_t* b = arena->head;
  while (b) {
    dycl_arena_block_t* n = b->next;
    dycl_free(arena->alloc, b);
    b = n;
  }
  arena->head = NULL;
}

void* dycl_arena_alloc(dycl_arena_t* arena, size_t size) {
  size_t need = (size + 15) & ~(size_t)15;
  if (need < size) return NULL;
  dycl_arena_block_t* b = arena->head;
  if (!b || b->size - b->used < need) {
    size_t bsize = need > 65536 ? need : 65536;
    if (bsize > SIZE_MAX - sizeof *b) return NULL;
    b = dycl_malloc(arena->alloc, sizeof *b + bsize);
    if (!b) return NULL;
    b->size = bsize;
    b->used = 0;
    b->next = arena->head;
    arena->head = b;
  }
  void* p = b->data + b->used;
  b->used += need;
  arena->used_total += need;
  memset(p, 0, size);
  return p;
}

void* dycl_arena_calloc(dycl_arena_t* arena, size_t n, size_t size) {
  size_t total;
  if (!dycl_mul_size(n, size, &total)) return NULL;
  return dycl_arena_alloc(arena, total);
}

char* dycl_arena_strndup(dycl_arena_t* arena, const char* s, size_t n) {
  char* p = dycl_arena_alloc(arena, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n); /* protobuf-c leaves an empty bytes field's data NULL */
  p[n] = 0;
  return p;
}

char* dycl_arena_strdup(dycl_arena_t* arena, const char* s) {
  return dycl_arena_strndup(arena, s ? s : "", s ? strlen(s) : 0);
}

char* dycl_arena_printf(dycl_arena_t* arena, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return dycl_arena_strdup(arena, buf);
}

/* ------------------------------------------------------------------ hashing */

uint64_t dycl_hash_str(const char* s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

void dycl_strmap_init(dycl_strmap_t* m, const dycl_allocator_t* alloc) {
  memset(m, 0, sizeof *m);
  m->alloc = dycl_alloc_or_default(alloc);
}

void dycl_strmap_destroy(dycl_strmap_t* m) {
  dycl_free(m->alloc, m->keys);
  dycl_free(m->alloc, m->vals);
  m->keys = NULL;
  m->vals = NULL;
  m->cap = m->len = 0;
}

static void strmap_insert(const char** keys, int* vals, int64_t cap, const char* key, int val) {
  uint64_t i = dycl_hash_str(key) & (uint64_t)(cap - 1);
  while (keys[i] && strcmp(keys[i], key) != 0) i = (i + 1) & (uint64_t)(cap - 1);
  keys[i] = key;
  vals[i] = val;
}

dycl_status_t dycl_strmap_put(dycl_strmap_t* m, const char* key, int val) {
  if ((m->len + 1) * 2 > m->cap) {
    int64_t ncap = m->cap ? m->cap * 2 : 16;
    const char** nk = dycl_calloc(m->alloc, (size_t)ncap, sizeof *nk);
    int* nv = dycl_calloc(m->alloc, (size_t)ncap, sizeof *nv);
    if (!nk || !nv) {
      dycl_free(m->alloc, nk);
      dycl_free(m->alloc, nv);
      return dycl_error_nomem();
    }
    for (int64_t i = 0; i < m->cap; i++)
      if (m->keys[i]) strmap_insert(nk, nv, ncap, m->keys[i], m->vals[i]);
    dycl_free(m->alloc, m->keys);
    dycl_free(m->alloc, m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
  }
  int dummy;
  if (!dycl_strmap_get(m, key, &dummy)) m->len++;
  strmap_insert(m->keys, m->vals, m->cap, key, val);
  return NULL;
}

bool dycl_strmap_get(const dycl_strmap_t* m, const char* key, int* val) {
  if (!m->cap) return false;
  uint64_t i = dycl_hash_str(key) & (uint64_t)(m->cap - 1);
  while (m->keys[i]) {
    if (strcmp(m->keys[i], key) == 0) {
      *val = m->vals[i];
      return true;
    }
    i = (i + 1) & (uint64_t)(m->cap - 1);
  }
  return false;
}

/* ------------------------------------------------------------------ dtypes */

const char* dycl_dtype_name(dycl_dtype_t t) {
  switch (t) {
    case DYCL_DTYPE_FLOAT32: return "float32";
    case DYCL_DTYPE_UINT8: return "uint8";
    case DYCL_DTYPE_INT8: return "int8";
    case DYCL_DTYPE_UINT16: return "uint16";
    case DYCL_DTYPE_INT16: return "int16";
    case DYCL_DTYPE_INT32: return "int32";
    case DYCL_DTYPE_INT64: return "int64";
    case DYCL_DTYPE_STRING: return "string";
    case DYCL_DTYPE_BOOL: return "bool";
    case DYCL_DTYPE_FLOAT16: return "float16";
    case DYCL_DTYPE_FLOAT64: return "float64";
    case DYCL_DTYPE_UINT32: return "uint32";
    case DYCL_DTYPE_UINT64: return "uint64";
    case DYCL_DTYPE_BFLOAT16: return "bfloat16";
    case DYCL_DTYPE_UNDEFINED: return "undefined";
  }
  return "invalid";
}

size_t dycl_dtype_size(dycl_dtype_t t) {
  switch (t) {
    case DYCL_DTYPE_FLOAT32: case DYCL_DTYPE_INT32: case DYCL_DTYPE_UINT32: return 4;
    case DYCL_DTYPE_UINT8: case DYCL_DTYPE_INT8: case DYCL_DTYPE_BOOL: return 1;
    case DYCL_DTYPE_UINT16: case DYCL_DTYPE_INT16: case DYCL_DTYPE_FLOAT16: case DYCL_DTYPE_BFLOAT16: return 2;
    case DYCL_DTYPE_INT64: case DYCL_DTYPE_FLOAT64: case DYCL_DTYPE_UINT64: return 8;
    case DYCL_DTYPE_STRING: return sizeof(char*);
    case DYCL_DTYPE_UNDEFINED: return 0;
  }
  return 0;
}

bool dycl_dtype_is_valid(int t) {
  return (t >= 1 && t <= 13) || t == 16;
}
bool dycl_dtype_is_float(dycl_dtype_t t) {
  return t == DYCL_DTYPE_FLOAT32 || t == DYCL_DTYPE_FLOAT64 || t == DYCL_DTYPE_FLOAT16 ||
         t == DYCL_DTYPE_BFLOAT16;
}
bool dycl_dtype_is_int(dycl_dtype_t t) {
  switch (t) {
    case DYCL_DTYPE_UINT8: case DYCL_DTYPE_INT8: case DYCL_DTYPE_UINT16: case DYCL_DTYPE_INT16:
    case DYCL_DTYPE_INT32: case DYCL_DTYPE_INT64: case DYCL_DTYPE_UINT32: case DYCL_DTYPE_UINT64:
      return true;
    default: return false;
  }
}
bool dycl_dtype_is_signed(dycl_dtype_t t) {
  return t == DYCL_DTYPE_INT8 || t == DYCL_DTYPE_INT16 || t == DYCL_DTYPE_INT32 ||
         t == DYCL_DTYPE_INT64 || dycl_dtype_is_float(t);
}

float dycl_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal */
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      man &= 0x3ff;
      bits = sign | (exp << 23) | (man << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t dycl_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = (int32_t)((x >> 23) & 0xff);
  uint32_t man = x & 0x7fffff;
  if (exp == 255) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  int32_t e = exp - 127 + 15;
  if (e >= 31) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    man |= 0x800000;
    uint32_t shift = (uint32_t)(14 - e);
    uint32_t half = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
  uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into the exponent: fine */
  return (uint16_t)half;
}

float dycl_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

uint16_t dycl_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
  uint32_t rounding = 0x7fff + ((x >> 16) & 1);
  return (uint16_t)((x + rounding) >> 16);
}

int64_t dycl_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
