/* Helpers shared by the shape family (shape.c, shape_gen.c, shape_index.c); not part of the
 * operator interface. Defined in shape.c. */
#ifndef DYCL_OPS_SHAPE_INTERNAL_H
#define DYCL_OPS_SHAPE_INTERNAL_H

#include "ops/op.h"

/* Most dims a strided copy iterates over (Tile views its output as [rep0, d0, rep1, d1, ...]). */
#define SHAPE_MAX_ITER (2 * DYCL_MAX_RANK)

/* ------------------------------------------------------------------ inference */

/* The type of input i as a tensor type: unknown (dtype UNDEFINED, rank -1) when inference knows
 * nothing or the input is omitted; an error when it is known not to be a tensor. */
dycl_status_t dycl_shape_in_type(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i, dycl_type_t* t);
/* Reads constant input i (a 0-D or 1-D integer tensor, at most `max` values) when it is known at
 * load time; *known false otherwise. */
dycl_status_t dycl_shape_const_ints(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i, int64_t* buf, int max,
                                    int* n, bool* known);
/* a * b for dims: exact when both are known (unknown on overflow), 0 or the other one when one
 * of them is 0 or 1. */
dycl_dim_t dycl_shape_dim_mul(dycl_dim_t a, dycl_dim_t b);
/* The product of dims [a, b) of t (dycl_shape_dim_mul). */
dycl_dim_t dycl_shape_dim_prod(const dycl_type_t* t, int a, int b);

/* -------------------------------------------------------------------- kernels */

/* *t = in[i] when present (NULL when omitted); an error when it is not a tensor. */
dycl_status_t dycl_shape_opt_tensor(const dycl_node_t* node, dycl_value_t* const* in, int nin, int i,
                                    const dycl_value_t** t);
/* The product of dims[a..b) of a tensor that exists (so it cannot overflow). */
int64_t dycl_shape_prod(const int64_t* dims, int a, int b);
/* Copies n consecutive elements (same dtype; strings are copied with dycl_tensor_copy_elem, see
 * dycl_shape_finish). */
void dycl_shape_copy_block(dycl_value_t* dst, int64_t di, const dycl_value_t* src, int64_t si, int64_t n);
/* Fills dst (from element doff on, in row-major order of `dims`) with the elements of src at
 * soff + sum(index[i] * strides[i]). Strides may be 0 (broadcast) or negative (reversed slices).
 * rank <= SHAPE_MAX_ITER. */
void dycl_shape_strided_copy(dycl_value_t* dst, int64_t doff, const dycl_value_t* src, int64_t soff, int rank,
                             const int64_t* dims, const int64_t* strides);
/* After copying strings into t: a NULL element means an allocation failed (an error). */
dycl_status_t dycl_shape_finish(const dycl_node_t* node, const dycl_value_t* t);

#endif
