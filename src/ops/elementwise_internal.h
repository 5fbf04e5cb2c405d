/* Helpers shared by the elementwise family (elementwise.c, elementwise_binary.c,
 * elementwise_cast.c, quant.c) and the reduce family (reduce.c, reduce_axis.c), which is built on
 * the same block loads and stores; not part of the operator interface. Defined in elementwise.c. */
#ifndef DYCL_OPS_ELEMENTWISE_INTERNAL_H
#define DYCL_OPS_ELEMENTWISE_INTERNAL_H

#include "ops/op.h"

/* Kernels work on blocks of EW_BLOCK elements, loaded into a double or int64 buffer. */
#define EW_BLOCK 512

/* The numeric element types (floats and all integers, not bool), UNDEFINED-terminated. */
extern const dycl_dtype_t dycl_ew_numeric_types[];

/* Rounds a double to float16 / bfloat16 bits with one rounding (nearest even). */
uint16_t dycl_ew_f64_to_f16(double x);
uint16_t dycl_ew_f64_to_bf16(double x);

/* Loads n elements starting at flat index `off`, `stride` apart (0: broadcast one element). */
void dycl_ew_load_f64(const dycl_value_t* t, int64_t off, int64_t stride, int64_t n, double* buf);
/* Integer load: uint64 values keep their bits; floating values truncate toward zero, saturating,
 * NaN giving 0. */
void dycl_ew_load_i64(const dycl_value_t* t, int64_t off, int64_t stride, int64_t n, int64_t* buf);
/* Stores n doubles at flat index `off` (contiguous): floating targets round once, integer targets
 * truncate toward zero, saturating; bool is x != 0. */
void dycl_ew_store_f64(dycl_value_t* t, int64_t off, int64_t n, const double* buf);
/* Stores n int64 values at flat index `off` (contiguous): integer targets wrap, floating targets
 * convert (as uint64 when `is_unsigned`); bool is x != 0. */
void dycl_ew_store_i64(dycl_value_t* t, int64_t off, int64_t n, const int64_t* buf, bool is_unsigned);

/* Checks the types of the attributes these families read (a wrong type would read as absent). */
dycl_status_t dycl_ew_check_attrs(const dycl_node_t* node);

/* The dtype of input i at inference (UNDEFINED when unknown or omitted). */
dycl_dtype_t dycl_ew_in_dtype(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i);

/* The start of most inference callbacks of these families: checks the attributes, then (when
 * `allowed` is not NULL) input 0's dtype, then that input 0 is a tensor; *t is input 0's type
 * (an unknown tensor when inference knows nothing), to adjust and set as an output type. */
dycl_status_t dycl_ew_infer_input0(dycl_infer_ctx_t* ctx, const dycl_node_t* node, const dycl_dtype_t* allowed,
                                   dycl_type_t* t);

#endif
