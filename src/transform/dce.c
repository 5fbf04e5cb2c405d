/* Dead-code elimination: a node none of whose outputs is read (by a node, a subgraph or as a graph
 * output) is removed, repeatedly, since removing one may leave its producers unread. ONNX
 * operators have no side effects, control flow and random ops included, so nothing else is
 * kept. Bodies are cleaned too; a body's outputs are always kept (the enclosing node's signature
 * depends on them). */
#include <string.h>

#include "transform/optimize.h"

static void count_graph(const dycl_graph_t* g, int* uses) {
  for (int i = 0; i < g->n_out; i++)
    if (g->out[i] >= 0) uses[g->out[i]]++;
  for (int k = 0; k < g->n_nodes; k++) {
    const dycl_node_t* n = g->nodes[k];
    for (int i = 0; i < n->n_in; i++)
      if (n->in[i] >= 0) uses[n->in[i]]++;
    for (int i = 0; i < n->n_implicit; i++)
      if (n->implicit[i] >= 0) uses[n->implicit[i]]++;
    for (int a = 0; a < n->n_attr; a++) {
      if (n->attrs[a].type == DYCL_ATTR_GRAPH) count_graph(n->attrs[a].g, uses);
      if (n->attrs[a].type == DYCL_ATTR_GRAPHS)
        for (int j = 0; j < n->attrs[a].n; j++) count_graph(n->attrs[a].graphs[j], uses);
    }
  }
}

/* Removes the unread nodes of g (and of its bodies); counts them in *removed. */
static void sweep_graph(dycl_graph_t* g, const int* uses, int* removed) {
  int m = 0;
  for (int k = 0; k < g->n_nodes; k++) {
    dycl_node_t* n = g->nodes[k];
    bool live = false;
    for (int j = 0; j < n->n_out && !live; j++) live = n->out[j] >= 0 && uses[n->out[j]] > 0;
    if (!live) {
      (*removed)++;
      continue;
    }
    for (int a = 0; a < n->n_attr; a++) {
      if (n->attrs[a].type == DYCL_ATTR_GRAPH) sweep_graph(n->attrs[a].g, uses, removed);
      if (n->attrs[a].type == DYCL_ATTR_GRAPHS)
        for (int j = 0; j < n->attrs[a].n; j++) sweep_graph(n->attrs[a].graphs[j], uses, removed);
    }
    g->nodes[m++] = n;
  }
  g->n_nodes = m;
}

dycl_status_t dycl_dce(dycl_ir_t* ir, int* removed) {
  int total = 0;
  int* uses = dycl_calloc(ir->alloc, (size_t)ir->n_values + 1, sizeof *uses);
  if (!uses) return dycl_error_nomem();
  for (;;) {
    memset(uses, 0, ((size_t)ir->n_values + 1) * sizeof *uses);
    count_graph(ir->main, uses);
    int n = 0;
    sweep_graph(ir->main, uses, &n);
    if (!n) break;
    total += n;
  }
  dycl_free(ir->alloc, uses);
  if (removed) *removed = total;
  return NULL;
}
