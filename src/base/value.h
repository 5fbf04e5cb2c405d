/* Run-time values (tensors, sequences, optionals): the internal layout behind dycl_value_t. */
#ifndef DYCL_BASE_VALUE_H
#define DYCL_BASE_VALUE_H

#include <stdatomic.h>

#include "base/base.h"

struct dycl_value {
  atomic_int refs; /* atomic: values (constants, shared inputs) are retained from several threads */
  dycl_value_kind_t kind;
  const dycl_allocator_t* alloc;
  /* tensor (and the element type of a sequence, UNDEFINED when not known) */
  dycl_dtype_t dtype;
  int rank;
  int64_t dims[DYCL_MAX_RANK];
  int64_t numel;
  size_t nbytes;
  void* data; /* numel elements; for STRING, an array of `char*` (NUL-terminated, owned) */
  /* how a float tensor of rank >= 3 lies in `data`: 0 row-major (every value dycl hands out or
   * takes in), 1 channels-last (dims stay N, C, spatial...; data in N, spatial..., C order). Only
   * the cpu backend sets 1, on a sub-network output it proved (cpu_export in cpu.c) is read by
   * nothing but cpu sub-networks, and turns it back to 0 where one of those wants it plain. */
  unsigned char layout;
  /* sequence */
  int len;
  dycl_value_t** items; /* owned references */
  /* optional: owned reference or NULL when empty. `elem_kind` tells what the optional holds. */
  dycl_value_t* elem;
  dycl_value_kind_t elem_kind;
  /* tensors made under a memory meter (dycl_limits_t.meter): the meter and the bytes charged to it,
   * given back when the tensor is freed (or by dycl_value_unmeter) */
  struct dycl_meter* meter;
  size_t charged;
};

/* The tensor memory live at once in one run (dycl_options_t.max_memory). One per session; every
 * tensor created under it holds a reference, so a value that outlives its session stays valid. */
typedef struct dycl_meter {
  atomic_uint_least64_t live; /* bytes of tensor data charged and not yet given back */
  atomic_uint_least64_t peak; /* the most `live` has been since the session's run began */
  uint64_t max;               /* the limit on `live` */
  atomic_int refs;            /* the session's and one per charged tensor */
  const dycl_allocator_t* alloc;
} dycl_meter_t;

/* A meter with the given limit (bytes), one reference held by the caller; NULL when out of memory. */
dycl_meter_t* dycl_meter_create(const dycl_allocator_t* alloc, uint64_t max);
void dycl_meter_release(dycl_meter_t* meter); /* NULL is a no-op */
/* Detaches v (and, for sequences and optionals, what it holds) from its meter: its bytes no longer
 * count (a run's outputs, once handed to the caller). */
void dycl_value_unmeter(dycl_value_t* v);

/* Limits checked when a tensor is created. */
typedef struct dycl_limits {
  uint64_t max_tensor_bytes;
  dycl_meter_t* meter; /* NULL: tensor memory is not counted */
} dycl_limits_t;

#define DYCL_DEFAULT_MAX_TENSOR_BYTES ((uint64_t)16 << 30) /* 16 GiB */

/* Number of elements of a shape; fails on negative dims or overflow. */
dycl_status_t dycl_shape_numel(int rank, const int64_t* dims, int64_t* numel);

/* New tensor with uninitialized data (zeroed for STRING: all NULL). `limits` may be NULL. */
dycl_status_t dycl_tensor_new(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                              dycl_dtype_t dtype, int rank, const int64_t* dims, dycl_value_t** out);
/* y[c * ldy + r] = x[r, c] for a float x [rows, cols], contiguous (ldy >= rows). */
typedef void (*dycl_transpose_fn)(const float* x, float* y, int64_t rows, int64_t cols, int64_t ldy);
/* A row-major copy of float tensor v of rank >= 3 held channels-last (N, spatial..., C in memory),
 * each image turned with `transpose` (NULL: a plain loop). For the cpu backend, which holds values
 * so, and for the code that hands a value with `layout` 1 to the user mid-run (the recorder). */
dycl_status_t dycl_tensor_from_channels_last(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                             const dycl_value_t* v, dycl_transpose_fn transpose, dycl_value_t** out);
/* The reverse: a channels-last copy of the row-major float tensor v of rank >= 3. */
dycl_status_t dycl_tensor_to_channels_last(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                           const dycl_value_t* v, dycl_transpose_fn transpose, dycl_value_t** out);
/* Same, zero-filled. */
dycl_status_t dycl_tensor_new_zero(const dycl_allocator_t* alloc, const dycl_limits_t* limits,
                                   dycl_dtype_t dtype, int rank, const int64_t* dims,
                                   dycl_value_t** out);
/* A scalar (rank 0) tensor. */
dycl_status_t dycl_tensor_scalar_i64(const dycl_allocator_t* alloc, dycl_dtype_t dtype, int64_t v,
                                     dycl_value_t** out);
dycl_status_t dycl_tensor_scalar_f64(const dycl_allocator_t* alloc, dycl_dtype_t dtype, double v,
                                     dycl_value_t** out);
/* A deep copy of a tensor with a new shape of the same numel (reshape). */
dycl_status_t dycl_tensor_copy_reshaped(const dycl_allocator_t* alloc, const dycl_value_t* src,
                                        int rank, const int64_t* dims, dycl_value_t** out);

/* An empty sequence with the given element type (UNDEFINED allowed). */
dycl_status_t dycl_sequence_new(const dycl_allocator_t* alloc, dycl_dtype_t elem_dtype, int len,
                                dycl_value_t** out);
/* Optional; `elem` is retained (may be NULL for an empty optional). */
dycl_status_t dycl_optional_new(const dycl_allocator_t* alloc, dycl_value_kind_t elem_kind,
                                dycl_dtype_t elem_dtype, dycl_value_t* elem, dycl_value_t** out);

/* Element access by flat index, converting through double or int64 (any numeric dtype). */
double dycl_tensor_get_f64(const dycl_value_t* t, int64_t i);
int64_t dycl_tensor_get_i64(const dycl_value_t* t, int64_t i);
void dycl_tensor_set_f64(dycl_value_t* t, int64_t i, double v);
void dycl_tensor_set_i64(dycl_value_t* t, int64_t i, int64_t v);
/* Copies element `si` of `src` to element `di` of `dst` (same dtype). False only when copying a
 * string ran out of memory (the element is then NULL). */
bool dycl_tensor_copy_elem(dycl_value_t* dst, int64_t di, const dycl_value_t* src, int64_t si);
/* Converts every element of src to dst (same numel, any numeric dtypes, strings too). */
dycl_status_t dycl_tensor_convert(const dycl_value_t* src, dycl_value_t* dst);

/* Row-major strides (in elements) of a shape. */
void dycl_strides(int rank, const int64_t* dims, int64_t* strides);
/* Shape as "[2,3,4]" into buf. */
const char* dycl_shape_str(int rank, const int64_t* dims, char* buf, size_t size);

#endif
