/* IR → ONNX protobuf messages (protobuf-c), and packing them into model files. Used by `dycl split`
 * to write each sub-network as a static ONNX model; reusable by any emitter that needs TensorProtos
 * (weights) or types. Everything is built in a caller's arena; tensor data is borrowed. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emit/emit.h"

#define TRAINING_DOMAIN "ai.onnx.preview.training"
/* IR version 8 covers every default-domain opset dycl implements (up to 17), sequences and optionals. */
#define SPLIT_IR_VERSION 8

static dycl_status_t nomem(void) { return dycl_error_nomem(); }

#define NEW_MSG(A, type, init, var)          \
  type* var = dycl_arena_alloc((A), sizeof *var); \
  if (!var) return nomem();                  \
  init(var)

/* ------------------------------------------------------------------ names */

/* sym → dim_param, recovered from the model file's declared types. */
typedef struct symctx {
  const dycl_ir_t* ir;
  dycl_arena_t* A;
  dycl_strmap_t by_name; /* value name → first value id with it */
  const char** syms;
  int depth_limit;
} symctx_t;

/* Matches a declared ONNX type against the IR's declared type of value `id` and records the dim_param of
 * each symbolic dim. */
static dycl_status_t sym_match_type(symctx_t* C, const Onnx__TypeProto* tp, const dycl_type_t* t) {
  for (int depth = 0; tp && depth < 8; depth++) {
    if (tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE) tp = tp->sequence_type->elem_type;
    else if (tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE) tp = tp->optional_type->elem_type;
    else break;
  }
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type->shape) return NULL;
  const Onnx__TensorShapeProto* sh = tp->tensor_type->shape;
  if (!t->known || t->rank != (int)sh->n_dim) return NULL;
  for (size_t d = 0; d < sh->n_dim && d < DYCL_MAX_RANK; d++) {
    const Onnx__TensorShapeProto__Dimension* dim = sh->dim[d];
    int sym = t->dims[d].sym;
    if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM || !dim->dim_param || !*dim->dim_param)
      continue;
    if (sym <= 0 || sym > C->ir->next_sym || C->syms[sym]) continue;
    C->syms[sym] = dycl_arena_strdup(C->A, dim->dim_param);
    if (!C->syms[sym]) return nomem();
  }
  return NULL;
}

static dycl_status_t sym_match_vi(symctx_t* C, const Onnx__ValueInfoProto* vi) {
  if (!vi || !vi->name || !vi->type) return NULL;
  int id;
  if (!dycl_strmap_get(&C->by_name, vi->name, &id)) return NULL;
  DYCL_RETURN_IF_ERROR(sym_match_type(C, vi->type, &C->ir->values[id]->declared));
  /* a name reused by sibling bodies: try the other values with it too */
  for (int64_t i = id + 1; i < C->ir->n_values; i++)
    if (strcmp(C->ir->values[i]->name, vi->name) == 0)
      DYCL_RETURN_IF_ERROR(sym_match_type(C, vi->type, &C->ir->values[i]->declared));
  return NULL;
}

static dycl_status_t sym_match_graph(symctx_t* C, const Onnx__GraphProto* g, int depth) {
  if (!g || depth > C->depth_limit) return NULL;
  for (size_t i = 0; i < g->n_input; i++) DYCL_RETURN_IF_ERROR(sym_match_vi(C, g->input[i]));
  for (size_t i = 0; i < g->n_output; i++) DYCL_RETURN_IF_ERROR(sym_match_vi(C, g->output[i]));
  for (size_t k = 0; k < g->n_node; k++) {
    const Onnx__NodeProto* n = g->node[k];
    for (size_t a = 0; a < n->n_attribute; a++) {
      const Onnx__AttributeProto* at = n->attribute[a];
      if (at->g) DYCL_RETURN_IF_ERROR(sym_match_graph(C, at->g, depth + 1));
      for (size_t j = 0; j < at->n_graphs; j++) DYCL_RETURN_IF_ERROR(sym_match_graph(C, at->graphs[j], depth + 1));
    }
  }
  return NULL;
}

/* Best effort: a file that cannot be re-read (gone, changed, malformed) leaves the generated
 * names; running out of memory is an error (the names written would depend on it). */
static dycl_status_t recover_sym_names(dycl_arena_t* A, const dycl_ir_t* ir, const char** syms) {
  if (!ir->path || ir->next_sym <= 0) return NULL;
  uint8_t* buf;
  size_t size;
  dycl_status_t s = dycl_read_file(ir->alloc, ir->path, (size_t)1 << 31, &buf, &size);
  if (s) {
    if (dycl_status_code(s) == DYCL_CODE_NO_MEMORY) return s;
    dycl_status_free(s);
    return NULL;
  }
  dycl_pb_allocator_t pb;
  dycl_pb_allocator_init(&pb, ir->alloc);
  Onnx__ModelProto* mp = size ? onnx__model_proto__unpack(&pb.pa, size, buf) : NULL;
  dycl_free(ir->alloc, buf);
  if (!mp) return pb.failed ? dycl_error_nomem() : NULL;
  symctx_t C = {ir, A, {0}, syms, ir->max_nesting > 0 ? ir->max_nesting : 64};
  dycl_strmap_init(&C.by_name, ir->alloc);
  for (int64_t i = 0; i < ir->n_values && !s; i++) {
    int dummy;
    if (!dycl_strmap_get(&C.by_name, ir->values[i]->name, &dummy)) s = dycl_strmap_put(&C.by_name, ir->values[i]->name, (int)i);
  }
  if (!s) s = sym_match_graph(&C, mp->graph, 0);
  dycl_strmap_destroy(&C.by_name);
  onnx__model_proto__free_unpacked(mp, &pb.pa);
  return s;
}

dycl_status_t dycl_onnx_names_create(dycl_arena_t* A, const dycl_ir_t* ir, dycl_onnx_names_t* out) {
  memset(out, 0, sizeof *out);
  out->values = dycl_arena_calloc(A, (size_t)ir->n_values + 1, sizeof(char*));
  out->n_syms = ir->next_sym + 1;
  out->syms = dycl_arena_calloc(A, (size_t)out->n_syms, sizeof(char*));
  if (!out->values || !out->syms) return nomem();
  dycl_strmap_t used;
  dycl_strmap_init(&used, ir->alloc);
  dycl_status_t s = NULL;
  /* first pass: every distinct name once, for the first value that has it */
  for (int64_t i = 0; i < ir->n_values && !s; i++) {
    const char* nm = ir->values[i]->name;
    int dummy;
    if (!nm || !*nm || dycl_strmap_get(&used, nm, &dummy)) continue;
    out->values[i] = nm;
    s = dycl_strmap_put(&used, nm, (int)i);
  }
  /* second pass: the rest get a suffix that no value uses */
  for (int64_t i = 0; i < ir->n_values && !s; i++) {
    if (out->values[i]) continue;
    const char* nm = ir->values[i]->name && *ir->values[i]->name ? ir->values[i]->name : "v";
    char* cand = NULL;
    for (int attempt = 0; !s; attempt++) {
      cand = attempt ? dycl_arena_printf(A, "%s__%" PRId64 "_%d", nm, i, attempt) : dycl_arena_printf(A, "%s__%" PRId64, nm, i);
      int dummy;
      if (!cand) s = nomem();
      else if (!dycl_strmap_get(&used, cand, &dummy)) break;
    }
    if (s) break;
    out->values[i] = cand;
    s = dycl_strmap_put(&used, cand, (int)i);
  }
  if (!s) s = recover_sym_names(A, ir, out->syms);
  /* symbols without a file name: N<k>, unless a file name already says so */
  for (int k = 1; k < out->n_syms && !s; k++) {
    if (out->syms[k]) continue;
    for (int attempt = 0;; attempt++) {
      char* cand = attempt ? dycl_arena_printf(A, "N%d_%d", k, attempt) : dycl_arena_printf(A, "N%d", k);
      if (!cand) {
        s = nomem();
        break;
      }
      bool clash = false;
      for (int j = 1; j < out->n_syms && !clash; j++) clash = j != k && out->syms[j] && strcmp(out->syms[j], cand) == 0;
      if (!clash) {
        out->syms[k] = cand;
        break;
      }
    }
  }
  dycl_strmap_destroy(&used);
  return s;
}

/* ---------------------------------------------------------------- tensors */

dycl_status_t dycl_onnx_tensor_proto(dycl_arena_t* A, const dycl_value_t* v, const char* name, Onnx__TensorProto** out) {
  if (v->kind != DYCL_VALUE_TENSOR) return dycl_error(DYCL_CODE_UNSUPPORTED, "'%s' is not a tensor", name ? name : "");
  NEW_MSG(A, Onnx__TensorProto, onnx__tensor_proto__init, tp);
  tp->name = (char*)(name ? name : "");
  tp->has_data_type = 1;
  tp->data_type = (int32_t)v->dtype;
  tp->n_dims = (size_t)v->rank;
  if (v->rank) {
    tp->dims = dycl_arena_calloc(A, (size_t)v->rank, sizeof(int64_t));
    if (!tp->dims) return nomem();
    memcpy(tp->dims, v->dims, (size_t)v->rank * sizeof(int64_t));
  }
  if (v->dtype == DYCL_DTYPE_STRING) {
    ProtobufCBinaryData* sd = dycl_arena_calloc(A, (size_t)v->numel + 1, sizeof *sd);
    if (!sd) return nomem();
    char* const* d = v->data;
    for (int64_t i = 0; i < v->numel; i++) {
      sd[i].data = (uint8_t*)(d[i] ? d[i] : "");
      sd[i].len = d[i] ? strlen(d[i]) : 0;
    }
    tp->n_string_data = (size_t)v->numel;
    tp->string_data = sd;
  } else {
    tp->has_raw_data = 1;
    tp->raw_data.data = v->data;
    tp->raw_data.len = v->nbytes;
  }
  *out = tp;
  return NULL;
}

/* ------------------------------------------------------------------ types */

static dycl_status_t tensor_type(dycl_arena_t* A, const dycl_type_t* t, const dycl_onnx_names_t* names, bool shapes,
                                 Onnx__TypeProto** out) {
  NEW_MSG(A, Onnx__TypeProto, onnx__type_proto__init, tp);
  NEW_MSG(A, Onnx__TypeProto__Tensor, onnx__type_proto__tensor__init, tt);
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = t->known ? (int32_t)t->dtype : 0;
  if (t->known && t->rank >= 0) {
    NEW_MSG(A, Onnx__TensorShapeProto, onnx__tensor_shape_proto__init, sh);
    tt->shape = sh;
    sh->n_dim = (size_t)t->rank;
    sh->dim = dycl_arena_calloc(A, (size_t)t->rank + 1, sizeof *sh->dim);
    if (!sh->dim) return nomem();
    for (int d = 0; d < t->rank && d < DYCL_MAX_RANK; d++) {
      NEW_MSG(A, Onnx__TensorShapeProto__Dimension, onnx__tensor_shape_proto__dimension__init, dim);
      sh->dim[d] = dim;
      if (!shapes) continue;
      if (t->dims[d].v >= 0) {
        dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dim->dim_value = t->dims[d].v;
      } else if (t->dims[d].sym > 0 && names && t->dims[d].sym < names->n_syms && names->syms[t->dims[d].sym]) {
        dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        dim->dim_param = (char*)names->syms[t->dims[d].sym];
      }
    }
  }
  *out = tp;
  return NULL;
}

dycl_status_t dycl_onnx_type_proto(dycl_arena_t* A, const dycl_type_t* t, const dycl_onnx_names_t* names, bool shapes,
                                   Onnx__TypeProto** out) {
  Onnx__TypeProto* elem = NULL;
  DYCL_RETURN_IF_ERROR(tensor_type(A, t, names, shapes, &elem));
  if (!t->known || t->kind == DYCL_VALUE_TENSOR) {
    *out = elem;
    return NULL;
  }
  bool seq_inside = t->kind == DYCL_VALUE_SEQUENCE || (t->kind == DYCL_VALUE_OPTIONAL && t->elem_kind == DYCL_VALUE_SEQUENCE);
  if (seq_inside) {
    NEW_MSG(A, Onnx__TypeProto, onnx__type_proto__init, sq);
    NEW_MSG(A, Onnx__TypeProto__Sequence, onnx__type_proto__sequence__init, s);
    sq->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    sq->sequence_type = s;
    s->elem_type = elem;
    elem = sq;
  }
  if (t->kind == DYCL_VALUE_OPTIONAL) {
    NEW_MSG(A, Onnx__TypeProto, onnx__type_proto__init, op);
    NEW_MSG(A, Onnx__TypeProto__Optional, onnx__type_proto__optional__init, o);
    op->value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
    op->optional_type = o;
    o->elem_type = elem;
    elem = op;
  }
  *out = elem;
  return NULL;
}

dycl_status_t dycl_onnx_value_info(dycl_arena_t* A, const char* name, const dycl_type_t* t, const dycl_onnx_names_t* names,
                                   bool shapes, Onnx__ValueInfoProto** out) {
  NEW_MSG(A, Onnx__ValueInfoProto, onnx__value_info_proto__init, vi);
  vi->name = (char*)name;
  DYCL_RETURN_IF_ERROR(dycl_onnx_type_proto(A, t, names, shapes, &vi->type));
  *out = vi;
  return NULL;
}

/* ------------------------------------------------------------------ nodes */

static dycl_status_t attr_proto(dycl_arena_t* A, const dycl_node_t* n, const dycl_attr_t* a, const dycl_onnx_names_t* names,
                                Onnx__AttributeProto** out) {
  NEW_MSG(A, Onnx__AttributeProto, onnx__attribute_proto__init, ap);
  ap->name = (char*)a->name;
  ap->has_type = 1;
  ap->type = (Onnx__AttributeProto__AttributeType)a->type;
  switch (a->type) {
    case DYCL_ATTR_FLOAT:
      ap->has_f = 1;
      ap->f = (float)a->f;
      break;
    case DYCL_ATTR_INT:
      ap->has_i = 1;
      ap->i = a->i;
      break;
    case DYCL_ATTR_STRING:
      ap->has_s = 1;
      ap->s.data = (uint8_t*)(a->s ? a->s : "");
      ap->s.len = a->s ? a->slen : 0;
      break;
    case DYCL_ATTR_TENSOR:
      if (!a->t) return dycl_node_error(n, DYCL_CODE_INTERNAL, "attribute '%s' has no tensor", a->name);
      DYCL_RETURN_IF_ERROR(dycl_onnx_tensor_proto(A, a->t, "", &ap->t));
      break;
    case DYCL_ATTR_FLOATS:
      ap->n_floats = (size_t)a->n;
      ap->floats = a->floats;
      break;
    case DYCL_ATTR_INTS:
      ap->n_ints = (size_t)a->n;
      ap->ints = a->ints;
      break;
    case DYCL_ATTR_STRINGS:
      ap->n_strings = (size_t)a->n;
      ap->strings = dycl_arena_calloc(A, (size_t)a->n + 1, sizeof *ap->strings);
      if (!ap->strings) return nomem();
      for (int i = 0; i < a->n; i++) {
        ap->strings[i].data = (uint8_t*)a->strings[i];
        ap->strings[i].len = strlen(a->strings[i]);
      }
      break;
    case DYCL_ATTR_TENSORS:
      ap->n_tensors = (size_t)a->n;
      ap->tensors = dycl_arena_calloc(A, (size_t)a->n + 1, sizeof *ap->tensors);
      if (!ap->tensors) return nomem();
      for (int i = 0; i < a->n; i++) DYCL_RETURN_IF_ERROR(dycl_onnx_tensor_proto(A, a->tensors[i], "", &ap->tensors[i]));
      break;
    case DYCL_ATTR_TYPE_PROTO:
      DYCL_RETURN_IF_ERROR(dycl_onnx_type_proto(A, &a->tp, names, true, &ap->tp));
      break;
    default:
      return dycl_node_error(n, DYCL_CODE_UNSUPPORTED, "attribute '%s' of type %d cannot be written to a sub-network", a->name,
                             (int)a->type);
  }
  *out = ap;
  return NULL;
}

static const char* value_name(const dycl_onnx_names_t* names, int id) { return id >= 0 ? names->values[id] : ""; }

dycl_status_t dycl_onnx_node_proto(dycl_arena_t* A, const dycl_ir_t* ir, const dycl_node_t* n,
                                   const dycl_onnx_names_t* names, Onnx__NodeProto** out) {
  (void)ir;
  NEW_MSG(A, Onnx__NodeProto, onnx__node_proto__init, np);
  np->name = (char*)n->name;
  np->op_type = (char*)n->op_type;
  np->domain = (char*)(strcmp(n->domain, "ai.onnx") == 0 ? "" : n->domain);
  np->n_input = (size_t)n->n_in;
  np->input = dycl_arena_calloc(A, (size_t)n->n_in + 1, sizeof(char*));
  np->n_output = (size_t)n->n_out;
  np->output = dycl_arena_calloc(A, (size_t)n->n_out + 1, sizeof(char*));
  np->n_attribute = (size_t)n->n_attr;
  np->attribute = dycl_arena_calloc(A, (size_t)n->n_attr + 1, sizeof *np->attribute);
  if (!np->input || !np->output || !np->attribute) return nomem();
  for (int i = 0; i < n->n_in; i++) np->input[i] = (char*)value_name(names, n->in[i]);
  for (int j = 0; j < n->n_out; j++) np->output[j] = (char*)value_name(names, n->out[j]);
  for (int a = 0; a < n->n_attr; a++) DYCL_RETURN_IF_ERROR(attr_proto(A, n, &n->attrs[a], names, &np->attribute[a]));
  *out = np;
  return NULL;
}

/* ----------------------------------------------------------------- models */

/* The type written for a sub-network input: inferred, with the dtype (and rank) the file declared where
 * inference has none. */
dycl_type_t dycl_onnx_io_type(const dycl_ir_value_t* v) {
  dycl_type_t t = v->type;
  const dycl_type_t* d = &v->declared;
  if (!t.known) return *d;
  /* A graph input the file declares optional stays optional where inference narrowed it to what it
   * holds (a loop-carried optional that the body replaces by a plain sequence): the ops reading it
   * (OptionalHasElement/OptionalGetElement before opset 18) take optionals only. */
  if (v->def == DYCL_DEF_INPUT && d->known && d->kind == DYCL_VALUE_OPTIONAL && t.kind != DYCL_VALUE_OPTIONAL &&
      t.kind == d->elem_kind) {
    t.elem_kind = t.kind;
    t.kind = DYCL_VALUE_OPTIONAL;
  }
  if (d->known && d->kind == t.kind) {
    if (!t.dtype) t.dtype = d->dtype;
    if (t.rank < 0 && d->rank >= 0) { /* the rank only: declared dims may be wrong */
      t.rank = d->rank;
      for (int i = 0; i < t.rank; i++) t.dims[i] = dycl_dim_unknown();
    }
  }
  return t;
}

static Onnx__OperatorSetIdProto* opset_id(dycl_arena_t* A, const char* domain, int64_t version) {
  Onnx__OperatorSetIdProto* o = dycl_arena_alloc(A, sizeof *o);
  if (!o) return NULL;
  onnx__operator_set_id_proto__init(o);
  o->domain = (char*)domain;
  o->has_version = 1;
  o->version = version;
  return o;
}

dycl_status_t dycl_onnx_subnet_model(dycl_arena_t* A, const dycl_program_t* p, const dycl_subnet_t* sn,
                                     const dycl_onnx_names_t* names, const dycl_onnx_subnet_options_t* opt,
                                     Onnx__ModelProto** out) {
  const dycl_ir_t* ir = p->ir;
  dycl_onnx_subnet_options_t defaults = {true, NULL};
  if (!opt) opt = &defaults;
  NEW_MSG(A, Onnx__ModelProto, onnx__model_proto__init, m);
  NEW_MSG(A, Onnx__GraphProto, onnx__graph_proto__init, g);
  m->has_ir_version = 1;
  m->ir_version = SPLIT_IR_VERSION;
  m->producer_name = "dycl";
  m->producer_version = (char*)(opt->producer_version ? opt->producer_version : DYCL_VERSION);
  m->doc_string = dycl_arena_printf(A, "%s of %s (graph '%s'): a straight-line segment cut by dycl split", sn->name,
                                    ir->path ? ir->path : "?", sn->graph->name);
  m->graph = g;
  /* opset imports: the default domain, and the training domain when a node of this segment uses it */
  int training = -1;
  for (int k = 0; k < sn->n_nodes; k++)
    if (strcmp(sn->nodes[k]->domain, TRAINING_DOMAIN) == 0) training = sn->nodes[k]->opset;
  m->opset_import = dycl_arena_calloc(A, 3, sizeof *m->opset_import);
  if (!m->opset_import || !m->doc_string) return nomem();
  if (ir->opset > 0 && !(m->opset_import[m->n_opset_import++] = opset_id(A, "", ir->opset))) return nomem();
  if (training > 0 && !(m->opset_import[m->n_opset_import++] = opset_id(A, TRAINING_DOMAIN, training))) return nomem();

  g->name = (char*)sn->name;
  g->n_input = (size_t)sn->n_in;
  g->input = dycl_arena_calloc(A, (size_t)sn->n_in + 1, sizeof *g->input);
  g->n_output = (size_t)sn->n_out;
  g->output = dycl_arena_calloc(A, (size_t)sn->n_out + 1, sizeof *g->output);
  g->n_initializer = (size_t)sn->n_const;
  g->initializer = dycl_arena_calloc(A, (size_t)sn->n_const + 1, sizeof *g->initializer);
  g->n_node = (size_t)sn->n_nodes;
  g->node = dycl_arena_calloc(A, (size_t)sn->n_nodes + 1, sizeof *g->node);
  if (!g->input || !g->output || !g->initializer || !g->node) return nomem();
  for (int i = 0; i < sn->n_in; i++) {
    const dycl_ir_value_t* v = ir->values[sn->in[i]];
    dycl_type_t t = dycl_onnx_io_type(v);
    DYCL_RETURN_IF_ERROR(dycl_onnx_value_info(A, names->values[v->id], &t, names, true, &g->input[i]));
  }
  for (int i = 0; i < sn->n_const; i++) {
    const dycl_ir_value_t* v = ir->values[sn->consts[i]];
    if (!v->constant) return dycl_error(DYCL_CODE_INTERNAL, "%s: constant '%s' has no value", sn->name, v->name);
    DYCL_RETURN_IF_ERROR(dycl_onnx_tensor_proto(A, v->constant, names->values[v->id], &g->initializer[i]));
  }
  for (int k = 0; k < sn->n_nodes; k++) DYCL_RETURN_IF_ERROR(dycl_onnx_node_proto(A, ir, sn->nodes[k], names, &g->node[k]));
  for (int j = 0; j < sn->n_out; j++) {
    const dycl_ir_value_t* v = ir->values[sn->out[j]];
    dycl_type_t t = dycl_onnx_io_type(v);
    DYCL_RETURN_IF_ERROR(dycl_onnx_value_info(A, names->values[v->id], &t, names, opt->output_shapes, &g->output[j]));
  }
  *out = m;
  return NULL;
}

/* ---------------------------------------------------------------- files */

dycl_status_t dycl_mkdirs(const char* path) {
  char buf[PATH_MAX];
  size_t n = strlen(path);
  if (!n) return dycl_error(DYCL_CODE_IO, "empty folder name");
  if (n >= sizeof buf) return dycl_error(DYCL_CODE_IO, "path too long: '%s'", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char c = buf[i];
    buf[i] = 0;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return dycl_error(DYCL_CODE_IO, "cannot create folder '%s': %s", buf, strerror(errno));
    buf[i] = c;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return dycl_error(DYCL_CODE_IO, "'%s' is not a folder", path);
  return NULL;
}

dycl_status_t dycl_onnx_write_model(const dycl_allocator_t* alloc, const Onnx__ModelProto* m, const char* path) {
  size_t n = onnx__model_proto__get_packed_size(m);
  if (n > (size_t)INT32_MAX)
    return dycl_error(DYCL_CODE_LIMIT, "'%s' would be %zu bytes, over protobuf's 2 GiB limit", path, n);
  uint8_t* buf = dycl_malloc(alloc, n ? n : 1);
  if (!buf) return nomem();
  onnx__model_proto__pack(m, buf);
  char tmp[PATH_MAX];
  dycl_status_t s = NULL;
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
    dycl_free(alloc, buf);
    return dycl_error(DYCL_CODE_IO, "path too long: '%s'", path);
  }
  FILE* f = fopen(tmp, "wb");
  if (!f) {
    s = dycl_error(DYCL_CODE_IO, "cannot write '%s': %s", path, strerror(errno));
  } else {
    bool ok = fwrite(buf, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
      s = dycl_error(DYCL_CODE_IO, "cannot write '%s': %s", path, strerror(errno));
      remove(tmp);
    }
  }
  dycl_free(alloc, buf);
  return s;
}
