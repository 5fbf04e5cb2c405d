/* The `cpu` backend: plans each sub-network once (prepare), then runs it node by node (run).
 *
 * Planning picks the nodes oneDNN runs (heads): Conv, ConvTranspose, MatMul, Gemm, the pools and
 * ReduceSum/Mean/Max/Min on float32. It fuses into a head the nodes that only post-process its
 * result: a residual Add (when the other operand is already computed at the head's position) and
 * activations (Relu, LeakyRelu, Clip, Sigmoid, Tanh, Elu, HardSwish), provided each intermediate
 * value has no other use. A fused group runs at its head's position; its members are skipped.
 * The other nodes run the fast kernels of cpu_fast.h where they apply (fused elementwise groups,
 * softmax, normalizations, reductions, copies) and the reference kernel of the op table otherwise,
 * so every model runs. Values that
 * only convs and pools read inside the sub-network stay channels-last between them (no reorders);
 * everything else, and everything at the sub-network's boundary, is plain row-major.
 *
 * Shapes may change between runs: cpu_ops.c creates a primitive per input shape on first use and
 * keeps a few per group. When oneDNN cannot run a group on the inputs it gets (an unexpected
 * dtype or shape, a problem too small to be worth a call, an unsupported case), the group's nodes
 * run the reference kernels instead, in their own positions, which also gives the reference
 * kernels' error messages for bad inputs. */
#include "backend/cpu/cpu.h"

#ifdef DYCL_HAVE_ONEDNN

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_fast.h"
#include "backend/cpu/cpu_fast_internal.h"
#include "backend/cpu/cpu_internal.h"

#define CPU_MAX_IO 64

/* ------------------------------------------------------------ planning */

static bool is_f32(const dycl_ir_t* ir, int id) {
  if (id < 0) return false;
  const dycl_type_t* t = &ir->values[id]->type;
  return t->known && t->kind == DYCL_VALUE_TENSOR && t->dtype == DYCL_DTYPE_FLOAT32;
}

static bool is_const(const dycl_ir_t* ir, int id) {
  return id >= 0 && ir->values[id]->def == DYCL_DEF_CONST && ir->values[id]->constant;
}

/* The index of the only node of sn that reads value v, when that node comes after `after` and v
 * is not needed anywhere else (not a sub-network or graph output); else -1. */
static int sole_consumer(const dycl_subnet_t* sn, int v, int after) {
  if (dycl_ids_contain(sn->out, sn->n_out, v) || dycl_ids_contain(sn->graph->out, sn->graph->n_out, v)) return -1;
  int found = -1, uses = 0;
  for (int k = 0; k < sn->n_nodes; k++) {
    const dycl_node_t* n = sn->nodes[k];
    for (int i = 0; i < n->n_in; i++)
      if (n->in[i] == v) {
        uses++;
        found = k;
      }
    if (dycl_ids_contain(n->implicit, n->n_implicit, v)) uses += 2;
  }
  return uses == 1 && found > after ? found : -1;
}

/* The node index that computes value v in sn, or -1 (an input or constant of the sub-network). */
static int producer_index(const dycl_subnet_t* sn, const dycl_ir_t* ir, int v) {
  const dycl_ir_value_t* iv = ir->values[v];
  if (iv->def != DYCL_DEF_NODE) return -1;
  for (int k = 0; k < sn->n_nodes; k++)
    if (sn->nodes[k] == iv->producer) return k;
  return -1;
}

/* A constant scalar float input i of node n (or `dflt` when the input is omitted). */
static bool const_scalar(const dycl_ir_t* ir, const dycl_node_t* n, int i, float dflt, float* out) {
  if (i >= n->n_in || n->in[i] < 0) {
    *out = dflt;
    return true;
  }
  if (!is_const(ir, n->in[i])) return false;
  const dycl_value_t* c = ir->values[n->in[i]]->constant;
  if (c->kind != DYCL_VALUE_TENSOR || c->numel != 1 || c->dtype != DYCL_DTYPE_FLOAT32) return false;
  *out = ((const float*)c->data)[0];
  return true;
}

/* Node n as a oneDNN activation post-op, when it is one. */
static bool as_activation(const dycl_ir_t* ir, const dycl_node_t* n, cpu_act_t* a) {
  if (n->n_in < 1 || n->n_out != 1 || !is_f32(ir, n->in[0]) || !is_f32(ir, n->out[0])) return false;
  a->alpha = a->beta = 0;
  switch (n->op) {
    case DYCL_OP_Relu: a->kind = CPU_ACT_RELU; return true;
    case DYCL_OP_LeakyRelu:
      a->kind = CPU_ACT_RELU;
      a->alpha = (float)dycl_attr_float(n, "alpha", 0.01);
      return true;
    case DYCL_OP_Sigmoid: a->kind = CPU_ACT_SIGMOID; return true;
    case DYCL_OP_Tanh: a->kind = CPU_ACT_TANH; return true;
    case DYCL_OP_Elu:
      a->kind = CPU_ACT_ELU;
      a->alpha = (float)dycl_attr_float(n, "alpha", 1.0);
      return true;
    case DYCL_OP_HardSwish: a->kind = CPU_ACT_HARDSWISH; return true;
    case DYCL_OP_Clip: {
      float lo, hi;
      if (n->opset < 11) {
        lo = (float)dycl_attr_float(n, "min", -INFINITY);
        hi = (float)dycl_attr_float(n, "max", INFINITY);
      } else if (!const_scalar(ir, n, 1, -INFINITY, &lo) || !const_scalar(ir, n, 2, INFINITY, &hi)) {
        return false;
      }
      if (isnan(lo) || isnan(hi) || lo > hi) return false;
      if (lo == 0 && isinf(hi)) {
        a->kind = CPU_ACT_RELU;
        return true;
      }
      a->kind = CPU_ACT_CLIP;
      a->alpha = lo;
      a->beta = hi;
      return true;
    }
    default: return false;
  }
}

/* Whether node k can head a group (the static checks; the inputs are checked at run time). */
static bool plan_head(const dycl_program_t* p, const dycl_subnet_t* sn, int k, cpu_group_t* g) {
  const dycl_ir_t* ir = p->ir;
  const dycl_node_t* n = sn->nodes[k];
  memset(g, 0, sizeof *g);
  g->head = g->last = k;
  g->add_operand = -1;
  g->x_cl = g->s_cl = g->y_cl = -1;
  if (n->n_out < 1 || !is_f32(ir, n->out[0]) || n->n_in < 1 || !is_f32(ir, n->in[0])) return false;
  switch (n->op) {
    case DYCL_OP_Conv:
    case DYCL_OP_ConvTranspose:
      if (n->n_in < 2 || !is_f32(ir, n->in[1])) return false;
      g->kind = CPU_KIND_CONV;
      g->transpose = n->op == DYCL_OP_ConvTranspose;
      g->w_const = is_const(ir, n->in[1]);
      return true;
    case DYCL_OP_MatMul:
      if (n->n_in != 2 || !is_f32(ir, n->in[1])) return false;
      g->kind = CPU_KIND_MATMUL;
      g->w_const = is_const(ir, n->in[1]);
      return true;
    case DYCL_OP_Gemm:
      if (n->n_in < 2 || !is_f32(ir, n->in[1]) || dycl_attr_float(n, "alpha", 1.0) != 1.0) return false;
      g->kind = CPU_KIND_GEMM;
      g->w_const = is_const(ir, n->in[1]);
      return true;
    case DYCL_OP_MaxPool:
      if (n->n_out > 1 && n->out[1] >= 0) return false; /* Indices: the reference kernel */
      g->kind = CPU_KIND_POOL;
      g->pool_kind = CPU_POOL_MAX;
      return true;
    case DYCL_OP_AveragePool:
      g->kind = CPU_KIND_POOL;
      g->pool_kind = dycl_attr_int(n, "count_include_pad", 0) ? CPU_POOL_AVG_INCLUDE : CPU_POOL_AVG_EXCLUDE;
      return true;
    case DYCL_OP_ReduceSum:
    case DYCL_OP_ReduceMean:
    case DYCL_OP_ReduceMax:
    case DYCL_OP_ReduceMin:
      if (n->n_out != 1) return false;
      g->kind = CPU_KIND_REDUCE;
      g->reduce_kind = n->op == DYCL_OP_ReduceSum    ? CPU_REDUCE_SUM
                       : n->op == DYCL_OP_ReduceMean ? CPU_REDUCE_MEAN
                       : n->op == DYCL_OP_ReduceMax  ? CPU_REDUCE_MAX
                                                     : CPU_REDUCE_MIN;
      g->axes_input = n->op == DYCL_OP_ReduceSum ? n->opset >= 13 : n->opset >= 18;
      return true;
    case DYCL_OP_GlobalAveragePool:
    case DYCL_OP_GlobalMaxPool:
      g->kind = CPU_KIND_POOL;
      g->global = true;
      g->pool_kind = n->op == DYCL_OP_GlobalMaxPool ? CPU_POOL_MAX : CPU_POOL_AVG_EXCLUDE;
      return true;
    default: return false;
  }
}

/* Whether ArgMax node n, reading value v (the result of group g's product, plus its fused Add)
 * can end the group: over v's last axis, of a product by constant weights that dycl's own kernel
 * takes in its quantized form (cpu_own_argmax_suits: few rows, many weights). The rows may be
 * known only at run time: with more than the kernel takes, the product runs alone and the ArgMax
 * after it (cpu_group_run's CPU_RAN_HEAD). */
static bool argmax_member(const dycl_ir_t* ir, const cpu_group_t* g, const dycl_node_t* head, const dycl_node_t* n,
                          int v) {
  if ((g->kind != CPU_KIND_MATMUL && g->kind != CPU_KIND_GEMM) || !g->w_const || g->n_act > 0) return false;
  if (n->n_in != 1 || n->n_out != 1 || n->out[0] < 0) return false;
  const dycl_type_t* yt = &ir->values[n->out[0]]->type;
  const dycl_type_t* vt = &ir->values[v]->type;
  if (!yt->known || yt->kind != DYCL_VALUE_TENSOR || yt->dtype != DYCL_DTYPE_INT64 || !vt->known || vt->rank < 2)
    return false;
  int64_t axis = dycl_attr_int(n, "axis", 0);
  if (axis != vt->rank - 1 && axis != -1) return false;
  int64_t M = 1, N = vt->dims[vt->rank - 1].v;
  if (N < 1) return false;
  for (int d = 0; d < vt->rank - 1; d++) M *= vt->dims[d].v > 0 ? vt->dims[d].v : 1;
  const dycl_value_t* w = ir->values[head->in[1]]->constant;
  if (w->rank != 2) return false;
  bool tb = g->kind == CPU_KIND_GEMM && dycl_attr_int(head, "transB", 0) != 0;
  int64_t K = w->dims[tb ? 1 : 0];
  if (g->kind == CPU_KIND_GEMM && head->n_in > 2 && head->in[2] >= 0) { /* C a row (a bias), not a matrix */
    const dycl_type_t* ct = &ir->values[head->in[2]]->type;
    if (!ct->known || ct->rank > 2 || (ct->rank == 2 && ct->dims[0].v != 1)) return false;
  }
  return cpu_own_argmax_suits(M, K, N);
}

/* Extends group g with the nodes that post-process its result. */
static void plan_members(const dycl_program_t* p, const dycl_subnet_t* sn, cpu_group_t* g) {
  const dycl_ir_t* ir = p->ir;
  if (g->kind == CPU_KIND_POOL || g->kind == CPU_KIND_REDUCE) return;
  /* oneDNN 2.6 runs a deconvolution with an eltwise post-op 20 times slower than without (123
   * against 6.4 us for 64 -> 32 channels, 8x8 -> 16x16, stride 2): its activations and addend run
   * as a fused elementwise group after it */
  if (g->transpose) return;
  int v = sn->nodes[g->head]->out[0];
  while (g->n_members < CPU_MAX_MEMBERS) {
    int c = sole_consumer(sn, v, g->last);
    if (c < 0) return;
    const dycl_node_t* n = sn->nodes[c];
    if (n->op == DYCL_OP_Add && g->n_members == 0 && n->n_in == 2 && n->n_out == 1 && n->out[0] >= 0) {
      int other = n->in[0] == v ? n->in[1] : n->in[0];
      if (other < 0 || other == v || !is_f32(ir, other) || !is_f32(ir, n->out[0])) return;
      int pi = producer_index(sn, ir, other);
      if (pi >= g->head) return; /* not computed yet at the head's position */
      g->add_operand = other;
    } else if (n->op == DYCL_OP_ArgMax) {
      if (!argmax_member(ir, g, sn->nodes[g->head], n, v)) return;
      g->argmax = true;
      g->am_keep = dycl_attr_int(n, "keepdims", 1) != 0;
      g->am_last = dycl_attr_int(n, "select_last_index", 0) != 0;
      g->members[g->n_members++] = c;
      g->last = c;
      return; /* an index: nothing more to fuse */
    } else {
      cpu_act_t a;
      if (g->n_act >= CPU_MAX_ACTS || n->n_out != 1 || n->out[0] < 0 || n->in[0] != v || !as_activation(ir, n, &a))
        return;
      for (int i = 1; i < n->n_in; i++) /* Clip's bounds: constants, nothing to wait for */
        if (n->in[i] == v) return;
      g->act[g->n_act++] = a;
    }
    g->members[g->n_members++] = c;
    g->last = c;
    v = n->out[0];
  }
}

/* Whether node k, reading value y as its input i, can take y channels-last when the values
 * may[] marks may be: the input X of a conv or pool group, the residual operand a conv group adds
 * in, an external of a fused elementwise group or an input of a Concat along the channels
 * (cpu_fast_run_cl) whose own result may be channels-last. */
static bool cl_reader(const dycl_program_t* p, const dycl_subnet_t* sn, const cpu_state_t* st, int k, int i, int y,
                      const bool* may) {
  const dycl_node_t* n = sn->nodes[k];
  int gk = st->node_group[k];
  if (gk >= 0) {
    const cpu_group_t* h = &st->groups[gk];
    /* oneDNN 2.6 reduces a channels-last source with a slow generic kernel: dycl's own takes a
     * reduction over the spatial axes (cpu_group_spatial_reduce), the others get plain sources */
    if (i != 0) return false;
    if (h->kind == CPU_KIND_CONV || (h->kind == CPU_KIND_POOL && !h->global)) return true;
    return cpu_group_spatial_reduce(p, sn, h);
  }
  if (gk <= -2) {
    const cpu_group_t* h = &st->groups[-2 - gk];
    return h->kind == CPU_KIND_CONV && h->add_operand == y && n->op == DYCL_OP_Add;
  }
  int r = cpu_fast_group_root(st->fast, k);
  if (r < 0 && cpu_fast_cl_capable(st->fast, p, sn, k)) r = k; /* a Concat */
  if (r < 0) return false;
  int out = sn->nodes[r]->out[0];
  return out >= 0 && may[out];
}

/* Whether value y may be held channels-last: not an output of the sub-network unless exp[y] (it
 * may leave it so: cpu_export), and every reader takes it so (cl_reader). */
static bool cl_readers_only(const dycl_program_t* p, const dycl_subnet_t* sn, const cpu_state_t* st, int y,
                            const bool* may, const bool* exp) {
  bool out = dycl_ids_contain(sn->out, sn->n_out, y) || dycl_ids_contain(sn->graph->out, sn->graph->n_out, y);
  if (out && !(exp && exp[y])) return false;
  int uses = 0;
  for (int k = 0; k < sn->n_nodes; k++) {
    const dycl_node_t* n = sn->nodes[k];
    if (dycl_ids_contain(n->implicit, n->n_implicit, y)) return false;
    for (int i = 0; i < n->n_in; i++) {
      if (n->in[i] != y) continue;
      uses++;
      if (!cl_reader(p, sn, st, k, i, y, may)) return false;
    }
  }
  return uses > 0 || out;
}

static int cl_index(const cpu_state_t* st, int v) { return st->cl_of && v >= 0 ? st->cl_of[v] : -1; }

/* A value that may be held channels-last: a float tensor of rank 3 or more. */
static bool cl_type(const dycl_program_t* p, int v) {
  const dycl_type_t* t = &p->ir->values[v]->type;
  return t->known && t->kind == DYCL_VALUE_TENSOR && t->dtype == DYCL_DTYPE_FLOAT32 && t->rank >= 3;
}

/* Picks the values kept channels-last: results of conv and pool groups, of fused elementwise
 * groups and of Concats along the channels, as long as every reader takes them so. A chain of
 * convolutions, with the elementwise work and the concatenations between them, then runs without
 * reordering to plain and back around each convolution. Starts from every candidate and drops
 * those with a reader that would not take them, until none is dropped (a fused group's or a
 * Concat's result being dropped can make its inputs drop). The sub-network's inputs are candidates
 * too, and its outputs may stay channels-last where exp[] (cpu_export) allows. Which values are
 * channels-last in a run is decided as it goes (a group given plain inputs makes a plain result;
 * an input is channels-last when its value's `layout` says so): cpu_run's cl[]. A plan again
 * replaces the previous one. */
static dycl_status_t plan_layouts(const dycl_program_t* p, const dycl_subnet_t* sn, cpu_state_t* st, const bool* exp) {
  int64_t nv = p->ir->n_values;
  /* a plan again (cpu_export): drop the previous one */
  dycl_free(st->alloc, st->cl_vals);
  dycl_free(st->alloc, st->cl_of);
  dycl_free(st->alloc, st->cl_run);
  st->cl_vals = st->cl_of = NULL;
  st->cl_run = NULL;
  st->n_cl = 0;
  for (int i = 0; i < st->n_groups; i++) st->groups[i].x_cl = st->groups[i].s_cl = st->groups[i].y_cl = -1;
  bool* may = dycl_calloc(st->alloc, (size_t)nv + 1, sizeof *may);
  if (!may) return dycl_error_nomem();
  int n_may = 0;
  for (int i = 0; i < st->n_groups; i++) {
    const cpu_group_t* g = &st->groups[i];
    if (g->kind != CPU_KIND_CONV && g->kind != CPU_KIND_POOL) continue;
    int y = sn->nodes[g->last]->out[0];
    if (y >= 0 && !may[y]) {
      may[y] = true;
      n_may++;
    }
  }
  /* inputs another cpu sub-network may hand over channels-last (cpu_export) */
  for (int i = 0; i < sn->n_in; i++) {
    int v = sn->in[i];
    if (v >= 0 && !may[v] && cl_type(p, v)) {
      may[v] = true;
      n_may++;
    }
  }
  for (int k = 0; k < sn->n_nodes && n_may > 0; k++) { /* without a conv, a pool or such an input, nothing starts a chain */
    const dycl_node_t* n = sn->nodes[k];
    if (st->node_group[k] != -1 || n->n_out < 1 || n->out[0] < 0 || !cpu_fast_cl_capable(st->fast, p, sn, k)) continue;
    if (!cl_type(p, n->out[0])) continue;
    may[n->out[0]] = true;
    n_may++;
  }
  for (bool changed = n_may > 0; changed;) {
    changed = false;
    for (int k = 0; k < sn->n_nodes; k++) {
      const dycl_node_t* n = sn->nodes[k];
      int y = n->n_out > 0 ? n->out[0] : -1;
      if (y >= 0 && may[y] && !cl_readers_only(p, sn, st, y, may, exp)) {
        may[y] = false;
        n_may--;
        changed = true;
      }
    }
    for (int i = 0; i < sn->n_in; i++) {
      int v = sn->in[i];
      if (v >= 0 && may[v] && !cl_readers_only(p, sn, st, v, may, exp)) {
        may[v] = false;
        n_may--;
        changed = true;
      }
    }
  }
  dycl_status_t s = NULL;
  if (n_may > 0) {
    st->cl_vals = dycl_calloc(st->alloc, (size_t)n_may, sizeof *st->cl_vals);
    st->cl_of = dycl_calloc(st->alloc, (size_t)nv, sizeof *st->cl_of);
    st->cl_run = dycl_calloc(st->alloc, (size_t)sn->n_nodes, sizeof *st->cl_run);
    if (!st->cl_vals || !st->cl_of || !st->cl_run) s = dycl_error_nomem();
  }
  for (int64_t v = 0; !s && n_may > 0 && v < nv; v++) {
    st->cl_of[v] = may[v] ? st->n_cl : -1;
    if (may[v]) st->cl_vals[st->n_cl++] = (int)v;
  }
  dycl_free(st->alloc, may);
  if (s || st->n_cl == 0) return s;
  for (int k = 0; k < sn->n_nodes; k++) {
    const dycl_node_t* n = sn->nodes[k];
    st->cl_run[k] = st->node_group[k] == -1 && n->n_out > 0 && cl_index(st, n->out[0]) >= 0;
  }
  for (int i = 0; i < st->n_groups; i++) {
    cpu_group_t* g = &st->groups[i];
    if (g->kind != CPU_KIND_CONV && g->kind != CPU_KIND_POOL && g->kind != CPU_KIND_REDUCE) continue;
    g->y_cl = cl_index(st, sn->nodes[g->last]->out[0]);
    g->x_cl = cl_index(st, sn->nodes[g->head]->in[0]);
    if (g->add_operand >= 0) g->s_cl = cl_index(st, g->add_operand);
  }
  return NULL;
}

/* Whether values a and b have the same fully known shape. */
static bool same_static_shape(const dycl_ir_t* ir, int a, int b) {
  const dycl_type_t *x = &ir->values[a]->type, *y = &ir->values[b]->type;
  if (!x->known || !y->known || x->rank != y->rank || x->rank < 0) return false;
  for (int d = 0; d < x->rank; d++)
    if (x->dims[d].v <= 0 || x->dims[d].v != y->dims[d].v) return false;
  return true;
}

/* The residual a convolution group adds into its result, when the result may be made in place
 * over it (mem_plan.h's share): an addend of the result's shape (oneDNN's sum post-op then reads
 * it in the destination, element by element, and dycl's own convolution reads each element before
 * it writes it) that nothing reads at or after the group's position but the group's Add; else -1.
 * A reader's position: its own index, or its fused elementwise group's root, where that runs. */
static int inplace_addend(const dycl_program_t* p, const dycl_subnet_t* sn, const cpu_state_t* st,
                          const cpu_group_t* g) {
  int v = g->add_operand;
  if (g->kind != CPU_KIND_CONV || g->transpose || v < 0) return -1;
  const dycl_node_t* last = sn->nodes[g->last];
  if (last->n_out != 1 || last->out[0] < 0 || !same_static_shape(p->ir, v, last->out[0])) return -1;
  int add = g->members[0]; /* plan_members fuses the Add first, or not at all */
  for (int k = 0; k < sn->n_nodes; k++) {
    const dycl_node_t* n = sn->nodes[k];
    if (dycl_ids_contain(n->implicit, n->n_implicit, v)) return -1;
    if (k == add || !dycl_ids_contain(n->in, n->n_in, v)) continue;
    int root = st->node_group[k] == -1 ? cpu_fast_group_root(st->fast, k) : -1;
    if ((root > k ? root : k) >= g->head) return -1;
  }
  return v;
}

/* Plans the sub-network's intermediates into the session arena. A fused group makes its result at
 * its head's position; the values between its nodes are not made at all when it runs whole. A
 * convolution's residual may lend its bytes to the result (inplace_addend). */
static dycl_status_t plan_memory(const dycl_program_t* p, const dycl_subnet_t* sn, cpu_state_t* st) {
  int* pos = dycl_calloc(st->alloc, 3 * (size_t)sn->n_nodes + 1, sizeof *pos);
  if (!pos) return dycl_error_nomem();
  int* share = pos + sn->n_nodes;
  int* rel = share + sn->n_nodes; /* a member of a fused elementwise group releases with its root */
  for (int k = 0; k < sn->n_nodes; k++) share[k] = -1;
  for (int i = 0; i < st->n_groups; i++) {
    cpu_group_t* g = &st->groups[i];
    share[g->last] = inplace_addend(p, sn, st, g);
    g->inplace = share[g->last] >= 0;
  }
  for (int k = 0; k < sn->n_nodes; k++) {
    int gi = st->node_group[k];
    const cpu_group_t* g = gi >= 0 ? &st->groups[gi] : gi <= -2 ? &st->groups[-2 - gi] : NULL;
    pos[k] = !g ? k : g->last == k ? g->head : -1;
    const int* fast_nodes; /* a fused elementwise group (cpu_fast.h): made from its first node on */
    rel[k] = k;
    if (cpu_fast_deferred(st->fast, k)) {
      pos[k] = -1;
      rel[k] = cpu_fast_group_root(st->fast, k);
    } else if (cpu_fast_group_nodes(st->fast, k, &fast_nodes) > 0) pos[k] = fast_nodes[0];
  }
  dycl_status_t s = dycl_mem_plan_build(p->ir, sn, pos, rel, share, st->alloc, &st->plan);
  dycl_free(st->alloc, pos);
  return s;
}

/* ---------------------------------------------------------------- between sub-networks */

/* A sub-network's output may leave it channels-last (its value's `layout` 1) when nothing but
 * sub-networks reads it on the host (dycl_program_flows: following it through If results and Loop
 * carried values; never a model output, a condition, a Scan's operand...) and one of those takes
 * it channels-last. A sub-network that does not take it so makes it plain on entry, in the host's
 * slot, so the later readers get it plain (one transpose, as the producer would have made). The
 * chain of convolutions of a network that runs block by block under control flow (SkipNet,
 * BlockDrop, early exits) then crosses the sub-network boundaries without a transpose at each. */
static bool exp_ok(const dycl_program_t* p, const dycl_subnet_t* sn, int j) {
  if (sn->host_use[j]) return false;
  for (int r = sn->reach_start[j]; r < sn->reach_start[j + 1]; r++) {
    int k = sn->reach_sub[r];
    const cpu_state_t* c = k >= 0 && k < p->n_subnets ? p->subnets[k]->backend_state : NULL;
    if (c && cl_index(c, sn->reach_val[r]) >= 0) return true;
  }
  return false;
}

/* Settles which outputs leave their sub-networks channels-last: from none, plan every sub-network
 * with the outputs allowed so far, allow those exp_ok finds, until nothing changes (allowing one
 * only makes more inputs taken so); then makes the primitives. */
static dycl_status_t cpu_export(const dycl_program_t* p) {
  int64_t nv = p->ir->n_values;
  const dycl_allocator_t* alloc = ((const cpu_state_t*)p->subnets[0]->backend_state)->alloc;
  bool* exp = dycl_calloc(alloc, (size_t)nv + 1, sizeof *exp);
  dycl_status_t s = exp ? NULL : dycl_error_nomem();
  for (int round = 0, changed = 1; !s && changed && round < 16; round++) {
    changed = 0;
    for (int i = 0; !s && i < p->n_subnets; i++)
      if (round > 0) s = plan_layouts(p, p->subnets[i], p->subnets[i]->backend_state, exp);
    for (int i = 0; !s && i < p->n_subnets; i++) {
      const dycl_subnet_t* sn = p->subnets[i];
      for (int j = 0; j < sn->n_out; j++) {
        int y = sn->out[j];
        if (y < 0 || y >= nv || exp[y] || !cl_type(p, y) || !exp_ok(p, sn, j)) continue;
        exp[y] = true;
        changed = 1;
      }
    }
  }
  for (int i = 0; !s && i < p->n_subnets; i++) {
    cpu_state_t* st = p->subnets[i]->backend_state;
    for (int g = 0; !s && g < st->n_groups; g++) s = cpu_group_prepare(p, p->subnets[i], st, &st->groups[g]);
  }
  dycl_free(alloc, exp);
  return s;
}

static void state_destroy(cpu_state_t* st) {
  if (!st) return;
  const dycl_allocator_t* alloc = st->alloc;
  dycl_mem_plan_free(st->plan, alloc);
  cpu_fast_destroy(st->fast);
  dycl_free(alloc, st->cl_vals);
  dycl_free(alloc, st->cl_of);
  dycl_free(alloc, st->cl_run);
  for (int i = 0; i < st->n_groups; i++) cpu_group_release(&st->groups[i], alloc);
  cpu_state_free_buffers(st);
  dycl_free(alloc, st->groups);
  dycl_free(alloc, st->node_group);
  cpu_dnn_destroy(st->dnn);
  pthread_mutex_destroy(&st->lock);
  dycl_free(alloc, st);
}

/* Plans sub-network sn; `threads` > 0: the threads oneDNN runs on (else OpenMP's default).
 * Everything the plan holds comes from `alloc` (the model's; NULL: malloc). */
static dycl_status_t cpu_prepare_threads(const dycl_program_t* p, dycl_subnet_t* sn, int threads,
                                         const dycl_allocator_t* alloc) {
  sn->backend_state = NULL;
  alloc = dycl_alloc_or_default(alloc);
  int* node_group = dycl_calloc(alloc, (size_t)sn->n_nodes + 1, sizeof *node_group);
  cpu_group_t* groups = dycl_calloc(alloc, (size_t)sn->n_nodes + 1, sizeof *groups);
  if (!node_group || !groups) {
    dycl_free(alloc, node_group);
    dycl_free(alloc, groups);
    return dycl_error_nomem();
  }
  for (int k = 0; k < sn->n_nodes; k++) node_group[k] = -1;
  int ng = 0;
  for (int k = 0; k < sn->n_nodes; k++) {
    if (node_group[k] != -1) continue; /* already fused into an earlier head */
    cpu_group_t* g = &groups[ng];
    if (!plan_head(p, sn, k, g)) continue;
    plan_members(p, sn, g);
    node_group[k] = ng;
    for (int m = 0; m < g->n_members; m++) node_group[g->members[m]] = -2 - ng;
    ng++;
  }
  cpu_state_t* st = dycl_calloc(alloc, 1, sizeof *st);
  if (!st) {
    dycl_free(alloc, node_group);
    dycl_free(alloc, groups);
    return dycl_error_nomem();
  }
  st->alloc = alloc;
  st->groups = groups;
  st->n_groups = ng;
  st->node_group = node_group;
  if (pthread_mutex_init(&st->lock, NULL) != 0) {
    dycl_free(alloc, groups);
    dycl_free(alloc, node_group);
    dycl_free(alloc, st);
    return dycl_error(DYCL_CODE_INTERNAL, "cannot create a mutex");
  }
  dycl_status_t s = NULL;
  if (ng > 0) s = cpu_dnn_create(threads, alloc, &st->dnn); /* none: the plain reference loop */
  if (!s) s = cpu_fast_plan(p, sn, node_group, threads, alloc, &st->fast); /* the other nodes (cpu_fast.h) */
  if (!s) s = plan_layouts(p, sn, st, NULL);
  if (!s) s = plan_memory(p, sn, st);
  /* with the host's flows known, the layouts (and so the primitives) are settled once every
   * sub-network is planned: dycl_model_load (and a package) prepares them in order, the last one
   * does it */
  bool whole = p->n_subnets > 0 && p->subnets[0]->reach_start && p->subnets[p->n_subnets - 1]->reach_start;
  for (int i = 0; !s && !whole && i < ng; i++) s = cpu_group_prepare(p, sn, st, &st->groups[i]);
  if (s) {
    state_destroy(st);
    return s;
  }
  sn->backend_state = st;
  if (whole && sn == p->subnets[p->n_subnets - 1]) return cpu_export(p);
  return NULL;
}

/* options->threads (0: OpenMP's default threads, OMP_NUM_THREADS, else all cores) and
 * options->allocator (the model's, for everything the plan holds). */
static dycl_status_t cpu_prepare(const dycl_program_t* p, dycl_subnet_t* sn, const dycl_options_t* options) {
  return cpu_prepare_threads(p, sn, options ? options->threads : 0, options ? options->allocator : NULL);
}

static void cpu_release(dycl_subnet_t* sn) {
  state_destroy(sn->backend_state);
  sn->backend_state = NULL;
}

/* ---------------------------------------------------------------- running */

/* Runs node n with its reference kernel, as the ref backend does. */
static dycl_status_t run_ref_node(const dycl_ir_t* ir, const dycl_node_t* n, dycl_value_t** slots, dycl_kctx_t* kctx) {
  dycl_value_t* in_buf[CPU_MAX_IO];
  dycl_value_t* out_buf[CPU_MAX_IO];
  dycl_value_t** in = in_buf;
  dycl_value_t** out = out_buf;
  dycl_status_t s = NULL;
  bool heap = n->n_in > CPU_MAX_IO || n->n_out > CPU_MAX_IO;
  if (heap) {
    in = dycl_calloc(kctx->alloc, (size_t)n->n_in + 1, sizeof *in);
    out = dycl_calloc(kctx->alloc, (size_t)n->n_out + 1, sizeof *out);
    if (!in || !out) {
      dycl_free(kctx->alloc, in);
      dycl_free(kctx->alloc, out);
      return dycl_error_nomem();
    }
  }
  for (int i = 0; i < n->n_in; i++) {
    in[i] = n->in[i] >= 0 ? slots[n->in[i]] : NULL;
    if (n->in[i] >= 0 && !in[i])
      s = dycl_node_error(n, DYCL_CODE_INTERNAL, "input '%s' has no value", ir->values[n->in[i]]->name);
  }
  for (int j = 0; j < n->n_out; j++) out[j] = NULL;
  if (dycl_op_table[n->op].flags & DYCL_OPF_RANDOM) { /* fresh numbers on every call, as ref */
    uint64_t z = (kctx->seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    kctx->seed = z ^ (z >> 27);
  }
  if (!s) s = dycl_op_table[n->op].run(kctx, n, in, n->n_in, out, n->n_out);
  for (int j = 0; j < n->n_out; j++) {
    if (!s && n->out[j] >= 0) {
      if (!out[j])
        s = dycl_node_error(n, DYCL_CODE_INTERNAL, "kernel did not produce output %d", j);
      else
        s = dycl_check_output(ir, n, j, out[j]);
    }
    if (s || n->out[j] < 0) {
      dycl_value_release(out[j]);
      continue;
    }
    dycl_value_release(slots[n->out[j]]);
    slots[n->out[j]] = out[j];
  }
  if (heap) {
    dycl_free(kctx->alloc, in);
    dycl_free(kctx->alloc, out);
  }
  return s;
}

/* Replaces the channels-last tensor in *slot by a plain copy (for a reference kernel), transposed
 * by the kernels of plan `fast` (may be NULL). */
static dycl_status_t to_plain(const cpu_fast_t* fast, dycl_kctx_t* kctx, dycl_value_t** slot) {
  dycl_value_t* u;
  DYCL_RETURN_IF_ERROR(
      dycl_tensor_from_channels_last(kctx->alloc, kctx->limits, *slot, cpu_fast_kern(fast)->transpose, &u));
  dycl_value_release(*slot);
  *slot = u;
  return NULL;
}

/* Makes the inputs of node k that are held channels-last plain again (of every node of the
 * fused group k roots). */
static dycl_status_t inputs_to_plain(const cpu_state_t* st, const dycl_subnet_t* sn, int k, dycl_value_t** slots,
                                     unsigned char* cl, dycl_kctx_t* kctx) {
  const int* nodes;
  int nn = cpu_fast_group_nodes(st->fast, k, &nodes);
  for (int j = 0; j < (nn > 0 ? nn : 1); j++) {
    const dycl_node_t* n = sn->nodes[nn > 0 ? nodes[j] : k];
    for (int i = 0; i < n->n_in; i++) {
      int c = cl_index(st, n->in[i]);
      if (c >= 0 && cl[c]) {
        DYCL_RETURN_IF_ERROR(to_plain(st->fast, kctx, &slots[n->in[i]]));
        cl[c] = 0;
      }
    }
  }
  return NULL;
}

/* Inputs of the sub-network turned channels-last in the host's slots during a run (turn_cat_inputs),
 * put back as they were when it ends: the host and the other sub-networks read them plain. */
#define CPU_MAX_TURNED 8
typedef struct turned {
  int n;
  int v[CPU_MAX_TURNED];
  dycl_value_t* orig[CPU_MAX_TURNED];
} turned_t;

/* A Concat that the fused group rooted at k reads in place, channels-last, turns the blocks of a
 * plain input as it gathers them (cpu_fast.c), again in every group reading that input: a dense
 * block's groups all read the block's input. So a plain input that the layout plan lets be
 * channels-last (RANet's block input, handed over plain from a sequence) is turned once here,
 * for all of them; an input of the sub-network is put back when the run ends (restore_turned). */
static dycl_status_t turn_cat_inputs(const cpu_state_t* st, const dycl_subnet_t* sn, int k, dycl_value_t** slots,
                                     unsigned char* cl, dycl_kctx_t* kctx, turned_t* tu) {
  const int* nodes;
  int nn = cpu_fast_group_nodes(st->fast, k, &nodes);
  for (int j = 0; j < nn - 1; j++) {
    if (!cpu_fast_cat_member(st->fast, nodes[j])) continue;
    const dycl_node_t* n = sn->nodes[nodes[j]];
    bool any = false;
    for (int i = 0; i < n->n_in && !any; i++) {
      int c = cl_index(st, n->in[i]);
      any = c >= 0 && cl[c];
    }
    for (int i = 0; i < n->n_in && any; i++) {
      int v = n->in[i], c = cl_index(st, v);
      const dycl_value_t* x = slots[v];
      if (c < 0 || cl[c] || !x || x->kind != DYCL_VALUE_TENSOR || x->dtype != DYCL_DTYPE_FLOAT32 || x->rank < 3) continue;
      bool input = dycl_ids_contain(sn->in, sn->n_in, v);
      if (input && tu->n == CPU_MAX_TURNED) continue; /* the groups turn it as they gather */
      dycl_value_t* u;
      DYCL_RETURN_IF_ERROR(
          dycl_tensor_to_channels_last(kctx->alloc, kctx->limits, x, cpu_fast_kern(st->fast)->transpose, &u));
      if (input) {
        tu->v[tu->n] = v;
        tu->orig[tu->n++] = slots[v];
      } else {
        dycl_value_release(slots[v]);
      }
      slots[v] = u;
      cl[c] = 1;
    }
  }
  return NULL;
}

static void restore_turned(const cpu_state_t* st, turned_t* tu, dycl_value_t** slots, unsigned char* cl) {
  for (int i = 0; i < tu->n; i++) {
    int c = cl_index(st, tu->v[i]);
    dycl_value_release(slots[tu->v[i]]);
    slots[tu->v[i]] = tu->orig[i];
    if (c >= 0) cl[c] = 0;
  }
  tu->n = 0;
}

typedef struct cl_state {
  const cpu_state_t* st;
  const unsigned char* cl;
} cl_state_t;

static bool held_cl(const void* ctx, int v) {
  const cl_state_t* c = ctx;
  int i = cl_index(c->st, v);
  return i >= 0 && c->cl[i];
}

/* ---- fast kernels (cpu_fast.h) for the nodes oneDNN does not run ---- */

/* Runs node k with a fast kernel when one takes its inputs, else with its reference kernel. */
static dycl_status_t run_single(const dycl_program_t* p, const dycl_subnet_t* sn, const cpu_state_t* st, int k,
                                dycl_value_t** slots, dycl_kctx_t* kctx) {
  bool ran = false;
  if (st && st->fast) DYCL_RETURN_IF_ERROR(cpu_fast_node_run(st->fast, p, sn, k, slots, kctx, &ran));
  return ran ? NULL : run_ref_node(p->ir, sn->nodes[k], slots, kctx);
}

/* Runs node k, which oneDNN does not run: the fused group it roots (when the group cannot take
 * these inputs, its nodes one by one, those before the root outside the arena), else the node. */
static dycl_status_t run_fast(const dycl_program_t* p, const dycl_subnet_t* sn, const cpu_state_t* st, int k,
                              dycl_value_t** slots, dycl_kctx_t* kctx) {
  const int* nodes;
  int n = st ? cpu_fast_group_nodes(st->fast, k, &nodes) : 0;
  if (n > 0) {
    bool ran = false;
    DYCL_RETURN_IF_ERROR(cpu_fast_group_run(st->fast, p, sn, k, slots, kctx, &ran));
    if (ran) return NULL;
    const dycl_allocator_t* a = kctx->alloc;
    kctx->alloc = kctx->heap ? kctx->heap : a;
    dycl_status_t s = NULL;
    for (int i = 0; i < n - 1 && !s; i++) s = run_single(p, sn, st, nodes[i], slots, kctx);
    kctx->alloc = a;
    if (s) return s;
  }
  return run_single(p, sn, st, k, slots, kctx);
}

/* Releases the values sn releases after node k (and after the nodes of the group k roots). */
static void release_after(const dycl_subnet_t* sn, const cpu_state_t* st, int k, dycl_value_t** slots) {
  const int* nodes;
  int n = st ? cpu_fast_group_nodes(st->fast, k, &nodes) : 0;
  for (int i = 0; i < (n > 0 ? n : 1); i++) {
    int kk = n > 0 ? nodes[i] : k;
    for (int r = sn->release_start[kk]; r < sn->release_start[kk + 1]; r++) {
      dycl_value_release(slots[sn->release_ids[r]]);
      slots[sn->release_ids[r]] = NULL;
    }
  }
}

/* ---- end of the fast kernels' hooks ---- */

#define CPU_STACK_NODES 256

static dycl_status_t cpu_run(const dycl_program_t* p, const dycl_subnet_t* sn, dycl_value_t** slots,
                             dycl_kctx_t* kctx) {
  cpu_state_t* st = sn->backend_state;
  dycl_status_t s = NULL;
  /* pending[k]: member node k runs the reference kernel (its group fell back); cl[i]: value
   * st->cl_vals[i] is held channels-last */
  unsigned char buf[2 * CPU_STACK_NODES];
  turned_t turned = {0};
  unsigned char* pending = buf;
  unsigned char* cl = buf + CPU_STACK_NODES;
  if (st && (sn->n_nodes > CPU_STACK_NODES || st->n_cl > CPU_STACK_NODES)) {
    pending = dycl_calloc(kctx->alloc, (size_t)sn->n_nodes + (size_t)st->n_cl + 1, 1);
    if (!pending) return dycl_error_nomem();
    cl = pending + sn->n_nodes;
  } else {
    memset(buf, 0, sizeof buf);
  }
  /* inputs another sub-network handed over channels-last (cpu_export): held so where the plan
   * takes them so, else made plain first */
  for (int i = 0; !s && i < sn->n_in; i++) {
    int v = sn->in[i];
    const dycl_value_t* x = v >= 0 ? slots[v] : NULL;
    if (!x || x->kind != DYCL_VALUE_TENSOR || !x->layout) continue;
    int c = st ? cl_index(st, v) : -1;
    if (c >= 0) cl[c] = 1;
    else s = to_plain(st ? st->fast : NULL, kctx, &slots[v]);
  }
  /* the arena: planned intermediates are made in it (see backend/mem_plan.h) */
  dycl_placement_t* pl = st && st->plan ? kctx->place : NULL;
  if (pl && !s) s = dycl_placement_reserve(pl, st->plan);
  const dycl_allocator_t* alloc = kctx->alloc;
  kctx->heap = alloc;
  for (int k = 0; k < sn->n_nodes && !s; k++) {
    int gi = st ? st->node_group[k] : -1;
    int64_t t0 = dycl_prof_begin(kctx);
    if (gi >= 0) {
      cpu_group_t* g = &st->groups[gi];
      cpu_ran_t ran = CPU_RAN_NONE;
      /* the group's result takes its planned place; should the group run only its head, the
       * head's output may take that place instead (its lifetime lies within the result's), and
       * the members then run outside the arena */
      if (pl && dycl_placement_begin(pl, st->plan, g->last)) kctx->alloc = &pl->self;
      s = cpu_group_run(p, sn, st, g, slots, cl, kctx, &ran);
      if (!s && ran == CPU_RAN_NONE) {
        kctx->alloc = alloc;
        if (pl) dycl_placement_end(pl);
        s = inputs_to_plain(st, sn, k, slots, cl, kctx);
        if (!s && g->n_members == 0 && pl && dycl_placement_begin(pl, st->plan, k)) kctx->alloc = &pl->self;
        if (!s) s = run_single(p, sn, st, k, slots, kctx); /* fast kernel or reference */
      }
      kctx->alloc = alloc;
      if (pl) dycl_placement_end(pl);
      if (!s && ran != CPU_RAN_ALL)
        for (int m = 0; m < g->n_members; m++) pending[g->members[m]] = 1;
      else if (!s)
        for (int m = 0; m < g->n_members; m++) dycl_prof_fused(kctx, g->members[m], k);
    } else if (gi == -1 && st && cpu_fast_deferred(st->fast, k)) {
      continue; /* in a fused elementwise group: runs, and its values are released, with the root */
    } else if (gi == -1 || pending[k]) {
      bool ran = false;
      if (gi == -1 && st && st->cl_run && st->cl_run[k]) { /* a channels-last result, if the inputs are */
        cl_state_t cs = {st, cl};
        cpu_cl_query_t q = {held_cl, &cs};
        s = turn_cat_inputs(st, sn, k, slots, cl, kctx, &turned);
        if (!s && pl && dycl_placement_begin(pl, st->plan, k)) kctx->alloc = &pl->self;
        if (!s) s = cpu_fast_run_cl(st->fast, p, sn, k, slots, &q, kctx, &ran);
        kctx->alloc = alloc;
        if (pl) dycl_placement_end(pl);
        if (!s && ran) cl[cl_index(st, sn->nodes[k]->out[0])] = 1;
      }
      if (!s && !ran && st && st->n_cl) s = inputs_to_plain(st, sn, k, slots, cl, kctx);
      if (!s && !ran && gi == -1 && pl && dycl_placement_begin(pl, st->plan, k)) kctx->alloc = &pl->self;
      /* a member of a group that ran its head alone: a single-node fast kernel where one takes it
       * (the ArgMax of a product with too many rows for the quantized kernel), else the reference */
      if (!s && !ran) s = gi == -1 ? run_fast(p, sn, st, k, slots, kctx) : run_single(p, sn, st, k, slots, kctx);
      kctx->alloc = alloc;
      if (pl) dycl_placement_end(pl);
    }
    if (kctx->prof_ns) {
      dycl_prof_end(kctx, k, t0);
      const int* nodes; /* a fused elementwise chain runs at its last node */
      int n = gi == -1 && st ? cpu_fast_group_nodes(st->fast, k, &nodes) : 0;
      for (int i = 0; i < n - 1; i++) dycl_prof_fused(kctx, nodes[i], k);
    }
    if (!s) release_after(sn, st, k, slots);
  }
  if (st) restore_turned(st, &turned, slots, cl);
  for (int j = 0; !s && j < sn->n_out; j++) { /* tell the host how each output lies */
    int y = sn->out[j], c = st ? cl_index(st, y) : -1;
    unsigned char lay = c >= 0 && cl[c]; /* written only when it changes: a plain output may be shared */
    if (y >= 0 && slots[y] && slots[y]->kind == DYCL_VALUE_TENSOR && slots[y]->layout != lay) slots[y]->layout = lay;
  }
  if (s) /* drop every internal value this run produced */
    for (int kk = 0; kk < sn->n_nodes; kk++)
      for (int r = sn->release_start[kk]; r < sn->release_start[kk + 1]; r++) {
        dycl_value_release(slots[sn->release_ids[r]]);
        slots[sn->release_ids[r]] = NULL;
      }
  if (pending != buf) dycl_free(kctx->alloc, pending);
  return s;
}

static const dycl_backend_t cpu_backend = {"cpu", cpu_prepare, cpu_run, cpu_release};

const dycl_backend_t* dycl_backend_cpu(void) { return &cpu_backend; }

#else /* built without oneDNN */

const dycl_backend_t* dycl_backend_cpu(void) { return NULL; }

#endif
