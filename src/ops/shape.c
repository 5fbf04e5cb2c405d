/* Shape operators, part 1: the helpers shared by the family (shape*.c, declared in
 * ops/shape_internal.h) and the layout operators Reshape, Flatten, Transpose, Squeeze,
 * Unsqueeze, Concat, Split, Slice, Expand and Tile.
 * These only move elements, so every element type works, strings included (copied with
 * dycl_tensor_copy_elem). Inference uses constant inputs (dycl_infer_const) to give exact shapes
 * where the model fixes them (a Reshape with a constant target, a Slice with constant bounds). */
#include <inttypes.h>
#include <string.h>

#include "ops/op.h"
#include "ops/shape_internal.h"

/* ---------------------------------------------------- helpers of the family */
/* Declared in shape_internal.h. */

dycl_status_t dycl_shape_in_type(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i, dycl_type_t* t) {
  *t = dycl_type_tensor(DYCL_DTYPE_UNDEFINED, -1);
  const dycl_type_t* s = dycl_infer_in(ctx, node, i);
  if (!s || !s->known) {
    *t = dycl_type_tensor(DYCL_DTYPE_UNDEFINED, -1);
    return NULL;
  }
  if (s->kind != DYCL_VALUE_TENSOR) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d must be a tensor", i);
  *t = *s;
  return NULL;
}

dycl_status_t dycl_shape_const_ints(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i, int64_t* buf, int max,
                                    int* n, bool* known) {
  *n = 0;
  *known = false;
  const dycl_value_t* v = dycl_infer_const(ctx, node, i);
  if (!v) return NULL;
  if (v->kind != DYCL_VALUE_TENSOR || v->rank > 1 || !dycl_dtype_is_int(v->dtype))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d must be a 1-D integer tensor, not %s of rank %d", i,
                           dycl_dtype_name(v->dtype), v->rank);
  if (v->numel > max)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "input %d has %" PRId64 " values, more than the %d dycl handles",
                           i, v->numel, max);
  for (int64_t k = 0; k < v->numel; k++) buf[k] = dycl_tensor_get_i64(v, k);
  *n = (int)v->numel;
  *known = true;
  return NULL;
}

dycl_status_t dycl_shape_opt_tensor(const dycl_node_t* node, dycl_value_t* const* in, int nin, int i,
                                    const dycl_value_t** t) {
  *t = NULL;
  if (i >= nin || !in[i]) return NULL;
  if (in[i]->kind != DYCL_VALUE_TENSOR) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d must be a tensor", i);
  *t = in[i];
  return NULL;
}

void dycl_shape_copy_block(dycl_value_t* dst, int64_t di, const dycl_value_t* src, int64_t si, int64_t n) {
  if (n <= 0) return;
  if (dst->dtype == DYCL_DTYPE_STRING) {
    for (int64_t k = 0; k < n; k++) dycl_tensor_copy_elem(dst, di + k, src, si + k);
    return;
  }
  size_t esz = dycl_dtype_size(dst->dtype);
  memcpy((char*)dst->data + (size_t)di * esz, (const char*)src->data + (size_t)si * esz, (size_t)n * esz);
}

/* dst[di + k] = src[si + k * stride] for k < n. */
static void copy_row(dycl_value_t* dst, int64_t di, const dycl_value_t* src, int64_t si, int64_t n, int64_t stride) {
  if (dst->dtype == DYCL_DTYPE_STRING) {
    for (int64_t k = 0; k < n; k++) dycl_tensor_copy_elem(dst, di + k, src, si + k * stride);
    return;
  }
  size_t esz = dycl_dtype_size(dst->dtype);
  if (stride == 1) {
    memcpy((char*)dst->data + (size_t)di * esz, (const char*)src->data + (size_t)si * esz, (size_t)n * esz);
    return;
  }
  char* d = (char*)dst->data + (size_t)di * esz;
  const char* s = (const char*)src->data;
  switch (esz) {
#define SHAPE_ROW_CASE(SZ)                                                          \
  case SZ:                                                                          \
    for (int64_t k = 0; k < n; k++) memcpy(d + k * SZ, s + (si + k * stride) * SZ, SZ); \
    break;
    SHAPE_ROW_CASE(1)
    SHAPE_ROW_CASE(2)
    SHAPE_ROW_CASE(4)
    SHAPE_ROW_CASE(8)
#undef SHAPE_ROW_CASE
    default:
      for (int64_t k = 0; k < n; k++) memcpy(d + (size_t)k * esz, s + (size_t)(si + k * stride) * esz, esz);
  }
}

void dycl_shape_strided_copy(dycl_value_t* dst, int64_t doff, const dycl_value_t* src, int64_t soff, int rank,
                             const int64_t* dims, const int64_t* strides) {
  int64_t d[SHAPE_MAX_ITER], s[SHAPE_MAX_ITER], idx[SHAPE_MAX_ITER];
  int r = 0;
  for (int i = 0; i < rank; i++) {
    if (dims[i] == 0) return;
    if (dims[i] == 1) continue;
    if (r > 0 && s[r - 1] == strides[i] * dims[i]) { /* contiguous with the previous dim: merge */
      d[r - 1] *= dims[i];
      s[r - 1] = strides[i];
      continue;
    }
    d[r] = dims[i];
    s[r] = strides[i];
    r++;
  }
  if (r == 0) {
    d[0] = 1;
    s[0] = 0;
    r = 1;
  }
  int64_t inner = d[r - 1], istride = s[r - 1], outer = 1;
  for (int i = 0; i < r - 1; i++) {
    outer *= d[i];
    idx[i] = 0;
  }
  int64_t so = soff, dd = doff;
  for (int64_t o = 0; o < outer; o++) {
    copy_row(dst, dd, src, so, inner, istride);
    dd += inner;
    for (int k = r - 2; k >= 0; k--) {
      so += s[k];
      if (++idx[k] < d[k]) break;
      so -= s[k] * d[k];
      idx[k] = 0;
    }
  }
}

dycl_status_t dycl_shape_finish(const dycl_node_t* node, const dycl_value_t* t) {
  if (!t || t->dtype != DYCL_DTYPE_STRING) return NULL;
  char* const* s = t->data;
  for (int64_t i = 0; i < t->numel; i++)
    if (!s[i]) return dycl_node_error(node, DYCL_CODE_NO_MEMORY, "out of memory copying strings");
  return NULL;
}

dycl_dim_t dycl_shape_dim_mul(dycl_dim_t a, dycl_dim_t b) {
  if (a.v == 0 || b.v == 0) return dycl_dim_const(0);
  if (a.v == 1) return b;
  if (b.v == 1) return a;
  int64_t r;
  if (a.v > 0 && b.v > 0 && dycl_mul_i64(a.v, b.v, &r)) return dycl_dim_const(r);
  return dycl_dim_unknown();
}

dycl_dim_t dycl_shape_dim_prod(const dycl_type_t* t, int a, int b) {
  dycl_dim_t p = dycl_dim_const(1);
  for (int i = a; i < b; i++) p = dycl_shape_dim_mul(p, t->dims[i]);
  return p;
}

int64_t dycl_shape_prod(const int64_t* dims, int a, int b) {
  int64_t p = 1;
  for (int i = a; i < b; i++) p *= dims[i]; /* within a tensor that exists: no overflow */
  return p;
}

/* The length of a 1-D input of type t when it is known (at most DYCL_MAX_RANK), else -1. */
static int known_len(const dycl_type_t* t) {
  return t && t->known && t->rank == 1 && t->dims[0].v >= 0 && t->dims[0].v <= DYCL_MAX_RANK ? (int)t->dims[0].v : -1;
}

static dycl_status_t need_input(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i, const char* what) {
  if (!dycl_infer_in(ctx, node, i))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d (%s) is required", i, what);
  return NULL;
}

static dycl_status_t set_out(dycl_infer_ctx_t* ctx, const dycl_node_t* node, const dycl_type_t* t) {
  return dycl_infer_set(ctx, node, 0, t);
}

/* Creates out[0] as a copy of x's elements with a new shape. */
static dycl_status_t copy_reshaped(dycl_kctx_t* ctx, const dycl_node_t* node, const dycl_value_t* x, int rank,
                                   const int64_t* dims, dycl_value_t** out) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, rank, dims, out));
  if ((*out)->numel != x->numel)
    return dycl_node_error(node, DYCL_CODE_INTERNAL, "reshape changed the element count");
  dycl_shape_copy_block(*out, 0, x, 0, x->numel);
  return dycl_shape_finish(node, *out);
}

/* ------------------------------------------------------------------ Reshape */

static dycl_status_t reshape_shape_attr(const dycl_node_t* node, int64_t* shape, int* n) {
  const int64_t* a = dycl_attr_ints(node, "shape", n);
  if (!a) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'shape'");
  if (*n > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "target rank %d is beyond dycl's maximum of %d", *n,
                           DYCL_MAX_RANK);
  memcpy(shape, a, sizeof(int64_t) * (size_t)*n);
  return NULL;
}

dycl_status_t dycl_infer_Reshape(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  int64_t shape[DYCL_MAX_RANK];
  int n = 0;
  bool known = false;
  if (node->opset < 5) {
    DYCL_RETURN_IF_ERROR(reshape_shape_attr(node, shape, &n));
    known = true;
  } else {
    DYCL_RETURN_IF_ERROR(need_input(ctx, node, 1, "shape"));
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
    DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 1, shape, DYCL_MAX_RANK, &n, &known));
  }
  dycl_type_t o = dycl_type_tensor(t.dtype, -1);
  if (!known) {
    const dycl_type_t* st = dycl_infer_in(ctx, node, 1);
    if (st && st->known && st->rank == 1 && st->dims[0].v >= 0) {
      if (st->dims[0].v > DYCL_MAX_RANK)
        return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "target rank %" PRId64 " is beyond dycl's maximum of %d",
                               st->dims[0].v, DYCL_MAX_RANK);
      o = dycl_type_tensor(t.dtype, (int)st->dims[0].v);
    }
    return set_out(ctx, node, &o);
  }
  bool allowzero = dycl_attr_int(node, "allowzero", 0) != 0;
  o = dycl_type_tensor(t.dtype, n);
  int neg = -1;
  bool has_zero = false, cancel[DYCL_MAX_RANK] = {false}, out_ok = true;
  int64_t outprod = 1;
  for (int i = 0; i < n; i++) {
    int64_t s = shape[i];
    if (s == -1) {
      if (neg >= 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "the target shape has more than one -1");
      neg = i;
    } else if (s < -1) {
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "invalid target dimension %" PRId64, s);
    } else if (s == 0 && !allowzero) {
      if (t.rank >= 0) {
        if (i >= t.rank)
          return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                                 "target dimension %d is 0 (copy the input's) but the input has rank %d", i, t.rank);
        o.dims[i] = t.dims[i];
        cancel[i] = true; /* the same dim on both sides: it cancels out of the -1 computation */
      } else {
        out_ok = false;
      }
    } else {
      if (s == 0) has_zero = true;
      o.dims[i] = dycl_dim_const(s);
      if (!dycl_mul_i64(outprod, s, &outprod)) out_ok = false;
    }
  }
  if (allowzero && has_zero && neg >= 0)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "with allowzero, the target shape cannot hold both 0 and -1");
  if (t.rank >= 0 && out_ok) {
    int64_t inprod = 1;
    bool in_ok = true;
    for (int i = 0; i < t.rank && in_ok; i++) {
      if (cancel[i]) continue;
      if (t.dims[i].v < 0 || !dycl_mul_i64(inprod, t.dims[i].v, &inprod)) in_ok = false;
    }
    if (in_ok) {
      char b1[128], b2[128];
      if (neg >= 0 && outprod != 0) {
        if (inprod % outprod)
          return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "cannot reshape %s into %s",
                                 dycl_type_str(&t, b1, sizeof b1), dycl_shape_str(n, shape, b2, sizeof b2));
        o.dims[neg] = dycl_dim_const(inprod / outprod);
      } else if (neg < 0 && inprod != outprod) {
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "cannot reshape %s into %s",
                               dycl_type_str(&t, b1, sizeof b1), dycl_shape_str(n, shape, b2, sizeof b2));
      }
    }
  }
  return set_out(ctx, node, &o);
}

dycl_status_t dycl_run_Reshape(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int64_t shape[DYCL_MAX_RANK], dims[DYCL_MAX_RANK];
  int n = 0;
  if (node->opset < 5) {
    DYCL_RETURN_IF_ERROR(reshape_shape_attr(node, shape, &n));
  } else {
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
    DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, in[1], shape, DYCL_MAX_RANK, &n));
  }
  bool allowzero = dycl_attr_int(node, "allowzero", 0) != 0;
  int neg = -1;
  bool has_zero = false;
  int64_t prod = 1;
  char b1[128], b2[128];
  for (int i = 0; i < n; i++) {
    int64_t s = shape[i];
    if (s == -1) {
      if (neg >= 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "the target shape has more than one -1");
      neg = i;
      dims[i] = 1;
      continue;
    }
    if (s < -1) return dycl_node_error(node, DYCL_CODE_RUNTIME, "invalid target dimension %" PRId64, s);
    if (s == 0 && !allowzero) {
      if (i >= x->rank)
        return dycl_node_error(node, DYCL_CODE_RUNTIME,
                               "target dimension %d is 0 (copy the input's) but the input has rank %d", i, x->rank);
      dims[i] = x->dims[i];
    } else {
      if (s == 0) has_zero = true;
      dims[i] = s;
    }
    if (!dycl_mul_i64(prod, dims[i], &prod))
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "target shape %s overflows",
                             dycl_shape_str(n, shape, b1, sizeof b1));
  }
  if (allowzero && has_zero && neg >= 0)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "with allowzero, the target shape cannot hold both 0 and -1");
  if (neg >= 0) {
    if (prod == 0 || x->numel % prod)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot reshape %s into %s",
                             dycl_shape_str(x->rank, x->dims, b1, sizeof b1), dycl_shape_str(n, shape, b2, sizeof b2));
    dims[neg] = x->numel / prod;
  } else if (prod != x->numel) {
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot reshape %s into %s",
                           dycl_shape_str(x->rank, x->dims, b1, sizeof b1), dycl_shape_str(n, shape, b2, sizeof b2));
  }
  return copy_reshaped(ctx, node, x, n, dims, &out[0]);
}

/* ------------------------------------------------------------------ Flatten */

static dycl_status_t flatten_axis(const dycl_node_t* node, int rank, int* axis) {
  int64_t a = dycl_attr_int(node, "axis", 1);
  if (a < -(int64_t)rank || a > rank)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "axis %" PRId64 " is out of range for rank %d", a, rank);
  *axis = (int)(a < 0 ? a + rank : a);
  return NULL;
}

dycl_status_t dycl_infer_Flatten(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  dycl_type_t o = dycl_type_tensor(t.dtype, 2);
  if (t.rank >= 0) {
    int axis = 0;
    DYCL_RETURN_IF_ERROR(flatten_axis(node, t.rank, &axis));
    o.dims[0] = dycl_shape_dim_prod(&t, 0, axis);
    o.dims[1] = dycl_shape_dim_prod(&t, axis, t.rank);
  }
  return set_out(ctx, node, &o);
}

dycl_status_t dycl_run_Flatten(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int axis = 0;
  DYCL_RETURN_IF_ERROR(flatten_axis(node, x->rank, &axis));
  int64_t dims[2] = {dycl_shape_prod(x->dims, 0, axis), dycl_shape_prod(x->dims, axis, x->rank)};
  return copy_reshaped(ctx, node, x, 2, dims, &out[0]);
}

/* ---------------------------------------------------------------- Transpose */

static dycl_status_t transpose_perm(const dycl_node_t* node, int rank, int* perm) {
  int n = 0;
  const int64_t* p = dycl_attr_ints(node, "perm", &n);
  if (!p) {
    for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
    return NULL;
  }
  if (n != rank)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "perm has %d entries but the input has rank %d", n, rank);
  bool seen[DYCL_MAX_RANK] = {false};
  for (int i = 0; i < n; i++) {
    int64_t v = p[i] < 0 ? p[i] + rank : p[i];
    if (v < 0 || v >= rank || seen[v])
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "perm is not a permutation of 0..%d", rank - 1);
    seen[v] = true;
    perm[i] = (int)v;
  }
  return NULL;
}

dycl_status_t dycl_infer_Transpose(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  dycl_type_t o = dycl_type_tensor(t.dtype, -1);
  if (t.rank >= 0) {
    int perm[DYCL_MAX_RANK];
    DYCL_RETURN_IF_ERROR(transpose_perm(node, t.rank, perm));
    o.rank = t.rank;
    for (int i = 0; i < t.rank; i++) o.dims[i] = t.dims[perm[i]];
  } else {
    int n = 0;
    if (dycl_attr_ints(node, "perm", &n) && n <= DYCL_MAX_RANK) o = dycl_type_tensor(t.dtype, n);
  }
  return set_out(ctx, node, &o);
}

dycl_status_t dycl_run_Transpose(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                 dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int perm[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(transpose_perm(node, x->rank, perm));
  int64_t st[DYCL_MAX_RANK], dims[DYCL_MAX_RANK], strides[DYCL_MAX_RANK];
  dycl_strides(x->rank, x->dims, st);
  for (int i = 0; i < x->rank; i++) {
    dims[i] = x->dims[perm[i]];
    strides[i] = st[perm[i]];
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, dims, &out[0]));
  dycl_shape_strided_copy(out[0], 0, x, 0, x->rank, dims, strides);
  return dycl_shape_finish(node, out[0]);
}

/* ------------------------------------------------------- Squeeze, Unsqueeze */

/* Axes of Squeeze/Unsqueeze from the attribute (before opset 13); *present: the node has it. */
static dycl_status_t sq_axes_attr(const dycl_node_t* node, int64_t* axes, int* n, bool* present) {
  const int64_t* a = dycl_attr_ints(node, "axes", n);
  if (!a) return NULL;
  if (*n > DYCL_MAX_RANK) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "too many axes (%d)", *n);
  memcpy(axes, a, sizeof(int64_t) * (size_t)*n);
  *present = true;
  return NULL;
}

/* Axes of Squeeze/Unsqueeze at inference: from the attribute before opset 13, from the constant
 * input after. *present: the node names axes at all; *known: their values are known. *count: how
 * many there are when that is known (-1 otherwise). */
static dycl_status_t sq_axes_infer(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int64_t* axes, int* n,
                                   bool* present, bool* known, int* count) {
  *n = 0;
  *present = *known = false;
  *count = -1;
  if (node->opset < 13) {
    DYCL_RETURN_IF_ERROR(sq_axes_attr(node, axes, n, present));
    *known = *present;
    if (*present) *count = *n;
    return NULL;
  }
  const dycl_type_t* at = dycl_infer_in(ctx, node, 1);
  if (!at) return NULL;
  *present = true;
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
  DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 1, axes, DYCL_MAX_RANK, n, known));
  if (*known) *count = *n;
  else if (at->known && at->rank == 1 && at->dims[0].v >= 0 && at->dims[0].v <= DYCL_MAX_RANK) *count = (int)at->dims[0].v;
  else if (at->known && at->rank == 0) *count = 1;
  return NULL;
}

static dycl_status_t sq_axes_run(const dycl_node_t* node, dycl_value_t* const* in, int nin, int64_t* axes, int* n,
                                 bool* present) {
  *n = 0;
  *present = false;
  if (node->opset < 13) return sq_axes_attr(node, axes, n, present);
  const dycl_value_t* t;
  DYCL_RETURN_IF_ERROR(dycl_shape_opt_tensor(node, in, nin, 1, &t));
  if (!t) return NULL;
  DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, t, axes, DYCL_MAX_RANK, n));
  *present = true;
  return NULL;
}

/* Marks the normalized axes (against `rank`) in `mark`; duplicates are an error. */
static dycl_status_t mark_axes(const dycl_node_t* node, const int64_t* axes, int n, int rank, bool* mark,
                               dycl_code_t code) {
  for (int i = 0; i < rank; i++) mark[i] = false;
  for (int k = 0; k < n; k++) {
    int64_t a = axes[k];
    if (a < -(int64_t)rank || a >= rank)
      return dycl_node_error(node, code, "axis %" PRId64 " is out of range for rank %d", a, rank);
    int ax = (int)(a < 0 ? a + rank : a);
    if (mark[ax]) return dycl_node_error(node, code, "axis %" PRId64 " is repeated", a);
    mark[ax] = true;
  }
  return NULL;
}

dycl_status_t dycl_infer_Squeeze(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  int64_t axes[DYCL_MAX_RANK];
  int n, count;
  bool present, known;
  DYCL_RETURN_IF_ERROR(sq_axes_infer(ctx, node, axes, &n, &present, &known, &count));
  dycl_type_t o = dycl_type_tensor(t.dtype, -1);
  if (t.rank < 0) return set_out(ctx, node, &o);
  bool mark[DYCL_MAX_RANK];
  if (present && known) {
    DYCL_RETURN_IF_ERROR(mark_axes(node, axes, n, t.rank, mark, DYCL_CODE_INVALID_MODEL));
    for (int i = 0; i < t.rank; i++)
      if (mark[i] && t.dims[i].v >= 0 && t.dims[i].v != 1)
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "cannot squeeze axis %d of size %" PRId64, i,
                               t.dims[i].v);
  } else if (present) {
    if (count >= 0 && count <= t.rank) o = dycl_type_tensor(t.dtype, t.rank - count);
    return set_out(ctx, node, &o);
  } else {
    for (int i = 0; i < t.rank; i++) {
      if (t.dims[i].v < 0) return set_out(ctx, node, &o); /* might be 1 */
      mark[i] = t.dims[i].v == 1;
    }
  }
  o.rank = 0;
  for (int i = 0; i < t.rank; i++)
    if (!mark[i]) o.dims[o.rank++] = t.dims[i];
  return set_out(ctx, node, &o);
}

dycl_status_t dycl_run_Squeeze(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int64_t axes[DYCL_MAX_RANK], dims[DYCL_MAX_RANK];
  int n;
  bool present, mark[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(sq_axes_run(node, in, nin, axes, &n, &present));
  if (present) {
    DYCL_RETURN_IF_ERROR(mark_axes(node, axes, n, x->rank, mark, DYCL_CODE_RUNTIME));
    for (int i = 0; i < x->rank; i++)
      if (mark[i] && x->dims[i] != 1)
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot squeeze axis %d of size %" PRId64, i, x->dims[i]);
  } else {
    for (int i = 0; i < x->rank; i++) mark[i] = x->dims[i] == 1;
  }
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (!mark[i]) dims[r++] = x->dims[i];
  return copy_reshaped(ctx, node, x, r, dims, &out[0]);
}

dycl_status_t dycl_infer_Unsqueeze(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  int64_t axes[DYCL_MAX_RANK];
  int n, count;
  bool present, known;
  DYCL_RETURN_IF_ERROR(sq_axes_infer(ctx, node, axes, &n, &present, &known, &count));
  if (!present) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "axes are required");
  dycl_type_t o = dycl_type_tensor(t.dtype, -1);
  if (t.rank < 0 || count < 0) return set_out(ctx, node, &o);
  int r = t.rank + count;
  if (r > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %d is beyond dycl's maximum of %d", r,
                           DYCL_MAX_RANK);
  o = dycl_type_tensor(t.dtype, r);
  if (!known) return set_out(ctx, node, &o);
  bool mark[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(mark_axes(node, axes, n, r, mark, DYCL_CODE_INVALID_MODEL));
  for (int i = 0, k = 0; i < r; i++) o.dims[i] = mark[i] ? dycl_dim_const(1) : t.dims[k++];
  return set_out(ctx, node, &o);
}

dycl_status_t dycl_run_Unsqueeze(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                 dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int64_t axes[DYCL_MAX_RANK], dims[DYCL_MAX_RANK];
  int n;
  bool present, mark[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(sq_axes_run(node, in, nin, axes, &n, &present));
  if (!present) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "axes are required");
  int r = x->rank + n;
  if (r > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %d is beyond dycl's maximum of %d", r,
                           DYCL_MAX_RANK);
  DYCL_RETURN_IF_ERROR(mark_axes(node, axes, n, r, mark, DYCL_CODE_RUNTIME));
  for (int i = 0, k = 0; i < r; i++) dims[i] = mark[i] ? 1 : x->dims[k++];
  return copy_reshaped(ctx, node, x, r, dims, &out[0]);
}

/* ------------------------------------------------------------------- Concat */

static dycl_status_t concat_axis_attr(const dycl_node_t* node, int64_t* axis) {
  *axis = 1;
  if (!dycl_node_attr(node, "axis")) {
    if (node->opset >= 4) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'axis'");
    *axis = 1;
    return NULL;
  }
  *axis = dycl_attr_int(node, "axis", 1);
  return NULL;
}

dycl_status_t dycl_infer_Concat(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  int64_t a;
  DYCL_RETURN_IF_ERROR(concat_axis_attr(node, &a));
  dycl_dtype_t dtype = DYCL_DTYPE_UNDEFINED;
  int rank = -1, first = -1;
  for (int i = 0; i < node->n_in; i++) {
    dycl_type_t t;
    DYCL_RETURN_IF_ERROR(need_input(ctx, node, i, "data"));
    DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, i, &t));
    if (first < 0) first = i;
    else DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, first, i));
    if (t.dtype) dtype = t.dtype;
    if (t.rank >= 0) {
      if (rank >= 0 && t.rank != rank)
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "inputs have different ranks (%d and %d)", rank, t.rank);
      rank = t.rank;
    }
  }
  dycl_type_t o = dycl_type_tensor(dtype, rank);
  if (rank < 0) return set_out(ctx, node, &o);
  if (rank == 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "cannot concatenate scalars");
  int axis;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis_code(node, DYCL_CODE_INVALID_MODEL, a, rank, &axis));
  if (node->n_in == 1) {
    dycl_type_t t;
    DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
    t.dtype = dtype;
    return set_out(ctx, node, &t);
  }
  dycl_dim_t sum = dycl_dim_const(0);
  for (int d = 0; d < rank; d++) {
    dycl_dim_t res = dycl_dim_unknown();
    for (int i = 0; i < node->n_in; i++) {
      dycl_type_t t;
      DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, i, &t));
      if (d == axis) {
        if (t.rank < 0 || t.dims[d].v < 0 || sum.v < 0 || !dycl_add_i64(sum.v, t.dims[d].v, &sum.v))
          sum = dycl_dim_unknown();
        continue;
      }
      if (t.rank < 0) continue;
      dycl_dim_t dd = t.dims[d];
      if (dd.v >= 0) {
        if (res.v >= 0 && res.v != dd.v)
          return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                                 "input %d has size %" PRId64 " on dimension %d where others have %" PRId64, i, dd.v, d,
                                 res.v);
        res = dd;
      } else if (res.v < 0 && res.sym == 0 && dd.sym > 0) {
        res = dd;
      }
    }
    o.dims[d] = d == axis ? sum : res;
  }
  return set_out(ctx, node, &o);
}

dycl_status_t dycl_run_Concat(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  int64_t a;
  DYCL_RETURN_IF_ERROR(concat_axis_attr(node, &a));
  for (int i = 0; i < nin; i++) DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
  if (nin < 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "no inputs");
  const dycl_value_t* x0 = in[0];
  int rank = x0->rank, axis;
  if (rank == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot concatenate scalars");
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, a, rank, &axis));
  int64_t dims[DYCL_MAX_RANK];
  memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)rank);
  dims[axis] = 0;
  for (int i = 0; i < nin; i++) {
    const dycl_value_t* x = in[i];
    bool ok = x->dtype == x0->dtype && x->rank == rank;
    for (int d = 0; ok && d < rank; d++)
      if (d != axis && x->dims[d] != x0->dims[d]) ok = false;
    if (!ok) {
      char b1[128], b2[128];
      return dycl_node_error(node, DYCL_CODE_RUNTIME,
                             "input %d (%s%s) does not match input 0 (%s%s) outside the concatenation axis %d", i,
                             dycl_dtype_name(x->dtype), dycl_shape_str(x->rank, x->dims, b1, sizeof b1),
                             dycl_dtype_name(x0->dtype), dycl_shape_str(rank, x0->dims, b2, sizeof b2), axis);
    }
    if (!dycl_add_i64(dims[axis], x->dims[axis], &dims[axis]))
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "concatenated size overflows");
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x0->dtype, rank, dims, &out[0]));
  dycl_value_t* y = out[0];
  if (y->numel == 0) return NULL;
  int64_t outer = dycl_shape_prod(dims, 0, axis), inner = dycl_shape_prod(dims, axis + 1, rank);
  int64_t ychunk = dims[axis] * inner, off = 0;
  for (int i = 0; i < nin; i++) {
    int64_t chunk = in[i]->dims[axis] * inner;
    for (int64_t o = 0; o < outer; o++) dycl_shape_copy_block(y, o * ychunk + off, in[i], o * chunk, chunk);
    off += chunk;
  }
  return dycl_shape_finish(node, y);
}

/* -------------------------------------------------------------------- Split */

dycl_status_t dycl_infer_Split(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  int nout = node->n_out;
  dycl_type_t o = dycl_type_tensor(t.dtype, t.rank);
  if (t.rank == 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "cannot split a scalar");
  int64_t a = dycl_attr_int(node, "axis", 0);
  int axis = 0;
  if (t.rank > 0) DYCL_RETURN_IF_ERROR(dycl_kernel_axis_code(node, DYCL_CODE_INVALID_MODEL, a, t.rank, &axis));
  /* split sizes: the input (opset 13, and opset 1), else the attribute (before 13) */
  const int64_t* sizes = NULL;
  int n = 0;
  bool given = false, known = false;
  const dycl_value_t* sc = NULL;
  if (dycl_infer_in(ctx, node, 1)) {
    given = true;
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
    sc = dycl_infer_const(ctx, node, 1);
    if (sc) {
      if (sc->kind != DYCL_VALUE_TENSOR || sc->rank > 1 || sc->dtype != DYCL_DTYPE_INT64)
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "split must be a 1-D int64 tensor");
      sizes = sc->data;
      n = (int)sc->numel;
      known = true;
    }
  } else if (node->opset < 13 && (sizes = dycl_attr_ints(node, "split", &n)) != NULL) {
    given = known = true;
  }
  if (known) {
    if (n != nout)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "split has %d sizes for %d outputs", n, nout);
    int64_t sum = 0;
    for (int j = 0; j < n; j++) {
      if (sizes[j] < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "negative split size %" PRId64, sizes[j]);
      if (!dycl_add_i64(sum, sizes[j], &sum)) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "split overflows");
    }
    if (t.rank > 0 && t.dims[axis].v >= 0 && sum != t.dims[axis].v)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "split sizes add up to %" PRId64 ", not to the axis size %" PRId64,
                             sum, t.dims[axis].v);
  } else if (!given && t.rank > 0 && t.dims[axis].v >= 0 && t.dims[axis].v % nout) {
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "cannot split axis size %" PRId64 " into %d equal parts",
                           t.dims[axis].v, nout);
  }
  for (int j = 0; j < nout; j++) {
    dycl_type_t u = o;
    if (t.rank > 0) {
      for (int d = 0; d < t.rank; d++) u.dims[d] = t.dims[d];
      if (known) u.dims[axis] = dycl_dim_const(sizes[j]);
      else if (!given && nout == 1) u.dims[axis] = t.dims[axis];
      else if (!given && t.dims[axis].v >= 0) u.dims[axis] = dycl_dim_const(t.dims[axis].v / nout);
      else u.dims[axis] = dycl_dim_unknown();
    }
    DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &u));
  }
  return NULL;
}

dycl_status_t dycl_run_Split(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, int nout) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (x->rank == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot split a scalar");
  if (nout < 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "no outputs");
  int axis = 0;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", 0), x->rank, &axis));
  int64_t dim = x->dims[axis];
  const dycl_value_t* st;
  DYCL_RETURN_IF_ERROR(dycl_shape_opt_tensor(node, in, nin, 1, &st));
  int n = 0;
  const int64_t* attr = node->opset < 13 && !st ? dycl_attr_ints(node, "split", &n) : NULL;
  int64_t* sizes = dycl_calloc(ctx->alloc, (size_t)nout, sizeof(int64_t));
  if (!sizes) return dycl_error_nomem();
  dycl_status_t s = NULL;
  if (st || attr) {
    if (st) {
      if (st->rank > 1 || !dycl_dtype_is_int(st->dtype)) {
        s = dycl_node_error(node, DYCL_CODE_RUNTIME, "split must be a 1-D integer tensor");
        goto done;
      }
      n = (int)(st->numel > nout ? nout + 1 : st->numel);
    }
    if (n != nout) {
      s = dycl_node_error(node, DYCL_CODE_RUNTIME, "split has %d sizes for %d outputs", n, nout);
      goto done;
    }
    int64_t sum = 0;
    for (int j = 0; j < nout; j++) {
      sizes[j] = st ? dycl_tensor_get_i64(st, j) : attr[j];
      if (sizes[j] < 0 || !dycl_add_i64(sum, sizes[j], &sum)) {
        s = dycl_node_error(node, DYCL_CODE_RUNTIME, "invalid split size %" PRId64, sizes[j]);
        goto done;
      }
    }
    if (sum != dim) {
      s = dycl_node_error(node, DYCL_CODE_RUNTIME, "split sizes add up to %" PRId64 ", not to the axis size %" PRId64, sum,
                          dim);
      goto done;
    }
  } else {
    if (dim % nout) {
      s = dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot split axis size %" PRId64 " into %d equal parts", dim, nout);
      goto done;
    }
    for (int j = 0; j < nout; j++) sizes[j] = dim / nout;
  }
  int64_t outer = dycl_shape_prod(x->dims, 0, axis), inner = dycl_shape_prod(x->dims, axis + 1, x->rank), start = 0;
  for (int j = 0; j < nout; j++) {
    if (node->out[j] >= 0) {
      int64_t dims[DYCL_MAX_RANK];
      memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
      dims[axis] = sizes[j];
      DYCL_GOTO_IF_ERROR(s, dycl_kernel_tensor(ctx, node, x->dtype, x->rank, dims, &out[j]), done);
      int64_t chunk = sizes[j] * inner;
      for (int64_t o = 0; o < outer; o++) dycl_shape_copy_block(out[j], o * chunk, x, o * dim * inner + start * inner, chunk);
      DYCL_GOTO_IF_ERROR(s, dycl_shape_finish(node, out[j]), done);
    }
    start += sizes[j];
  }
done:
  dycl_free(ctx->alloc, sizes);
  return s;
}

/* -------------------------------------------------------------------- Slice */

/* One axis of a slice: the first index and the length, with ONNX's clamping. */
static void slice_axis(int64_t dim, int64_t s, int64_t e, int64_t step, int64_t* start, int64_t* len) {
  if (s < 0) s += dim; /* no overflow: dim >= 0 */
  if (e < 0) e += dim;
  if (dim == 0) {
    *start = 0;
    *len = 0;
    return;
  }
  if (step > 0) {
    s = s < 0 ? 0 : (s > dim ? dim : s);
    e = e < 0 ? 0 : (e > dim ? dim : e);
    *start = s;
    *len = e > s ? (e - s - 1) / step + 1 : 0;
  } else {
    s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
    e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
    uint64_t ustep = (uint64_t)0 - (uint64_t)step;
    *start = s;
    *len = s > e ? (int64_t)((uint64_t)(s - e - 1) / ustep + 1) : 0;
  }
}

typedef dycl_slice_args_t slice_args_t;

/* Checks counts and turns axes into normalized, distinct axis numbers. */
static dycl_status_t slice_check(const dycl_node_t* node, slice_args_t* sa, int ne, int na, int nst, int rank,
                                 dycl_code_t code) {
  if (ne != sa->n) return dycl_node_error(node, code, "starts has %d values but ends has %d", sa->n, ne);
  if (sa->has_axes && na != sa->n) return dycl_node_error(node, code, "starts has %d values but axes has %d", sa->n, na);
  if (sa->has_steps && nst != sa->n) return dycl_node_error(node, code, "starts has %d values but steps has %d", sa->n, nst);
  if (!sa->has_axes) {
    if (sa->n > rank) return dycl_node_error(node, code, "%d starts for an input of rank %d", sa->n, rank);
    for (int k = 0; k < sa->n; k++) sa->axes[k] = k;
  }
  bool mark[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(mark_axes(node, sa->axes, sa->n, rank, mark, code));
  for (int k = 0; k < sa->n; k++) {
    if (sa->axes[k] < 0) sa->axes[k] += rank;
    if (!sa->has_steps) sa->steps[k] = 1;
    if (sa->steps[k] == 0) return dycl_node_error(node, code, "slice step cannot be 0");
  }
  return NULL;
}

static dycl_status_t slice_attrs(const dycl_node_t* node, slice_args_t* sa, int* ne, int* na) {
  int ns = 0;
  const int64_t* s = dycl_attr_ints(node, "starts", &ns);
  const int64_t* e = dycl_attr_ints(node, "ends", ne);
  const int64_t* a = dycl_attr_ints(node, "axes", na);
  if (!s || !e) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'starts' or 'ends'");
  if (ns > DYCL_MAX_RANK || *ne > DYCL_MAX_RANK || *na > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "too many slice axes");
  sa->n = ns;
  memcpy(sa->starts, s, sizeof(int64_t) * (size_t)ns);
  memcpy(sa->ends, e, sizeof(int64_t) * (size_t)*ne);
  if (a) memcpy(sa->axes, a, sizeof(int64_t) * (size_t)*na);
  sa->has_axes = a != NULL;
  sa->has_steps = false;
  return NULL;
}

/* An unknown dim sliced by a bound this large keeps its size (no real tensor has 2^62 elements
 * on one axis). */
#define SLICE_HUGE ((int64_t)1 << 62)

dycl_status_t dycl_infer_Slice(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  slice_args_t sa;
  memset(&sa, 0, sizeof sa);
  int ne = 0, na = 0, nst = 0;
  bool starts_k = true, ends_k = true, axes_k = true, steps_k = true;
  if (node->opset < 10) {
    DYCL_RETURN_IF_ERROR(slice_attrs(node, &sa, &ne, &na));
  } else {
    DYCL_RETURN_IF_ERROR(need_input(ctx, node, 1, "starts"));
    DYCL_RETURN_IF_ERROR(need_input(ctx, node, 2, "ends"));
    for (int i = 1; i <= 4; i++) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, dycl_dtypes_index));
    DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 1, sa.starts, DYCL_MAX_RANK, &sa.n, &starts_k));
    DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 2, sa.ends, DYCL_MAX_RANK, &ne, &ends_k));
    sa.has_axes = dycl_infer_in(ctx, node, 3) != NULL;
    sa.has_steps = dycl_infer_in(ctx, node, 4) != NULL;
    if (sa.has_axes) DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 3, sa.axes, DYCL_MAX_RANK, &na, &axes_k));
    if (sa.has_steps) DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 4, sa.steps, DYCL_MAX_RANK, &nst, &steps_k));
    if (!starts_k) { /* the count may still be known from the type */
      sa.n = known_len(dycl_infer_in(ctx, node, 1));
      if (ends_k && sa.n < 0) sa.n = ne;
      if (!ends_k) ne = sa.n;
    } else if (!ends_k) {
      ne = sa.n;
    }
    if (!axes_k) na = sa.n;
    if (!steps_k) nst = sa.n;
  }
  dycl_type_t o = t;
  if (t.rank < 0 || !axes_k || sa.n < 0) {
    o = dycl_type_tensor(t.dtype, t.rank);
    return set_out(ctx, node, &o);
  }
  DYCL_RETURN_IF_ERROR(slice_check(node, &sa, ne, na, nst, t.rank, DYCL_CODE_INVALID_MODEL));
  for (int k = 0; k < sa.n; k++) {
    int ax = (int)sa.axes[k];
    if (!starts_k || !ends_k || !steps_k) {
      o.dims[ax] = dycl_dim_unknown();
      continue;
    }
    int64_t s = sa.starts[k], e = sa.ends[k], step = sa.steps[k];
    if (t.dims[ax].v >= 0) {
      int64_t start, len;
      slice_axis(t.dims[ax].v, s, e, step, &start, &len);
      o.dims[ax] = dycl_dim_const(len);
    } else if ((step == 1 && s == 0 && e >= SLICE_HUGE) ||
               (step == -1 && (s == -1 || s >= SLICE_HUGE) && e <= -SLICE_HUGE)) {
      o.dims[ax] = t.dims[ax]; /* the whole axis, forwards or reversed */
    } else {
      o.dims[ax] = dycl_dim_unknown();
    }
  }
  return set_out(ctx, node, &o);
}

dycl_status_t dycl_slice_read(const dycl_node_t* node, dycl_value_t* const* in, int nin, int rank,
                              dycl_slice_args_t* sa) {
  memset(sa, 0, sizeof *sa);
  int ne = 0, na = 0, nst = 0;
  if (node->opset < 10) {
    DYCL_RETURN_IF_ERROR(slice_attrs(node, sa, &ne, &na));
  } else {
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 2));
    DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, in[1], sa->starts, DYCL_MAX_RANK, &sa->n));
    DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, in[2], sa->ends, DYCL_MAX_RANK, &ne));
    const dycl_value_t *at, *pt;
    DYCL_RETURN_IF_ERROR(dycl_shape_opt_tensor(node, in, nin, 3, &at));
    DYCL_RETURN_IF_ERROR(dycl_shape_opt_tensor(node, in, nin, 4, &pt));
    if (at) DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, at, sa->axes, DYCL_MAX_RANK, &na));
    if (pt) DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, pt, sa->steps, DYCL_MAX_RANK, &nst));
    sa->has_axes = at != NULL;
    sa->has_steps = pt != NULL;
  }
  return slice_check(node, sa, ne, na, nst, rank, DYCL_CODE_RUNTIME);
}

int64_t dycl_slice_view(const dycl_slice_args_t* sa, int rank, const int64_t* dims, int64_t* vdims, int64_t* vstrides) {
  int64_t st[DYCL_MAX_RANK], off = 0;
  dycl_strides(rank, dims, st);
  for (int i = 0; i < rank; i++) {
    vdims[i] = dims[i];
    vstrides[i] = st[i];
  }
  for (int k = 0; k < sa->n; k++) {
    int ax = (int)sa->axes[k];
    int64_t start, len;
    slice_axis(dims[ax], sa->starts[k], sa->ends[k], sa->steps[k], &start, &len);
    vdims[ax] = len;
    if (len > 0) {
      off += start * st[ax];
      vstrides[ax] = sa->steps[k] * st[ax]; /* |step| * stride stays within the tensor when len > 1 */
      if (len == 1) vstrides[ax] = 0;
    }
  }
  return off;
}

dycl_status_t dycl_run_Slice(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  slice_args_t sa;
  DYCL_RETURN_IF_ERROR(dycl_slice_read(node, in, nin, x->rank, &sa));
  int64_t dims[DYCL_MAX_RANK], strides[DYCL_MAX_RANK];
  int64_t off = dycl_slice_view(&sa, x->rank, x->dims, dims, strides);
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, dims, &out[0]));
  dycl_shape_strided_copy(out[0], 0, x, off, x->rank, dims, strides);
  return dycl_shape_finish(node, out[0]);
}

/* ------------------------------------------------------------------- Expand */

dycl_status_t dycl_infer_Expand(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
  int64_t shape[DYCL_MAX_RANK];
  int n = 0;
  bool known;
  DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 1, shape, DYCL_MAX_RANK, &n, &known));
  if (!known) n = known_len(dycl_infer_in(ctx, node, 1));
  dycl_type_t o = dycl_type_tensor(t.dtype, -1);
  if (t.rank < 0 || n < 0) return set_out(ctx, node, &o);
  int r = t.rank > n ? t.rank : n;
  o = dycl_type_tensor(t.dtype, r);
  for (int i = 0; i < r; i++) {
    int ti = i - (r - t.rank), si = i - (r - n);
    dycl_dim_t a = ti >= 0 ? t.dims[ti] : dycl_dim_const(1);
    if (!known) {
      o.dims[i] = a.v > 1 ? a : dycl_dim_unknown(); /* a known non-1 size only broadcasts with 1 or itself */
      continue;
    }
    int64_t b = si >= 0 ? shape[si] : 1;
    if (b < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "negative dimension %" PRId64 " in the shape", b);
    if (b == 1) o.dims[i] = a;
    else if (a.v == 1 || a.v == b) o.dims[i] = dycl_dim_const(b);
    else if (a.v >= 0)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "cannot expand dimension %d of size %" PRId64 " to %" PRId64,
                             i, a.v, b);
    else o.dims[i] = dycl_dim_const(b); /* if it runs, the unknown input dim is 1 or b */
  }
  return set_out(ctx, node, &o);
}

dycl_status_t dycl_run_Expand(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t* x = in[0];
  int64_t shape[DYCL_MAX_RANK], dims[DYCL_MAX_RANK], strides[DYCL_MAX_RANK], st[DYCL_MAX_RANK];
  int n;
  DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, in[1], shape, DYCL_MAX_RANK, &n));
  int r = x->rank > n ? x->rank : n;
  dycl_strides(x->rank, x->dims, st);
  for (int i = 0; i < r; i++) {
    int xi = i - (r - x->rank), si = i - (r - n);
    int64_t a = xi >= 0 ? x->dims[xi] : 1, b = si >= 0 ? shape[si] : 1;
    if (b < 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "negative dimension %" PRId64 " in the shape", b);
    if (a == b || b == 1) dims[i] = a;
    else if (a == 1) dims[i] = b;
    else {
      char b1[128], b2[128];
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot expand %s to %s",
                             dycl_shape_str(x->rank, x->dims, b1, sizeof b1), dycl_shape_str(n, shape, b2, sizeof b2));
    }
    strides[i] = (xi < 0 || a == 1) ? 0 : st[xi];
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, r, dims, &out[0]));
  dycl_shape_strided_copy(out[0], 0, x, 0, r, dims, strides);
  return dycl_shape_finish(node, out[0]);
}

/* --------------------------------------------------------------------- Tile */

dycl_status_t dycl_infer_Tile(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  dycl_type_t o = dycl_type_tensor(t.dtype, t.rank);
  if (node->opset < 6 && dycl_infer_in(ctx, node, 2)) return set_out(ctx, node, &o); /* Tile-1: tiles, axis */
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
  int64_t rep[DYCL_MAX_RANK];
  int n;
  bool known;
  DYCL_RETURN_IF_ERROR(dycl_shape_const_ints(ctx, node, 1, rep, DYCL_MAX_RANK, &n, &known));
  if (!known || t.rank < 0) return set_out(ctx, node, &o);
  if (n != t.rank)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "repeats has %d values for an input of rank %d", n, t.rank);
  for (int i = 0; i < n; i++) {
    if (rep[i] < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "negative repeat %" PRId64, rep[i]);
    o.dims[i] = dycl_shape_dim_mul(t.dims[i], dycl_dim_const(rep[i]));
  }
  return set_out(ctx, node, &o);
}

dycl_status_t dycl_run_Tile(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t* x = in[0];
  int64_t rep[DYCL_MAX_RANK];
  int n;
  const dycl_value_t* axis_t;
  DYCL_RETURN_IF_ERROR(dycl_shape_opt_tensor(node, in, nin, 2, &axis_t));
  if (node->opset < 6 && axis_t) { /* Tile-1: `tiles` copies along `axis` */
    int64_t tiles[1], ax[1];
    int k1, k2, axis;
    DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, in[1], tiles, 1, &k1));
    DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, axis_t, ax, 1, &k2));
    if (k1 != 1 || k2 != 1) return dycl_node_error(node, DYCL_CODE_RUNTIME, "tiles and axis must be scalars");
    DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, ax[0], x->rank, &axis));
    n = x->rank;
    for (int i = 0; i < n; i++) rep[i] = i == axis ? tiles[0] : 1;
  } else {
    DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, in[1], rep, DYCL_MAX_RANK, &n));
  }
  if (n != x->rank)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "repeats has %d values for an input of rank %d", n, x->rank);
  int64_t dims[DYCL_MAX_RANK], st[DYCL_MAX_RANK], vdims[SHAPE_MAX_ITER], vstrides[SHAPE_MAX_ITER];
  dycl_strides(x->rank, x->dims, st);
  for (int i = 0; i < n; i++) {
    if (rep[i] < 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "negative repeat %" PRId64, rep[i]);
    if (!dycl_mul_i64(x->dims[i], rep[i], &dims[i]))
      return dycl_node_error(node, DYCL_CODE_LIMIT, "tiled dimension %d overflows", i);
    vdims[2 * i] = rep[i];
    vstrides[2 * i] = 0;
    vdims[2 * i + 1] = x->dims[i];
    vstrides[2 * i + 1] = st[i];
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, n, dims, &out[0]));
  dycl_shape_strided_copy(out[0], 0, x, 0, 2 * n, vdims, vstrides);
  return dycl_shape_finish(node, out[0]);
}
