/* dycl split: each sub-network as a static ONNX model, DIR/subnet_<k>.onnx, and the host tree as
 * DIR/program.json — what another compiler (ONNX Runtime, TVM, ...) needs to run the sub-networks
 * while a host of its own runs the control flow.
 *
 * program.json (format "dycl-split", version 1):
 *   inputs       the values the caller provides: [{name, type}]
 *   outputs      [{name, value, type}]: graph output `name` is the host value `value` (they differ when
 *                an Identity was removed: the host binds aliases, no sub-network copies)
 *   constants    values the host binds directly (a body returning a constant, a constant trip count,
 *                ...): [{name, type, file: "constants/const_<n>.pb" (a TensorProto), value: [...] when
 *                small}]. Weights a sub-network reads are initializers of its own file instead.
 *   aliases      [{name, value}]: each removed Identity's output and the value it stands for
 *   subnets      [{index, name, file, graph, nodes, inputs: [{name, type}], outputs: [{name, type}]}];
 *                the ONNX file's graph inputs/outputs are these, in this order, with these names
 *   host         the main block. A block is {graph, inputs, steps, outputs}; `inputs` are the names the
 *                body's graph inputs bind (for bodies), `outputs` the values it returns. Steps:
 *     {op: "call", subnet, inputs, outputs}
 *     {op: "if", cond, then: block, else: block, outputs}: outputs[j] := the taken block's outputs[j]
 *     {op: "loop", trip_count|null, cond|null, initial: [carried...], num_carried, num_scan_outputs,
 *      body, outputs}: body inputs are (iteration number int64 scalar, condition bool scalar,
 *      carried...); body outputs are (condition, carried..., scan outputs...); run while
 *      (trip_count absent or i < trip_count) and cond; outputs are the final carried values, then
 *      each scan output's per-iteration values stacked along a new axis 0
 *     {op: "scan", opset, num_scan_inputs, initial_state, scan_inputs, scan_input_axes,
 *      scan_input_directions, scan_output_axes, scan_output_directions, sequence_lens (Scan-8),
 *      body, outputs}: ONNX Scan semantics
 *     {op: "sequence_map", inputs, body, outputs}: the body once per element of the input sequences
 *      (tensor inputs passed whole), each body output collected into an output sequence
 *   Every control step also lists `captures` (values of enclosing blocks its body reads, which the
 *   host must keep alive) and every step `release` (values whose last use in the block is this step).
 *   Value names are unique in the whole file (a name reused by sibling bodies gets "__<id>"); null
 *   stands for an omitted optional input or output. A type is {kind: tensor|sequence|optional,
 *   elem_kind (optionals), dtype, shape: [int | "dim_param" | null] or null when the rank is unknown}.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "emit/emit.h"
#include "exec/model.h"
#include "ops/op.h"

#define SMALL_CONSTANT 16 /* constants with at most this many elements are also written inline */

typedef struct splitter {
  const dycl_program_t* p;
  const dycl_ir_t* ir;
  dycl_arena_t A;
  dycl_onnx_names_t names;
  const char* dir;
  int* const_index; /* value id → index in host constants, -1 if not one */
  int* consts;      /* host constants in order */
  int n_consts;
  FILE* f;
} splitter_t;

/* ------------------------------------------------------------------- JSON */

static void json_str(FILE* f, const char* s) {
  fputc('"', f);
  for (const unsigned char* c = (const unsigned char*)(s ? s : ""); *c; c++) {
    if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
    else if (*c == '\n') fputs("\\n", f);
    else if (*c == '\t') fputs("\\t", f);
    else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
    else fputc(*c, f);
  }
  fputc('"', f);
}

static void json_value_name(splitter_t* S, int id) {
  if (id < 0) fputs("null", S->f);
  else json_str(S->f, S->names.values[id]);
}

static void json_names(splitter_t* S, const int* ids, int n) {
  fputc('[', S->f);
  for (int i = 0; i < n; i++) {
    if (i) fputs(", ", S->f);
    json_value_name(S, ids[i]);
  }
  fputc(']', S->f);
}

static const char* kind_name(dycl_value_kind_t k) {
  return k == DYCL_VALUE_SEQUENCE ? "sequence" : k == DYCL_VALUE_OPTIONAL ? "optional" : "tensor";
}

static void json_type(splitter_t* S, const dycl_type_t* t) {
  FILE* f = S->f;
  if (!t->known) {
    fputs("{\"kind\": null, \"dtype\": null, \"shape\": null}", f);
    return;
  }
  fprintf(f, "{\"kind\": \"%s\", ", kind_name(t->kind));
  if (t->kind == DYCL_VALUE_OPTIONAL) fprintf(f, "\"elem_kind\": \"%s\", ", kind_name(t->elem_kind));
  if (t->dtype) fprintf(f, "\"dtype\": \"%s\", \"shape\": ", dycl_dtype_name(t->dtype));
  else fputs("\"dtype\": null, \"shape\": ", f);
  if (t->rank < 0) {
    fputs("null}", f);
    return;
  }
  fputc('[', f);
  for (int d = 0; d < t->rank && d < DYCL_MAX_RANK; d++) {
    if (d) fputs(", ", f);
    if (t->dims[d].v >= 0) fprintf(f, "%" PRId64, t->dims[d].v);
    else if (t->dims[d].sym > 0 && t->dims[d].sym < S->names.n_syms) json_str(f, S->names.syms[t->dims[d].sym]);
    else fputs("null", f);
  }
  fputs("]}", f);
}

static void json_named_values(splitter_t* S, const int* ids, int n, const char* indent) {
  fputc('[', S->f);
  for (int i = 0; i < n; i++) {
    fprintf(S->f, "%s\n%s  {\"name\": ", i ? "," : "", indent);
    json_value_name(S, ids[i]);
    fputs(", \"type\": ", S->f);
    dycl_type_t t = ids[i] >= 0 ? dycl_onnx_io_type(S->ir->values[ids[i]]) : dycl_type_unknown();
    json_type(S, &t);
    fputc('}', S->f);
  }
  if (n) fprintf(S->f, "\n%s", indent);
  fputc(']', S->f);
}

static void json_ints(FILE* f, const int64_t* v, int n) {
  fputc('[', f);
  for (int i = 0; v && i < n; i++) fprintf(f, "%s%" PRId64, i ? ", " : "", v[i]);
  fputc(']', f);
}

static void json_scalar(FILE* f, const dycl_value_t* v, int64_t i) {
  switch (v->dtype) {
    case DYCL_DTYPE_STRING: json_str(f, ((char* const*)v->data)[i]); return;
    case DYCL_DTYPE_BOOL: fputs(((const uint8_t*)v->data)[i] ? "true" : "false", f); return;
    case DYCL_DTYPE_UINT64: fprintf(f, "%" PRIu64, ((const uint64_t*)v->data)[i]); return;
    default: break;
  }
  if (dycl_dtype_is_float(v->dtype)) {
    double x = dycl_tensor_get_f64(v, i);
    if (isnan(x)) fputs("\"NaN\"", f);
    else if (isinf(x)) fputs(x > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
    else fprintf(f, "%.9g", x);
  } else {
    fprintf(f, "%" PRId64, dycl_tensor_get_i64(v, i));
  }
}

/* ------------------------------------------------------------ host tree */

static void indent_to(FILE* f, int n) { fprintf(f, "%*s", n, ""); }

static void write_block(splitter_t* S, const dycl_block_t* b, int ind);

static void write_step(splitter_t* S, const dycl_step_t* st, int ind) {
  FILE* f = S->f;
  const dycl_node_t* n = st->node;
  fputs("{", f);
  switch (st->kind) {
    case DYCL_STEP_CALL:
      fprintf(f, "\"op\": \"call\", \"subnet\": %d, \"inputs\": ", st->subnet->id);
      json_names(S, st->subnet->in, st->subnet->n_in);
      fputs(", \"outputs\": ", f);
      json_names(S, st->subnet->out, st->subnet->n_out);
      break;
    case DYCL_STEP_IF:
      fputs("\"op\": \"if\", \"node\": ", f);
      json_str(f, n->name);
      fputs(", \"cond\": ", f);
      json_value_name(S, n->in[0]);
      fprintf(f, ",\n");
      indent_to(f, ind + 2);
      fputs("\"then\": ", f);
      write_block(S, st->body[0], ind + 2);
      fprintf(f, ",\n");
      indent_to(f, ind + 2);
      fputs("\"else\": ", f);
      write_block(S, st->body[1], ind + 2);
      fputs(",\n", f);
      indent_to(f, ind + 2);
      break;
    case DYCL_STEP_LOOP: {
      int n_carried = n->n_in - 2;
      int n_scan = st->body[0]->graph->n_out - 1 - n_carried;
      fputs("\"op\": \"loop\", \"node\": ", f);
      json_str(f, n->name);
      fputs(", \"trip_count\": ", f);
      json_value_name(S, n->in[0]);
      fputs(", \"cond\": ", f);
      json_value_name(S, n->in[1]);
      fputs(", \"initial\": ", f);
      json_names(S, n->in + 2, n_carried);
      fprintf(f, ", \"num_carried\": %d, \"num_scan_outputs\": %d,\n", n_carried, n_scan);
      indent_to(f, ind + 2);
      fputs("\"body\": ", f);
      write_block(S, st->body[0], ind + 2);
      fputs(",\n", f);
      indent_to(f, ind + 2);
      break;
    }
    case DYCL_STEP_SCAN: {
      bool v8 = n->opset < 9;
      int first = v8 ? 1 : 0;
      int n_scan_in = (int)dycl_attr_int(n, "num_scan_inputs", 0);
      int n_state = n->n_in - first - n_scan_in;
      if (n_state < 0) n_state = 0;
      int na;
      const int64_t* v;
      fprintf(f, "\"op\": \"scan\", \"node\": ");
      json_str(f, n->name);
      fprintf(f, ", \"opset\": %d, \"num_scan_inputs\": %d, \"sequence_lens\": ", n->opset, n_scan_in);
      json_value_name(S, v8 ? n->in[0] : -1);
      fputs(", \"initial_state\": ", f);
      json_names(S, n->in + first, n_state);
      fputs(", \"scan_inputs\": ", f);
      json_names(S, n->in + first + n_state, n->n_in - first - n_state);
      /* the axis/direction attributes, defaults (all 0) written out */
      int n_scan_out = st->body[0]->graph->n_out - n_state;
      static const char* const attrs9[] = {"scan_input_axes", "scan_input_directions", "scan_output_axes",
                                           "scan_output_directions"};
      for (int a = 0; a < (v8 ? 1 : 4); a++) {
        const char* name = v8 ? "directions" : attrs9[a];
        v = dycl_attr_ints(n, name, &na);
        fprintf(f, ", \"%s\": ", name);
        if (v) {
          json_ints(f, v, na);
        } else {
          int len = a < 2 ? n_scan_in : n_scan_out;
          fputc('[', f);
          for (int i = 0; i < len; i++) fputs(i ? ", 0" : "0", f);
          fputc(']', f);
        }
      }
      fputs(",\n", f);
      indent_to(f, ind + 2);
      fputs("\"body\": ", f);
      write_block(S, st->body[0], ind + 2);
      fputs(",\n", f);
      indent_to(f, ind + 2);
      break;
    }
    case DYCL_STEP_SEQMAP:
      fputs("\"op\": \"sequence_map\", \"node\": ", f);
      json_str(f, n->name);
      fputs(", \"inputs\": ", f);
      json_names(S, n->in, n->n_in);
      fputs(",\n", f);
      indent_to(f, ind + 2);
      fputs("\"body\": ", f);
      write_block(S, st->body[0], ind + 2);
      fputs(",\n", f);
      indent_to(f, ind + 2);
      break;
  }
  if (st->kind != DYCL_STEP_CALL) {
    fputs("\"outputs\": ", f);
    json_names(S, n->out, n->n_out);
    fputs(", \"captures\": ", f);
    json_names(S, n->implicit, n->n_implicit);
  }
  fputs(", \"release\": ", f);
  json_names(S, st->release, st->n_release);
  fputs("}", f);
}

static void write_block(splitter_t* S, const dycl_block_t* b, int ind) {
  FILE* f = S->f;
  fputs("{\"graph\": ", f);
  json_str(f, b->graph->name);
  fputs(", \"inputs\": ", f);
  json_names(S, b->graph->in, b->graph->n_in);
  fputs(", \"steps\": [", f);
  for (int i = 0; i < b->n_steps; i++) {
    fprintf(f, "%s\n", i ? "," : "");
    indent_to(f, ind + 4);
    write_step(S, &b->steps[i], ind + 4);
  }
  if (b->n_steps) {
    fputc('\n', f);
    indent_to(f, ind + 2);
  }
  fputs("], \"outputs\": ", f);
  json_names(S, b->graph->out, b->graph->n_out);
  fputc('}', f);
}

/* --------------------------------------------------------- host constants */

static void add_host_const(splitter_t* S, int id) {
  if (id < 0 || S->ir->values[id]->def != DYCL_DEF_CONST || S->const_index[id] >= 0) return;
  S->const_index[id] = S->n_consts;
  S->consts[S->n_consts++] = id;
}

static void collect_consts(splitter_t* S, const dycl_block_t* b) {
  for (int i = 0; i < b->graph->n_out; i++) add_host_const(S, b->graph->out[i]);
  for (int s = 0; s < b->n_steps; s++) {
    const dycl_step_t* st = &b->steps[s];
    if (st->kind == DYCL_STEP_CALL) continue;
    for (int i = 0; i < st->node->n_in; i++) add_host_const(S, st->node->in[i]);
    for (int i = 0; i < st->node->n_implicit; i++) add_host_const(S, st->node->implicit[i]);
    for (int k = 0; k < 2; k++)
      if (st->body[k]) collect_consts(S, st->body[k]);
  }
}

static dycl_status_t write_consts(splitter_t* S) {
  if (!S->n_consts) return NULL;
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/constants", S->dir) >= sizeof path)
    return dycl_error(DYCL_CODE_IO, "path too long");
  DYCL_RETURN_IF_ERROR(dycl_mkdirs(path));
  for (int i = 0; i < S->n_consts; i++) {
    const dycl_ir_value_t* v = S->ir->values[S->consts[i]];
    if ((size_t)snprintf(path, sizeof path, "%s/constants/const_%d.pb", S->dir, i) >= sizeof path)
      return dycl_error(DYCL_CODE_IO, "path too long");
    DYCL_RETURN_IF_ERROR(dycl_value_save_file(v->constant, S->names.values[v->id], path));
  }
  return NULL;
}

/* ---------------------------------------------------------- program.json */

static bool is_identity_alias(const dycl_ir_value_t* v) {
  return v->def == DYCL_DEF_NODE && v->producer && v->producer->op == DYCL_OP_Identity && v->producer->n_in == 1 &&
         v->producer->in[0] >= 0;
}

static void write_program(splitter_t* S) {
  const dycl_ir_t* ir = S->ir;
  const dycl_program_t* p = S->p;
  FILE* f = S->f;
  fputs("{\n  \"format\": \"dycl-split\",\n  \"version\": 1,\n  \"dycl_version\": \"" DYCL_VERSION "\",\n  \"model\": ", f);
  json_str(f, ir->path);
  fputs(",\n  \"producer\": ", f);
  json_str(f, ir->producer);
  fputs(",\n  \"opset_import\": [", f);
  int training = -1;
  for (int k = 0; k < p->n_subnets; k++)
    for (int i = 0; i < p->subnets[k]->n_nodes; i++)
      if (dycl_op_table[p->subnets[k]->nodes[i]->op].flags & DYCL_OPF_TRAINING) training = p->subnets[k]->nodes[i]->opset;
  if (ir->opset > 0) fprintf(f, "{\"domain\": \"\", \"version\": %d}", ir->opset);
  if (training > 0)
    fprintf(f, "%s{\"domain\": \"ai.onnx.preview.training\", \"version\": %d}", ir->opset > 0 ? ", " : "", training);
  fputs("],\n  \"inputs\": ", f);
  json_named_values(S, ir->main->in, ir->main->n_in, "  ");
  fputs(",\n  \"outputs\": [", f);
  for (int i = 0; i < ir->main->n_out; i++) {
    int id = ir->main->out[i];
    fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
    json_str(f, p->output_names[i]);
    fputs(", \"value\": ", f);
    json_value_name(S, id);
    fputs(", \"type\": ", f);
    dycl_type_t t = dycl_onnx_io_type(ir->values[id]);
    json_type(S, &t);
    fputc('}', f);
  }
  fputs(ir->main->n_out ? "\n  ],\n  \"constants\": [" : "],\n  \"constants\": [", f);
  for (int i = 0; i < S->n_consts; i++) {
    const dycl_ir_value_t* v = ir->values[S->consts[i]];
    fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
    json_value_name(S, v->id);
    fprintf(f, ", \"file\": \"constants/const_%d.pb\", \"type\": ", i);
    json_type(S, &v->type);
    const dycl_value_t* c = v->constant;
    if (c->kind == DYCL_VALUE_TENSOR && c->numel <= SMALL_CONSTANT) {
      fputs(", \"value\": [", f);
      for (int64_t e = 0; e < c->numel; e++) {
        if (e) fputs(", ", f);
        json_scalar(f, c, e);
      }
      fputc(']', f);
    }
    fputc('}', f);
  }
  fputs(S->n_consts ? "\n  ],\n  \"aliases\": [" : "],\n  \"aliases\": [", f);
  int n_alias = 0;
  for (int64_t i = 0; i < ir->n_values; i++) {
    const dycl_ir_value_t* v = ir->values[i];
    if (!is_identity_alias(v)) continue;
    fprintf(f, "%s\n    {\"name\": ", n_alias++ ? "," : "");
    json_value_name(S, v->id);
    fputs(", \"value\": ", f);
    json_value_name(S, v->producer->in[0]);
    fputc('}', f);
  }
  fputs(n_alias ? "\n  ],\n  \"subnets\": [" : "],\n  \"subnets\": [", f);
  for (int k = 0; k < p->n_subnets; k++) {
    const dycl_subnet_t* sn = p->subnets[k];
    fprintf(f, "%s\n    {\"index\": %d, \"name\": ", k ? "," : "", sn->id);
    json_str(f, sn->name);
    fprintf(f, ", \"file\": \"%s.onnx\", \"graph\": ", sn->name);
    json_str(f, sn->graph->name);
    fprintf(f, ", \"nodes\": %d, \"constants\": %d,\n      \"inputs\": ", sn->n_nodes, sn->n_const);
    json_named_values(S, sn->in, sn->n_in, "      ");
    fputs(",\n      \"outputs\": ", f);
    json_named_values(S, sn->out, sn->n_out, "      ");
    fputc('}', f);
  }
  fputs(p->n_subnets ? "\n  ],\n  \"host\": " : "],\n  \"host\": ", f);
  write_block(S, p->main, 2);
  fputs("\n}\n", f);
}

static dycl_status_t write_program_file(splitter_t* S) {
  char path[PATH_MAX], tmp[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/program.json", S->dir) >= sizeof path ||
      (size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
    return dycl_error(DYCL_CODE_IO, "path too long: '%s'", S->dir);
  S->f = fopen(tmp, "w");
  if (!S->f) return dycl_error(DYCL_CODE_IO, "cannot write '%s': %s", path, strerror(errno));
  write_program(S);
  bool ok = !ferror(S->f);
  ok = fclose(S->f) == 0 && ok;
  S->f = NULL;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return dycl_error(DYCL_CODE_IO, "cannot write '%s': %s", path, strerror(errno));
  }
  return NULL;
}

/* ------------------------------------------------------------------ entry */

static dycl_status_t write_subnets(splitter_t* S) {
  for (int k = 0; k < S->p->n_subnets; k++) {
    const dycl_subnet_t* sn = S->p->subnets[k];
    dycl_arena_t A;
    dycl_arena_init(&A, S->ir->alloc);
    Onnx__ModelProto* m = NULL;
    dycl_status_t s = dycl_onnx_subnet_model(&A, S->p, sn, &S->names, NULL, &m);
    char path[PATH_MAX];
    if (!s && (size_t)snprintf(path, sizeof path, "%s/%s.onnx", S->dir, sn->name) >= sizeof path)
      s = dycl_error(DYCL_CODE_IO, "path too long: '%s'", S->dir);
    if (!s) s = dycl_onnx_write_model(S->ir->alloc, m, path);
    dycl_arena_destroy(&A);
    if (s) return dycl_error_wrap(s, "%s", sn->name);
  }
  return NULL;
}

dycl_status_t dycl_model_split(const dycl_model_t* model, const char* dir) {
  if (!model || !dir) return dycl_error(DYCL_CODE_INVALID_INPUT, "dycl_model_split: no model or folder");
  splitter_t S;
  memset(&S, 0, sizeof S);
  S.p = model->program;
  S.ir = model->ir;
  S.dir = dir;
  dycl_arena_init(&S.A, S.ir->alloc);
  dycl_status_t s = dycl_mkdirs(dir);
  if (!s) s = dycl_onnx_names_create(&S.A, S.ir, &S.names);
  if (!s) {
    S.const_index = dycl_arena_calloc(&S.A, (size_t)S.ir->n_values + 1, sizeof(int));
    S.consts = dycl_arena_calloc(&S.A, (size_t)S.ir->n_values + 1, sizeof(int));
    if (!S.const_index || !S.consts) s = dycl_error_nomem();
  }
  if (!s) {
    for (int64_t i = 0; i < S.ir->n_values; i++) S.const_index[i] = -1;
    collect_consts(&S, S.p->main);
    for (int i = 0; i < S.ir->main->n_out; i++) add_host_const(&S, S.ir->main->out[i]);
  }
  if (!s) s = write_subnets(&S);
  if (!s) s = write_consts(&S);
  if (!s) s = write_program_file(&S);
  dycl_arena_destroy(&S.A);
  return s;
}
