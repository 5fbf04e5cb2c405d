/* Constant folding before partition, including the shape arithmetic PyTorch's exporter writes:
 * - a node whose inputs are all constants is evaluated once with its ref kernel;
 * - Shape of a value whose dims inference knows, and Gather of one known dim out of a Shape, become
 *   constants;
 * - an If whose condition became a constant is replaced by the branch it always takes (its nodes
 *   move into the enclosing graph; its outputs become Identity aliases the partitioner binds).
 * The last one matters: `x.squeeze(d)` exports as If(Shape(x)[d] == 1, Squeeze, Identity), control
 * flow that is not dynamic at all once the dim is known, and whose branches differ in rank. */
#include <string.h>

#include "analysis/infer.h"
#include "backend/backend.h"
#include "transform/program.h"

#define FOLD_MAX_BYTES ((size_t)1 << 20) /* larger results stay computed at run time */

typedef struct fold {
  dycl_ir_t* ir;
  dycl_kctx_t kctx;
  int folded, inlined;
} fold_t;

static bool is_const(const dycl_ir_t* ir, int id) { return id >= 0 && ir->values[id]->def == DYCL_DEF_CONST; }

static dycl_status_t make_const(fold_t* F, int id, dycl_value_t* v) {
  DYCL_RETURN_IF_ERROR(dycl_ir_own(F->ir, v));
  dycl_ir_value_t* iv = F->ir->values[id];
  iv->def = DYCL_DEF_CONST;
  iv->producer = NULL;
  iv->constant = v;
  iv->type = dycl_type_tensor_dims(v->dtype, v->rank, v->dims);
  return NULL;
}

/* The static dims of value `id` when every one is known; false otherwise. */
static bool known_dims(const dycl_ir_t* ir, int id, int* rank, int64_t* dims) {
  const dycl_type_t* t = &ir->values[id]->type;
  if (!t->known || t->kind != DYCL_VALUE_TENSOR || t->rank < 0) return false;
  *rank = t->rank;
  bool all = true;
  for (int d = 0; d < t->rank; d++) {
    dims[d] = t->dims[d].v;
    all &= t->dims[d].v >= 0;
  }
  return all;
}

/* Tries to fold one node; *done tells whether its outputs became constants. */
static dycl_status_t fold_node(fold_t* F, dycl_node_t* n, bool* done) {
  dycl_ir_t* ir = F->ir;
  *done = false;
  const dycl_op_def_t* def = &dycl_op_table[n->op];
  if (def->flags & (DYCL_OPF_CONTROL | DYCL_OPF_RANDOM)) return NULL;
  if (n->n_out != 1 || n->out[0] < 0) return NULL;
  /* Shape of a statically shaped value (opset 15's start/end attributes included) */
  if (n->op == DYCL_OP_Shape && n->in[0] >= 0) {
    int rank;
    int64_t dims[DYCL_MAX_RANK];
    if (!known_dims(ir, n->in[0], &rank, dims)) return NULL;
    int64_t b = dycl_attr_int(n, "start", 0), e = dycl_attr_int(n, "end", rank);
    if (b < 0) b += rank;
    if (e < 0) e += rank;
    b = b < 0 ? 0 : b > rank ? rank : b;
    e = e < 0 ? 0 : e > rank ? rank : e;
    int64_t len = e > b ? e - b : 0;
    dycl_value_t* v;
    DYCL_RETURN_IF_ERROR(dycl_tensor_new(F->kctx.alloc, NULL, DYCL_DTYPE_INT64, 1, &len, &v));
    for (int64_t i = 0; i < len; i++) ((int64_t*)v->data)[i] = dims[b + i];
    *done = true;
    F->folded++;
    return make_const(F, n->out[0], v);
  }
  /* Gather(Shape(x), k) with dim k of x known */
  if (n->op == DYCL_OP_Gather && n->n_in == 2 && n->in[0] >= 0 && !is_const(ir, n->in[0]) && is_const(ir, n->in[1])) {
    const dycl_ir_value_t* sv = ir->values[n->in[0]];
    const dycl_value_t* idx = ir->values[n->in[1]]->constant;
    if (sv->def != DYCL_DEF_NODE || sv->producer->op != DYCL_OP_Shape || sv->producer->n_attr != 0) return NULL;
    if (idx->rank > 1 || !dycl_dtype_is_int(idx->dtype) || dycl_attr_int(n, "axis", 0) != 0) return NULL;
    const dycl_type_t* t = &ir->values[sv->producer->in[0]]->type;
    if (!t->known || t->rank < 0) return NULL;
    for (int64_t i = 0; i < idx->numel; i++) {
      int64_t k = dycl_tensor_get_i64(idx, i);
      if (k < 0) k += t->rank;
      if (k < 0 || k >= t->rank || t->dims[k].v < 0) return NULL;
    }
    dycl_value_t* v;
    DYCL_RETURN_IF_ERROR(dycl_tensor_new(F->kctx.alloc, NULL, DYCL_DTYPE_INT64, idx->rank, idx->dims, &v));
    for (int64_t i = 0; i < idx->numel; i++) {
      int64_t k = dycl_tensor_get_i64(idx, i);
      ((int64_t*)v->data)[i] = t->dims[k < 0 ? k + t->rank : k].v;
    }
    *done = true;
    F->folded++;
    return make_const(F, n->out[0], v);
  }
  /* every input constant: evaluate once */
  if (n->n_in == 0 || n->op == DYCL_OP_Identity) return NULL;
  size_t in_bytes = 0;
  for (int i = 0; i < n->n_in; i++) {
    if (n->in[i] < 0) continue;
    if (!is_const(ir, n->in[i])) return NULL;
    in_bytes += ir->values[n->in[i]]->constant->nbytes;
  }
  if (in_bytes > FOLD_MAX_BYTES) return NULL;
  dycl_value_t* in[64];
  if (n->n_in > 64) return NULL;
  for (int i = 0; i < n->n_in; i++) in[i] = n->in[i] >= 0 ? ir->values[n->in[i]]->constant : NULL;
  dycl_value_t* out[1] = {NULL};
  dycl_status_t s = def->run(&F->kctx, n, in, n->n_in, out, 1);
  if (!s && out[0] && out[0]->kind == DYCL_VALUE_TENSOR && out[0]->nbytes <= FOLD_MAX_BYTES &&
      out[0]->dtype != DYCL_DTYPE_STRING) {
    s = dycl_check_output(ir, n, 0, out[0]);
    if (!s) {
      *done = true;
      F->folded++;
      return make_const(F, n->out[0], out[0]);
    }
  }
  dycl_status_free(s); /* left to run time, where its error (if any) is reported */
  dycl_value_release(out[0]);
  return NULL;
}

static dycl_status_t fold_graph(fold_t* F, dycl_graph_t* g);

/* Replaces If node k of g by the nodes of `branch`, whose outputs become Identity aliases. */
static dycl_status_t inline_branch(fold_t* F, dycl_graph_t* g, int k, dycl_graph_t* branch) {
  dycl_ir_t* ir = F->ir;
  dycl_node_t* nif = g->nodes[k];
  int n_new = g->n_nodes - 1 + branch->n_nodes + nif->n_out;
  dycl_node_t** nodes = dycl_arena_calloc(&ir->arena, (size_t)n_new + 1, sizeof *nodes);
  if (!nodes) return dycl_error_nomem();
  int m = 0;
  for (int i = 0; i < k; i++) nodes[m++] = g->nodes[i];
  for (int i = 0; i < branch->n_nodes; i++) {
    dycl_node_t* bn = branch->nodes[i];
    bn->graph = g;
    for (int j = 0; j < bn->n_out; j++)
      if (bn->out[j] >= 0) ir->values[bn->out[j]]->graph = g;
    nodes[m++] = bn;
  }
  for (int j = 0; j < nif->n_out; j++) {
    if (nif->out[j] < 0) continue;
    dycl_node_t* id = dycl_arena_alloc(&ir->arena, sizeof *id);
    int* in = dycl_arena_alloc(&ir->arena, sizeof(int));
    int* out = dycl_arena_alloc(&ir->arena, sizeof(int));
    if (!id || !in || !out) return dycl_error_nomem();
    id->id = ir->n_nodes++;
    id->name = dycl_arena_printf(&ir->arena, "%s/taken_branch_output_%d", nif->name, j);
    id->op_type = "Identity";
    id->domain = "";
    id->op = DYCL_OP_Identity;
    id->opset = nif->opset;
    id->n_in = id->n_out = 1;
    in[0] = branch->out[j];
    out[0] = nif->out[j];
    id->in = in;
    id->out = out;
    id->graph = g;
    if (!id->name) return dycl_error_nomem();
    dycl_ir_value_t* ov = ir->values[nif->out[j]];
    ov->producer = id;
    ov->producer_out = 0;
    nodes[m++] = id;
  }
  for (int i = k + 1; i < g->n_nodes; i++) nodes[m++] = g->nodes[i];
  g->nodes = nodes;
  g->n_nodes = m;
  F->inlined++;
  return NULL;
}

static dycl_status_t fold_graph(fold_t* F, dycl_graph_t* g) {
  int k = 0;
  while (k < g->n_nodes) {
    dycl_node_t* n = g->nodes[k];
    if (n->op == DYCL_OP_If && is_const(F->ir, n->in[0])) {
      const dycl_value_t* c = F->ir->values[n->in[0]]->constant;
      if (c->numel == 1 && c->dtype != DYCL_DTYPE_STRING) {
        bool cond = dycl_tensor_get_f64(c, 0) != 0;
        DYCL_RETURN_IF_ERROR(inline_branch(F, g, k, dycl_attr_graph(n, cond ? "then_branch" : "else_branch")));
        continue; /* the inlined nodes are folded in turn */
      }
    }
    if (dycl_op_table[n->op].flags & DYCL_OPF_CONTROL) {
      for (int a = 0; a < n->n_attr; a++)
        if (n->attrs[a].type == DYCL_ATTR_GRAPH) DYCL_RETURN_IF_ERROR(fold_graph(F, n->attrs[a].g));
      k++;
      continue;
    }
    bool done;
    DYCL_RETURN_IF_ERROR(fold_node(F, n, &done));
    if (done) {
      memmove(&g->nodes[k], &g->nodes[k + 1], sizeof *g->nodes * (size_t)(g->n_nodes - k - 1));
      g->n_nodes--;
    } else {
      k++;
    }
  }
  return NULL;
}

dycl_status_t dycl_fold_constants(dycl_ir_t* ir, int* folded, int* inlined) {
  fold_t F = {ir, {.alloc = ir->alloc, .limits = &ir->limits, .seed = 0x5eed}, 0, 0};
  DYCL_RETURN_IF_ERROR(fold_graph(&F, ir->main));
  if (F.inlined || F.folded) DYCL_RETURN_IF_ERROR(dycl_infer_module(ir)); /* moved nodes: types again */
  if (folded) *folded = F.folded;
  if (inlined) *inlined = F.inlined;
  return NULL;
}
