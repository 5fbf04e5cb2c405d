/* Concatenations in a loop made scan outputs.
 *
 * torch.cat in a scripted loop (an encoder collecting its states: `fwd = cat([fwd, h], 1)`, a
 * decoder its tokens) exports as a loop-carried value that the body replaces by Concat(carried,
 * piece) (or Concat(piece, carried)). Each iteration then copies everything before it: the copies
 * grow with the square of the trip count. Where the carried value is read by that Concat alone, and
 * the Concat's result by nothing but the body's output, the pass makes the piece a scan output of
 * the Loop instead (collected once per iteration and stacked once, after the last), removes the
 * carried value, and after the Loop computes the same final value from the stack S [T, piece dims]:
 *
 *   R = Unsqueeze(Squeeze(S, axes 1..axis+1), axes 0..axis-1)   (the T pieces along `axis`)
 *   final = Concat(initial, R)          appended pieces
 *   final = Concat(Slice(R reversed), initial)   prepended ones (the last iteration's piece first)
 *
 * which needs every dim of the piece up to and including the axis to be 1 (one row per iteration,
 * as torch.cat of an unsqueezed state makes) and, so that a loop that runs no iteration stacks an
 * empty S of the right shape, every other dim known. Loops whose models import opset 13 or later
 * (Squeeze/Unsqueeze with their axes as an input, Slice with steps) only. */
#include <string.h>

#include "transform/optimize.h"

/* A constant int64 tensor of n values in graph g; its id in *id. */
static dycl_status_t const_i64(dycl_ir_t* ir, dycl_graph_t* g, const char* name, const int64_t* v, int n, int* id) {
  dycl_value_t* t = NULL;
  int64_t dims[1] = {n};
  DYCL_RETURN_IF_ERROR(dycl_tensor_new(ir->alloc, NULL, DYCL_DTYPE_INT64, 1, dims, &t));
  memcpy(t->data, v, (size_t)n * sizeof *v);
  dycl_ir_value_t* iv;
  DYCL_RETURN_IF_ERROR(dycl_ir_add_const(ir, name, g, t, &iv));
  *id = iv->id;
  return NULL;
}

/* A new node of graph g (not yet placed in its node list) named PREFIX/NAME, of the opset of node
 * `like`, reading in[0..n_in) into out (a new value named after the node, or `out_id` when >= 0). */
static dycl_status_t new_node(dycl_ir_t* ir, dycl_graph_t* g, const dycl_node_t* like, const char* prefix,
                              const char* op_type, int op, const char* name, const int* in, int n_in, int out_id,
                              dycl_node_t** node) {
  dycl_node_t* n = dycl_arena_calloc(&ir->arena, 1, sizeof *n);
  int* ins = dycl_arena_calloc(&ir->arena, (size_t)n_in, sizeof *ins);
  int* outs = dycl_arena_calloc(&ir->arena, 1, sizeof *outs);
  if (!n || !ins || !outs) return dycl_error_nomem();
  n->id = ir->n_nodes++;
  n->name = dycl_arena_printf(&ir->arena, "%s/%s", prefix, name);
  if (!n->name) return dycl_error_nomem();
  n->op_type = op_type;
  n->domain = "";
  n->op = op;
  n->opset = like->opset;
  n->graph = g;
  memcpy(ins, in, (size_t)n_in * sizeof *ins);
  n->in = ins;
  n->n_in = n_in;
  if (out_id < 0) {
    dycl_ir_value_t* v;
    DYCL_RETURN_IF_ERROR(dycl_ir_add_value(ir, n->name, g, &v));
    out_id = v->id;
  }
  dycl_ir_value_t* ov = ir->values[out_id];
  ov->def = DYCL_DEF_NODE;
  ov->producer = n;
  ov->producer_out = 0;
  ov->graph = g;
  outs[0] = out_id;
  n->out = outs;
  n->n_out = 1;
  *node = n;
  return NULL;
}

static dycl_status_t int_attr(dycl_ir_t* ir, dycl_node_t* n, const char* name, int64_t v) {
  dycl_attr_t* a = dycl_arena_calloc(&ir->arena, 1, sizeof *a);
  if (!a) return dycl_error_nomem();
  a->name = name;
  a->type = DYCL_ATTR_INT;
  a->i = v;
  n->attrs = a;
  n->n_attr = 1;
  return NULL;
}

/* The Concat of body b that makes b's output `out` from the carried input `cin` and one piece,
 * read by nothing else; its axis (non-negative), the piece and whether it comes first. */
static const dycl_node_t* carried_concat(const dycl_ir_t* ir, const dycl_graph_t* b, int cin, int out, int64_t* axis,
                                         int* piece, bool* prepend) {
  if (cin < 0 || out < 0) return NULL;
  const dycl_ir_value_t* ov = ir->values[out];
  if (ov->def != DYCL_DEF_NODE || !ov->producer || ov->graph != b) return NULL;
  const dycl_node_t* c = ov->producer;
  if (c->op != DYCL_OP_Concat || c->n_in != 2 || c->n_out != 1 || c->graph != b || !dycl_node_attr(c, "axis"))
    return NULL;
  if (c->in[0] == c->in[1] || (c->in[0] != cin && c->in[1] != cin) || c->in[0] < 0 || c->in[1] < 0) return NULL;
  if (dycl_graph_uses(b, cin) != 1 || dycl_graph_uses(b, out) != 1) return NULL;
  *prepend = c->in[1] == cin;
  *piece = c->in[*prepend ? 0 : 1];
  const dycl_type_t* t = &ir->values[*piece]->type;
  if (!t->known || t->kind != DYCL_VALUE_TENSOR || t->rank < 1 || t->dtype == DYCL_DTYPE_UNDEFINED) return NULL;
  int64_t a = dycl_attr_int(c, "axis", 0);
  if (a < 0) a += t->rank;
  if (a < 0 || a >= t->rank) return NULL;
  for (int d = 0; d < t->rank; d++)
    if (d <= a ? t->dims[d].v != 1 : t->dims[d].v < 0) return NULL;
  *axis = a;
  return c;
}

/* Rewrites carried value j of Loop node n (the k-th node of graph g) as described above. */
static dycl_status_t rewrite(dycl_ir_t* ir, dycl_graph_t* g, int k, int j, const dycl_node_t* cat, int64_t axis,
                             int piece, bool prepend) {
  dycl_node_t* n = g->nodes[k];
  dycl_graph_t* b = dycl_attr_graph(n, "body");
  int init = n->in[2 + j], final = n->out[j];
  /* the body: the Concat goes, the carried input and output go, the piece becomes the last output */
  int m = 0;
  for (int i = 0; i < b->n_nodes; i++)
    if (b->nodes[i] != cat) b->nodes[m++] = b->nodes[i];
  b->n_nodes = m;
  memmove(&b->in[2 + j], &b->in[3 + j], sizeof *b->in * (size_t)(b->n_in - 3 - j));
  b->n_in--;
  int* bout = dycl_arena_calloc(&ir->arena, (size_t)b->n_out, sizeof *bout);
  if (!bout) return dycl_error_nomem();
  m = 0;
  for (int i = 0; i < b->n_out; i++)
    if (i != 1 + j) bout[m++] = b->out[i];
  bout[m] = piece;
  b->out = bout;
  /* the Loop node: the initial value and the final one go, the stack is its last output */
  memmove(&n->in[2 + j], &n->in[3 + j], sizeof *n->in * (size_t)(n->n_in - 3 - j));
  n->n_in--;
  dycl_ir_value_t* sv;
  const char* base = dycl_arena_printf(&ir->arena, "%s/%s", n->name, cat->name); /* unique per rewrite */
  if (!base) return dycl_error_nomem();
  DYCL_RETURN_IF_ERROR(dycl_ir_add_value(ir, base, g, &sv));
  int* nout = dycl_arena_calloc(&ir->arena, (size_t)n->n_out, sizeof *nout);
  if (!nout) return dycl_error_nomem();
  m = 0;
  for (int i = 0; i < n->n_out; i++)
    if (i != j) nout[m++] = n->out[i];
  nout[m] = sv->id;
  n->out = nout;
  for (int i = 0; i < n->n_out; i++) {
    if (n->out[i] < 0) continue;
    ir->values[n->out[i]]->producer = n;
    ir->values[n->out[i]]->producer_out = i;
  }
  /* after the Loop: S -> the pieces along the axis -> the final value */
  int64_t sq[DYCL_MAX_RANK], uq[DYCL_MAX_RANK];
  for (int64_t d = 0; d <= axis; d++) sq[d] = d + 1;
  for (int64_t d = 0; d < axis; d++) uq[d] = d;
  int c_sq, c_uq = -1;
  DYCL_RETURN_IF_ERROR(const_i64(ir, g, dycl_arena_printf(&ir->arena, "%s/squeeze_axes", base), sq, (int)axis + 1, &c_sq));
  if (axis > 0)
    DYCL_RETURN_IF_ERROR(const_i64(ir, g, dycl_arena_printf(&ir->arena, "%s/unsqueeze_axes", base), uq, (int)axis, &c_uq));
  dycl_node_t* added[4];
  int n_added = 0, cur = sv->id;
  if (prepend) { /* the stack reversed: Slice(S, -1, INT64_MIN, axis 0, step -1) */
    int64_t v[4] = {-1, INT64_MIN, 0, -1};
    int cs[4];
    for (int i = 0; i < 4; i++)
      DYCL_RETURN_IF_ERROR(const_i64(ir, g, dycl_arena_printf(&ir->arena, "%s/reverse_%d", base, i), &v[i], 1, &cs[i]));
    int in[5] = {cur, cs[0], cs[1], cs[2], cs[3]};
    DYCL_RETURN_IF_ERROR(new_node(ir, g, n, base, "Slice", DYCL_OP_Slice, "reversed", in, 5, -1, &added[n_added]));
    cur = added[n_added++]->out[0];
  }
  int in2[2] = {cur, c_sq};
  DYCL_RETURN_IF_ERROR(new_node(ir, g, n, base, "Squeeze", DYCL_OP_Squeeze, "pieces", in2, 2, -1, &added[n_added]));
  cur = added[n_added++]->out[0];
  if (axis > 0) {
    int in3[2] = {cur, c_uq};
    DYCL_RETURN_IF_ERROR(new_node(ir, g, n, base, "Unsqueeze", DYCL_OP_Unsqueeze, "along_axis", in3, 2, -1, &added[n_added]));
    cur = added[n_added++]->out[0];
  }
  int in4[2] = {prepend ? cur : init, prepend ? init : cur};
  if (final < 0) { /* nothing read the final value: made anyway, for dead-code elimination */
    const char* fname = dycl_arena_printf(&ir->arena, "%s/final", base);
    dycl_ir_value_t* fv = NULL;
    if (!fname) return dycl_error_nomem();
    DYCL_RETURN_IF_ERROR(dycl_ir_add_value(ir, fname, g, &fv));
    final = fv->id;
  }
  DYCL_RETURN_IF_ERROR(new_node(ir, g, n, base, "Concat", DYCL_OP_Concat, "concatenated", in4, 2, final, &added[n_added]));
  DYCL_RETURN_IF_ERROR(int_attr(ir, added[n_added++], "axis", axis));
  /* placed right after the Loop */
  dycl_node_t** nodes = dycl_arena_calloc(&ir->arena, (size_t)(g->n_nodes + n_added) + 1, sizeof *nodes);
  if (!nodes) return dycl_error_nomem();
  memcpy(nodes, g->nodes, sizeof *nodes * (size_t)(k + 1));
  memcpy(nodes + k + 1, added, sizeof *nodes * (size_t)n_added);
  memcpy(nodes + k + 1 + n_added, g->nodes + k + 1, sizeof *nodes * (size_t)(g->n_nodes - k - 1));
  g->nodes = nodes;
  g->n_nodes += n_added;
  return NULL;
}

/* Visits one node (dycl_pass_run): a Loop's carried values, each rewritten where it suits. The
 * nodes the rewrite puts after the Loop are visited next, and its body after it. */
static dycl_status_t visit(void* user, dycl_node_t* n) {
  dycl_pass_walk_t* w = user;
  dycl_ir_t* ir = w->ir;
  if (n->op != DYCL_OP_Loop || strcmp(n->domain, "") != 0 || n->opset < 13) return NULL;
  dycl_graph_t *g = n->graph, *b = dycl_attr_graph(n, "body");
  if (!b) return NULL;
  int k = 0;
  while (k < g->n_nodes && g->nodes[k] != n) k++;
  if (k == g->n_nodes) return NULL;
  for (int j = 0; j < n->n_in - 2;) {
    int n_carried = n->n_in - 2;
    int64_t axis;
    int piece;
    bool prepend;
    const dycl_node_t* cat = NULL;
    if (b->n_in == 2 + n_carried && b->n_out >= 1 + n_carried && n->n_out == b->n_out - 1 && n->in[2 + j] >= 0)
      cat = carried_concat(ir, b, b->in[2 + j], b->out[1 + j], &axis, &piece, &prepend);
    if (!cat) {
      j++;
      continue;
    }
    DYCL_RETURN_IF_ERROR(rewrite(ir, g, k, j, cat, axis, piece, prepend));
    w->count++; /* carried value j is gone: the next one is now j */
  }
  return NULL;
}

dycl_status_t dycl_loop_concat_to_scan(dycl_ir_t* ir, int* rewritten) { return dycl_pass_run(ir, visit, rewritten); }
