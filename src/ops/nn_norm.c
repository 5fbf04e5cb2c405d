/* Normalizations and Dropout: BatchNormalization (inference and training modes),
 * InstanceNormalization, LayerNormalization, LRN, LpNormalization, MeanVarianceNormalization,
 * Dropout. Statistics are computed in double on converted copies of the inputs. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/op.h"

/* ---------------------------------------------------------------- helpers */

static dycl_status_t need_float(const dycl_node_t* node, const dycl_value_t* t, int i) {
  if (!dycl_dtype_is_float(t->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d must be a float tensor, not %s", i, dycl_dtype_name(t->dtype));
  return NULL;
}

/* Same type as input 0, which must be a float tensor. */
dycl_status_t dycl_infer_nn_float_same(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  return dycl_infer_same_as_input0(ctx, node);
}

/* -------------------------------------------------------- BatchNormalization */

static bool bn_training(const dycl_node_t* node) {
  if (node->opset >= 14) return dycl_attr_int(node, "training_mode", 0) != 0;
  for (int j = 1; j < node->n_out; j++)
    if (node->out[j] >= 0) return true;
  return false;
}

dycl_status_t dycl_infer_BatchNormalization(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  for (int i = 0; i < 5; i++) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 1, 2));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 3, 4));
  if (node->opset < 15) {
    DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 1));
    DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 3));
  }
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  if (x && x->known && x->rank >= 0 && x->rank < 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must have rank 2 or more, got %d", x->rank);
  int max_out = node->opset >= 14 ? 3 : 5;
  if (node->n_out > max_out)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "opset %d BatchNormalization has at most %d outputs", node->opset,
                           max_out);
  dycl_type_t y = x ? *x : dycl_type_unknown();
  if (!y.known) y = dycl_type_tensor(DYCL_DTYPE_UNDEFINED, -1);
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 0, &y));
  const dycl_type_t* m = dycl_infer_in(ctx, node, 3);
  dycl_type_t st = dycl_type_tensor(m && m->known ? m->dtype : DYCL_DTYPE_UNDEFINED, 1);
  if (x && x->known && x->rank >= 2) st.dims[0] = x->dims[1];
  if (m && m->known && m->rank >= 0) st = *m;
  for (int j = 1; j < node->n_out; j++) DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &st));
  return NULL;
}

dycl_status_t dycl_run_BatchNormalization(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                          dycl_value_t** out, int nout) {
  for (int i = 0; i < 5; i++) {
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
    DYCL_RETURN_IF_ERROR(need_float(node, in[i], i));
  }
  const dycl_value_t *X = in[0], *S = in[1], *B = in[2], *M = in[3], *V = in[4];
  if (X->rank < 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must have rank 2 or more");
  int64_t N = X->dims[0], C = X->dims[1], plane = N && C ? X->numel / (N * C) : 0;
  /* parameters hold one value per channel, or (opset < 9, spatial=0) one per channel and position */
  int64_t per = C;
  if (S->numel != C && S->numel == C * plane && node->opset < 9) per = C * plane;
  const dycl_value_t* ps[4] = {S, B, M, V};
  for (int i = 0; i < 4; i++)
    if (ps[i]->numel != per) {
      char b[128];
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d has shape %s, expected %" PRId64 " values", i + 1,
                             dycl_shape_str(ps[i]->rank, ps[i]->dims, b, sizeof b), per);
    }
  bool training = bn_training(node);
  double eps = dycl_attr_float(node, "epsilon", 1e-5), mom = dycl_attr_float(node, "momentum", 0.9);
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, X->dims, &out[0]));
  if (X->numel == 0 && training)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "training mode needs a non-empty input");
  if (X->numel == 0) N = 0; /* nothing to normalize; running statistics pass through */
  double *x = NULL, *p[4] = {NULL, NULL, NULL, NULL}, *mean = NULL, *var = NULL;
  dycl_status_t s = NULL;
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, X, &x), done);
  for (int i = 0; i < 4; i++) DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, ps[i], &p[i]), done);
  mean = dycl_calloc(ctx->alloc, (size_t)per + 1, sizeof(double));
  var = dycl_calloc(ctx->alloc, (size_t)per + 1, sizeof(double));
  if (!mean || !var) {
    s = dycl_error_nomem();
    goto done;
  }
  if (training) {
    int64_t cnt = per == C ? N * plane : N;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < C * plane; i++) mean[per == C ? i / plane : i] += x[n * C * plane + i];
    for (int64_t c = 0; c < per; c++) mean[c] = cnt ? mean[c] / (double)cnt : 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < C * plane; i++) {
        int64_t c = per == C ? i / plane : i;
        double d = x[n * C * plane + i] - mean[c];
        var[c] += d * d;
      }
    for (int64_t c = 0; c < per; c++) var[c] = cnt ? var[c] / (double)cnt : 0;
  } else {
    memcpy(mean, p[2], (size_t)per * sizeof(double));
    memcpy(var, p[3], (size_t)per * sizeof(double));
  }
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < C * plane; i++) {
      int64_t c = per == C ? i / plane : i;
      double* v = &x[n * C * plane + i];
      *v = p[0][c] * (*v - mean[c]) / sqrt(var[c] + eps) + p[1][c];
    }
  dycl_kernel_store_f64(out[0], x);
  /* outputs: running mean and var, then (opset < 14) the saved batch mean and var */
  for (int j = 1; j < nout && j < node->n_out; j++) {
    if (node->out[j] < 0) continue;
    DYCL_GOTO_IF_ERROR(s, dycl_kernel_tensor(ctx, node, M->dtype, M->rank, M->dims, &out[j]), done);
    for (int64_t c = 0; c < per; c++) {
      double v;
      if (j == 1) v = training ? p[2][c] * mom + mean[c] * (1 - mom) : p[2][c];
      else if (j == 2) v = training ? p[3][c] * mom + var[c] * (1 - mom) : p[3][c];
      else if (j == 3) v = mean[c];
      else v = var[c];
      dycl_tensor_set_f64(out[j], c, v);
    }
  }
done:
  dycl_free(ctx->alloc, x);
  for (int i = 0; i < 4; i++) dycl_free(ctx->alloc, p[i]);
  dycl_free(ctx->alloc, mean);
  dycl_free(ctx->alloc, var);
  return s;
}

/* The mean and (population) variance of v[0..n), both 0 when n is 0. */
static void moments(const double* v, int64_t n, double* mean, double* var) {
  double m = 0, s = 0;
  for (int64_t i = 0; i < n; i++) m += v[i];
  m = n ? m / (double)n : 0;
  for (int64_t i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
  *mean = m;
  *var = n ? s / (double)n : 0;
}

/* ---------------------------------------------------- InstanceNormalization */

dycl_status_t dycl_infer_InstanceNormalization(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  for (int i = 0; i < 3; i++) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 1));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  if (x && x->known && x->rank >= 0 && x->rank < 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must have rank 2 or more, got %d", x->rank);
  return dycl_infer_same_as_input0(ctx, node);
}

dycl_status_t dycl_run_InstanceNormalization(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                             dycl_value_t** out, int nout) {
  (void)nout;
  for (int i = 0; i < 3; i++) {
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
    DYCL_RETURN_IF_ERROR(need_float(node, in[i], i));
  }
  const dycl_value_t *X = in[0], *S = in[1], *B = in[2];
  if (X->rank < 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must have rank 2 or more");
  int64_t N = X->dims[0], C = X->dims[1], plane = N && C ? X->numel / (N * C) : 0;
  if (S->numel != C || B->numel != C)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "scale and B must have %" PRId64 " values", C);
  double eps = dycl_attr_float(node, "epsilon", 1e-5);
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, X->dims, &out[0]));
  if (X->numel == 0) return NULL;
  double* x;
  DYCL_RETURN_IF_ERROR(dycl_kernel_to_f64(ctx, X, &x));
  for (int64_t nc = 0; nc < N * C; nc++) {
    double* v = x + nc * plane;
    double mean, var;
    moments(v, plane, &mean, &var);
    int64_t c = nc % C;
    double sc = dycl_tensor_get_f64(S, c) / sqrt(var + eps), b = dycl_tensor_get_f64(B, c);
    for (int64_t i = 0; i < plane; i++) v[i] = (v[i] - mean) * sc + b;
  }
  dycl_kernel_store_f64(out[0], x);
  dycl_free(ctx->alloc, x);
  return NULL;
}

/* ------------------------------------------------------- LayerNormalization */

static dycl_dtype_t ln_stash_type(const dycl_node_t* node) {
  int64_t t = dycl_attr_int(node, "stash_type", 1);
  return dycl_dtype_is_valid((int)t) && dycl_dtype_is_float((dycl_dtype_t)t) ? (dycl_dtype_t)t : DYCL_DTYPE_FLOAT32;
}

dycl_status_t dycl_infer_LayerNormalization(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  for (int i = 0; i < 3; i++) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 1));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  dycl_type_t y = x && x->known ? *x : dycl_type_tensor(DYCL_DTYPE_UNDEFINED, -1);
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 0, &y));
  dycl_type_t st = dycl_type_tensor(ln_stash_type(node), -1);
  if (x && x->known && x->rank >= 0) {
    int axis;
    int64_t a = dycl_attr_int(node, "axis", -1);
    DYCL_RETURN_IF_ERROR(dycl_kernel_axis_code(node, DYCL_CODE_INVALID_MODEL, a, x->rank, &axis));
    st = dycl_type_tensor(ln_stash_type(node), x->rank);
    for (int i = 0; i < x->rank; i++) st.dims[i] = i < axis ? x->dims[i] : dycl_dim_const(1);
  }
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 1, &st));
  return dycl_infer_set(ctx, node, 2, &st);
}

/* Flat index into a tensor broadcast (numpy rules, right-aligned) to `dims` for output index i. */
static int64_t bcast_index(int64_t i, int rank, const int64_t* dims, const int64_t* bstr) {
  int64_t r = 0;
  for (int d = rank - 1; d >= 0; d--) {
    r += (i % dims[d]) * bstr[d];
    i /= dims[d];
  }
  return r;
}

static dycl_status_t check_bcast_to(const dycl_node_t* node, const dycl_value_t* t, const dycl_value_t* x, const char* what) {
  bool ok = t->rank <= x->rank;
  for (int i = 0; ok && i < t->rank; i++) {
    int64_t d = t->dims[t->rank - 1 - i];
    ok = d == 1 || d == x->dims[x->rank - 1 - i];
  }
  if (!ok) {
    char b1[128], b2[128];
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "%s %s does not broadcast to the input %s", what,
                           dycl_shape_str(t->rank, t->dims, b1, sizeof b1), dycl_shape_str(x->rank, x->dims, b2, sizeof b2));
  }
  return NULL;
}

dycl_status_t dycl_run_LayerNormalization(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                          dycl_value_t** out, int nout) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *X = in[0], *S = in[1], *B = nin > 2 ? in[2] : NULL;
  DYCL_RETURN_IF_ERROR(need_float(node, X, 0));
  DYCL_RETURN_IF_ERROR(need_float(node, S, 1));
  if (B) DYCL_RETURN_IF_ERROR(need_float(node, B, 2));
  int axis;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", -1), X->rank, &axis));
  DYCL_RETURN_IF_ERROR(check_bcast_to(node, S, X, "scale"));
  if (B) DYCL_RETURN_IF_ERROR(check_bcast_to(node, B, X, "bias"));
  double eps = dycl_attr_float(node, "epsilon", 1e-5);
  int64_t rows = 1, cols = 1;
  int64_t sdims[DYCL_MAX_RANK];
  for (int i = 0; i < X->rank; i++) {
    if (i < axis) rows *= X->dims[i];
    else cols *= X->dims[i];
    sdims[i] = i < axis ? X->dims[i] : 1;
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, X->dims, &out[0]));
  for (int j = 1; j < 3 && j < nout && j < node->n_out; j++)
    if (node->out[j] >= 0) DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, ln_stash_type(node), X->rank, sdims, &out[j]));
  if (X->numel == 0) return NULL;
  int64_t sstr[DYCL_MAX_RANK], bstr[DYCL_MAX_RANK];
  dycl_broadcast_strides(S, X->rank, X->dims, sstr);
  if (B) dycl_broadcast_strides(B, X->rank, X->dims, bstr);
  double *x = NULL, *sc = NULL, *bi = NULL;
  dycl_status_t s = NULL;
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, X, &x), done);
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, S, &sc), done);
  if (B) DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, B, &bi), done);
  for (int64_t r = 0; r < rows; r++) {
    double* v = x + r * cols;
    double mean, var;
    moments(v, cols, &mean, &var);
    double inv = 1.0 / sqrt(var + eps);
    for (int64_t i = 0; i < cols; i++) {
      int64_t flat = r * cols + i;
      double y = (v[i] - mean) * inv * sc[bcast_index(flat, X->rank, X->dims, sstr)];
      if (bi) y += bi[bcast_index(flat, X->rank, X->dims, bstr)];
      v[i] = y;
    }
    if (nout > 1 && out[1]) dycl_tensor_set_f64(out[1], r, mean);
    if (nout > 2 && out[2]) dycl_tensor_set_f64(out[2], r, inv);
  }
  dycl_kernel_store_f64(out[0], x);
done:
  dycl_free(ctx->alloc, x);
  dycl_free(ctx->alloc, sc);
  dycl_free(ctx->alloc, bi);
  return s;
}

/* --------------------------------------------------------------------- LRN */

dycl_status_t dycl_run_LRN(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* X = in[0];
  DYCL_RETURN_IF_ERROR(need_float(node, X, 0));
  if (X->rank < 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must have rank 2 or more");
  int64_t size = dycl_attr_int(node, "size", 0);
  if (size < 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'size' must be positive");
  double alpha = dycl_attr_float(node, "alpha", 1e-4), beta = dycl_attr_float(node, "beta", 0.75);
  double bias = dycl_attr_float(node, "bias", 1.0);
  int64_t N = X->dims[0], C = X->dims[1], plane = N && C ? X->numel / (N * C) : 0;
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo; /* floor and ceil of (size-1)/2 */
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, X->dims, &out[0]));
  if (X->numel == 0) return NULL;
  double *x = NULL, *y = NULL;
  dycl_status_t s = NULL;
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, X, &x), done);
  y = dycl_malloc(ctx->alloc, (size_t)X->numel * sizeof(double) + 1);
  if (!y) {
    s = dycl_error_nomem();
    goto done;
  }
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      int64_t c0 = c - lo < 0 ? 0 : c - lo, c1 = c + hi > C - 1 ? C - 1 : c + hi;
      for (int64_t i = 0; i < plane; i++) {
        double sq = 0;
        for (int64_t k = c0; k <= c1; k++) {
          double v = x[(n * C + k) * plane + i];
          sq += v * v;
        }
        int64_t o = (n * C + c) * plane + i;
        y[o] = x[o] / pow(bias + alpha / (double)size * sq, beta);
      }
    }
  dycl_kernel_store_f64(out[0], y);
done:
  dycl_free(ctx->alloc, x);
  dycl_free(ctx->alloc, y);
  return s;
}

/* --------------------------------------------------------- LpNormalization */

dycl_status_t dycl_run_LpNormalization(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                       dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* X = in[0];
  DYCL_RETURN_IF_ERROR(need_float(node, X, 0));
  int64_t p = dycl_attr_int(node, "p", 2);
  if (p != 1 && p != 2) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "p must be 1 or 2, not %" PRId64, p);
  int axis;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", -1), X->rank > 0 ? X->rank : 1, &axis));
  int64_t outer = 1, len = 1, inner = 1;
  for (int i = 0; i < X->rank; i++) {
    if (i < axis) outer *= X->dims[i];
    else if (i == axis) len = X->dims[i];
    else inner *= X->dims[i];
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, X->dims, &out[0]));
  if (X->numel == 0) return NULL;
  double* x;
  DYCL_RETURN_IF_ERROR(dycl_kernel_to_f64(ctx, X, &x));
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      double* v = x + o * len * inner + i;
      double norm = 0;
      for (int64_t k = 0; k < len; k++) norm += p == 1 ? fabs(v[k * inner]) : v[k * inner] * v[k * inner];
      if (p == 2) norm = sqrt(norm);
      for (int64_t k = 0; k < len; k++) v[k * inner] = norm != 0 ? v[k * inner] / norm : 0;
    }
  dycl_kernel_store_f64(out[0], x);
  dycl_free(ctx->alloc, x);
  return NULL;
}

/* ----------------------------------------------- MeanVarianceNormalization */

dycl_status_t dycl_run_MeanVarianceNormalization(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in,
                                                 int nin, dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* X = in[0];
  DYCL_RETURN_IF_ERROR(need_float(node, X, 0));
  bool reduce[DYCL_MAX_RANK] = {false};
  int na = 0;
  const int64_t* axes = dycl_attr_ints(node, "axes", &na);
  static const int64_t dflt[] = {0, 2, 3};
  if (!axes) {
    axes = dflt;
    na = 3;
    if (X->rank != 4) return dycl_node_error(node, DYCL_CODE_RUNTIME, "the default axes need a 4-D input");
  }
  for (int i = 0; i < na; i++) {
    int a;
    DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, axes[i], X->rank, &a));
    reduce[a] = true;
  }
  /* group elements by their position along the kept axes */
  int64_t groups = 1, gsize = 1;
  for (int i = 0; i < X->rank; i++) {
    if (reduce[i]) gsize *= X->dims[i];
    else groups *= X->dims[i];
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, X->dims, &out[0]));
  if (X->numel == 0) return NULL;
  double *x = NULL, *sum = NULL, *sq = NULL;
  dycl_status_t s = NULL;
  int64_t* gid = NULL;
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, X, &x), done);
  sum = dycl_calloc(ctx->alloc, (size_t)groups + 1, sizeof(double));
  sq = dycl_calloc(ctx->alloc, (size_t)groups + 1, sizeof(double));
  gid = dycl_malloc(ctx->alloc, (size_t)X->numel * sizeof(int64_t) + 1);
  if (!sum || !sq || !gid) {
    s = dycl_error_nomem();
    goto done;
  }
  for (int64_t i = 0; i < X->numel; i++) {
    int64_t rem = i, g = 0, mul = 1;
    for (int d = X->rank - 1; d >= 0; d--) {
      int64_t idx = rem % X->dims[d];
      rem /= X->dims[d];
      if (!reduce[d]) {
        g += idx * mul;
        mul *= X->dims[d];
      }
    }
    gid[i] = g;
    sum[g] += x[i];
    sq[g] += x[i] * x[i];
  }
  for (int64_t g = 0; g < groups; g++) {
    double mean = gsize ? sum[g] / (double)gsize : 0;
    double var = gsize ? sq[g] / (double)gsize - mean * mean : 0;
    sum[g] = mean;
    sq[g] = sqrt(var > 0 ? var : 0) + 1e-9;
  }
  for (int64_t i = 0; i < X->numel; i++) x[i] = (x[i] - sum[gid[i]]) / sq[gid[i]];
  dycl_kernel_store_f64(out[0], x);
done:
  dycl_free(ctx->alloc, x);
  dycl_free(ctx->alloc, sum);
  dycl_free(ctx->alloc, sq);
  dycl_free(ctx->alloc, gid);
  return s;
}

/* ----------------------------------------------------------------- Dropout */

/* MT19937, seeded like numpy's legacy RandomState(seed) so that a seeded Dropout draws the
 * same mask as numpy.random.seed(seed); numpy.random.uniform(size=...). */
typedef struct mt19937 {
  uint32_t mt[624];
  int i;
} mt19937_t;

static void mt_seed(mt19937_t* m, uint32_t seed) {
  m->mt[0] = seed;
  for (int i = 1; i < 624; i++) m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + (uint32_t)i;
  m->i = 624;
}

static uint32_t mt_next(mt19937_t* m) {
  if (m->i >= 624) {
    for (int k = 0; k < 624; k++) {
      uint32_t y = (m->mt[k] & 0x80000000u) | (m->mt[(k + 1) % 624] & 0x7fffffffu);
      m->mt[k] = m->mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    m->i = 0;
  }
  uint32_t y = m->mt[m->i++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

static double mt_uniform(mt19937_t* m) {
  uint32_t a = mt_next(m) >> 5, b = mt_next(m) >> 6;
  return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

dycl_status_t dycl_infer_Dropout(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  if (node->opset >= 12) {
    static const dycl_dtype_t b[] = {DYCL_DTYPE_BOOL, DYCL_DTYPE_UNDEFINED};
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_float));
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 2, b));
  }
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  dycl_type_t y = x && x->known ? *x : dycl_type_tensor(DYCL_DTYPE_UNDEFINED, -1);
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 0, &y));
  if (node->opset >= 10) y.dtype = DYCL_DTYPE_BOOL;
  return dycl_infer_set(ctx, node, 1, &y);
}

dycl_status_t dycl_run_Dropout(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* X = in[0];
  DYCL_RETURN_IF_ERROR(need_float(node, X, 0));
  double ratio = 0.5;
  bool training = false;
  if (node->opset >= 12) {
    if (nin > 1 && in[1]) {
      if (in[1]->kind != DYCL_VALUE_TENSOR || in[1]->numel != 1 || !dycl_dtype_is_float(in[1]->dtype))
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "ratio must be a float scalar");
      ratio = dycl_tensor_get_f64(in[1], 0);
    }
    if (nin > 2 && in[2]) {
      if (in[2]->kind != DYCL_VALUE_TENSOR || in[2]->numel != 1 || in[2]->dtype != DYCL_DTYPE_BOOL)
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "training_mode must be a bool scalar");
      training = ((const uint8_t*)in[2]->data)[0] != 0;
    }
  } else {
    ratio = dycl_attr_float(node, "ratio", 0.5);
  }
  if (!(ratio >= 0 && ratio <= 1))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "ratio %g is outside [0, 1]", ratio);
  bool want_mask = nout > 1 && node->n_out > 1 && node->out[1] >= 0;
  dycl_dtype_t mdt = node->opset >= 10 ? DYCL_DTYPE_BOOL : X->dtype;
  if (!training || ratio == 0) {
    out[0] = dycl_value_retain((dycl_value_t*)X);
    if (want_mask) {
      DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, mdt, X->rank, X->dims, &out[1]));
      for (int64_t i = 0; i < X->numel; i++) dycl_tensor_set_i64(out[1], i, 1);
    }
    return NULL;
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, X->dims, &out[0]));
  if (want_mask) DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, mdt, X->rank, X->dims, &out[1]));
  const dycl_attr_t* sa = dycl_node_attr(node, "seed");
  uint64_t seed = sa ? (uint64_t)(sa->type == DYCL_ATTR_FLOAT ? (int64_t)sa->f : sa->i) : ctx->seed;
  mt19937_t rng;
  mt_seed(&rng, (uint32_t)seed);
  double scale = ratio < 1 ? 1.0 / (1.0 - ratio) : 0;
  for (int64_t i = 0; i < X->numel; i++) {
    bool keep = mt_uniform(&rng) >= ratio;
    double v = keep ? dycl_tensor_get_f64(X, i) * scale : 0;
    if (X->dtype == DYCL_DTYPE_FLOAT32) ((float*)out[0]->data)[i] = keep ? ((const float*)X->data)[i] * (float)scale : 0.0f;
    else dycl_tensor_set_f64(out[0], i, v);
    if (want_mask) dycl_tensor_set_i64(out[1], i, keep);
  }
  return NULL;
}
