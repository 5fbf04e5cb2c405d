/* The `cpu` backend's fast kernels, shared between the planner/driver (cpu_fast.c, cpu_fast_ops.c)
 * and the vector code (cpu_fast_simd.c, which compiles cpu_fast_kernels.h once per instruction set).
 *
 * A fused elementwise group is compiled into a small program (fast_prog_t): a list of instructions
 * over operands that are either external inputs (tensors read from the slots, or constant buffers
 * the plan owns) or temporaries. The driver walks the output in blocks of at most FAST_BLOCK
 * contiguous elements; in a block every external operand is either a contiguous run (`p[i]`) or
 * one value repeated (scalar), and every instruction runs over the whole block before the next
 * one, the last writing the output. Temporaries are FAST_BLOCK floats each. */
#ifndef DYCL_BACKEND_CPU_CPU_FAST_INTERNAL_H
#define DYCL_BACKEND_CPU_CPU_FAST_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_fast.h"
#include "backend/cpu/cpu_own.h"

#define FAST_BLOCK 512     /* elements per block (a multiple of every vector width) */
#define FAST_MAX_NODES 24  /* nodes fused into one group */
#define FAST_MAX_EXT 16    /* external operands of a group */
#define FAST_MAX_INS 48    /* instructions of a group */
#define FAST_PARALLEL_MIN 16384 /* output elements from which a group or a Concat is split across threads */

typedef enum fast_op {
  /* unary: a */
  FOP_COPY = 0,
  FOP_RELU,
  FOP_LEAKY, /* p0: alpha */
  FOP_SIGMOID,
  FOP_TANH,
  FOP_EXP,
  FOP_LOG,
  FOP_SQRT,
  FOP_NEG,
  FOP_ABS,
  FOP_ERF,
  FOP_RECIP,
  FOP_CLIP,    /* p0: lo, p1: hi (NaN stays NaN) */
  FOP_HSIG,    /* p0: alpha, p1: beta; max(0, min(1, alpha x + beta)) as C's fmax/fmin (NaN gives 1) */
  FOP_HSWISH,  /* x * hsig(x) with 1/6, 1/2 */
  FOP_ELU,     /* p0: alpha */
  FOP_FLOOR,
  FOP_CEIL,
  FOP_SQUARE,  /* Pow(x, 2) */
  FOP_CUBE,    /* Pow(x, 3) */
  FOP_POWHALF, /* Pow(x, 0.5): sqrt, but +inf for -inf */
  FOP_ONE,     /* Pow(x, 0): 1 everywhere, NaN included */
  FOP_UNARY_END_,
  /* binary: a, b */
  FOP_ADD = FOP_UNARY_END_,
  FOP_SUB,
  FOP_MUL,
  FOP_DIV,
  FOP_MAX, /* NaN in either gives NaN */
  FOP_MIN,
  FOP_ADD_RELU, /* max(0, a + b): a residual and its activation */
  FOP_BINARY_END_,
  /* ternary: a * b + c */
  FOP_FMA = FOP_BINARY_END_,
  FOP_FMA_RELU, /* max(0, a * b + c): BatchNormalization and its activation */
  FOP_COUNT_
} fast_op_t;

/* Operand indices: [0, n_ext) external operands, [n_ext, n_ext + n_tmp) temporaries. */
typedef struct fast_ins {
  uint8_t op;
  int8_t dst; /* a temporary, or -1: the group's output */
  int8_t a, b, c;
  float p0, p1;
} fast_ins_t;

/* One block: operand pointers (externals then temporaries), which externals are scalars in this
 * block, the output and the length. */
typedef struct fast_block {
  const float* opnd[FAST_MAX_EXT + FAST_MAX_INS];
  bool scalar[FAST_MAX_EXT + FAST_MAX_INS];
  float* out;
  int64_t n;
} fast_block_t;

/* ---- the problems of the own kernels (cpu_own.h) ---- */

/* What follows an own kernel's dot product: y = act_n(...act_1(v + bias + sum_scale * sum)). */
typedef struct own_post {
  float sum_scale;
  int n_act;
  cpu_act_t act[CPU_MAX_ACTS];
} own_post_t;

/* A 2-D convolution with stride 1 of a channels-last x [N, H, W, C] into y [N, OH, OW, M] (y_cl) or
 * [N, M, OH, OW], padded by pt rows above and pl columns left (the other pads follow from OH, OW).
 * w is packed as [M][KH][lw]: row kh of output channel m holds w[m, c, kh, kw] at kw * C + c, the
 * KW * C floats a channels-last input row holds in that order, zero-padded to lw. An addend (sum)
 * lies as y does. */
typedef struct own_conv {
  int64_t N, C, H, W, M, KH, KW, OH, OW, pt, pl, lw;
  bool y_cl;
  const float* w;
  own_post_t post;
} own_conv_t;

/* x [M, K] (row-major) times the weights into y [M, N]. nc 0: w packed as [N][K] (row n is column n
 * of the weight matrix; own_mm_cols); nc > 0: in tiles of nc columns, tile t as [K][w] with w = nc
 * but for the last tile, whose N - t * nc columns are rounded up to whole vectors with zeros
 * (own_mm_tiles). The bias is per column, the addend [M, N]. */
typedef struct own_mm {
  int64_t M, K, N, nc;
  const float* w;
  own_post_t post;
} own_mm_t;

/* The approximate pass of a product of x [M, K] (M <= CPU_OWN_MM_MAX_M) by weights quantized per
 * column to int8 (cpu_own_argmax_create): w in tiles of nc columns, tile t as [K][w] int8 laid out
 * as own_mm_t's floats (tile t starts at t * nc * K); column n's weights are scale[n] * q, each
 * within err0[n] of the exact one. own_am_tiles writes hi [M, N] = a + E for each column: a the
 * approximation scale[n] * (x . q) + bias[n] + sum_scale * sum[i, n], E a bound on its distance
 * from the exact value, x1[i] * err[n] + (|scale * x . q| + |bias| + |sum_scale * sum|) * 2^-20 +
 * tiny * scale[n] (x1[i]: the sum of |x[i, k]|; err[n]: err0[n] plus the bound on the rounding of
 * the K products and sums, see cpu_own.c); and per tile and row the largest a - E (tlo) and
 * a + E (thi, NaN when some a + E is not finite) at [t * M + i]. */
typedef struct own_am {
  int64_t M, K, N, nc;
  const int8_t* w;
  const float *scale, *err;
  float sum_scale, tiny;
} own_am_t;

/* Runs fn(ctx, begin, end) over [0, n) split into contiguous parts between `threads` threads of the
 * calling thread's OpenMP team, the caller taking the first (threads <= 1 or n <= 1: the caller
 * alone). cpu_fast.c. */
void cpu_parallel_for(int threads, int64_t n, void (*fn)(void* ctx, int64_t begin, int64_t end), void* ctx);

/* The vector code of one instruction set. */
typedef struct fast_kernels {
  const char* isa; /* "avx512", "avx2", "scalar" */
  int width;       /* floats per vector */
  /* Runs the instructions over one block (temporaries are already in b->opnd). */
  void (*run_block)(const fast_ins_t* ins, int n_ins, const fast_block_t* b);
  /* Softmax (log_softmax false) or LogSoftmax of each of `rows` rows of n contiguous floats. */
  void (*softmax_rows)(const float* x, float* y, int64_t rows, int64_t n, bool log_softmax);
  /* LayerNormalization of rows of n floats: (x - mean) / sqrt(var + eps) * scale[j] (+ bias[j]). */
  void (*layernorm_rows)(const float* x, float* y, int64_t rows, int64_t n, const float* scale, const float* bias,
                         float eps);
  /* Sum (or mean) of each of `rows` rows of n floats into y[r]. */
  void (*sum_rows)(const float* x, float* y, int64_t rows, int64_t n, bool mean);
  /* y[o, i] = sum (or mean) over r of x[o, r, i], for x [outer, R, inner] contiguous. */
  void (*sum_middle)(const float* x, float* y, int64_t outer, int64_t R, int64_t inner, bool mean);
  /* y[c * ldy + r] = x[r, c] for x [rows, cols] contiguous (cpu_transpose_fn, cpu_fast.h). */
  void (*transpose)(const float* x, float* y, int64_t rows, int64_t cols, int64_t ldy);
  /* y[c * ldy + r] = x[r * ldx + c] for r < rows, c < cols (a block of a plain image's channels
   * made channels-last). */
  void (*transpose_ld)(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t rows, int64_t cols);
  /* y[r * ldy + j] = x[r * ldx + j] for r < rows, j < w (rows of a concatenation's part). */
  void (*copy_rows)(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t rows, int64_t w);
  /* ArgMax (is_max) or ArgMin of each of `rows` rows of n >= 1 contiguous floats into y[r]. */
  void (*argext_rows)(const float* x, int64_t rows, int64_t n, bool is_max, bool last, int64_t* y);
  /* Output rows [r0, r1) (r = n * OH + oh) of an own convolution; bias [M] and sum may be NULL. */
  void (*own_conv_rows)(const own_conv_t* c, const float* x, const float* bias, const float* sum, float* y, int64_t r0,
                        int64_t r1);
  /* Output columns [n0, n1) of an own matrix product; bias [N] and sum may be NULL. */
  void (*own_mm_cols)(const own_mm_t* m, const float* x, const float* bias, const float* sum, float* y, int64_t n0,
                      int64_t n1);
  /* Tiles [t0, t1) of a wide own matrix product (m->nc > 0). */
  void (*own_mm_tiles)(const own_mm_t* m, const float* x, const float* bias, const float* sum, float* y, int64_t t0,
                       int64_t t1);
  /* The widest tile a wide product of M rows takes (columns, whole vectors; 0: none for M). */
  int64_t (*own_mm_wide_cols)(int64_t M);
  /* Tiles [t0, t1) of the approximate pass of a product read by an ArgMax (own_am_t). */
  void (*own_am_tiles)(const own_am_t* m, const float* x, const float* x1, const float* bias, const float* sum,
                       float* hi, float* tlo, float* thi, int64_t t0, int64_t t1);
} fast_kernels_t;

/* The best kernels this CPU runs (AVX-512, else AVX2 with FMA, else scalar C); DYCL_CPU_ISA=
 * avx512|avx2|scalar in the environment caps the choice (for tests). */
const fast_kernels_t* cpu_fast_kernels(void);
/* The kernels plan f was made with (cpu_fast_kernels() then; f NULL: looked up now). */
const fast_kernels_t* cpu_fast_kern(const struct cpu_fast* f);

/* Concat node n along the channels with a channels-last result (cpu_fast_run_cl, cpu_fast_ops.c). */
dycl_status_t cpu_fast_concat_cl(const fast_kernels_t* kern, int threads, const dycl_program_t* p, const dycl_node_t* n,
                                 dycl_value_t** slots, const cpu_cl_query_t* q, dycl_kctx_t* kctx, bool* ran);

/* Pad node n over the spatial dims of a channels-last source (dycl_pad_spatial), with a
 * channels-last result (cpu_fast_run_cl, cpu_fast_ops.c). */
dycl_status_t cpu_fast_pad_cl(const dycl_program_t* p, const dycl_node_t* n, dycl_value_t** slots,
                              const cpu_cl_query_t* q, dycl_kctx_t* kctx, bool* ran);

/* Whether value v is released after node k of sn (k is its last reader there). */
bool cpu_fast_dies_at(const dycl_subnet_t* sn, int k, int v);

/* Whether the buffer of value v, which only the caller's slot holds and which dies at the running
 * node, may outlive that node as another value's: not when it lies in the session's arena, whose
 * bytes the memory plan hands to later values. */
bool cpu_fast_may_keep(const dycl_kctx_t* kctx, const dycl_value_t* v);

/* The single-node fast kernels (cpu_fast_ops.c): runs node k when one suits its inputs, else
 * sets *ran false and writes nothing. */
dycl_status_t cpu_fast_op_run(const fast_kernels_t* kern, const dycl_program_t* p, const dycl_subnet_t* sn, int k,
                              dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran);

#endif
