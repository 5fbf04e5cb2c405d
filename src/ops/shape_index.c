/* Shape operators, part 3: indexing. Gather, GatherElements, GatherND, Scatter (opset 9-10),
 * ScatterElements, ScatterND, Compress, NonZero, ReverseSequence and Unique.
 * Indices may be negative (counted from the end); an index out of range is an error naming the
 * node, never an out-of-bounds access. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "ops/shape_internal.h"

static dycl_status_t need_int_tensor(const dycl_node_t* node, dycl_value_t* const* in, int nin, int i,
                                     const char* what) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
  if (!dycl_dtype_is_int(in[i]->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "%s must be integers, not %s", what, dycl_dtype_name(in[i]->dtype));
  return NULL;
}

/* Normalizes index v (negative counts from the end) against dim; false when out of range. */
static inline bool norm_index(int64_t* v, int64_t dim) {
  if (*v < 0) *v += dim;
  return *v >= 0 && *v < dim;
}

static dycl_status_t index_error(const dycl_node_t* node, int64_t v, int64_t dim, int axis) {
  return dycl_node_error(node, DYCL_CODE_RUNTIME, "index %" PRId64 " is out of range for axis %d of size %" PRId64, v,
                         axis, dim);
}

/* The `axis` attribute (default 0) normalized against rank, at inference. */
static dycl_status_t infer_axis(const dycl_node_t* node, int rank, int* axis) {
  return dycl_kernel_axis_code(node, DYCL_CODE_INVALID_MODEL, dycl_attr_int(node, "axis", 0), rank, axis);
}

/* The types of data (input 0) and indices (input 1, of an `allowed` dtype) at inference. */
static dycl_status_t infer_data_indices(dycl_infer_ctx_t* ctx, const dycl_node_t* node, const dycl_dtype_t* allowed,
                                        dycl_type_t* t, dycl_type_t* q) {
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, t));
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 1, q));
  return dycl_infer_check_dtype(ctx, node, 1, allowed);
}

/* ------------------------------------------------------------------- Gather */

dycl_status_t dycl_infer_Gather(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t, q;
  DYCL_RETURN_IF_ERROR(infer_data_indices(ctx, node, dycl_dtypes_index, &t, &q));
  dycl_type_t o = dycl_type_tensor(t.dtype, -1);
  if (t.rank == 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "cannot gather from a scalar");
  if (t.rank < 0) return dycl_infer_set(ctx, node, 0, &o);
  int axis = 0;
  DYCL_RETURN_IF_ERROR(infer_axis(node, t.rank, &axis));
  /* constant indices: check them against a known axis size */
  const dycl_value_t* c = dycl_infer_const(ctx, node, 1);
  if (c && c->kind == DYCL_VALUE_TENSOR && dycl_dtype_is_int(c->dtype) && t.dims[axis].v >= 0) {
    for (int64_t e = 0; e < c->numel; e++) {
      int64_t v = dycl_tensor_get_i64(c, e);
      if (!norm_index(&v, t.dims[axis].v))
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "index %" PRId64 " is out of range for axis %d of size %" PRId64,
                               dycl_tensor_get_i64(c, e), axis, t.dims[axis].v);
    }
  }
  if (q.rank < 0) return dycl_infer_set(ctx, node, 0, &o);
  int r = t.rank + q.rank - 1;
  if (r > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %d is beyond dycl's maximum of %d", r, DYCL_MAX_RANK);
  o = dycl_type_tensor(t.dtype, r);
  int k = 0;
  for (int i = 0; i < axis; i++) o.dims[k++] = t.dims[i];
  for (int i = 0; i < q.rank; i++) o.dims[k++] = q.dims[i];
  for (int i = axis + 1; i < t.rank; i++) o.dims[k++] = t.dims[i];
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_Gather(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(need_int_tensor(node, in, nin, 1, "indices"));
  const dycl_value_t *x = in[0], *ind = in[1];
  if (x->rank == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot gather from a scalar");
  int axis = 0;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", 0), x->rank, &axis));
  int r = x->rank + ind->rank - 1;
  if (r > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %d is beyond dycl's maximum of %d", r, DYCL_MAX_RANK);
  int64_t dims[DYCL_MAX_RANK];
  int k = 0;
  for (int i = 0; i < axis; i++) dims[k++] = x->dims[i];
  for (int i = 0; i < ind->rank; i++) dims[k++] = ind->dims[i];
  for (int i = axis + 1; i < x->rank; i++) dims[k++] = x->dims[i];
  int64_t dim = x->dims[axis], nidx = ind->numel;
  /* read and check every index before creating the output */
  int64_t* idx = dycl_malloc(ctx->alloc, sizeof(int64_t) * (size_t)(nidx ? nidx : 1));
  if (!idx) return dycl_error_nomem();
  for (int64_t e = 0; e < nidx; e++) {
    int64_t v = dycl_tensor_get_i64(ind, e);
    idx[e] = v;
    if (!norm_index(&idx[e], dim)) {
      dycl_free(ctx->alloc, idx);
      return index_error(node, v, dim, axis);
    }
  }
  dycl_status_t s = dycl_kernel_tensor(ctx, node, x->dtype, r, dims, &out[0]);
  if (!s) {
    dycl_value_t* y = out[0];
    int64_t outer = dycl_shape_prod(x->dims, 0, axis), inner = dycl_shape_prod(x->dims, axis + 1, x->rank);
    if (y->numel > 0) {
      for (int64_t o = 0; o < outer; o++)
        for (int64_t e = 0; e < nidx; e++)
          dycl_shape_copy_block(y, (o * nidx + e) * inner, x, (o * dim + idx[e]) * inner, inner);
    }
    s = dycl_shape_finish(node, y);
  }
  dycl_free(ctx->alloc, idx);
  return s;
}

/* ----------------------------------------------------------- GatherElements */

dycl_status_t dycl_infer_GatherElements(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t, q;
  DYCL_RETURN_IF_ERROR(infer_data_indices(ctx, node, dycl_dtypes_index, &t, &q));
  if (t.rank >= 0 && q.rank >= 0 && t.rank != q.rank)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "data has rank %d but indices rank %d", t.rank, q.rank);
  int rank = t.rank >= 0 ? t.rank : q.rank, axis = 0;
  if (rank == 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "inputs must have rank >= 1");
  if (rank > 0) DYCL_RETURN_IF_ERROR(infer_axis(node, rank, &axis));
  dycl_type_t o = q;
  o.dtype = t.dtype;
  if (q.rank < 0) o = dycl_type_tensor(t.dtype, rank);
  return dycl_infer_set(ctx, node, 0, &o);
}

/* Checks the shapes of data and indices for the element-wise gather/scatter. */
static dycl_status_t elements_check(const dycl_node_t* node, const dycl_value_t* x, const dycl_value_t* ind, int* axis) {
  if (x->rank != ind->rank || x->rank == 0)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "data (rank %d) and indices (rank %d) must have the same rank, at least 1",
                           x->rank, ind->rank);
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", 0), x->rank, axis));
  for (int d = 0; d < x->rank; d++)
    if (d != *axis && ind->dims[d] > x->dims[d]) {
      char b1[128], b2[128];
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "indices of shape %s do not fit data of shape %s",
                             dycl_shape_str(ind->rank, ind->dims, b1, sizeof b1),
                             dycl_shape_str(x->rank, x->dims, b2, sizeof b2));
    }
  return NULL;
}

/* Element offsets into x for every element of ind (element-wise gather/scatter). */
static dycl_status_t elements_offsets(dycl_kctx_t* ctx, const dycl_node_t* node, const dycl_value_t* x,
                                      const dycl_value_t* ind, int axis, int64_t** out) {
  int r = x->rank;
  int64_t xs[DYCL_MAX_RANK], idx[DYCL_MAX_RANK] = {0}, base = 0, dim = x->dims[axis];
  dycl_strides(r, x->dims, xs);
  int64_t* offs = dycl_malloc(ctx->alloc, sizeof(int64_t) * (size_t)(ind->numel ? ind->numel : 1));
  if (!offs) return dycl_error_nomem();
  for (int64_t e = 0; e < ind->numel; e++) {
    int64_t v = dycl_tensor_get_i64(ind, e), k = v;
    if (!norm_index(&k, dim)) {
      dycl_free(ctx->alloc, offs);
      return index_error(node, v, dim, axis);
    }
    offs[e] = base + k * xs[axis];
    for (int d = r - 1; d >= 0; d--) {
      if (d != axis) base += xs[d];
      if (++idx[d] < ind->dims[d]) break;
      if (d != axis) base -= xs[d] * ind->dims[d];
      idx[d] = 0;
    }
  }
  *out = offs;
  return NULL;
}

dycl_status_t dycl_run_GatherElements(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                      dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(need_int_tensor(node, in, nin, 1, "indices"));
  const dycl_value_t *x = in[0], *ind = in[1];
  int axis = 0;
  DYCL_RETURN_IF_ERROR(elements_check(node, x, ind, &axis));
  int64_t* offs;
  DYCL_RETURN_IF_ERROR(elements_offsets(ctx, node, x, ind, axis, &offs));
  dycl_status_t s = dycl_kernel_tensor(ctx, node, x->dtype, ind->rank, ind->dims, &out[0]);
  if (!s) {
    dycl_value_t* y = out[0];
    size_t esz = dycl_dtype_size(x->dtype);
    if (x->dtype == DYCL_DTYPE_STRING) {
      for (int64_t e = 0; e < y->numel; e++) dycl_tensor_copy_elem(y, e, x, offs[e]);
    } else {
      char* d = y->data;
      const char* src = x->data;
      for (int64_t e = 0; e < y->numel; e++) memcpy(d + (size_t)e * esz, src + (size_t)offs[e] * esz, esz);
    }
    s = dycl_shape_finish(node, y);
  }
  dycl_free(ctx->alloc, offs);
  return s;
}

/* ----------------------------------------------------------------- GatherND */

/* Element offsets into x of the index tuples of ind (GatherND, ScatterND): the last dim of ind
 * holds tuples of k indices into dims b.. of x; there are nb batch entries (the first b dims of
 * both) of `per` tuples each. An index out of range is an error. *out is owned by the caller. */
static dycl_status_t nd_offsets(dycl_kctx_t* ctx, const dycl_node_t* node, const dycl_value_t* x,
                                const dycl_value_t* ind, int b, int64_t k, int64_t nb, int64_t per, int64_t** out) {
  int64_t xs[DYCL_MAX_RANK];
  dycl_strides(x->rank, x->dims, xs);
  int64_t bsize = dycl_shape_prod(x->dims, b, x->rank), ntup = nb * per;
  int64_t* offs = dycl_malloc(ctx->alloc, sizeof(int64_t) * (size_t)(ntup ? ntup : 1));
  if (!offs) return dycl_error_nomem();
  for (int64_t bi = 0; bi < nb; bi++)
    for (int64_t ni = 0; ni < per; ni++) {
      int64_t t = bi * per + ni, off = bi * bsize;
      for (int64_t j = 0; j < k; j++) {
        int ax = (int)(b + j);
        int64_t v = dycl_tensor_get_i64(ind, t * k + j), kk = v;
        if (!norm_index(&kk, x->dims[ax])) {
          dycl_free(ctx->alloc, offs);
          return index_error(node, v, x->dims[ax], ax);
        }
        off += kk * xs[ax];
      }
      offs[t] = off;
    }
  *out = offs;
  return NULL;
}

dycl_status_t dycl_infer_GatherND(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t, q;
  DYCL_RETURN_IF_ERROR(infer_data_indices(ctx, node, dycl_dtypes_int64, &t, &q));
  int64_t b = dycl_attr_int(node, "batch_dims", 0);
  if (b < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "batch_dims cannot be negative");
  dycl_type_t o = dycl_type_tensor(t.dtype, -1);
  if (t.rank == 0 || q.rank == 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "inputs must have rank >= 1");
  if (t.rank < 0 || q.rank < 0) return dycl_infer_set(ctx, node, 0, &o);
  if (b >= t.rank || b >= q.rank)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "batch_dims (%" PRId64 ") must be below both ranks", b);
  dycl_dim_t last = q.dims[q.rank - 1];
  if (last.v < 0) return dycl_infer_set(ctx, node, 0, &o);
  if (last.v > t.rank - b)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "index tuples of %" PRId64 " values exceed data rank %d",
                           last.v, t.rank);
  int r = q.rank - 1 + t.rank - (int)b - (int)last.v;
  if (r > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %d is beyond dycl's maximum of %d", r, DYCL_MAX_RANK);
  o = dycl_type_tensor(t.dtype, r);
  int k = 0;
  for (int i = 0; i < q.rank - 1; i++) o.dims[k++] = i < b && q.dims[i].v < 0 ? t.dims[i] : q.dims[i];
  for (int i = (int)(b + last.v); i < t.rank; i++) o.dims[k++] = t.dims[i];
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_GatherND(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(need_int_tensor(node, in, nin, 1, "indices"));
  const dycl_value_t *x = in[0], *ind = in[1];
  int64_t b = dycl_attr_int(node, "batch_dims", 0);
  int r = x->rank, q = ind->rank;
  if (r == 0 || q == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs must have rank >= 1");
  if (b < 0 || b >= r || b >= q)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "batch_dims (%" PRId64 ") must be in 0..%d", b,
                           (r < q ? r : q) - 1);
  int64_t last = ind->dims[q - 1];
  if (last > r - b)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "index tuples of %" PRId64 " values exceed data rank %d", last, r);
  for (int i = 0; i < b; i++)
    if (ind->dims[i] != x->dims[i])
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "batch dimension %d differs: %" PRId64 " in indices, %" PRId64 " in data",
                             i, ind->dims[i], x->dims[i]);
  int orank = q - 1 + r - (int)b - (int)last;
  if (orank > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %d is beyond dycl's maximum of %d", orank,
                           DYCL_MAX_RANK);
  int64_t dims[DYCL_MAX_RANK];
  int k = 0;
  for (int i = 0; i < q - 1; i++) dims[k++] = ind->dims[i];
  for (int i = (int)(b + last); i < r; i++) dims[k++] = x->dims[i];
  int64_t slice = dycl_shape_prod(x->dims, (int)(b + last), r);
  int64_t nb = dycl_shape_prod(x->dims, 0, (int)b);
  int64_t per = dycl_shape_prod(ind->dims, (int)b, q - 1); /* index tuples per batch entry */
  /* offsets of every tuple, checked before the output exists */
  int64_t ntup = nb * per;
  int64_t* offs;
  DYCL_RETURN_IF_ERROR(nd_offsets(ctx, node, x, ind, (int)b, last, nb, per, &offs));
  dycl_status_t s = dycl_kernel_tensor(ctx, node, x->dtype, orank, dims, &out[0]);
  if (!s) {
    for (int64_t t = 0; t < ntup; t++) dycl_shape_copy_block(out[0], t * slice, x, offs[t], slice);
    s = dycl_shape_finish(node, out[0]);
  }
  dycl_free(ctx->alloc, offs);
  return s;
}

/* -------------------------------------------------------- the Scatter family */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static dycl_status_t scatter_reduction(const dycl_node_t* node, dycl_dtype_t dtype, int* red) {
  *red = RED_NONE;
  const char* s = dycl_attr_string(node, "reduction", "none");
  if (!strcmp(s, "none")) *red = RED_NONE;
  else if (!strcmp(s, "add")) *red = RED_ADD;
  else if (!strcmp(s, "mul")) *red = RED_MUL;
  else if (!strcmp(s, "max")) *red = RED_MAX;
  else if (!strcmp(s, "min")) *red = RED_MIN;
  else return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown reduction '%s'", s);
  if (*red != RED_NONE && dtype == DYCL_DTYPE_STRING)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "reduction '%s' does not apply to strings", s);
  return NULL;
}

dycl_status_t dycl_infer_Scatter(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t, q;
  const dycl_dtype_t* index_types = node->op == DYCL_OP_ScatterND ? dycl_dtypes_int64 : dycl_dtypes_index;
  DYCL_RETURN_IF_ERROR(infer_data_indices(ctx, node, index_types, &t, &q));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  int red;
  DYCL_RETURN_IF_ERROR(scatter_reduction(node, t.dtype, &red));
  if (node->op != DYCL_OP_ScatterND) {
    if (t.rank >= 0 && q.rank >= 0 && t.rank != q.rank)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "data has rank %d but indices rank %d", t.rank, q.rank);
    int axis = 0;
    if (t.rank > 0) DYCL_RETURN_IF_ERROR(infer_axis(node, t.rank, &axis));
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

/* y[yi] = y[yi] (op) u[ui] for n consecutive elements. */
static void scatter_apply(dycl_value_t* y, int64_t yi, const dycl_value_t* u, int64_t ui, int64_t n, int red) {
  if (red == RED_NONE) {
    dycl_shape_copy_block(y, yi, u, ui, n);
    return;
  }
  dycl_dtype_t dt = y->dtype;
  for (int64_t k = 0; k < n; k++) {
    int64_t a_i = yi + k, b_i = ui + k;
    if (dycl_dtype_is_float(dt)) {
      double a = dycl_tensor_get_f64(y, a_i), b = dycl_tensor_get_f64(u, b_i), r;
      switch (red) {
        case RED_ADD: r = a + b; break;
        case RED_MUL: r = a * b; break;
        case RED_MAX: r = (a >= b || isnan(a)) ? a : b; break;
        default: r = (a <= b || isnan(a)) ? a : b; break;
      }
      dycl_tensor_set_f64(y, a_i, r);
    } else if (dt == DYCL_DTYPE_UINT64) {
      uint64_t* p = y->data;
      uint64_t a = p[a_i], b = ((const uint64_t*)u->data)[b_i];
      p[a_i] = red == RED_ADD ? a + b : red == RED_MUL ? a * b : red == RED_MAX ? (a > b ? a : b) : (a < b ? a : b);
    } else {
      int64_t a = dycl_tensor_get_i64(y, a_i), b = dycl_tensor_get_i64(u, b_i), r;
      switch (red) {
        case RED_ADD: r = (int64_t)((uint64_t)a + (uint64_t)b); break; /* wraps like the element type */
        case RED_MUL: r = (int64_t)((uint64_t)a * (uint64_t)b); break;
        case RED_MAX: r = a > b ? a : b; break;
        default: r = a < b ? a : b; break;
      }
      dycl_tensor_set_i64(y, a_i, r);
    }
  }
}

/* out[0] = a copy of data. */
static dycl_status_t scatter_start(dycl_kctx_t* ctx, const dycl_node_t* node, const dycl_value_t* x,
                                   const dycl_value_t* u, dycl_value_t** out) {
  if (u->dtype != x->dtype)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "updates (%s) must have the element type of data (%s)",
                           dycl_dtype_name(u->dtype), dycl_dtype_name(x->dtype));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, x->dims, out));
  dycl_shape_copy_block(*out, 0, x, 0, x->numel);
  return NULL;
}

dycl_status_t dycl_run_ScatterElements(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                       dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(need_int_tensor(node, in, nin, 1, "indices"));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 2));
  const dycl_value_t *x = in[0], *ind = in[1], *u = in[2];
  int axis = 0, red = 0;
  DYCL_RETURN_IF_ERROR(scatter_reduction(node, x->dtype, &red));
  DYCL_RETURN_IF_ERROR(elements_check(node, x, ind, &axis));
  bool same = u->rank == ind->rank;
  for (int d = 0; same && d < u->rank; d++) same = u->dims[d] == ind->dims[d];
  if (!same) {
    char b1[128], b2[128];
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "updates of shape %s must have the shape of indices %s",
                           dycl_shape_str(u->rank, u->dims, b1, sizeof b1),
                           dycl_shape_str(ind->rank, ind->dims, b2, sizeof b2));
  }
  int64_t* offs;
  DYCL_RETURN_IF_ERROR(elements_offsets(ctx, node, x, ind, axis, &offs));
  dycl_status_t s = scatter_start(ctx, node, x, u, &out[0]);
  if (!s) {
    for (int64_t e = 0; e < ind->numel; e++) scatter_apply(out[0], offs[e], u, e, 1, red);
    s = dycl_shape_finish(node, out[0]);
  }
  dycl_free(ctx->alloc, offs);
  return s;
}

dycl_status_t dycl_run_ScatterND(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                 dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(need_int_tensor(node, in, nin, 1, "indices"));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 2));
  const dycl_value_t *x = in[0], *ind = in[1], *u = in[2];
  int red;
  DYCL_RETURN_IF_ERROR(scatter_reduction(node, x->dtype, &red));
  int r = x->rank, q = ind->rank;
  if (q == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "indices must have rank >= 1");
  int64_t k = ind->dims[q - 1];
  if (k > r) return dycl_node_error(node, DYCL_CODE_RUNTIME, "index tuples of %" PRId64 " values exceed data rank %d", k, r);
  /* updates: indices.shape[:-1] + data.shape[k:] */
  bool ok = u->rank == q - 1 + r - (int)k;
  for (int i = 0; ok && i < q - 1; i++) ok = u->dims[i] == ind->dims[i];
  for (int i = (int)k; ok && i < r; i++) ok = u->dims[q - 1 + i - (int)k] == x->dims[i];
  if (!ok) {
    char b1[128], b2[128], b3[128];
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "updates of shape %s do not fit indices %s and data %s",
                           dycl_shape_str(u->rank, u->dims, b1, sizeof b1),
                           dycl_shape_str(q, ind->dims, b2, sizeof b2), dycl_shape_str(r, x->dims, b3, sizeof b3));
  }
  int64_t slice = dycl_shape_prod(x->dims, (int)k, r), ntup = dycl_shape_prod(ind->dims, 0, q - 1);
  int64_t* offs;
  DYCL_RETURN_IF_ERROR(nd_offsets(ctx, node, x, ind, 0, k, 1, ntup, &offs));
  dycl_status_t s = scatter_start(ctx, node, x, u, &out[0]);
  if (!s) {
    for (int64_t t = 0; t < ntup; t++) scatter_apply(out[0], offs[t], u, t * slice, slice, red);
    s = dycl_shape_finish(node, out[0]);
  }
  dycl_free(ctx->alloc, offs);
  return s;
}

/* ----------------------------------------------------------------- Compress */

/* The output shape of Compress and Unique: x's shape with n along `axis`, or [n] without an
 * axis. Returns the rank. */
static int axis_out_dims(const dycl_value_t* x, bool has_axis, int axis, int64_t n, int64_t* dims) {
  if (!has_axis) {
    dims[0] = n;
    return 1;
  }
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[axis] = n;
  return x->rank;
}

dycl_status_t dycl_infer_Compress(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_bool));
  const dycl_value_t* c = dycl_infer_const(ctx, node, 1);
  bool has_axis = dycl_node_attr(node, "axis") != NULL;
  dycl_type_t o = dycl_type_tensor(t.dtype, has_axis ? t.rank : 1);
  int axis = 0;
  dycl_dim_t len = dycl_dim_unknown(); /* what the condition applies to */
  if (has_axis && t.rank >= 0) {
    if (t.rank == 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "cannot compress a scalar along an axis");
    DYCL_RETURN_IF_ERROR(infer_axis(node, t.rank, &axis));
    for (int i = 0; i < t.rank; i++) o.dims[i] = t.dims[i];
    len = t.dims[axis];
  } else if (!has_axis && t.rank >= 0) {
    len = dycl_shape_dim_prod(&t, 0, t.rank);
  }
  dycl_dim_t cnt = dycl_dim_unknown();
  if (c && c->kind == DYCL_VALUE_TENSOR && c->dtype == DYCL_DTYPE_BOOL && len.v >= 0) {
    int64_t n = c->numel < len.v ? c->numel : len.v, k = 0;
    for (int64_t i = 0; i < n; i++) k += ((const uint8_t*)c->data)[i] != 0;
    cnt = dycl_dim_const(k);
  }
  if (o.rank >= 0) o.dims[has_axis ? axis : 0] = cnt;
  return dycl_infer_set(ctx, node, 0, &o);
}

dycl_status_t dycl_run_Compress(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *x = in[0], *c = in[1];
  if (c->rank > 1 || c->dtype == DYCL_DTYPE_STRING)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "condition must be a 1-D bool tensor");
  bool has_axis = dycl_node_attr(node, "axis") != NULL;
  int axis = 0;
  int64_t outer = 1, inner = 1, len = x->numel;
  if (has_axis) {
    if (x->rank == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot compress a scalar along an axis");
    DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", 0), x->rank, &axis));
    outer = dycl_shape_prod(x->dims, 0, axis);
    inner = dycl_shape_prod(x->dims, axis + 1, x->rank);
    len = x->dims[axis];
  }
  int64_t n = c->numel < len ? c->numel : len, cnt = 0;
  for (int64_t i = 0; i < n; i++) cnt += dycl_tensor_get_i64(c, i) != 0;
  int64_t dims[DYCL_MAX_RANK];
  int r = axis_out_dims(x, has_axis, axis, cnt, dims);
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, r, dims, &out[0]));
  dycl_value_t* y = out[0];
  int64_t pos = 0;
  for (int64_t o = 0; o < outer && y->numel > 0; o++)
    for (int64_t j = 0; j < n; j++)
      if (dycl_tensor_get_i64(c, j) != 0) {
        dycl_shape_copy_block(y, pos, x, (o * len + j) * inner, inner);
        pos += inner;
      }
  return dycl_shape_finish(node, y);
}

/* ------------------------------------------------------------------ NonZero */

dycl_status_t dycl_infer_NonZero(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  dycl_type_t o = dycl_type_tensor(DYCL_DTYPE_INT64, 2);
  if (t.rank >= 0) o.dims[0] = dycl_dim_const(t.rank);
  return dycl_infer_set(ctx, node, 0, &o);
}

static bool is_nonzero(const dycl_value_t* x, int64_t e) {
  switch (x->dtype) {
    case DYCL_DTYPE_FLOAT32: return ((const float*)x->data)[e] != 0;
    case DYCL_DTYPE_FLOAT64: return ((const double*)x->data)[e] != 0;
    case DYCL_DTYPE_FLOAT16:
    case DYCL_DTYPE_BFLOAT16: return (((const uint16_t*)x->data)[e] & 0x7fff) != 0;
    case DYCL_DTYPE_STRING: {
      const char* s = ((char* const*)x->data)[e];
      return s && s[0];
    }
    case DYCL_DTYPE_UINT64: return ((const uint64_t*)x->data)[e] != 0;
    default: return dycl_tensor_get_i64(x, e) != 0;
  }
}

dycl_status_t dycl_run_NonZero(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  int64_t cnt = 0;
  for (int64_t e = 0; e < x->numel; e++) cnt += is_nonzero(x, e);
  int64_t dims[2] = {x->rank, cnt};
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, 2, dims, &out[0]));
  int64_t* p = out[0]->data;
  int64_t idx[DYCL_MAX_RANK] = {0}, k = 0;
  for (int64_t e = 0; e < x->numel; e++) {
    if (is_nonzero(x, e)) {
      for (int d = 0; d < x->rank; d++) p[d * cnt + k] = idx[d];
      k++;
    }
    for (int d = x->rank - 1; d >= 0; d--) {
      if (++idx[d] < x->dims[d]) break;
      idx[d] = 0;
    }
  }
  return NULL;
}

/* ---------------------------------------------------------- ReverseSequence */

static dycl_status_t revseq_axes(const dycl_node_t* node, int* batch, int* time) {
  *batch = 1;
  *time = 0;
  int64_t b = dycl_attr_int(node, "batch_axis", 1), t = dycl_attr_int(node, "time_axis", 0);
  if ((b != 0 && b != 1) || (t != 0 && t != 1) || b == t)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "batch_axis and time_axis must be 0 and 1 in some order");
  *batch = (int)b;
  *time = (int)t;
  return NULL;
}

dycl_status_t dycl_infer_ReverseSequence(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  int b, tm;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
  DYCL_RETURN_IF_ERROR(revseq_axes(node, &b, &tm));
  if (t.rank >= 0 && t.rank < 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must have rank >= 2, not %d", t.rank);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_ReverseSequence(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                       dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(need_int_tensor(node, in, nin, 1, "sequence_lens"));
  const dycl_value_t *x = in[0], *lens = in[1];
  int ba, ta;
  DYCL_RETURN_IF_ERROR(revseq_axes(node, &ba, &ta));
  if (x->rank < 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must have rank >= 2, not %d", x->rank);
  int64_t B = x->dims[ba], T = x->dims[ta], inner = dycl_shape_prod(x->dims, 2, x->rank);
  if (lens->rank != 1 || lens->numel != B)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "sequence_lens must hold %" PRId64 " values (the batch size)", B);
  for (int64_t b = 0; b < B; b++) {
    int64_t L = dycl_tensor_get_i64(lens, b);
    if (L < 0 || L > T)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "sequence length %" PRId64 " is out of range 0..%" PRId64, L, T);
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, x->dims, &out[0]));
  dycl_value_t* y = out[0];
  dycl_shape_copy_block(y, 0, x, 0, x->numel);
  /* element offset of (batch b, time t) */
  int64_t sb = ba == 0 ? T * inner : inner, stt = ta == 0 ? B * inner : inner;
  for (int64_t b = 0; b < B; b++) {
    int64_t L = dycl_tensor_get_i64(lens, b);
    for (int64_t t = 0; t < L; t++) dycl_shape_copy_block(y, b * sb + t * stt, x, b * sb + (L - 1 - t) * stt, inner);
  }
  return dycl_shape_finish(node, y);
}

/* ------------------------------------------------------------------- Unique */

dycl_status_t dycl_infer_Unique(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_shape_in_type(ctx, node, 0, &t));
  bool has_axis = dycl_node_attr(node, "axis") != NULL;
  dycl_type_t y = dycl_type_tensor(t.dtype, has_axis ? t.rank : 1);
  dycl_type_t idx = dycl_type_tensor(DYCL_DTYPE_INT64, 1), inv = idx;
  if (has_axis && t.rank >= 0) {
    int axis = 0;
    if (t.rank == 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "axis given for a scalar input");
    DYCL_RETURN_IF_ERROR(infer_axis(node, t.rank, &axis));
    for (int i = 0; i < t.rank; i++) y.dims[i] = i == axis ? dycl_dim_unknown() : t.dims[i];
    inv.dims[0] = t.dims[axis];
  } else if (!has_axis && t.rank >= 0) {
    inv.dims[0] = dycl_shape_dim_prod(&t, 0, t.rank);
  }
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 0, &y));
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 1, &idx));
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 2, &inv));
  return dycl_infer_set(ctx, node, 3, &idx);
}

/* Total order on elements: numbers by value (NaN last, all NaNs equal), strings by bytes. */
static int cmp_elem(const dycl_value_t* x, int64_t a, int64_t b) {
  switch (x->dtype) {
    case DYCL_DTYPE_FLOAT32:
    case DYCL_DTYPE_FLOAT64:
    case DYCL_DTYPE_FLOAT16:
    case DYCL_DTYPE_BFLOAT16: {
      double u = dycl_tensor_get_f64(x, a), v = dycl_tensor_get_f64(x, b);
      bool nu = isnan(u), nv = isnan(v);
      if (nu || nv) return nu == nv ? 0 : (nu ? 1 : -1);
      return u < v ? -1 : (u > v ? 1 : 0);
    }
    case DYCL_DTYPE_UINT64: {
      uint64_t u = ((const uint64_t*)x->data)[a], v = ((const uint64_t*)x->data)[b];
      return u < v ? -1 : (u > v ? 1 : 0);
    }
    case DYCL_DTYPE_STRING: {
      const char *u = ((char* const*)x->data)[a], *v = ((char* const*)x->data)[b];
      int c = strcmp(u ? u : "", v ? v : "");
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    default: {
      int64_t u = dycl_tensor_get_i64(x, a), v = dycl_tensor_get_i64(x, b);
      return u < v ? -1 : (u > v ? 1 : 0);
    }
  }
}

typedef struct uq_ctx {
  const dycl_value_t* x;
  const double* kf;  /* element keys of float tensors (exact for every float dtype), or NULL */
  const int64_t* ki; /* element keys of integer and bool tensors (order-preserving), or NULL */
  int64_t n, outer, inner; /* slices along the axis: n of them, each outer x inner elements */
} uq_ctx_t;

static inline int uq_cmp_elem(const uq_ctx_t* c, int64_t a, int64_t b) {
  if (c->kf) {
    double u = c->kf[a], v = c->kf[b];
    if (u < v) return -1;
    if (u > v) return 1;
    if (u == v) return 0;
    bool nu = isnan(u), nv = isnan(v); /* NaN last, all NaNs equal */
    return nu == nv ? 0 : (nu ? 1 : -1);
  }
  if (c->ki) return c->ki[a] < c->ki[b] ? -1 : (c->ki[a] > c->ki[b] ? 1 : 0);
  return cmp_elem(c->x, a, b);
}

/* Lexicographic comparison of slices a and b. */
static int uq_cmp(const uq_ctx_t* c, int64_t a, int64_t b) {
  for (int64_t o = 0; o < c->outer; o++)
    for (int64_t i = 0; i < c->inner; i++) {
      int r = uq_cmp_elem(c, (o * c->n + a) * c->inner + i, (o * c->n + b) * c->inner + i);
      if (r) return r;
    }
  return 0;
}

/* Fills the keys of c (NULL for strings); false when out of memory. */
static bool uq_keys(dycl_kctx_t* ctx, uq_ctx_t* c, void** mem) {
  const dycl_value_t* x = c->x;
  *mem = NULL;
  if (x->dtype == DYCL_DTYPE_STRING) return true;
  *mem = dycl_malloc(ctx->alloc, sizeof(int64_t) * (size_t)(x->numel ? x->numel : 1));
  if (!*mem) return false;
  if (dycl_dtype_is_float(x->dtype)) {
    double* k = *mem;
    if (x->dtype == DYCL_DTYPE_FLOAT32)
      for (int64_t e = 0; e < x->numel; e++) k[e] = ((const float*)x->data)[e];
    else
      for (int64_t e = 0; e < x->numel; e++) k[e] = dycl_tensor_get_f64(x, e);
    c->kf = k;
  } else {
    int64_t* k = *mem;
    if (x->dtype == DYCL_DTYPE_UINT64) /* flip the sign bit: unsigned order as signed */
      for (int64_t e = 0; e < x->numel; e++) k[e] = (int64_t)(((const uint64_t*)x->data)[e] ^ ((uint64_t)1 << 63));
    else if (x->dtype == DYCL_DTYPE_INT64)
      memcpy(k, x->data, sizeof(int64_t) * (size_t)x->numel);
    else
      for (int64_t e = 0; e < x->numel; e++) k[e] = dycl_tensor_get_i64(x, e);
    c->ki = k;
  }
  return true;
}

/* Stable bottom-up merge sort of v[0..n) (slice numbers) by slice order, or by value when `key`
 * is given (sorting groups by their first occurrence). */
static void uq_sort(const uq_ctx_t* c, const int64_t* key, int64_t* v, int64_t* tmp, int64_t n) {
  for (int64_t w = 1; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        int r = key ? (key[v[j]] < key[v[i]] ? -1 : 1) : uq_cmp(c, v[j], v[i]);
        tmp[k++] = r < 0 ? v[j++] : v[i++];
      }
      while (i < mid) tmp[k++] = v[i++];
      while (j < hi) tmp[k++] = v[j++];
    }
    memcpy(v, tmp, sizeof(int64_t) * (size_t)n);
  }
}

/* (key, index) pairs for sorting numbers without an axis. */
typedef struct uq_pair {
  union {
    double f;
    int64_t i;
  } k;
  int64_t idx;
} uq_pair_t;

/* a < b, NaN above every number */
static inline bool uq_pair_less(const uq_pair_t* a, const uq_pair_t* b, bool isf) {
  if (!isf) return a->k.i < b->k.i;
  double u = a->k.f, v = b->k.f;
  if (u < v) return true;
  if (u >= v) return false;
  return !isnan(u) && isnan(v);
}

/* Stable bottom-up merge sort of v[0..n) by key; tmp holds n pairs. */
static void uq_sort_pairs(uq_pair_t* v, uq_pair_t* tmp, int64_t n, bool isf) {
  for (int64_t w = 1; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) tmp[k++] = uq_pair_less(&v[j], &v[i], isf) ? v[j++] : v[i++];
      while (i < mid) tmp[k++] = v[i++];
      while (j < hi) tmp[k++] = v[j++];
    }
    memcpy(v, tmp, sizeof(uq_pair_t) * (size_t)n);
  }
}

dycl_status_t dycl_run_Unique(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  bool sorted = dycl_attr_int(node, "sorted", 1) != 0, has_axis = dycl_node_attr(node, "axis") != NULL;
  uq_ctx_t c = {x, NULL, NULL, x->numel, 1, 1};
  int axis = 0;
  if (has_axis) {
    if (x->rank == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "axis given for a scalar input");
    DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", 0), x->rank, &axis));
    c.n = x->dims[axis];
    c.outer = dycl_shape_prod(x->dims, 0, axis);
    c.inner = dycl_shape_prod(x->dims, axis + 1, x->rank);
  }
  int64_t n = c.n;
  size_t bytes = sizeof(int64_t) * (size_t)(n ? n : 1);
  /* order: slices sorted; grp: group of each slice; first/count: per group; pos: output position of each group */
  int64_t *order = dycl_malloc(ctx->alloc, bytes), *tmp = dycl_malloc(ctx->alloc, bytes),
          *grp = dycl_malloc(ctx->alloc, bytes), *first = dycl_malloc(ctx->alloc, bytes),
          *count = dycl_malloc(ctx->alloc, bytes), *pos = dycl_malloc(ctx->alloc, bytes);
  void* keys = NULL;
  dycl_status_t s = NULL;
  if (!order || !tmp || !grp || !first || !count || !pos || !uq_keys(ctx, &c, &keys)) {
    s = dycl_error_nomem();
    goto done;
  }
  bool fast = !has_axis && (c.kf || c.ki);
  if (fast) { /* numbers, no axis: sort (key, index) pairs, which keeps memory access sequential */
    uq_pair_t* pairs = dycl_malloc(ctx->alloc, 2 * sizeof(uq_pair_t) * (size_t)(n ? n : 1));
    if (!pairs) {
      s = dycl_error_nomem();
      goto done;
    }
    for (int64_t i = 0; i < n; i++) {
      if (c.kf) pairs[i].k.f = c.kf[i];
      else pairs[i].k.i = c.ki[i];
      pairs[i].idx = i;
    }
    uq_sort_pairs(pairs, pairs + n, n, c.kf != NULL);
    for (int64_t i = 0; i < n; i++) {
      order[i] = pairs[i].idx;
      pos[i] = i == 0 || uq_pair_less(&pairs[i - 1], &pairs[i], c.kf != NULL); /* starts a run */
    }
    dycl_free(ctx->alloc, pairs);
  } else {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    uq_sort(&c, NULL, order, tmp, n);
  }
  int64_t ng = 0;
  for (int64_t i = 0; i < n; i++) {
    if (fast ? pos[i] != 0 : (i == 0 || uq_cmp(&c, order[i - 1], order[i]) != 0)) {
      first[ng] = order[i]; /* stable sort: the first occurrence leads its run */
      count[ng] = 0;
      ng++;
    }
    grp[order[i]] = ng - 1;
    count[ng - 1]++;
  }
  /* output order of groups: by value (already), or by first occurrence */
  for (int64_t g = 0; g < ng; g++) tmp[g] = g;
  if (!sorted) {
    int64_t* tmp2 = order; /* order is no longer needed */
    uq_sort(&c, first, tmp, tmp2, ng);
  }
  for (int64_t k = 0; k < ng; k++) pos[tmp[k]] = k; /* tmp[k]: the group at output position k */
  int64_t dims[DYCL_MAX_RANK];
  int r = axis_out_dims(x, has_axis, axis, ng, dims);
  if (nout > 0 && node->out[0] >= 0) {
    DYCL_GOTO_IF_ERROR(s, dycl_kernel_tensor(ctx, node, x->dtype, r, dims, &out[0]), done);
    for (int64_t k = 0; k < ng; k++)
      for (int64_t o = 0; o < c.outer; o++)
        dycl_shape_copy_block(out[0], (o * ng + k) * c.inner, x, (o * n + first[tmp[k]]) * c.inner, c.inner);
    DYCL_GOTO_IF_ERROR(s, dycl_shape_finish(node, out[0]), done);
  }
  if (nout > 1 && node->out[1] >= 0) {
    DYCL_GOTO_IF_ERROR(s, dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, 1, &ng, &out[1]), done);
    for (int64_t k = 0; k < ng; k++) ((int64_t*)out[1]->data)[k] = first[tmp[k]];
  }
  if (nout > 2 && node->out[2] >= 0) {
    DYCL_GOTO_IF_ERROR(s, dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, 1, &n, &out[2]), done);
    for (int64_t i = 0; i < n; i++) ((int64_t*)out[2]->data)[i] = pos[grp[i]];
  }
  if (nout > 3 && node->out[3] >= 0) {
    DYCL_GOTO_IF_ERROR(s, dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, 1, &ng, &out[3]), done);
    for (int64_t k = 0; k < ng; k++) ((int64_t*)out[3]->data)[k] = count[tmp[k]];
  }
done:
  dycl_free(ctx->alloc, keys);
  dycl_free(ctx->alloc, order);
  dycl_free(ctx->alloc, tmp);
  dycl_free(ctx->alloc, grp);
  dycl_free(ctx->alloc, first);
  dycl_free(ctx->alloc, count);
  dycl_free(ctx->alloc, pos);
  return s;
}
