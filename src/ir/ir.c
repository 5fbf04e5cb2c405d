#include "ir/ir.h"

#include <stdio.h>
#include <string.h>

dycl_status_t dycl_ir_create(const dycl_allocator_t* alloc, dycl_ir_t** out) {
  alloc = dycl_alloc_or_default(alloc);
  dycl_ir_t* ir = dycl_calloc(alloc, 1, sizeof *ir);
  if (!ir) return dycl_error_nomem();
  ir->alloc = alloc;
  dycl_arena_init(&ir->arena, alloc);
  ir->producer = "";
  ir->path = "";
  ir->dir = ".";
  *out = ir;
  return NULL;
}

void dycl_ir_destroy(dycl_ir_t* ir) {
  if (!ir) return;
  for (int64_t i = 0; i < ir->n_owned; i++) dycl_value_release(ir->owned[i]);
  dycl_free(ir->alloc, ir->owned);
  dycl_free(ir->alloc, ir->values);
  dycl_arena_destroy(&ir->arena);
  dycl_free(ir->alloc, ir);
}

dycl_status_t dycl_ir_add_value(dycl_ir_t* ir, const char* name, dycl_graph_t* graph, dycl_ir_value_t** out) {
  if (ir->n_values >= INT32_MAX - 1) return dycl_error(DYCL_CODE_LIMIT, "too many values in the model");
  DYCL_RETURN_IF_ERROR(dycl_grow(ir->alloc, (void**)&ir->values, sizeof *ir->values, &ir->cap_values, ir->n_values + 1));
  dycl_ir_value_t* v = dycl_arena_alloc(&ir->arena, sizeof *v);
  if (!v) return dycl_error_nomem();
  v->name = dycl_arena_strdup(&ir->arena, name);
  if (!v->name) return dycl_error_nomem();
  v->id = (int)ir->n_values;
  v->graph = graph;
  v->type = dycl_type_unknown();
  v->declared = dycl_type_unknown();
  ir->values[ir->n_values++] = v;
  *out = v;
  return NULL;
}

dycl_status_t dycl_ir_add_const(dycl_ir_t* ir, const char* name, dycl_graph_t* graph, dycl_value_t* v,
                                dycl_ir_value_t** out) {
  dycl_ir_value_t* iv;
  dycl_status_t s = name ? dycl_ir_add_value(ir, name, graph, &iv) : dycl_error_nomem();
  if (s) {
    dycl_value_release(v);
    return s;
  }
  DYCL_RETURN_IF_ERROR(dycl_ir_own(ir, v)); /* releases v when it fails */
  iv->def = DYCL_DEF_CONST;
  iv->constant = v;
  iv->type = dycl_type_tensor_dims(v->dtype, v->rank, v->dims);
  *out = iv;
  return NULL;
}

dycl_status_t dycl_ir_own(dycl_ir_t* ir, dycl_value_t* v) {
  dycl_status_t s = dycl_grow(ir->alloc, (void**)&ir->owned, sizeof *ir->owned, &ir->cap_owned, ir->n_owned + 1);
  if (s) {
    dycl_value_release(v);
    return s;
  }
  ir->owned[ir->n_owned++] = v;
  return NULL;
}

const dycl_attr_t* dycl_node_attr(const dycl_node_t* node, const char* name) {
  for (int i = 0; i < node->n_attr; i++)
    if (strcmp(node->attrs[i].name, name) == 0) return &node->attrs[i];
  return NULL;
}

int64_t dycl_attr_int(const dycl_node_t* node, const char* name, int64_t dflt) {
  const dycl_attr_t* a = dycl_node_attr(node, name);
  if (!a) return dflt;
  if (a->type == DYCL_ATTR_INT) return a->i;
  if (a->type == DYCL_ATTR_FLOAT) return (int64_t)a->f;
  return dflt;
}

double dycl_attr_float(const dycl_node_t* node, const char* name, double dflt) {
  const dycl_attr_t* a = dycl_node_attr(node, name);
  if (!a) return dflt;
  if (a->type == DYCL_ATTR_FLOAT) return a->f;
  if (a->type == DYCL_ATTR_INT) return (double)a->i;
  return dflt;
}

const char* dycl_attr_string(const dycl_node_t* node, const char* name, const char* dflt) {
  const dycl_attr_t* a = dycl_node_attr(node, name);
  return a && a->type == DYCL_ATTR_STRING ? a->s : dflt;
}

const int64_t* dycl_attr_ints(const dycl_node_t* node, const char* name, int* n) {
  const dycl_attr_t* a = dycl_node_attr(node, name);
  if (!a || a->type != DYCL_ATTR_INTS) {
    *n = 0;
    return NULL;
  }
  *n = a->n;
  return a->ints ? a->ints : (const int64_t*)"";
}

const float* dycl_attr_floats(const dycl_node_t* node, const char* name, int* n) {
  const dycl_attr_t* a = dycl_node_attr(node, name);
  if (!a || a->type != DYCL_ATTR_FLOATS) {
    *n = 0;
    return NULL;
  }
  *n = a->n;
  static const float none[1] = {0};
  return a->floats ? a->floats : none;
}

dycl_value_t* dycl_attr_tensor(const dycl_node_t* node, const char* name) {
  const dycl_attr_t* a = dycl_node_attr(node, name);
  return a && a->type == DYCL_ATTR_TENSOR ? a->t : NULL;
}

dycl_graph_t* dycl_attr_graph(const dycl_node_t* node, const char* name) {
  const dycl_attr_t* a = dycl_node_attr(node, name);
  return a && a->type == DYCL_ATTR_GRAPH ? a->g : NULL;
}

dycl_status_t dycl_node_error(const dycl_node_t* node, dycl_code_t code, const char* fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return dycl_error(code, "node '%s' (%s): %s", node->name, node->op_type, msg);
}

int dycl_graph_uses(const dycl_graph_t* g, int v) {
  int uses = 0;
  for (int i = 0; i < g->n_out; i++) uses += g->out[i] == v;
  for (int k = 0; k < g->n_nodes; k++) {
    const dycl_node_t* n = g->nodes[k];
    for (int i = 0; i < n->n_in; i++) uses += n->in[i] == v;
    for (int i = 0; i < n->n_implicit; i++) uses += n->implicit[i] == v;
    for (int a = 0; a < n->n_attr; a++) {
      if (n->attrs[a].type == DYCL_ATTR_GRAPH) uses += dycl_graph_uses(n->attrs[a].g, v);
      if (n->attrs[a].type == DYCL_ATTR_GRAPHS)
        for (int j = 0; j < n->attrs[a].n; j++) uses += dycl_graph_uses(n->attrs[a].graphs[j], v);
    }
  }
  return uses;
}

dycl_status_t dycl_graph_walk(dycl_graph_t* g, dycl_node_visit_fn fn, void* user) {
  for (int k = 0; k < g->n_nodes; k++) {
    dycl_node_t* n = g->nodes[k];
    DYCL_RETURN_IF_ERROR(fn(user, n));
    for (int a = 0; a < n->n_attr; a++) {
      if (n->attrs[a].type == DYCL_ATTR_GRAPH && n->attrs[a].g)
        DYCL_RETURN_IF_ERROR(dycl_graph_walk(n->attrs[a].g, fn, user));
      if (n->attrs[a].type == DYCL_ATTR_GRAPHS)
        for (int i = 0; i < n->attrs[a].n; i++) DYCL_RETURN_IF_ERROR(dycl_graph_walk(n->attrs[a].graphs[i], fn, user));
    }
  }
  return NULL;
}
