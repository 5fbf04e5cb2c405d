/* Helpers shared by the reference kernels. */
#include <inttypes.h>
#include <string.h>

#include "ops/op.h"

const dycl_dtype_t dycl_dtypes_float[] = {DYCL_DTYPE_FLOAT32, DYCL_DTYPE_FLOAT64, DYCL_DTYPE_FLOAT16,
                                          DYCL_DTYPE_BFLOAT16, DYCL_DTYPE_UNDEFINED};
const dycl_dtype_t dycl_dtypes_index[] = {DYCL_DTYPE_INT32, DYCL_DTYPE_INT64, DYCL_DTYPE_UNDEFINED};
const dycl_dtype_t dycl_dtypes_int64[] = {DYCL_DTYPE_INT64, DYCL_DTYPE_UNDEFINED};
const dycl_dtype_t dycl_dtypes_bool[] = {DYCL_DTYPE_BOOL, DYCL_DTYPE_UNDEFINED};

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

dycl_status_t dycl_kernel_axis_code(const dycl_node_t* node, dycl_code_t code, int64_t axis, int rank, int* out) {
  if (axis < -(int64_t)rank || axis >= rank)
    return dycl_node_error(node, code, "axis %" PRId64 " is out of range for rank %d", axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return NULL;
}

dycl_status_t dycl_kernel_axis(const dycl_node_t* node, int64_t axis, int rank, int* out) {
  return dycl_kernel_axis_code(node, DYCL_CODE_RUNTIME, axis, rank, out);
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

dycl_status_t dycl_kernel_to_f64(dycl_kctx_t* ctx, const dycl_value_t* t, double** out) {
  double* b = dycl_malloc(ctx->alloc, (size_t)t->numel * sizeof(double) + 1);
  if (!b) return dycl_error_nomem();
  if (t->dtype == DYCL_DTYPE_FLOAT32) {
    const float* p = t->data;
    for (int64_t i = 0; i < t->numel; i++) b[i] = p[i];
  } else {
    for (int64_t i = 0; i < t->numel; i++) b[i] = dycl_tensor_get_f64(t, i);
  }
  *out = b;
  return NULL;
}

void dycl_kernel_store_f64(dycl_value_t* t, const double* buf) {
  if (t->dtype == DYCL_DTYPE_FLOAT32) {
    float* p = t->data;
    for (int64_t i = 0; i < t->numel; i++) p[i] = (float)buf[i];
  } else if (t->dtype == DYCL_DTYPE_FLOAT64) {
    memcpy(t->data, buf, (size_t)t->numel * sizeof(double));
  } else {
    for (int64_t i = 0; i < t->numel; i++) dycl_tensor_set_f64(t, i, buf[i]);
  }
}

dycl_status_t dycl_kernel_scratch(dycl_kctx_t* ctx, const dycl_node_t* node, int64_t n, size_t size, void** out) {
  *out = NULL;
  size_t bytes;
  if (n < 0 || !dycl_mul_size((size_t)n, size, &bytes))
    return dycl_node_error(node, DYCL_CODE_LIMIT, "work buffer size overflows");
  uint64_t max = ctx->limits && ctx->limits->max_tensor_bytes ? ctx->limits->max_tensor_bytes
                                                              : DYCL_DEFAULT_MAX_TENSOR_BYTES;
  if ((uint64_t)bytes > max)
    return dycl_node_error(node, DYCL_CODE_LIMIT, "work buffer of %zu bytes is over the limit of %" PRIu64, bytes, max);
  const dycl_meter_t* m = ctx->limits ? ctx->limits->meter : NULL;
  if (m) { /* checked against what the run has left; work buffers are short-lived and not charged */
    uint64_t live = atomic_load_explicit(&m->live, memory_order_relaxed);
    if (live > m->max || bytes > m->max - live)
      return dycl_node_error(node, DYCL_CODE_LIMIT,
                             "a work buffer of %zu bytes with %" PRIu64 " bytes of tensors live is over the memory limit of %" PRIu64
                             " bytes (--max-memory)", bytes, live, m->max);
  }
  *out = dycl_calloc(ctx->alloc, bytes ? bytes : 1, 1);
  if (!*out) return dycl_node_error(node, DYCL_CODE_NO_MEMORY, "out of memory allocating %zu bytes", bytes);
  return NULL;
}

bool dycl_kernel_name_eq(const char* a, const char* b) {
  for (; *a && *b; a++, b++) {
    char x = *a, y = *b;
    if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
    if (x != y) return false;
  }
  return *a == *b;
}
