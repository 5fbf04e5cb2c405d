/* Static type and shape inference. Types declared in the file are hints only: every value's type
 * is recomputed from its producer. Where inference cannot tell a dimension it leaves it unknown;
 * the run-time kernels compute real shapes. */
#include "analysis/infer.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- accessors */

const dycl_type_t* dycl_infer_in(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i) {
  if (i < 0 || i >= node->n_in || node->in[i] < 0) return NULL;
  return &ctx->ir->values[node->in[i]]->type;
}

const dycl_value_t* dycl_infer_const(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i) {
  if (i < 0 || i >= node->n_in || node->in[i] < 0) return NULL;
  const dycl_ir_value_t* v = ctx->ir->values[node->in[i]];
  return v->def == DYCL_DEF_CONST ? v->constant : NULL;
}

dycl_status_t dycl_infer_set(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int j, const dycl_type_t* type) {
  if (j < 0 || j >= node->n_out || node->out[j] < 0) return NULL;
  dycl_ir_value_t* v = ctx->ir->values[node->out[j]];
  v->type = *type;
  if (v->type.rank > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "output %d has rank %d, beyond dycl's maximum of %d", j,
                           v->type.rank, DYCL_MAX_RANK);
  return NULL;
}

dycl_dim_t dycl_infer_new_sym(dycl_infer_ctx_t* ctx) {
  dycl_dim_t d = {-1, ++ctx->ir->next_sym};
  return d;
}

/* ------------------------------------------------------------ type values */

dycl_type_t dycl_type_unknown(void) {
  dycl_type_t t;
  memset(&t, 0, sizeof t);
  t.rank = -1;
  for (int i = 0; i < DYCL_MAX_RANK; i++) t.dims[i] = dycl_dim_unknown();
  return t;
}

dycl_type_t dycl_type_tensor(dycl_dtype_t dtype, int rank) {
  dycl_type_t t = dycl_type_unknown();
  t.known = true;
  t.kind = DYCL_VALUE_TENSOR;
  t.dtype = dtype;
  t.rank = rank;
  for (int i = 0; i < rank && i < DYCL_MAX_RANK; i++) t.dims[i] = dycl_dim_unknown();
  return t;
}

dycl_type_t dycl_type_tensor_dims(dycl_dtype_t dtype, int rank, const int64_t* dims) {
  dycl_type_t t = dycl_type_tensor(dtype, rank);
  for (int i = 0; i < rank && i < DYCL_MAX_RANK; i++) t.dims[i] = dims[i] >= 0 ? dycl_dim_const(dims[i]) : dycl_dim_unknown();
  return t;
}

const char* dycl_type_str(const dycl_type_t* t, char* buf, size_t size) {
  if (!t->known) {
    snprintf(buf, size, "?");
    return buf;
  }
  char inner[256];
  size_t n = (size_t)snprintf(inner, sizeof inner, "%s", t->dtype ? dycl_dtype_name(t->dtype) : "?");
  if (t->rank < 0) {
    snprintf(inner + n, sizeof inner - n, "[...]");
  } else {
    n += (size_t)snprintf(inner + n, sizeof inner - n, "[");
    for (int i = 0; i < t->rank && n < sizeof inner; i++) {
      const char* sep = i ? "," : "";
      if (t->dims[i].v >= 0) n += (size_t)snprintf(inner + n, sizeof inner - n, "%s%lld", sep, (long long)t->dims[i].v);
      else if (t->dims[i].sym > 0) n += (size_t)snprintf(inner + n, sizeof inner - n, "%sN%d", sep, t->dims[i].sym);
      else n += (size_t)snprintf(inner + n, sizeof inner - n, "%s?", sep);
    }
    if (n < sizeof inner) snprintf(inner + n, sizeof inner - n, "]");
  }
  switch (t->kind) {
    case DYCL_VALUE_TENSOR: snprintf(buf, size, "%s", inner); break;
    case DYCL_VALUE_SEQUENCE: snprintf(buf, size, "seq<%s>", inner); break;
    case DYCL_VALUE_OPTIONAL:
      snprintf(buf, size, t->elem_kind == DYCL_VALUE_SEQUENCE ? "optional<seq<%s>>" : "optional<%s>", inner);
      break;
  }
  return buf;
}

/* ------------------------------------------------------- generic callbacks */

dycl_status_t dycl_infer_same_as_input0(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* t = dycl_infer_in(ctx, node, 0);
  dycl_type_t u = t ? *t : dycl_type_unknown();
  for (int j = 0; j < node->n_out; j++) DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &u));
  return NULL;
}

dycl_status_t dycl_infer_dtype_of_input0(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* t = dycl_infer_in(ctx, node, 0);
  dycl_type_t u = dycl_type_tensor(t && t->known ? t->dtype : DYCL_DTYPE_UNDEFINED, -1);
  for (int j = 0; j < node->n_out; j++) DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &u));
  return NULL;
}

dycl_status_t dycl_infer_unknown(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t u = dycl_type_tensor(DYCL_DTYPE_UNDEFINED, -1);
  for (int j = 0; j < node->n_out; j++) DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &u));
  return NULL;
}

dycl_status_t dycl_infer_check_same_dtype(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i, int j) {
  const dycl_type_t* a = dycl_infer_in(ctx, node, i);
  const dycl_type_t* b = dycl_infer_in(ctx, node, j);
  if (a && b && a->known && b->known && a->dtype && b->dtype && a->dtype != b->dtype)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "inputs %d and %d have different element types (%s, %s)", i,
                           j, dycl_dtype_name(a->dtype), dycl_dtype_name(b->dtype));
  return NULL;
}

dycl_status_t dycl_infer_check_dtype(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i,
                                     const dycl_dtype_t* allowed) {
  const dycl_type_t* t = dycl_infer_in(ctx, node, i);
  if (!t || !t->known || !t->dtype) return NULL;
  for (const dycl_dtype_t* a = allowed; *a; a++)
    if (*a == t->dtype) return NULL;
  return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d has element type %s, which %s does not accept", i,
                         dycl_dtype_name(t->dtype), node->op_type);
}

static dycl_status_t infer_broadcast_impl(dycl_infer_ctx_t* ctx, const dycl_node_t* node, bool to_bool) {
  dycl_dtype_t dtype = DYCL_DTYPE_UNDEFINED;
  int first = -1;
  bool rank_known = true;
  int rank = 0;
  for (int i = 0; i < node->n_in; i++) {
    const dycl_type_t* t = dycl_infer_in(ctx, node, i);
    if (!t) continue;
    if (first < 0) first = i;
    else DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, first, i));
    if (t->known && t->kind != DYCL_VALUE_TENSOR)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d must be a tensor", i);
    if (t->known && t->dtype) dtype = t->dtype;
    if (!t->known || t->rank < 0) rank_known = false;
    else if (t->rank > rank) rank = t->rank;
  }
  dycl_type_t out = dycl_type_tensor(to_bool ? DYCL_DTYPE_BOOL : dtype, rank_known ? rank : -1);
  if (rank_known) {
    for (int d = 0; d < rank; d++) out.dims[d] = dycl_dim_const(1);
    for (int i = 0; i < node->n_in; i++) {
      const dycl_type_t* t = dycl_infer_in(ctx, node, i);
      if (!t) continue;
      int off = rank - t->rank;
      for (int d = 0; d < t->rank; d++) {
        dycl_dim_t a = out.dims[off + d], b = t->dims[d];
        if (b.v == 1) continue;
        if (a.v == 1) {
          out.dims[off + d] = b;
        } else if (dycl_dim_equal(a, b)) {
          continue;
        } else if (a.v >= 0 && b.v >= 0) {
          return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d dimension %d (%lld) does not broadcast with %lld",
                                 i, d, (long long)b.v, (long long)a.v);
        } else {
          /* one side unknown: the result is the known non-1 side when there is one */
          out.dims[off + d] = a.v >= 0 ? a : (b.v >= 0 ? b : dycl_dim_unknown());
        }
      }
    }
  }
  for (int j = 0; j < node->n_out; j++) DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &out));
  return NULL;
}

dycl_status_t dycl_infer_broadcast(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_broadcast_impl(ctx, node, false);
}
dycl_status_t dycl_infer_broadcast_bool(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_broadcast_impl(ctx, node, true);
}

/* ------------------------------------------------------------- the driver */

dycl_status_t dycl_infer_graph(dycl_infer_ctx_t* ctx, dycl_graph_t* g) {
  for (int k = 0; k < g->n_nodes; k++) {
    dycl_node_t* n = g->nodes[k];
    const dycl_op_def_t* def = &dycl_op_table[n->op];
    /* outputs start unknown so that a callback that forgets one leaves nothing stale */
    for (int j = 0; j < n->n_out; j++)
      if (n->out[j] >= 0) ctx->ir->values[n->out[j]]->type = dycl_type_unknown();
    DYCL_RETURN_IF_ERROR(def->infer(ctx, n));
  }
  return NULL;
}

dycl_status_t dycl_infer_module(dycl_ir_t* ir) {
  dycl_infer_ctx_t ctx = {ir};
  return dycl_infer_graph(&ctx, ir->main);
}
