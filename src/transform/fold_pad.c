/* Pad folded into the convolution or average pool after it.
 *
 * PyTorch exports an average pool with padding (count_include_pad) as a Pad of zeros followed by
 * an AveragePool without pads, and some exporters pad a convolution's input the same way. A Pad
 * of zeros over the spatial dims only (constant mode, nothing cropped) whose one reader is such a
 * node is the node's own padding: a Conv adds the pads to its own, an AveragePool without pads
 * (no auto_pad, ceil_mode 0) takes them with count_include_pad = 1, which divides by the whole
 * window as the padded input did. The node then reads the Pad's input and the Pad is left to
 * dead-code elimination. The padded copy (and, on the cpu backend, a pass over the activation on
 * one thread) goes away. */
#include <string.h>

#include "transform/optimize.h"

/* Sets (or adds) ints attribute `name` of node n to v[0..k), and int attribute `iname` to iv when
 * iname is not NULL; the attribute array is remade in the module's arena. */
static dycl_status_t set_attrs(dycl_ir_t* ir, dycl_node_t* n, const char* name, const int64_t* v, int k,
                               const char* iname, int64_t iv) {
  dycl_attr_t* a = dycl_arena_calloc(&ir->arena, (size_t)n->n_attr + 2, sizeof *a);
  int64_t* ints = dycl_arena_calloc(&ir->arena, (size_t)k, sizeof *ints);
  if (!a || !ints) return dycl_error_nomem();
  memcpy(ints, v, (size_t)k * sizeof *ints);
  int m = 0;
  for (int i = 0; i < n->n_attr; i++)
    if (strcmp(n->attrs[i].name, name) != 0 && !(iname && strcmp(n->attrs[i].name, iname) == 0)) a[m++] = n->attrs[i];
  a[m].name = name;
  a[m].type = DYCL_ATTR_INTS;
  a[m].n = k;
  a[m++].ints = ints;
  if (iname) {
    a[m].name = iname;
    a[m].type = DYCL_ATTR_INT;
    a[m++].i = iv;
  }
  n->attrs = a;
  n->n_attr = m;
  return NULL;
}

/* Folds the Pad before node n (a Conv or AveragePool) into it; *done when it did. */
static dycl_status_t fold_into(dycl_ir_t* ir, dycl_node_t* n, const dycl_node_t* p, int r, bool* done) {
  *done = false;
  int64_t pads[2 * DYCL_MAX_RANK], own[2 * DYCL_MAX_RANK];
  double value;
  const dycl_value_t* cv = p->n_in > 2 ? dycl_ir_const_tensor(ir, p->in[2]) : NULL;
  if (p->n_in > 2 && p->in[2] >= 0 && !cv) return NULL; /* a constant known only at run time */
  const dycl_value_t* pv = p->n_in > 1 ? dycl_ir_const_tensor(ir, p->in[1]) : NULL;
  if (!dycl_pad_spatial(p, pv, cv, ir->values[p->in[0]]->type.dtype, r, pads, &value) || value != 0) return NULL;
  const char* ap = dycl_attr_string(n, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET") != 0 && strcmp(ap, "") != 0) return NULL;
  int nsp = r - 2, k = 0;
  const int64_t* a = dycl_attr_ints(n, "pads", &k);
  if (a && k != 2 * nsp) return NULL;
  for (int i = 0; i < 2 * nsp; i++) own[i] = a ? a[i] : 0;
  for (int i = 0; i < nsp; i++) {
    own[i] += pads[2 + i];         /* begins of the spatial dims */
    own[nsp + i] += pads[r + 2 + i]; /* ends */
  }
  if (n->op == DYCL_OP_AveragePool) {
    if (dycl_attr_int(n, "ceil_mode", 0) != 0) return NULL;
    for (int i = 0; a && i < k; i++)
      if (a[i]) return NULL; /* its own padding may count differently */
    DYCL_RETURN_IF_ERROR(set_attrs(ir, n, "pads", own, 2 * nsp, "count_include_pad", 1));
  } else {
    DYCL_RETURN_IF_ERROR(set_attrs(ir, n, "pads", own, 2 * nsp, NULL, 0));
  }
  n->in[0] = p->in[0];
  *done = true;
  return NULL;
}

static dycl_status_t visit(void* user, dycl_node_t* n) {
  dycl_pass_walk_t* w = user;
  dycl_ir_t* ir = w->ir;
  if ((n->op != DYCL_OP_Conv && n->op != DYCL_OP_AveragePool) || n->n_in < 1 || n->in[0] < 0) return NULL;
  const dycl_ir_value_t* xv = ir->values[n->in[0]];
  if (xv->def != DYCL_DEF_NODE || xv->graph != n->graph || xv->producer_out != 0 || !xv->producer) return NULL;
  const dycl_node_t* p = xv->producer;
  if (p->op != DYCL_OP_Pad || p->n_in < 1 || p->in[0] < 0) return NULL;
  const dycl_type_t* t = &ir->values[p->in[0]]->type;
  if (!t->known || t->kind != DYCL_VALUE_TENSOR || t->rank < 3 || dycl_graph_uses(ir->main, n->in[0]) != 1) return NULL;
  bool done;
  DYCL_RETURN_IF_ERROR(fold_into(ir, n, p, t->rank, &done));
  w->count += done;
  return NULL;
}

dycl_status_t dycl_fold_pad(dycl_ir_t* ir, int* folded) { return dycl_pass_run(ir, visit, folded); }
