/* Elementwise operators, part 1: the helpers shared by the elementwise, reduce and quant families
 * (dycl_ew_*, declared in ops/elementwise_internal.h), unary math and activations, IsNaN/IsInf/Not
 * and Clip.
 *
 * Kernels work on blocks of EW_BLOCK elements: a block is loaded into a double (floating types)
 * or int64 (integer and bool types) buffer with one switch on the dtype, computed with one switch
 * on the operator, and stored back. float16/bfloat16 are computed through double and rounded
 * once (nearest even) when stored. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/elementwise_internal.h"
#include "ops/op.h"

/* ------------------------------------------------------ shared helpers */

/* Rounds a double to a 16-bit binary float with one rounding (nearest even), from the bits.
 * `mbits`: stored mantissa bits (half 10, bfloat16 7); `bias`: exponent bias (15, 127);
 * `emax`: the all-ones exponent (31, 255); `qnan`: the quiet NaN bits. */
static inline uint16_t f64_to_small_float(double x, int mbits, int bias, int emax, uint16_t qnan) {
  uint64_t b;
  memcpy(&b, &x, 8);
  uint16_t sign = (uint16_t)((b >> 48) & 0x8000);
  int exp = (int)((b >> 52) & 0x7ff);
  uint64_t man = b & 0xFFFFFFFFFFFFFull;
  uint16_t inf = (uint16_t)(emax << mbits);
  if (exp == 0x7ff) return (uint16_t)(sign | (man ? qnan : inf));
  int e = exp - 1023 + bias;
  if (e >= emax) return (uint16_t)(sign | inf);
  int drop = 52 - mbits; /* mantissa bits dropped for a normal result */
  uint64_t q, rem, mid;
  if (e <= 0) { /* subnormal result: units of 2^(1 - bias - mbits) */
    int shift = drop + 1 - e;
    if (shift > 53 || exp == 0) return sign;
    man |= 1ull << 52;
    q = man >> shift;
    rem = man & ((1ull << shift) - 1);
    mid = 1ull << (shift - 1);
  } else {
    q = ((uint64_t)e << mbits) | (man >> drop);
    rem = man & ((1ull << drop) - 1);
    mid = 1ull << (drop - 1);
  }
  if (rem > mid || (rem == mid && (q & 1))) q++; /* a carry moves into the exponent: still right */
  return (uint16_t)(sign | q);
}

uint16_t dycl_ew_f64_to_f16(double x) { return f64_to_small_float(x, 10, 15, 31, 0x7e00u); }
uint16_t dycl_ew_f64_to_bf16(double x) { return f64_to_small_float(x, 7, 127, 255, 0x7fc0u); }

/* Loads n elements starting at flat index `off`, `stride` apart (0: broadcast one element). */
void dycl_ew_load_f64(const dycl_value_t* t, int64_t off, int64_t stride, int64_t n, double* buf) {
#define EW_LOAD(T, CONV)                                              \
  do {                                                                \
    const T* p = (const T*)t->data + off;                             \
    for (int64_t i = 0; i < n; i++) buf[i] = (double)CONV(p[i * stride]); \
  } while (0)
#define EW_ID(x) (x)
  switch (t->dtype) {
    case DYCL_DTYPE_FLOAT32: EW_LOAD(float, EW_ID); break;
    case DYCL_DTYPE_FLOAT64: EW_LOAD(double, EW_ID); break;
    case DYCL_DTYPE_FLOAT16: EW_LOAD(uint16_t, dycl_f16_to_f32); break;
    case DYCL_DTYPE_BFLOAT16: EW_LOAD(uint16_t, dycl_bf16_to_f32); break;
    case DYCL_DTYPE_UINT8: EW_LOAD(uint8_t, EW_ID); break;
    case DYCL_DTYPE_INT8: EW_LOAD(int8_t, EW_ID); break;
    case DYCL_DTYPE_UINT16: EW_LOAD(uint16_t, EW_ID); break;
    case DYCL_DTYPE_INT16: EW_LOAD(int16_t, EW_ID); break;
    case DYCL_DTYPE_INT32: EW_LOAD(int32_t, EW_ID); break;
    case DYCL_DTYPE_INT64: EW_LOAD(int64_t, EW_ID); break;
    case DYCL_DTYPE_UINT32: EW_LOAD(uint32_t, EW_ID); break;
    case DYCL_DTYPE_UINT64: EW_LOAD(uint64_t, EW_ID); break;
    case DYCL_DTYPE_BOOL: EW_LOAD(uint8_t, !!); break;
    default:
      for (int64_t i = 0; i < n; i++) buf[i] = 0;
      break;
  }
}

/* Integer load: uint64 values keep their bits (callers that care treat them as uint64). Floating
 * values are truncated toward zero, saturating, NaN giving 0. */
void dycl_ew_load_i64(const dycl_value_t* t, int64_t off, int64_t stride, int64_t n, int64_t* buf) {
#undef EW_LOAD
#define EW_LOAD(T, CONV)                                                \
  do {                                                                  \
    const T* p = (const T*)t->data + off;                               \
    for (int64_t i = 0; i < n; i++) buf[i] = (int64_t)CONV(p[i * stride]); \
  } while (0)
  switch (t->dtype) {
    case DYCL_DTYPE_UINT8: EW_LOAD(uint8_t, EW_ID); break;
    case DYCL_DTYPE_INT8: EW_LOAD(int8_t, EW_ID); break;
    case DYCL_DTYPE_UINT16: EW_LOAD(uint16_t, EW_ID); break;
    case DYCL_DTYPE_INT16: EW_LOAD(int16_t, EW_ID); break;
    case DYCL_DTYPE_INT32: EW_LOAD(int32_t, EW_ID); break;
    case DYCL_DTYPE_INT64: EW_LOAD(int64_t, EW_ID); break;
    case DYCL_DTYPE_UINT32: EW_LOAD(uint32_t, EW_ID); break;
    case DYCL_DTYPE_UINT64: EW_LOAD(uint64_t, EW_ID); break;
    case DYCL_DTYPE_BOOL: EW_LOAD(uint8_t, !!); break;
    case DYCL_DTYPE_FLOAT32:
    case DYCL_DTYPE_FLOAT64:
    case DYCL_DTYPE_FLOAT16:
    case DYCL_DTYPE_BFLOAT16: {
      double tmp[EW_BLOCK];
      for (int64_t i0 = 0; i0 < n; i0 += EW_BLOCK) {
        int64_t m = n - i0 < EW_BLOCK ? n - i0 : EW_BLOCK;
        dycl_ew_load_f64(t, off + i0 * stride, stride, m, tmp);
        for (int64_t i = 0; i < m; i++) {
          double x = tmp[i];
          buf[i0 + i] = isnan(x) ? 0 : x >= 9.2233720368547758e18 ? INT64_MAX
                                     : x <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)x;
        }
      }
      break;
    }
    default:
      for (int64_t i = 0; i < n; i++) buf[i] = 0;
      break;
  }
#undef EW_LOAD
#undef EW_ID
}

/* Saturating float → integer conversion of one value to the range of `dtype` (NaN gives 0). */
static inline int64_t f64_to_int_sat(double x, dycl_dtype_t dtype) {
  double lo, hi;
  switch (dtype) {
    case DYCL_DTYPE_UINT8: lo = 0, hi = 255; break;
    case DYCL_DTYPE_INT8: lo = -128, hi = 127; break;
    case DYCL_DTYPE_UINT16: lo = 0, hi = 65535; break;
    case DYCL_DTYPE_INT16: lo = -32768, hi = 32767; break;
    case DYCL_DTYPE_UINT32: lo = 0, hi = 4294967295.0; break;
    case DYCL_DTYPE_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
    case DYCL_DTYPE_UINT64:
      if (isnan(x) || x <= 0) return 0;
      if (x >= 18446744073709551616.0) return (int64_t)UINT64_MAX;
      return (int64_t)(uint64_t)x;
    default:
      if (isnan(x)) return 0;
      if (x >= 9.2233720368547758e18) return INT64_MAX;
      if (x <= -9.2233720368547758e18) return INT64_MIN;
      return (int64_t)x;
  }
  if (isnan(x)) return 0;
  if (x <= lo) return (int64_t)lo;
  if (x >= hi) return (int64_t)hi;
  return (int64_t)x;
}

/* Stores n doubles at flat index `off` (contiguous). Floating targets round once to the target
 * precision; integer targets truncate toward zero, saturating; bool is x != 0. */
void dycl_ew_store_f64(dycl_value_t* t, int64_t off, int64_t n, const double* buf) {
  void* d = t->data;
  switch (t->dtype) {
    case DYCL_DTYPE_FLOAT32: {
      float* p = (float*)d + off;
      for (int64_t i = 0; i < n; i++) p[i] = (float)buf[i];
      break;
    }
    case DYCL_DTYPE_FLOAT64: memcpy((double*)d + off, buf, (size_t)n * sizeof(double)); break;
    case DYCL_DTYPE_FLOAT16: {
      uint16_t* p = (uint16_t*)d + off;
      for (int64_t i = 0; i < n; i++) p[i] = dycl_ew_f64_to_f16(buf[i]);
      break;
    }
    case DYCL_DTYPE_BFLOAT16: {
      uint16_t* p = (uint16_t*)d + off;
      for (int64_t i = 0; i < n; i++) p[i] = dycl_ew_f64_to_bf16(buf[i]);
      break;
    }
    case DYCL_DTYPE_BOOL: {
      uint8_t* p = (uint8_t*)d + off;
      for (int64_t i = 0; i < n; i++) p[i] = buf[i] != 0;
      break;
    }
    case DYCL_DTYPE_STRING: break;
#define EW_STORE_SAT(T)                                                        \
  do {                                                                         \
    T* p = (T*)d + off;                                                        \
    for (int64_t i = 0; i < n; i++) p[i] = (T)f64_to_int_sat(buf[i], t->dtype); \
  } while (0)
    case DYCL_DTYPE_UINT8: EW_STORE_SAT(uint8_t); break;
    case DYCL_DTYPE_INT8: EW_STORE_SAT(int8_t); break;
    case DYCL_DTYPE_UINT16: EW_STORE_SAT(uint16_t); break;
    case DYCL_DTYPE_INT16: EW_STORE_SAT(int16_t); break;
    case DYCL_DTYPE_UINT32: EW_STORE_SAT(uint32_t); break;
    case DYCL_DTYPE_INT32: EW_STORE_SAT(int32_t); break;
    case DYCL_DTYPE_UINT64: EW_STORE_SAT(uint64_t); break;
    case DYCL_DTYPE_INT64: EW_STORE_SAT(int64_t); break;
#undef EW_STORE_SAT
    default: break;
  }
}

/* Stores n int64 values at flat index `off` (contiguous). Integer targets wrap (keep the low
 * bits); floating targets convert (as uint64 when `is_unsigned`); bool is x != 0. */
void dycl_ew_store_i64(dycl_value_t* t, int64_t off, int64_t n, const int64_t* buf, bool is_unsigned) {
#define EW_STORE(T)                                            \
  do {                                                         \
    T* p = (T*)t->data + off;                                  \
    for (int64_t i = 0; i < n; i++) p[i] = (T)buf[i];          \
  } while (0)
  switch (t->dtype) {
    case DYCL_DTYPE_UINT8: EW_STORE(uint8_t); break;
    case DYCL_DTYPE_INT8: EW_STORE(int8_t); break;
    case DYCL_DTYPE_UINT16: EW_STORE(uint16_t); break;
    case DYCL_DTYPE_INT16: EW_STORE(int16_t); break;
    case DYCL_DTYPE_INT32: EW_STORE(int32_t); break;
    case DYCL_DTYPE_INT64: EW_STORE(int64_t); break;
    case DYCL_DTYPE_UINT32: EW_STORE(uint32_t); break;
    case DYCL_DTYPE_UINT64: EW_STORE(uint64_t); break;
    case DYCL_DTYPE_BOOL: {
      uint8_t* p = (uint8_t*)t->data + off;
      for (int64_t i = 0; i < n; i++) p[i] = buf[i] != 0;
      break;
    }
    case DYCL_DTYPE_FLOAT32: {
      float* p = (float*)t->data + off;
      if (is_unsigned)
        for (int64_t i = 0; i < n; i++) p[i] = (float)(uint64_t)buf[i];
      else
        for (int64_t i = 0; i < n; i++) p[i] = (float)buf[i];
      break;
    }
    case DYCL_DTYPE_FLOAT64: {
      double* p = (double*)t->data + off;
      if (is_unsigned)
        for (int64_t i = 0; i < n; i++) p[i] = (double)(uint64_t)buf[i];
      else
        for (int64_t i = 0; i < n; i++) p[i] = (double)buf[i];
      break;
    }
    case DYCL_DTYPE_FLOAT16:
    case DYCL_DTYPE_BFLOAT16: {
      double tmp[EW_BLOCK];
      for (int64_t i0 = 0; i0 < n; i0 += EW_BLOCK) {
        int64_t m = n - i0 < EW_BLOCK ? n - i0 : EW_BLOCK;
        for (int64_t i = 0; i < m; i++)
          tmp[i] = is_unsigned ? (double)(uint64_t)buf[i0 + i] : (double)buf[i0 + i];
        dycl_ew_store_f64(t, off + i0, m, tmp);
      }
      break;
    }
    default: break;
  }
#undef EW_STORE
}

/* ------------------------------------------------------ attribute types */

/* Checks that the attributes the elementwise, reduce and quant families read have the type ONNX
 * gives them (a wrong type would otherwise read as absent and silently change the meaning). */
dycl_status_t dycl_ew_check_attrs(const dycl_node_t* node) {
  static const struct {
    const char* name;
    dycl_attr_type_t type;
  } known[] = {
      {"alpha", DYCL_ATTR_FLOAT},          {"beta", DYCL_ATTR_FLOAT},
      {"gamma", DYCL_ATTR_FLOAT},          {"lambd", DYCL_ATTR_FLOAT},
      {"bias", DYCL_ATTR_FLOAT},           {"min", DYCL_ATTR_FLOAT},
      {"max", DYCL_ATTR_FLOAT},            {"detect_negative", DYCL_ATTR_INT},
      {"detect_positive", DYCL_ATTR_INT},  {"fmod", DYCL_ATTR_INT},
      {"keepdims", DYCL_ATTR_INT},         {"noop_with_empty_axes", DYCL_ATTR_INT},
      {"axis", DYCL_ATTR_INT},             {"select_last_index", DYCL_ATTR_INT},
      {"exclusive", DYCL_ATTR_INT},        {"reverse", DYCL_ATTR_INT},
      {"largest", DYCL_ATTR_INT},          {"sorted", DYCL_ATTR_INT},
      {"k", DYCL_ATTR_INT},                {"broadcast", DYCL_ATTR_INT},
      {"axes", DYCL_ATTR_INTS},            {"direction", DYCL_ATTR_STRING},
      {"to", DYCL_ATTR_INT},
  };
  static const char* type_names[] = {"undefined", "float", "int", "string", "tensor", "graph", "floats",
                                     "ints", "strings", "tensors", "graphs", "sparse tensor",
                                     "sparse tensors", "type proto", "type protos"};
  for (int i = 0; i < node->n_attr; i++) {
    const dycl_attr_t* a = &node->attrs[i];
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
      if (strcmp(a->name, known[k].name) != 0) continue;
      dycl_attr_type_t want = known[k].type;
      if (want == DYCL_ATTR_INT && a->type == DYCL_ATTR_STRING && strcmp(a->name, "to") == 0 && node->opset < 6)
        break; /* Cast-1 names the target type */
      if (a->type != want) {
        int got = (int)a->type;
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute '%s' must be of type %s, not %s", a->name,
                               type_names[want],
                               got >= 0 && got < (int)(sizeof type_names / sizeof type_names[0]) ? type_names[got]
                                                                                                   : "unknown");
      }
      break;
    }
  }
  return NULL;
}

/* ------------------------------------------------------ dtype sets */

#define F16 DYCL_DTYPE_FLOAT16
#define BF16 DYCL_DTYPE_BFLOAT16
#define F32 DYCL_DTYPE_FLOAT32
#define F64 DYCL_DTYPE_FLOAT64
const dycl_dtype_t dycl_ew_numeric_types[] = {F16, BF16, F32, F64, DYCL_DTYPE_INT8, DYCL_DTYPE_INT16, DYCL_DTYPE_INT32,
                                              DYCL_DTYPE_INT64, DYCL_DTYPE_UINT8, DYCL_DTYPE_UINT16, DYCL_DTYPE_UINT32,
                                              DYCL_DTYPE_UINT64, 0};
static const dycl_dtype_t k_signed[] = {F16, BF16, F32, F64, DYCL_DTYPE_INT8, DYCL_DTYPE_INT16, DYCL_DTYPE_INT32,
                                        DYCL_DTYPE_INT64, 0};

/* ------------------------------------------------------ inference */

dycl_dtype_t dycl_ew_in_dtype(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i) {
  const dycl_type_t* t = dycl_infer_in(ctx, node, i);
  return t && t->known ? t->dtype : DYCL_DTYPE_UNDEFINED;
}

dycl_status_t dycl_ew_infer_input0(dycl_infer_ctx_t* ctx, const dycl_node_t* node, const dycl_dtype_t* allowed,
                                   dycl_type_t* t) {
  DYCL_RETURN_IF_ERROR(dycl_ew_check_attrs(node));
  if (allowed) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, allowed));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  if (x && x->known && x->kind != DYCL_VALUE_TENSOR)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input 0 must be a tensor");
  *t = (x && x->known) ? *x : dycl_type_tensor(DYCL_DTYPE_UNDEFINED, -1);
  t->known = true;
  t->kind = DYCL_VALUE_TENSOR;
  return NULL;
}

/* The output type of a shape-preserving op: input 0's shape, the given dtype. */
static dycl_status_t set_like_input0(dycl_infer_ctx_t* ctx, const dycl_node_t* node, dycl_dtype_t dtype) {
  dycl_type_t u;
  DYCL_RETURN_IF_ERROR(dycl_ew_infer_input0(ctx, node, NULL, &u));
  u.dtype = dtype;
  for (int j = 0; j < node->n_out; j++) DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &u));
  return NULL;
}

static dycl_status_t infer_unary_of(dycl_infer_ctx_t* ctx, const dycl_node_t* node, const dycl_dtype_t* allowed) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, allowed));
  return set_like_input0(ctx, node, dycl_ew_in_dtype(ctx, node, 0));
}

dycl_status_t dycl_infer_ew_float_unary(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_unary_of(ctx, node, dycl_dtypes_float);
}
dycl_status_t dycl_infer_ew_numeric_unary(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_unary_of(ctx, node, dycl_ew_numeric_types);
}
dycl_status_t dycl_infer_ew_signed_unary(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_unary_of(ctx, node, k_signed);
}
dycl_status_t dycl_infer_ew_bool_unary(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_unary_of(ctx, node, dycl_dtypes_bool);
}
/* IsNaN, IsInf: floating input, bool output of the same shape. */
dycl_status_t dycl_infer_ew_float_test(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  return set_like_input0(ctx, node, DYCL_DTYPE_BOOL);
}

dycl_status_t dycl_infer_Clip(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_ew_numeric_types));
  for (int i = 1; i < node->n_in && i < 3; i++) {
    DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, i));
    const dycl_type_t* t = dycl_infer_in(ctx, node, i);
    if (t && t->known && t->rank > 1)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d (%s) must be a scalar", i, i == 1 ? "min" : "max");
  }
  return set_like_input0(ctx, node, dycl_ew_in_dtype(ctx, node, 0));
}

/* ------------------------------------------------------ unary kernels */

typedef enum uop {
  U_ABS, U_NEG, U_SIGN, U_RELU,                 /* also on integers */
  U_CEIL, U_FLOOR, U_ROUND, U_RECIPROCAL, U_SQRT, U_EXP, U_LOG, U_ERF,
  U_SIN, U_COS, U_TAN, U_ASIN, U_ACOS, U_ATAN, U_SINH, U_COSH, U_TANH, U_ASINH, U_ACOSH, U_ATANH,
  U_SIGMOID, U_SOFTPLUS, U_SOFTSIGN, U_ELU, U_CELU, U_SELU, U_LEAKYRELU, U_HARDSIGMOID, U_HARDSWISH,
  U_THRESHOLDEDRELU, U_SHRINK,
} uop_t;

typedef struct uparams {
  double alpha, beta, gamma;
} uparams_t;

static void apply_unary_f64(uop_t op, const uparams_t* p, double* x, int64_t n) {
  const double a = p->alpha, b = p->beta, g = p->gamma;
#define EACH(EXPR)                                 \
  for (int64_t i = 0; i < n; i++) {                \
    double v = x[i];                               \
    x[i] = (EXPR);                                 \
  }                                                \
  break
  switch (op) {
    case U_ABS: EACH(fabs(v));
    case U_NEG: EACH(-v);
    case U_SIGN: EACH(v > 0 ? 1.0 : v < 0 ? -1.0 : v);
    case U_RELU: EACH(v < 0 ? 0.0 : v);
    case U_CEIL: EACH(ceil(v));
    case U_FLOOR: EACH(floor(v));
    case U_ROUND: EACH(nearbyint(v)); /* the default rounding mode: half to even */
    case U_RECIPROCAL: EACH(1.0 / v);
    case U_SQRT: EACH(sqrt(v));
    case U_EXP: EACH(exp(v));
    case U_LOG: EACH(log(v));
    case U_ERF: EACH(erf(v));
    case U_SIN: EACH(sin(v));
    case U_COS: EACH(cos(v));
    case U_TAN: EACH(tan(v));
    case U_ASIN: EACH(asin(v));
    case U_ACOS: EACH(acos(v));
    case U_ATAN: EACH(atan(v));
    case U_SINH: EACH(sinh(v));
    case U_COSH: EACH(cosh(v));
    case U_TANH: EACH(tanh(v));
    case U_ASINH: EACH(asinh(v));
    case U_ACOSH: EACH(acosh(v));
    case U_ATANH: EACH(atanh(v));
    case U_SIGMOID: EACH(v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v)));
    case U_SOFTPLUS: EACH(v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)));
    case U_SOFTSIGN: EACH(v / (1.0 + fabs(v)));
    case U_ELU: EACH(v < 0 ? a * expm1(v) : v);
    case U_CELU: EACH((v > 0 ? v : 0.0) + fmin(0.0, a * expm1(v / a)));
    case U_SELU: EACH(v > 0 ? g * v : g * a * expm1(v));
    case U_LEAKYRELU: EACH(v < 0 ? a * v : v);
    case U_HARDSIGMOID: EACH(fmax(0.0, fmin(1.0, a * v + b)));
    case U_HARDSWISH: EACH(v * fmax(0.0, fmin(1.0, a * v + b)));
    case U_THRESHOLDEDRELU: EACH(v > a ? v : 0.0);
    case U_SHRINK: EACH(v < -a ? v + b : v > a ? v - b : 0.0);
  }
#undef EACH
}

/* Integer versions of the ops that integers support. `u64`: the values are uint64 bits. */
static void apply_unary_i64(uop_t op, bool u64, int64_t* x, int64_t n) {
  switch (op) {
    case U_ABS:
      if (!u64)
        for (int64_t i = 0; i < n; i++) x[i] = x[i] < 0 ? (int64_t)(0 - (uint64_t)x[i]) : x[i];
      break;
    case U_NEG:
      for (int64_t i = 0; i < n; i++) x[i] = (int64_t)(0 - (uint64_t)x[i]);
      break;
    case U_SIGN:
      for (int64_t i = 0; i < n; i++) x[i] = u64 ? (x[i] != 0) : (x[i] > 0) - (x[i] < 0);
      break;
    case U_RELU:
      if (!u64)
        for (int64_t i = 0; i < n; i++) x[i] = x[i] < 0 ? 0 : x[i];
      break;
    default: break;
  }
}

static bool is_float(dycl_dtype_t t) { return dycl_dtype_is_float(t); }

static dycl_status_t run_unary(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, uop_t op, uparams_t p) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  bool int_ok = op == U_ABS || op == U_NEG || op == U_SIGN || op == U_RELU;
  bool numeric_ok = int_ok || op == U_ERF || op == U_SHRINK;
  if (!is_float(x->dtype) && !(numeric_ok && dycl_dtype_is_int(x->dtype)))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input of element type %s is not supported",
                           dycl_dtype_name(x->dtype));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, x->dims, &out[0]));
  dycl_value_t* y = out[0];
  if (is_float(x->dtype) || !int_ok) {
    double buf[EW_BLOCK];
    for (int64_t i0 = 0; i0 < x->numel; i0 += EW_BLOCK) {
      int64_t m = x->numel - i0 < EW_BLOCK ? x->numel - i0 : EW_BLOCK;
      dycl_ew_load_f64(x, i0, 1, m, buf);
      apply_unary_f64(op, &p, buf, m);
      dycl_ew_store_f64(y, i0, m, buf);
    }
  } else {
    int64_t buf[EW_BLOCK];
    bool u64 = x->dtype == DYCL_DTYPE_UINT64;
    for (int64_t i0 = 0; i0 < x->numel; i0 += EW_BLOCK) {
      int64_t m = x->numel - i0 < EW_BLOCK ? x->numel - i0 : EW_BLOCK;
      dycl_ew_load_i64(x, i0, 1, m, buf);
      apply_unary_i64(op, u64, buf, m);
      dycl_ew_store_i64(y, i0, m, buf, u64);
    }
  }
  return NULL;
}

#define EW_UNARY(Name, OP, ...)                                                                          \
  dycl_status_t dycl_run_##Name(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin, \
                                dycl_value_t** out, int nout) {                                           \
    (void)nout;                                                                                           \
    uparams_t p = {__VA_ARGS__};                                                                          \
    return run_unary(ctx, node, in, nin, out, OP, p);                                                     \
  }

EW_UNARY(Abs, U_ABS, 0, 0, 0)
EW_UNARY(Neg, U_NEG, 0, 0, 0)
EW_UNARY(Sign, U_SIGN, 0, 0, 0)
EW_UNARY(Relu, U_RELU, 0, 0, 0)
EW_UNARY(Ceil, U_CEIL, 0, 0, 0)
EW_UNARY(Floor, U_FLOOR, 0, 0, 0)
EW_UNARY(Round, U_ROUND, 0, 0, 0)
EW_UNARY(Reciprocal, U_RECIPROCAL, 0, 0, 0)
EW_UNARY(Sqrt, U_SQRT, 0, 0, 0)
EW_UNARY(Exp, U_EXP, 0, 0, 0)
EW_UNARY(Log, U_LOG, 0, 0, 0)
EW_UNARY(Erf, U_ERF, 0, 0, 0)
EW_UNARY(Sin, U_SIN, 0, 0, 0)
EW_UNARY(Cos, U_COS, 0, 0, 0)
EW_UNARY(Tan, U_TAN, 0, 0, 0)
EW_UNARY(Asin, U_ASIN, 0, 0, 0)
EW_UNARY(Acos, U_ACOS, 0, 0, 0)
EW_UNARY(Atan, U_ATAN, 0, 0, 0)
EW_UNARY(Sinh, U_SINH, 0, 0, 0)
EW_UNARY(Cosh, U_COSH, 0, 0, 0)
EW_UNARY(Tanh, U_TANH, 0, 0, 0)
EW_UNARY(Asinh, U_ASINH, 0, 0, 0)
EW_UNARY(Acosh, U_ACOSH, 0, 0, 0)
EW_UNARY(Atanh, U_ATANH, 0, 0, 0)
EW_UNARY(Sigmoid, U_SIGMOID, 0, 0, 0)
EW_UNARY(Softplus, U_SOFTPLUS, 0, 0, 0)
EW_UNARY(Softsign, U_SOFTSIGN, 0, 0, 0)
EW_UNARY(Elu, U_ELU, dycl_attr_float(node, "alpha", 1.0), 0, 0)
EW_UNARY(Celu, U_CELU, dycl_attr_float(node, "alpha", 1.0), 0, 0)
EW_UNARY(Selu, U_SELU, dycl_attr_float(node, "alpha", 1.67326319217681884765625), 0,
         dycl_attr_float(node, "gamma", 1.05070102214813232421875))
EW_UNARY(LeakyRelu, U_LEAKYRELU, dycl_attr_float(node, "alpha", 0.01), 0, 0)
EW_UNARY(HardSigmoid, U_HARDSIGMOID, dycl_attr_float(node, "alpha", 0.2), dycl_attr_float(node, "beta", 0.5), 0)
EW_UNARY(HardSwish, U_HARDSWISH, 1.0 / 6.0, 0.5, 0)
EW_UNARY(ThresholdedRelu, U_THRESHOLDEDRELU, dycl_attr_float(node, "alpha", 1.0), 0, 0)
EW_UNARY(Shrink, U_SHRINK, dycl_attr_float(node, "lambd", 0.5), dycl_attr_float(node, "bias", 0.0), 0)

dycl_status_t dycl_infer_Celu(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  if (dycl_attr_float(node, "alpha", 1.0) == 0)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "alpha must not be 0");
  return infer_unary_of(ctx, node, dycl_dtypes_float);
}

/* ------------------------------------------------------ IsNaN, IsInf, Not */

static dycl_status_t run_float_test(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                    dycl_value_t** out, bool nan_test) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (!is_float(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be floating point, not %s", dycl_dtype_name(x->dtype));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_BOOL, x->rank, x->dims, &out[0]));
  bool neg = dycl_attr_int(node, "detect_negative", 1) != 0, pos = dycl_attr_int(node, "detect_positive", 1) != 0;
  uint8_t* y = out[0]->data;
  double buf[EW_BLOCK];
  for (int64_t i0 = 0; i0 < x->numel; i0 += EW_BLOCK) {
    int64_t m = x->numel - i0 < EW_BLOCK ? x->numel - i0 : EW_BLOCK;
    dycl_ew_load_f64(x, i0, 1, m, buf);
    if (nan_test)
      for (int64_t i = 0; i < m; i++) y[i0 + i] = isnan(buf[i]) ? 1 : 0;
    else
      for (int64_t i = 0; i < m; i++) y[i0 + i] = isinf(buf[i]) && (buf[i] > 0 ? pos : neg);
  }
  return NULL;
}

dycl_status_t dycl_run_IsNaN(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, int nout) {
  (void)nout;
  return run_float_test(ctx, node, in, nin, out, true);
}

dycl_status_t dycl_run_IsInf(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, int nout) {
  (void)nout;
  return run_float_test(ctx, node, in, nin, out, false);
}

dycl_status_t dycl_run_Not(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (x->dtype != DYCL_DTYPE_BOOL)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be bool, not %s", dycl_dtype_name(x->dtype));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_BOOL, x->rank, x->dims, &out[0]));
  const uint8_t* a = x->data;
  uint8_t* y = out[0]->data;
  for (int64_t i = 0; i < x->numel; i++) y[i] = !a[i];
  return NULL;
}

/* ------------------------------------------------------ Clip */

static dycl_status_t clip_bound(const dycl_node_t* node, const dycl_value_t* x, const dycl_value_t* b, int i) {
  if (b->kind != DYCL_VALUE_TENSOR || b->numel != 1 || b->rank > 1)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d (%s) must be a scalar", i, i == 1 ? "min" : "max");
  if (b->dtype != x->dtype)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d has element type %s, input 0 %s", i,
                           dycl_dtype_name(b->dtype), dycl_dtype_name(x->dtype));
  return NULL;
}

dycl_status_t dycl_run_Clip(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  const dycl_value_t* lo = nin > 1 ? in[1] : NULL;
  const dycl_value_t* hi = nin > 2 ? in[2] : NULL;
  if (lo) DYCL_RETURN_IF_ERROR(clip_bound(node, x, lo, 1));
  if (hi) DYCL_RETURN_IF_ERROR(clip_bound(node, x, hi, 2));
  if (!is_float(x->dtype) && !dycl_dtype_is_int(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input of element type %s is not supported",
                           dycl_dtype_name(x->dtype));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, x->dims, &out[0]));
  dycl_value_t* y = out[0];
  if (is_float(x->dtype)) {
    double l = -INFINITY, h = INFINITY;
    if (node->opset < 11) {
      l = dycl_attr_float(node, "min", -INFINITY);
      h = dycl_attr_float(node, "max", INFINITY);
    }
    if (lo) dycl_ew_load_f64(lo, 0, 0, 1, &l);
    if (hi) dycl_ew_load_f64(hi, 0, 0, 1, &h);
    double buf[EW_BLOCK];
    for (int64_t i0 = 0; i0 < x->numel; i0 += EW_BLOCK) {
      int64_t m = x->numel - i0 < EW_BLOCK ? x->numel - i0 : EW_BLOCK;
      dycl_ew_load_f64(x, i0, 1, m, buf);
      /* as numpy's clip: min first, then max (so min > max gives max); NaN stays NaN */
      for (int64_t i = 0; i < m; i++) {
        double v = buf[i] < l ? l : buf[i];
        buf[i] = v > h ? h : v;
      }
      dycl_ew_store_f64(y, i0, m, buf);
    }
  } else {
    bool u64 = x->dtype == DYCL_DTYPE_UINT64;
    int64_t l = u64 ? 0 : INT64_MIN, h = u64 ? -1 /* UINT64_MAX */ : INT64_MAX;
    if (lo) dycl_ew_load_i64(lo, 0, 0, 1, &l);
    if (hi) dycl_ew_load_i64(hi, 0, 0, 1, &h);
    int64_t buf[EW_BLOCK];
    for (int64_t i0 = 0; i0 < x->numel; i0 += EW_BLOCK) {
      int64_t m = x->numel - i0 < EW_BLOCK ? x->numel - i0 : EW_BLOCK;
      dycl_ew_load_i64(x, i0, 1, m, buf);
      if (u64) {
        for (int64_t i = 0; i < m; i++) {
          uint64_t v = (uint64_t)buf[i] < (uint64_t)l ? (uint64_t)l : (uint64_t)buf[i];
          buf[i] = (int64_t)(v > (uint64_t)h ? (uint64_t)h : v);
        }
      } else {
        for (int64_t i = 0; i < m; i++) {
          int64_t v = buf[i] < l ? l : buf[i];
          buf[i] = v > h ? h : v;
        }
      }
      dycl_ew_store_i64(y, i0, m, buf, u64);
    }
  }
  return NULL;
}
