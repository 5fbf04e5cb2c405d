/* Elementwise operators, part 3: Cast and CastLike.
 *
 * Semantics (those of numpy's astype, which the ONNX tests follow):
 *  - float → float (bfloat16 and float16 included) rounds once to nearest even. (onnx 1.12's
 *    test data for FLOAT → BFLOAT16 truncates instead; the results differ by at most one
 *    bfloat16 ulp, and every runtime rounds);
 *  - float → integer truncates toward zero and saturates to the target's range, NaN gives 0;
 *  - integer → integer keeps the low bits (wraps); anything → bool is x != 0;
 *  - numbers → string: integers in decimal; floats in the shortest form that reads back to the
 *    same value of their type, positional for 1e-4 <= |x| < 1e16 and scientific otherwise (numpy's
 *    str), with "NaN", "INF" and "-INF" for the special values (the ONNX spelling);
 *  - string → number: decimal or scientific text; "INF", "+INF", "-INF", "NaN" in any case. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elementwise_internal.h"
#include "ops/op.h"

/* ------------------------------------------------------ numbers → text */

/* true when the text `s` reads back to x in the precision of `dtype`. */
static bool reads_back(const char* s, double x, dycl_dtype_t dtype) {
  switch (dtype) {
    case DYCL_DTYPE_FLOAT32: return strtof(s, NULL) == (float)x;
    case DYCL_DTYPE_FLOAT16: return dycl_ew_f64_to_f16(strtod(s, NULL)) == dycl_ew_f64_to_f16(x);
    case DYCL_DTYPE_BFLOAT16: return dycl_ew_f64_to_bf16(strtod(s, NULL)) == dycl_ew_f64_to_bf16(x);
    default: return strtod(s, NULL) == x;
  }
}

static void format_float(double x, dycl_dtype_t dtype, char* out, size_t size) {
  if (isnan(x)) {
    snprintf(out, size, "NaN");
    return;
  }
  if (isinf(x)) {
    snprintf(out, size, x > 0 ? "INF" : "-INF");
    return;
  }
  if (x == 0) {
    snprintf(out, size, signbit(x) ? "-0.0" : "0.0");
    return;
  }
  /* shortest digits that read back */
  char sci[64];
  for (int p = 0; p < 17; p++) {
    snprintf(sci, sizeof sci, "%.*e", p, x);
    if (reads_back(sci, x, dtype)) break;
  }
  /* sci is "-d.ddde+XX": split into sign, digits and exponent */
  const char* s = sci;
  bool neg = *s == '-';
  if (neg) s++;
  char digits[40];
  int nd = 0;
  for (; *s && *s != 'e'; s++)
    if (isdigit((unsigned char)*s) && nd < (int)sizeof digits - 1) digits[nd++] = *s;
  int exp10 = *s == 'e' ? atoi(s + 1) : 0;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  double ax = fabs(x);
  char* o = out;
  size_t left = size;
#define PUT(...)                                      \
  do {                                                \
    int w_ = snprintf(o, left, __VA_ARGS__);          \
    if (w_ < 0 || (size_t)w_ >= left) return;        \
    o += w_;                                          \
    left -= (size_t)w_;                               \
  } while (0)
  if (neg) PUT("-");
  if (ax >= 1e-4 && ax < 1e16) {
    if (exp10 >= 0) {
      for (int i = 0; i <= exp10; i++) PUT("%c", i < nd ? digits[i] : '0');
      PUT(".");
      if (nd > exp10 + 1) PUT("%s", digits + exp10 + 1);
      else PUT("0");
    } else {
      PUT("0.");
      for (int i = 0; i < -exp10 - 1; i++) PUT("0");
      PUT("%s", digits);
    }
  } else {
    PUT("%c", digits[0]);
    if (nd > 1) PUT(".%s", digits + 1);
    PUT("e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
  }
#undef PUT
}

static dycl_status_t set_string(dycl_value_t* t, int64_t i, const char* s) {
  char** d = t->data;
  size_t n = strlen(s);
  dycl_free(t->alloc, d[i]);
  d[i] = dycl_malloc(t->alloc, n + 1);
  if (!d[i]) return dycl_error_nomem();
  memcpy(d[i], s, n + 1);
  return NULL;
}

static dycl_status_t to_string(const dycl_value_t* x, dycl_value_t* y) {
  char buf[64];
  for (int64_t i = 0; i < x->numel; i++) {
    switch (x->dtype) {
      case DYCL_DTYPE_STRING: {
        const char* s = ((char* const*)x->data)[i];
        DYCL_RETURN_IF_ERROR(set_string(y, i, s ? s : ""));
        continue;
      }
      case DYCL_DTYPE_BOOL: snprintf(buf, sizeof buf, "%s", ((const uint8_t*)x->data)[i] ? "True" : "False"); break;
      case DYCL_DTYPE_UINT64: snprintf(buf, sizeof buf, "%" PRIu64, ((const uint64_t*)x->data)[i]); break;
      case DYCL_DTYPE_FLOAT16:
      case DYCL_DTYPE_BFLOAT16:
      case DYCL_DTYPE_FLOAT32:
      case DYCL_DTYPE_FLOAT64: {
        double v;
        dycl_ew_load_f64(x, i, 0, 1, &v);
        format_float(v, x->dtype, buf, sizeof buf);
        break;
      }
      default: {
        int64_t v;
        dycl_ew_load_i64(x, i, 0, 1, &v);
        snprintf(buf, sizeof buf, "%" PRId64, v);
        break;
      }
    }
    DYCL_RETURN_IF_ERROR(set_string(y, i, buf));
  }
  return NULL;
}

/* ------------------------------------------------------ text → numbers */

static const char* skip_space(const char* s) {
  while (isspace((unsigned char)*s)) s++;
  return s;
}

static void from_string(const dycl_value_t* x, dycl_value_t* y) {
  for (int64_t i = 0; i < x->numel; i++) {
    const char* s0 = ((char* const*)x->data)[i];
    const char* s = skip_space(s0 ? s0 : "");
    double d;
    if (dycl_kernel_name_eq(s, "true")) d = 1;
    else if (dycl_kernel_name_eq(s, "false")) d = 0;
    else d = strtod(s, NULL); /* handles INF, +INF, -INF, NaN in any case */
    if (dycl_dtype_is_float(y->dtype)) {
      if (y->dtype == DYCL_DTYPE_FLOAT32) {
        bool word = dycl_kernel_name_eq(s, "true") || dycl_kernel_name_eq(s, "false");
        ((float*)y->data)[i] = word ? (float)d : strtof(s, NULL);
      } else {
        dycl_ew_store_f64(y, i, 1, &d);
      }
    } else if (y->dtype == DYCL_DTYPE_BOOL) {
      ((uint8_t*)y->data)[i] = d != 0;
    } else {
      /* integers: exact for integer text, truncation of the value otherwise */
      char* end;
      errno = 0;
      int64_t v;
      if (y->dtype == DYCL_DTYPE_UINT64 && *s != '-') {
        uint64_t u = strtoull(s, &end, 10);
        v = (int64_t)u;
      } else {
        v = strtoll(s, &end, 10);
      }
      if (end == s || errno || (*skip_space(end) && *skip_space(end) != '.')) {
        dycl_ew_store_f64(y, i, 1, &d);
        continue;
      }
      dycl_ew_store_i64(y, i, 1, &v, false);
    }
  }
}

/* ------------------------------------------------------ the kernel */

static dycl_status_t cast(const dycl_node_t* node, const dycl_value_t* x, dycl_value_t* y) {
  (void)node;
  if (y->dtype == DYCL_DTYPE_STRING) return to_string(x, y);
  if (x->dtype == DYCL_DTYPE_STRING) {
    from_string(x, y);
    return NULL;
  }
  if (x->dtype == y->dtype) {
    if (x->nbytes) memcpy(y->data, x->data, x->nbytes);
    return NULL;
  }
  int64_t n = x->numel;
  if (dycl_dtype_is_float(x->dtype)) {
    double buf[EW_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += EW_BLOCK) {
      int64_t m = n - i0 < EW_BLOCK ? n - i0 : EW_BLOCK;
      dycl_ew_load_f64(x, i0, 1, m, buf);
      dycl_ew_store_f64(y, i0, m, buf);
    }
  } else {
    int64_t buf[EW_BLOCK];
    bool u64 = x->dtype == DYCL_DTYPE_UINT64;
    for (int64_t i0 = 0; i0 < n; i0 += EW_BLOCK) {
      int64_t m = n - i0 < EW_BLOCK ? n - i0 : EW_BLOCK;
      dycl_ew_load_i64(x, i0, 1, m, buf);
      dycl_ew_store_i64(y, i0, m, buf, u64);
    }
  }
  return NULL;
}

/* The target dtype of a Cast: `to` is an int (a string before opset 6). */
static dycl_status_t cast_target(const dycl_node_t* node, dycl_dtype_t* dt) {
  const dycl_attr_t* a = dycl_node_attr(node, "to");
  if (!a) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'to'");
  int64_t to = -1;
  if (a->type == DYCL_ATTR_STRING) {
    static const struct {
      const char* name;
      dycl_dtype_t dt;
    } names[] = {{"FLOAT", DYCL_DTYPE_FLOAT32},   {"UINT8", DYCL_DTYPE_UINT8},     {"INT8", DYCL_DTYPE_INT8},
                 {"UINT16", DYCL_DTYPE_UINT16},   {"INT16", DYCL_DTYPE_INT16},     {"INT32", DYCL_DTYPE_INT32},
                 {"INT64", DYCL_DTYPE_INT64},     {"STRING", DYCL_DTYPE_STRING},   {"BOOL", DYCL_DTYPE_BOOL},
                 {"FLOAT16", DYCL_DTYPE_FLOAT16}, {"DOUBLE", DYCL_DTYPE_FLOAT64},  {"UINT32", DYCL_DTYPE_UINT32},
                 {"UINT64", DYCL_DTYPE_UINT64},   {"BFLOAT16", DYCL_DTYPE_BFLOAT16}};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
      if (a->s && dycl_kernel_name_eq(a->s, names[k].name)) to = names[k].dt;
    if (to < 0) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "unknown target type '%s'", a->s ? a->s : "");
  } else {
    to = a->i;
  }
  if (to <= 0 || to > 1000 || !dycl_dtype_is_valid((int)to))
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "cannot cast to element type %lld", (long long)to);
  *dt = (dycl_dtype_t)to;
  return NULL;
}

static dycl_status_t check_src(const dycl_node_t* node, const dycl_value_t* x) {
  if (x->dtype == DYCL_DTYPE_UNDEFINED || !dycl_dtype_is_valid(x->dtype))
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "cannot cast from element type %d", (int)x->dtype);
  return NULL;
}

dycl_status_t dycl_run_Cast(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(check_src(node, in[0]));
  dycl_dtype_t to;
  DYCL_RETURN_IF_ERROR(cast_target(node, &to));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, to, in[0]->rank, in[0]->dims, &out[0]));
  return cast(node, in[0], out[0]);
}

dycl_status_t dycl_run_CastLike(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  DYCL_RETURN_IF_ERROR(check_src(node, in[0]));
  DYCL_RETURN_IF_ERROR(check_src(node, in[1]));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, in[1]->dtype, in[0]->rank, in[0]->dims, &out[0]));
  return cast(node, in[0], out[0]);
}

static dycl_status_t set_cast_type(dycl_infer_ctx_t* ctx, const dycl_node_t* node, dycl_dtype_t to) {
  dycl_type_t u;
  DYCL_RETURN_IF_ERROR(dycl_ew_infer_input0(ctx, node, NULL, &u));
  u.dtype = to;
  return dycl_infer_set(ctx, node, 0, &u);
}

dycl_status_t dycl_infer_Cast(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_dtype_t to;
  DYCL_RETURN_IF_ERROR(dycl_ew_check_attrs(node));
  DYCL_RETURN_IF_ERROR(cast_target(node, &to));
  return set_cast_type(ctx, node, to);
}

dycl_status_t dycl_infer_CastLike(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* t = dycl_infer_in(ctx, node, 1);
  return set_cast_type(ctx, node, t && t->known ? t->dtype : DYCL_DTYPE_UNDEFINED);
}
