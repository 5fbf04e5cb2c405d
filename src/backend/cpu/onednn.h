/* The oneDNN glue of the `cpu` backend. Every call into oneDNN lives in onednn.c, behind this
 * small interface in dycl's own terms (oneDNN 3 changed the C API: only onednn.c has to follow).
 *
 * A cpu_prim_t is one ready-to-run oneDNN primitive (convolution, matrix product, pooling or
 * reduction) for one set of shapes, with its fused post-ops. Tensors cross this interface as
 * float32 buffers, plain row-major or, for activations of convolutions and pools, channels-last
 * (matrix operands may be strided); the primitive reorders internally where it chose another
 * layout. Weights may be packed once into the primitive's preferred layout
 * (cpu_wcache_t) and passed packed on every run.
 *
 * Primitives are immutable once created and may be executed from several threads at once (each
 * execution has its own stream and scratchpad). cpu_wcache_t is not synchronized: the caller
 * holds a lock around cpu_wcache_get. */
#ifndef DYCL_BACKEND_CPU_ONEDNN_H
#define DYCL_BACKEND_CPU_ONEDNN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

#define CPU_MAX_ACTS 4
#define CPU_MM_MAX_RANK 8

typedef struct cpu_dnn cpu_dnn_t;       /* an engine */
typedef struct cpu_prim cpu_prim_t;     /* a primitive and its memory descriptors */
typedef struct cpu_wcache cpu_wcache_t; /* one node's weights, packed for its primitives */

typedef enum cpu_act_kind {
  CPU_ACT_RELU = 0, /* alpha: negative slope (LeakyRelu) */
  CPU_ACT_CLIP,     /* [alpha, beta] */
  CPU_ACT_SIGMOID,
  CPU_ACT_TANH,
  CPU_ACT_ELU, /* alpha */
  CPU_ACT_HARDSWISH,
} cpu_act_kind_t;

typedef struct cpu_act {
  cpu_act_kind_t kind;
  float alpha, beta;
} cpu_act_t;

/* Post-ops, in this order: dst = act_n(...act_1(result + sum_scale * addend)). */
typedef struct cpu_post {
  bool sum; /* add cpu_args_t.sum (of the output's shape) */
  float sum_scale;
  int n_act;
  cpu_act_t act[CPU_MAX_ACTS];
} cpu_post_t;

/* A 1-, 2- or 3-D convolution: x[N, C, in...] * w[M, C/G, k...] (+ b[M]) -> y[N, M, out...], or
 * with `transpose` a transposed one (ConvTranspose): w[C, M/G, k...], out = (in - 1) * s + (k - 1)
 * * d + 1 - pl - pr. */
typedef struct cpu_conv_desc {
  bool transpose;
  int nsp;
  int64_t N, C, M, G;
  int64_t in[3], k[3], out[3], s[3], d[3], pl[3], pr[3]; /* d: ONNX dilation (1 = none) */
  bool bias;
  bool blocked_io;             /* let oneDNN pick the activation layout (reordered to and from plain inside) */
  bool src_cl, dst_cl, sum_cl; /* x, y, the addend: channels-last (NHWC...) instead of plain */
  int threads;                 /* 0: the engine's */
} cpu_conv_desc_t;

/* A (batched) matrix product: a[..., M, K] x b[..., K, N] (+ bias[N]) -> c[..., M, N]. All three
 * have the same rank (2..CPU_MM_MAX_RANK); batch dims of a and b are equal or 1 (broadcast).
 * a and b may be strided (transposed operands); c is row-major. */
typedef struct cpu_mm_desc {
  int rank;
  int64_t a_dims[CPU_MM_MAX_RANK], a_strides[CPU_MM_MAX_RANK];
  int64_t b_dims[CPU_MM_MAX_RANK], b_strides[CPU_MM_MAX_RANK];
  int64_t c_dims[CPU_MM_MAX_RANK];
  bool bias;
  int threads; /* 0: the engine's */
} cpu_mm_desc_t;

typedef enum cpu_pool_kind { CPU_POOL_MAX = 0, CPU_POOL_AVG_INCLUDE, CPU_POOL_AVG_EXCLUDE } cpu_pool_kind_t;

/* A 1-, 2- or 3-D pool: x[N, C, in...] -> y[N, C, out...]. */
typedef struct cpu_pool_desc {
  cpu_pool_kind_t kind;
  int nsp;
  int64_t N, C;
  int64_t in[3], k[3], out[3], s[3], d[3], pl[3], pr[3];
  bool src_cl, dst_cl; /* channels-last (NHWC...) instead of plain */
  int threads;         /* 0: the engine's */
} cpu_pool_desc_t;

typedef enum cpu_reduce_kind { CPU_REDUCE_SUM = 0, CPU_REDUCE_MEAN, CPU_REDUCE_MAX, CPU_REDUCE_MIN } cpu_reduce_kind_t;

/* A reduction of x[dims] over the dims where out_dims is 1 (and dims is not). */
typedef struct cpu_reduce_desc {
  cpu_reduce_kind_t kind;
  int rank;
  int64_t dims[DYCL_MAX_RANK], out_dims[DYCL_MAX_RANK];
  bool src_cl; /* x channels-last (rank >= 3), y plain */
  int threads; /* 0: the engine's */
} cpu_reduce_desc_t;

/* The buffers of one execution. `weights` is plain (as described to the primitive) unless
 * `weights_packed`, in which case it comes from cpu_wcache_get for the same primitive. `sum` (the
 * addend of a sum post-op, in its described layout) may be `dst` itself. */
typedef struct cpu_args {
  const float* src;
  const void* weights;
  bool weights_packed;
  const float* bias;
  const float* sum;
  float* dst;
} cpu_args_t;

/* An engine; `threads` > 0: the OpenMP threads its primitives run on (else OpenMP's default, as
 * the calling thread sees it when a primitive is created). A primitive runs on the threads it was
 * created for; the caller's OpenMP setting is restored after each call. `alloc` (NULL: malloc)
 * makes every buffer of this glue: the engine, primitives and their execution contexts, weight
 * caches and packed weights; it must outlive the engine and everything made with it. Memory
 * oneDNN allocates internally (its engine, primitive descriptors, primitives, streams, memory
 * objects) is out of its reach. */
dycl_status_t cpu_dnn_create(int threads, const dycl_allocator_t* alloc, cpu_dnn_t** out);
void cpu_dnn_destroy(cpu_dnn_t* dnn);
/* The threads its primitives run on (when created with 0: OpenMP's default, as the calling thread
 * sees it now). */
int cpu_dnn_threads(const cpu_dnn_t* dnn);

/* Create a primitive. When oneDNN has no implementation for the problem (or rejects it), return
 * NULL with *out NULL: the caller runs the reference kernels instead. `weights_any` lets oneDNN
 * choose the weights layout (worth it when the weights are packed once); otherwise the weights
 * are read in their plain layout. */
dycl_status_t cpu_prim_conv(cpu_dnn_t* dnn, const cpu_conv_desc_t* d, const cpu_post_t* post, bool weights_any,
                            cpu_prim_t** out);
dycl_status_t cpu_prim_matmul(cpu_dnn_t* dnn, const cpu_mm_desc_t* d, const cpu_post_t* post, bool weights_any,
                              cpu_prim_t** out);
dycl_status_t cpu_prim_pool(cpu_dnn_t* dnn, const cpu_pool_desc_t* d, cpu_prim_t** out);
dycl_status_t cpu_prim_reduce(cpu_dnn_t* dnn, const cpu_reduce_desc_t* d, cpu_prim_t** out);
void cpu_prim_destroy(cpu_prim_t* p);

/* The weights of `p` packed into its layout from `plain`: found in `*wc` (weights already packed
 * for another primitive with the same layout) or packed now and kept there. `*wc` may be NULL
 * (created here, with the engine's allocator, which also makes the packed buffers). The packed
 * buffer lives as long as the cache. */
dycl_status_t cpu_wcache_get(cpu_dnn_t* dnn, cpu_wcache_t** wc, const cpu_prim_t* p, const float* plain,
                             const void** packed);
void cpu_wcache_destroy(cpu_wcache_t* wc);

/* The bytes of workspace one execution of p needs (its scratchpad and reorder buffers). */
size_t cpu_prim_workspace_bytes(const cpu_prim_t* p);
/* Runs the primitive; `workspace` (64-byte aligned, cpu_prim_workspace_bytes of p, only used
 * during the call) holds its temporary buffers. */
dycl_status_t cpu_prim_exec(cpu_dnn_t* dnn, const cpu_prim_t* p, const cpu_args_t* a, void* workspace);

#endif
