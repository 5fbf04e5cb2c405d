/* ONNX model → IR. Resolves names with lexical scoping (bodies of If/Loop/Scan see the values of
 * enclosing graphs), folds Constant nodes into module constants, checks arity, unknown ops, opsets,
 * undefined values and cycles, orders every graph topologically, then runs type inference. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/infer.h"
#include "onnx/onnx_io.h"
#include "ops/op.h"

#define DYCL_DEFAULT_MAX_NESTING 64

typedef struct scope {
  struct scope* parent;
  dycl_graph_t* graph;
  dycl_strmap_t names; /* value name → id */
} scope_t;

typedef struct loader {
  dycl_ir_t* ir;
  const dycl_allocator_t* alloc;
  dycl_strmap_t ops;       /* op_type → op table index */
  dycl_strmap_t dim_syms;  /* dim_param → symbol id */
  dycl_strmap_t attr_types; /* "op_type.attribute" → dycl_attr_type_t, from the ONNX schemas */
  int graph_count;
  int training_opset; /* version of ai.onnx.preview.training imported, -1 if none */
  const dycl_onnx_stripped_t* file; /* the main graph's initializers' payloads left in the file */
} loader_t;

static dycl_status_t nomem(void) { return dycl_error_nomem(); }

static bool scope_lookup(const scope_t* s, const char* name, int* id) {
  for (; s; s = s->parent)
    if (dycl_strmap_get(&s->names, name, id)) return true;
  return false;
}

/* ----------------------------------------------------------------- types */

static dycl_status_t type_from_proto(loader_t* L, const Onnx__TypeProto* tp, dycl_type_t* out, int depth) {
  *out = dycl_type_unknown();
  if (!tp) return NULL;
  if (depth > 8) return dycl_error(DYCL_CODE_UNSUPPORTED, "type nested too deeply");
  switch (tp->value_case) {
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE: {
      const Onnx__TypeProto__Tensor* t = tp->tensor_type;
      out->known = true;
      out->kind = DYCL_VALUE_TENSOR;
      out->dtype = t->has_elem_type && dycl_dtype_is_valid(t->elem_type) ? (dycl_dtype_t)t->elem_type : DYCL_DTYPE_UNDEFINED;
      if (t->has_elem_type && t->elem_type && !dycl_dtype_is_valid(t->elem_type))
        return dycl_error(DYCL_CODE_UNSUPPORTED, "unsupported element type %d", t->elem_type);
      if (!t->shape) {
        out->rank = -1;
        return NULL;
      }
      if (t->shape->n_dim > DYCL_MAX_RANK)
        return dycl_error(DYCL_CODE_UNSUPPORTED, "rank %zu is beyond dycl's maximum of %d", t->shape->n_dim, DYCL_MAX_RANK);
      out->rank = (int)t->shape->n_dim;
      for (size_t i = 0; i < t->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension* d = t->shape->dim[i];
        out->dims[i] = dycl_dim_unknown();
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
          if (d->dim_value < 0) return dycl_error(DYCL_CODE_INVALID_MODEL, "negative dimension %" PRId64, d->dim_value);
          out->dims[i] = dycl_dim_const(d->dim_value);
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param && *d->dim_param) {
          int sym;
          if (!dycl_strmap_get(&L->dim_syms, d->dim_param, &sym)) {
            sym = ++L->ir->next_sym;
            char* key = dycl_arena_strdup(&L->ir->arena, d->dim_param);
            if (!key) return nomem();
            DYCL_RETURN_IF_ERROR(dycl_strmap_put(&L->dim_syms, key, sym));
          }
          out->dims[i].sym = sym;
        }
      }
      return NULL;
    }
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: {
      dycl_type_t e;
      DYCL_RETURN_IF_ERROR(type_from_proto(L, tp->sequence_type->elem_type, &e, depth + 1));
      if (e.known && e.kind != DYCL_VALUE_TENSOR)
        return dycl_error(DYCL_CODE_UNSUPPORTED, "only sequences of tensors are supported");
      *out = e;
      out->known = true;
      out->kind = DYCL_VALUE_SEQUENCE;
      return NULL;
    }
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: {
      dycl_type_t e;
      DYCL_RETURN_IF_ERROR(type_from_proto(L, tp->optional_type->elem_type, &e, depth + 1));
      if (e.known && e.kind == DYCL_VALUE_OPTIONAL) return dycl_error(DYCL_CODE_UNSUPPORTED, "nested optionals are not supported");
      *out = e;
      out->known = true;
      out->elem_kind = e.known ? e.kind : DYCL_VALUE_TENSOR;
      out->kind = DYCL_VALUE_OPTIONAL;
      return NULL;
    }
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: return dycl_error(DYCL_CODE_UNSUPPORTED, "map types are not supported");
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
      return dycl_error(DYCL_CODE_UNSUPPORTED, "sparse tensors are not supported");
    default: return NULL;
  }
}

/* ----------------------------------------------------------------- graphs */

static dycl_status_t convert_graph(loader_t* L, const Onnx__GraphProto* gp, scope_t* parent, dycl_node_t* parent_node,
                                   int depth, bool is_main, dycl_graph_t** out);

static dycl_status_t add_const(loader_t* L, scope_t* sc, const char* name, dycl_value_t* v, dycl_ir_value_t** out) {
  dycl_ir_value_t* iv;
  DYCL_RETURN_IF_ERROR(dycl_ir_add_const(L->ir, name, sc->graph, v, &iv));
  iv->declared = iv->type;
  DYCL_RETURN_IF_ERROR(dycl_strmap_put(&sc->names, iv->name, iv->id));
  if (out) *out = iv;
  return NULL;
}

static const char* attr_type_name(int t) {
  static const char* names[] = {"undefined", "float", "int", "string", "tensor", "graph", "floats", "ints",
                                "strings", "tensors", "graphs", "sparse tensor", "sparse tensors", "type", "types"};
  return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

static dycl_status_t load_attr_types(loader_t* L) {
  static const struct {
    const char* op;
    const char* attr;
    int type;
  } specs[] = {
#define DYCL_ATTR_SPEC(op, attr, type) {op, attr, type},
#include "ops/onnx_attrs.inc"
#undef DYCL_ATTR_SPEC
  };
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    char* key = dycl_arena_printf(&L->ir->arena, "%s.%s", specs[i].op, specs[i].attr);
    if (!key) return nomem();
    DYCL_RETURN_IF_ERROR(dycl_strmap_put(&L->attr_types, key, specs[i].type));
  }
  return NULL;
}

static dycl_status_t convert_attr(loader_t* L, const Onnx__AttributeProto* ap, scope_t* sc, dycl_node_t* node,
                                  int depth, dycl_attr_t* a) {
  dycl_arena_t* A = &L->ir->arena;
  a->name = dycl_arena_strdup(A, ap->name ? ap->name : "");
  if (!a->name) return nomem();
  if (ap->ref_attr_name && *ap->ref_attr_name)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "attribute '%s' refers to a function attribute", a->name);
  int type = ap->has_type ? (int)ap->type : 0;
  if (!type) { /* old files: infer the kind from what is set */
    if (ap->g) type = DYCL_ATTR_GRAPH;
    else if (ap->t) type = DYCL_ATTR_TENSOR;
    else if (ap->n_ints) type = DYCL_ATTR_INTS;
    else if (ap->n_floats) type = DYCL_ATTR_FLOATS;
    else if (ap->n_strings) type = DYCL_ATTR_STRINGS;
    else if (ap->has_s) type = DYCL_ATTR_STRING;
    else if (ap->has_f) type = DYCL_ATTR_FLOAT;
    else type = DYCL_ATTR_INT;
  }
  a->type = (dycl_attr_type_t)type;
  char what[300];
  snprintf(what, sizeof what, "node '%s' (%s) attribute '%s'", node->name, node->op_type, a->name);
  char key[256];
  int expected;
  snprintf(key, sizeof key, "%s.%s", node->op_type, a->name);
  if (dycl_strmap_get(&L->attr_types, key, &expected) && expected != type)
    return dycl_error(DYCL_CODE_INVALID_MODEL, "%s must be of type %s, not %s", what, attr_type_name(expected),
                      attr_type_name(type));
  switch (a->type) {
    case DYCL_ATTR_FLOAT: a->f = ap->f; break;
    case DYCL_ATTR_INT: a->i = ap->i; break;
    case DYCL_ATTR_STRING:
      a->s = dycl_arena_strndup(A, (const char*)ap->s.data, ap->s.len);
      a->slen = ap->s.len;
      if (!a->s) return nomem();
      break;
    case DYCL_ATTR_TENSOR: {
      if (!ap->t) return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: missing tensor", what);
      dycl_value_t* v;
      DYCL_RETURN_IF_ERROR(dycl_onnx_tensor_from_proto(L->alloc, &L->ir->limits, ap->t, L->ir->dir, what, &v));
      DYCL_RETURN_IF_ERROR(dycl_ir_own(L->ir, v));
      a->t = v;
      break;
    }
    case DYCL_ATTR_GRAPH:
      if (!ap->g) return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: missing graph", what);
      DYCL_RETURN_IF_ERROR(convert_graph(L, ap->g, sc, node, depth + 1, false, &a->g));
      break;
    case DYCL_ATTR_FLOATS:
      a->n = (int)ap->n_floats;
      a->floats = dycl_arena_calloc(A, ap->n_floats + 1, sizeof(float));
      if (!a->floats) return nomem();
      if (ap->n_floats) memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
      break;
    case DYCL_ATTR_INTS:
      a->n = (int)ap->n_ints;
      a->ints = dycl_arena_calloc(A, ap->n_ints + 1, sizeof(int64_t));
      if (!a->ints) return nomem();
      if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
      break;
    case DYCL_ATTR_STRINGS:
      a->n = (int)ap->n_strings;
      a->strings = dycl_arena_calloc(A, ap->n_strings + 1, sizeof(char*));
      if (!a->strings) return nomem();
      for (size_t i = 0; i < ap->n_strings; i++) {
        a->strings[i] = dycl_arena_strndup(A, (const char*)ap->strings[i].data, ap->strings[i].len);
        if (!a->strings[i]) return nomem();
      }
      break;
    case DYCL_ATTR_TENSORS:
      a->n = (int)ap->n_tensors;
      a->tensors = dycl_arena_calloc(A, ap->n_tensors + 1, sizeof(dycl_value_t*));
      if (!a->tensors) return nomem();
      for (size_t i = 0; i < ap->n_tensors; i++) {
        DYCL_RETURN_IF_ERROR(dycl_onnx_tensor_from_proto(L->alloc, &L->ir->limits, ap->tensors[i], L->ir->dir, what, &a->tensors[i]));
        DYCL_RETURN_IF_ERROR(dycl_ir_own(L->ir, a->tensors[i]));
      }
      break;
    case DYCL_ATTR_GRAPHS:
      a->n = (int)ap->n_graphs;
      a->graphs = dycl_arena_calloc(A, ap->n_graphs + 1, sizeof(dycl_graph_t*));
      if (!a->graphs) return nomem();
      for (size_t i = 0; i < ap->n_graphs; i++)
        DYCL_RETURN_IF_ERROR(convert_graph(L, ap->graphs[i], sc, node, depth + 1, false, &a->graphs[i]));
      break;
    case DYCL_ATTR_TYPE_PROTO: {
      dycl_status_t s = type_from_proto(L, ap->tp, &a->tp, 0);
      if (s) return dycl_error_wrap(s, "%s", what);
      break;
    }
    case DYCL_ATTR_SPARSE_TENSOR:
    case DYCL_ATTR_SPARSE_TENSORS:
      return dycl_error(DYCL_CODE_UNSUPPORTED, "%s: sparse tensors are not supported", what);
    default:
      if (type == DYCL_ATTR_TYPE_PROTOS) return dycl_error(DYCL_CODE_UNSUPPORTED, "%s: type-proto lists are not supported", what);
      return dycl_error(DYCL_CODE_INVALID_MODEL, "%s: unknown attribute type %d", what, type);
  }
  return NULL;
}

/* A Constant node's value. */
static dycl_status_t constant_value(loader_t* L, const dycl_node_t* node, dycl_value_t** out) {
  if (node->n_attr != 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "Constant needs exactly one value attribute, it has %d", node->n_attr);
  const dycl_attr_t* a = &node->attrs[0];
  const dycl_allocator_t* al = L->alloc;
  if (strcmp(a->name, "value") == 0 && a->type == DYCL_ATTR_TENSOR) {
    *out = dycl_value_retain(a->t);
    return NULL;
  }
  if (strcmp(a->name, "value_float") == 0 && a->type == DYCL_ATTR_FLOAT)
    return dycl_tensor_scalar_f64(al, DYCL_DTYPE_FLOAT32, a->f, out);
  if (strcmp(a->name, "value_int") == 0 && a->type == DYCL_ATTR_INT)
    return dycl_tensor_scalar_i64(al, DYCL_DTYPE_INT64, a->i, out);
  if (strcmp(a->name, "value_floats") == 0 && a->type == DYCL_ATTR_FLOATS) {
    int64_t n = a->n;
    DYCL_RETURN_IF_ERROR(dycl_tensor_new(al, NULL, DYCL_DTYPE_FLOAT32, 1, &n, out));
    if (n) memcpy((*out)->data, a->floats, (size_t)n * sizeof(float));
    return NULL;
  }
  if (strcmp(a->name, "value_ints") == 0 && a->type == DYCL_ATTR_INTS) {
    int64_t n = a->n;
    DYCL_RETURN_IF_ERROR(dycl_tensor_new(al, NULL, DYCL_DTYPE_INT64, 1, &n, out));
    if (n) memcpy((*out)->data, a->ints, (size_t)n * sizeof(int64_t));
    return NULL;
  }
  if ((strcmp(a->name, "value_string") == 0 && a->type == DYCL_ATTR_STRING) ||
      (strcmp(a->name, "value_strings") == 0 && a->type == DYCL_ATTR_STRINGS)) {
    bool one = a->type == DYCL_ATTR_STRING;
    int64_t n = one ? 1 : a->n;
    DYCL_RETURN_IF_ERROR(dycl_tensor_new(al, NULL, DYCL_DTYPE_STRING, one ? 0 : 1, &n, out));
    char** d = (*out)->data;
    for (int64_t i = 0; i < n; i++) {
      const char* src = one ? a->s : a->strings[i];
      size_t len = strlen(src);
      d[i] = dycl_malloc(al, len + 1);
      if (!d[i]) {
        dycl_value_release(*out);
        return nomem();
      }
      memcpy(d[i], src, len + 1);
    }
    return NULL;
  }
  return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "Constant with attribute '%s' is not supported", a->name);
}

/* Is graph `g` the same as `anc` or nested inside it? */
static bool graph_within(const dycl_graph_t* g, const dycl_graph_t* anc) {
  for (; g; g = g->parent)
    if (g == anc) return true;
  return false;
}

/* Collects the outer values a control node's bodies use. */
typedef struct {
  loader_t* L;
  dycl_node_t* owner;
  int* ids;
  int64_t n, cap;
  dycl_status_t err;
} capture_t;

static void capture_add(capture_t* c, int id) {
  if (id < 0 || c->err) return;
  dycl_ir_value_t* v = c->L->ir->values[id];
  if (v->def == DYCL_DEF_CONST) return; /* constants need no ordering */
  for (int a = 0; a < c->owner->n_attr; a++) {
    const dycl_attr_t* at = &c->owner->attrs[a];
    if (at->type == DYCL_ATTR_GRAPH && graph_within(v->graph, at->g)) return;
    for (int k = 0; at->type == DYCL_ATTR_GRAPHS && k < at->n; k++)
      if (graph_within(v->graph, at->graphs[k])) return;
  }
  for (int64_t i = 0; i < c->n; i++)
    if (c->ids[i] == id) return;
  c->err = dycl_grow(c->L->alloc, (void**)&c->ids, sizeof(int), &c->cap, c->n + 1);
  if (!c->err) c->ids[c->n++] = id;
}

static void capture_graph(capture_t* c, const dycl_graph_t* g) {
  for (int k = 0; k < g->n_nodes; k++) {
    const dycl_node_t* n = g->nodes[k];
    for (int i = 0; i < n->n_in; i++) capture_add(c, n->in[i]);
    for (int i = 0; i < n->n_implicit; i++) capture_add(c, n->implicit[i]);
  }
  for (int i = 0; i < g->n_out; i++) capture_add(c, g->out[i]);
}

static dycl_status_t compute_implicit(loader_t* L, dycl_node_t* node) {
  capture_t c = {L, node, NULL, 0, 0, NULL};
  for (int a = 0; a < node->n_attr; a++) {
    if (node->attrs[a].type == DYCL_ATTR_GRAPH) capture_graph(&c, node->attrs[a].g);
    for (int k = 0; node->attrs[a].type == DYCL_ATTR_GRAPHS && k < node->attrs[a].n; k++)
      capture_graph(&c, node->attrs[a].graphs[k]);
  }
  if (!c.err && c.n) {
    node->implicit = dycl_arena_calloc(&L->ir->arena, (size_t)c.n, sizeof(int));
    if (!node->implicit) c.err = nomem();
    else memcpy(node->implicit, c.ids, (size_t)c.n * sizeof(int));
    node->n_implicit = (int)c.n;
  }
  dycl_free(L->alloc, c.ids);
  return c.err;
}

/* Orders nodes so that each comes after the producers of its inputs (implicit ones included).
 * Among ready nodes, plain ops go before control-flow ops, so that the straight-line segments the
 * partitioner cuts are as long as possible; otherwise file order is kept. */
static dycl_status_t topo_sort(loader_t* L, dycl_graph_t* g) {
  int n = g->n_nodes;
  if (n == 0) return NULL;
  const dycl_allocator_t* al = L->alloc;
  int* pending = dycl_calloc(al, (size_t)n, sizeof(int));
  dycl_node_t** sorted = dycl_arena_calloc(&L->ir->arena, (size_t)n, sizeof *sorted);
  bool* done = dycl_calloc(al, (size_t)n, sizeof(bool));
  dycl_status_t s = NULL;
  if (!pending || !sorted || !done) {
    s = nomem();
    goto out;
  }
  for (int k = 0; k < n; k++) {
    dycl_node_t* nd = g->nodes[k];
    for (int i = 0; i < nd->n_in + nd->n_implicit; i++) {
      int id = i < nd->n_in ? nd->in[i] : nd->implicit[i - nd->n_in];
      if (id < 0) continue;
      dycl_ir_value_t* v = L->ir->values[id];
      if (v->def == DYCL_DEF_NODE && v->producer->graph == g) pending[k]++;
    }
  }
  int placed = 0;
  while (placed < n) {
    int pick = -1;
    for (int pass = 0; pass < 2 && pick < 0; pass++)
      for (int k = 0; k < n; k++) {
        if (done[k] || pending[k]) continue;
        bool control = dycl_op_table[g->nodes[k]->op].flags & DYCL_OPF_CONTROL;
        if (pass == 0 && control) continue;
        pick = k;
        break;
      }
    if (pick < 0) {
      for (int k = 0; k < n; k++)
        if (!done[k]) {
          s = dycl_error(DYCL_CODE_INVALID_MODEL, "graph '%s' has a cycle through node '%s' (%s)", g->name,
                         g->nodes[k]->name, g->nodes[k]->op_type);
          break;
        }
      goto out;
    }
    done[pick] = true;
    sorted[placed++] = g->nodes[pick];
    /* release the consumers of pick's outputs */
    dycl_node_t* p = g->nodes[pick];
    for (int k = 0; k < n; k++) {
      if (done[k]) continue;
      dycl_node_t* nd = g->nodes[k];
      for (int i = 0; i < nd->n_in + nd->n_implicit; i++) {
        int id = i < nd->n_in ? nd->in[i] : nd->implicit[i - nd->n_in];
        if (id >= 0 && L->ir->values[id]->def == DYCL_DEF_NODE && L->ir->values[id]->producer == p) pending[k]--;
      }
    }
  }
  g->nodes = sorted;
out:
  dycl_free(al, pending);
  dycl_free(al, done);
  return s;
}

static dycl_status_t convert_graph(loader_t* L, const Onnx__GraphProto* gp, scope_t* parent, dycl_node_t* parent_node,
                                   int depth, bool is_main, dycl_graph_t** out) {
  dycl_ir_t* ir = L->ir;
  dycl_arena_t* A = &ir->arena;
  if (depth > ir->max_nesting)
    return dycl_error(DYCL_CODE_LIMIT, "subgraphs are nested more than %d levels deep (node '%s')", ir->max_nesting,
                      parent_node ? parent_node->name : "?");
  if (L->graph_count++ > 1000000) return dycl_error(DYCL_CODE_LIMIT, "too many graphs");
  dycl_graph_t* g = dycl_arena_alloc(A, sizeof *g);
  if (!g) return nomem();
  g->id = ir->n_graphs++;
  g->name = dycl_arena_strdup(A, gp->name && *gp->name ? gp->name : (is_main ? "main" : "body"));
  g->parent = parent ? parent->graph : NULL;
  g->parent_node = parent_node;
  g->depth = depth;
  scope_t sc = {parent, g, {0}};
  dycl_strmap_init(&sc.names, L->alloc);
  dycl_status_t s = NULL;
  char what[300];

  /* initializers */
  for (size_t i = 0; i < gp->n_initializer && !s; i++) {
    const Onnx__TensorProto* tp = gp->initializer[i];
    const char* name = tp->name ? tp->name : "";
    snprintf(what, sizeof what, "initializer '%s'", name);
    int dummy;
    if (dycl_strmap_get(&sc.names, name, &dummy)) {
      s = dycl_error(DYCL_CODE_INVALID_MODEL, "%s is defined twice", what);
      goto done;
    }
    dycl_value_t* v;
    const dycl_onnx_payload_t* pl =
        is_main && L->file && i < L->file->n_payloads && L->file->payloads[i].len ? &L->file->payloads[i] : NULL;
    s = pl ? dycl_onnx_tensor_from_payload(L->alloc, &ir->limits, tp, ir->dir, L->file->fd, pl, what, &v)
           : dycl_onnx_tensor_from_proto(L->alloc, &ir->limits, tp, ir->dir, what, &v);
    if (s) goto done;
    DYCL_GOTO_IF_ERROR(s, add_const(L, &sc, name, v, NULL), done);
  }
  if (gp->n_sparse_initializer) {
    s = dycl_error(DYCL_CODE_UNSUPPORTED, "graph '%s': sparse initializers are not supported", g->name);
    goto done;
  }
  /* inputs */
  g->in = dycl_arena_calloc(A, gp->n_input + 1, sizeof(int));
  if (!g->in) {
    s = nomem();
    goto done;
  }
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto* vi = gp->input[i];
    const char* name = vi->name ? vi->name : "";
    int id;
    if (dycl_strmap_get(&sc.names, name, &id)) {
      if (is_main && ir->values[id]->def == DYCL_DEF_CONST) continue; /* initializer-backed input */
      s = dycl_error(DYCL_CODE_INVALID_MODEL, "graph '%s': input '%s' is defined twice", g->name, name);
      goto done;
    }
    dycl_ir_value_t* v;
    DYCL_GOTO_IF_ERROR(s, dycl_ir_add_value(ir, name, g, &v), done);
    v->def = DYCL_DEF_INPUT;
    s = type_from_proto(L, vi->type, &v->declared, 0);
    if (s) {
      s = dycl_error_wrap(s, "graph '%s' input '%s'", g->name, name);
      goto done;
    }
    v->type = v->declared;
    DYCL_GOTO_IF_ERROR(s, dycl_strmap_put(&sc.names, v->name, v->id), done);
    g->in[g->n_in++] = v->id;
  }
  /* nodes, pass 1: create them and declare their outputs */
  if (gp->n_node > (size_t)INT32_MAX / 2) {
    s = dycl_error(DYCL_CODE_LIMIT, "too many nodes");
    goto done;
  }
  dycl_node_t** nodes = dycl_arena_calloc(A, gp->n_node + 1, sizeof *nodes);
  if (!nodes) {
    s = nomem();
    goto done;
  }
  int n_nodes = 0;
  for (size_t k = 0; k < gp->n_node; k++) {
    const Onnx__NodeProto* np = gp->node[k];
    dycl_node_t* node = dycl_arena_alloc(A, sizeof *node);
    if (!node) {
      s = nomem();
      goto done;
    }
    node->id = ir->n_nodes++;
    node->graph = g;
    node->op_type = dycl_arena_strdup(A, np->op_type ? np->op_type : "");
    node->domain = dycl_arena_strdup(A, np->domain ? np->domain : "");
    node->name = np->name && *np->name ? dycl_arena_strdup(A, np->name) : dycl_arena_printf(A, "%s_%d", node->op_type, node->id);
    if (!node->op_type || !node->domain || !node->name) {
      s = nomem();
      goto done;
    }
    bool training = strcmp(node->domain, "ai.onnx.preview.training") == 0;
    if (node->domain[0] && strcmp(node->domain, "ai.onnx") != 0 && !training) {
      s = dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "operator domain '%s' is not supported", node->domain);
      goto done;
    }
    if (!dycl_strmap_get(&L->ops, node->op_type, &node->op) ||
        training != !!(dycl_op_table[node->op].flags & DYCL_OPF_TRAINING)) {
      s = dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "unknown operator '%s'%s%s", node->op_type,
                          node->domain[0] ? " in domain " : "", node->domain);
      goto done;
    }
    if (training) {
      if (L->training_opset < 0) {
        s = dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "the model does not import the domain '%s'", node->domain);
        goto done;
      }
      if (L->training_opset != 1) {
        s = dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "domain '%s' version %d is not supported (dycl implements 1)",
                            node->domain, L->training_opset);
        goto done;
      }
    } else if (ir->opset < 0) {
      s = dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "the model imports no version of the default ONNX operator set");
      goto done;
    }
    node->opset = training ? L->training_opset : ir->opset;
    const dycl_op_def_t* def = &dycl_op_table[node->op];
    /* trailing empty names are omitted optional inputs/outputs */
    size_t nin = np->n_input, nout = np->n_output;
    while (nin && (!np->input[nin - 1] || !*np->input[nin - 1])) nin--;
    while (nout && (!np->output[nout - 1] || !*np->output[nout - 1])) nout--;
    if ((int64_t)nin < def->min_in || (def->max_in >= 0 && (int64_t)nin > def->max_in)) {
      s = dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "has %zu inputs; %s takes %d to %s", nin, node->op_type,
                          def->min_in, def->max_in < 0 ? "any number" : dycl_arena_printf(A, "%d", def->max_in));
      goto done;
    }
    if ((int64_t)nout < def->min_out || (def->max_out >= 0 && (int64_t)nout > def->max_out)) {
      s = dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "has %zu outputs; %s gives %d to %s", nout, node->op_type,
                          def->min_out, def->max_out < 0 ? "any number" : dycl_arena_printf(A, "%d", def->max_out));
      goto done;
    }
    node->n_in = (int)nin;
    node->n_out = (int)nout;
    node->in = dycl_arena_calloc(A, nin + 1, sizeof(int));
    node->out = dycl_arena_calloc(A, nout + 1, sizeof(int));
    node->attrs = dycl_arena_calloc(A, np->n_attribute + 1, sizeof(dycl_attr_t));
    if (!node->in || !node->out || !node->attrs) {
      s = nomem();
      goto done;
    }
    for (size_t j = 0; j < nout; j++) {
      const char* name = np->output[j];
      if (!name || !*name) {
        node->out[j] = -1;
        continue;
      }
      int id;
      if (dycl_strmap_get(&sc.names, name, &id)) {
        s = dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "output '%s' is already defined", name);
        goto done;
      }
      dycl_ir_value_t* v;
      DYCL_GOTO_IF_ERROR(s, dycl_ir_add_value(ir, name, g, &v), done);
      v->def = DYCL_DEF_NODE;
      v->producer = node;
      v->producer_out = (int)j;
      node->out[j] = v->id;
      DYCL_GOTO_IF_ERROR(s, dycl_strmap_put(&sc.names, v->name, v->id), done);
    }
    nodes[n_nodes++] = node;
  }
  /* pass 2: inputs and attributes (bodies see every value of this scope) */
  for (int k = 0; k < n_nodes; k++) {
    const Onnx__NodeProto* np = gp->node[k];
    dycl_node_t* node = nodes[k];
    for (int i = 0; i < node->n_in; i++) {
      const char* name = np->input[i];
      if (!name || !*name) {
        node->in[i] = -1;
        continue;
      }
      if (!scope_lookup(&sc, name, &node->in[i])) {
        s = dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input '%s' is not defined", name);
        goto done;
      }
    }
    for (size_t a = 0; a < np->n_attribute; a++) {
      DYCL_GOTO_IF_ERROR(s, convert_attr(L, np->attribute[a], &sc, node, depth, &node->attrs[node->n_attr]), done);
      node->n_attr++;
    }
    if (dycl_op_table[node->op].flags & DYCL_OPF_CONTROL) DYCL_GOTO_IF_ERROR(s, compute_implicit(L, node), done);
  }
  /* Constant nodes become module constants */
  g->nodes = nodes;
  g->n_nodes = 0;
  for (int k = 0; k < n_nodes; k++) {
    dycl_node_t* node = nodes[k];
    if (node->op != DYCL_OP_Constant) {
      nodes[g->n_nodes++] = node;
      continue;
    }
    dycl_value_t* v;
    DYCL_GOTO_IF_ERROR(s, constant_value(L, node, &v), done);
    DYCL_GOTO_IF_ERROR(s, dycl_ir_own(ir, v), done);
    dycl_ir_value_t* iv = ir->values[node->out[0]];
    iv->def = DYCL_DEF_CONST;
    iv->producer = NULL;
    iv->constant = v;
    iv->type = dycl_type_tensor_dims(v->dtype, v->rank, v->dims);
  }
  /* outputs */
  g->out = dycl_arena_calloc(A, gp->n_output + 1, sizeof(int));
  if (!g->out) {
    s = nomem();
    goto done;
  }
  for (size_t i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto* vi = gp->output[i];
    const char* name = vi->name ? vi->name : "";
    int id;
    if (!scope_lookup(&sc, name, &id)) {
      s = dycl_error(DYCL_CODE_INVALID_MODEL, "graph '%s': output '%s' is not defined", g->name, name);
      goto done;
    }
    dycl_type_t declared;
    s = type_from_proto(L, vi->type, &declared, 0);
    if (s) {
      s = dycl_error_wrap(s, "graph '%s' output '%s'", g->name, name);
      goto done;
    }
    if (!ir->values[id]->declared.known) ir->values[id]->declared = declared;
    g->out[g->n_out++] = id;
  }
  s = topo_sort(L, g);
done:
  dycl_strmap_destroy(&sc.names);
  if (!s) *out = g;
  return s;
}

/* ------------------------------------------------------------------ model */

dycl_status_t dycl_onnx_load(const char* path, const dycl_options_t* options, dycl_ir_t** out) {
  *out = NULL;
  dycl_options_t defaults;
  if (!options) {
    dycl_options_init(&defaults);
    options = &defaults;
  }
  const dycl_allocator_t* alloc = dycl_alloc_or_default(options->allocator);
  /* the file without its large weights, which are read straight into their tensors (strip.c) */
  dycl_onnx_stripped_t file;
  DYCL_RETURN_IF_ERROR(dycl_onnx_read_stripped(alloc, path, (size_t)1 << 31, &file));
  size_t size = file.size;
  dycl_pb_allocator_t pb;
  dycl_pb_allocator_init(&pb, alloc);
  ProtobufCAllocator* pa = &pb.pa;
  Onnx__ModelProto* mp = size ? onnx__model_proto__unpack(pa, size, file.buf) : NULL;
  dycl_free(alloc, file.buf);
  file.buf = NULL;
  if (!mp) {
    dycl_onnx_stripped_free(alloc, &file);
    if (pb.failed) return dycl_error(DYCL_CODE_NO_MEMORY, "out of memory reading '%s'", path);
    return dycl_error(DYCL_CODE_INVALID_MODEL, "'%s' is not a valid ONNX model (%s)", path,
                      size ? "protobuf parsing failed" : "the file is empty");
  }
  dycl_ir_t* ir = NULL;
  loader_t L = {0};
  L.file = &file;
  dycl_status_t s = dycl_ir_create(alloc, &ir);
  if (s) goto out;
  L.ir = ir;
  L.alloc = alloc;
  dycl_strmap_init(&L.ops, alloc);
  dycl_strmap_init(&L.dim_syms, alloc);
  dycl_strmap_init(&L.attr_types, alloc);
  ir->limits.max_tensor_bytes = options->max_tensor_bytes;
  ir->max_nesting = options->max_nesting > 0 ? options->max_nesting : DYCL_DEFAULT_MAX_NESTING;
  ir->path = dycl_arena_strdup(&ir->arena, path);
  {
    const char* slash = strrchr(path, '/');
    ir->dir = slash ? dycl_arena_strndup(&ir->arena, path, (size_t)(slash - path == 0 ? 1 : slash - path))
                    : dycl_arena_strdup(&ir->arena, ".");
  }
  ir->producer = dycl_arena_printf(&ir->arena, "%s%s%s", mp->producer_name ? mp->producer_name : "",
                                   mp->producer_version && *mp->producer_version ? " " : "",
                                   mp->producer_version ? mp->producer_version : "");
  ir->ir_version = mp->has_ir_version ? mp->ir_version : 0;
  if (!ir->path || !ir->dir || !ir->producer) {
    s = nomem();
    goto out;
  }
  ir->opset = -1;
  L.training_opset = -1;
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto* o = mp->opset_import[i];
    const char* d = o->domain ? o->domain : "";
    int version = o->has_version && o->version >= INT32_MIN && o->version <= INT32_MAX ? (int)o->version : 1;
    if (!*d || strcmp(d, "ai.onnx") == 0) ir->opset = version;
    else if (strcmp(d, "ai.onnx.preview.training") == 0) L.training_opset = version;
  }
  if (ir->opset > DYCL_MAX_OPSET || ir->opset == 0 || ir->opset < -1) {
    s = dycl_error(DYCL_CODE_UNSUPPORTED, "'%s' uses ONNX opset %d; dycl implements opsets 1 to %d", path, ir->opset,
                   DYCL_MAX_OPSET);
    goto out;
  }
  if (!mp->graph) {
    s = dycl_error(DYCL_CODE_INVALID_MODEL, "'%s' has no graph", path);
    goto out;
  }
  if (mp->n_functions) {
    /* model-local functions are inlined only when used; none is supported yet */
    for (size_t i = 0; i < mp->graph->n_node; i++) {
      for (size_t f = 0; f < mp->n_functions; f++)
        if (mp->graph->node[i]->op_type && mp->functions[f]->name &&
            strcmp(mp->graph->node[i]->op_type, mp->functions[f]->name) == 0) {
          s = dycl_error(DYCL_CODE_UNSUPPORTED, "node '%s' calls model-local function '%s', which dycl does not support yet",
                         mp->graph->node[i]->name ? mp->graph->node[i]->name : "", mp->functions[f]->name);
          goto out;
        }
    }
  }
  for (int i = 0; i < DYCL_OP_COUNT_; i++) {
    s = dycl_strmap_put(&L.ops, dycl_op_table[i].name, i);
    if (s) goto out;
  }
  s = load_attr_types(&L);
  if (s) goto out;
  s = convert_graph(&L, mp->graph, NULL, NULL, 0, true, &ir->main);
  if (s) goto out;
  s = dycl_infer_module(ir);
out:
  dycl_strmap_destroy(&L.ops);
  dycl_strmap_destroy(&L.dim_syms);
  dycl_strmap_destroy(&L.attr_types);
  onnx__model_proto__free_unpacked(mp, pa);
  dycl_onnx_stripped_free(alloc, &file);
  if (s) {
    dycl_ir_destroy(ir);
    return s;
  }
  *out = ir;
  return NULL;
}
