/* The operator interface. Every operator is one entry of the op table (ops/ops.def, an X-macro
 * list that includes one .def file per op family) and has two callbacks, implemented in the
 * family's .c file under src/ops/:
 *
 *   infer: static type (and, where it can, shape) inference at load time. It reads the input
 *          types and sets every present output's type. It validates attributes and input types,
 *          returning an error that names the node (dycl_node_error) on bad models.
 *   run:   the reference (`ref` backend) kernel: computes outputs from concrete inputs. It creates
 *          each present output (out[j] is NULL on entry; leave it NULL for an omitted output
 *          whose value id is -1). in[i] is NULL for an omitted optional input. On error, the
 *          caller releases whatever outputs were set.
 *
 * Kernels must treat inputs as read-only, never abort on anything a model or input can cause,
 * and check sizes with the overflow-checked helpers.
 */
#ifndef DYCL_OPS_OP_H
#define DYCL_OPS_OP_H

#include "base/base.h"
#include "base/value.h"
#include "ir/ir.h"

/* ---------------------------------------------------------------- contexts */

struct dycl_placement;

typedef struct dycl_kctx {
  const dycl_allocator_t* alloc;
  const dycl_limits_t* limits;
  uint64_t seed; /* for random operators without a seed attribute */
  /* the session's arena for planned intermediates (backend/mem_plan.h); NULL: none. While a node
   * whose outputs are planned runs, `alloc` is the arena's placement allocator, and `heap` the
   * allocator for memory that must outlive the node's outputs (caches, packed weights). */
  struct dycl_placement* place;
  const dycl_allocator_t* heap;
  /* profiling (dycl_session_set_profiling), NULL when off: per node of the sub-network being run,
   * the nanoseconds its steps took and their number, and for a node whose work ran within another
   * node's step (fused), that node's index (else -1). Backends add through dycl_prof_*. */
  int64_t* prof_ns;
  int64_t* prof_calls;
  int* prof_into;
} dycl_kctx_t;

/* The start of a step, for dycl_prof_end (0 when profiling is off). */
static inline int64_t dycl_prof_begin(const dycl_kctx_t* k) { return k->prof_ns ? dycl_mono_ns() : 0; }
/* Adds the step begun at t0 (dycl_prof_begin) to node `node` of the running sub-network. */
static inline void dycl_prof_end(const dycl_kctx_t* k, int node, int64_t t0) {
  if (!k->prof_ns) return;
  k->prof_ns[node] += dycl_mono_ns() - t0;
  k->prof_calls[node]++;
}
/* Records that node `member`'s work runs within node `step`'s steps. */
static inline void dycl_prof_fused(const dycl_kctx_t* k, int member, int step) {
  if (k->prof_into) k->prof_into[member] = step;
}

typedef struct dycl_infer_ctx dycl_infer_ctx_t;

typedef dycl_status_t (*dycl_infer_fn)(dycl_infer_ctx_t* ctx, const dycl_node_t* node);
typedef dycl_status_t (*dycl_run_fn)(dycl_kctx_t* ctx, const dycl_node_t* node,
                                     dycl_value_t* const* in, int nin, dycl_value_t** out, int nout);

/* ---------------------------------------------------------------- op table */

enum {
  DYCL_OPF_CONTROL = 1, /* If/Loop/Scan: run by the host, never inside a sub-network */
  DYCL_OPF_RANDOM = 2,  /* non-deterministic output */
  DYCL_OPF_TRAINING = 4, /* belongs to the ai.onnx.preview.training domain */
};

typedef struct dycl_op_def {
  const char* name;
  int min_in, max_in, min_out, max_out; /* max -1: variadic */
  int flags;
  dycl_infer_fn infer;
  dycl_run_fn run;
} dycl_op_def_t;

typedef enum dycl_op_id {
#define DYCL_OP(name, min_in, max_in, min_out, max_out, flags, infer, run) DYCL_OP_##name,
#include "ops/ops.def"
#undef DYCL_OP
  DYCL_OP_COUNT_
} dycl_op_id_t;

extern const dycl_op_def_t dycl_op_table[DYCL_OP_COUNT_];

/* Declarations of every callback named in the table. */
#define DYCL_OP(name, min_in, max_in, min_out, max_out, flags, infer, run) \
  dycl_status_t infer(dycl_infer_ctx_t* ctx, const dycl_node_t* node);    \
  dycl_status_t run(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin, \
                    dycl_value_t** out, int nout);
#include "ops/ops.def"
#undef DYCL_OP

/* --------------------------------------------------------- inference API */

/* Type of input i, or NULL when the input is omitted. Never NULL for a present input (it may be
 * `known == false`). */
const dycl_type_t* dycl_infer_in(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i);
/* The constant value of input i when it is known at load time (initializer, Constant), else NULL. */
const dycl_value_t* dycl_infer_const(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i);
/* Sets the type of output j (ignored when that output is omitted). */
dycl_status_t dycl_infer_set(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int j,
                             const dycl_type_t* type);
/* A fresh symbolic dimension. */
dycl_dim_t dycl_infer_new_sym(dycl_infer_ctx_t* ctx);

/* Ready-made inference callbacks. */
/* Every output: same type as input 0. */
dycl_status_t dycl_infer_same_as_input0(dycl_infer_ctx_t* ctx, const dycl_node_t* node);
/* Numpy-style broadcast of all present inputs, which must share one dtype; output dtype the same. */
dycl_status_t dycl_infer_broadcast(dycl_infer_ctx_t* ctx, const dycl_node_t* node);
/* Same as dycl_infer_broadcast, with a bool output (comparisons). */
dycl_status_t dycl_infer_broadcast_bool(dycl_infer_ctx_t* ctx, const dycl_node_t* node);
/* Every output a tensor of input 0's dtype, shape unknown. */
dycl_status_t dycl_infer_dtype_of_input0(dycl_infer_ctx_t* ctx, const dycl_node_t* node);
/* Every output a tensor of unknown dtype and shape (use only where the dtype cannot be told). */
dycl_status_t dycl_infer_unknown(dycl_infer_ctx_t* ctx, const dycl_node_t* node);

/* Element-type sets for dycl_infer_check_dtype (defined in ops/op_common.c), each terminated by
 * DYCL_DTYPE_UNDEFINED: the floating types (float32/64, float16, bfloat16), the index types
 * (int32, int64), int64 alone, bool alone. */
extern const dycl_dtype_t dycl_dtypes_float[];
extern const dycl_dtype_t dycl_dtypes_index[];
extern const dycl_dtype_t dycl_dtypes_int64[];
extern const dycl_dtype_t dycl_dtypes_bool[];

/* Checks that input i, when its dtype is known, is one of the listed dtypes (terminated by
 * DYCL_DTYPE_UNDEFINED). */
dycl_status_t dycl_infer_check_dtype(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i,
                                     const dycl_dtype_t* allowed);
/* Checks that inputs i and j have the same dtype when both are known. */
dycl_status_t dycl_infer_check_same_dtype(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i,
                                          int j);

/* ---------------------------------------------------------- kernel helpers */

/* Creates output tensor j of the node (errors name the node). */
dycl_status_t dycl_kernel_tensor(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_dtype_t dtype,
                                 int rank, const int64_t* dims, dycl_value_t** out);
/* Requires in[i] to be a present tensor. */
dycl_status_t dycl_kernel_need_tensor(const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                      int i);
/* Normalizes a possibly negative axis against `rank` (for `rank + 1` pass the extended rank);
 * an axis outside [-rank, rank) is a DYCL_CODE_RUNTIME error. */
dycl_status_t dycl_kernel_axis(const dycl_node_t* node, int64_t axis, int rank, int* out);
/* The same with the error code given: inference callbacks pass DYCL_CODE_INVALID_MODEL. */
dycl_status_t dycl_kernel_axis_code(const dycl_node_t* node, dycl_code_t code, int64_t axis, int rank, int* out);
/* Reads an integer tensor (any int dtype, rank 0 or 1) into buf (at most `max` values). */
dycl_status_t dycl_kernel_read_ints(const dycl_node_t* node, const dycl_value_t* t, int64_t* buf,
                                    int max, int* n);
/* Whether Pad node `node` pads only the spatial dims (2 on) of a rank-r tensor of `dtype` with a
 * constant, cropping nothing, as dycl_run_Pad would read it: the pads from `pads_in` (its second
 * input, opset 11 on) or its attribute into pads[0..2r) (begins, then ends), the constant from
 * `value_in` (its third input; NULL or empty: 0; of another dtype: false, the kernel's error) or
 * its attribute into *value. False for any other Pad (other modes, an axes input, r < 3). */
bool dycl_pad_spatial(const dycl_node_t* node, const dycl_value_t* pads_in, const dycl_value_t* value_in,
                      dycl_dtype_t dtype, int r, int64_t* pads, double* value);
/* The arguments of a Slice node, its axes normalized and distinct, its steps filled in. */
typedef struct dycl_slice_args {
  int n; /* number of sliced axes */
  int64_t starts[DYCL_MAX_RANK], ends[DYCL_MAX_RANK], axes[DYCL_MAX_RANK], steps[DYCL_MAX_RANK];
  bool has_axes, has_steps;
} dycl_slice_args_t;
/* Reads the arguments of Slice node `node` for an input of rank `rank`: its attributes before
 * opset 10, else in[1..4] (in[0] is not read; in[3], in[4] may be absent); the kernel's errors. */
dycl_status_t dycl_slice_read(const dycl_node_t* node, dycl_value_t* const* in, int nin, int rank,
                              dycl_slice_args_t* sa);
/* What sa takes of a contiguous tensor of dims `dims`: the slice's dims into vdims, the strides (in
 * elements, 0 along an axis of length 1) into vstrides; returns the offset of its first element. */
int64_t dycl_slice_view(const dycl_slice_args_t* sa, int rank, const int64_t* dims, int64_t* vdims, int64_t* vstrides);
/* Numpy-style broadcast of n shapes; fails (naming the node) when incompatible. */
dycl_status_t dycl_kernel_broadcast(const dycl_node_t* node, int n, const dycl_value_t* const* ts,
                                    int* rank, int64_t* dims);
/* Strides of tensor `t` mapped onto an output shape of `rank` dims (0 where broadcast). */
void dycl_broadcast_strides(const dycl_value_t* t, int rank, const int64_t* dims, int64_t* strides);

/* A double copy of a numeric tensor's t->numel values, which the caller owns (free it with
 * dycl_free(ctx->alloc, ...)). Exact for every numeric dtype but (u)int64 beyond 2^53. */
dycl_status_t dycl_kernel_to_f64(dycl_kctx_t* ctx, const dycl_value_t* t, double** out);
/* Stores t->numel doubles into a numeric tensor: float32 and float64 directly, the other dtypes
 * through dycl_tensor_set_f64 (float16/bfloat16 via float32; integers truncate, saturating). */
void dycl_kernel_store_f64(dycl_value_t* t, const double* buf);
/* A zero-filled work buffer of n elements of `size` bytes, checked for overflow and against the
 * tensor size limit (DYCL_CODE_LIMIT errors naming the node). *out is NULL on error; the caller
 * frees the buffer with dycl_free(ctx->alloc, ...). */
dycl_status_t dycl_kernel_scratch(dycl_kctx_t* ctx, const dycl_node_t* node, int64_t n, size_t size, void** out);
/* Case-insensitive (ASCII) string equality, for attribute values such as activation names. */
bool dycl_kernel_name_eq(const char* a, const char* b);

#endif
