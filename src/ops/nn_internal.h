/* Helpers shared inside the nn family (nn_conv.c, nn_pool.c, nn_matmul.c, ...); not part of the
 * operator interface. Defined in nn_conv.c. */
#ifndef DYCL_OPS_NN_INTERNAL_H
#define DYCL_OPS_NN_INTERNAL_H

#include <math.h>

#include "ops/op.h"

/* The 8-bit quantized element types (uint8, int8), UNDEFINED-terminated. */
extern const dycl_dtype_t dycl_nn_q8_types[];

/* ------------------------------------------------- convolution / pool geometry */

/* The spatial geometry of a convolution or a windowed pool: per spatial dim the input extent,
 * kernel, stride, dilation, begin and end pads, and the output extent (-1 where unknown). */
typedef struct dycl_nn_geom {
  int nsp;
  int64_t in[DYCL_MAX_RANK], k[DYCL_MAX_RANK], s[DYCL_MAX_RANK], d[DYCL_MAX_RANK];
  int64_t pb[DYCL_MAX_RANK], pe[DYCL_MAX_RANK], out[DYCL_MAX_RANK];
} dycl_nn_geom_t;

/* The same for exactly three spatial dims: 1-D and 2-D kernels run as 3-D ones whose leading
 * dims have extent 1 (kernel, stride and dilation 1, no padding). */
typedef struct dycl_nn_geom3 {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} dycl_nn_geom3_t;

void dycl_nn_to_geom3(const dycl_nn_geom_t* g, dycl_nn_geom3_t* g3);

typedef enum { DYCL_NN_PAD_NOTSET, DYCL_NN_PAD_SAME_UPPER, DYCL_NN_PAD_SAME_LOWER, DYCL_NN_PAD_VALID } dycl_nn_auto_pad_t;

/* Reads the auto_pad attribute (NOTSET, SAME_UPPER, SAME_LOWER, VALID; empty means NOTSET). */
dycl_status_t dycl_nn_auto_pad(const dycl_node_t* node, dycl_nn_auto_pad_t* ap);

/* Reads an ints attribute of exactly `n` entries (or absent: `dflt` everywhere), each in
 * [lo, hi]; errors are DYCL_CODE_INVALID_MODEL. */
dycl_status_t dycl_nn_ints_attr(const dycl_node_t* node, const char* name, int n, int64_t dflt, int64_t lo, int64_t hi,
                                int64_t* v);

/* ------------------------------------------------------ quantized operators */

/* Element-type checks of ConvInteger and MatMulInteger: inputs 0 and 1 (x/A, w/B) are 8-bit,
 * their zero points (2, 3) have their types. */
dycl_status_t dycl_nn_infer_integer_inputs(dycl_infer_ctx_t* ctx, const dycl_node_t* node);

/* Element-type checks shared by QLinearConv and QLinearMatMul (inputs 0..7): x/a (0), w/b (3)
 * and the output zero point (7) are 8-bit, the zero points 2 and 5 have the types of 0 and 3,
 * the scales 1, 4 and 6 are float32. */
dycl_status_t dycl_nn_infer_qlinear_inputs(dycl_infer_ctx_t* ctx, const dycl_node_t* node);

/* The quantized value of v (an accumulator times its float32 scale): rounded half to even, plus
 * the zero point, saturated to the range of `dtype` (uint8 or int8); NaN gives the zero point. */
static inline int64_t dycl_nn_requantize(float v, int64_t zp, dycl_dtype_t dtype) {
  const double lo = dtype == DYCL_DTYPE_UINT8 ? 0 : -128, hi = dtype == DYCL_DTYPE_UINT8 ? 255 : 127;
  double r = (double)nearbyintf(v) + (double)zp;
  if (isnan(r)) r = (double)zp;
  if (r < lo) r = lo;
  if (r > hi) r = hi;
  return (int64_t)r;
}

#endif
