/* Control flow (If, Loop, Scan): type inference of the bodies. Their execution belongs to the
 * host module (exec/), never to a sub-network. Constant and Identity live here too. */
#include <string.h>

#include "analysis/infer.h"
#include "ops/op.h"

dycl_status_t dycl_run_control(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  (void)ctx, (void)in, (void)nin, (void)out, (void)nout;
  return dycl_node_error(node, DYCL_CODE_INTERNAL, "control-flow op reached a sub-network");
}

/* --------------------------------------------------------------- merging */

/* The type that covers both a and b (used for If branches and loop-carried values). */
static dycl_type_t merge_types(const dycl_type_t* a, const dycl_type_t* b) {
  if (!a->known) return *b;
  if (!b->known) return *a;
  dycl_type_t m = *a;
  if (a->dtype != b->dtype) m.dtype = DYCL_DTYPE_UNDEFINED;
  if (a->rank != b->rank) {
    m.rank = -1;
  } else {
    for (int i = 0; i < a->rank; i++)
      if (!dycl_dim_equal(a->dims[i], b->dims[i])) m.dims[i] = dycl_dim_unknown();
  }
  return m;
}

static bool same_type(const dycl_type_t* a, const dycl_type_t* b) {
  if (a->known != b->known || a->kind != b->kind || a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i].v != b->dims[i].v || a->dims[i].sym != b->dims[i].sym) return false;
  return true;
}

static dycl_type_t* vtype(dycl_infer_ctx_t* ctx, int id) { return &ctx->ir->values[id]->type; }

static dycl_status_t need_graph(const dycl_node_t* node, const char* attr, dycl_graph_t** g) {
  *g = dycl_attr_graph(node, attr);
  if (!*g) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing graph attribute '%s'", attr);
  return NULL;
}

/* -------------------------------------------------------------------- If */

dycl_status_t dycl_infer_If(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_graph_t *tg, *eg;
  DYCL_RETURN_IF_ERROR(need_graph(node, "then_branch", &tg));
  DYCL_RETURN_IF_ERROR(need_graph(node, "else_branch", &eg));
  const dycl_type_t* c = dycl_infer_in(ctx, node, 0);
  if (c && c->known && c->dtype && c->dtype != DYCL_DTYPE_BOOL)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "condition must be bool, not %s", dycl_dtype_name(c->dtype));
  if (tg->n_in || eg->n_in) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "If branches take no inputs");
  if (tg->n_out != node->n_out || eg->n_out != node->n_out)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                           "the node has %d outputs but then_branch has %d and else_branch %d", node->n_out,
                           tg->n_out, eg->n_out);
  DYCL_RETURN_IF_ERROR(dycl_infer_graph(ctx, tg));
  DYCL_RETURN_IF_ERROR(dycl_infer_graph(ctx, eg));
  for (int j = 0; j < node->n_out; j++) {
    const dycl_type_t* a = vtype(ctx, tg->out[j]);
    const dycl_type_t* b = vtype(ctx, eg->out[j]);
    if (a->known && b->known && (a->kind != b->kind || (a->dtype && b->dtype && a->dtype != b->dtype))) {
      char b1[128], b2[128];
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                             "branches disagree on output %d: then gives %s, else gives %s", j,
                             dycl_type_str(a, b1, sizeof b1), dycl_type_str(b, b2, sizeof b2));
    }
    dycl_type_t m = merge_types(a, b);
    DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &m));
  }
  return NULL;
}

/* ------------------------------------------------------------------ Loop */

dycl_status_t dycl_infer_Loop(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_graph_t* body;
  DYCL_RETURN_IF_ERROR(need_graph(node, "body", &body));
  int n_carried = node->n_in - 2;
  if (body->n_in != n_carried + 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "body has %d inputs, expected %d (iteration, condition, %d carried)",
                           body->n_in, n_carried + 2, n_carried);
  if (body->n_out < n_carried + 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "body has %d outputs, expected at least %d", body->n_out,
                           n_carried + 1);
  int n_scan = body->n_out - 1 - n_carried;
  if (node->n_out != n_carried + n_scan)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "the node has %d outputs, its body gives %d carried and %d scan outputs",
                           node->n_out, n_carried, n_scan);
  const dycl_type_t* m = dycl_infer_in(ctx, node, 0);
  if (m && m->known && m->dtype && m->dtype != DYCL_DTYPE_INT64)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "trip count must be int64, not %s", dycl_dtype_name(m->dtype));
  const dycl_type_t* c = dycl_infer_in(ctx, node, 1);
  if (c && c->known && c->dtype && c->dtype != DYCL_DTYPE_BOOL)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "condition must be bool, not %s", dycl_dtype_name(c->dtype));

  dycl_type_t iter = dycl_type_tensor(DYCL_DTYPE_INT64, 0), cond = dycl_type_tensor(DYCL_DTYPE_BOOL, 0);
  *vtype(ctx, body->in[0]) = iter;
  *vtype(ctx, body->in[1]) = cond;
  for (int k = 0; k < n_carried; k++) {
    const dycl_type_t* t = dycl_infer_in(ctx, node, 2 + k);
    *vtype(ctx, body->in[2 + k]) = t ? *t : dycl_type_unknown();
  }
  /* carried values may change shape across iterations: widen until the body's types are stable */
  for (int pass = 0;; pass++) {
    DYCL_RETURN_IF_ERROR(dycl_infer_graph(ctx, body));
    bool stable = true;
    for (int k = 0; k < n_carried; k++) {
      dycl_type_t* in_t = vtype(ctx, body->in[2 + k]);
      const dycl_type_t* out_t = vtype(ctx, body->out[1 + k]);
      /* an optional may enter and its element come back (or the reverse): the body sees either */
      bool optional_pair = in_t->known && out_t->known && in_t->kind != out_t->kind &&
                           ((in_t->kind == DYCL_VALUE_OPTIONAL && in_t->elem_kind == out_t->kind) ||
                            (out_t->kind == DYCL_VALUE_OPTIONAL && out_t->elem_kind == in_t->kind));
      if (optional_pair) {
        if (in_t->known) {
          *in_t = dycl_type_unknown();
          stable = false;
        }
        continue;
      }
      if (in_t->known && out_t->known && in_t->dtype && out_t->dtype &&
          (in_t->kind != out_t->kind || in_t->dtype != out_t->dtype)) {
        char b1[128], b2[128];
        return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                               "loop-carried value %d enters as %s but the body gives %s", k,
                               dycl_type_str(in_t, b1, sizeof b1), dycl_type_str(out_t, b2, sizeof b2));
      }
      dycl_type_t merged = merge_types(in_t, out_t);
      if (pass >= 2 && !same_type(&merged, in_t)) merged.rank = -1;
      if (!same_type(&merged, in_t)) {
        *in_t = merged;
        stable = false;
      }
    }
    if (stable) break;
    if (pass >= 3) break;
  }
  for (int k = 0; k < n_carried; k++) {
    dycl_type_t t = *vtype(ctx, body->in[2 + k]);
    DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, k, &t));
  }
  for (int k = 0; k < n_scan; k++) {
    const dycl_type_t* t = vtype(ctx, body->out[1 + n_carried + k]);
    dycl_type_t s = *t;
    if (t->known && t->kind == DYCL_VALUE_TENSOR && t->rank >= 0 && t->rank < DYCL_MAX_RANK) {
      s.rank = t->rank + 1;
      s.dims[0] = dycl_dim_unknown();
      for (int d = 0; d < t->rank; d++) s.dims[d + 1] = t->dims[d];
    } else {
      s = dycl_type_tensor(t->known ? t->dtype : DYCL_DTYPE_UNDEFINED, -1);
    }
    DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, n_carried + k, &s));
  }
  return NULL;
}

/* ------------------------------------------------------------------ Scan */

dycl_status_t dycl_infer_Scan(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_graph_t* body;
  DYCL_RETURN_IF_ERROR(need_graph(node, "body", &body));
  int64_t n_scan_in = dycl_attr_int(node, "num_scan_inputs", -1);
  bool v8 = node->opset < 9;
  int first = v8 ? 1 : 0; /* Scan-8 has sequence_lens first */
  int n_data = node->n_in - first;
  if (n_scan_in < 1 || n_scan_in > n_data)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "num_scan_inputs (%lld) must be in 1..%d", (long long)n_scan_in,
                           n_data);
  int n_state = n_data - (int)n_scan_in;
  if (body->n_in != n_data)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "body has %d inputs, expected %d", body->n_in, n_data);
  if (body->n_out < n_state || node->n_out != body->n_out)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "body has %d outputs, the node %d (with %d state values)",
                           body->n_out, node->n_out, n_state);
  int n_ax = 0;
  const int64_t* in_axes = dycl_attr_ints(node, "scan_input_axes", &n_ax);
  if (in_axes && n_ax != n_scan_in)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "scan_input_axes has %d entries, expected %lld", n_ax,
                           (long long)n_scan_in);
  for (int k = 0; k < n_state; k++) {
    const dycl_type_t* t = dycl_infer_in(ctx, node, first + k);
    dycl_type_t u = t ? *t : dycl_type_unknown();
    if (v8 && u.known && u.rank > 0) { /* drop the batch dim */
      memmove(u.dims, u.dims + 1, sizeof(dycl_dim_t) * (size_t)(u.rank - 1));
      u.rank--;
    }
    *vtype(ctx, body->in[k]) = u;
  }
  for (int k = 0; k < n_scan_in; k++) {
    const dycl_type_t* t = dycl_infer_in(ctx, node, first + n_state + k);
    dycl_type_t u = t ? *t : dycl_type_unknown();
    int drop = v8 ? 2 : 1;
    if (u.known && u.rank >= drop) {
      int axis = 0;
      if (!v8 && in_axes) {
        int64_t a = in_axes[k] < 0 ? in_axes[k] + u.rank : in_axes[k];
        if (a < 0 || a >= u.rank)
          return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "scan_input_axes[%d] is out of range", k);
        axis = (int)a;
      }
      if (v8) { /* [batch, seq, ...] → [...] */
        memmove(u.dims, u.dims + 2, sizeof(dycl_dim_t) * (size_t)(u.rank - 2));
      } else {
        memmove(u.dims + axis, u.dims + axis + 1, sizeof(dycl_dim_t) * (size_t)(u.rank - axis - 1));
      }
      u.rank -= drop;
    } else if (u.known) {
      u.rank = -1;
    }
    *vtype(ctx, body->in[n_state + k]) = u;
  }
  DYCL_RETURN_IF_ERROR(dycl_infer_graph(ctx, body));
  for (int k = 0; k < n_state; k++) {
    dycl_type_t t = merge_types(vtype(ctx, body->in[k]), vtype(ctx, body->out[k]));
    if (v8) t = dycl_type_tensor(t.known ? t.dtype : DYCL_DTYPE_UNDEFINED, -1);
    DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, k, &t));
  }
  for (int k = n_state; k < body->n_out; k++) {
    const dycl_type_t* t = vtype(ctx, body->out[k]);
    dycl_type_t s = dycl_type_tensor(t->known ? t->dtype : DYCL_DTYPE_UNDEFINED, -1);
    if (t->known && t->rank >= 0 && t->rank < DYCL_MAX_RANK && !v8 && !dycl_node_attr(node, "scan_output_axes")) {
      s.rank = t->rank + 1;
      s.dims[0] = dycl_dim_unknown();
      for (int d = 0; d < t->rank; d++) s.dims[d + 1] = t->dims[d];
    }
    DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, k, &s));
  }
  return NULL;
}

/* ------------------------------------------------------ Constant, Identity */

/* The loader turns Constant nodes into module constants; this covers a Constant that reaches
 * inference or execution some other way. */
dycl_status_t dycl_infer_Constant(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  (void)ctx;
  return dycl_node_error(node, DYCL_CODE_INTERNAL, "Constant node was not folded at load time");
}

dycl_status_t dycl_run_Constant(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, int nout) {
  (void)ctx, (void)in, (void)nin, (void)out, (void)nout;
  return dycl_node_error(node, DYCL_CODE_INTERNAL, "Constant node was not folded at load time");
}

dycl_status_t dycl_run_Identity(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, int nout) {
  (void)ctx, (void)nout;
  if (nin < 1 || !in[0]) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing input");
  out[0] = dycl_value_retain(in[0]);
  return NULL;
}

/* ----------------------------------------------------------- SequenceMap */

dycl_status_t dycl_infer_SequenceMap(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_graph_t* body;
  DYCL_RETURN_IF_ERROR(need_graph(node, "body", &body));
  if (body->n_in != node->n_in)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "body has %d inputs, the node %d", body->n_in, node->n_in);
  if (body->n_out != node->n_out)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "body has %d outputs, the node %d", body->n_out, node->n_out);
  const dycl_type_t* s0 = dycl_infer_in(ctx, node, 0);
  if (s0 && s0->known && s0->kind != DYCL_VALUE_SEQUENCE)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input 0 must be a sequence");
  for (int i = 0; i < node->n_in; i++) {
    const dycl_type_t* t = dycl_infer_in(ctx, node, i);
    dycl_type_t u = t ? *t : dycl_type_unknown();
    if (u.known && u.kind == DYCL_VALUE_SEQUENCE) u.kind = DYCL_VALUE_TENSOR;
    *vtype(ctx, body->in[i]) = u;
  }
  DYCL_RETURN_IF_ERROR(dycl_infer_graph(ctx, body));
  for (int j = 0; j < node->n_out; j++) {
    const dycl_type_t* t = vtype(ctx, body->out[j]);
    dycl_type_t s = dycl_type_tensor(t->known ? t->dtype : DYCL_DTYPE_UNDEFINED, t->known ? t->rank : -1);
    s.kind = DYCL_VALUE_SEQUENCE;
    DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &s));
  }
  return NULL;
}
