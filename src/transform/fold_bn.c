/* BatchNormalization folded into the convolution or Gemm before it.
 *
 * Inference-mode BatchNormalization is y = (x - mean) * s + beta with s = gamma / sqrt(var + eps),
 * one scale and shift per channel (dim 1). When x is the output of a Conv (weights [M, C/g, k...],
 * bias [M]) or a Gemm ([N, M] output) that nothing else reads, and all five parameters are
 * constants, the scale goes into the weights of output channel m and the shift into the bias:
 *   W'[m] = W[m] * s[m],   b'[m] = (b[m] - mean[m]) * s[m] + beta[m]
 * The producer then writes y itself and the BatchNormalization node goes away. New constants are
 * made (the old weights may be read elsewhere); the computation is done in double precision. */
#include <math.h>
#include <string.h>

#include "transform/optimize.h"

static bool is_const_f32(const dycl_ir_t* ir, int id) {
  return id >= 0 && ir->values[id]->def == DYCL_DEF_CONST && ir->values[id]->constant &&
         ir->values[id]->constant->kind == DYCL_VALUE_TENSOR && ir->values[id]->constant->dtype == DYCL_DTYPE_FLOAT32;
}

static const float* cdata(const dycl_ir_t* ir, int id) { return ir->values[id]->constant->data; }

/* A new float32 module constant of the given dims in graph g; *data points at its elements. */
static dycl_status_t new_const(dycl_ir_t* ir, dycl_graph_t* g, const char* base, const char* suffix, int rank,
                               const int64_t* dims, int* id, float** data) {
  dycl_value_t* v;
  DYCL_RETURN_IF_ERROR(dycl_tensor_new(ir->alloc, NULL, DYCL_DTYPE_FLOAT32, rank, dims, &v));
  dycl_ir_value_t* iv;
  DYCL_RETURN_IF_ERROR(dycl_ir_add_const(ir, dycl_arena_printf(&ir->arena, "%s/%s", base, suffix), g, v, &iv));
  *id = iv->id;
  *data = v->data;
  return NULL;
}

/* The per-channel scale and shift of BatchNormalization node bn with M channels, or false when it
 * is not a foldable inference-mode node. */
static bool bn_params(const dycl_ir_t* ir, const dycl_node_t* bn, int64_t M, double* scale, double* shift) {
  if (bn->n_in != 5 || bn->out[0] < 0) return false;
  for (int j = 1; j < bn->n_out; j++)
    if (bn->out[j] >= 0) return false; /* training outputs */
  if (dycl_attr_int(bn, "training_mode", 0) != 0 || dycl_attr_int(bn, "spatial", 1) != 1) return false;
  if (bn->opset < 7) return false; /* is_test and consumed_inputs semantics */
  for (int i = 1; i < 5; i++) {
    if (!is_const_f32(ir, bn->in[i])) return false;
    const dycl_value_t* c = ir->values[bn->in[i]]->constant;
    if (c->rank != 1 || c->dims[0] != M) return false;
  }
  double eps = dycl_attr_float(bn, "epsilon", 1e-5);
  const float *gamma = cdata(ir, bn->in[1]), *beta = cdata(ir, bn->in[2]);
  const float *mean = cdata(ir, bn->in[3]), *var = cdata(ir, bn->in[4]);
  for (int64_t m = 0; m < M; m++) {
    double d = (double)var[m] + eps;
    if (!(d > 0)) return false;
    scale[m] = gamma[m] / sqrt(d);
    shift[m] = beta[m] - mean[m] * scale[m];
  }
  return true;
}

/* Folds bn into Conv node conv; false when the shapes do not allow it. */
static dycl_status_t fold_conv(dycl_ir_t* ir, dycl_node_t* conv, dycl_node_t* bn, bool* done) {
  *done = false;
  if (conv->n_in < 2 || !is_const_f32(ir, conv->in[1])) return NULL;
  if (conv->n_in == 3 && conv->in[2] >= 0 && !is_const_f32(ir, conv->in[2])) return NULL;
  const dycl_value_t* W = ir->values[conv->in[1]]->constant;
  if (W->rank < 3) return NULL;
  int64_t M = W->dims[0];
  if (conv->n_in == 3 && conv->in[2] >= 0) {
    const dycl_value_t* B = ir->values[conv->in[2]]->constant;
    if (B->rank != 1 || B->dims[0] != M) return NULL;
  }
  double* scale = dycl_calloc(ir->alloc, (size_t)M * 2 + 1, sizeof *scale);
  if (!scale) return dycl_error_nomem();
  double* shift = scale + M;
  dycl_status_t s = NULL;
  if (bn_params(ir, bn, M, scale, shift)) {
    int wid, bid;
    float *w, *b;
    s = new_const(ir, conv->graph, conv->name, "weight_bn_folded", W->rank, W->dims, &wid, &w);
    if (!s) s = new_const(ir, conv->graph, conv->name, "bias_bn_folded", 1, &M, &bid, &b);
    int* in = s ? NULL : dycl_arena_calloc(&ir->arena, 3, sizeof *in);
    if (!s && !in) s = dycl_error_nomem();
    if (!s) {
      int64_t per = W->numel / (M ? M : 1);
      const float* w0 = W->data;
      const float* b0 = conv->n_in == 3 && conv->in[2] >= 0 ? cdata(ir, conv->in[2]) : NULL;
      for (int64_t m = 0; m < M; m++) {
        for (int64_t i = 0; i < per; i++) w[m * per + i] = (float)(w0[m * per + i] * scale[m]);
        b[m] = (float)((b0 ? b0[m] : 0.0) * scale[m] + shift[m]);
      }
      in[0] = conv->in[0];
      in[1] = wid;
      in[2] = bid;
      conv->in = in;
      conv->n_in = 3;
      *done = true;
    }
  }
  dycl_free(ir->alloc, scale);
  return s;
}

/* Folds bn into Gemm node gemm (its output [N, M], channel = column). */
static dycl_status_t fold_gemm(dycl_ir_t* ir, dycl_node_t* gemm, dycl_node_t* bn, bool* done) {
  *done = false;
  if (gemm->n_in < 2 || !is_const_f32(ir, gemm->in[1])) return NULL;
  bool has_c = gemm->n_in == 3 && gemm->in[2] >= 0;
  if (has_c && (!is_const_f32(ir, gemm->in[2]) || dycl_attr_float(gemm, "beta", 1.0) != 1.0)) return NULL;
  const dycl_value_t* Bw = ir->values[gemm->in[1]]->constant;
  if (Bw->rank != 2) return NULL;
  bool tb = dycl_attr_int(gemm, "transB", 0) != 0;
  int64_t M = tb ? Bw->dims[0] : Bw->dims[1];
  int64_t K = tb ? Bw->dims[1] : Bw->dims[0];
  const float* c0 = NULL;
  int64_t c_numel = 0;
  if (has_c) {
    const dycl_value_t* C = ir->values[gemm->in[2]]->constant;
    /* a bias broadcast over the rows: [M], [1, M] or a scalar */
    if (!(C->numel == 1 || (C->numel == M && C->dims[C->rank - 1] == M && C->rank <= 2))) return NULL;
    c0 = C->data;
    c_numel = C->numel;
  }
  double* scale = dycl_calloc(ir->alloc, (size_t)M * 2 + 1, sizeof *scale);
  if (!scale) return dycl_error_nomem();
  double* shift = scale + M;
  dycl_status_t s = NULL;
  if (bn_params(ir, bn, M, scale, shift)) {
    int wid, cid;
    float *w, *c;
    s = new_const(ir, gemm->graph, gemm->name, "weight_bn_folded", 2, Bw->dims, &wid, &w);
    if (!s) s = new_const(ir, gemm->graph, gemm->name, "bias_bn_folded", 1, &M, &cid, &c);
    int* in = s ? NULL : dycl_arena_calloc(&ir->arena, 3, sizeof *in);
    if (!s && !in) s = dycl_error_nomem();
    if (!s) {
      const float* w0 = Bw->data;
      /* Gemm's alpha scales A·B only; the per-column scale commutes with it */
      for (int64_t k = 0; k < K; k++)
        for (int64_t m = 0; m < M; m++) {
          int64_t i = tb ? m * K + k : k * M + m;
          w[i] = (float)(w0[i] * scale[m]);
        }
      for (int64_t m = 0; m < M; m++) {
        double cm = c0 ? c0[c_numel == 1 ? 0 : m] : 0.0;
        c[m] = (float)(cm * scale[m] + shift[m]);
      }
      in[0] = gemm->in[0];
      in[1] = wid;
      in[2] = cid;
      gemm->in = in;
      gemm->n_in = 3;
      *done = true;
    }
  }
  dycl_free(ir->alloc, scale);
  return s;
}

static dycl_status_t fold_graph(dycl_ir_t* ir, dycl_graph_t* g, int* count) {
  for (int k = 0; k < g->n_nodes; k++) {
    dycl_node_t* bn = g->nodes[k];
    for (int a = 0; a < bn->n_attr; a++) {
      if (bn->attrs[a].type == DYCL_ATTR_GRAPH) DYCL_RETURN_IF_ERROR(fold_graph(ir, bn->attrs[a].g, count));
      if (bn->attrs[a].type == DYCL_ATTR_GRAPHS)
        for (int j = 0; j < bn->attrs[a].n; j++) DYCL_RETURN_IF_ERROR(fold_graph(ir, bn->attrs[a].graphs[j], count));
    }
    if (bn->op != DYCL_OP_BatchNormalization || bn->n_in != 5 || bn->in[0] < 0 || bn->out[0] < 0) continue;
    int x = bn->in[0];
    dycl_ir_value_t* xv = ir->values[x];
    if (xv->def != DYCL_DEF_NODE || xv->graph != g || xv->producer_out != 0) continue;
    dycl_node_t* p = xv->producer;
    if (p->n_out != 1 || (p->op != DYCL_OP_Conv && p->op != DYCL_OP_Gemm)) continue;
    if (dycl_graph_uses(ir->main, x) != 1) continue;
    bool done = false;
    if (p->op == DYCL_OP_Conv) DYCL_RETURN_IF_ERROR(fold_conv(ir, p, bn, &done));
    else DYCL_RETURN_IF_ERROR(fold_gemm(ir, p, bn, &done));
    if (!done) continue;
    /* the producer writes the normalized value; the BatchNormalization node goes */
    int y = bn->out[0];
    p->out[0] = y;
    ir->values[y]->producer = p;
    ir->values[y]->producer_out = 0;
    xv->def = DYCL_DEF_NODE;
    xv->producer = NULL; /* unreferenced from now on */
    memmove(&g->nodes[k], &g->nodes[k + 1], sizeof *g->nodes * (size_t)(g->n_nodes - k - 1));
    g->n_nodes--;
    k--;
    (*count)++;
  }
  return NULL;
}

dycl_status_t dycl_fold_batchnorm(dycl_ir_t* ir, int* folded) {
  int n = 0;
  dycl_status_t s = fold_graph(ir, ir->main, &n);
  if (folded) *folded = n;
  return s;
}
