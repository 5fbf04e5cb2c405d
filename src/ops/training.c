/* ai.onnx.preview.training (version 1): the optimizers Adagrad, Adam and Momentum.
 *
 * Every op takes R (scalar learning rate), T (scalar int64 update count), then n tensors to
 * optimize X_1..X_n followed by groups of n state tensors (G..., then H... for Adagrad; G..., V...,
 * H... for Adam; G..., V... for Momentum). The outputs are the n new X, then the n new values of
 * each updated state group (H for Adagrad; V, H for Adam; V for Momentum). The update is
 * element-wise; G and the state tensors must have the shape of their X. Computation is done in
 * double and stored in the tensors' dtype (float32 or float64). */
#include <math.h>
#include <string.h>

#include "ops/op.h"

typedef enum train_kind { TRAIN_ADAGRAD, TRAIN_ADAM, TRAIN_MOMENTUM } train_kind_t;

/* Input groups after R and T (X, G, state...) and output groups (X_new, state_new...). */
static int in_groups(train_kind_t k) { return k == TRAIN_ADAM ? 4 : 3; }
static int out_groups(train_kind_t k) { return k == TRAIN_ADAM ? 3 : 2; }
/* Output group o (>= 1) holds the new value of input group in_group_of_out(o). */
static int in_group_of_out(int o) { return o + 1; } /* Adagrad H:2; Adam V:2 H:3; Momentum V:2 */

static const char* group_names(train_kind_t k) {
  switch (k) {
    case TRAIN_ADAGRAD: return "R, T, X..., G..., H...";
    case TRAIN_ADAM: return "R, T, X..., G..., V..., H...";
    default: return "R, T, X..., G..., V...";
  }
}

/* Number n of optimized tensors, checking that inputs and outputs divide into groups. */
static dycl_status_t train_count(const dycl_node_t* node, train_kind_t k, int n_in, int n_out, int* n) {
  int gi = in_groups(k), go = out_groups(k);
  if (n_in < 2 + gi || (n_in - 2) % gi != 0)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                           "has %d inputs; expected R, T and %d equal groups of tensors (%s)", n_in, gi,
                           group_names(k));
  *n = (n_in - 2) / gi;
  if (n_out != go * *n)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                           "has %d outputs; with %d optimized tensors it must have %d (%d groups of %d)", n_out,
                           *n, go * *n, go, *n);
  return NULL;
}

/* Checks the attributes that a model can get statically wrong. */
static dycl_status_t train_check_attrs(const dycl_node_t* node, train_kind_t k) {
  if (k != TRAIN_MOMENTUM) return NULL;
  static const char* const req[] = {"alpha", "beta", "norm_coefficient", "mode"};
  for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
    if (!dycl_node_attr(node, req[i]))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "required attribute '%s' is missing", req[i]);
  const char* mode = dycl_attr_string(node, "mode", "");
  if (strcmp(mode, "standard") != 0 && strcmp(mode, "nesterov") != 0)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'mode' is '%s'; expected 'standard' or 'nesterov'",
                           mode);
  return NULL;
}

/* ------------------------------------------------------------------ infer */

static dycl_status_t train_infer(dycl_infer_ctx_t* ctx, const dycl_node_t* node, train_kind_t k) {
  static const dycl_dtype_t floats[] = {DYCL_DTYPE_FLOAT32, DYCL_DTYPE_FLOAT64, DYCL_DTYPE_UNDEFINED};
  int n;
  DYCL_RETURN_IF_ERROR(train_count(node, k, node->n_in, node->n_out, &n));
  DYCL_RETURN_IF_ERROR(train_check_attrs(node, k));
  for (int i = 0; i < node->n_in; i++) {
    const dycl_type_t* t = dycl_infer_in(ctx, node, i);
    if (!t) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d is missing (no input is optional)", i);
    if (t->known && t->kind != DYCL_VALUE_TENSOR)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d must be a tensor", i);
    if (i < 2 && t->known && t->rank > 1)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d (%s) must be a scalar", i, i ? "T" : "R");
  }
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, floats));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
  for (int i = 2; i < node->n_in; i++) {
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, floats));
    DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 2, i));
  }
  /* G and the state tensors must have the shape of their X where both are known. */
  for (int x = 0; x < n; x++) {
    const dycl_type_t* tx = dycl_infer_in(ctx, node, 2 + x);
    for (int g = 1; g < in_groups(k); g++) {
      int i = 2 + g * n + x;
      const dycl_type_t* t = dycl_infer_in(ctx, node, i);
      if (!tx->known || !t->known || tx->rank < 0 || t->rank < 0) continue;
      bool bad = tx->rank != t->rank;
      for (int d = 0; !bad && d < t->rank; d++)
        bad = dycl_dim_known(tx->dims[d]) && dycl_dim_known(t->dims[d]) && tx->dims[d].v != t->dims[d].v;
      if (bad) {
        char a[128], b[128];
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d has type %s, but its tensor X (input %d) is %s",
                               i, dycl_type_str(t, a, sizeof a), 2 + x, dycl_type_str(tx, b, sizeof b));
      }
    }
  }
  /* Output j has the type of its corresponding input. */
  for (int o = 0; o < out_groups(k); o++) {
    int g = o == 0 ? 0 : in_group_of_out(o);
    for (int x = 0; x < n; x++) {
      const dycl_type_t* t = dycl_infer_in(ctx, node, 2 + g * n + x);
      dycl_type_t u = t->known ? *t : dycl_type_tensor(DYCL_DTYPE_UNDEFINED, -1);
      DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, o * n + x, &u));
    }
  }
  return NULL;
}

dycl_status_t dycl_infer_Adagrad(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return train_infer(ctx, node, TRAIN_ADAGRAD);
}
dycl_status_t dycl_infer_Adam(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return train_infer(ctx, node, TRAIN_ADAM);
}
dycl_status_t dycl_infer_Momentum(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return train_infer(ctx, node, TRAIN_MOMENTUM);
}

/* ------------------------------------------------------------------ kernels */

typedef struct train_params {
  double r, norm, eps, alpha, beta, norm_post;
  bool nesterov;
} train_params_t;

static inline double load(const void* p, dycl_dtype_t dt, int64_t i) {
  return dt == DYCL_DTYPE_FLOAT32 ? (double)((const float*)p)[i] : ((const double*)p)[i];
}
static inline void store(void* p, dycl_dtype_t dt, int64_t i, double v) {
  if (dt == DYCL_DTYPE_FLOAT32) ((float*)p)[i] = (float)v;
  else ((double*)p)[i] = v;
}

/* Updates one optimized tensor: s[] are the inputs (X, G, state...), o[] the outputs (X_new,
 * state_new...; NULL for an omitted one). */
static void train_update(train_kind_t k, const train_params_t* p, dycl_dtype_t dt, int64_t numel,
                         const dycl_value_t* const* s, dycl_value_t* const* o) {
  const void* X = s[0]->data;
  const void* G = s[1]->data;
  void* Xo = o[0] ? o[0]->data : NULL;
  for (int64_t i = 0; i < numel; i++) {
    double x = load(X, dt, i), g = p->norm * x + load(G, dt, i), xn;
    switch (k) {
      case TRAIN_ADAGRAD: {
        double h = load(s[2]->data, dt, i) + g * g;
        xn = x - p->r * g / (sqrt(h) + p->eps);
        if (o[1]) store(o[1]->data, dt, i, h);
        break;
      }
      case TRAIN_ADAM: {
        double v = p->alpha * load(s[2]->data, dt, i) + (1.0 - p->alpha) * g;
        double h = p->beta * load(s[3]->data, dt, i) + (1.0 - p->beta) * g * g;
        xn = (1.0 - p->norm_post) * (x - p->r * (v / (sqrt(h) + p->eps)));
        if (o[1]) store(o[1]->data, dt, i, v);
        if (o[2]) store(o[2]->data, dt, i, h);
        break;
      }
      default: {
        double v = p->alpha * load(s[2]->data, dt, i) + p->beta * g;
        xn = p->nesterov ? x - p->r * (g + p->alpha * v) : x - p->r * v;
        if (o[1]) store(o[1]->data, dt, i, v);
        break;
      }
    }
    if (Xo) store(Xo, dt, i, xn);
  }
}

static dycl_status_t train_run(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout, train_kind_t k) {
  int n;
  DYCL_RETURN_IF_ERROR(train_count(node, k, nin, nout, &n));
  DYCL_RETURN_IF_ERROR(train_check_attrs(node, k));
  for (int i = 0; i < nin; i++) {
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
    if (i < 2 && in[i]->numel != 1)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d (%s) must be a scalar, got %lld elements", i,
                             i ? "T" : "R", (long long)in[i]->numel);
  }
  if (in[0]->dtype != DYCL_DTYPE_FLOAT32 && in[0]->dtype != DYCL_DTYPE_FLOAT64)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "R must be float32 or float64, got %s",
                           dycl_dtype_name(in[0]->dtype));
  if (in[1]->dtype != DYCL_DTYPE_INT64)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "T must be int64, got %s", dycl_dtype_name(in[1]->dtype));
  dycl_dtype_t dt = in[2]->dtype;
  if (dt != DYCL_DTYPE_FLOAT32 && dt != DYCL_DTYPE_FLOAT64)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "the optimized tensors must be float32 or float64, got %s",
                           dycl_dtype_name(dt));
  for (int x = 0; x < n; x++) {
    const dycl_value_t* X = in[2 + x];
    for (int g = 0; g < in_groups(k); g++) {
      const dycl_value_t* t = in[2 + g * n + x];
      if (t->dtype != dt)
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d is %s, but input 2 is %s", 2 + g * n + x,
                               dycl_dtype_name(t->dtype), dycl_dtype_name(dt));
      bool same = t->rank == X->rank;
      for (int d = 0; same && d < t->rank; d++) same = t->dims[d] == X->dims[d];
      if (!same) {
        char a[128], b[128];
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d has shape %s, but its tensor X (input %d) has %s",
                               2 + g * n + x, dycl_shape_str(t->rank, t->dims, a, sizeof a), 2 + x,
                               dycl_shape_str(X->rank, X->dims, b, sizeof b));
      }
    }
  }

  double R = dycl_tensor_get_f64(in[0], 0);
  int64_t T = dycl_tensor_get_i64(in[1], 0);
  train_params_t p = {0};
  p.r = R;
  p.norm = dycl_attr_float(node, "norm_coefficient", 0.0);
  switch (k) {
    case TRAIN_ADAGRAD:
      p.eps = dycl_attr_float(node, "epsilon", 1e-6);
      p.r = R / (1.0 + (double)T * dycl_attr_float(node, "decay_factor", 0.0));
      break;
    case TRAIN_ADAM:
      p.eps = dycl_attr_float(node, "epsilon", 1e-6);
      p.alpha = dycl_attr_float(node, "alpha", 0.9);
      p.beta = dycl_attr_float(node, "beta", 0.999);
      p.norm_post = dycl_attr_float(node, "norm_coefficient_post", 0.0);
      if (T > 0) p.r = R * sqrt(1.0 - pow(p.beta, (double)T)) / (1.0 - pow(p.alpha, (double)T));
      break;
    default:
      p.alpha = dycl_attr_float(node, "alpha", 0.0);
      p.beta = T > 0 ? dycl_attr_float(node, "beta", 1.0) : 1.0;
      p.nesterov = strcmp(dycl_attr_string(node, "mode", "standard"), "nesterov") == 0;
      break;
  }

  for (int x = 0; x < n; x++) {
    const dycl_value_t* s[4] = {NULL, NULL, NULL, NULL};
    dycl_value_t* o[3] = {NULL, NULL, NULL};
    for (int g = 0; g < in_groups(k); g++) s[g] = in[2 + g * n + x];
    for (int og = 0; og < out_groups(k); og++) {
      int j = og * n + x;
      if (node->out[j] < 0) continue;
      const dycl_value_t* like = s[og == 0 ? 0 : in_group_of_out(og)];
      DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, like->rank, like->dims, &out[j]));
      o[og] = out[j];
    }
    train_update(k, &p, dt, s[0]->numel, s, o);
  }
  return NULL;
}

dycl_status_t dycl_run_Adagrad(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  return train_run(ctx, node, in, nin, out, nout, TRAIN_ADAGRAD);
}
dycl_status_t dycl_run_Adam(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  return train_run(ctx, node, in, nin, out, nout, TRAIN_ADAM);
}
dycl_status_t dycl_run_Momentum(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, int nout) {
  return train_run(ctx, node, in, nin, out, nout, TRAIN_MOMENTUM);
}
