/* The op table, generated from ops/ops.def. */
#include "ops/op.h"

const dycl_op_def_t dycl_op_table[DYCL_OP_COUNT_] = {
#define DYCL_OP(name, min_in, max_in, min_out, max_out, flags, infer, run) \
  {#name, min_in, max_in, min_out, max_out, flags, infer, run},
#include "ops/ops.def"
#undef DYCL_OP
};
