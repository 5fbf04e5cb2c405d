/* Text and Graphviz views of a Program (dycl inspect). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "transform/program.h"

static const char* vname(const dycl_program_t* p, int id) { return id >= 0 ? p->ir->values[id]->name : "<none>"; }

static void print_value_list(const dycl_program_t* p, FILE* f, const int* ids, int n) {
  for (int i = 0; i < n; i++) {
    char buf[256];
    fprintf(f, "%s%s: %s", i ? ", " : "", vname(p, ids[i]), ids[i] >= 0 ? dycl_type_str(&p->ir->values[ids[i]]->type, buf, sizeof buf) : "-");
  }
  if (!n) fprintf(f, "(none)");
}

static void print_block(const dycl_program_t* p, const dycl_block_t* b, FILE* f, int indent) {
  for (int i = 0; i < b->n_steps; i++) {
    const dycl_step_t* st = &b->steps[i];
    const dycl_node_t* n = st->node;
    fprintf(f, "%*s", indent, "");
    switch (st->kind) {
      case DYCL_STEP_CALL:
        fprintf(f, "call %s  (%d ops)\n", st->subnet->name, st->subnet->n_nodes);
        break;
      case DYCL_STEP_IF:
        fprintf(f, "if %s  (node '%s')\n", vname(p, n->in[0]), n->name);
        fprintf(f, "%*sthen:\n", indent + 2, "");
        print_block(p, st->body[0], f, indent + 4);
        fprintf(f, "%*selse:\n", indent + 2, "");
        print_block(p, st->body[1], f, indent + 4);
        break;
      case DYCL_STEP_LOOP: {
        int n_carried = n->n_in - 2;
        int n_scan = st->body[0]->graph->n_out - 1 - n_carried;
        fprintf(f, "loop  (node '%s') trip count: %s, condition: %s, %d carried, %d scan outputs\n", n->name,
                n->in[0] >= 0 ? vname(p, n->in[0]) : "none", n->in[1] >= 0 ? vname(p, n->in[1]) : "none", n_carried, n_scan);
        print_block(p, st->body[0], f, indent + 4);
        break;
      }
      case DYCL_STEP_SEQMAP:
        fprintf(f, "for each element of %s  (node '%s')\n", vname(p, n->in[0]), n->name);
        print_block(p, st->body[0], f, indent + 4);
        break;
      case DYCL_STEP_SCAN:
        fprintf(f, "scan  (node '%s') %" PRId64 " scan inputs\n", n->name, dycl_attr_int(n, "num_scan_inputs", 0));
        print_block(p, st->body[0], f, indent + 4);
        break;
    }
    if (st->kind != DYCL_STEP_CALL) {
      fprintf(f, "%*s→ ", indent + 2, "");
      print_value_list(p, f, n->out, n->n_out);
      fprintf(f, "\n");
    }
  }
  if (!b->n_steps) fprintf(f, "%*s(nothing to compute)\n", indent, "");
  if (b->graph->n_out) {
    fprintf(f, "%*sreturn ", indent, "");
    for (int i = 0; i < b->graph->n_out; i++) fprintf(f, "%s%s", i ? ", " : "", vname(p, b->graph->out[i]));
    fprintf(f, "\n");
  }
}

void dycl_program_print(const dycl_program_t* p, FILE* f) {
  const dycl_ir_t* ir = p->ir;
  fprintf(f, "model: %s\n", ir->path);
  fprintf(f, "producer: %s, ir_version %" PRId64 ", opset %d\n", *ir->producer ? ir->producer : "unknown", ir->ir_version, ir->opset);
  fprintf(f, "inputs: ");
  print_value_list(p, f, ir->main->in, ir->main->n_in);
  fprintf(f, "\noutputs: ");
  for (int i = 0; i < ir->main->n_out; i++) {
    char buf[256];
    fprintf(f, "%s%s: %s", i ? ", " : "", p->output_names[i], dycl_type_str(&ir->values[ir->main->out[i]]->type, buf, sizeof buf));
  }
  fprintf(f, "\n%d sub-networks, %d nodes\n\nhost:\n", p->n_subnets, ir->n_nodes);
  print_block(p, p->main, f, 2);
  for (int k = 0; k < p->n_subnets; k++) {
    const dycl_subnet_t* sn = p->subnets[k];
    uint64_t weight_bytes = 0;
    for (int i = 0; i < sn->n_const; i++) weight_bytes += ir->values[sn->consts[i]]->constant->nbytes;
    fprintf(f, "\n%s  (graph '%s', %d ops)\n  inputs: ", sn->name, sn->graph->name, sn->n_nodes);
    print_value_list(p, f, sn->in, sn->n_in);
    fprintf(f, "\n  outputs: ");
    print_value_list(p, f, sn->out, sn->n_out);
    fprintf(f, "\n  constants: %d (%" PRIu64 " bytes)\n  ops:\n", sn->n_const, weight_bytes);
    for (int i = 0; i < sn->n_nodes; i++) {
      const dycl_node_t* n = sn->nodes[i];
      fprintf(f, "    %s '%s': ", n->op_type, n->name);
      for (int j = 0; j < n->n_in; j++) fprintf(f, "%s%s", j ? ", " : "", vname(p, n->in[j]));
      fprintf(f, " -> ");
      for (int j = 0; j < n->n_out; j++) fprintf(f, "%s%s", j ? ", " : "", vname(p, n->out[j]));
      fprintf(f, "\n");
    }
  }
}

/* ---------------------------------------------------------------- Graphviz */

static void dot_escape(FILE* f, const char* s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    if ((unsigned char)*s >= 32) fputc(*s, f);
  }
}

/* Emits the steps of a block as a chain; returns the id of its last node. */
static int dot_block(const dycl_program_t* p, const dycl_block_t* b, FILE* f, int* counter, int entry) {
  int prev = entry;
  for (int i = 0; i < b->n_steps; i++) {
    const dycl_step_t* st = &b->steps[i];
    int me = (*counter)++;
    if (st->kind == DYCL_STEP_CALL) {
      fprintf(f, "  n%d [shape=box, style=filled, fillcolor=\"#dbe9f6\", label=\"%s\\n%d ops\"];\n", me, st->subnet->name,
              st->subnet->n_nodes);
    } else {
      const char* what = st->kind == DYCL_STEP_IF ? "if" : st->kind == DYCL_STEP_LOOP ? "loop" : st->kind == DYCL_STEP_SCAN ? "scan" : "map";
      fprintf(f, "  n%d [shape=diamond, style=filled, fillcolor=\"#fde2c8\", label=\"%s\\n", me, what);
      dot_escape(f, st->node->name);
      fprintf(f, "\"];\n");
    }
    if (prev >= 0) fprintf(f, "  n%d -> n%d;\n", prev, me);
    if (st->kind == DYCL_STEP_IF) {
      int join = (*counter)++;
      fprintf(f, "  n%d [shape=point];\n", join);
      for (int k = 0; k < 2; k++) {
        int cluster = (*counter)++;
        fprintf(f, "  subgraph cluster_%d {\n  label=\"%s\"; style=dashed;\n", cluster, k ? "else" : "then");
        int start = (*counter)++;
        fprintf(f, "  n%d [shape=circle, width=0.15, label=\"\"];\n", start);
        int last = dot_block(p, st->body[k], f, counter, start);
        fprintf(f, "  }\n  n%d -> n%d [label=\"%s\"];\n  n%d -> n%d;\n", me, start, k ? "false" : "true", last, join);
      }
      prev = join;
      continue;
    }
    if (st->kind == DYCL_STEP_LOOP || st->kind == DYCL_STEP_SCAN || st->kind == DYCL_STEP_SEQMAP) {
      int cluster = (*counter)++;
      fprintf(f, "  subgraph cluster_%d {\n  label=\"body\"; style=dashed;\n", cluster);
      int start = (*counter)++;
      fprintf(f, "  n%d [shape=circle, width=0.15, label=\"\"];\n", start);
      int last = dot_block(p, st->body[0], f, counter, start);
      fprintf(f, "  }\n  n%d -> n%d [label=\"iterate\"];\n  n%d -> n%d [style=dashed, label=\"next\"];\n", me, start, last, me);
    }
    prev = me;
  }
  return prev;
}

dycl_status_t dycl_program_write_dot(const dycl_program_t* p, FILE* f) {
  fprintf(f, "digraph dycl {\n  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n  label=\"");
  dot_escape(f, p->ir->path);
  fprintf(f, ": host tree (%d sub-networks)\";\n", p->n_subnets);
  int counter = 1;
  fprintf(f, "  n0 [shape=ellipse, label=\"inputs\"];\n");
  int last = dot_block(p, p->main, f, &counter, 0);
  fprintf(f, "  out [shape=ellipse, label=\"outputs\"];\n  n%d -> out;\n}\n", last);
  if (ferror(f)) return dycl_error(DYCL_CODE_IO, "cannot write the Graphviz file");
  return NULL;
}
