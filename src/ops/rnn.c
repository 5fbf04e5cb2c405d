/* Recurrent operators: RNN, GRU, LSTM (opsets 1..17).
 *
 * This file parses and validates attributes and input shapes (shared by inference and the
 * kernels) and dispatches to the typed kernels in ops/rnn_kernel.c, which is a template
 * instantiated here once for float (float32, float16, bfloat16 inputs) and once for double.
 *
 * Semantics, per direction d (forward, or reverse over each batch entry's own length):
 *   RNN:  Ht = f(Xt*Wi^T + Ht-1*Ri^T + Wbi + Rbi)
 *   GRU:  gates z, r, h in W/R/B;  zt = f(..z), rt = f(..r),
 *         ht = g(Xt*Wh^T + (rt (.) Ht-1)*Rh^T + Rbh + Wbh)        linear_before_reset = 0
 *         ht = g(Xt*Wh^T + rt (.) (Ht-1*Rh^T + Rbh) + Wbh)        linear_before_reset = 1
 *         Ht = (1 - zt) (.) ht + zt (.) Ht-1
 *   LSTM: gates i, o, f, c in W/R/B, peepholes i, o, f in P (see the ONNX spec); input_forget
 *         couples the forget gate to 1 - it.
 * `clip` bounds the pre-activation gate values to [-clip, clip]. With sequence_lens, steps past
 * an entry's length give zeros in Y, and Y_h/Y_c hold the state after its last valid step (the
 * initial state for a length of 0). */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/op.h"

/* ------------------------------------------------------------------- config */

typedef enum rnn_cell { RNN_CELL_RNN, RNN_CELL_GRU, RNN_CELL_LSTM } rnn_cell_t;

typedef enum rnn_act_kind {
  RNN_ACT_RELU,
  RNN_ACT_TANH,
  RNN_ACT_SIGMOID,
  RNN_ACT_AFFINE,
  RNN_ACT_LEAKYRELU,
  RNN_ACT_THRESHOLDEDRELU,
  RNN_ACT_SCALEDTANH,
  RNN_ACT_HARDSIGMOID,
  RNN_ACT_ELU,
  RNN_ACT_SOFTSIGN,
  RNN_ACT_SOFTPLUS,
} rnn_act_kind_t;

typedef struct rnn_act {
  rnn_act_kind_t kind;
  float alpha, beta;
} rnn_act_t;

typedef struct rnn_cfg {
  rnn_cell_t cell;
  int ngates;  /* 1, 3, 4 */
  int nact;    /* activations per direction: 1, 2, 3 */
  int ndir;    /* 1 or 2 */
  bool reverse; /* direction == "reverse" */
  int layout;
  int64_t hidden_attr; /* -1 when absent */
  bool has_clip;
  float clip;
  bool linear_before_reset, input_forget;
  rnn_act_t act[6]; /* nact per direction */
  int64_t S, B, I, H; /* set by the kernel driver */
} rnn_cfg_t;

/* The kernel's tensors: inputs (NULL when omitted) and outputs (NULL when not requested). */
typedef struct rnn_io {
  const dycl_value_t *x, *w, *r, *b, *seq, *h0, *c0, *p;
  dycl_value_t *y, *yh, *yc;
} rnn_io_t;

/* The typed kernels: ops/rnn_kernel.c instantiated for float and double. */
#define DYCL_RNN_TEMPLATE 1
#define RNN_T float
#define RNN_SFX f32
#define RNN_DTYPE DYCL_DTYPE_FLOAT32
#define RNN_EXP expf
#define RNN_TANH tanhf
#define RNN_LOG1P log1pf
#include "ops/rnn_kernel.c"
#define RNN_T double
#define RNN_SFX f64
#define RNN_DTYPE DYCL_DTYPE_FLOAT64
#define RNN_EXP exp
#define RNN_TANH tanh
#define RNN_LOG1P log1p
#include "ops/rnn_kernel.c"
#undef DYCL_RNN_TEMPLATE

/* --------------------------------------------------------------- attributes */

typedef struct act_name {
  const char* name;
  rnn_act_kind_t kind;
  bool uses_alpha, uses_beta;
  float alpha, beta; /* defaults */
} act_name_t;

static const act_name_t k_acts[] = {
    {"relu", RNN_ACT_RELU, false, false, 0, 0},
    {"tanh", RNN_ACT_TANH, false, false, 0, 0},
    {"sigmoid", RNN_ACT_SIGMOID, false, false, 0, 0},
    {"affine", RNN_ACT_AFFINE, true, true, 1.0f, 0.0f},
    {"leakyrelu", RNN_ACT_LEAKYRELU, true, false, 0.01f, 0},
    {"thresholdedrelu", RNN_ACT_THRESHOLDEDRELU, true, false, 1.0f, 0},
    {"scaledtanh", RNN_ACT_SCALEDTANH, true, true, 1.0f, 1.0f},
    {"hardsigmoid", RNN_ACT_HARDSIGMOID, true, true, 0.2f, 0.5f},
    {"elu", RNN_ACT_ELU, true, false, 1.0f, 0},
    {"softsign", RNN_ACT_SOFTSIGN, false, false, 0, 0},
    {"softplus", RNN_ACT_SOFTPLUS, false, false, 0, 0},
};

static const act_name_t* find_act(const char* name) {
  for (size_t i = 0; i < sizeof k_acts / sizeof k_acts[0]; i++)
    if (dycl_kernel_name_eq(name, k_acts[i].name)) return &k_acts[i];
  return NULL;
}

/* Reads everything the attributes say into cfg (cell, ngates, nact set by the caller). */
static dycl_status_t parse_attrs(const dycl_node_t* node, rnn_cfg_t* cfg) {
  const char* dir = dycl_attr_string(node, "direction", "forward");
  if (strcmp(dir, "forward") == 0) {
    cfg->ndir = 1, cfg->reverse = false;
  } else if (strcmp(dir, "reverse") == 0) {
    cfg->ndir = 1, cfg->reverse = true;
  } else if (strcmp(dir, "bidirectional") == 0) {
    cfg->ndir = 2, cfg->reverse = false;
  } else {
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                           "direction must be forward, reverse or bidirectional, not '%s'", dir);
  }
  cfg->hidden_attr = dycl_attr_int(node, "hidden_size", -1);
  if (dycl_node_attr(node, "hidden_size") && cfg->hidden_attr <= 0)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "hidden_size must be positive, not %" PRId64,
                           cfg->hidden_attr);
  int64_t layout = dycl_attr_int(node, "layout", 0);
  if (layout != 0 && layout != 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "layout must be 0 or 1, not %" PRId64, layout);
  cfg->layout = (int)layout;
  const dycl_attr_t* clip = dycl_node_attr(node, "clip");
  cfg->has_clip = clip != NULL;
  cfg->clip = (float)dycl_attr_float(node, "clip", 0.0);
  if (cfg->has_clip && !(cfg->clip > 0))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "clip must be positive, not %g", (double)cfg->clip);
  cfg->linear_before_reset = cfg->cell == RNN_CELL_GRU && dycl_attr_int(node, "linear_before_reset", 0) != 0;
  cfg->input_forget = cfg->cell == RNN_CELL_LSTM && dycl_attr_int(node, "input_forget", 0) != 0;

  /* activations: nact per direction; a list for one direction serves both */
  static const char* const defaults[3][3] = {{"tanh"}, {"sigmoid", "tanh"}, {"sigmoid", "tanh", "tanh"}};
  const char* names[6];
  int total = cfg->nact * cfg->ndir;
  const dycl_attr_t* acts = dycl_node_attr(node, "activations");
  if (acts && acts->n > 0) {
    if (acts->type != DYCL_ATTR_STRINGS)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "activations must be a list of strings");
    if (acts->n != total && !(cfg->ndir == 2 && acts->n == cfg->nact))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "activations has %d entries, expected %d", acts->n, total);
    for (int k = 0; k < total; k++) names[k] = acts->strings[k % acts->n];
  } else {
    for (int k = 0; k < total; k++) names[k] = defaults[cfg->nact - 1][k % cfg->nact];
  }
  int na = 0, nb = 0;
  const float* alphas = dycl_attr_floats(node, "activation_alpha", &na);
  const float* betas = dycl_attr_floats(node, "activation_beta", &nb);
  int ia = 0, ib = 0;
  for (int k = 0; k < total; k++) {
    const act_name_t* a = find_act(names[k] ? names[k] : "");
    if (!a) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "unknown activation function '%s'", names[k]);
    cfg->act[k].kind = a->kind;
    cfg->act[k].alpha = a->alpha;
    cfg->act[k].beta = a->beta;
    if (a->uses_alpha && ia < na) cfg->act[k].alpha = alphas[ia++];
    if (a->uses_beta && ib < nb) cfg->act[k].beta = betas[ib++];
  }
  return NULL;
}

static void cfg_init(rnn_cfg_t* cfg, rnn_cell_t cell) {
  memset(cfg, 0, sizeof *cfg);
  cfg->cell = cell;
  cfg->ngates = cell == RNN_CELL_RNN ? 1 : cell == RNN_CELL_GRU ? 3 : 4;
  cfg->nact = cell == RNN_CELL_RNN ? 1 : cell == RNN_CELL_GRU ? 2 : 3;
}

/* Input indices. */
enum { IN_X = 0, IN_W, IN_R, IN_B, IN_SEQ, IN_H0, IN_C0, IN_P };

/* ---------------------------------------------------------------- inference */

static const dycl_dtype_t k_int32_types[] = {DYCL_DTYPE_INT32, DYCL_DTYPE_UNDEFINED};

static dycl_status_t infer_rnn(dycl_infer_ctx_t* ctx, const dycl_node_t* node, rnn_cell_t cell) {
  rnn_cfg_t cfg;
  cfg_init(&cfg, cell);
  DYCL_RETURN_IF_ERROR(parse_attrs(node, &cfg));
  int n_in = cell == RNN_CELL_LSTM ? 8 : 6;
  for (int i = 0; i < n_in && i < node->n_in; i++) {
    const dycl_type_t* t = dycl_infer_in(ctx, node, i);
    if (!t || !t->known) continue;
    if (t->kind != DYCL_VALUE_TENSOR)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d must be a tensor", i);
    if (i == IN_SEQ) {
      DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, k_int32_types));
      if (t->rank >= 0 && t->rank != 1)
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "sequence_lens must be 1-D, not of rank %d", t->rank);
      continue;
    }
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, dycl_dtypes_float));
    if (i != IN_X) DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, IN_X, i));
    int want = (i == IN_B || i == IN_P) ? 2 : 3;
    if (t->rank >= 0 && t->rank != want)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d must have rank %d, not %d", i, want, t->rank);
  }
  const dycl_type_t* x = dycl_infer_in(ctx, node, IN_X);
  const dycl_type_t* w = dycl_infer_in(ctx, node, IN_W);
  const dycl_type_t* r = dycl_infer_in(ctx, node, IN_R);
  dycl_dtype_t dtype = DYCL_DTYPE_UNDEFINED;
  if (x && x->known) dtype = x->dtype;
  dycl_dim_t S = dycl_dim_unknown(), B = dycl_dim_unknown(), H = dycl_dim_unknown();
  dycl_dim_t D = dycl_dim_const(cfg.ndir);
  if (x && x->known && x->rank == 3) {
    S = x->dims[cfg.layout ? 1 : 0];
    B = x->dims[cfg.layout ? 0 : 1];
  }
  if (cfg.hidden_attr > 0) {
    H = dycl_dim_const(cfg.hidden_attr);
  } else if (r && r->known && r->rank == 3) {
    H = r->dims[2];
  } else if (w && w->known && w->rank == 3 && w->dims[1].v >= 0 && w->dims[1].v % cfg.ngates == 0) {
    H = dycl_dim_const(w->dims[1].v / cfg.ngates);
  }
  /* static checks on constant dims */
  if (w && w->known && w->rank == 3 && w->dims[0].v >= 0 && w->dims[0].v != cfg.ndir)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "W has %" PRId64 " directions, the node %d", w->dims[0].v,
                           cfg.ndir);
  if (H.v >= 0 && w && w->known && w->rank == 3 && w->dims[1].v >= 0 && w->dims[1].v != cfg.ngates * H.v)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "W has %" PRId64 " rows, expected %" PRId64,
                           w->dims[1].v, cfg.ngates * H.v);

  dycl_type_t y = dycl_type_tensor(dtype, 4), yh = dycl_type_tensor(dtype, 3);
  if (cfg.layout == 0) {
    y.dims[0] = S, y.dims[1] = D, y.dims[2] = B, y.dims[3] = H;
    yh.dims[0] = D, yh.dims[1] = B, yh.dims[2] = H;
  } else {
    y.dims[0] = B, y.dims[1] = S, y.dims[2] = D, y.dims[3] = H;
    yh.dims[0] = B, yh.dims[1] = D, yh.dims[2] = H;
  }
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 0, &y));
  for (int j = 1; j < node->n_out; j++) DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &yh));
  return NULL;
}

dycl_status_t dycl_infer_RNN(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_rnn(ctx, node, RNN_CELL_RNN);
}
dycl_status_t dycl_infer_GRU(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_rnn(ctx, node, RNN_CELL_GRU);
}
dycl_status_t dycl_infer_LSTM(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_rnn(ctx, node, RNN_CELL_LSTM);
}

/* ------------------------------------------------------------------- kernels */

static const char* const k_in_names[] = {"X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"};

static dycl_status_t check_shape(const dycl_node_t* node, const dycl_value_t* t, int idx, int rank,
                                 const int64_t* dims) {
  bool ok = t->rank == rank;
  for (int i = 0; ok && i < rank; i++) ok = t->dims[i] == dims[i];
  if (ok) return NULL;
  char b1[128], b2[128];
  return dycl_node_error(node, DYCL_CODE_RUNTIME, "%s has shape %s, expected %s", k_in_names[idx],
                         dycl_shape_str(t->rank, t->dims, b1, sizeof b1), dycl_shape_str(rank, dims, b2, sizeof b2));
}

static dycl_status_t run_rnn(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, int nout, rnn_cell_t cell) {
  rnn_cfg_t cfg;
  cfg_init(&cfg, cell);
  DYCL_RETURN_IF_ERROR(parse_attrs(node, &cfg));
  const dycl_value_t* v[8] = {0};
  int n_in = cell == RNN_CELL_LSTM ? 8 : 6;
  for (int i = 0; i < nin && i < n_in; i++) {
    if (!in[i]) continue;
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
    v[i] = in[i];
  }
  for (int i = 0; i < 3; i++)
    if (!v[i]) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %s is required", k_in_names[i]);
  const dycl_value_t* x = v[IN_X];
  if (!dycl_dtype_is_float(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "X must be a floating-point tensor, not %s",
                           dycl_dtype_name(x->dtype));
  for (int i = 1; i < n_in; i++)
    if (v[i] && i != IN_SEQ && v[i]->dtype != x->dtype)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "%s is %s but X is %s", k_in_names[i],
                             dycl_dtype_name(v[i]->dtype), dycl_dtype_name(x->dtype));
  if (x->rank != 3)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "X must have rank 3, not %d", x->rank);
  if (v[IN_R]->rank != 3)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "R must have rank 3, not %d", v[IN_R]->rank);
  cfg.S = x->dims[cfg.layout ? 1 : 0];
  cfg.B = x->dims[cfg.layout ? 0 : 1];
  cfg.I = x->dims[2];
  cfg.H = v[IN_R]->dims[2];
  if (cfg.hidden_attr > 0 && cfg.hidden_attr != cfg.H)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "hidden_size is %" PRId64 " but R has %" PRId64 " columns",
                           cfg.hidden_attr, cfg.H);
  int64_t D = cfg.ndir, GH, GH2, H3, BH;
  if (!dycl_mul_i64(cfg.ngates, cfg.H, &GH) || !dycl_mul_i64(GH, 2, &GH2) || !dycl_mul_i64(cfg.H, 3, &H3) ||
      !dycl_mul_i64(cfg.B, cfg.H, &BH))
    return dycl_node_error(node, DYCL_CODE_LIMIT, "sizes overflow");
  int64_t dw[3] = {D, GH, cfg.I}, dr[3] = {D, GH, cfg.H}, db[2] = {D, GH2}, dp[2] = {D, H3};
  int64_t dh[3] = {D, cfg.B, cfg.H}, dhl[3] = {cfg.B, D, cfg.H}, ds[1] = {cfg.B};
  DYCL_RETURN_IF_ERROR(check_shape(node, v[IN_W], IN_W, 3, dw));
  DYCL_RETURN_IF_ERROR(check_shape(node, v[IN_R], IN_R, 3, dr));
  if (v[IN_B]) DYCL_RETURN_IF_ERROR(check_shape(node, v[IN_B], IN_B, 2, db));
  if (v[IN_P]) DYCL_RETURN_IF_ERROR(check_shape(node, v[IN_P], IN_P, 2, dp));
  if (v[IN_SEQ]) {
    DYCL_RETURN_IF_ERROR(check_shape(node, v[IN_SEQ], IN_SEQ, 1, ds));
    if (!dycl_dtype_is_int(v[IN_SEQ]->dtype))
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "sequence_lens must be an integer tensor");
    for (int64_t b = 0; b < cfg.B; b++) {
      int64_t len = dycl_tensor_get_i64(v[IN_SEQ], b);
      if (len < 0 || len > cfg.S)
        return dycl_node_error(node, DYCL_CODE_RUNTIME,
                               "sequence_lens[%" PRId64 "] = %" PRId64 " is outside [0, %" PRId64 "]", b, len, cfg.S);
    }
  }
  for (int i = IN_H0; i <= IN_C0; i++)
    if (v[i]) DYCL_RETURN_IF_ERROR(check_shape(node, v[i], i, 3, cfg.layout ? dhl : dh));

  /* outputs */
  int64_t dy[4], dyh[3];
  if (cfg.layout == 0) {
    dy[0] = cfg.S, dy[1] = D, dy[2] = cfg.B, dy[3] = cfg.H;
    memcpy(dyh, dh, sizeof dyh);
  } else {
    dy[0] = cfg.B, dy[1] = cfg.S, dy[2] = D, dy[3] = cfg.H;
    memcpy(dyh, dhl, sizeof dyh);
  }
  dycl_value_t* y = NULL;
  dycl_value_t* yh = NULL;
  dycl_value_t* yc = NULL;
  if (nout > 0 && node->out[0] >= 0) DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, 4, dy, &out[0]));
  if (nout > 1 && node->out[1] >= 0) DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, 3, dyh, &out[1]));
  if (nout > 2 && node->out[2] >= 0 && cell == RNN_CELL_LSTM)
    DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, 3, dyh, &out[2]));
  y = nout > 0 ? out[0] : NULL;
  yh = nout > 1 ? out[1] : NULL;
  yc = nout > 2 ? out[2] : NULL;

  rnn_io_t io = {v[IN_X], v[IN_W], v[IN_R], v[IN_B], v[IN_SEQ], v[IN_H0], v[IN_C0], v[IN_P], y, yh, yc};
  if (x->dtype == DYCL_DTYPE_FLOAT64) return rnn_compute_f64(ctx, node, &cfg, &io);
  return rnn_compute_f32(ctx, node, &cfg, &io);
}

dycl_status_t dycl_run_RNN(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  return run_rnn(ctx, node, in, nin, out, nout, RNN_CELL_RNN);
}
dycl_status_t dycl_run_GRU(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  return run_rnn(ctx, node, in, nin, out, nout, RNN_CELL_GRU);
}
dycl_status_t dycl_run_LSTM(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  return run_rnn(ctx, node, in, nin, out, nout, RNN_CELL_LSTM);
}
