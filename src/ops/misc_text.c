/* Text operators: StringNormalizer and TfIdfVectorizer.
 *
 * Strings are DYCL_DTYPE_STRING tensors whose data is an array of owned, NUL-terminated char*
 * (UTF-8). Case changes cover ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic; other
 * characters are left as they are. */
#include <inttypes.h>
#include <string.h>

#include "ops/op.h"

/* ------------------------------------------------------------ UTF-8 casing */

/* Decodes one code point at s (NUL-terminated); *len gets its byte length. Invalid bytes decode
 * as themselves (cp < 0) with length 1. */
static int32_t utf8_decode(const unsigned char* s, int* len) {
  unsigned char c = s[0];
  int n;
  int32_t cp;
  if (c < 0x80) {
    *len = 1;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07;
  } else {
    *len = 1;
    return -1;
  }
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      *len = 1;
      return -1;
    }
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  *len = n;
  return cp;
}

static int utf8_encode(int32_t cp, unsigned char* out) {
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  } else if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | (cp >> 6));
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  } else if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (cp >> 12));
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (cp >> 18));
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

static int32_t cp_lower(int32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x100 && c <= 0x137 && !(c & 1)) return c + 1;
  if (c >= 0x139 && c <= 0x148 && (c & 1)) return c + 1;
  if (c >= 0x14A && c <= 0x177 && !(c & 1)) return c + 1;
  if (c == 0x178) return 0xFF;
  if (c == 0x179 || c == 0x17B || c == 0x17D) return c + 1;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

static int32_t cp_upper(int32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c >= 0x101 && c <= 0x138 && (c & 1) && c != 0x131 && c != 0x138) return c - 1;
  if (c >= 0x13A && c <= 0x149 && !(c & 1)) return c - 1;
  if (c >= 0x14B && c <= 0x178 && (c & 1) && c != 0x178) return c - 1;
  if (c == 0x17A || c == 0x17C || c == 0x17E) return c - 1;
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c == 0x3C2) return 0x3A3;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

typedef enum case_action { CASE_NONE, CASE_LOWER, CASE_UPPER } case_action_t;

/* A new string: s with its case changed (allocated with `alloc`; NULL when out of memory). */
static char* change_case(const dycl_allocator_t* alloc, const char* s, case_action_t action) {
  size_t n = strlen(s), cap = 4 * n + 1; /* worst case: every byte becomes a 4-byte sequence */
  unsigned char* out = dycl_malloc(alloc, cap);
  if (!out) return NULL;
  size_t o = 0;
  const unsigned char* p = (const unsigned char*)s;
  while (*p) {
    int len;
    int32_t cp = utf8_decode(p, &len);
    if (cp < 0 || action == CASE_NONE) {
      memcpy(out + o, p, (size_t)len);
      o += (size_t)len;
    } else {
      o += (size_t)utf8_encode(action == CASE_LOWER ? cp_lower(cp) : cp_upper(cp), out + o);
    }
    p += len;
  }
  out[o] = 0;
  return (char*)out;
}

/* ---------------------------------------------------------- StringNormalizer */

static dycl_status_t parse_case_action(const dycl_node_t* node, case_action_t* a) {
  const char* s = dycl_attr_string(node, "case_change_action", "NONE");
  if (strcmp(s, "NONE") == 0) *a = CASE_NONE;
  else if (strcmp(s, "LOWER") == 0) *a = CASE_LOWER;
  else if (strcmp(s, "UPPER") == 0) *a = CASE_UPPER;
  else
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "case_change_action must be NONE, LOWER or UPPER, not '%s'", s);
  return NULL;
}

dycl_status_t dycl_infer_StringNormalizer(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  static const dycl_dtype_t strings[] = {DYCL_DTYPE_STRING, DYCL_DTYPE_UNDEFINED};
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, strings));
  case_action_t a = CASE_NONE;
  DYCL_RETURN_IF_ERROR(parse_case_action(node, &a));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  dycl_type_t t = dycl_type_tensor(DYCL_DTYPE_STRING, -1);
  if (x && x->known && x->rank >= 0) {
    if (x->rank != 1 && x->rank != 2)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must be [C] or [1, C], not of rank %d", x->rank);
    t.rank = x->rank;
    if (x->rank == 2) t.dims[0] = dycl_dim_const(1);
    t.dims[x->rank - 1] = dycl_dim_unknown();
    /* without stop words nothing is dropped (an empty input still gives one empty string) */
    int n = 0;
    const dycl_attr_t* sw = dycl_node_attr(node, "stopwords");
    n = sw ? sw->n : 0;
    if (n == 0 && x->dims[x->rank - 1].v > 0) t.dims[x->rank - 1] = x->dims[x->rank - 1];
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_StringNormalizer(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                        dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (x->dtype != DYCL_DTYPE_STRING)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be a string tensor, not %s", dycl_dtype_name(x->dtype));
  if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be [C] or [1, C]");
  case_action_t action = CASE_NONE;
  DYCL_RETURN_IF_ERROR(parse_case_action(node, &action));
  bool sensitive = dycl_attr_int(node, "is_case_sensitive", 0) != 0;
  const dycl_attr_t* sw = dycl_node_attr(node, "stopwords");
  int n_stop = sw && sw->type == DYCL_ATTR_STRINGS ? sw->n : 0;
  const dycl_allocator_t* alloc = dycl_alloc_or_default(ctx->alloc);
  dycl_status_t st = NULL;
  char** stop = NULL; /* lowercased stop words when matching ignores case */
  uint8_t* keep = NULL;
  const int64_t C = x->numel;
  char* const* xs = x->data;
  keep = dycl_calloc(alloc, (size_t)(C ? C : 1), 1);
  if (!keep) return dycl_error_nomem();
  if (n_stop && !sensitive) {
    stop = dycl_calloc(alloc, (size_t)n_stop, sizeof *stop);
    if (!stop) {
      st = dycl_error_nomem();
      goto done;
    }
    for (int i = 0; i < n_stop; i++) {
      stop[i] = change_case(alloc, sw->strings[i] ? sw->strings[i] : "", CASE_LOWER);
      if (!stop[i]) {
        st = dycl_error_nomem();
        goto done;
      }
    }
  }
  int64_t kept = 0;
  for (int64_t i = 0; i < C; i++) {
    const char* s = xs[i] ? xs[i] : "";
    bool drop = false;
    if (n_stop) {
      char* low = NULL;
      if (!sensitive) {
        low = change_case(alloc, s, CASE_LOWER);
        if (!low) {
          st = dycl_error_nomem();
          goto done;
        }
      }
      for (int k = 0; k < n_stop && !drop; k++)
        drop = sensitive ? strcmp(s, sw->strings[k] ? sw->strings[k] : "") == 0 : strcmp(low, stop[k]) == 0;
      dycl_free(alloc, low);
    }
    keep[i] = !drop;
    kept += !drop;
  }
  int64_t dims[2] = {1, kept ? kept : 1};
  if (x->rank == 1) dims[0] = kept ? kept : 1;
  DYCL_GOTO_IF_ERROR(st, dycl_kernel_tensor(ctx, node, DYCL_DTYPE_STRING, x->rank, dims, &out[0]), done);
  char** ys = out[0]->data;
  if (!kept) {
    ys[0] = change_case(out[0]->alloc, "", CASE_NONE);
    if (!ys[0]) st = dycl_error_nomem();
    goto done;
  }
  for (int64_t i = 0, k = 0; i < C; i++) {
    if (!keep[i]) continue;
    ys[k] = change_case(out[0]->alloc, xs[i] ? xs[i] : "", action);
    if (!ys[k]) {
      st = dycl_error_nomem();
      goto done;
    }
    k++;
  }
done:
  if (stop)
    for (int i = 0; i < n_stop; i++) dycl_free(alloc, stop[i]);
  dycl_free(alloc, stop);
  dycl_free(alloc, keep);
  return st;
}

/* ----------------------------------------------------------- TfIdfVectorizer */

typedef enum tfidf_mode { MODE_TF, MODE_IDF, MODE_TFIDF } tfidf_mode_t;

/* The n-gram pool, parsed from the attributes. */
typedef struct tfidf {
  tfidf_mode_t mode;
  int64_t min_n, max_n, max_skip;
  bool strings;
  const int64_t* pool_i;
  const char* const* pool_s;
  int64_t pool_len;
  int64_t n_grams;        /* number of n-grams in the pool */
  int64_t* gram_start;    /* per n-gram: offset in the pool */
  int64_t* gram_len;      /* per n-gram: its n */
  const int64_t* indexes; /* per n-gram: output coordinate */
  const float* weights;   /* per n-gram, or NULL */
  int64_t out_dim;
  /* hash table over the n-grams: slot -> n-gram index + 1 (0: empty) */
  int64_t* table;
  uint64_t mask;
} tfidf_t;

static dycl_status_t tfidf_parse(const dycl_node_t* node, tfidf_t* t, int64_t* counts_n_out) {
  memset(t, 0, sizeof *t);
  const char* mode = dycl_attr_string(node, "mode", NULL);
  if (!mode) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'mode' is required");
  if (strcmp(mode, "TF") == 0) t->mode = MODE_TF;
  else if (strcmp(mode, "IDF") == 0) t->mode = MODE_IDF;
  else if (strcmp(mode, "TFIDF") == 0) t->mode = MODE_TFIDF;
  else return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "mode must be TF, IDF or TFIDF, not '%s'", mode);
  t->min_n = dycl_attr_int(node, "min_gram_length", 0);
  t->max_n = dycl_attr_int(node, "max_gram_length", 0);
  t->max_skip = dycl_attr_int(node, "max_skip_count", 0);
  if (t->min_n < 1 || t->max_n < t->min_n)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                           "need 1 <= min_gram_length <= max_gram_length (got %" PRId64 " and %" PRId64 ")", t->min_n,
                           t->max_n);
  if (t->max_skip < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "max_skip_count must not be negative");
  const dycl_attr_t* ps = dycl_node_attr(node, "pool_strings");
  const dycl_attr_t* pi = dycl_node_attr(node, "pool_int64s");
  if (ps && pi) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "only one of pool_strings and pool_int64s may be set");
  if (ps && ps->type == DYCL_ATTR_STRINGS) {
    t->strings = true;
    t->pool_s = ps->strings;
    t->pool_len = ps->n;
  } else if (pi) {
    int n = 0;
    t->pool_i = dycl_attr_ints(node, "pool_int64s", &n);
    t->pool_len = n;
  } else {
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "one of pool_strings and pool_int64s is required");
  }
  int n_counts = 0, n_idx = 0, n_w = 0;
  const int64_t* counts = dycl_attr_ints(node, "ngram_counts", &n_counts);
  t->indexes = dycl_attr_ints(node, "ngram_indexes", &n_idx);
  t->weights = dycl_attr_floats(node, "weights", &n_w);
  /* count the n-grams of each level */
  int64_t total = 0;
  for (int k = 0; k < n_counts; k++) {
    int64_t start = counts[k], end = k + 1 < n_counts ? counts[k + 1] : t->pool_len;
    if (start < 0 || end < start || end > t->pool_len || (end - start) % (k + 1))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                             "ngram_counts puts the %d-grams at [%" PRId64 ", %" PRId64 "), which does not fit a pool of %" PRId64
                             " items in whole %d-grams",
                             k + 1, start, end, t->pool_len, k + 1);
    total += (end - start) / (k + 1);
  }
  if (n_counts == 0 && t->pool_len > 0)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "ngram_counts is required");
  if (n_idx != total)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "ngram_indexes has %d entries but the pool holds %" PRId64 " n-grams",
                           n_idx, total);
  if (t->weights && n_w != n_idx)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "weights has %d entries, expected %d", n_w, n_idx);
  int64_t mx = -1;
  for (int i = 0; i < n_idx; i++) {
    if (t->indexes[i] < 0 || t->indexes[i] >= ((int64_t)1 << 40))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "ngram_indexes[%d] = %" PRId64 " is out of range", i,
                             t->indexes[i]);
    if (t->indexes[i] > mx) mx = t->indexes[i];
  }
  t->out_dim = mx + 1;
  t->n_grams = total;
  *counts_n_out = n_counts;
  return NULL;
}

static uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

/* Hash of n items read through `at` (pool or input), with stride `stride`. */
static uint64_t gram_hash_i(const int64_t* v, int64_t stride, int64_t n) {
  uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull;
  for (int64_t k = 0; k < n; k++) h = mix64(h ^ (uint64_t)v[k * stride]);
  return h;
}
static uint64_t gram_hash_s(const char* const* v, int64_t stride, int64_t n) {
  uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull;
  for (int64_t k = 0; k < n; k++) h = mix64(h ^ dycl_hash_str(v[k * stride] ? v[k * stride] : ""));
  return h;
}

static void tfidf_free(dycl_kctx_t* ctx, tfidf_t* t) {
  dycl_free(ctx->alloc, t->gram_start);
  dycl_free(ctx->alloc, t->gram_len);
  dycl_free(ctx->alloc, t->table);
}

/* Builds the per-n-gram arrays and the hash table. */
static dycl_status_t tfidf_build(dycl_kctx_t* ctx, const dycl_node_t* node, tfidf_t* t, int64_t n_counts) {
  int n_c = 0;
  const int64_t* counts = dycl_attr_ints(node, "ngram_counts", &n_c);
  size_t cap = 16;
  while (cap < (size_t)t->n_grams * 2 + 1) cap <<= 1;
  t->gram_start = dycl_calloc(ctx->alloc, (size_t)(t->n_grams ? t->n_grams : 1), sizeof(int64_t));
  t->gram_len = dycl_calloc(ctx->alloc, (size_t)(t->n_grams ? t->n_grams : 1), sizeof(int64_t));
  t->table = dycl_calloc(ctx->alloc, cap, sizeof(int64_t));
  if (!t->gram_start || !t->gram_len || !t->table) return dycl_node_error(node, DYCL_CODE_NO_MEMORY, "out of memory");
  t->mask = cap - 1;
  int64_t g = 0;
  for (int64_t k = 0; k < n_counts; k++) {
    int64_t n = k + 1, start = counts[k], end = k + 1 < n_counts ? counts[k + 1] : t->pool_len;
    for (int64_t p = start; p + n <= end; p += n, g++) {
      t->gram_start[g] = p;
      t->gram_len[g] = n;
      uint64_t h = t->strings ? gram_hash_s(t->pool_s + p, 1, n) : gram_hash_i(t->pool_i + p, 1, n);
      for (uint64_t s = h & t->mask;; s = (s + 1) & t->mask) {
        if (!t->table[s]) {
          t->table[s] = g + 1;
          break;
        }
        /* a duplicate n-gram keeps its first entry */
        int64_t o = t->table[s] - 1;
        if (t->gram_len[o] != n) continue;
        bool same = true;
        for (int64_t q = 0; q < n && same; q++)
          same = t->strings ? strcmp(t->pool_s[t->gram_start[o] + q] ? t->pool_s[t->gram_start[o] + q] : "",
                                     t->pool_s[p + q] ? t->pool_s[p + q] : "") == 0
                            : t->pool_i[t->gram_start[o] + q] == t->pool_i[p + q];
        if (same) break;
      }
    }
  }
  return NULL;
}

/* Looks up the n-gram of n items starting at x[0] with the given stride; -1 when absent. */
static int64_t tfidf_find(const tfidf_t* t, const int64_t* xi, const char* const* xs, int64_t stride, int64_t n) {
  uint64_t h = t->strings ? gram_hash_s(xs, stride, n) : gram_hash_i(xi, stride, n);
  for (uint64_t s = h & t->mask;; s = (s + 1) & t->mask) {
    int64_t e = t->table[s];
    if (!e) return -1;
    int64_t g = e - 1;
    if (t->gram_len[g] != n) continue;
    bool same = true;
    for (int64_t q = 0; q < n && same; q++) {
      int64_t p = t->gram_start[g] + q;
      if (t->strings) {
        const char* a = t->pool_s[p] ? t->pool_s[p] : "";
        const char* b = xs[q * stride] ? xs[q * stride] : "";
        same = strcmp(a, b) == 0;
      } else {
        same = t->pool_i[p] == xi[q * stride];
      }
    }
    if (same) return g;
  }
}

dycl_status_t dycl_infer_TfIdfVectorizer(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  static const dycl_dtype_t types[] = {DYCL_DTYPE_STRING, DYCL_DTYPE_INT32, DYCL_DTYPE_INT64, DYCL_DTYPE_UNDEFINED};
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, types));
  tfidf_t t;
  int64_t n_counts = 0;
  DYCL_RETURN_IF_ERROR(tfidf_parse(node, &t, &n_counts));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  if (x && x->known && x->dtype) {
    if (t.strings != (x->dtype == DYCL_DTYPE_STRING))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "a %s pool needs a %s input, not %s",
                             t.strings ? "string" : "int64", t.strings ? "string" : "integer", dycl_dtype_name(x->dtype));
  }
  dycl_type_t o = dycl_type_tensor(DYCL_DTYPE_FLOAT32, -1);
  if (x && x->known && x->rank >= 0) {
    if (x->rank != 1 && x->rank != 2)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must be [C] or [N, C], not of rank %d", x->rank);
    o.rank = x->rank;
    if (x->rank == 2) o.dims[0] = x->dims[0];
    o.dims[x->rank - 1] = dycl_dim_const(t.out_dim);
  }
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_TfIdfVectorizer(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                       dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  tfidf_t t;
  int64_t n_counts = 0;
  DYCL_RETURN_IF_ERROR(tfidf_parse(node, &t, &n_counts));
  if (t.strings ? x->dtype != DYCL_DTYPE_STRING : !(x->dtype == DYCL_DTYPE_INT32 || x->dtype == DYCL_DTYPE_INT64))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "a %s pool needs a %s input, not %s", t.strings ? "string" : "int64",
                           t.strings ? "string" : "int32/int64", dycl_dtype_name(x->dtype));
  if (x->rank != 1 && x->rank != 2)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be [C] or [N, C], not of rank %d", x->rank);
  const int64_t rows = x->rank == 2 ? x->dims[0] : 1, C = x->dims[x->rank - 1];
  int64_t dims[2] = {rows, t.out_dim};
  if (x->rank == 1) dims[0] = t.out_dim;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_FLOAT32, x->rank, dims, &out[0]));
  float* y = out[0]->data;
  memset(y, 0, out[0]->nbytes);
  dycl_status_t st = tfidf_build(ctx, node, &t, n_counts);
  if (st) {
    tfidf_free(ctx, &t);
    return st;
  }
  /* integer input as int64 */
  int64_t* xi = NULL;
  if (!t.strings) {
    xi = dycl_calloc(ctx->alloc, (size_t)(x->numel ? x->numel : 1), sizeof(int64_t));
    if (!xi) {
      tfidf_free(ctx, &t);
      return dycl_node_error(node, DYCL_CODE_NO_MEMORY, "out of memory");
    }
    for (int64_t i = 0; i < x->numel; i++) xi[i] = dycl_tensor_get_i64(x, i);
  }
  const char* const* xs = t.strings ? (const char* const*)x->data : NULL;
  int64_t* count = dycl_calloc(ctx->alloc, (size_t)(t.n_grams ? t.n_grams : 1), sizeof(int64_t));
  if (!count) {
    dycl_free(ctx->alloc, xi);
    tfidf_free(ctx, &t);
    return dycl_node_error(node, DYCL_CODE_NO_MEMORY, "out of memory");
  }
  for (int64_t r = 0; r < rows; r++) {
    memset(count, 0, (size_t)(t.n_grams ? t.n_grams : 1) * sizeof(int64_t));
    for (int64_t i = 0; i < C; i++) {
      for (int64_t n = t.min_n; n <= t.max_n && n <= C; n++) {
        /* unigrams are counted once per position; longer n-grams once per skip */
        int64_t skips = n == 1 ? 0 : t.max_skip;
        for (int64_t s = 0; s <= skips; s++) {
          int64_t stride = s + 1;
          if (i + (n - 1) * stride >= C) break;
          int64_t g = t.strings ? tfidf_find(&t, NULL, xs + r * C + i, stride, n)
                                : tfidf_find(&t, xi + r * C + i, NULL, stride, n);
          if (g >= 0) count[g]++;
        }
      }
    }
    float* yr = y + r * t.out_dim;
    for (int64_t g = 0; g < t.n_grams; g++) {
      if (!count[g]) continue;
      float w = t.weights ? t.weights[g] : 1.0f;
      float v = t.mode == MODE_TF ? (float)count[g] : t.mode == MODE_IDF ? w : (float)count[g] * w;
      yr[t.indexes[g]] += v;
    }
  }
  dycl_free(ctx->alloc, count);
  dycl_free(ctx->alloc, xi);
  tfidf_free(ctx, &t);
  return NULL;
}
