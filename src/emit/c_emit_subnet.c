/* dycl compile: NAME_subnets.c and NAME_internal.h. In a ref package, each sub-network becomes one
 * C function that calls dycl's reference kernels node by node, in the order of the Program, and
 * releases each value after its last use (the sub-network's release lists). Each node and its
 * attributes are static const data (a dycl_node_t), so the kernels read them exactly as they read
 * the IR. In a package for another backend (cpu), the nodes are the same data, the sub-networks
 * are described as the backend reads them (c_emit_exec.c), and each function calls the backend. */
#include <inttypes.h>
#include <string.h>

#include "emit/c_emit.h"

/* The kernel function of each op, by name (the op table holds pointers only). */
static const char* const kernel_names[DYCL_OP_COUNT_] = {
#define DYCL_OP(name, min_in, max_in, min_out, max_out, flags, infer, run) #run,
#include "ops/ops.def"
#undef DYCL_OP
};

static void value_ref(const dycl_cemit_t* E, dycl_cbuf_t* b, int id) {
  if (id < 0) {
    dycl_cbuf_printf(b, "-");
    return;
  }
  dycl_cbuf_comment(b, E->ir->values[id]->name);
}

/* "[slot] name, [slot] name" for a comment. */
static void slot_list(const dycl_cemit_t* E, dycl_cbuf_t* b, const int* ids, int n) {
  for (int i = 0; i < n; i++) {
    dycl_cbuf_printf(b, "%s[%d] ", i ? ", " : "", dycl_cemit_slot(E, ids[i]));
    value_ref(E, b, ids[i]);
  }
  if (!n) dycl_cbuf_printf(b, "(none)");
}

/* Element data of a tensor as a static array of integers of the element's width (bit patterns:
 * exact, and independent of the byte order). */
static void tensor_data(dycl_cbuf_t* b, const char* var, const dycl_value_t* v) {
  if (v->dtype == DYCL_DTYPE_STRING) {
    dycl_cbuf_printf(b, "static const char* const %s[] = {", var);
    char* const* s = v->data;
    for (int64_t i = 0; i < v->numel; i++) {
      dycl_cbuf_printf(b, "%s", i ? ", " : "");
      dycl_cbuf_cstring(b, s[i] ? s[i] : "", s[i] ? strlen(s[i]) : 0);
    }
    dycl_cbuf_printf(b, "%s};\n", v->numel ? "" : "NULL");
    return;
  }
  size_t esz = dycl_dtype_size(v->dtype);
  const char* ct = esz == 1 ? "uint8_t" : esz == 2 ? "uint16_t" : esz == 4 ? "uint32_t" : "uint64_t";
  dycl_cbuf_printf(b, "static const %s %s[] = {", ct, var);
  for (int64_t i = 0; i < v->numel; i++) {
    const uint8_t* p = (const uint8_t*)v->data + (size_t)i * esz;
    uint64_t x = 0;
    if (esz == 1) x = p[0];
    else if (esz == 2) {
      uint16_t y;
      memcpy(&y, p, 2);
      x = y;
    } else if (esz == 4) {
      uint32_t y;
      memcpy(&y, p, 4);
      x = y;
    } else {
      memcpy(&x, p, 8);
    }
    dycl_cbuf_printf(b, "%s0x%" PRIx64 "%s", i ? ", " : "", x, esz == 8 ? "u" : "");
    if (i % 16 == 15 && i + 1 < v->numel) dycl_cbuf_printf(b, "\n   ");
  }
  dycl_cbuf_printf(b, "%s};\n", v->numel ? "" : "0");
}

/* A static dycl_value_t for an attribute tensor. Kernels only read attribute tensors. */
static dycl_status_t tensor_value(dycl_cbuf_t* b, const char* var, const dycl_value_t* v) {
  if (!v || v->kind != DYCL_VALUE_TENSOR) return dycl_error(DYCL_CODE_UNSUPPORTED, "a non-tensor attribute value");
  char data[160];
  snprintf(data, sizeof data, "%s_d", var);
  tensor_data(b, data, v);
  dycl_cbuf_printf(b, "static dycl_value_t %s = {.refs = 1, .kind = DYCL_VALUE_TENSOR, .dtype = %s, .rank = %d, .dims = {", var,
                   dycl_cemit_dtype_macro(v->dtype), v->rank);
  for (int d = 0; d < v->rank; d++) {
    dycl_cbuf_printf(b, "%s", d ? ", " : "");
    dycl_cbuf_i64(b, v->dims[d]);
  }
  dycl_cbuf_printf(b, "%s}, .numel = ", v->rank ? "" : "0");
  dycl_cbuf_i64(b, v->numel);
  dycl_cbuf_printf(b, ", .nbytes = %zu, .data = (void*)%s};\n", v->nbytes, data);
  return NULL;
}

static const char* attr_type_macro(dycl_attr_type_t t) {
  switch (t) {
    case DYCL_ATTR_FLOAT: return "DYCL_ATTR_FLOAT";
    case DYCL_ATTR_INT: return "DYCL_ATTR_INT";
    case DYCL_ATTR_STRING: return "DYCL_ATTR_STRING";
    case DYCL_ATTR_TENSOR: return "DYCL_ATTR_TENSOR";
    case DYCL_ATTR_FLOATS: return "DYCL_ATTR_FLOATS";
    case DYCL_ATTR_INTS: return "DYCL_ATTR_INTS";
    case DYCL_ATTR_STRINGS: return "DYCL_ATTR_STRINGS";
    case DYCL_ATTR_TENSORS: return "DYCL_ATTR_TENSORS";
    case DYCL_ATTR_TYPE_PROTO: return "DYCL_ATTR_TYPE_PROTO";
    default: return NULL;
  }
}

dycl_status_t dycl_cemit_node_data(const dycl_cemit_t* E, dycl_cbuf_t* b, const dycl_node_t* n, bool types,
                                   const char* graph) {
  int id = n->id;
  /* attribute payloads first */
  for (int a = 0; a < n->n_attr; a++) {
    const dycl_attr_t* at = &n->attrs[a];
    char var[96];
    snprintf(var, sizeof var, "N%d_a%d", id, a);
    switch (at->type) {
      case DYCL_ATTR_FLOATS:
        if (!at->n) break;
        dycl_cbuf_printf(b, "static const float %s[] = {", var);
        for (int i = 0; i < at->n; i++) {
          dycl_cbuf_printf(b, "%s", i ? ", " : "");
          dycl_cbuf_f64(b, at->floats[i]);
        }
        dycl_cbuf_printf(b, "};\n");
        break;
      case DYCL_ATTR_INTS:
        if (!at->n) break;
        dycl_cbuf_printf(b, "static const int64_t %s[] = {", var);
        for (int i = 0; i < at->n; i++) {
          dycl_cbuf_printf(b, "%s", i ? ", " : "");
          dycl_cbuf_i64(b, at->ints[i]);
        }
        dycl_cbuf_printf(b, "};\n");
        break;
      case DYCL_ATTR_STRINGS:
        if (!at->n) break;
        dycl_cbuf_printf(b, "static const char* const %s[] = {", var);
        for (int i = 0; i < at->n; i++) {
          dycl_cbuf_printf(b, "%s", i ? ", " : "");
          dycl_cbuf_cstring(b, at->strings[i], strlen(at->strings[i]));
        }
        dycl_cbuf_printf(b, "};\n");
        break;
      case DYCL_ATTR_TENSOR: DYCL_RETURN_IF_ERROR(tensor_value(b, var, at->t)); break;
      case DYCL_ATTR_TENSORS:
        for (int i = 0; i < at->n; i++) {
          char tv[128];
          snprintf(tv, sizeof tv, "%s_%d", var, i);
          DYCL_RETURN_IF_ERROR(tensor_value(b, tv, at->tensors[i]));
        }
        if (!at->n) break;
        dycl_cbuf_printf(b, "static dycl_value_t* const %s[] = {", var);
        for (int i = 0; i < at->n; i++) dycl_cbuf_printf(b, "%s&%s_%d", i ? ", " : "", var, i);
        dycl_cbuf_printf(b, "};\n");
        break;
      default: break;
    }
  }
  if (n->n_attr) {
    dycl_cbuf_printf(b, "static const dycl_attr_t N%d_attrs[] = {\n", id);
    for (int a = 0; a < n->n_attr; a++) {
      const dycl_attr_t* at = &n->attrs[a];
      const char* tm = attr_type_macro(at->type);
      if (!tm) return dycl_node_error(n, DYCL_CODE_UNSUPPORTED, "attribute '%s' of type %d cannot be emitted", at->name, at->type);
      dycl_cbuf_printf(b, "    {.name = ");
      dycl_cbuf_cstring(b, at->name, strlen(at->name));
      dycl_cbuf_printf(b, ", .type = %s, ", tm);
      switch (at->type) {
        case DYCL_ATTR_FLOAT:
          dycl_cbuf_printf(b, ".f = ");
          dycl_cbuf_f64(b, at->f);
          break;
        case DYCL_ATTR_INT:
          dycl_cbuf_printf(b, ".i = ");
          dycl_cbuf_i64(b, at->i);
          break;
        case DYCL_ATTR_STRING:
          dycl_cbuf_printf(b, ".s = ");
          dycl_cbuf_cstring(b, at->s ? at->s : "", at->s ? at->slen : 0);
          dycl_cbuf_printf(b, ", .slen = %zu", at->slen);
          break;
        case DYCL_ATTR_TENSOR: dycl_cbuf_printf(b, ".t = &N%d_a%d", id, a); break;
        case DYCL_ATTR_FLOATS:
          dycl_cbuf_printf(b, ".n = %d, .floats = ", at->n);
          dycl_cbuf_printf(b, at->n ? "(float*)N%d_a%d" : "NULL", id, a);
          break;
        case DYCL_ATTR_INTS:
          dycl_cbuf_printf(b, ".n = %d, .ints = ", at->n);
          dycl_cbuf_printf(b, at->n ? "(int64_t*)N%d_a%d" : "NULL", id, a);
          break;
        case DYCL_ATTR_STRINGS:
          dycl_cbuf_printf(b, ".n = %d, .strings = ", at->n);
          dycl_cbuf_printf(b, at->n ? "(const char**)N%d_a%d" : "NULL", id, a);
          break;
        case DYCL_ATTR_TENSORS:
          dycl_cbuf_printf(b, ".n = %d, .tensors = ", at->n);
          dycl_cbuf_printf(b, at->n ? "(dycl_value_t**)N%d_a%d" : "NULL", id, a);
          break;
        case DYCL_ATTR_TYPE_PROTO:
          dycl_cbuf_printf(b, ".tp = ");
          dycl_cbuf_type(b, &at->tp);
          break;
        default: break;
      }
      dycl_cbuf_printf(b, "},\n");
    }
    dycl_cbuf_printf(b, "};\n");
  }
  /* slots: inputs then outputs */
  dycl_cbuf_printf(b, "static const int N%d_io[] = {", id);
  for (int i = 0; i < n->n_in; i++) dycl_cbuf_printf(b, "%s%d", i ? ", " : "", dycl_cemit_slot(E, n->in[i]));
  dycl_cbuf_printf(b, "%s/* → */ ", n->n_in ? ", " : "");
  for (int j = 0; j < n->n_out; j++) dycl_cbuf_printf(b, "%s%d", j ? ", " : "", dycl_cemit_slot(E, n->out[j]));
  dycl_cbuf_printf(b, "};\n");
  /* the inferred output types, checked after the kernel as the ref backend does */
  if (types) {
    dycl_cbuf_printf(b, "static const dycl_type_t N%d_types[] = {", id);
    for (int j = 0; j < n->n_out; j++) {
      dycl_type_t t = n->out[j] >= 0 ? E->ir->values[n->out[j]]->type : dycl_type_unknown();
      dycl_cbuf_printf(b, "%s", j ? ",\n    " : "");
      dycl_cbuf_type(b, &t);
    }
    dycl_cbuf_printf(b, "%s};\n", n->n_out ? "" : "{.known = false}");
  }
  dycl_cbuf_printf(b, "static const dycl_node_t N%d = {.id = %d, .name = ", id, id);
  dycl_cbuf_cstring(b, n->name, strlen(n->name));
  dycl_cbuf_printf(b, ", .op_type = ");
  dycl_cbuf_cstring(b, n->op_type, strlen(n->op_type));
  dycl_cbuf_printf(b, ", .domain = ");
  dycl_cbuf_cstring(b, n->domain ? n->domain : "", n->domain ? strlen(n->domain) : 0);
  dycl_cbuf_printf(b, ",\n    .op = DYCL_OP_%s, .opset = %d, .n_in = %d, .n_out = %d, .in = (int*)N%d_io, .out = (int*)N%d_io + %d",
                   dycl_op_table[n->op].name, n->opset, n->n_in, n->n_out, id, id, n->n_in);
  if (n->n_attr) dycl_cbuf_printf(b, ", .n_attr = %d, .attrs = (dycl_attr_t*)N%d_attrs", n->n_attr, id);
  if (graph) dycl_cbuf_printf(b, ", .graph = %s", graph);
  dycl_cbuf_printf(b, "};\n");
  return NULL;
}

static dycl_status_t emit_subnet(const dycl_cemit_t* E, dycl_cbuf_t* b, const dycl_subnet_t* sn, int k) {
  dycl_cbuf_printf(b, "\n/* ======================================================================== %s\n", sn->name);
  dycl_cbuf_printf(b, " * graph '");
  dycl_cbuf_comment(b, sn->graph->name);
  dycl_cbuf_printf(b, "'%s, %d nodes\n *   inputs:  ", sn->graph->parent ? "" : " (the main graph)", sn->n_nodes);
  slot_list(E, b, sn->in, sn->n_in);
  dycl_cbuf_printf(b, "\n *   weights: ");
  slot_list(E, b, sn->consts, sn->n_const);
  dycl_cbuf_printf(b, "\n *   outputs: ");
  slot_list(E, b, sn->out, sn->n_out);
  dycl_cbuf_printf(b, "\n */\n");
  for (int k = 0; k < sn->n_nodes; k++) {
    const dycl_node_t* n = sn->nodes[k];
    dycl_cbuf_printf(b, "\n/* %s '", n->op_type);
    dycl_cbuf_comment(b, n->name);
    dycl_cbuf_printf(b, "': ");
    for (int i = 0; i < n->n_in; i++) {
      dycl_cbuf_printf(b, "%s", i ? ", " : "");
      value_ref(E, b, n->in[i]);
    }
    dycl_cbuf_printf(b, " -> ");
    for (int j = 0; j < n->n_out; j++) {
      dycl_cbuf_printf(b, "%s", j ? ", " : "");
      value_ref(E, b, n->out[j]);
    }
    dycl_cbuf_printf(b, " */\n");
    char graph[64];
    snprintf(graph, sizeof graph, "(dycl_graph_t*)&G%d", sn->graph->id);
    DYCL_RETURN_IF_ERROR(dycl_cemit_node_data(E, b, n, !E->exec, E->exec ? graph : NULL));
  }
  if (E->exec) { /* the backend runs it: see the tables at the end of the file */
    dycl_cbuf_printf(b, "\ndycl_status_t %s_%s(dycl_rt_t* rt) { return dycl_rt_exec_run(rt, %d); }\n", E->name, sn->name, k);
    return NULL;
  }
  int n_rel = sn->release_start[sn->n_nodes];
  dycl_cbuf_printf(b, "\ndycl_status_t %s_%s(dycl_rt_t* rt) {\n", E->name, sn->name);
  if (n_rel) {
    dycl_cbuf_printf(b, "  /* the values this sub-network releases itself, dropped on failure too */\n");
    dycl_cbuf_printf(b, "  static const int internal[] = {");
    for (int r = 0; r < n_rel; r++)
      dycl_cbuf_printf(b, "%s%d", r ? (r % 20 ? ", " : ",\n      ") : "", dycl_cemit_slot(E, sn->release_ids[r]));
    dycl_cbuf_printf(b, "};\n");
  }
  dycl_cbuf_printf(b, "  dycl_status_t s;\n");
  for (int k = 0; k < sn->n_nodes; k++) {
    const dycl_node_t* n = sn->nodes[k];
    dycl_cbuf_printf(b, "  /* %s '", n->op_type);
    dycl_cbuf_comment(b, n->name);
    dycl_cbuf_printf(b, "' */\n");
    dycl_cbuf_printf(b, "  if ((s = dycl_rt_node(rt, &N%d, N%d_types, %s))) %s;\n", n->id, n->id, kernel_names[n->op],
                     n_rel ? "goto fail" : "return s");
    for (int r = sn->release_start[k]; r < sn->release_start[k + 1]; r++) {
      dycl_cbuf_printf(b, "  dycl_rt_drop(rt, %d); /* ", dycl_cemit_slot(E, sn->release_ids[r]));
      value_ref(E, b, sn->release_ids[r]);
      dycl_cbuf_printf(b, " */\n");
    }
  }
  dycl_cbuf_printf(b, "  return NULL;\n");
  if (n_rel) dycl_cbuf_printf(b, "fail:\n  dycl_rt_drop_list(rt, internal, %d);\n  return s;\n", n_rel);
  dycl_cbuf_printf(b, "}\n");
  return NULL;
}

dycl_status_t dycl_cemit_subnets(dycl_cemit_t* E) {
  const dycl_program_t* p = E->p;
  char path[512];
  /* NAME_internal.h */
  dycl_cbuf_t h = DYCL_CBUF(E->alloc);
  dycl_cbuf_printf(&h, "/* %s_internal.h — what %s.c (the host module) and %s_subnets.c (the sub-networks) share.\n",
                   E->name, E->name, E->name);
  dycl_cemit_provenance(E, &h);
  dycl_cbuf_printf(&h, " */\n#ifndef %s_INTERNAL_H\n#define %s_INTERNAL_H\n\n#include \"dycl_pb.h\"\n#include \"dycl_rt.h\"\n",
                   E->name, E->name);
  if (E->exec) dycl_cbuf_printf(&h, "#include \"dycl_rt_exec.h\"\n");
  dycl_cbuf_printf(&h, "\n");
  dycl_cbuf_printf(&h, "/* The ONNX name of each value slot (for messages). */\nextern const char* const %s_value_names[%d];\n\n",
                   E->name, E->n_slots ? E->n_slots : 1);
  if (E->exec)
    dycl_cbuf_printf(&h, "/* The sub-networks as the %s backend reads them (NAME_subnets.c). */\nextern const dycl_rt_program_t %s_program;\n\n",
                     E->backend->name, E->name);
  dycl_cbuf_printf(&h, "/* The sub-networks: each reads its inputs from rt->v and leaves its outputs there. */\n");
  for (int k = 0; k < p->n_subnets; k++) {
    const dycl_subnet_t* sn = p->subnets[k];
    dycl_cbuf_printf(&h, "dycl_status_t %s_%s(dycl_rt_t* rt); /* graph '", E->name, sn->name);
    dycl_cbuf_comment(&h, sn->graph->name);
    dycl_cbuf_printf(&h, "', %d nodes */\n", sn->n_nodes);
  }
  dycl_cbuf_printf(&h, "\n#endif\n");
  snprintf(path, sizeof path, "%s_internal.h", E->name);
  dycl_status_t s = dycl_cemit_write_buf(E, path, &h);
  dycl_cbuf_free(&h);
  if (s) return s;

  /* NAME_subnets.c */
  dycl_cbuf_t b = DYCL_CBUF(E->alloc);
  if (!E->exec) {
    dycl_cbuf_printf(&b, "/* %s_subnets.c — the sub-networks of %s: one function per straight-line segment of the\n"
                     " * model (no control flow inside), calling dycl's reference kernels node by node.\n",
                     E->name, E->name);
    dycl_cemit_provenance(E, &b);
    dycl_cbuf_printf(&b, " *\n * Each node is static data (N<id>: its value slots, attributes and inferred output types);\n"
                     " * dycl_rt_node (runtime/dycl_rt.c) reads the node's inputs from the slots, calls the kernel,\n"
                     " * checks and stores its outputs. Values are dropped right after their last use.\n */\n");
  } else {
    dycl_cbuf_printf(&b, "/* %s_subnets.c — the sub-networks of %s: one function per straight-line segment of the\n"
                     " * model (no control flow inside), run by dycl's %s backend (runtime/backend/%s/).\n",
                     E->name, E->name, E->backend->name, E->backend->name);
    dycl_cemit_provenance(E, &b);
    dycl_cbuf_printf(&b, " *\n * Each node is static data (N<id>: its value slots and attributes). The tables at the end\n"
                     " * describe the values (by slot), the graphs and the sub-networks with dycl's own structures,\n"
                     " * which the backend plans when an instance is created and runs on every call, exactly as\n"
                     " * `dycl run --backend %s` does (runtime/dycl_rt_exec.c). The reference kernels in the op table\n"
                     " * run the nodes the backend leaves to them.\n */\n",
                     E->backend->name);
  }
  dycl_cbuf_printf(&b, "#include <math.h>\n#include <stdint.h>\n\n#include \"%s_internal.h\"\n", E->name);
  if (E->exec) dycl_cbuf_printf(&b, "#include \"%s\"\n", E->backend->header);
  dycl_cbuf_printf(&b, "\n");
  dycl_cbuf_printf(&b, "/* The operators this package uses (the runtime reads their flags; inference is not needed). */\n");
  dycl_cbuf_printf(&b, "const dycl_op_def_t dycl_op_table[DYCL_OP_COUNT_] = {\n");
  int n_ops = 0;
  for (int op = 0; op < DYCL_OP_COUNT_; op++) {
    if (!E->op_used[op]) continue;
    n_ops++;
    const dycl_op_def_t* d = &dycl_op_table[op];
    dycl_cbuf_printf(&b, "    [DYCL_OP_%s] = {\"%s\", %d, %d, %d, %d, %d, NULL, %s},\n", d->name, d->name, d->min_in,
                     d->max_in, d->min_out, d->max_out, d->flags, kernel_names[op]);
  }
  if (!n_ops) dycl_cbuf_printf(&b, "    {NULL, 0, 0, 0, 0, 0, NULL, NULL}, /* none: nothing is computed outside the host */\n");
  dycl_cbuf_printf(&b, "};\n");
  if (E->exec) s = dycl_cemit_exec_graphs(E, &b);
  for (int k = 0; k < p->n_subnets && !s; k++) s = emit_subnet(E, &b, p->subnets[k], k);
  if (!s && E->exec) s = dycl_cemit_exec_tables(E, &b);
  snprintf(path, sizeof path, "%s_subnets.c", E->name);
  if (!s) s = dycl_cemit_write_buf(E, path, &b);
  dycl_cbuf_free(&b);
  return s;
}
