/* Linear quantization: QuantizeLinear, DequantizeLinear (per tensor or per axis) and
 * DynamicQuantizeLinear. float32 data is computed in float32 arithmetic (as the ONNX reference
 * does); rounding is half to even; quantized values saturate to the range of their type. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/elementwise_internal.h"
#include "ops/op.h"

static bool quant_range(dycl_dtype_t t, double* lo, double* hi) {
  switch (t) {
    case DYCL_DTYPE_UINT8: *lo = 0, *hi = 255; return true;
    case DYCL_DTYPE_INT8: *lo = -128, *hi = 127; return true;
    case DYCL_DTYPE_UINT16: *lo = 0, *hi = 65535; return true;
    case DYCL_DTYPE_INT16: *lo = -32768, *hi = 32767; return true;
    case DYCL_DTYPE_INT32: *lo = -2147483648.0, *hi = 2147483647.0; return true;
    default: return false;
  }
}

/* Per-tensor or per-axis parameters: how to find the channel of flat index i. */
typedef struct qaxis {
  int64_t n;     /* number of scale values: 1 or dims[axis] */
  int64_t inner; /* product of the dims after axis */
} qaxis_t;

static dycl_status_t quant_axis(const dycl_node_t* node, const dycl_value_t* x, const dycl_value_t* scale,
                                const dycl_value_t* zp, qaxis_t* q) {
  if (scale->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_float(scale->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "scale must be a floating-point tensor");
  if (zp && (zp->kind != DYCL_VALUE_TENSOR || zp->numel != scale->numel || zp->rank != scale->rank))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "zero point must have the shape of the scale");
  q->n = 1;
  q->inner = 1;
  if (scale->rank == 0 || (scale->rank == 1 && scale->numel == 1 && node->opset < 13)) {
    if (scale->numel != 1) return dycl_node_error(node, DYCL_CODE_RUNTIME, "scale must have one value");
    return NULL;
  }
  if (scale->rank != 1)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "scale must be a scalar or a 1-D tensor, not of rank %d",
                           scale->rank);
  if (scale->numel == 1 && x->rank == 0) return NULL;
  int axis;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", 1), x->rank, &axis));
  if (scale->dims[0] != x->dims[axis]) {
    if (scale->numel == 1) return NULL; /* a 1-element scale is per tensor */
    return dycl_node_error(node, DYCL_CODE_RUNTIME,
                           "scale has %" PRId64 " values but the input has %" PRId64 " along axis %d", scale->dims[0],
                           x->dims[axis], axis);
  }
  q->n = scale->dims[0];
  for (int d = axis + 1; d < x->rank; d++) q->inner *= x->dims[d];
  return NULL;
}

static inline int64_t channel(const qaxis_t* q, int64_t i) { return q->n == 1 ? 0 : (i / q->inner) % q->n; }

dycl_status_t dycl_run_QuantizeLinear(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                      dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *x = in[0], *scale = in[1], *zp = nin > 2 ? in[2] : NULL;
  if (!dycl_dtype_is_float(x->dtype) && x->dtype != DYCL_DTYPE_INT32)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot quantize %s data", dycl_dtype_name(x->dtype));
  dycl_dtype_t odt = zp ? zp->dtype : DYCL_DTYPE_UINT8;
  double lo, hi;
  if (!quant_range(odt, &lo, &hi) || odt == DYCL_DTYPE_INT32)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "zero point of element type %s is not supported",
                           dycl_dtype_name(odt));
  qaxis_t q;
  DYCL_RETURN_IF_ERROR(quant_axis(node, x, scale, zp, &q));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, odt, x->rank, x->dims, &out[0]));
  dycl_value_t* y = out[0];
  bool f64 = x->dtype == DYCL_DTYPE_FLOAT64;
  for (int64_t i = 0; i < x->numel; i++) {
    int64_t c = channel(&q, i);
    double xv, sv;
    int64_t z = 0;
    dycl_ew_load_f64(x, i, 0, 1, &xv);
    dycl_ew_load_f64(scale, c, 0, 1, &sv);
    if (zp) dycl_ew_load_i64(zp, c, 0, 1, &z);
    double v = f64 ? nearbyint(xv / sv) : (double)nearbyintf((float)xv / (float)sv);
    v += (double)z;
    v = isnan(v) ? 0 : v < lo ? lo : v > hi ? hi : v;
    int64_t iv = (int64_t)v;
    dycl_ew_store_i64(y, i, 1, &iv, false);
  }
  return NULL;
}

dycl_status_t dycl_run_DequantizeLinear(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                        dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *x = in[0], *scale = in[1], *zp = nin > 2 ? in[2] : NULL;
  double lo, hi;
  if (!quant_range(x->dtype, &lo, &hi))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot dequantize %s data", dycl_dtype_name(x->dtype));
  if (zp && zp->dtype != x->dtype)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "zero point has element type %s, the data %s",
                           dycl_dtype_name(zp->dtype), dycl_dtype_name(x->dtype));
  qaxis_t q;
  DYCL_RETURN_IF_ERROR(quant_axis(node, x, scale, zp, &q));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, scale->dtype, x->rank, x->dims, &out[0]));
  dycl_value_t* y = out[0];
  bool f32 = scale->dtype == DYCL_DTYPE_FLOAT32;
  for (int64_t i = 0; i < x->numel; i++) {
    int64_t c = channel(&q, i), xv, z = 0;
    double sv;
    dycl_ew_load_i64(x, i, 0, 1, &xv);
    dycl_ew_load_f64(scale, c, 0, 1, &sv);
    if (zp) dycl_ew_load_i64(zp, c, 0, 1, &z);
    if (f32) ((float*)y->data)[i] = ((float)xv - (float)z) * (float)sv;
    else {
      double v = ((double)xv - (double)z) * sv;
      dycl_ew_store_f64(y, i, 1, &v);
    }
  }
  return NULL;
}

dycl_status_t dycl_run_DynamicQuantizeLinear(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in,
                                             int nin, dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (x->dtype != DYCL_DTYPE_FLOAT32)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be float32, not %s", dycl_dtype_name(x->dtype));
  const float* xd = x->data;
  float mn = 0, mx = 0;
  for (int64_t i = 0; i < x->numel; i++) {
    if (xd[i] < mn) mn = xd[i];
    if (xd[i] > mx) mx = xd[i];
  }
  float scale = (mx - mn) / 255.0f;
  float zpf = scale != 0 ? nearbyintf((0.0f - mn) / scale) : 0.0f;
  zpf = zpf < 0 ? 0 : zpf > 255 ? 255 : zpf;
  uint8_t zp = (uint8_t)zpf;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_UINT8, x->rank, x->dims, &out[0]));
  uint8_t* y = out[0]->data;
  for (int64_t i = 0; i < x->numel; i++) {
    float v = scale != 0 ? nearbyintf(xd[i] / scale) + (float)zp : (float)zp;
    v = isnan(v) ? 0 : v < 0 ? 0 : v > 255 ? 255 : v;
    y[i] = (uint8_t)v;
  }
  if (node->n_out > 1 && node->out[1] >= 0) {
    DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_FLOAT32, 0, NULL, &out[1]));
    *(float*)out[1]->data = scale;
  }
  if (node->n_out > 2 && node->out[2] >= 0) {
    DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_UINT8, 0, NULL, &out[2]));
    *(uint8_t*)out[2]->data = zp;
  }
  return NULL;
}

/* ------------------------------------------------------ inference */

static dycl_status_t set_like(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int j, dycl_dtype_t dtype) {
  dycl_type_t u;
  DYCL_RETURN_IF_ERROR(dycl_ew_infer_input0(ctx, node, NULL, &u));
  u.dtype = dtype;
  return dycl_infer_set(ctx, node, j, &u);
}

static dycl_status_t check_scale(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_float));
  const dycl_type_t* s = dycl_infer_in(ctx, node, 1);
  if (s && s->known && s->rank > 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "scale must be a scalar or a 1-D tensor");
  return NULL;
}

dycl_status_t dycl_infer_QuantizeLinear(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  static const dycl_dtype_t xs[] = {DYCL_DTYPE_FLOAT32, DYCL_DTYPE_FLOAT16, DYCL_DTYPE_BFLOAT16,
                                    DYCL_DTYPE_FLOAT64, DYCL_DTYPE_INT32,   0};
  static const dycl_dtype_t zs[] = {DYCL_DTYPE_UINT8, DYCL_DTYPE_INT8, DYCL_DTYPE_UINT16, DYCL_DTYPE_INT16, 0};
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, xs));
  DYCL_RETURN_IF_ERROR(check_scale(ctx, node));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 2, zs));
  const dycl_type_t* z = dycl_infer_in(ctx, node, 2);
  dycl_dtype_t odt = z ? (z->known ? z->dtype : DYCL_DTYPE_UNDEFINED) : DYCL_DTYPE_UINT8;
  return set_like(ctx, node, 0, odt);
}

dycl_status_t dycl_infer_DequantizeLinear(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  static const dycl_dtype_t xs[] = {DYCL_DTYPE_UINT8, DYCL_DTYPE_INT8, DYCL_DTYPE_UINT16, DYCL_DTYPE_INT16,
                                    DYCL_DTYPE_INT32, 0};
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, xs));
  DYCL_RETURN_IF_ERROR(check_scale(ctx, node));
  if (dycl_infer_in(ctx, node, 2)) DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  const dycl_type_t* s = dycl_infer_in(ctx, node, 1);
  return set_like(ctx, node, 0, s && s->known && s->dtype ? s->dtype : DYCL_DTYPE_FLOAT32);
}

dycl_status_t dycl_infer_DynamicQuantizeLinear(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  static const dycl_dtype_t xs[] = {DYCL_DTYPE_FLOAT32, 0};
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, xs));
  DYCL_RETURN_IF_ERROR(set_like(ctx, node, 0, DYCL_DTYPE_UINT8));
  dycl_type_t s = dycl_type_tensor(DYCL_DTYPE_FLOAT32, 0), z = dycl_type_tensor(DYCL_DTYPE_UINT8, 0);
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 1, &s));
  return dycl_infer_set(ctx, node, 2, &z);
}
