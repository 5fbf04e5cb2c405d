/* dycl compile: the tables of NAME_subnets.c in a package whose sub-networks a dycl backend runs
 * (cpu). The backend's code is dycl's own (runtime/backend/<name>/), and it reads a sub-network as
 * `dycl run` hands it over: a dycl_program_t whose IR gives every value's type, definition and
 * producer, and dycl_subnet_t's with their nodes, inputs, constants, outputs and release lists. This
 * file writes that data as static C, with each value id replaced by the package's slot number (so the
 * backend reads and writes the instance's slots), in this order:
 *   G<id>            the graphs of the host tree (inputs and outputs; parents first), before the
 *                    nodes (c_emit_subnet.c), which point to their graph;
 *   ir_values        one dycl_ir_value_t per slot (the constants' values are the weights an instance
 *                    loads: runtime/dycl_rt_exec.c sets them);
 *   SN<k>            each sub-network (pointing to the nodes N<id>);
 *   NAME_program     all of it, with the backend's getter.
 * What it leaves out (a graph's nodes, a value's declared type, the host nodes) no backend reads. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "emit/c_emit.h"

/* The graphs of the host tree in pre-order (parents first). */
static int collect_graphs(const dycl_block_t* blk, const dycl_graph_t** out, int n, int cap) {
  if (n < cap) out[n++] = blk->graph;
  for (int s = 0; s < blk->n_steps; s++) {
    const dycl_step_t* st = &blk->steps[s];
    if (st->kind == DYCL_STEP_CALL) continue;
    n = collect_graphs(st->body[0], out, n, cap);
    if (st->kind == DYCL_STEP_IF) n = collect_graphs(st->body[1], out, n, cap);
  }
  return n;
}

static int count_blocks(const dycl_block_t* blk) {
  int n = 1;
  for (int s = 0; s < blk->n_steps; s++) {
    const dycl_step_t* st = &blk->steps[s];
    if (st->kind == DYCL_STEP_CALL) continue;
    n += count_blocks(st->body[0]);
    if (st->kind == DYCL_STEP_IF) n += count_blocks(st->body[1]);
  }
  return n;
}

/* An int array of slots (`static const int NAME[] = {...};`), or nothing when n is 0. */
static void slot_array(const dycl_cemit_t* E, dycl_cbuf_t* b, const char* var, const int* ids, int n) {
  if (!n) return;
  dycl_cbuf_printf(b, "static const int %s[] = {", var);
  for (int i = 0; i < n; i++)
    dycl_cbuf_printf(b, "%s%d", i ? (i % 24 ? ", " : ",\n    ") : "", dycl_cemit_slot(E, ids[i]));
  dycl_cbuf_printf(b, "};\n");
}

/* ".field = (int*)VAR" or ".field = NULL". */
static void ptr_field(dycl_cbuf_t* b, const char* field, const char* var, int n) {
  if (n) dycl_cbuf_printf(b, ", .%s = (int*)%s", field, var);
  else dycl_cbuf_printf(b, ", .%s = NULL", field);
}

/* The distinct graphs of the host tree, parents first, into *out (allocated). */
static dycl_status_t graphs_of(const dycl_cemit_t* E, const dycl_graph_t*** out, int* n_out) {
  int cap = count_blocks(E->p->main);
  const dycl_graph_t** gs = dycl_calloc(E->alloc, (size_t)cap + 1, sizeof *gs);
  if (!gs) return dycl_error_nomem();
  int n = collect_graphs(E->p->main, gs, 0, cap), m = 0;
  for (int i = 0; i < n; i++) {
    bool dup = false;
    for (int j = 0; j < m && !dup; j++) dup = gs[j] == gs[i];
    if (!dup) gs[m++] = gs[i];
  }
  *out = gs;
  *n_out = m;
  return NULL;
}

dycl_status_t dycl_cemit_exec_graphs(const dycl_cemit_t* E, dycl_cbuf_t* b) {
  const dycl_graph_t** gs;
  int n;
  DYCL_RETURN_IF_ERROR(graphs_of(E, &gs, &n));
  dycl_cbuf_printf(b, "\n/* ---------------------------------------------------------------- graphs\n"
                      " * The graphs of the host tree: their inputs and outputs (slots), which the backend reads to\n"
                      " * know what must survive a sub-network. */\n");
  for (int i = 0; i < n; i++) {
    const dycl_graph_t* g = gs[i];
    char in[32], out[32];
    snprintf(in, sizeof in, "G%d_in", g->id);
    snprintf(out, sizeof out, "G%d_out", g->id);
    slot_array(E, b, in, g->in, g->n_in);
    slot_array(E, b, out, g->out, g->n_out);
    dycl_cbuf_printf(b, "static const dycl_graph_t G%d = {.id = %d, .name = ", g->id, g->id);
    dycl_cbuf_cstring(b, g->name, strlen(g->name));
    dycl_cbuf_printf(b, ", .depth = %d", g->depth);
    if (g->parent) dycl_cbuf_printf(b, ", .parent = (dycl_graph_t*)&G%d", g->parent->id);
    dycl_cbuf_printf(b, ", .n_in = %d, .n_out = %d", g->n_in, g->n_out);
    ptr_field(b, "in", in, g->n_in);
    ptr_field(b, "out", out, g->n_out);
    dycl_cbuf_printf(b, "};\n");
  }
  dycl_free(E->alloc, (void*)gs);
  return NULL;
}

static const char* def_macro(dycl_value_def_t d) {
  return d == DYCL_DEF_CONST ? "DYCL_DEF_CONST" : d == DYCL_DEF_NODE ? "DYCL_DEF_NODE" : "DYCL_DEF_INPUT";
}

static dycl_status_t tables(const dycl_cemit_t* E, dycl_cbuf_t* b, const dycl_graph_t* const* gs, int n_graphs,
                            bool* graph_emitted, int n_graph_ids, bool* node_emitted, int n_node_ids) {
  const dycl_program_t* p = E->p;
  const dycl_ir_t* ir = E->ir;
  /* the values, by slot */
  dycl_cbuf_printf(b, "\n/* ---------------------------------------------------------------- values\n"
                      " * Value id = slot: name, inferred type, definition, producer (a node of a sub-network). */\n");
  dycl_cbuf_printf(b, "static const dycl_ir_value_t ir_values[%d] = {\n", E->n_slots ? E->n_slots : 1);
  for (int i = 0; i < E->n_slots; i++) {
    const dycl_ir_value_t* v = ir->values[E->slot_value[i]];
    dycl_cbuf_printf(b, "    {.id = %d, .name = ", i);
    dycl_cbuf_cstring(b, v->name, strlen(v->name));
    dycl_cbuf_printf(b, ", .def = %s,\n     .type = ", def_macro(v->def));
    dycl_cbuf_type(b, &v->type);
    if (v->graph && v->graph->id >= 0 && v->graph->id < n_graph_ids && graph_emitted[v->graph->id])
      dycl_cbuf_printf(b, ", .graph = (dycl_graph_t*)&G%d", v->graph->id);
    if (v->def == DYCL_DEF_NODE && v->producer && v->producer->id >= 0 && v->producer->id < n_node_ids &&
        node_emitted[v->producer->id])
      dycl_cbuf_printf(b, ", .producer = (dycl_node_t*)&N%d, .producer_out = %d", v->producer->id, v->producer_out);
    dycl_cbuf_printf(b, "},\n");
  }
  if (!E->n_slots) dycl_cbuf_printf(b, "    {.id = -1},\n");
  dycl_cbuf_printf(b, "};\n");
  /* the sub-networks */
  dycl_cbuf_printf(b, "\n/* ---------------------------------------------------------------- sub-networks\n"
                      " * Nodes, inputs, constants, outputs, and the values released after node k:\n"
                      " * release_ids[release_start[k] .. release_start[k + 1]). */\n");
  for (int k = 0; k < p->n_subnets; k++) {
    const dycl_subnet_t* sn = p->subnets[k];
    char var[5][48];
    const char* what[5] = {"in", "consts", "out", "release_ids", "nodes"};
    for (int i = 0; i < 5; i++) snprintf(var[i], sizeof var[i], "SN%d_%s", k, what[i]);
    int n_rel = sn->release_start[sn->n_nodes];
    slot_array(E, b, var[0], sn->in, sn->n_in);
    slot_array(E, b, var[1], sn->consts, sn->n_const);
    slot_array(E, b, var[2], sn->out, sn->n_out);
    slot_array(E, b, var[3], sn->release_ids, n_rel);
    dycl_cbuf_printf(b, "static const int SN%d_release_start[] = {", k);
    for (int i = 0; i <= sn->n_nodes; i++) dycl_cbuf_printf(b, "%s%d", i ? (i % 24 ? ", " : ",\n    ") : "", sn->release_start[i]);
    dycl_cbuf_printf(b, "};\n");
    if (sn->n_nodes) {
      dycl_cbuf_printf(b, "static dycl_node_t* const %s[] = {", var[4]);
      for (int i = 0; i < sn->n_nodes; i++)
        dycl_cbuf_printf(b, "%s(dycl_node_t*)&N%d", i ? (i % 8 ? ", " : ",\n    ") : "", sn->nodes[i]->id);
      dycl_cbuf_printf(b, "};\n");
    }
    if (sn->reach_start) {
      int n_reach = sn->reach_start[sn->n_out];
      dycl_cbuf_printf(b, "static const int SN%d_reach_start[] = {", k);
      for (int j = 0; j <= sn->n_out; j++) dycl_cbuf_printf(b, "%s%d", j ? (j % 24 ? ", " : ",\n    ") : "", sn->reach_start[j]);
      dycl_cbuf_printf(b, "};\nstatic const unsigned char SN%d_host_use[] = {", k);
      for (int j = 0; j < sn->n_out; j++) dycl_cbuf_printf(b, "%s%d", j ? (j % 24 ? ", " : ",\n    ") : "", sn->host_use[j]);
      dycl_cbuf_printf(b, "%s};\n", sn->n_out ? "" : "0");
      if (n_reach > 0) {
        dycl_cbuf_printf(b, "static const int SN%d_reach_sub[] = {", k);
        for (int r = 0; r < n_reach; r++) dycl_cbuf_printf(b, "%s%d", r ? (r % 24 ? ", " : ",\n    ") : "", sn->reach_sub[r]);
        dycl_cbuf_printf(b, "};\n");
        char rv[48];
        snprintf(rv, sizeof rv, "SN%d_reach_val", k);
        slot_array(E, b, rv, sn->reach_val, n_reach);
      }
    }
    dycl_cbuf_printf(b, "static const dycl_subnet_t SN%d = {.id = %d, .name = \"%s\", .graph = (dycl_graph_t*)&G%d, .n_nodes = %d",
                     k, sn->id, sn->name, sn->graph->id, sn->n_nodes);
    if (sn->n_nodes) dycl_cbuf_printf(b, ", .nodes = (dycl_node_t**)%s", var[4]);
    dycl_cbuf_printf(b, ",\n    .n_in = %d", sn->n_in);
    ptr_field(b, "in", var[0], sn->n_in);
    dycl_cbuf_printf(b, ", .n_const = %d", sn->n_const);
    ptr_field(b, "consts", var[1], sn->n_const);
    dycl_cbuf_printf(b, ", .n_out = %d", sn->n_out);
    ptr_field(b, "out", var[2], sn->n_out);
    dycl_cbuf_printf(b, ",\n    .release_start = (int*)SN%d_release_start", k);
    ptr_field(b, "release_ids", var[3], n_rel);
    if (sn->reach_start) { /* where the outputs go on the host (dycl_program_flows) */
      dycl_cbuf_printf(b, ",\n    .reach_start = (int*)SN%d_reach_start, .host_use = (unsigned char*)SN%d_host_use", k, k);
      if (sn->reach_start[sn->n_out] > 0)
        dycl_cbuf_printf(b, ", .reach_sub = (int*)SN%d_reach_sub, .reach_val = (int*)SN%d_reach_val", k, k);
    }
    dycl_cbuf_printf(b, "};\n");
  }
  /* the program */
  dycl_cbuf_printf(b, "\n/* ---------------------------------------------------------------- the program */\n");
  dycl_cbuf_printf(b, "static const dycl_subnet_t* const subnets[%d] = {", p->n_subnets ? p->n_subnets : 1);
  for (int k = 0; k < p->n_subnets; k++) dycl_cbuf_printf(b, "%s&SN%d", k ? (k % 12 ? ", " : ",\n    ") : "", k);
  dycl_cbuf_printf(b, "%s};\n", p->n_subnets ? "" : "NULL");
  dycl_cbuf_printf(b, "static const dycl_graph_t* const graphs[%d] = {", n_graphs);
  for (int i = 0; i < n_graphs; i++) dycl_cbuf_printf(b, "%s&G%d", i ? (i % 12 ? ", " : ",\n    ") : "", gs[i]->id);
  dycl_cbuf_printf(b, "};\n");
  const dycl_graph_t* g = ir->main;
  dycl_cbuf_printf(b, "static const char* const output_names[%d] = {", g->n_out ? g->n_out : 1);
  for (int j = 0; j < g->n_out; j++) {
    dycl_cbuf_printf(b, "%s", j ? ", " : "");
    dycl_cbuf_cstring(b, p->output_names[j], strlen(p->output_names[j]));
  }
  dycl_cbuf_printf(b, "%s};\n", g->n_out ? "" : "NULL");
  dycl_cbuf_printf(b, "\nconst dycl_rt_program_t %s_program = {\n    .backend_name = \"%s\",\n    .backend = %s,\n", E->name,
                   E->backend->name, E->backend->getter);
  dycl_cbuf_printf(b, "    .n_values = %d,\n    .values = ir_values,\n    .main = &G%d,\n", E->n_slots, g->id);
  dycl_cbuf_printf(b, "    .n_graphs = %d,\n    .graphs = graphs,\n    .opset = %d,\n", n_graphs, ir->opset);
  dycl_cbuf_printf(b, "    .n_subnets = %d,\n    .subnets = subnets,\n    .output_names = output_names,\n};\n", p->n_subnets);
  return NULL;
}

dycl_status_t dycl_cemit_exec_tables(const dycl_cemit_t* E, dycl_cbuf_t* b) {
  const dycl_program_t* p = E->p;
  const dycl_graph_t** gs;
  int n_graphs;
  DYCL_RETURN_IF_ERROR(graphs_of(E, &gs, &n_graphs));
  int n_graph_ids = 0, n_node_ids = 0;
  for (int i = 0; i < n_graphs; i++)
    if (gs[i]->id + 1 > n_graph_ids) n_graph_ids = gs[i]->id + 1;
  for (int k = 0; k < p->n_subnets; k++)
    for (int i = 0; i < p->subnets[k]->n_nodes; i++)
      if (p->subnets[k]->nodes[i]->id + 1 > n_node_ids) n_node_ids = p->subnets[k]->nodes[i]->id + 1;
  bool* graph_emitted = dycl_calloc(E->alloc, (size_t)n_graph_ids + 1, sizeof *graph_emitted);
  bool* node_emitted = dycl_calloc(E->alloc, (size_t)n_node_ids + 1, sizeof *node_emitted);
  dycl_status_t s = NULL;
  if (!graph_emitted || !node_emitted) {
    s = dycl_error_nomem();
  } else {
    for (int i = 0; i < n_graphs; i++)
      if (gs[i]->id >= 0) graph_emitted[gs[i]->id] = true;
    for (int k = 0; k < p->n_subnets; k++)
      for (int i = 0; i < p->subnets[k]->n_nodes; i++)
        if (p->subnets[k]->nodes[i]->id >= 0) node_emitted[p->subnets[k]->nodes[i]->id] = true;
    s = tables(E, b, gs, n_graphs, graph_emitted, n_graph_ids, node_emitted, n_node_ids);
  }
  dycl_free(E->alloc, (void*)gs);
  dycl_free(E->alloc, graph_emitted);
  dycl_free(E->alloc, node_emitted);
  return s;
}
