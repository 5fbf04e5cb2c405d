/* dycl_program_flows: where each sub-network output goes in the host tree. A value leaves a
 * sub-network into the host's slots; from there it is read by other sub-networks (as an input), or
 * passes through an If (as a branch's output, becoming the If's result) or a Loop (as the initial
 * or the body's next carried value, becoming the body's input and the Loop's result), or is used by
 * the host itself. The cpu backend keeps a value channels-last across sub-networks only where
 * nothing but sub-networks reads it (backend/cpu/cpu.c, cpu_export); packages carry these lists,
 * so that they decide the same. */
#include <string.h>

#include "transform/program.h"

typedef struct flow_walk {
  const dycl_program_t* p;
  unsigned char* seen; /* per value: reached from the output being followed */
  int* queue;
  int n_queue;
  bool host;      /* reaches a host use */
  int64_t n_reach; /* (subnet, value) pairs found: reach[2 r], reach[2 r + 1] */
  int64_t cap_reach;
  int* reach;
  dycl_status_t err; /* from growing `reach` */
} flow_walk_t;

static void push(flow_walk_t* w, int v) {
  if (v >= 0 && !w->seen[v]) {
    w->seen[v] = 1;
    w->queue[w->n_queue++] = v;
  }
}

static void reach(flow_walk_t* w, int sub, int v) {
  if (w->err) return;
  w->err = dycl_grow(w->p->ir->alloc, (void**)&w->reach, 2 * sizeof *w->reach, &w->cap_reach, w->n_reach + 1);
  if (w->err) return;
  w->reach[2 * w->n_reach] = sub;
  w->reach[2 * w->n_reach++ + 1] = v;
}

/* The reads of value v in block b and the blocks inside it. */
static void uses(flow_walk_t* w, const dycl_block_t* b, int v) {
  for (int i = 0; b && i < b->n_steps; i++) {
    const dycl_step_t* st = &b->steps[i];
    const dycl_node_t* n = st->node;
    if (st->kind == DYCL_STEP_CALL) {
      if (dycl_ids_contain(st->subnet->in, st->subnet->n_in, v)) reach(w, st->subnet->id, v);
      continue;
    }
    if (st->kind == DYCL_STEP_IF) {
      if (n->n_in > 0 && n->in[0] == v) w->host = true;
      for (int br = 0; br < 2; br++) {
        if (!st->body[br]) continue;
        const dycl_graph_t* g = st->body[br]->graph;
        for (int j = 0; j < g->n_out; j++)
          if (g->out[j] == v) {
            if (j < n->n_out) push(w, n->out[j]);
            else w->host = true;
          }
        uses(w, st->body[br], v);
      }
      continue;
    }
    const dycl_graph_t* g = st->body[0] ? st->body[0]->graph : NULL;
    int nc = n->n_in - 2; /* Loop: (M, cond, carried...); body (i, cond, carried...) -> (cond, carried..., scans...) */
    if (st->kind != DYCL_STEP_LOOP || !g || nc < 0 || g->n_in != nc + 2 || g->n_out < nc + 1 || n->n_out < nc) {
      /* Scan, SequenceMap (the host slices and stacks their operands), or a Loop of another shape */
      if (dycl_ids_contain(n->in, n->n_in, v) || (g && dycl_ids_contain(g->out, g->n_out, v))) w->host = true;
      uses(w, st->body[0], v);
      continue;
    }
    if (n->in[0] == v || n->in[1] == v || g->out[0] == v) w->host = true;
    for (int j = 0; j < nc; j++)
      if (n->in[2 + j] == v || g->out[1 + j] == v) {
        push(w, g->in[2 + j]);
        push(w, n->out[j]);
      }
    for (int j = nc + 1; j < g->n_out; j++)
      if (g->out[j] == v) w->host = true;
    uses(w, st->body[0], v);
  }
}

dycl_status_t dycl_program_flows(dycl_program_t* p) {
  const dycl_ir_t* ir = p->ir;
  dycl_arena_t* A = &((dycl_ir_t*)ir)->arena;
  flow_walk_t w;
  memset(&w, 0, sizeof w);
  w.p = p;
  w.seen = dycl_calloc(ir->alloc, (size_t)ir->n_values + 1, 1);
  w.queue = dycl_calloc(ir->alloc, (size_t)ir->n_values + 1, sizeof *w.queue);
  dycl_status_t s = w.seen && w.queue ? NULL : dycl_error_nomem();
  for (int k = 0; !s && k < p->n_subnets; k++) {
    dycl_subnet_t* sn = p->subnets[k];
    sn->reach_start = dycl_arena_calloc(A, (size_t)sn->n_out + 1, sizeof *sn->reach_start);
    sn->host_use = dycl_arena_calloc(A, (size_t)sn->n_out + 1, 1);
    if (!sn->reach_start || !sn->host_use) {
      s = dycl_error_nomem();
      break;
    }
    w.n_reach = 0;
    for (int j = 0; j < sn->n_out && !w.err; j++) {
      sn->reach_start[j] = (int)w.n_reach;
      memset(w.seen, 0, (size_t)ir->n_values + 1);
      w.n_queue = 0;
      w.host = false;
      push(&w, sn->out[j]);
      for (int q = 0; q < w.n_queue && !w.err; q++) {
        int v = w.queue[q];
        if (dycl_ids_contain(p->main->graph->out, p->main->graph->n_out, v)) w.host = true;
        uses(&w, p->main, v);
      }
      sn->host_use[j] = w.host;
    }
    sn->reach_start[sn->n_out] = (int)w.n_reach;
    sn->reach_sub = dycl_arena_calloc(A, (size_t)w.n_reach + 1, sizeof *sn->reach_sub);
    sn->reach_val = dycl_arena_calloc(A, (size_t)w.n_reach + 1, sizeof *sn->reach_val);
    if (w.err || !sn->reach_sub || !sn->reach_val) {
      s = w.err ? w.err : dycl_error_nomem();
      w.err = NULL;
      break;
    }
    for (int64_t r = 0; r < w.n_reach; r++) {
      sn->reach_sub[r] = w.reach[2 * r];
      sn->reach_val[r] = w.reach[2 * r + 1];
    }
  }
  dycl_free(ir->alloc, w.reach);
  dycl_free(ir->alloc, w.queue);
  dycl_free(ir->alloc, w.seen);
  return s;
}
