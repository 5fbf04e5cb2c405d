/* Shape operators, part 2: shapes as values (Shape, Size), generators (ConstantOfShape, Range,
 * EyeLike, OneHot), Trilu, Pad, and the block moves DepthToSpace and SpaceToDepth.
 * Generators whose size comes from a value (ConstantOfShape, Range) create their output through
 * dycl_kernel_tensor, whose limit check turns an absurd size into a clear error. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "ops/shape_internal.h"

/* Fills dst[start .. start+n) with src[si] (same dtype). */
static void fill_from(dycl_value_t* dst, int64_t start, int64_t n, const dycl_value_t* src, int64_t si) {
  if (n <= 0) return;
  if (dst->dtype == DYCL_DTYPE_STRING) {
    for (int64_t k = 0; k < n; k++) dycl_tensor_copy_elem(dst, start + k, src, si);
    return;
  }
  size_t esz = dycl_dtype_size(dst->dtype);
  char* d = (char*)dst->data + (size_t)start * esz;
  memcpy(d, (const char*)src->data + (size_t)si * esz, esz);
  size_t have = 1, total = (size_t)n;
  while (have < total) { /* doubling copies */
    size_t c = have < total - have ? have : total - have;
    memcpy(d + have * esz, d, c * esz);
    have += c;
  }
}

/* A one-element tensor of `dtype` holding zero (or the empty string). */
static dycl_status_t zero_scalar(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_dtype_t dtype, dycl_value_t** out) {
  dycl_status_t s = dycl_tensor_new_zero(ctx->alloc, NULL, dtype, 0, NULL, out);
  if (s) return dycl_error_wrap(s, "node '%s' (%s)", node->name, node->op_type);
  return NULL;
}

/* Reads a one-element tensor as int64 (float values truncate). */
static dycl_status_t scalar_i64(const dycl_node_t* node, const dycl_value_t* t, const char* what, int64_t* v) {
  if (t->kind != DYCL_VALUE_TENSOR || t->numel != 1 || t->dtype == DYCL_DTYPE_STRING)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "%s must hold exactly one number", what);
  *v = dycl_tensor_get_i64(t, 0);
  return NULL;
}

/* -------------------------------------------------------------- Shape, Size */

static void shape_range(const dycl_node_t* node, int rank, int64_t* start, int64_t* end) {
  int64_t s = dycl_attr_int(node, "start", 0), e = dycl_attr_int(node, "end", rank);
  if (s < 0) s += rank;
  if (e < 0) e += rank;
  s = s < 0 ? 0 : (s > rank ? rank : s);
  e = e < 0 ? 0 : (e > rank ? rank : e);
  *start = s;
  *end = e > s ? e : s;
}

dycl_status_t dycl_infer_Shape(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  dycl_type_t o = dycl_type_tensor(DYCL_DTYPE_INT64, 1);
  if (t.rank >= 0) {
    int64_t s, e;
    shape_range(node, t.rank, &s, &e);
    o.dims[0] = dycl_dim_const(e - s);
  }
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_Shape(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int64_t s, e;
  shape_range(node, x->rank, &s, &e);
  int64_t n = e - s;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, 1, &n, &out[0]));
  int64_t* d = out[0]->data;
  for (int64_t i = 0; i < n; i++) d[i] = x->dims[s + i];
  return NULL;
}

dycl_status_t dycl_infer_Size(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  dycl_type_t o = dycl_type_tensor(DYCL_DTYPE_INT64, 0);
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_Size(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, 0, NULL, &out[0]));
  ((int64_t*)out[0]->data)[0] = in[0]->numel;
  return NULL;
}

/* ---------------------------------------------------------- ConstantOfShape */

static dycl_status_t cos_value(const dycl_node_t* node, const dycl_value_t** v) {
  *v = dycl_attr_tensor(node, "value");
  if (*v && ((*v)->kind != DYCL_VALUE_TENSOR || (*v)->numel != 1))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'value' must hold exactly one element");
  return NULL;
}

dycl_status_t dycl_infer_ConstantOfShape(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_value_t* v;
  DYCL_RETURN_IF_ERROR(cos_value(node, &v));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_int64));
  dycl_dtype_t dtype = v ? v->dtype : DYCL_DTYPE_FLOAT32;
  int64_t shape[DYCL_MAX_RANK];
  int n;
  bool known;
  DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 0, shape, DYCL_MAX_RANK, &n, &known));
  dycl_type_t o = dycl_type_tensor(dtype, -1);
  if (known) {
    for (int i = 0; i < n; i++)
      if (shape[i] < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "negative dimension %" PRId64, shape[i]);
    o = dycl_type_tensor_dims(dtype, n, shape);
  } else {
    const dycl_type_t* st = dycl_infer_in(ctx, node, 0);
    if (st && st->known && st->rank == 1 && st->dims[0].v >= 0) {
      if (st->dims[0].v > DYCL_MAX_RANK)
        return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %" PRId64 " is beyond dycl's maximum of %d",
                               st->dims[0].v, DYCL_MAX_RANK);
      o = dycl_type_tensor(dtype, (int)st->dims[0].v);
    }
  }
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_ConstantOfShape(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                       dycl_value_t** out, int nout) {
  (void)nout;
  const dycl_value_t* v;
  DYCL_RETURN_IF_ERROR(cos_value(node, &v));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  int64_t shape[DYCL_MAX_RANK];
  int n;
  DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, in[0], shape, DYCL_MAX_RANK, &n));
  for (int i = 0; i < n; i++)
    if (shape[i] < 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "negative dimension %" PRId64, shape[i]);
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, v ? v->dtype : DYCL_DTYPE_FLOAT32, n, shape, &out[0]));
  if (!v) {
    memset(out[0]->data, 0, out[0]->nbytes);
    return NULL;
  }
  fill_from(out[0], 0, out[0]->numel, v, 0);
  return dycl_shape_finish(node, out[0]);
}

/* -------------------------------------------------------------------- Range */

static const dycl_dtype_t k_range[] = {DYCL_DTYPE_FLOAT32, DYCL_DTYPE_FLOAT64, DYCL_DTYPE_INT16, DYCL_DTYPE_INT32,
                                       DYCL_DTYPE_INT64, DYCL_DTYPE_UNDEFINED};

/* The number of elements of Range(start, limit, delta); `code` for errors. */
static dycl_status_t range_count(const dycl_node_t* node, const dycl_value_t* s, const dycl_value_t* l,
                                 const dycl_value_t* d, dycl_code_t code, int64_t* n) {
  const dycl_value_t* ts[3] = {s, l, d};
  static const char* names[3] = {"start", "limit", "delta"};
  for (int i = 0; i < 3; i++) {
    if (ts[i]->kind != DYCL_VALUE_TENSOR || ts[i]->numel != 1 || ts[i]->rank > 1)
      return dycl_node_error(node, code, "%s must be a scalar", names[i]);
    if (ts[i]->dtype != s->dtype)
      return dycl_node_error(node, code, "start, limit and delta must have one element type");
  }
  if (dycl_dtype_is_float(s->dtype)) {
    double a = dycl_tensor_get_f64(s, 0), b = dycl_tensor_get_f64(l, 0), c = dycl_tensor_get_f64(d, 0);
    if (c == 0) return dycl_node_error(node, code, "delta cannot be 0");
    if (!isfinite(a) || !isfinite(b) || !isfinite(c))
      return dycl_node_error(node, code, "start, limit and delta must be finite");
    /* like the reference (numpy.arange), the count is computed in the element type */
    double cnt = s->dtype == DYCL_DTYPE_FLOAT64 ? ceil((b - a) / c) : ceil((double)(((float)b - (float)a) / (float)c));
    if (!(cnt > 0)) cnt = 0;
    if (cnt >= 9.2e18)
      return dycl_node_error(node, DYCL_CODE_LIMIT, "Range(%g, %g, %g) would have %g elements", a, b, c, cnt);
    *n = (int64_t)cnt;
    return NULL;
  }
  if (!dycl_dtype_is_int(s->dtype))
    return dycl_node_error(node, code, "unsupported element type %s", dycl_dtype_name(s->dtype));
  int64_t a = dycl_tensor_get_i64(s, 0), b = dycl_tensor_get_i64(l, 0), c = dycl_tensor_get_i64(d, 0);
  if (c == 0) return dycl_node_error(node, code, "delta cannot be 0");
  uint64_t diff, step;
  if (c > 0) {
    if (b <= a) return *n = 0, NULL;
    diff = (uint64_t)b - (uint64_t)a;
    step = (uint64_t)c;
  } else {
    if (b >= a) return *n = 0, NULL;
    diff = (uint64_t)a - (uint64_t)b;
    step = (uint64_t)0 - (uint64_t)c;
  }
  uint64_t cnt = diff / step + (diff % step != 0);
  if (cnt > (uint64_t)INT64_MAX)
    return dycl_node_error(node, DYCL_CODE_LIMIT, "Range would have %" PRIu64 " elements", cnt);
  *n = (int64_t)cnt;
  return NULL;
}

dycl_status_t dycl_infer_Range(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_dtype_t dtype = DYCL_DTYPE_UNDEFINED;
  for (int i = 0; i < 3; i++) {
    dycl_type_t t;
    DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, i, &t));
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, k_range));
    if (i) DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, i));
    if (t.dtype) dtype = t.dtype;
    if (t.rank > 1 || (t.rank == 1 && t.dims[0].v > 1))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d must be a scalar", i);
  }
  dycl_type_t o = dycl_type_tensor(dtype, 1);
  const dycl_value_t *s = dycl_infer_const(ctx, node, 0), *l = dycl_infer_const(ctx, node, 1),
                     *d = dycl_infer_const(ctx, node, 2);
  if (s && l && d) {
    int64_t n;
    DYCL_RETURN_IF_ERROR(range_count(node, s, l, d, DYCL_CODE_INVALID_MODEL, &n));
    o.dims[0] = dycl_dim_const(n);
  }
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_Range(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, int nout) {
  (void)nout;
  for (int i = 0; i < 3; i++) DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
  int64_t n;
  DYCL_RETURN_IF_ERROR(range_count(node, in[0], in[1], in[2], DYCL_CODE_RUNTIME, &n));
  dycl_dtype_t dt = in[0]->dtype;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, 1, &n, &out[0]));
  dycl_value_t* y = out[0];
  if (dycl_dtype_is_float(dt)) {
    double a = dycl_tensor_get_f64(in[0], 0), c = dycl_tensor_get_f64(in[2], 0);
    if (dt == DYCL_DTYPE_FLOAT32) {
      float* p = y->data;
      for (int64_t i = 0; i < n; i++) p[i] = (float)(a + (double)i * c);
    } else if (dt == DYCL_DTYPE_FLOAT64) {
      double* p = y->data;
      for (int64_t i = 0; i < n; i++) p[i] = a + (double)i * c;
    } else {
      for (int64_t i = 0; i < n; i++) dycl_tensor_set_f64(y, i, a + (double)i * c);
    }
  } else {
    /* every value lies between start and limit: no overflow */
    int64_t a = dycl_tensor_get_i64(in[0], 0), c = dycl_tensor_get_i64(in[2], 0), v = a;
    if (dt == DYCL_DTYPE_INT64) {
      int64_t* p = y->data;
      for (int64_t i = 0; i < n; i++, v += (i < n ? c : 0)) p[i] = v;
    } else if (dt == DYCL_DTYPE_INT32) {
      int32_t* p = y->data;
      for (int64_t i = 0; i < n; i++, v += (i < n ? c : 0)) p[i] = (int32_t)v;
    } else {
      for (int64_t i = 0; i < n; i++, v += (i < n ? c : 0)) dycl_tensor_set_i64(y, i, v);
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------ EyeLike */

static dycl_status_t eyelike_dtype(const dycl_node_t* node, dycl_dtype_t in_dtype, dycl_dtype_t* dt) {
  *dt = in_dtype;
  const dycl_attr_t* a = dycl_node_attr(node, "dtype");
  if (!a) {
    *dt = in_dtype;
    return NULL;
  }
  int64_t v = dycl_attr_int(node, "dtype", 0);
  if (v <= 0 || v > 100 || !dycl_dtype_is_valid((int)v) || v == DYCL_DTYPE_STRING)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unsupported dtype %" PRId64, v);
  *dt = (dycl_dtype_t)v;
  return NULL;
}

dycl_status_t dycl_infer_EyeLike(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  if (t.rank >= 0 && t.rank != 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must be 2-D, not of rank %d", t.rank);
  dycl_dtype_t dt;
  DYCL_RETURN_IF_ERROR(eyelike_dtype(node, t.dtype, &dt));
  dycl_type_t o = dycl_type_tensor(dt, 2);
  if (t.rank == 2) o.dims[0] = t.dims[0], o.dims[1] = t.dims[1];
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_EyeLike(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (x->rank != 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be 2-D, not of rank %d", x->rank);
  dycl_dtype_t dt;
  DYCL_RETURN_IF_ERROR(eyelike_dtype(node, x->dtype, &dt));
  if (dt == DYCL_DTYPE_STRING) return dycl_node_error(node, DYCL_CODE_RUNTIME, "string tensors are not supported");
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, 2, x->dims, &out[0]));
  dycl_value_t* y = out[0];
  memset(y->data, 0, y->nbytes);
  int64_t k = dycl_attr_int(node, "k", 0), rows = x->dims[0], cols = x->dims[1];
  for (int64_t i = 0; i < rows; i++) {
    if (k >= cols || k <= -rows) break;
    int64_t j = i + k;
    if (j >= cols) break;
    if (j >= 0) dycl_tensor_set_i64(y, i * cols + j, 1);
  }
  return NULL;
}

/* -------------------------------------------------------------------- Trilu */

dycl_status_t dycl_infer_Trilu(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
  if (t.rank >= 0 && t.rank < 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must have rank >= 2, not %d", t.rank);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_Trilu(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (x->rank < 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must have rank >= 2, not %d", x->rank);
  const dycl_value_t* kt;
  int64_t k = 0;
  DYCL_RETURN_IF_ERROR(dycl_shape_opt_tensor(node, in, nin, 1, &kt));
  if (kt) DYCL_RETURN_IF_ERROR(scalar_i64(node, kt, "k", &k));
  bool upper = dycl_attr_int(node, "upper", 1) != 0;
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
  int64_t lim = rows + cols + 1;
  if (k > lim) k = lim;
  if (k < -lim) k = -lim;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, x->dims, &out[0]));
  dycl_value_t* y = out[0];
  dycl_shape_copy_block(y, 0, x, 0, x->numel);
  if (y->numel == 0) return NULL;
  dycl_value_t* zero = NULL;
  if (y->dtype == DYCL_DTYPE_STRING) DYCL_RETURN_IF_ERROR(zero_scalar(ctx, node, y->dtype, &zero));
  size_t esz = dycl_dtype_size(y->dtype);
  int64_t mats = y->numel / (rows * cols);
  for (int64_t m = 0; m < mats; m++) {
    for (int64_t i = 0; i < rows; i++) {
      /* zero columns [z0, z1) of row i */
      int64_t z0, z1;
      if (upper) z0 = 0, z1 = i + k; /* keep j - i >= k */
      else z0 = i + k + 1, z1 = cols; /* keep j - i <= k */
      z0 = z0 < 0 ? 0 : (z0 > cols ? cols : z0);
      z1 = z1 < 0 ? 0 : (z1 > cols ? cols : z1);
      if (z1 <= z0) continue;
      int64_t base = (m * rows + i) * cols;
      if (zero) fill_from(y, base + z0, z1 - z0, zero, 0);
      else memset((char*)y->data + (size_t)(base + z0) * esz, 0, (size_t)(z1 - z0) * esz);
    }
  }
  dycl_value_release(zero);
  return dycl_shape_finish(node, y);
}

/* ---------------------------------------------- DepthToSpace, SpaceToDepth */

static dycl_status_t block_size(const dycl_node_t* node, int64_t* b) {
  *b = dycl_attr_int(node, "blocksize", 0);
  if (*b <= 0 || *b > ((int64_t)1 << 31))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'blocksize' must be positive");
  return NULL;
}

static dycl_status_t d2s_mode(const dycl_node_t* node, bool* crd) {
  *crd = false;
  const char* m = dycl_attr_string(node, "mode", "DCR");
  if (strcmp(m, "DCR") && strcmp(m, "CRD"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown mode '%s' (expected DCR or CRD)", m);
  *crd = strcmp(m, "CRD") == 0;
  return NULL;
}

dycl_status_t dycl_infer_DepthToSpace(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  int64_t b;
  bool crd;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  DYCL_RETURN_IF_ERROR(block_size(node, &b));
  DYCL_RETURN_IF_ERROR(d2s_mode(node, &crd));
  if (t.rank >= 0 && t.rank != 4)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must be 4-D, not of rank %d", t.rank);
  dycl_type_t o = dycl_type_tensor(t.dtype, 4);
  if (t.rank == 4) {
    o.dims[0] = t.dims[0];
    if (t.dims[1].v >= 0) {
      if (t.dims[1].v % (b * b))
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "channels (%" PRId64 ") are not a multiple of blocksize^2",
                               t.dims[1].v);
      o.dims[1] = dycl_dim_const(t.dims[1].v / (b * b));
    }
    o.dims[2] = dycl_shape_dim_mul(t.dims[2], dycl_dim_const(b));
    o.dims[3] = dycl_shape_dim_mul(t.dims[3], dycl_dim_const(b));
  }
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_DepthToSpace(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                    dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int64_t b;
  bool crd;
  DYCL_RETURN_IF_ERROR(block_size(node, &b));
  DYCL_RETURN_IF_ERROR(d2s_mode(node, &crd));
  if (x->rank != 4) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be 4-D, not of rank %d", x->rank);
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
  if (C % (b * b))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "channels (%" PRId64 ") are not a multiple of blocksize^2", C);
  int64_t c = C / (b * b), dims[4] = {N, c, 0, 0};
  if (!dycl_mul_i64(H, b, &dims[2]) || !dycl_mul_i64(W, b, &dims[3]))
    return dycl_node_error(node, DYCL_CODE_LIMIT, "the output size %" PRId64 "x%" PRId64 " times blocksize %" PRId64 " overflows",
                           H, W, b);
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, 4, dims, &out[0]));
  /* the input viewed as 6-D, iterated in the output's order [N, c, H, b1, W, b2] */
  int64_t vdims[6] = {N, c, H, b, W, b}, vs[6];
  int64_t sHW = H * W;
  if (crd) { /* [N, c, b1, b2, H, W] */
    int64_t s6[6] = {C * sHW, b * b * sHW, b * sHW, sHW, W, 1};
    int64_t v[6] = {s6[0], s6[1], s6[4], s6[2], s6[5], s6[3]};
    memcpy(vs, v, sizeof vs);
  } else { /* DCR: [N, b1, b2, c, H, W] */
    int64_t s6[6] = {C * sHW, b * c * sHW, c * sHW, sHW, W, 1};
    int64_t v[6] = {s6[0], s6[3], s6[4], s6[1], s6[5], s6[2]};
    memcpy(vs, v, sizeof vs);
  }
  dycl_shape_strided_copy(out[0], 0, x, 0, 6, vdims, vs);
  return dycl_shape_finish(node, out[0]);
}

dycl_status_t dycl_infer_SpaceToDepth(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  int64_t b;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  DYCL_RETURN_IF_ERROR(block_size(node, &b));
  if (t.rank >= 0 && t.rank != 4)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must be 4-D, not of rank %d", t.rank);
  dycl_type_t o = dycl_type_tensor(t.dtype, 4);
  if (t.rank == 4) {
    o.dims[0] = t.dims[0];
    o.dims[1] = dycl_shape_dim_mul(t.dims[1], dycl_dim_const(b * b));
    for (int i = 2; i < 4; i++) {
      if (t.dims[i].v < 0) continue;
      if (t.dims[i].v % b)
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "dimension %d (%" PRId64 ") is not a multiple of blocksize",
                               i, t.dims[i].v);
      o.dims[i] = dycl_dim_const(t.dims[i].v / b);
    }
  }
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_SpaceToDepth(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                    dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int64_t b;
  DYCL_RETURN_IF_ERROR(block_size(node, &b));
  if (x->rank != 4) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be 4-D, not of rank %d", x->rank);
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
  if (H % b || W % b)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "spatial size %" PRId64 "x%" PRId64 " is not a multiple of blocksize",
                           H, W);
  int64_t h = H / b, w = W / b, cb;
  if (!dycl_mul_i64(C, b * b, &cb)) return dycl_node_error(node, DYCL_CODE_LIMIT, "channel count overflows");
  int64_t dims[4] = {N, cb, h, w};
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, 4, dims, &out[0]));
  /* input viewed as [N, C, h, b1, w, b2]; output order [N, b1, b2, C, h, w] */
  int64_t s6[6] = {C * H * W, H * W, b * W, W, b, 1};
  int64_t vdims[6] = {N, b, b, C, h, w}, vs[6] = {s6[0], s6[3], s6[5], s6[1], s6[2], s6[4]};
  dycl_shape_strided_copy(out[0], 0, x, 0, 6, vdims, vs);
  return dycl_shape_finish(node, out[0]);
}

/* ---------------------------------------------------------------------- Pad */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

static dycl_status_t pad_mode(const dycl_node_t* node, int* mode) {
  *mode = PAD_CONSTANT;
  const char* m = dycl_attr_string(node, "mode", "constant");
  if (!strcmp(m, "constant")) *mode = PAD_CONSTANT;
  else if (!strcmp(m, "reflect")) *mode = PAD_REFLECT;
  else if (!strcmp(m, "edge")) *mode = PAD_EDGE;
  else return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "unsupported pad mode '%s'", m);
  return NULL;
}

/* Pads from the attribute (before opset 11: `paddings` in opset 1, `pads` after). */
static dycl_status_t pad_attr(const dycl_node_t* node, int64_t* pads, int* n) {
  const int64_t* p = dycl_attr_ints(node, node->opset < 2 ? "paddings" : "pads", n);
  if (!p) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'pads'");
  if (*n > 2 * DYCL_MAX_RANK) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "too many pads (%d)", *n);
  memcpy(pads, p, sizeof(int64_t) * (size_t)*n);
  return NULL;
}

bool dycl_pad_spatial(const dycl_node_t* node, const dycl_value_t* pads_in, const dycl_value_t* value_in,
                      dycl_dtype_t dtype, int r, int64_t* pads, double* value) {
  if (r < 3 || r > DYCL_MAX_RANK || strcmp(dycl_attr_string(node, "mode", "constant"), "constant") != 0) return false;
  *value = 0;
  if (node->opset < 11) {
    int n = 0;
    const int64_t* p = dycl_attr_ints(node, node->opset < 2 ? "paddings" : "pads", &n);
    if (!p || n != 2 * r) return false;
    memcpy(pads, p, sizeof(int64_t) * (size_t)n);
    *value = dycl_attr_float(node, "value", 0);
  } else {
    if (node->n_in > 3 && node->in[3] >= 0) return false; /* axes */
    if (!pads_in || pads_in->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_int(pads_in->dtype) || pads_in->rank > 1 ||
        pads_in->numel != 2 * r)
      return false;
    for (int i = 0; i < 2 * r; i++) pads[i] = dycl_tensor_get_i64(pads_in, i);
    if (value_in && value_in->kind == DYCL_VALUE_TENSOR && value_in->numel > 0) {
      if (value_in->numel != 1 || value_in->dtype != dtype) return false;
      *value = dycl_tensor_get_f64(value_in, 0);
    } else if (value_in && value_in->kind != DYCL_VALUE_TENSOR) {
      return false;
    }
  }
  if (pads[0] || pads[1] || pads[r] || pads[r + 1]) return false;
  for (int i = 0; i < 2 * r; i++)
    if (pads[i] < 0) return false;
  return true;
}

dycl_status_t dycl_infer_Pad(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  int mode;
  DYCL_RETURN_IF_ERROR(pad_mode(node, &mode));
  int64_t pads[2 * DYCL_MAX_RANK];
  int n = 0;
  bool known = true;
  if (node->opset < 11) {
    DYCL_RETURN_IF_ERROR(pad_attr(node, pads, &n));
  } else {
    if (!dycl_infer_in(ctx, node, 1))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input 1 (pads) is required");
    if (dycl_infer_in(ctx, node, 3))
      return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "the axes input (opset 18) is not supported");
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
    if (dycl_infer_in(ctx, node, 2)) DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
    DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 1, pads, 2 * DYCL_MAX_RANK, &n, &known));
  }
  dycl_type_t o = dycl_type_tensor(t.dtype, t.rank);
  if (t.rank < 0 || !known) return dycl_infer_set(ctx, node, 0, &o);
  if (n != 2 * t.rank)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "pads has %d values for an input of rank %d", n, t.rank);
  for (int i = 0; i < t.rank; i++) {
    int64_t add, size;
    if (!dycl_add_i64(pads[i], pads[i + t.rank], &add))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "pads of dimension %d overflow", i);
    if (add == 0) o.dims[i] = t.dims[i];
    else if (t.dims[i].v >= 0) {
      if (!dycl_add_i64(t.dims[i].v, add, &size) || size < 0)
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "pads make dimension %d negative or overflow", i);
      o.dims[i] = dycl_dim_const(size);
    }
  }
  return dycl_infer_set(ctx, node, 0, &o);
}

/* The input index that output index o of one axis reads, or -1 for the constant. */
static int64_t pad_map(int mode, int64_t o, int64_t before, int64_t dim) {
  int64_t i = o - before;
  if (i >= 0 && i < dim) return i;
  if (mode == PAD_CONSTANT) return -1;
  if (mode == PAD_EDGE) return i < 0 ? 0 : dim - 1;
  if (dim == 1) return 0;
  int64_t p = 2 * (dim - 1);
  int64_t m = ((i % p) + p) % p;
  return m >= dim ? p - m : m;
}

dycl_status_t dycl_run_Pad(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int mode, n = 0, r = x->rank;
  DYCL_RETURN_IF_ERROR(pad_mode(node, &mode));
  int64_t pads[2 * DYCL_MAX_RANK];
  const dycl_value_t* cv = NULL;
  if (node->opset < 11) {
    DYCL_RETURN_IF_ERROR(pad_attr(node, pads, &n));
  } else {
    const dycl_value_t* axes;
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
    DYCL_RETURN_IF_ERROR(dycl_shape_opt_tensor(node, in, nin, 3, &axes));
    if (axes) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "the axes input (opset 18) is not supported");
    DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, in[1], pads, 2 * DYCL_MAX_RANK, &n));
    DYCL_RETURN_IF_ERROR(dycl_shape_opt_tensor(node, in, nin, 2, &cv));
    if (cv && cv->numel == 0) cv = NULL; /* an empty tensor means the default, 0 */
    if (cv && (cv->numel != 1 || cv->dtype != x->dtype))
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "constant_value must be one %s", dycl_dtype_name(x->dtype));
  }
  if (n != 2 * r) return dycl_node_error(node, DYCL_CODE_RUNTIME, "pads has %d values for an input of rank %d", n, r);
  int64_t dims[DYCL_MAX_RANK];
  for (int i = 0; i < r; i++) {
    if (!dycl_add_i64(x->dims[i], pads[i], &dims[i]) || !dycl_add_i64(dims[i], pads[i + r], &dims[i]) || dims[i] < 0)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "pads make dimension %d of size %" PRId64 " invalid", i,
                             x->dims[i]);
    if (mode != PAD_CONSTANT && x->dims[i] == 0 && dims[i] > 0)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot pad an empty dimension in %s mode",
                             mode == PAD_EDGE ? "edge" : "reflect");
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, r, dims, &out[0]));
  dycl_value_t* y = out[0];
  if (y->numel == 0) return NULL;
  /* the fill value as a one-element tensor of the output's dtype */
  dycl_value_t* fill = NULL;
  DYCL_RETURN_IF_ERROR(zero_scalar(ctx, node, x->dtype, &fill));
  if (cv) dycl_tensor_copy_elem(fill, 0, cv, 0);
  else if (node->opset < 11 && x->dtype != DYCL_DTYPE_STRING) dycl_tensor_set_f64(fill, 0, dycl_attr_float(node, "value", 0));
  if (r == 0) {
    dycl_shape_copy_block(y, 0, x, 0, 1);
    dycl_value_release(fill);
    return dycl_shape_finish(node, y);
  }
  /* per-axis maps from output to input index */
  int64_t total = 0, mapoff[DYCL_MAX_RANK], st[DYCL_MAX_RANK];
  for (int i = 0; i < r; i++) mapoff[i] = total, total += dims[i];
  int64_t* map = dycl_malloc(ctx->alloc, sizeof(int64_t) * (size_t)total);
  if (!map) {
    dycl_value_release(fill);
    return dycl_error_nomem();
  }
  for (int i = 0; i < r; i++)
    for (int64_t o = 0; o < dims[i]; o++) map[mapoff[i] + o] = pad_map(mode, o, pads[i], x->dims[i]);
  dycl_strides(r, x->dims, st);
  int64_t idx[DYCL_MAX_RANK] = {0}, inner = dims[r - 1], rows = y->numel / inner;
  const int64_t* lmap = map + mapoff[r - 1];
  for (int64_t row = 0, di = 0; row < rows; row++, di += inner) {
    int64_t base = 0;
    bool outside = false;
    for (int i = 0; i < r - 1; i++) {
      int64_t m = map[mapoff[i] + idx[i]];
      if (m < 0) outside = true;
      else base += m * st[i];
    }
    if (outside) {
      fill_from(y, di, inner, fill, 0);
    } else {
      for (int64_t o = 0; o < inner;) {
        int64_t m = lmap[o];
        if (m < 0) {
          int64_t e = o;
          while (e < inner && lmap[e] < 0) e++;
          fill_from(y, di + o, e - o, fill, 0);
          o = e;
          continue;
        }
        int64_t e = o + 1;
        while (e < inner && lmap[e] == lmap[e - 1] + 1) e++;
        dycl_shape_copy_block(y, di + o, x, base + m, e - o);
        o = e;
      }
    }
    for (int i = r - 2; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  dycl_free(ctx->alloc, map);
  dycl_value_release(fill);
  return dycl_shape_finish(node, y);
}

/* ------------------------------------------------------------------- OneHot */

dycl_status_t dycl_infer_OneHot(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t, v;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 2, &v));
  if (t.dtype == DYCL_DTYPE_STRING)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "indices must be numbers, not strings");
  if (v.rank >= 0 && (v.rank != 1 || (v.dims[0].v >= 0 && v.dims[0].v != 2)))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "values must be a 1-D tensor of two elements");
  dycl_type_t o = dycl_type_tensor(v.dtype, -1);
  if (t.rank >= 0) {
    int r = t.rank + 1, axis = 0;
    if (r > DYCL_MAX_RANK)
      return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %d is beyond dycl's maximum of %d", r,
                             DYCL_MAX_RANK);
    int64_t a = dycl_attr_int(node, "axis", -1);
    DYCL_RETURN_IF_ERROR(dycl_kernel_axis_code(node, DYCL_CODE_INVALID_MODEL, a, r, &axis));
    o = dycl_type_tensor(v.dtype, r);
    for (int i = 0, k = 0; i < r; i++) o.dims[i] = i == axis ? dycl_dim_unknown() : t.dims[k++];
    const dycl_value_t* d = dycl_infer_const(ctx, node, 1);
    if (d && d->kind == DYCL_VALUE_TENSOR && d->numel == 1 && d->dtype != DYCL_DTYPE_STRING) {
      int64_t depth = dycl_tensor_get_i64(d, 0);
      if (depth < 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "depth must be positive, not %" PRId64, depth);
      o.dims[axis] = dycl_dim_const(depth);
    }
  }
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_OneHot(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  for (int i = 0; i < 3; i++) DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
  const dycl_value_t *x = in[0], *vals = in[2];
  if (x->dtype == DYCL_DTYPE_STRING) return dycl_node_error(node, DYCL_CODE_RUNTIME, "indices must be numbers");
  int64_t depth = 0;
  DYCL_RETURN_IF_ERROR(scalar_i64(node, in[1], "depth", &depth));
  if (depth < 1) return dycl_node_error(node, DYCL_CODE_RUNTIME, "depth must be positive, not %" PRId64, depth);
  if (vals->numel != 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "values must hold two elements");
  int r = x->rank + 1, axis = 0;
  if (r > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %d is beyond dycl's maximum of %d", r, DYCL_MAX_RANK);
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", -1), r, &axis));
  int64_t dims[DYCL_MAX_RANK];
  for (int i = 0, k = 0; i < r; i++) dims[i] = i == axis ? depth : x->dims[k++];
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, vals->dtype, r, dims, &out[0]));
  dycl_value_t* y = out[0];
  fill_from(y, 0, y->numel, vals, 0);
  int64_t inner = 1;
  for (int i = axis + 1; i < r; i++) inner *= dims[i];
  for (int64_t e = 0; e < x->numel; e++) {
    int64_t idx = dycl_tensor_get_i64(x, e);
    if (idx < 0) idx += depth;
    if (idx < 0 || idx >= depth) continue; /* out of range: all "off" */
    int64_t outer = e / inner, in_pos = e % inner;
    dycl_tensor_copy_elem(y, (outer * depth + idx) * inner + in_pos, vals, 1);
  }
  return dycl_shape_finish(node, y);
}
