/* The `cpu` backend's fast kernels for the nodes oneDNN does not run (used by cpu.c).
 *
 * Fused elementwise groups: maximal trees of float32 elementwise nodes (Relu, Sigmoid, Tanh, Exp,
 * Log, Sqrt, Neg, Abs, Erf, Reciprocal, Floor, Ceil, Clip, LeakyRelu, HardSigmoid, HardSwish, Elu,
 * Add, Sub, Mul, Div, Max, Min, Pow with a constant exponent 0, 0.5, 1, 2 or 3, and
 * BatchNormalization in inference form with constant parameters) whose intermediate values have no
 * other use are planned at prepare time and run as one vectorized loop over the output (AVX-512,
 * AVX2 or plain C, picked at run time), with any numpy broadcast among the inputs, split across
 * threads when large. A group runs at the position of its last node (its root); its other nodes
 * are skipped, and the values they would release are released after the root. When a run's
 * inputs do not suit the group (a dtype or shape inference did not promise, shapes that do not
 * broadcast), nothing is written and cpu.c runs the group's nodes one by one instead, which also
 * gives the reference kernels' error messages.
 *
 * Single nodes: Softmax and LogSoftmax over contiguous rows, LayerNormalization, ReduceSum and
 * ReduceMean over trailing axes, Concat, Transpose, and Reshape, Flatten, Squeeze and Unsqueeze
 * (which take over their input's buffer when this node is its last reader, instead of copying it).
 * Each reports *ran false for inputs it does not handle.
 *
 * Every output is checked against what inference said, as the reference kernels' are. The plan is
 * immutable after prepare and may be run by several threads at once. */
#ifndef DYCL_BACKEND_CPU_CPU_FAST_H
#define DYCL_BACKEND_CPU_CPU_FAST_H

#include "backend/backend.h"

typedef struct cpu_fast cpu_fast_t;

/* Plans sub-network sn. node_group[k] != -1 marks the nodes oneDNN runs (NULL: none); `threads`:
 * the threads a large group may use (0: the machine's cores). The plan (*out, owned by the caller,
 * freed with cpu_fast_destroy) holds the groups and serves the single-node kernels. `alloc` (NULL:
 * malloc; it must outlive the plan) makes the plan, its constants and the other threads'
 * temporaries (made on the first large run; the threads themselves never allocate). A large group
 * runs on the calling thread's OpenMP team, the one oneDNN's primitives use. */
dycl_status_t cpu_fast_plan(const dycl_program_t* p, const dycl_subnet_t* sn, const int* node_group, int threads,
                            const dycl_allocator_t* alloc, cpu_fast_t** out);
void cpu_fast_destroy(cpu_fast_t* f);

/* Whether node k belongs to a fused group of which it is not the root: it is skipped in its own
 * position and its values are released after the root. */
bool cpu_fast_deferred(const cpu_fast_t* f, int k);

/* Whether node k is a Concat its group reads in place, from its inputs (it is never made). */
bool cpu_fast_cat_member(const cpu_fast_t* f, int k);

/* The nodes of the group whose root is node k, in order, the root last; 0 when k roots none. */
int cpu_fast_group_nodes(const cpu_fast_t* f, int k, const int** nodes);

/* Runs the group rooted at node k. *ran false: nothing was written (run its nodes one by one). */
dycl_status_t cpu_fast_group_run(const cpu_fast_t* f, const dycl_program_t* p, const dycl_subnet_t* sn, int k,
                                 dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran);

/* Runs node k with a fast kernel when there is one for these inputs; *ran false: nothing was
 * written (use the reference kernel). */
dycl_status_t cpu_fast_node_run(const cpu_fast_t* f, const dycl_program_t* p, const dycl_subnet_t* sn, int k,
                                dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran);

/* Which values are held channels-last ([N, spatial..., C] in memory instead of [N, C,
 * spatial...]; cpu.c keeps track of them). */
typedef struct cpu_cl_query {
  bool (*held_cl)(const void* ctx, int value);
  const void* ctx;
} cpu_cl_query_t;

/* Whether node k may make a channels-last result out of channels-last inputs (cpu_fast_run_cl):
 * it roots a fused group, or is a Concat along the channels of float32 values of rank 3 or more. */
bool cpu_fast_cl_capable(const cpu_fast_t* f, const dycl_program_t* p, const dycl_subnet_t* sn, int k);

/* The root of the fused group node k belongs to; -1 when none. */
int cpu_fast_group_root(const cpu_fast_t* f, int k);

/* Runs node k making its result channels-last: the fused group rooted at k, when some of its
 * externals are held channels-last, all of them with the output's dims, and the plain ones are
 * broadcast along the channels or along the spatial dims (per-channel parameters, scalars); or a
 * Concat along the channels of which some inputs are held channels-last (the plain ones are
 * transposed into place). *ran false: nothing was written (make the inputs plain and run it as
 * usual). */
dycl_status_t cpu_fast_run_cl(const cpu_fast_t* f, const dycl_program_t* p, const dycl_subnet_t* sn, int k,
                              dycl_value_t** slots, const cpu_cl_query_t* q, dycl_kctx_t* kctx, bool* ran);

/* y[c * ldy + r] = x[r, c] for float32 x [rows, cols] contiguous (ldy >= rows: rows of y further
 * apart), dycl_transpose_fn of base/value.h: a plain [C, spatial] image to channels-last
 * [spatial, C] (rows C) and back (rows spatial). */
typedef dycl_transpose_fn cpu_transpose_fn;

/* The transpose of the instruction set cpu_fast_plan's kernels use. */
cpu_transpose_fn cpu_fast_transposer(void);

#endif
