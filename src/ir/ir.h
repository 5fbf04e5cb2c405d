/* The IR: values, nodes, graphs (regions). Graph-valued attributes of If/Loop/Scan own nested
 * graphs; a nested graph may use values of enclosing graphs (lexical scoping), resolved by the
 * loader into plain value ids. Everything lives in the module's arena. */
#ifndef DYCL_IR_IR_H
#define DYCL_IR_IR_H

#include "base/base.h"
#include "base/value.h"

/* ------------------------------------------------------------------ types */

/* A dimension: a constant (v >= 0), a symbol (sym > 0, v == -1), or unknown (v == -1, sym == 0). */
typedef struct dycl_dim {
  int64_t v;
  int sym;
} dycl_dim_t;

/* The static type of a value. `known` is false when inference could say nothing at all.
 * For a sequence or optional, dtype/rank/dims describe the tensor element. */
typedef struct dycl_type {
  bool known;
  dycl_value_kind_t kind;
  dycl_value_kind_t elem_kind; /* optionals: what they hold */
  dycl_dtype_t dtype;          /* UNDEFINED: unknown */
  int rank;                    /* -1: unknown */
  dycl_dim_t dims[DYCL_MAX_RANK];
} dycl_type_t;

dycl_type_t dycl_type_unknown(void);
dycl_type_t dycl_type_tensor(dycl_dtype_t dtype, int rank); /* dims unknown (or none for rank 0) */
dycl_type_t dycl_type_tensor_dims(dycl_dtype_t dtype, int rank, const int64_t* dims);
/* Prints e.g. "float32[2,N3,?]" or "seq<int64[?]>". */
const char* dycl_type_str(const dycl_type_t* t, char* buf, size_t size);
static inline dycl_dim_t dycl_dim_const(int64_t v) { dycl_dim_t d = {v, 0}; return d; }
static inline dycl_dim_t dycl_dim_unknown(void) { dycl_dim_t d = {-1, 0}; return d; }
static inline bool dycl_dim_known(dycl_dim_t d) { return d.v >= 0; }
static inline bool dycl_dim_equal(dycl_dim_t a, dycl_dim_t b) {
  return (a.v >= 0 && a.v == b.v) || (a.sym > 0 && a.sym == b.sym);
}

/* -------------------------------------------------------------- attributes */

/* Matches ONNX AttributeProto.AttributeType. */
typedef enum dycl_attr_type {
  DYCL_ATTR_UNDEFINED = 0,
  DYCL_ATTR_FLOAT = 1,
  DYCL_ATTR_INT = 2,
  DYCL_ATTR_STRING = 3,
  DYCL_ATTR_TENSOR = 4,
  DYCL_ATTR_GRAPH = 5,
  DYCL_ATTR_FLOATS = 6,
  DYCL_ATTR_INTS = 7,
  DYCL_ATTR_STRINGS = 8,
  DYCL_ATTR_TENSORS = 9,
  DYCL_ATTR_GRAPHS = 10,
  DYCL_ATTR_SPARSE_TENSOR = 11,
  DYCL_ATTR_SPARSE_TENSORS = 12,
  DYCL_ATTR_TYPE_PROTO = 13,
  DYCL_ATTR_TYPE_PROTOS = 14,
} dycl_attr_type_t;

struct dycl_graph;

typedef struct dycl_attr {
  const char* name;
  dycl_attr_type_t type;
  double f;
  int64_t i;
  const char* s; /* NUL-terminated copy; slen gives the length (may contain NULs) */
  size_t slen;
  dycl_value_t* t; /* TENSOR (owned by the module) */
  struct dycl_graph* g;
  int n; /* count for the list kinds */
  float* floats;
  int64_t* ints;
  const char** strings;
  dycl_value_t** tensors;
  struct dycl_graph** graphs;
  dycl_type_t tp; /* TYPE_PROTO */
} dycl_attr_t;

/* ------------------------------------------------------------------- nodes */

typedef struct dycl_node {
  int id;              /* unique in the module */
  const char* name;    /* the ONNX node name, or a generated "<op>_<id>" when it had none */
  const char* op_type; /* ONNX op_type */
  const char* domain;  /* "" for the default domain */
  int op;              /* index in the op table (dycl_op_id_t) */
  int opset;           /* version of the node's domain imported by the model */
  int n_in, n_out;
  int* in;  /* value ids; -1 for an omitted optional input */
  int* out; /* value ids; -1 for an omitted optional output */
  int n_attr;
  dycl_attr_t* attrs;
  struct dycl_graph* graph; /* the graph that holds this node */
  /* Values of enclosing scopes that this node's bodies use (If/Loop/Scan): implicit inputs. */
  int n_implicit;
  int* implicit;
} dycl_node_t;

/* ------------------------------------------------------------------ graphs */

typedef struct dycl_graph {
  int id;
  const char* name;
  struct dycl_graph* parent; /* NULL for the main graph */
  dycl_node_t* parent_node;  /* the If/Loop/Scan that owns this body */
  int depth;                 /* 0 for the main graph */
  int n_nodes;
  dycl_node_t** nodes; /* in a topological order after verification */
  int n_in, n_out;
  int* in;  /* graph inputs (value ids); for the main graph, initializer-backed inputs excluded */
  int* out; /* graph outputs (value ids) */
} dycl_graph_t;

/* ------------------------------------------------------------------ values */

typedef enum dycl_value_def {
  DYCL_DEF_INPUT = 0,    /* an input of its graph */
  DYCL_DEF_CONST = 1,    /* an initializer or the output of a Constant node */
  DYCL_DEF_NODE = 2,     /* an output of a node */
} dycl_value_def_t;

typedef struct dycl_ir_value {
  int id;
  const char* name;
  dycl_type_t type;     /* inferred */
  dycl_type_t declared; /* as declared in the file (a hint) */
  dycl_value_def_t def;
  dycl_graph_t* graph;   /* the graph whose scope defines it */
  dycl_node_t* producer; /* DYCL_DEF_NODE */
  int producer_out;
  dycl_value_t* constant; /* DYCL_DEF_CONST: the value (owned by the module) */
} dycl_ir_value_t;

/* ------------------------------------------------------------------ module */

typedef struct dycl_ir {
  dycl_arena_t arena;
  const dycl_allocator_t* alloc;
  dycl_limits_t limits;
  int max_nesting;
  dycl_ir_value_t** values;
  int64_t n_values, cap_values;
  dycl_graph_t* main;
  int n_graphs;
  int n_nodes;
  int opset;             /* default-domain opset */
  int64_t ir_version;
  const char* producer;  /* "pytorch 1.13.1" */
  const char* path;      /* the model file */
  const char* dir;       /* the folder external data must stay inside */
  dycl_value_t** owned;  /* constants to release with the module */
  int64_t n_owned, cap_owned;
  int next_sym;
} dycl_ir_t;

dycl_status_t dycl_ir_create(const dycl_allocator_t* alloc, dycl_ir_t** out);
void dycl_ir_destroy(dycl_ir_t* ir);
/* Adds a value; `name` is copied. */
dycl_status_t dycl_ir_add_value(dycl_ir_t* ir, const char* name, dycl_graph_t* graph,
                                dycl_ir_value_t** out);
/* Takes ownership of a run-time value so that it is released with the module. */
dycl_status_t dycl_ir_own(dycl_ir_t* ir, dycl_value_t* v);
/* Adds a value of `graph` named `name` (copied; NULL: out of memory) that stands for the module
 * constant tensor v: DYCL_DEF_CONST, its type v's. Takes ownership of v, which is released at once
 * when this fails. */
dycl_status_t dycl_ir_add_const(dycl_ir_t* ir, const char* name, dycl_graph_t* graph, dycl_value_t* v,
                                dycl_ir_value_t** out);
static inline dycl_ir_value_t* dycl_ir_value(const dycl_ir_t* ir, int id) { return ir->values[id]; }
/* The module constant tensor value id stands for, or NULL (not a constant, or not a tensor). */
static inline const dycl_value_t* dycl_ir_const_tensor(const dycl_ir_t* ir, int id) {
  if (id < 0 || ir->values[id]->def != DYCL_DEF_CONST) return NULL;
  const dycl_value_t* c = ir->values[id]->constant;
  return c && c->kind == DYCL_VALUE_TENSOR ? c : NULL;
}
/* Whether value id is among ids[0..n). */
static inline bool dycl_ids_contain(const int* ids, int n, int id) {
  for (int i = 0; i < n; i++)
    if (ids[i] == id) return true;
  return false;
}

/* Attribute lookup; the typed getters return the default when the attribute is absent. */
const dycl_attr_t* dycl_node_attr(const dycl_node_t* node, const char* name);
int64_t dycl_attr_int(const dycl_node_t* node, const char* name, int64_t dflt);
double dycl_attr_float(const dycl_node_t* node, const char* name, double dflt);
const char* dycl_attr_string(const dycl_node_t* node, const char* name, const char* dflt);
/* NULL (and *n = 0) when absent. */
const int64_t* dycl_attr_ints(const dycl_node_t* node, const char* name, int* n);
const float* dycl_attr_floats(const dycl_node_t* node, const char* name, int* n);
dycl_value_t* dycl_attr_tensor(const dycl_node_t* node, const char* name);
dycl_graph_t* dycl_attr_graph(const dycl_node_t* node, const char* name);

/* An error naming the node: "node 'NAME' (OPTYPE): message". */
dycl_status_t dycl_node_error(const dycl_node_t* node, dycl_code_t code, const char* fmt, ...)
    DYCL_PRINTF(3, 4);

/* Uses of value v in graph g and its nested graphs: node inputs, implicit inputs, graph outputs. */
int dycl_graph_uses(const dycl_graph_t* g, int v);

/* Walks every node of a graph and of its nested graphs, parents before bodies. */
typedef dycl_status_t (*dycl_node_visit_fn)(void* user, dycl_node_t* node);
dycl_status_t dycl_graph_walk(dycl_graph_t* g, dycl_node_visit_fn fn, void* user);

#endif
