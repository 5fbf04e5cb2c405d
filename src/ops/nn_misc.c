/* Losses and box selection: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss,
 * NonMaxSuppression. Losses are computed in double. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

/* ------------------------------------------------------------------ losses */

typedef enum { RED_NONE, RED_SUM, RED_MEAN } reduction_t;

static dycl_status_t read_reduction(const dycl_node_t* node, reduction_t* r) {
  const char* s = dycl_attr_string(node, "reduction", "mean");
  if (!strcmp(s, "none")) *r = RED_NONE;
  else if (!strcmp(s, "sum")) *r = RED_SUM;
  else if (!strcmp(s, "mean")) *r = RED_MEAN;
  else return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown reduction '%s'", s);
  return NULL;
}

/* Shared inference of the two losses: output 0 is the loss, output 1 (SCE) the log-probabilities. */
static dycl_status_t infer_loss(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_index));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  reduction_t red;
  DYCL_RETURN_IF_ERROR(read_reduction(node, &red));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* t = dycl_infer_in(ctx, node, 1);
  dycl_dtype_t dt = x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED;
  if (x && x->known && x->rank >= 0 && x->rank < 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must have rank 2 or more, got %d", x->rank);
  if (x && t && x->known && t->known && x->rank >= 0 && t->rank >= 0 && t->rank != x->rank - 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "target must have rank %d, got %d", x->rank - 1, t->rank);
  dycl_type_t loss = dycl_type_tensor(dt, 0);
  if (red == RED_NONE) {
    loss = dycl_type_tensor(dt, -1);
    if (t && t->known && t->rank >= 0) {
      loss = *t;
      loss.dtype = dt;
    } else if (x && x->known && x->rank >= 2) {
      loss = dycl_type_tensor(dt, x->rank - 1);
      loss.dims[0] = x->dims[0];
      for (int i = 2; i < x->rank; i++) loss.dims[i - 1] = x->dims[i];
    }
  }
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 0, &loss));
  dycl_type_t lp = x && x->known ? *x : dycl_type_tensor(dt, -1);
  return dycl_infer_set(ctx, node, 1, &lp);
}

dycl_status_t dycl_infer_NegativeLogLikelihoodLoss(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_loss(ctx, node);
}
dycl_status_t dycl_infer_SoftmaxCrossEntropyLoss(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_loss(ctx, node);
}

/* The negative log-likelihood of log-probabilities lp [N, C, D] (double) for targets T [N, D...],
 * optional weights W [C]; writes output 0. */
static dycl_status_t nll(dycl_kctx_t* ctx, const dycl_node_t* node, const dycl_value_t* X, const double* lp,
                         const dycl_value_t* T, const dycl_value_t* W, dycl_value_t** out) {
  char b1[128], b2[128];
  reduction_t red;
  DYCL_RETURN_IF_ERROR(read_reduction(node, &red));
  int64_t N = X->dims[0], C = X->dims[1], D = 1;
  for (int i = 2; i < X->rank; i++) D *= X->dims[i];
  bool shape_ok = T->rank == X->rank - 1 && T->dims[0] == N;
  for (int i = 2; shape_ok && i < X->rank; i++) shape_ok = T->dims[i - 1] == X->dims[i];
  if (!shape_ok || !dycl_dtype_is_int(T->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "target %s does not match the input %s",
                           dycl_shape_str(T->rank, T->dims, b1, sizeof b1), dycl_shape_str(X->rank, X->dims, b2, sizeof b2));
  if (W && (W->rank != 1 || W->dims[0] != C || W->dtype != X->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "weight %s must have shape [%" PRId64 "] and the input's type",
                           dycl_shape_str(W->rank, W->dims, b1, sizeof b1), C);
  const dycl_attr_t* ia = dycl_node_attr(node, "ignore_index");
  bool has_ignore = ia != NULL;
  int64_t ignore = ia ? ia->i : 0;
  if (red == RED_NONE) DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, T->rank, T->dims, &out[0]));
  else DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, 0, NULL, &out[0]));
  double sum = 0, wsum = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t d = 0; d < D; d++) {
      int64_t i = n * D + d;
      int64_t t = dycl_tensor_get_i64(T, i);
      double loss = 0, w = 0;
      if (!(has_ignore && t == ignore)) {
        if (t < 0 || t >= C)
          return dycl_node_error(node, DYCL_CODE_RUNTIME, "target %" PRId64 " is out of range [0, %" PRId64 ")", t, C);
        w = W ? dycl_tensor_get_f64(W, t) : 1.0;
        loss = -lp[(n * C + t) * D + d] * w;
      }
      sum += loss;
      wsum += w;
      if (red == RED_NONE) dycl_tensor_set_f64(out[0], i, loss);
    }
  if (red == RED_SUM) dycl_tensor_set_f64(out[0], 0, sum);
  else if (red == RED_MEAN) {
    /* the reference divides by the summed weights when weights or ignore_index are in play,
     * else by the element count */
    double den = (W || has_ignore) ? wsum : (double)(N * D);
    dycl_tensor_set_f64(out[0], 0, sum / den);
  }
  return NULL;
}

static dycl_status_t loss_inputs(const dycl_node_t* node, dycl_value_t* const* in, int nin) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  if (!dycl_dtype_is_float(in[0]->dtype)) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be a float tensor");
  if (in[0]->rank < 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must have rank 2 or more");
  if (nin > 2 && in[2] && in[2]->kind != DYCL_VALUE_TENSOR)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "weight must be a tensor");
  return NULL;
}

dycl_status_t dycl_run_NegativeLogLikelihoodLoss(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in,
                                                 int nin, dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(loss_inputs(node, in, nin));
  const dycl_value_t* X = in[0];
  double* lp;
  DYCL_RETURN_IF_ERROR(dycl_kernel_to_f64(ctx, X, &lp));
  dycl_status_t s = nll(ctx, node, X, lp, in[1], nin > 2 ? in[2] : NULL, out);
  dycl_free(ctx->alloc, lp);
  return s;
}

dycl_status_t dycl_run_SoftmaxCrossEntropyLoss(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in,
                                               int nin, dycl_value_t** out, int nout) {
  DYCL_RETURN_IF_ERROR(loss_inputs(node, in, nin));
  const dycl_value_t* X = in[0];
  int64_t N = X->dims[0], C = X->dims[1], D = 1;
  for (int i = 2; i < X->rank; i++) D *= X->dims[i];
  double* lp;
  DYCL_RETURN_IF_ERROR(dycl_kernel_to_f64(ctx, X, &lp));
  for (int64_t n = 0; n < N; n++)
    for (int64_t d = 0; d < D; d++) { /* log-softmax over the class axis */
      double mx = -INFINITY, se = 0;
      for (int64_t c = 0; c < C; c++) mx = fmax(mx, lp[(n * C + c) * D + d]);
      for (int64_t c = 0; c < C; c++) se += exp(lp[(n * C + c) * D + d] - mx);
      double lse = mx + log(se);
      for (int64_t c = 0; c < C; c++) lp[(n * C + c) * D + d] -= lse;
    }
  dycl_status_t s = nll(ctx, node, X, lp, in[1], nin > 2 ? in[2] : NULL, out);
  if (!s && nout > 1 && node->n_out > 1 && node->out[1] >= 0) {
    s = dycl_kernel_tensor(ctx, node, X->dtype, X->rank, X->dims, &out[1]);
    if (!s) dycl_kernel_store_f64(out[1], lp);
  }
  dycl_free(ctx->alloc, lp);
  return s;
}

/* ------------------------------------------------------- NonMaxSuppression */

dycl_status_t dycl_infer_NonMaxSuppression(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  static const dycl_dtype_t f32[] = {DYCL_DTYPE_FLOAT32, DYCL_DTYPE_UNDEFINED};
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, f32));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, f32));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 2, dycl_dtypes_int64));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 3, f32));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 4, f32));
  int64_t cpb = dycl_attr_int(node, "center_point_box", 0);
  if (cpb != 0 && cpb != 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "center_point_box must be 0 or 1");
  dycl_type_t t = dycl_type_tensor(DYCL_DTYPE_INT64, 2);
  t.dims[1] = dycl_dim_const(3);
  return dycl_infer_set(ctx, node, 0, &t);
}

typedef struct nms_cand {
  double score;
  int64_t index;
} nms_cand_t;

static int nms_cmp(const void* a, const void* b) {
  const nms_cand_t *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->index < y->index ? -1 : (x->index > y->index);
}

/* Corners (ymin, xmin, ymax, xmax) of a box in either format. */
static void nms_corners(const float* b, bool center, double* c) {
  if (center) {
    double xc = b[0], yc = b[1], w2 = b[2] / 2.0, h2 = b[3] / 2.0;
    c[0] = yc - h2;
    c[1] = xc - w2;
    c[2] = yc + h2;
    c[3] = xc + w2;
  } else {
    c[0] = fmin(b[0], b[2]);
    c[1] = fmin(b[1], b[3]);
    c[2] = fmax(b[0], b[2]);
    c[3] = fmax(b[1], b[3]);
  }
}

static bool nms_suppress(const double* a, const double* b, double thr) {
  double ymin = fmax(a[0], b[0]), xmin = fmax(a[1], b[1]), ymax = fmin(a[2], b[2]), xmax = fmin(a[3], b[3]);
  if (xmax <= xmin || ymax <= ymin) return false;
  double inter = (xmax - xmin) * (ymax - ymin);
  double aa = (a[2] - a[0]) * (a[3] - a[1]), ab = (b[2] - b[0]) * (b[3] - b[1]);
  double uni = aa + ab - inter;
  if (inter <= 0 || aa <= 0 || ab <= 0 || uni <= 0) return false;
  return inter / uni > thr;
}

static dycl_status_t scalar_arg(const dycl_node_t* node, dycl_value_t* const* in, int nin, int i, bool want_int, double* v,
                                bool* present) {
  *present = false;
  if (i >= nin || !in[i]) return NULL;
  const dycl_value_t* t = in[i];
  if (t->kind != DYCL_VALUE_TENSOR || t->numel != 1 || (want_int ? !dycl_dtype_is_int(t->dtype) : !dycl_dtype_is_float(t->dtype)))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d must be a single %s value", i, want_int ? "integer" : "float");
  *v = want_int ? (double)dycl_tensor_get_i64(t, 0) : dycl_tensor_get_f64(t, 0);
  *present = true;
  return NULL;
}

dycl_status_t dycl_run_NonMaxSuppression(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                         dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *BX = in[0], *SC = in[1];
  char b1[128], b2[128];
  if (BX->dtype != DYCL_DTYPE_FLOAT32 || SC->dtype != DYCL_DTYPE_FLOAT32)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "boxes and scores must be float32");
  if (BX->rank != 3 || BX->dims[2] != 4 || SC->rank != 3 || SC->dims[0] != BX->dims[0] || SC->dims[2] != BX->dims[1])
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "boxes %s and scores %s must have shapes [B, S, 4] and [B, C, S]",
                           dycl_shape_str(BX->rank, BX->dims, b1, sizeof b1), dycl_shape_str(SC->rank, SC->dims, b2, sizeof b2));
  double maxv = 0, iou = 0, sthr = 0;
  bool has_max, has_iou, has_sthr;
  DYCL_RETURN_IF_ERROR(scalar_arg(node, in, nin, 2, true, &maxv, &has_max));
  DYCL_RETURN_IF_ERROR(scalar_arg(node, in, nin, 3, false, &iou, &has_iou));
  DYCL_RETURN_IF_ERROR(scalar_arg(node, in, nin, 4, false, &sthr, &has_sthr));
  if (has_iou && (iou < 0 || iou > 1))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "iou_threshold %g must be in [0, 1]", iou);
  bool center = dycl_attr_int(node, "center_point_box", 0) != 0;
  int64_t B = BX->dims[0], NS = BX->dims[1], NC = SC->dims[1];
  int64_t max_out = maxv > 0 ? (int64_t)maxv : 0;
  if (max_out > NS) max_out = NS;
  const float* boxes = BX->data;
  const float* scores = SC->data;
  nms_cand_t* cand = dycl_malloc(ctx->alloc, (size_t)NS * sizeof *cand + 1);
  int64_t* sel = dycl_malloc(ctx->alloc, (size_t)NS * sizeof *sel + 1);
  int64_t* res = NULL; /* triples */
  int64_t n_res = 0, cap_res = 0;
  dycl_status_t s = NULL;
  if (!cand || !sel) {
    s = dycl_error_nomem();
    goto done;
  }
  for (int64_t b = 0; b < B && max_out > 0; b++)
    for (int64_t c = 0; c < NC; c++) {
      int64_t nc = 0, ns = 0;
      const float* sp = scores + (b * NC + c) * NS;
      for (int64_t i = 0; i < NS; i++)
        if (!has_sthr || sp[i] > sthr) {
          cand[nc].score = sp[i];
          cand[nc].index = i;
          nc++;
        }
      qsort(cand, (size_t)nc, sizeof *cand, nms_cmp);
      for (int64_t k = 0; k < nc && ns < max_out; k++) {
        double ca[4];
        nms_corners(boxes + (b * NS + cand[k].index) * 4, center, ca);
        bool keep = true;
        for (int64_t j = 0; j < ns && keep; j++) {
          double cb[4];
          nms_corners(boxes + (b * NS + sel[j]) * 4, center, cb);
          if (nms_suppress(ca, cb, iou)) keep = false;
        }
        if (!keep) continue;
        sel[ns++] = cand[k].index;
        DYCL_GOTO_IF_ERROR(s, dycl_grow(ctx->alloc, (void**)&res, 3 * sizeof(int64_t), &cap_res, n_res + 1), done);
        res[3 * n_res] = b;
        res[3 * n_res + 1] = c;
        res[3 * n_res + 2] = cand[k].index;
        n_res++;
      }
    }
  int64_t dims[2] = {n_res, 3};
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, 2, dims, &out[0]), done);
  if (n_res) memcpy(out[0]->data, res, (size_t)n_res * 3 * sizeof(int64_t));
done:
  dycl_free(ctx->alloc, cand);
  dycl_free(ctx->alloc, sel);
  dycl_free(ctx->alloc, res);
  return s;
}
