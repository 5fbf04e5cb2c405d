#include "base/value.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static dycl_value_t* value_alloc(const dycl_allocator_t* alloc, dycl_value_kind_t kind) {
  alloc = dycl_alloc_or_default(alloc);
  dycl_value_t* v = dycl_malloc(alloc, sizeof *v);
  if (!v) return NULL;
  memset(v, 0, sizeof *v);
  atomic_init(&v->refs, 1);
  v->kind = kind;
  v->alloc = alloc;
  return v;
}

dycl_status_t dycl_shape_numel(int rank, const int64_t* dims, int64_t* numel) {
  int64_t n = 1, nonzero = 1;
  if (rank < 0 || rank > DYCL_MAX_RANK)
    return dycl_error(DYCL_CODE_UNSUPPORTED, "rank %d is beyond the maximum of %d", rank, DYCL_MAX_RANK);
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) return dycl_error(DYCL_CODE_INVALID_INPUT, "negative dimension %" PRId64, dims[i]);
    /* The product of the non-zero dims must fit too: then no product of some of a tensor's dims
     * (strides, outer and inner block sizes) overflows, empty tensors included. */
    if (!dycl_mul_i64(nonzero, dims[i] ? dims[i] : 1, &nonzero)) {
      char buf[160];
      return dycl_error(DYCL_CODE_LIMIT, "tensor element count overflows: the dimensions %s multiply beyond 2^63",
                        dycl_shape_str(rank, dims, buf, sizeof buf));
    }
    n = dims[i] ? n * dims[i] : 0; /* |n| <= nonzero */
  }
  *numel = n;
  return NULL;
}

dycl_status_t dycl_tensor_new(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                              dycl_dtype_t dtype, int rank, const int64_t* dims, dycl_value_t** out) {
  *out = NULL;
  if (!dycl_dtype_is_valid(dtype))
    return dycl_error(DYCL_CODE_UNSUPPORTED, "unsupported element type %d", (int)dtype);
  int64_t numel;
  DYCL_RETURN_IF_ERROR(dycl_shape_numel(rank, dims, &numel));
  size_t esz = dycl_dtype_size(dtype), nbytes;
  if (!dycl_mul_size((size_t)numel, esz, &nbytes))
    return dycl_error(DYCL_CODE_LIMIT, "tensor size overflows");
  uint64_t max = limits && limits->max_tensor_bytes ? limits->max_tensor_bytes : DYCL_DEFAULT_MAX_TENSOR_BYTES;
  if ((uint64_t)nbytes > max) {
    char buf[128];
    return dycl_error(DYCL_CODE_LIMIT, "a %s tensor of shape %s needs %zu bytes, over the limit of %" PRIu64,
                      dycl_dtype_name(dtype), dycl_shape_str(rank, dims, buf, sizeof buf), nbytes, max);
  }
  dycl_meter_t* meter = limits ? limits->meter : NULL;
  if (meter) {
    uint64_t before = atomic_fetch_add_explicit(&meter->live, (uint64_t)nbytes, memory_order_relaxed);
    if (before + nbytes > meter->max || before + nbytes < before) {
      atomic_fetch_sub_explicit(&meter->live, (uint64_t)nbytes, memory_order_relaxed);
      char buf[128];
      return dycl_error(DYCL_CODE_LIMIT,
                        "a %s tensor of shape %s (%zu bytes) would bring the tensors live in this run to %" PRIu64
                        " bytes, over the memory limit of %" PRIu64 " bytes (--max-memory)",
                        dycl_dtype_name(dtype), dycl_shape_str(rank, dims, buf, sizeof buf), nbytes, before + nbytes,
                        meter->max);
    }
    uint64_t now = before + (uint64_t)nbytes, pk = atomic_load_explicit(&meter->peak, memory_order_relaxed);
    while (now > pk && !atomic_compare_exchange_weak_explicit(&meter->peak, &pk, now, memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
  }
  dycl_value_t* v = value_alloc(alloc, DYCL_VALUE_TENSOR);
  if (v) v->data = dycl_malloc(v->alloc, nbytes ? nbytes : 1);
  if (!v || !v->data) {
    if (meter) atomic_fetch_sub_explicit(&meter->live, (uint64_t)nbytes, memory_order_relaxed);
    if (v) dycl_free(v->alloc, v);
    return dycl_error(DYCL_CODE_NO_MEMORY, "out of memory allocating %zu bytes", nbytes);
  }
  v->dtype = dtype;
  v->rank = rank;
  for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
  v->numel = numel;
  v->nbytes = nbytes;
  if (meter) {
    atomic_fetch_add_explicit(&meter->refs, 1, memory_order_relaxed);
    v->meter = meter;
    v->charged = nbytes;
  }
  if (dtype == DYCL_DTYPE_STRING) memset(v->data, 0, nbytes);
  *out = v;
  return NULL;
}

/* ------------------------------------------------------------ memory meter */

dycl_meter_t* dycl_meter_create(const dycl_allocator_t* alloc, uint64_t max) {
  alloc = dycl_alloc_or_default(alloc);
  dycl_meter_t* m = dycl_malloc(alloc, sizeof *m);
  if (!m) return NULL;
  atomic_init(&m->live, 0);
  atomic_init(&m->peak, 0);
  atomic_init(&m->refs, 1);
  m->max = max;
  m->alloc = alloc;
  return m;
}

void dycl_meter_release(dycl_meter_t* m) {
  if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) dycl_free(m->alloc, m);
}

static void value_uncharge(dycl_value_t* v) {
  if (!v->meter) return;
  atomic_fetch_sub_explicit(&v->meter->live, (uint64_t)v->charged, memory_order_relaxed);
  dycl_meter_release(v->meter);
  v->meter = NULL;
  v->charged = 0;
}

void dycl_value_unmeter(dycl_value_t* v) {
  if (!v) return;
  value_uncharge(v);
  for (int i = 0; i < v->len; i++) dycl_value_unmeter(v->items[i]);
  dycl_value_unmeter(v->elem);
}

/* v's images turned [S, C] -> [C, S] (from_cl) or [C, S] -> [S, C] into a new tensor. */
static dycl_status_t turn_images(const dycl_allocator_t* alloc, const dycl_limits_t* limits, const dycl_value_t* v,
                                 dycl_transpose_fn transpose, bool from_cl, dycl_value_t** out) {
  *out = NULL;
  if (!v || v->kind != DYCL_VALUE_TENSOR || v->dtype != DYCL_DTYPE_FLOAT32 || v->rank < 3)
    return dycl_error(DYCL_CODE_INTERNAL, "a value turned between layouts is not a float tensor of rank 3 or more");
  DYCL_RETURN_IF_ERROR(dycl_tensor_new(alloc, limits, v->dtype, v->rank, v->dims, out));
  int64_t N = v->dims[0], C = v->dims[1], S = 1;
  for (int d = 2; d < v->rank; d++) S *= v->dims[d];
  int64_t rows = from_cl ? S : C, cols = from_cl ? C : S; /* of each image of x, row-major */
  const float* x = v->data;
  float* y = (*out)->data;
  for (int64_t n = 0; n < N; n++) {
    const float* xi = x + n * S * C;
    float* yi = y + n * S * C;
    if (transpose) {
      transpose(xi, yi, rows, cols, rows);
      continue;
    }
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = 0; c < cols; c++) yi[c * rows + r] = xi[r * cols + c];
  }
  return NULL;
}

dycl_status_t dycl_tensor_from_channels_last(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                             const dycl_value_t* v, dycl_transpose_fn transpose, dycl_value_t** out) {
  return turn_images(alloc, limits, v, transpose, true, out);
}

dycl_status_t dycl_tensor_to_channels_last(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                           const dycl_value_t* v, dycl_transpose_fn transpose, dycl_value_t** out) {
  return turn_images(alloc, limits, v, transpose, false, out);
}

dycl_status_t dycl_tensor_new_zero(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                   dycl_dtype_t dtype, int rank, const int64_t* dims, dycl_value_t** out) {
  DYCL_RETURN_IF_ERROR(dycl_tensor_new(alloc, limits, dtype, rank, dims, out));
  memset((*out)->data, 0, (*out)->nbytes);
  return NULL;
}

dycl_status_t dycl_tensor_scalar_i64(const dycl_allocator_t* alloc, dycl_dtype_t dtype, int64_t v,
                                     dycl_value_t** out) {
  DYCL_RETURN_IF_ERROR(dycl_tensor_new(alloc, NULL, dtype, 0, NULL, out));
  dycl_tensor_set_i64(*out, 0, v);
  return NULL;
}

dycl_status_t dycl_tensor_scalar_f64(const dycl_allocator_t* alloc, dycl_dtype_t dtype, double v,
                                     dycl_value_t** out) {
  DYCL_RETURN_IF_ERROR(dycl_tensor_new(alloc, NULL, dtype, 0, NULL, out));
  dycl_tensor_set_f64(*out, 0, v);
  return NULL;
}

dycl_status_t dycl_tensor_copy_reshaped(const dycl_allocator_t* alloc, const dycl_value_t* src, int rank,
                                        const int64_t* dims, dycl_value_t** out) {
  int64_t numel;
  DYCL_RETURN_IF_ERROR(dycl_shape_numel(rank, dims, &numel));
  if (numel != src->numel)
    return dycl_error(DYCL_CODE_RUNTIME, "cannot reshape %" PRId64 " elements into %" PRId64, src->numel, numel);
  DYCL_RETURN_IF_ERROR(dycl_tensor_new(alloc, NULL, src->dtype, rank, dims, out));
  if (src->dtype == DYCL_DTYPE_STRING) {
    for (int64_t i = 0; i < numel; i++)
      if (!dycl_tensor_copy_elem(*out, i, src, i)) {
        dycl_value_release(*out);
        *out = NULL;
        return dycl_error_nomem();
      }
  } else if (src->nbytes) {
    memcpy((*out)->data, src->data, src->nbytes);
  }
  return NULL;
}

dycl_status_t dycl_sequence_new(const dycl_allocator_t* alloc, dycl_dtype_t elem_dtype, int len,
                                dycl_value_t** out) {
  dycl_value_t* v = value_alloc(alloc, DYCL_VALUE_SEQUENCE);
  if (!v) return dycl_error_nomem();
  v->dtype = elem_dtype;
  v->rank = -1;
  if (len > 0) {
    v->items = dycl_calloc(v->alloc, (size_t)len, sizeof *v->items);
    if (!v->items) {
      dycl_free(v->alloc, v);
      return dycl_error_nomem();
    }
  }
  v->len = len;
  *out = v;
  return NULL;
}

dycl_status_t dycl_optional_new(const dycl_allocator_t* alloc, dycl_value_kind_t elem_kind,
                                dycl_dtype_t elem_dtype, dycl_value_t* elem, dycl_value_t** out) {
  dycl_value_t* v = value_alloc(alloc, DYCL_VALUE_OPTIONAL);
  if (!v) return dycl_error_nomem();
  v->elem_kind = elem_kind;
  v->dtype = elem_dtype;
  v->elem = elem ? dycl_value_retain(elem) : NULL;
  *out = v;
  return NULL;
}

dycl_value_t* dycl_value_retain(dycl_value_t* v) {
  if (v) atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
  return v;
}

void dycl_value_release(dycl_value_t* v) {
  if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) > 1) return;
  if (v->kind == DYCL_VALUE_TENSOR && v->dtype == DYCL_DTYPE_STRING && v->data) {
    char** s = v->data;
    for (int64_t i = 0; i < v->numel; i++) dycl_free(v->alloc, s[i]);
  }
  dycl_free(v->alloc, v->data);
  value_uncharge(v);
  for (int i = 0; i < v->len; i++) dycl_value_release(v->items[i]);
  dycl_free(v->alloc, v->items);
  dycl_value_release(v->elem);
  dycl_free(v->alloc, v);
}

dycl_status_t dycl_value_create_tensor(const dycl_allocator_t* alloc, dycl_dtype_t dtype, int rank,
                                       const int64_t* dims, const void* data, dycl_value_t** out) {
  if (dtype == DYCL_DTYPE_STRING)
    return dycl_error(DYCL_CODE_UNSUPPORTED, "string tensors cannot be created through this call");
  DYCL_RETURN_IF_ERROR(dycl_tensor_new(alloc, NULL, dtype, rank, dims, out));
  if (data && (*out)->nbytes)
    memcpy((*out)->data, data, (*out)->nbytes);
  else
    memset((*out)->data, 0, (*out)->nbytes);
  return NULL;
}

dycl_value_kind_t dycl_value_kind(const dycl_value_t* v) { return v->kind; }
dycl_dtype_t dycl_value_dtype(const dycl_value_t* v) { return v->dtype; }
int dycl_value_rank(const dycl_value_t* v) { return v->rank; }
const int64_t* dycl_value_dims(const dycl_value_t* v) { return v->dims; }
int64_t dycl_value_numel(const dycl_value_t* v) { return v->numel; }
const void* dycl_value_data(const dycl_value_t* v) { return v->data; }
int dycl_value_seq_length(const dycl_value_t* v) { return v->kind == DYCL_VALUE_SEQUENCE ? v->len : 0; }
const dycl_value_t* dycl_value_seq_item(const dycl_value_t* v, int i) {
  return v->kind == DYCL_VALUE_SEQUENCE && i >= 0 && i < v->len ? v->items[i] : NULL;
}
const dycl_value_t* dycl_value_optional_get(const dycl_value_t* v) {
  return v->kind == DYCL_VALUE_OPTIONAL ? v->elem : NULL;
}

/* ------------------------------------------------------- element access */

double dycl_tensor_get_f64(const dycl_value_t* t, int64_t i) {
  const void* d = t->data;
  switch (t->dtype) {
    case DYCL_DTYPE_FLOAT32: return ((const float*)d)[i];
    case DYCL_DTYPE_FLOAT64: return ((const double*)d)[i];
    case DYCL_DTYPE_FLOAT16: return dycl_f16_to_f32(((const uint16_t*)d)[i]);
    case DYCL_DTYPE_BFLOAT16: return dycl_bf16_to_f32(((const uint16_t*)d)[i]);
    case DYCL_DTYPE_UINT8: return ((const uint8_t*)d)[i];
    case DYCL_DTYPE_INT8: return ((const int8_t*)d)[i];
    case DYCL_DTYPE_UINT16: return ((const uint16_t*)d)[i];
    case DYCL_DTYPE_INT16: return ((const int16_t*)d)[i];
    case DYCL_DTYPE_INT32: return ((const int32_t*)d)[i];
    case DYCL_DTYPE_INT64: return (double)((const int64_t*)d)[i];
    case DYCL_DTYPE_UINT32: return ((const uint32_t*)d)[i];
    case DYCL_DTYPE_UINT64: return (double)((const uint64_t*)d)[i];
    case DYCL_DTYPE_BOOL: return ((const uint8_t*)d)[i] ? 1.0 : 0.0;
    default: return 0;
  }
}

int64_t dycl_tensor_get_i64(const dycl_value_t* t, int64_t i) {
  const void* d = t->data;
  switch (t->dtype) {
    case DYCL_DTYPE_UINT8: return ((const uint8_t*)d)[i];
    case DYCL_DTYPE_INT8: return ((const int8_t*)d)[i];
    case DYCL_DTYPE_UINT16: return ((const uint16_t*)d)[i];
    case DYCL_DTYPE_INT16: return ((const int16_t*)d)[i];
    case DYCL_DTYPE_INT32: return ((const int32_t*)d)[i];
    case DYCL_DTYPE_INT64: return ((const int64_t*)d)[i];
    case DYCL_DTYPE_UINT32: return ((const uint32_t*)d)[i];
    case DYCL_DTYPE_UINT64: return (int64_t)((const uint64_t*)d)[i];
    case DYCL_DTYPE_BOOL: return ((const uint8_t*)d)[i] ? 1 : 0;
    default: {
      double x = dycl_tensor_get_f64(t, i);
      if (isnan(x)) return 0;
      if (x >= 9.2233720368547758e18) return INT64_MAX;
      if (x <= -9.2233720368547758e18) return INT64_MIN;
      return (int64_t)x;
    }
  }
}

void dycl_tensor_set_f64(dycl_value_t* t, int64_t i, double v) {
  void* d = t->data;
  switch (t->dtype) {
    case DYCL_DTYPE_FLOAT32: ((float*)d)[i] = (float)v; return;
    case DYCL_DTYPE_FLOAT64: ((double*)d)[i] = v; return;
    case DYCL_DTYPE_FLOAT16: ((uint16_t*)d)[i] = dycl_f32_to_f16((float)v); return;
    case DYCL_DTYPE_BFLOAT16: ((uint16_t*)d)[i] = dycl_f32_to_bf16((float)v); return;
    case DYCL_DTYPE_BOOL: ((uint8_t*)d)[i] = v != 0; return;
    default: {
      /* float → int conversions truncate toward zero; out-of-range values saturate */
      int64_t x;
      if (isnan(v)) x = 0;
      else if (v >= 9.2233720368547758e18) x = INT64_MAX;
      else if (v <= -9.2233720368547758e18) x = INT64_MIN;
      else x = (int64_t)v;
      if (t->dtype == DYCL_DTYPE_UINT64 && v >= 9.2233720368547758e18) {
        ((uint64_t*)d)[i] = v >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)v;
        return;
      }
      dycl_tensor_set_i64(t, i, x);
    }
  }
}

void dycl_tensor_set_i64(dycl_value_t* t, int64_t i, int64_t v) {
  void* d = t->data;
  switch (t->dtype) {
    case DYCL_DTYPE_UINT8: ((uint8_t*)d)[i] = (uint8_t)v; return;
    case DYCL_DTYPE_INT8: ((int8_t*)d)[i] = (int8_t)v; return;
    case DYCL_DTYPE_UINT16: ((uint16_t*)d)[i] = (uint16_t)v; return;
    case DYCL_DTYPE_INT16: ((int16_t*)d)[i] = (int16_t)v; return;
    case DYCL_DTYPE_INT32: ((int32_t*)d)[i] = (int32_t)v; return;
    case DYCL_DTYPE_INT64: ((int64_t*)d)[i] = v; return;
    case DYCL_DTYPE_UINT32: ((uint32_t*)d)[i] = (uint32_t)v; return;
    case DYCL_DTYPE_UINT64: ((uint64_t*)d)[i] = (uint64_t)v; return;
    case DYCL_DTYPE_BOOL: ((uint8_t*)d)[i] = v != 0; return;
    default: dycl_tensor_set_f64(t, i, (double)v); return;
  }
}

bool dycl_tensor_copy_elem(dycl_value_t* dst, int64_t di, const dycl_value_t* src, int64_t si) {
  if (dst->dtype == DYCL_DTYPE_STRING) {
    char** d = dst->data;
    char* const* s = src->data;
    dycl_free(dst->alloc, d[di]);
    d[di] = NULL;
    const char* str = s[si] ? s[si] : "";
    size_t n = strlen(str);
    d[di] = dycl_malloc(dst->alloc, n + 1);
    if (!d[di]) return false;
    memcpy(d[di], str, n + 1);
    return true;
  }
  size_t esz = dycl_dtype_size(dst->dtype);
  memcpy((char*)dst->data + (size_t)di * esz, (const char*)src->data + (size_t)si * esz, esz);
  return true;
}

dycl_status_t dycl_tensor_convert(const dycl_value_t* src, dycl_value_t* dst) {
  if (src->numel != dst->numel) return dycl_error(DYCL_CODE_INTERNAL, "convert: element counts differ");
  if (src->dtype == dst->dtype) {
    if (src->dtype == DYCL_DTYPE_STRING) {
      for (int64_t i = 0; i < src->numel; i++)
        if (!dycl_tensor_copy_elem(dst, i, src, i)) return dycl_error_nomem();
    } else if (src->nbytes) {
      memcpy(dst->data, src->data, src->nbytes);
    }
    return NULL;
  }
  if (src->dtype == DYCL_DTYPE_STRING || dst->dtype == DYCL_DTYPE_STRING) {
    for (int64_t i = 0; i < src->numel; i++) {
      if (dst->dtype == DYCL_DTYPE_STRING) {
        char buf[64];
        if (dycl_dtype_is_float(src->dtype)) {
          double x = dycl_tensor_get_f64(src, i);
          if (isnan(x)) snprintf(buf, sizeof buf, "NaN");
          else if (isinf(x)) snprintf(buf, sizeof buf, x > 0 ? "INF" : "-INF");
          else snprintf(buf, sizeof buf, "%.9g", x);
        } else if (src->dtype == DYCL_DTYPE_UINT64) {
          snprintf(buf, sizeof buf, "%" PRIu64, ((const uint64_t*)src->data)[i]);
        } else {
          snprintf(buf, sizeof buf, "%" PRId64, dycl_tensor_get_i64(src, i));
        }
        char** d = dst->data;
        size_t n = strlen(buf);
        dycl_free(dst->alloc, d[i]);
        d[i] = dycl_malloc(dst->alloc, n + 1);
        if (!d[i]) return dycl_error_nomem();
        memcpy(d[i], buf, n + 1);
      } else {
        const char* s = ((char* const*)src->data)[i];
        double x = s ? strtod(s, NULL) : 0;
        if (dycl_dtype_is_float(dst->dtype)) dycl_tensor_set_f64(dst, i, x);
        else dycl_tensor_set_i64(dst, i, s ? strtoll(s, NULL, 10) : 0);
      }
    }
    return NULL;
  }
  bool src_int = !dycl_dtype_is_float(src->dtype);
  bool dst_int = !dycl_dtype_is_float(dst->dtype);
  for (int64_t i = 0; i < src->numel; i++) {
    if (src->dtype == DYCL_DTYPE_UINT64 && dst_int)
      dycl_tensor_set_i64(dst, i, (int64_t)((const uint64_t*)src->data)[i]);
    else if (src_int && dst_int)
      dycl_tensor_set_i64(dst, i, dycl_tensor_get_i64(src, i));
    else
      dycl_tensor_set_f64(dst, i, dycl_tensor_get_f64(src, i));
  }
  return NULL;
}

void dycl_strides(int rank, const int64_t* dims, int64_t* strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
}

const char* dycl_shape_str(int rank, const int64_t* dims, char* buf, size_t size) {
  size_t n = 0;
  n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "[");
  for (int i = 0; i < rank && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, i ? ",%" PRId64 : "%" PRId64, dims[i]);
  if (n < size) snprintf(buf + n, size - n, "]");
  return buf;
}

void dycl_value_print(const dycl_value_t* v, FILE* f, int max_values) {
  char buf[256];
  if (!v) {
    fprintf(f, "<none>");
    return;
  }
  switch (v->kind) {
    case DYCL_VALUE_SEQUENCE:
      fprintf(f, "sequence of %d", v->len);
      for (int i = 0; i < v->len && i < 4; i++) {
        fprintf(f, i ? "; " : ": ");
        dycl_value_print(v->items[i], f, max_values / 2 > 2 ? max_values / 2 : 2);
      }
      if (v->len > 4) fprintf(f, "; ...");
      return;
    case DYCL_VALUE_OPTIONAL:
      if (!v->elem) {
        fprintf(f, "optional: none");
      } else {
        fprintf(f, "optional: ");
        dycl_value_print(v->elem, f, max_values);
      }
      return;
    case DYCL_VALUE_TENSOR: break;
  }
  fprintf(f, "%s%s", dycl_dtype_name(v->dtype), dycl_shape_str(v->rank, v->dims, buf, sizeof buf));
  if (max_values <= 0) return;
  fprintf(f, " = [");
  for (int64_t i = 0; i < v->numel && i < max_values; i++) {
    if (i) fprintf(f, ", ");
    if (v->dtype == DYCL_DTYPE_STRING) {
      const char* s = ((char* const*)v->data)[i];
      fprintf(f, "\"%s\"", s ? s : "");
    } else if (dycl_dtype_is_float(v->dtype)) {
      fprintf(f, "%.6g", dycl_tensor_get_f64(v, i));
    } else if (v->dtype == DYCL_DTYPE_BOOL) {
      fprintf(f, "%s", dycl_tensor_get_i64(v, i) ? "true" : "false");
    } else if (v->dtype == DYCL_DTYPE_UINT64) {
      fprintf(f, "%" PRIu64, ((const uint64_t*)v->data)[i]);
    } else {
      fprintf(f, "%" PRId64, dycl_tensor_get_i64(v, i));
    }
  }
  if (v->numel > max_values) fprintf(f, ", ...");
  fprintf(f, "]");
}
