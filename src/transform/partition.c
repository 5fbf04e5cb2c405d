/* The DyCL step: cut each graph's (topologically ordered) node list at control-flow ops into maximal
 * straight-line segments; each segment becomes a sub-network whose inputs and outputs come from
 * liveness over the host tree. Identity nodes are removed first: their outputs are aliases the host
 * binds, so no sub-network computes a copy. Constants are module values, bound by the host too. */
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "transform/program.h"

typedef struct part {
  dycl_ir_t* ir;
  dycl_program_t* p;
  dycl_arena_t* A;
  int* alias;     /* value id → the value it stands for */
  int* mark;      /* scratch per value */
  int* last_use;  /* scratch per value */
  int stamp;
} part_t;

static int resolve(const int* alias, int id) {
  while (id >= 0 && alias[id] != id) id = alias[id];
  return id;
}

/* ---------------------------------------------------------- Identity removal */

static void substitute_graph(part_t* P, dycl_graph_t* g);

static void substitute_node(part_t* P, dycl_node_t* n) {
  for (int i = 0; i < n->n_in; i++) n->in[i] = resolve(P->alias, n->in[i]);
  for (int i = 0; i < n->n_implicit; i++) n->implicit[i] = resolve(P->alias, n->implicit[i]);
  for (int a = 0; a < n->n_attr; a++) {
    if (n->attrs[a].type == DYCL_ATTR_GRAPH) substitute_graph(P, n->attrs[a].g);
    for (int k = 0; n->attrs[a].type == DYCL_ATTR_GRAPHS && k < n->attrs[a].n; k++)
      substitute_graph(P, n->attrs[a].graphs[k]);
  }
}

static void substitute_graph(part_t* P, dycl_graph_t* g) {
  int kept = 0;
  for (int k = 0; k < g->n_nodes; k++) {
    dycl_node_t* n = g->nodes[k];
    substitute_node(P, n);
    if (n->op == DYCL_OP_Identity) continue;
    g->nodes[kept++] = n;
  }
  g->n_nodes = kept;
  for (int i = 0; i < g->n_out; i++) g->out[i] = resolve(P->alias, g->out[i]);
}

static dycl_status_t collect_aliases(void* user, dycl_node_t* n) {
  part_t* P = user;
  if (n->op == DYCL_OP_Identity && n->n_in == 1 && n->in[0] >= 0 && n->out[0] >= 0) P->alias[n->out[0]] = n->in[0];
  return NULL;
}

/* ---------------------------------------------------------------- partition */

static dycl_status_t add_subnet(part_t* P, dycl_subnet_t* sn) {
  dycl_program_t* p = P->p;
  DYCL_RETURN_IF_ERROR(dycl_grow(P->ir->alloc, (void**)&p->subnets, sizeof *p->subnets, &p->cap_subnets, p->n_subnets + 1));
  sn->id = p->n_subnets;
  sn->name = dycl_arena_printf(P->A, "subnet_%d", sn->id);
  if (!sn->name) return dycl_error_nomem();
  p->subnets[p->n_subnets++] = sn;
  return NULL;
}

static bool uses_value(const dycl_node_t* n, int id) {
  for (int i = 0; i < n->n_in; i++)
    if (n->in[i] == id) return true;
  for (int i = 0; i < n->n_implicit; i++)
    if (n->implicit[i] == id) return true;
  return false;
}

/* Builds a sub-network from g->nodes[first, last). */
static dycl_status_t make_subnet(part_t* P, dycl_graph_t* g, int first, int last, dycl_subnet_t** out) {
  dycl_ir_t* ir = P->ir;
  dycl_subnet_t* sn = dycl_arena_alloc(P->A, sizeof *sn);
  int n = last - first;
  if (!sn) return dycl_error_nomem();
  sn->graph = g;
  sn->n_nodes = n;
  sn->nodes = g->nodes + first;
  int stamp = ++P->stamp;
  /* values produced inside */
  int total_out = 0, total_in = 0;
  for (int k = first; k < last; k++) {
    total_out += g->nodes[k]->n_out;
    total_in += g->nodes[k]->n_in;
    for (int j = 0; j < g->nodes[k]->n_out; j++)
      if (g->nodes[k]->out[j] >= 0) P->mark[g->nodes[k]->out[j]] = stamp;
  }
  sn->in = dycl_arena_calloc(P->A, (size_t)total_in + 1, sizeof(int));
  sn->consts = dycl_arena_calloc(P->A, (size_t)total_in + 1, sizeof(int));
  sn->out = dycl_arena_calloc(P->A, (size_t)total_out + 1, sizeof(int));
  sn->release_start = dycl_arena_calloc(P->A, (size_t)n + 1, sizeof(int));
  sn->release_ids = dycl_arena_calloc(P->A, (size_t)total_out + 1, sizeof(int));
  if (!sn->in || !sn->consts || !sn->out || !sn->release_start || !sn->release_ids) return dycl_error_nomem();
  /* live-ins (each once) */
  int in_stamp = ++P->stamp;
  for (int k = first; k < last; k++) {
    const dycl_node_t* nd = g->nodes[k];
    for (int i = 0; i < nd->n_in; i++) {
      int id = nd->in[i];
      if (id < 0 || P->mark[id] == stamp || P->mark[id] == in_stamp) continue;
      P->mark[id] = in_stamp;
      if (ir->values[id]->def == DYCL_DEF_CONST) sn->consts[sn->n_const++] = id;
      else sn->in[sn->n_in++] = id;
    }
  }
  /* restore the "produced inside" marks clobbered above: none were (live-ins are outside values) */
  /* outputs: produced inside and used by another node of g, or by g's outputs */
  for (int k = first; k < last; k++) {
    const dycl_node_t* nd = g->nodes[k];
    for (int j = 0; j < nd->n_out; j++) {
      int id = nd->out[j];
      if (id < 0) continue;
      bool live = false;
      for (int o = 0; o < g->n_out && !live; o++) live = g->out[o] == id;
      for (int m = 0; m < g->n_nodes && !live; m++)
        if ((m < first || m >= last) && uses_value(g->nodes[m], id)) live = true;
      if (live) sn->out[sn->n_out++] = id;
      else P->last_use[id] = k - first; /* dead if never read: released right after its producer */
    }
  }
  /* last use inside the segment of each internal value */
  for (int k = first; k < last; k++) {
    const dycl_node_t* nd = g->nodes[k];
    for (int i = 0; i < nd->n_in; i++) {
      int id = nd->in[i];
      if (id >= 0 && P->mark[id] == stamp) P->last_use[id] = k - first;
    }
  }
  int out_stamp = ++P->stamp;
  for (int o = 0; o < sn->n_out; o++) P->mark[sn->out[o]] = out_stamp;
  /* bucket the internal values by the node after which they die */
  for (int k = first; k < last; k++)
    for (int j = 0; j < g->nodes[k]->n_out; j++) {
      int id = g->nodes[k]->out[j];
      if (id >= 0 && P->mark[id] != out_stamp) sn->release_start[P->last_use[id] + 1]++;
    }
  for (int k = 0; k < n; k++) sn->release_start[k + 1] += sn->release_start[k];
  int* fill = dycl_arena_calloc(P->A, (size_t)n + 1, sizeof(int));
  if (!fill) return dycl_error_nomem();
  for (int k = first; k < last; k++)
    for (int j = 0; j < g->nodes[k]->n_out; j++) {
      int id = g->nodes[k]->out[j];
      if (id < 0 || P->mark[id] == out_stamp) continue;
      int at = P->last_use[id];
      sn->release_ids[sn->release_start[at] + fill[at]++] = id;
    }
  DYCL_RETURN_IF_ERROR(add_subnet(P, sn));
  *out = sn;
  return NULL;
}

static dycl_status_t partition_graph(part_t* P, dycl_graph_t* g, dycl_block_t** out);

static dycl_status_t add_step(part_t* P, dycl_step_t** steps, int* n, int* cap, dycl_step_t** step) {
  if (*n == *cap) {
    int ncap = *cap ? *cap * 2 : 8;
    dycl_step_t* ns = dycl_arena_calloc(P->A, (size_t)ncap, sizeof *ns);
    if (!ns) return dycl_error_nomem();
    if (*n) memcpy(ns, *steps, (size_t)*n * sizeof *ns);
    *steps = ns;
    *cap = ncap;
  }
  *step = &(*steps)[(*n)++];
  memset(*step, 0, sizeof **step);
  return NULL;
}

/* Reads of value `id` by step s (sub-network inputs, control inputs and captures). */
static bool step_reads(const dycl_step_t* s, int id) {
  if (s->kind == DYCL_STEP_CALL) {
    for (int i = 0; i < s->subnet->n_in; i++)
      if (s->subnet->in[i] == id) return true;
    return false;
  }
  return uses_value(s->node, id);
}

static dycl_status_t partition_graph(part_t* P, dycl_graph_t* g, dycl_block_t** out) {
  dycl_block_t* b = dycl_arena_alloc(P->A, sizeof *b);
  if (!b) return dycl_error_nomem();
  b->graph = g;
  int cap = 0;
  int k = 0;
  while (k < g->n_nodes) {
    dycl_step_t* st;
    if (dycl_op_table[g->nodes[k]->op].flags & DYCL_OPF_CONTROL) {
      dycl_node_t* n = g->nodes[k];
      DYCL_RETURN_IF_ERROR(add_step(P, &b->steps, &b->n_steps, &cap, &st));
      st->node = n;
      if (n->op == DYCL_OP_If) {
        st->kind = DYCL_STEP_IF;
        dycl_block_t *t, *e;
        DYCL_RETURN_IF_ERROR(partition_graph(P, dycl_attr_graph(n, "then_branch"), &t));
        DYCL_RETURN_IF_ERROR(partition_graph(P, dycl_attr_graph(n, "else_branch"), &e));
        /* st may have moved while the bodies were partitioned? No: steps of this block only grow here. */
        st = &b->steps[b->n_steps - 1];
        st->body[0] = t;
        st->body[1] = e;
      } else {
        st->kind = n->op == DYCL_OP_Loop ? DYCL_STEP_LOOP : n->op == DYCL_OP_Scan ? DYCL_STEP_SCAN : DYCL_STEP_SEQMAP;
        dycl_block_t* body;
        DYCL_RETURN_IF_ERROR(partition_graph(P, dycl_attr_graph(n, "body"), &body));
        st = &b->steps[b->n_steps - 1];
        st->body[0] = body;
      }
      k++;
      continue;
    }
    int first = k;
    while (k < g->n_nodes && !(dycl_op_table[g->nodes[k]->op].flags & DYCL_OPF_CONTROL)) k++;
    dycl_subnet_t* sn = NULL;
    DYCL_RETURN_IF_ERROR(make_subnet(P, g, first, k, &sn));
    DYCL_RETURN_IF_ERROR(add_step(P, &b->steps, &b->n_steps, &cap, &st));
    st->kind = DYCL_STEP_CALL;
    st->subnet = sn;
  }
  /* owned values: the graph's inputs and every value defined by a step of this block */
  int n_owned = g->n_in;
  for (int s = 0; s < b->n_steps; s++)
    n_owned += b->steps[s].kind == DYCL_STEP_CALL ? b->steps[s].subnet->n_out : b->steps[s].node->n_out;
  b->owned = dycl_arena_calloc(P->A, (size_t)n_owned + 1, sizeof(int));
  if (!b->owned) return dycl_error_nomem();
  for (int i = 0; i < g->n_in; i++) b->owned[b->n_owned++] = g->in[i];
  for (int s = 0; s < b->n_steps; s++) {
    const dycl_step_t* st = &b->steps[s];
    if (st->kind == DYCL_STEP_CALL)
      for (int i = 0; i < st->subnet->n_out; i++) b->owned[b->n_owned++] = st->subnet->out[i];
    else
      for (int i = 0; i < st->node->n_out; i++)
        if (st->node->out[i] >= 0) b->owned[b->n_owned++] = st->node->out[i];
  }
  /* release each owned value after the last step that reads it, unless the block returns it */
  for (int s = 0; s < b->n_steps; s++) {
    b->steps[s].release = dycl_arena_calloc(P->A, (size_t)b->n_owned + 1, sizeof(int));
    if (!b->steps[s].release) return dycl_error_nomem();
  }
  for (int o = 0; o < b->n_owned; o++) {
    int id = b->owned[o];
    bool returned = false;
    for (int i = 0; i < g->n_out; i++) returned |= g->out[i] == id;
    if (returned) continue;
    int last = -1;
    for (int s = 0; s < b->n_steps; s++)
      if (step_reads(&b->steps[s], id)) last = s;
    if (last < 0) continue; /* unread: cleared with the block */
    dycl_step_t* st = &b->steps[last];
    st->release[st->n_release++] = id;
  }
  *out = b;
  return NULL;
}

dycl_status_t dycl_partition(dycl_ir_t* ir, dycl_program_t** out) {
  *out = NULL;
  dycl_program_t* p = dycl_calloc(ir->alloc, 1, sizeof *p);
  if (!p) return dycl_error_nomem();
  p->ir = ir;
  part_t P = {ir, p, &ir->arena, NULL, NULL, NULL, 0};
  dycl_status_t s = NULL;
  size_t nv = (size_t)ir->n_values + 1;
  P.alias = dycl_calloc(ir->alloc, nv, sizeof(int));
  P.mark = dycl_calloc(ir->alloc, nv, sizeof(int));
  P.last_use = dycl_calloc(ir->alloc, nv, sizeof(int));
  if (!P.alias || !P.mark || !P.last_use) {
    s = dycl_error_nomem();
    goto done;
  }
  p->output_names = dycl_arena_calloc(&ir->arena, (size_t)ir->main->n_out + 1, sizeof(char*));
  if (!p->output_names) {
    s = dycl_error_nomem();
    goto done;
  }
  for (int i = 0; i < ir->main->n_out; i++) p->output_names[i] = ir->values[ir->main->out[i]]->name;
  for (int64_t i = 0; i < ir->n_values; i++) P.alias[i] = (int)i;
  DYCL_GOTO_IF_ERROR(s, dycl_graph_walk(ir->main, collect_aliases, &P), done);
  substitute_graph(&P, ir->main);
  s = partition_graph(&P, ir->main, &p->main);
  if (!s) s = dycl_program_flows(p);
done:
  dycl_free(ir->alloc, P.alias);
  dycl_free(ir->alloc, P.mark);
  dycl_free(ir->alloc, P.last_use);
  if (s) {
    dycl_program_destroy(p);
    return s;
  }
  *out = p;
  return NULL;
}

void dycl_program_destroy(dycl_program_t* p) {
  if (!p) return;
  dycl_free(p->ir->alloc, p->subnets);
  dycl_free(p->ir->alloc, p);
}
