/* Concatenations of concatenations flattened.
 *
 * A DenseNet block concatenates each layer's result to everything before it:
 * x1 = Concat(x0, y0), x2 = Concat(x1, y1), ... Each Concat copies all of the previous one, so the
 * copies grow with the square of the block's depth, and each x_k must be made because the next
 * Concat reads it. A Concat whose input is the result of another Concat along the same axis (in
 * the same graph) reads the inner Concat's inputs instead: x2 = Concat(x0, y0, y1). The result is
 * the same tensor; the inner Concat stays for its other readers (the layer's normalization) or is
 * left to dead-code elimination. A backend may then read each x_k where it is used without making
 * it (the cpu backend's fused elementwise groups read a Concat in place, cpu_fast.c). An input
 * list is not grown past FLAT_MAX_INPUTS. */
#include <string.h>

#include "transform/optimize.h"

#define FLAT_MAX_INPUTS 64

/* Node n's axis, non-negative, or -1 when unknown (no attribute and before opset 4, or no rank). */
static int64_t concat_axis(const dycl_ir_t* ir, const dycl_node_t* n) {
  if (n->op != DYCL_OP_Concat || strcmp(n->domain, "") != 0 || n->n_out != 1 || n->out[0] < 0) return -1;
  if (!dycl_node_attr(n, "axis")) return -1;
  int64_t a = dycl_attr_int(n, "axis", 0);
  const dycl_type_t* t = &ir->values[n->out[0]]->type;
  if (!t->known || t->kind != DYCL_VALUE_TENSOR || t->rank < 1) return -1;
  if (a < 0) a += t->rank;
  return a >= 0 && a < t->rank ? a : -1;
}

/* The Concat along `axis` in node n's graph that makes value v, or NULL. */
static const dycl_node_t* inner_concat(const dycl_ir_t* ir, const dycl_node_t* n, int v, int64_t axis) {
  if (v < 0) return NULL;
  const dycl_ir_value_t* iv = ir->values[v];
  if (iv->def != DYCL_DEF_NODE || !iv->producer || iv->graph != n->graph || iv->producer_out != 0) return NULL;
  const dycl_node_t* p = iv->producer;
  for (int i = 0; i < p->n_in; i++)
    if (p->in[i] < 0) return NULL;
  return concat_axis(ir, p) == axis ? p : NULL;
}

static dycl_status_t visit(void* user, dycl_node_t* n) {
  dycl_pass_walk_t* w = user;
  dycl_ir_t* ir = w->ir;
  int64_t axis = concat_axis(ir, n);
  if (axis < 0) return NULL;
  for (bool again = true; again;) { /* an inner Concat's own inputs may be Concats too */
    again = false;
    for (int i = 0; i < n->n_in; i++) {
      const dycl_node_t* p = inner_concat(ir, n, n->in[i], axis);
      if (!p || n->n_in - 1 + p->n_in > FLAT_MAX_INPUTS) continue;
      int m = n->n_in - 1 + p->n_in;
      int* in = dycl_arena_calloc(&ir->arena, (size_t)m, sizeof *in);
      if (!in) return dycl_error_nomem();
      memcpy(in, n->in, (size_t)i * sizeof *in);
      memcpy(in + i, p->in, (size_t)p->n_in * sizeof *in);
      memcpy(in + i + p->n_in, n->in + i + 1, (size_t)(n->n_in - i - 1) * sizeof *in);
      n->in = in;
      n->n_in = m;
      w->count++;
      again = true;
      break;
    }
  }
  return NULL;
}

dycl_status_t dycl_flatten_concat(dycl_ir_t* ir, int* flattened) { return dycl_pass_run(ir, visit, flattened); }
