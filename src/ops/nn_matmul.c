/* Matrix products: MatMul, MatMulInteger, QLinearMatMul, Gemm, Einsum, and Det.
 *
 * The matrix kernels run in i-k-j order (each row of the output accumulates scaled, contiguous
 * rows of B) or as dot products of contiguous rows when B is transposed. float32 is computed in
 * float32, float64 in double, float16/bfloat16 through float32, integers in wrapping 64-bit
 * arithmetic (the result is truncated to the output type, as C's unsigned arithmetic does). */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/nn_internal.h"
#include "ops/op.h"

/* ---------------------------------------------------------------- helpers */

static const dycl_dtype_t k_mm_types[] = {DYCL_DTYPE_FLOAT32, DYCL_DTYPE_FLOAT64, DYCL_DTYPE_FLOAT16,
                                          DYCL_DTYPE_BFLOAT16, DYCL_DTYPE_INT32, DYCL_DTYPE_INT64,
                                          DYCL_DTYPE_UINT32, DYCL_DTYPE_UINT64, DYCL_DTYPE_UNDEFINED};

/* How a dtype is computed: in float, in double, or in wrapping 64-bit integers. */
typedef enum { CK_F32, CK_F64, CK_INT } calc_kind_t;

static calc_kind_t calc_kind(dycl_dtype_t t) {
  if (t == DYCL_DTYPE_FLOAT64) return CK_F64;
  if (dycl_dtype_is_float(t)) return CK_F32;
  return CK_INT;
}

static size_t calc_size(calc_kind_t k) { return k == CK_F32 ? sizeof(float) : 8; }

/* A buffer for a tensor's values in its calc kind (an input's view, or an output buffer written
 * back by calc_store): the tensor's own data when the types match (float32, float64, or
 * int64/uint64 for CK_INT), else uninitialized scratch, also in *owned. */
static dycl_status_t calc_buf(dycl_kctx_t* ctx, const dycl_value_t* t, calc_kind_t k, void** p, void** owned) {
  *owned = NULL;
  if ((k == CK_F32 && t->dtype == DYCL_DTYPE_FLOAT32) || (k == CK_F64 && t->dtype == DYCL_DTYPE_FLOAT64) ||
      (k == CK_INT && (t->dtype == DYCL_DTYPE_INT64 || t->dtype == DYCL_DTYPE_UINT64))) {
    *p = t->data;
    return NULL;
  }
  void* b = dycl_malloc(ctx->alloc, (size_t)t->numel * calc_size(k) + 1);
  if (!b) return dycl_error_nomem();
  *owned = b;
  *p = b;
  return NULL;
}

/* A tensor's values in its calc kind: its own data, or a converted copy in *owned. */
static dycl_status_t calc_view(dycl_kctx_t* ctx, const dycl_value_t* t, calc_kind_t k, const void** p, void** owned) {
  void* b;
  DYCL_RETURN_IF_ERROR(calc_buf(ctx, t, k, &b, owned));
  if (*owned)
    for (int64_t i = 0; i < t->numel; i++) {
      if (k == CK_F32) ((float*)b)[i] = (float)dycl_tensor_get_f64(t, i);
      else if (k == CK_F64) ((double*)b)[i] = dycl_tensor_get_f64(t, i);
      else ((uint64_t*)b)[i] = (uint64_t)dycl_tensor_get_i64(t, i);
    }
  *p = b;
  return NULL;
}

/* Writes a scratch output buffer back into the tensor (no-op when it was the tensor's data). */
static void calc_store(dycl_value_t* t, calc_kind_t k, const void* buf) {
  if (buf == t->data) return;
  for (int64_t i = 0; i < t->numel; i++) {
    if (k == CK_F32) dycl_tensor_set_f64(t, i, ((const float*)buf)[i]);
    else if (k == CK_F64) dycl_tensor_set_f64(t, i, ((const double*)buf)[i]);
    else dycl_tensor_set_i64(t, i, (int64_t)((const uint64_t*)buf)[i]);
  }
}

/* ------------------------------------------------------------ mm kernels */

/* C[M,N] = A[M,K] * B[K,N] (C overwritten). Rows of A are taken 4 at a time against 16 columns
 * of B whose partial sums (over blocks of 256 k) stay in registers; leftover rows run as
 * axpy over contiguous rows of B (i-k-j), leftover columns as short dot products. */
#define NN_MM(SUF, T)                                                                                          \
  static void mm_##SUF(const T* A, const T* B, T* C, int64_t M, int64_t K, int64_t N) {                        \
    for (int64_t i = 0; i < M * N; i++) C[i] = (T)0;                                                           \
    const int64_t KB = 256;                                                                                    \
    for (int64_t k0 = 0; k0 < K; k0 += KB) {                                                                   \
      const int64_t k1 = K - k0 < KB ? K : k0 + KB;                                                            \
      int64_t i = 0;                                                                                           \
      for (; i + 4 <= M; i += 4) {                                                                             \
        const T* a0p = A + i * K;                                                                              \
        const T* a1p = a0p + K;                                                                                \
        const T* a2p = a1p + K;                                                                                \
        const T* a3p = a2p + K;                                                                                \
        int64_t j = 0;                                                                                         \
        for (; j + 16 <= N; j += 16) {                                                                         \
          T acc[4][16];                                                                                        \
          for (int t = 0; t < 16; t++) acc[0][t] = acc[1][t] = acc[2][t] = acc[3][t] = (T)0;                   \
          for (int64_t k = k0; k < k1; k++) {                                                                  \
            const T* restrict b = B + k * N + j;                                                               \
            const T a0 = a0p[k], a1 = a1p[k], a2 = a2p[k], a3 = a3p[k];                                        \
            for (int t = 0; t < 16; t++) {                                                                     \
              acc[0][t] += a0 * b[t];                                                                          \
              acc[1][t] += a1 * b[t];                                                                          \
              acc[2][t] += a2 * b[t];                                                                          \
              acc[3][t] += a3 * b[t];                                                                          \
            }                                                                                                  \
          }                                                                                                    \
          for (int r = 0; r < 4; r++)                                                                          \
            for (int t = 0; t < 16; t++) C[(i + r) * N + j + t] += acc[r][t];                                  \
        }                                                                                                      \
        for (; j < N; j++) {                                                                                   \
          T s0 = (T)0, s1 = (T)0, s2 = (T)0, s3 = (T)0;                                                        \
          for (int64_t k = k0; k < k1; k++) {                                                                  \
            const T bv = B[k * N + j];                                                                         \
            s0 += a0p[k] * bv;                                                                                 \
            s1 += a1p[k] * bv;                                                                                 \
            s2 += a2p[k] * bv;                                                                                 \
            s3 += a3p[k] * bv;                                                                                 \
          }                                                                                                    \
          C[i * N + j] += s0;                                                                                  \
          C[(i + 1) * N + j] += s1;                                                                            \
          C[(i + 2) * N + j] += s2;                                                                            \
          C[(i + 3) * N + j] += s3;                                                                            \
        }                                                                                                      \
      }                                                                                                        \
      for (; i < M; i++) {                                                                                     \
        T* restrict c = C + i * N;                                                                             \
        for (int64_t k = k0; k < k1; k++) {                                                                    \
          const T av = A[i * K + k];                                                                           \
          const T* restrict b = B + k * N;                                                                     \
          for (int64_t j = 0; j < N; j++) c[j] += av * b[j];                                                   \
        }                                                                                                      \
      }                                                                                                        \
    }                                                                                                          \
  }                                                                                                            \
  /* C[M,N] = A[M,K] * B[N,K]^T as dot products of contiguous rows, each summed in 8 lanes. */                 \
  static void mm_bt_##SUF(const T* A, const T* B, T* C, int64_t M, int64_t K, int64_t N) {                     \
    for (int64_t i = 0; i < M; i++) {                                                                          \
      const T* restrict a = A + i * K;                                                                         \
      for (int64_t j = 0; j < N; j++) {                                                                        \
        const T* restrict b = B + j * K;                                                                       \
        T p[8] = {(T)0, (T)0, (T)0, (T)0, (T)0, (T)0, (T)0, (T)0};                                             \
        int64_t k = 0;                                                                                         \
        for (; k + 8 <= K; k += 8)                                                                             \
          for (int t = 0; t < 8; t++) p[t] += a[k + t] * b[k + t];                                             \
        T acc = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));                             \
        for (; k < K; k++) acc += a[k] * b[k];                                                                 \
        C[i * N + j] = acc;                                                                                    \
      }                                                                                                        \
    }                                                                                                          \
  }

NN_MM(f32, float)
NN_MM(f64, double)
NN_MM(u64, uint64_t)

static void mm_any(calc_kind_t k, const void* A, const void* B, void* C, int64_t M, int64_t K, int64_t N) {
  if (k == CK_F32) mm_f32(A, B, C, M, K, N);
  else if (k == CK_F64) mm_f64(A, B, C, M, K, N);
  else mm_u64(A, B, C, M, K, N);
}

/* dst[cols, rows] = src[rows, cols]^T for 4- or 8-byte elements. */
static void transpose_buf(const void* src, void* dst, int64_t rows, int64_t cols, size_t es) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      if (es == 4) ((uint32_t*)dst)[c * rows + r] = ((const uint32_t*)src)[r * cols + c];
      else ((uint64_t*)dst)[c * rows + r] = ((const uint64_t*)src)[r * cols + c];
    }
}

/* ------------------------------------------------------------- MatMul shape */

typedef struct mm_shape {
  int rank; /* output */
  int64_t dims[DYCL_MAX_RANK];
  int brank; /* batch dims */
  int64_t bdims[DYCL_MAX_RANK];
  int64_t M, K, N, batch;
} mm_shape_t;

static dycl_status_t mm_setup(const dycl_node_t* node, const dycl_value_t* A, const dycl_value_t* B, mm_shape_t* s) {
  char b1[128], b2[128];
  if (A->rank < 1 || B->rank < 1)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs must have rank 1 or more, got %s and %s",
                           dycl_shape_str(A->rank, A->dims, b1, sizeof b1), dycl_shape_str(B->rank, B->dims, b2, sizeof b2));
  s->M = A->rank >= 2 ? A->dims[A->rank - 2] : 1;
  s->K = A->dims[A->rank - 1];
  int64_t kb = B->rank >= 2 ? B->dims[B->rank - 2] : B->dims[0];
  s->N = B->rank >= 2 ? B->dims[B->rank - 1] : 1;
  if (kb != s->K)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "shapes %s and %s cannot be multiplied",
                           dycl_shape_str(A->rank, A->dims, b1, sizeof b1), dycl_shape_str(B->rank, B->dims, b2, sizeof b2));
  int ra = A->rank > 2 ? A->rank - 2 : 0, rb = B->rank > 2 ? B->rank - 2 : 0;
  s->brank = ra > rb ? ra : rb;
  s->batch = 1;
  for (int i = 0; i < s->brank; i++) {
    int ia = i - (s->brank - ra), ib = i - (s->brank - rb);
    int64_t da = ia >= 0 ? A->dims[ia] : 1, db = ib >= 0 ? B->dims[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "batch dimensions of %s and %s do not broadcast",
                             dycl_shape_str(A->rank, A->dims, b1, sizeof b1), dycl_shape_str(B->rank, B->dims, b2, sizeof b2));
    s->bdims[i] = da == 1 ? db : da;
    s->batch *= s->bdims[i];
  }
  s->rank = 0;
  for (int i = 0; i < s->brank; i++) s->dims[s->rank++] = s->bdims[i];
  if (A->rank >= 2) s->dims[s->rank++] = s->M;
  if (B->rank >= 2) s->dims[s->rank++] = s->N;
  return NULL;
}

/* Flat offset (in matrices) of A's or B's matrix for batch index b. */
static int64_t mm_batch_offset(const dycl_value_t* t, const mm_shape_t* s, int64_t b) {
  int r = t->rank > 2 ? t->rank - 2 : 0;
  int64_t off = 0, mul = 1;
  for (int i = s->brank - 1; i >= 0; i--) {
    int64_t idx = b % s->bdims[i];
    b /= s->bdims[i];
    int j = i - (s->brank - r);
    if (j >= 0) {
      if (t->dims[j] != 1) off += idx * mul;
      mul *= t->dims[j];
    }
  }
  return off;
}

/* Batched matmul of two buffers in calc kind k into y (already sized per s). */
static void mm_batched(calc_kind_t k, const dycl_value_t* A, const void* a, const dycl_value_t* B, const void* b,
                       void* y, const mm_shape_t* s) {
  size_t es = calc_size(k);
  int64_t asz = s->M * s->K, bsz = s->K * s->N, ysz = s->M * s->N;
  if (B->rank <= 2 && A->rank >= 2) { /* one shared B: the batch of A is just more rows */
    mm_any(k, a, b, y, s->M * s->batch, s->K, s->N);
    return;
  }
  for (int64_t bi = 0; bi < s->batch; bi++) {
    const char* pa = (const char*)a + (size_t)(mm_batch_offset(A, s, bi) * asz) * es;
    const char* pb = (const char*)b + (size_t)(mm_batch_offset(B, s, bi) * bsz) * es;
    char* py = (char*)y + (size_t)(bi * ysz) * es;
    mm_any(k, pa, pb, py, s->M, s->K, s->N);
  }
}

/* Inferred output type of a numpy matmul of types a and b. */
static dycl_status_t mm_infer_type(const dycl_node_t* node, const dycl_type_t* a, const dycl_type_t* b, dycl_dtype_t dt,
                                   dycl_type_t* out) {
  *out = dycl_type_tensor(dt, -1);
  if (!a || !b || !a->known || !b->known || a->rank < 0 || b->rank < 0) return NULL;
  if (a->rank < 1 || b->rank < 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "inputs must have rank 1 or more, got ranks %d and %d", a->rank,
                           b->rank);
  dycl_dim_t ka = a->dims[a->rank - 1], kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
  if (ka.v >= 0 && kb.v >= 0 && ka.v != kb.v)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "inner dimensions %" PRId64 " and %" PRId64 " do not match", ka.v,
                           kb.v);
  int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0;
  int br = ra > rb ? ra : rb;
  int rank = br + (a->rank >= 2) + (b->rank >= 2);
  if (rank > DYCL_MAX_RANK) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output rank %d is too large", rank);
  *out = dycl_type_tensor(dt, rank);
  for (int i = 0; i < br; i++) {
    int ia = i - (br - ra), ib = i - (br - rb);
    dycl_dim_t da = ia >= 0 ? a->dims[ia] : dycl_dim_const(1), db = ib >= 0 ? b->dims[ib] : dycl_dim_const(1);
    dycl_dim_t r;
    if (da.v == 1) r = db;
    else if (db.v == 1) r = da;
    else if (dycl_dim_equal(da, db)) r = da;
    else if (da.v >= 0 && db.v >= 0)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "batch dimensions %" PRId64 " and %" PRId64 " do not broadcast",
                             da.v, db.v);
    else r = da.v >= 0 ? da : (db.v >= 0 ? db : dycl_dim_unknown());
    out->dims[i] = r;
  }
  int d = br;
  if (a->rank >= 2) out->dims[d++] = a->dims[a->rank - 2];
  if (b->rank >= 2) out->dims[d++] = b->dims[b->rank - 1];
  return NULL;
}

/* ------------------------------------------------------------------ MatMul */

dycl_status_t dycl_infer_MatMul(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, k_mm_types));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 1));
  const dycl_type_t* a = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* b = dycl_infer_in(ctx, node, 1);
  dycl_dtype_t dt = a && a->known && a->dtype ? a->dtype : (b && b->known ? b->dtype : DYCL_DTYPE_UNDEFINED);
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(mm_infer_type(node, a, b, dt, &t));
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_MatMul(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *A = in[0], *B = in[1];
  if (A->dtype != B->dtype || A->dtype == DYCL_DTYPE_STRING || A->dtype == DYCL_DTYPE_BOOL)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs must share one numeric type (got %s and %s)",
                           dycl_dtype_name(A->dtype), dycl_dtype_name(B->dtype));
  mm_shape_t s;
  DYCL_RETURN_IF_ERROR(mm_setup(node, A, B, &s));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, A->dtype, s.rank, s.dims, &out[0]));
  dycl_value_t* Y = out[0];
  if (Y->numel == 0) return NULL;
  calc_kind_t k = calc_kind(A->dtype);
  const void *a, *b;
  void *oa = NULL, *ob = NULL, *y, *oy = NULL;
  dycl_status_t st = NULL;
  DYCL_GOTO_IF_ERROR(st, calc_view(ctx, A, k, &a, &oa), done);
  DYCL_GOTO_IF_ERROR(st, calc_view(ctx, B, k, &b, &ob), done);
  DYCL_GOTO_IF_ERROR(st, calc_buf(ctx, Y, k, &y, &oy), done);
  mm_batched(k, A, a, B, b, y, &s);
  calc_store(Y, k, y);
done:
  dycl_free(ctx->alloc, oa);
  dycl_free(ctx->alloc, ob);
  dycl_free(ctx->alloc, oy);
  return st;
}

/* ------------------------------------------------ MatMulInteger, QLinearMatMul */

/* A copy of an 8-bit matrix operand minus its zero point, as wrapping uint64. For A (`is_b`
 * false) the zero point is a scalar or one value per row; for B, a scalar or one per column. */
static dycl_status_t q_operand(dycl_kctx_t* ctx, const dycl_node_t* node, const dycl_value_t* t, const dycl_value_t* zp,
                               bool is_b, const char* what, uint64_t** out) {
  *out = NULL;
  if (zp && (zp->kind != DYCL_VALUE_TENSOR || zp->dtype != t->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "the zero point of %s must be a tensor of %s's type", what, what);
  int64_t rows = t->rank >= 2 ? t->dims[t->rank - 2] : 1, cols = t->dims[t->rank - 1];
  int64_t mat = rows * cols, batch = mat ? t->numel / mat : 0;
  if (zp && zp->numel != 1) {
    int64_t per = is_b ? cols : rows;
    if (zp->numel != per && zp->numel != per * batch)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "the zero point of %s has %" PRId64 " values, expected 1 or one per %s",
                             what, zp->numel, is_b ? "column" : "row");
  }
  uint64_t* b = dycl_malloc(ctx->alloc, (size_t)t->numel * sizeof(uint64_t) + 1);
  if (!b) return dycl_error_nomem();
  for (int64_t i = 0; i < t->numel; i++) {
    int64_t z = 0;
    if (zp && zp->numel == 1) {
      z = dycl_tensor_get_i64(zp, 0);
    } else if (zp) {
      int64_t r = (i / cols) % rows, c = i % cols, bi = i / mat;
      int64_t idx = is_b ? c : r;
      if (zp->numel != (is_b ? cols : rows)) idx += bi * (is_b ? cols : rows);
      z = dycl_tensor_get_i64(zp, idx);
    }
    b[i] = (uint64_t)(dycl_tensor_get_i64(t, i) - z);
  }
  *out = b;
  return NULL;
}

/* The int64 products of two zero-point-adjusted 8-bit operands: y (owned) shaped per s. */
static dycl_status_t q_matmul(dycl_kctx_t* ctx, const dycl_node_t* node, const dycl_value_t* A, const dycl_value_t* azp,
                              const dycl_value_t* B, const dycl_value_t* bzp, mm_shape_t* s, uint64_t** y) {
  *y = NULL;
  if ((A->dtype != DYCL_DTYPE_UINT8 && A->dtype != DYCL_DTYPE_INT8) || (B->dtype != DYCL_DTYPE_UINT8 && B->dtype != DYCL_DTYPE_INT8))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs must be int8 or uint8 (got %s and %s)", dycl_dtype_name(A->dtype),
                           dycl_dtype_name(B->dtype));
  DYCL_RETURN_IF_ERROR(mm_setup(node, A, B, s));
  int64_t numel;
  DYCL_RETURN_IF_ERROR(dycl_shape_numel(s->rank, s->dims, &numel));
  uint64_t *a = NULL, *b = NULL, *r = NULL;
  dycl_status_t st = NULL;
  DYCL_GOTO_IF_ERROR(st, q_operand(ctx, node, A, azp, false, "A", &a), done);
  DYCL_GOTO_IF_ERROR(st, q_operand(ctx, node, B, bzp, true, "B", &b), done);
  r = dycl_malloc(ctx->alloc, (size_t)numel * sizeof(uint64_t) + 1);
  if (!r) {
    st = dycl_error_nomem();
    goto done;
  }
  if (numel) mm_batched(CK_INT, A, a, B, b, r, s);
  *y = r;
done:
  dycl_free(ctx->alloc, a);
  dycl_free(ctx->alloc, b);
  return st;
}

dycl_status_t dycl_infer_MatMulInteger(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_nn_infer_integer_inputs(ctx, node));
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(mm_infer_type(node, dycl_infer_in(ctx, node, 0), dycl_infer_in(ctx, node, 1), DYCL_DTYPE_INT32, &t));
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_MatMulInteger(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                     dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  mm_shape_t s;
  uint64_t* y;
  DYCL_RETURN_IF_ERROR(q_matmul(ctx, node, in[0], nin > 2 ? in[2] : NULL, in[1], nin > 3 ? in[3] : NULL, &s, &y));
  dycl_status_t st = dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT32, s.rank, s.dims, &out[0]);
  if (!st)
    for (int64_t i = 0; i < out[0]->numel; i++) ((int32_t*)out[0]->data)[i] = (int32_t)(uint32_t)y[i];
  dycl_free(ctx->alloc, y);
  return st;
}

dycl_status_t dycl_infer_QLinearMatMul(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_nn_infer_qlinear_inputs(ctx, node));
  const dycl_type_t* yz = dycl_infer_in(ctx, node, 7);
  dycl_dtype_t dt = yz && yz->known ? yz->dtype : DYCL_DTYPE_UNDEFINED;
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(mm_infer_type(node, dycl_infer_in(ctx, node, 0), dycl_infer_in(ctx, node, 3), dt, &t));
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_QLinearMatMul(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                     dycl_value_t** out, int nout) {
  (void)nout;
  for (int i = 0; i < 8; i++)
    if (i != 2 && i != 5) DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
  const dycl_value_t *A = in[0], *as = in[1], *B = in[3], *bs = in[4], *ys = in[6], *yzp = in[7];
  if (as->dtype != DYCL_DTYPE_FLOAT32 || bs->dtype != DYCL_DTYPE_FLOAT32 || ys->dtype != DYCL_DTYPE_FLOAT32)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "scales must be float32");
  if ((yzp->dtype != DYCL_DTYPE_UINT8 && yzp->dtype != DYCL_DTYPE_INT8) || yzp->numel != 1 || ys->numel != 1)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "y_scale and y_zero_point must be scalars, the latter int8 or uint8");
  mm_shape_t s;
  uint64_t* acc;
  DYCL_RETURN_IF_ERROR(q_matmul(ctx, node, A, in[2], B, in[5], &s, &acc));
  dycl_status_t st = NULL;
  if ((as->numel != 1 && as->numel != s.M) || (bs->numel != 1 && bs->numel != s.N)) {
    st = dycl_node_error(node, DYCL_CODE_RUNTIME, "a_scale must have 1 or M values and b_scale 1 or N values");
    goto done;
  }
  DYCL_GOTO_IF_ERROR(st, dycl_kernel_tensor(ctx, node, yzp->dtype, s.rank, s.dims, &out[0]), done);
  {
    dycl_value_t* Y = out[0];
    const float* asv = as->data;
    const float* bsv = bs->data;
    float ysv = ((const float*)ys->data)[0];
    int64_t zp = dycl_tensor_get_i64(yzp, 0);
    for (int64_t i = 0; i < Y->numel; i++) {
      int64_t r = (i / s.N) % s.M, c = i % s.N;
      float scale = asv[as->numel == 1 ? 0 : r] * bsv[bs->numel == 1 ? 0 : c] / ysv;
      dycl_tensor_set_i64(Y, i, dycl_nn_requantize((float)(int64_t)acc[i] * scale, zp, yzp->dtype));
    }
  }
done:
  dycl_free(ctx->alloc, acc);
  return st;
}

/* -------------------------------------------------------------------- Gemm */

dycl_status_t dycl_infer_Gemm(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, k_mm_types));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 1));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  const dycl_type_t* a = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* b = dycl_infer_in(ctx, node, 1);
  const dycl_type_t* c = dycl_infer_in(ctx, node, 2);
  dycl_dtype_t dt = a && a->known && a->dtype ? a->dtype : (b && b->known ? b->dtype : DYCL_DTYPE_UNDEFINED);
  bool ta = dycl_attr_int(node, "transA", 0) != 0, tb = dycl_attr_int(node, "transB", 0) != 0;
  dycl_type_t t = dycl_type_tensor(dt, 2);
  bool ar = a && a->known && a->rank >= 0, br = b && b->known && b->rank >= 0;
  if ((ar && a->rank != 2) || (br && b->rank != 2))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "A and B must be 2-D, got ranks %d and %d", ar ? a->rank : -1,
                           br ? b->rank : -1);
  if (c && c->known && c->rank > 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "C must have rank 2 or less, got %d", c->rank);
  if (ar) t.dims[0] = a->dims[ta ? 1 : 0];
  if (br) t.dims[1] = b->dims[tb ? 0 : 1];
  if (ar && br) {
    dycl_dim_t ka = a->dims[ta ? 0 : 1], kb = b->dims[tb ? 1 : 0];
    if (ka.v >= 0 && kb.v >= 0 && ka.v != kb.v)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "inner dimensions %" PRId64 " and %" PRId64 " do not match", ka.v,
                             kb.v);
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_Gemm(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *A = in[0], *B = in[1], *C = nin > 2 ? in[2] : NULL;
  char b1[128], b2[128];
  if (A->dtype != B->dtype || (C && C->dtype != A->dtype) || A->dtype == DYCL_DTYPE_STRING || A->dtype == DYCL_DTYPE_BOOL)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs must share one numeric type");
  if (A->rank != 2 || B->rank != 2)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "A %s and B %s must be 2-D", dycl_shape_str(A->rank, A->dims, b1, sizeof b1),
                           dycl_shape_str(B->rank, B->dims, b2, sizeof b2));
  bool ta = dycl_attr_int(node, "transA", 0) != 0, tb = dycl_attr_int(node, "transB", 0) != 0;
  double alpha = dycl_attr_float(node, "alpha", 1.0), beta = dycl_attr_float(node, "beta", 1.0);
  int64_t M = A->dims[ta ? 1 : 0], K = A->dims[ta ? 0 : 1], N = B->dims[tb ? 0 : 1];
  if (B->dims[tb ? 1 : 0] != K)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "A %s and B %s cannot be multiplied (transA=%d, transB=%d)",
                           dycl_shape_str(A->rank, A->dims, b1, sizeof b1), dycl_shape_str(B->rank, B->dims, b2, sizeof b2), ta, tb);
  int64_t cs_i = 0, cs_j = 0; /* C strides over the output's rows and columns */
  if (C) {
    if (C->rank > 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "C must have rank 2 or less");
    int64_t ci = C->rank == 2 ? C->dims[0] : 1, cj = C->rank >= 1 ? C->dims[C->rank - 1] : 1;
    if ((ci != 1 && ci != M) || (cj != 1 && cj != N))
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "C %s does not broadcast to [%" PRId64 ",%" PRId64 "]",
                             dycl_shape_str(C->rank, C->dims, b1, sizeof b1), M, N);
    cs_i = ci == 1 ? 0 : cj;
    cs_j = cj == 1 ? 0 : 1;
  }
  int64_t dims[2] = {M, N};
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, A->dtype, 2, dims, &out[0]));
  dycl_value_t* Y = out[0];
  if (Y->numel == 0) return NULL;
  calc_kind_t k = calc_kind(A->dtype);
  size_t es = calc_size(k);
  const void *a, *b, *c = NULL;
  void *oa = NULL, *ob = NULL, *oc = NULL, *y, *oy = NULL, *at = NULL, *bt = NULL;
  dycl_status_t st = NULL;
  DYCL_GOTO_IF_ERROR(st, calc_view(ctx, A, k, &a, &oa), done);
  DYCL_GOTO_IF_ERROR(st, calc_view(ctx, B, k, &b, &ob), done);
  if (C) DYCL_GOTO_IF_ERROR(st, calc_view(ctx, C, k, &c, &oc), done);
  DYCL_GOTO_IF_ERROR(st, calc_buf(ctx, Y, k, &y, &oy), done);
  if (ta) { /* materialize A^T as [M, K] */
    at = dycl_malloc(ctx->alloc, (size_t)(M * K) * es + 1);
    if (!at) {
      st = dycl_error_nomem();
      goto done;
    }
    transpose_buf(a, at, K, M, es);
    a = at;
  }
  if (tb && M >= 4) { /* materialize B^T as [K, N] for the blocked kernel */
    bt = dycl_malloc(ctx->alloc, (size_t)(K * N) * es + 1);
    if (!bt) {
      st = dycl_error_nomem();
      goto done;
    }
    transpose_buf(b, bt, N, K, es);
    b = bt;
    tb = false;
  }
  if (k == CK_F32) {
    float* yf = y;
    (tb ? mm_bt_f32 : mm_f32)(a, b, yf, M, K, N);
    const float* cf = c;
    float al = (float)alpha, be = (float)beta;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        float v = al * yf[i * N + j];
        if (cf) v += be * cf[i * cs_i + j * cs_j];
        yf[i * N + j] = v;
      }
  } else if (k == CK_F64) {
    double* yd = y;
    (tb ? mm_bt_f64 : mm_f64)(a, b, yd, M, K, N);
    const double* cd = c;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double v = alpha * yd[i * N + j];
        if (cd) v += beta * cd[i * cs_i + j * cs_j];
        yd[i * N + j] = v;
      }
  } else {
    uint64_t* yu = y;
    (tb ? mm_bt_u64 : mm_u64)(a, b, yu, M, K, N);
    const uint64_t* cu = c;
    /* integer Gemm: alpha and beta are applied in double and truncated */
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        uint64_t* p = &yu[i * N + j];
        if (alpha == 1.0 && (!cu || beta == 1.0)) {
          if (cu) *p += cu[i * cs_i + j * cs_j];
        } else {
          double v = alpha * (double)(int64_t)*p;
          if (cu) v += beta * (double)(int64_t)cu[i * cs_i + j * cs_j];
          *p = (uint64_t)(int64_t)v;
        }
      }
  }
  calc_store(Y, k, y);
done:
  dycl_free(ctx->alloc, oa);
  dycl_free(ctx->alloc, ob);
  dycl_free(ctx->alloc, oc);
  dycl_free(ctx->alloc, oy);
  dycl_free(ctx->alloc, at);
  dycl_free(ctx->alloc, bt);
  return st;
}

/* ------------------------------------------------------------------ Einsum */

#define EIN_MAX_LABELS 64 /* 52 letters + ellipsis dims */

typedef struct ein_term {
  int n;                     /* labels (after expanding the ellipsis) */
  int labels[DYCL_MAX_RANK]; /* letters 0..51, ellipsis dims 52.. */
} ein_term_t;

typedef struct ein_eq {
  int n_in;
  ein_term_t in[DYCL_MAX_RANK * 4];
  ein_term_t out;
  int ell_rank; /* dims the ellipsis stands for (the broadcast of all operands') */
} ein_eq_t;

static int ein_letter(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -1;
}

/* Parses the equation for operands of the given ranks. */
static dycl_status_t ein_parse(const dycl_node_t* node, dycl_code_t code, const char* eq, int n_in, const int* ranks,
                               ein_eq_t* e) {
  memset(e, 0, sizeof *e);
  if (n_in > (int)(sizeof e->in / sizeof e->in[0]))
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "too many operands (%d)", n_in);
  e->n_in = n_in;
  char buf[512];
  size_t len = 0;
  for (const char* p = eq; *p; p++) {
    if (isspace((unsigned char)*p)) continue;
    if (len + 1 >= sizeof buf) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "equation is too long");
    buf[len++] = *p;
  }
  buf[len] = 0;
  char* arrow = strstr(buf, "->");
  if (arrow) *arrow = 0;
  /* operand terms */
  int ell_n[DYCL_MAX_RANK * 4];
  bool has_ell[DYCL_MAX_RANK * 4];
  int k = 0;
  char* p = buf;
  int count[EIN_MAX_LABELS] = {0};
  for (;;) {
    if (k >= n_in) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "equation '%s' has more terms than the %d inputs", eq, n_in);
    char* end = strchr(p, ',');
    if (end) *end = 0;
    int letters = 0;
    has_ell[k] = false;
    for (char* q = p; *q; q++) {
      if (!strncmp(q, "...", 3)) {
        if (has_ell[k]) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "equation '%s' has two ellipses in one term", eq);
        has_ell[k] = true;
        q += 2;
      } else if (ein_letter(*q) >= 0) {
        letters++;
      } else {
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "equation '%s' has an invalid character '%c'", eq, *q);
      }
    }
    int r = ranks ? ranks[k] : -1;
    if (r >= 0 && (has_ell[k] ? letters > r : letters != r))
      return dycl_node_error(node, code, "term %d of equation '%s' does not match the rank %d of its input", k, eq, r);
    ell_n[k] = has_ell[k] && r >= 0 ? r - letters : 0;
    if (ell_n[k] > e->ell_rank) e->ell_rank = ell_n[k];
    /* labels: ellipsis dims are numbered right-aligned against the common ellipsis rank later */
    ein_term_t* t = &e->in[k];
    for (char* q = p; *q; q++) {
      if (!strncmp(q, "...", 3)) {
        for (int j = 0; j < ell_n[k]; j++) t->labels[t->n++] = -(j + 1); /* fixed below */
        q += 2;
      } else {
        if (t->n >= DYCL_MAX_RANK) return dycl_node_error(node, code, "term %d of equation '%s' is too long", k, eq);
        t->labels[t->n] = ein_letter(*q);
        count[t->labels[t->n]]++;
        t->n++;
      }
    }
    k++;
    if (!end) break;
    p = end + 1;
  }
  if (k != n_in) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "equation '%s' has %d terms for %d inputs", eq, k, n_in);
  if (52 + e->ell_rank > EIN_MAX_LABELS) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "ellipsis too long");
  for (k = 0; k < n_in; k++) {
    ein_term_t* t = &e->in[k];
    for (int i = 0; i < t->n; i++)
      if (t->labels[i] < 0) {
        int j = -t->labels[i] - 1; /* j-th of this operand's ellipsis dims */
        t->labels[i] = 52 + (e->ell_rank - ell_n[k]) + j;
      }
  }
  /* output term */
  ein_term_t* o = &e->out;
  if (arrow) {
    bool seen_ell = false;
    for (char* q = arrow + 2; *q; q++) {
      if (!strncmp(q, "...", 3)) {
        if (seen_ell) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "equation '%s' has two ellipses in its output", eq);
        seen_ell = true;
        for (int j = 0; j < e->ell_rank; j++) {
          if (o->n >= DYCL_MAX_RANK) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output of '%s' has too many dimensions", eq);
          o->labels[o->n++] = 52 + j;
        }
        q += 2;
        continue;
      }
      int l = ein_letter(*q);
      if (l < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "equation '%s' has an invalid character '%c'", eq, *q);
      if (!count[l]) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "output label '%c' of '%s' is in no input", *q, eq);
      for (int i = 0; i < o->n; i++)
        if (o->labels[i] == l) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "output label '%c' of '%s' repeats", *q, eq);
      if (o->n >= DYCL_MAX_RANK) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output of '%s' has too many dimensions", eq);
      o->labels[o->n++] = l;
    }
  } else {
    for (int j = 0; j < e->ell_rank; j++) o->labels[o->n++] = 52 + j;
    for (int l = 0; l < 52; l++)
      if (count[l] == 1) {
        if (o->n >= DYCL_MAX_RANK) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output of '%s' has too many dimensions", eq);
        o->labels[o->n++] = l;
      }
  }
  return NULL;
}

dycl_status_t dycl_infer_Einsum(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const char* eq = dycl_attr_string(node, "equation", NULL);
  if (!eq) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'equation'");
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  int ranks[DYCL_MAX_RANK * 4];
  bool ranks_known = node->n_in <= DYCL_MAX_RANK * 4;
  for (int i = 0; i < node->n_in; i++) {
    DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, i));
    const dycl_type_t* t = dycl_infer_in(ctx, node, i);
    if (!t) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d is missing", i);
    if (t->known && t->dtype) dt = t->dtype;
    if (!t->known || t->rank < 0) ranks_known = false;
    else if (ranks_known) ranks[i] = t->rank;
  }
  if (dt == DYCL_DTYPE_STRING || dt == DYCL_DTYPE_BOOL)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "Einsum does not accept %s", dycl_dtype_name(dt));
  ein_eq_t e;
  DYCL_RETURN_IF_ERROR(ein_parse(node, DYCL_CODE_INVALID_MODEL, eq, node->n_in, ranks_known ? ranks : NULL, &e));
  dycl_type_t t = dycl_type_tensor(dt, -1);
  if (ranks_known) {
    t = dycl_type_tensor(dt, e.out.n);
    for (int i = 0; i < e.out.n; i++) {
      int l = e.out.labels[i];
      dycl_dim_t d = dycl_dim_unknown();
      bool unknown = false;
      int64_t ell = 1;
      for (int k = 0; k < node->n_in; k++) {
        const dycl_type_t* it = dycl_infer_in(ctx, node, k);
        for (int j = 0; j < e.in[k].n; j++) {
          if (e.in[k].labels[j] != l) continue;
          dycl_dim_t x = it->dims[j];
          if (l >= 52) { /* ellipsis dims broadcast */
            if (x.v < 0) unknown = true;
            else if (x.v != 1 && ell != 1 && x.v != ell)
              return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "ellipsis dimensions do not broadcast");
            else if (x.v != 1) ell = x.v;
            continue;
          }
          if (d.v >= 0 && x.v >= 0 && d.v != x.v)
            return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "label '%c' has sizes %" PRId64 " and %" PRId64,
                                   l < 26 ? 'a' + l : 'A' + l - 26, d.v, x.v);
          if (d.v < 0 && (x.v >= 0 || d.sym == 0)) d = x;
        }
      }
      if (l >= 52) d = dycl_dim_const(ell);
      t.dims[i] = unknown ? dycl_dim_unknown() : d;
    }
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_Einsum(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  const char* eq = dycl_attr_string(node, "equation", NULL);
  if (!eq) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'equation'");
  if (nin > DYCL_MAX_RANK * 4) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "too many operands (%d)", nin);
  int ranks[DYCL_MAX_RANK * 4];
  for (int i = 0; i < nin; i++) {
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
    if (in[i]->dtype != in[0]->dtype || in[0]->dtype == DYCL_DTYPE_STRING || in[0]->dtype == DYCL_DTYPE_BOOL)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs must share one numeric type");
    ranks[i] = in[i]->rank;
  }
  ein_eq_t e;
  DYCL_RETURN_IF_ERROR(ein_parse(node, DYCL_CODE_RUNTIME, eq, nin, ranks, &e));
  /* label sizes */
  int64_t size[EIN_MAX_LABELS];
  bool used[EIN_MAX_LABELS] = {false};
  for (int l = 0; l < EIN_MAX_LABELS; l++) size[l] = 1;
  for (int k = 0; k < nin; k++)
    for (int j = 0; j < e.in[k].n; j++) {
      int l = e.in[k].labels[j];
      int64_t d = in[k]->dims[j];
      if (!used[l]) {
        size[l] = d;
        used[l] = true;
      } else if (l < 52 && d != size[l]) {
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "label '%c' has sizes %" PRId64 " and %" PRId64,
                               l < 26 ? 'a' + l : 'A' + l - 26, size[l], d);
      } else if (l >= 52 && d != size[l] && d != 1) {
        if (size[l] != 1) return dycl_node_error(node, DYCL_CODE_RUNTIME, "ellipsis dimensions do not broadcast");
        size[l] = d;
      }
    }
  int64_t odims[DYCL_MAX_RANK];
  for (int i = 0; i < e.out.n; i++) odims[i] = size[e.out.labels[i]];
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, in[0]->dtype, e.out.n, odims, &out[0]));
  dycl_value_t* Y = out[0];
  /* loop labels: output labels, then the summed ones */
  int loop[EIN_MAX_LABELS], n_loop = 0, n_out = e.out.n;
  bool in_out[EIN_MAX_LABELS] = {false};
  for (int i = 0; i < n_out; i++) {
    loop[n_loop++] = e.out.labels[i];
    in_out[e.out.labels[i]] = true;
  }
  for (int l = 0; l < EIN_MAX_LABELS; l++)
    if (used[l] && !in_out[l]) loop[n_loop++] = l;
  /* per operand and loop label: the element stride (0 where broadcast) */
  int64_t* stride = dycl_calloc(ctx->alloc, (size_t)nin * EIN_MAX_LABELS, sizeof(int64_t));
  int64_t* offs = dycl_calloc(ctx->alloc, (size_t)nin + 1, sizeof(int64_t));
  calc_kind_t kind = dycl_dtype_is_float(in[0]->dtype) ? CK_F64 : CK_INT;
  const void** views = dycl_calloc(ctx->alloc, (size_t)nin + 1, sizeof(void*));
  void** owned = dycl_calloc(ctx->alloc, (size_t)nin + 1, sizeof(void*));
  dycl_status_t st = NULL;
  if (!stride || !offs || !views || !owned) {
    st = dycl_error_nomem();
    goto done;
  }
  for (int k = 0; k < nin; k++) {
    int64_t str[DYCL_MAX_RANK];
    dycl_strides(in[k]->rank, in[k]->dims, str);
    for (int j = 0; j < e.in[k].n; j++)
      if (in[k]->dims[j] != 1) stride[k * EIN_MAX_LABELS + e.in[k].labels[j]] += str[j];
    DYCL_GOTO_IF_ERROR(st, calc_view(ctx, in[k], kind, &views[k], &owned[k]), done);
  }
  if (Y->numel == 0) goto done;
  int64_t idx[EIN_MAX_LABELS] = {0};
  for (int64_t o = 0; o < Y->numel; o++) {
    /* output position → operand offsets */
    int64_t rem = o;
    for (int i = n_out - 1; i >= 0; i--) {
      idx[i] = rem % size[loop[i]];
      rem /= size[loop[i]];
    }
    for (int k = 0; k < nin; k++) {
      offs[k] = 0;
      for (int i = 0; i < n_out; i++) offs[k] += idx[i] * stride[k * EIN_MAX_LABELS + loop[i]];
    }
    for (int i = n_out; i < n_loop; i++) idx[i] = 0;
    double accf = 0;
    uint64_t acci = 0;
    bool empty = false;
    for (int i = n_out; i < n_loop; i++)
      if (size[loop[i]] == 0) empty = true;
    while (!empty) {
      if (kind == CK_F64) {
        double p = 1;
        for (int k = 0; k < nin; k++) p *= ((const double*)views[k])[offs[k]];
        accf += p;
      } else {
        uint64_t p = 1;
        for (int k = 0; k < nin; k++) p *= ((const uint64_t*)views[k])[offs[k]];
        acci += p;
      }
      int i = n_loop - 1;
      for (; i >= n_out; i--) {
        int l = loop[i];
        idx[i]++;
        for (int k = 0; k < nin; k++) offs[k] += stride[k * EIN_MAX_LABELS + l];
        if (idx[i] < size[l]) break;
        for (int k = 0; k < nin; k++) offs[k] -= idx[i] * stride[k * EIN_MAX_LABELS + l];
        idx[i] = 0;
      }
      if (i < n_out) break;
    }
    if (kind == CK_F64) dycl_tensor_set_f64(Y, o, accf);
    else dycl_tensor_set_i64(Y, o, (int64_t)acci);
  }
done:
  if (owned)
    for (int k = 0; k < nin; k++) dycl_free(ctx->alloc, owned[k]);
  dycl_free(ctx->alloc, owned);
  dycl_free(ctx->alloc, views);
  dycl_free(ctx->alloc, stride);
  dycl_free(ctx->alloc, offs);
  return st;
}

/* --------------------------------------------------------------------- Det */

dycl_status_t dycl_infer_Det(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  dycl_type_t t = dycl_type_tensor(x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, -1);
  if (x && x->known && x->rank >= 0) {
    if (x->rank < 2) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must have rank 2 or more, got %d", x->rank);
    dycl_dim_t a = x->dims[x->rank - 2], b = x->dims[x->rank - 1];
    if (a.v >= 0 && b.v >= 0 && a.v != b.v)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input matrices must be square, got %" PRId64 "x%" PRId64, a.v, b.v);
    t = dycl_type_tensor(x->dtype, x->rank - 2);
    for (int i = 0; i < x->rank - 2; i++) t.dims[i] = x->dims[i];
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_Det(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* X = in[0];
  char b1[128];
  if (!dycl_dtype_is_float(X->dtype)) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be a float tensor");
  if (X->rank < 2 || X->dims[X->rank - 1] != X->dims[X->rank - 2])
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %s must be a (batch of) square matrices",
                           dycl_shape_str(X->rank, X->dims, b1, sizeof b1));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank - 2, X->dims, &out[0]));
  dycl_value_t* Y = out[0];
  int64_t n = X->dims[X->rank - 1], nn = n * n;
  double* a = dycl_malloc(ctx->alloc, (size_t)nn * sizeof(double) + 1);
  if (!a) return dycl_error_nomem();
  for (int64_t b = 0; b < Y->numel; b++) {
    for (int64_t i = 0; i < nn; i++) a[i] = dycl_tensor_get_f64(X, b * nn + i);
    double det = 1;
    for (int64_t c = 0; c < n && det != 0; c++) { /* LU with partial pivoting */
      int64_t p = c;
      for (int64_t r = c + 1; r < n; r++)
        if (fabs(a[r * n + c]) > fabs(a[p * n + c])) p = r;
      if (a[p * n + c] == 0) {
        det = 0;
        break;
      }
      if (p != c) {
        for (int64_t j = 0; j < n; j++) {
          double t = a[c * n + j];
          a[c * n + j] = a[p * n + j];
          a[p * n + j] = t;
        }
        det = -det;
      }
      double piv = a[c * n + c];
      det *= piv;
      for (int64_t r = c + 1; r < n; r++) {
        double f = a[r * n + c] / piv;
        if (f == 0) continue;
        for (int64_t j = c; j < n; j++) a[r * n + j] -= f * a[c * n + j];
      }
    }
    dycl_tensor_set_f64(Y, b, det);
  }
  dycl_free(ctx->alloc, a);
  return NULL;
}
