/* Helpers shared by the reference kernels. */
#include <inttypes.h>
#include <string.h>

#include "ops/op.h"

dycl_status_t dycl_kernel_tensor(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_dtype_t dtype, int rank,
                                 const int64_t* dims, dycl_value_t** out) {
  dycl_status_t s = dycl_tensor_new(ctx->alloc, ctx->limits, dtype, rank, dims, out);
  if (s) return dycl_error_wrap(s, "node '%s' (%s)", node->name, node->op_type);
  return NULL;
}

dycl_status_t dycl_kernel_need_tensor(const dycl_node_t* node, dycl_value_t* const* in, int nin, int i) {
  if (i >= nin || !in[i])
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d is required", i);
  if (in[i]->kind != DYCL_VALUE_TENSOR)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d must be a tensor", i);
  return NULL;
}

dycl_status_t dycl_kernel_axis(const dycl_node_t* node, int64_t axis, int rank, int* out) {
  if (axis < -(int64_t)rank || axis >= rank)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "axis %" PRId64 " is out of range for rank %d", axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return NULL;
}

dycl_status_t dycl_kernel_read_ints(const dycl_node_t* node, const dycl_value_t* t, int64_t* buf, int max,
                                    int* n) {
  if (t->kind != DYCL_VALUE_TENSOR || t->rank > 1 || !(dycl_dtype_is_int(t->dtype)))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "expected a 1-D integer tensor, got %s of rank %d",
                           dycl_dtype_name(t->dtype), t->rank);
  if (t->numel > max)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "too many values (%" PRId64 ", at most %d)", t->numel, max);
  for (int64_t i = 0; i < t->numel; i++) buf[i] = dycl_tensor_get_i64(t, i);
  *n = (int)t->numel;
  return NULL;
}

dycl_status_t dycl_kernel_broadcast(const dycl_node_t* node, int n, const dycl_value_t* const* ts, int* rank,
                                    int64_t* dims) {
  int r = 0;
  for (int k = 0; k < n; k++)
    if (ts[k] && ts[k]->rank > r) r = ts[k]->rank;
  for (int i = 0; i < r; i++) dims[i] = 1;
  for (int k = 0; k < n; k++) {
    if (!ts[k]) continue;
    int off = r - ts[k]->rank;
    for (int i = 0; i < ts[k]->rank; i++) {
      int64_t d = ts[k]->dims[i], *o = &dims[off + i];
      if (d == *o || d == 1) continue;
      if (*o == 1) {
        *o = d;
        continue;
      }
      char b1[128], b2[128];
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d of shape %s does not broadcast to %s", k,
                             dycl_shape_str(ts[k]->rank, ts[k]->dims, b1, sizeof b1), dycl_shape_str(r, dims, b2, sizeof b2));
    }
  }
  *rank = r;
  return NULL;
}

void dycl_broadcast_strides(const dycl_value_t* t, int rank, const int64_t* dims, int64_t* strides) {
  int64_t own[DYCL_MAX_RANK];
  dycl_strides(t->rank, t->dims, own);
  int off = rank - t->rank;
  for (int i = 0; i < rank; i++) {
    int j = i - off;
    strides[i] = (j < 0 || t->dims[j] == 1) ? 0 : own[j];
  }
  (void)dims;
}
