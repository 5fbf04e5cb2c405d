/* The `cpu` backend's own kernels for problems oneDNN runs poorly, used by cpu_ops.c in place of a
 * oneDNN primitive for a group (a head and its fused bias, Add and activations):
 *
 *   - 2-D convolutions with stride 1, no dilation and one group that make few output channels
 *     (at most CPU_OWN_CONV_MAX_M) out of a channels-last source: a DenseNet's growth layers
 *     (RANet: 6, 12 or 24 channels out of 32..136), where oneDNN computes one output channel
 *     vector-wide and leaves most lanes empty (37% of its peak at 6 channels). Here an output is
 *     a dot product over the input channels and the kernel's columns, which lie next to each other
 *     in a channels-last row (kw * C consecutive floats), so the vectors run along them, full but
 *     for the row's tail; a tile of P pixels by MB output channels keeps P * MB accumulators;
 *   - matrix products of a few rows (at most CPU_OWN_MM_MAX_M) by a constant weight matrix: an
 *     RNN's or a decoder's step, a classifier's head on one image. They are bound by the speed at
 *     which the weights stream from memory, and oneDNN 2.6's product kernel for so few rows reads
 *     them at half of it (NMT's 30000-word output layer, x[1, 500] by 60 MB of weights: 27.6 GB/s
 *     against 62 here, measured side by side). With few columns (at most CPU_OWN_MM_MAX_N) the
 *     weights are packed as rows of K, one per output column, and each column is a dot product,
 *     split between the threads by columns; with more, in tiles of columns ([K][tile], as wide as
 *     the vector registers hold accumulators for: 128 columns for one row with AVX-512), each one
 *     stream read once from start to end, split between the threads by tiles.
 *     Products of more rows by at most CPU_OWN_MM_FEW_N columns (an attention's scores against one
 *     vector: [L, K] x [K, 1]), which oneDNN runs at a few GFLOP/s, take the dot products too,
 *     4 rows at a time, split between the threads by blocks of rows.
 *     It also takes products too small to hand to oneDNN (an RNN cell's gates), of any length K;
 *   - windowed pools too small to hand to oneDNN (RANet's 3-channel input pooled to 8x8 and
 *     16x16), which the reference kernel ran through double precision.
 *
 * Weights are packed once, at creation, into the structure (which owns them). A run is split
 * between the threads of the calling thread's OpenMP team (cpu_parallel_for) and computes
 *   y = act_n(...act_1(x * w + bias + sum_scale * sum)),
 * the same post-ops as a oneDNN group (cpu_post_t). Every instruction set of cpu_fast_kernels()
 * has them. */
#ifndef DYCL_BACKEND_CPU_CPU_OWN_H
#define DYCL_BACKEND_CPU_CPU_OWN_H

#include "backend/cpu/onednn.h"

#define CPU_OWN_CONV_MAX_M 8 /* output channels (from 12 on, oneDNN is as fast) */
#define CPU_OWN_MM_MAX_M 4    /* rows of the matrix product */
#define CPU_OWN_MM_MAX_N 64   /* columns taken as dot products (more: in tiles of columns) */
#define CPU_OWN_MM_FEW_N 4    /* with at most these columns, any number of rows (4 at a time) */

typedef struct cpu_own cpu_own_t;

/* Whether the own convolution takes d with these post-ops (a channels-last source and an addend,
 * if any, in the destination's layout). */
bool cpu_own_conv_suits(const cpu_conv_desc_t* d, const cpu_post_t* post);
/* Packs w [M, C, kh, kw] for d. `threads`: those a run is split between (1: the caller alone; the
 * group decides, as for a oneDNN primitive, from the problem's size). */
dycl_status_t cpu_own_conv_create(const cpu_conv_desc_t* d, const cpu_post_t* post, const float* w, int threads,
                                  const dycl_allocator_t* alloc, cpu_own_t** out);

/* Whether the own matrix product takes d (rank 2, a row-major, at most CPU_OWN_MM_MAX_M rows, or
 * any number with at most CPU_OWN_MM_FEW_N columns: an attention's scores against one vector); it
 * takes every post-op. */
bool cpu_own_mm_suits(const cpu_mm_desc_t* d);
/* Packs b (as d's b_dims and b_strides say) for d. */
dycl_status_t cpu_own_mm_create(const cpu_mm_desc_t* d, const cpu_post_t* post, const float* b, int threads,
                                const dycl_allocator_t* alloc, cpu_own_t** out);

/* An ArgMax over the last axis of such a product by constant weights (a decoder's greedy choice
 * of the next token out of its vocabulary's logits, a classifier's class), read by nothing else:
 * at most CPU_OWN_MM_MAX_M rows and at least CPU_OWN_AM_MIN_WEIGHTS weights, which stream from
 * memory at each call. The weights are also kept quantized per column to int8 (a quarter of the
 * bytes), and a run reads those: for each column an approximate logit and a proven bound on its
 * distance from the exact one (the quantization's error times the sum of |x|, plus the rounding
 * of the float sums). Only the columns whose interval reaches the largest lower end can hold
 * the maximum; those are computed exactly (in double precision, from the float weights) and the
 * index is chosen among them, first (or with select_last_index, last) of equal values. The answer
 * is the ArgMax of the exact products: the same index the float product and ArgMax give but where
 * two logits lie within float rounding of each other. A row with a value that is not finite (NaN
 * or an infinity in x, the bias or the addend) is computed whole, as floats, and its ArgMax taken
 * as the fast ArgMax kernel does. */
#define CPU_OWN_AM_MIN_WEIGHTS (1 << 20)
#define CPU_OWN_AM_MAX_K (1 << 22) /* the rounding bound below assumes K * 2^-24 <= 1/4 */

/* Whether the ArgMax kernel takes M rows by K x N weights. */
bool cpu_own_argmax_suits(int64_t M, int64_t K, int64_t N);
/* Quantizes b (as d's b_dims and b_strides say) for d; a bias and an addend (post->sum, with its
 * scale) as for cpu_own_mm_create, no activation. *out NULL when b holds a value that is not
 * finite (no bound holds then). `last`: select_last_index. */
dycl_status_t cpu_own_argmax_create(const cpu_mm_desc_t* d, const cpu_post_t* post, const float* b, bool last,
                                    int threads, const dycl_allocator_t* alloc, cpu_own_t** out);
/* The workspace a run takes (bytes). */
size_t cpu_own_argmax_workspace(const cpu_own_t* o);
/* Runs it: a->src, a->weights (the float weights, as at creation), a->bias and a->sum as for
 * cpu_own_run (a->dst is not written); the M indices into y, ws the workspace (64-byte aligned). */
void cpu_own_argmax_run(const cpu_own_t* o, const cpu_args_t* a, void* ws, int64_t* y);

/* A pool too small for a oneDNN call (fewer than CPU_MIN_WORK taps): a plain loop on the calling
 * thread, either layout on either side (d->src_cl, d->dst_cl); NULL *out when d has more than
 * three spatial dims. */
dycl_status_t cpu_own_pool_create(const cpu_pool_desc_t* d, const dycl_allocator_t* alloc, cpu_own_t** out);

/* Runs it: a->src, a->bias (or NULL), a->sum (or NULL; read before a->dst is written, so that it
 * may be a->dst itself), a->dst; a->weights is not read (the packed copy is). */
void cpu_own_run(const cpu_own_t* o, const cpu_args_t* a);
void cpu_own_destroy(cpu_own_t* o);

#endif
