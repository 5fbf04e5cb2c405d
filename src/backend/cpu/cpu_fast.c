/* The `cpu` backend's fused elementwise groups (see cpu_fast.h): planning a sub-network's groups,
 * compiling each into a fast_prog (cpu_fast_internal.h), and running one over the broadcast of
 * its inputs, in blocks, on the calling thread or split between the threads of its OpenMP team. */
#include "backend/cpu/cpu_fast.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/cpu/cpu_fast_internal.h"
#include "backend/mem_plan.h"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

#define FAST_STACK_TMPS 4       /* temporaries kept on the stack of the calling thread */
#define FAST_TILES 4            /* per-channel operands fold_rows repeats */
#define FAST_MAX_CAT 32         /* inputs of a Concat a group reads in place */
#define FAST_MAX_CAT_EXT 4      /* such Concats in one group */

/* ------------------------------------------------------------------ plan types */

/* A source of a group node's shape: an external operand, an earlier node of the group, or a shape
 * of `rank` ones (a constant exponent). */
typedef struct fast_src {
  uint8_t kind; /* 0 external, 1 node, 2 ones */
  int8_t idx;   /* external index, group node index, or rank */
} fast_src_t;

typedef struct fast_ext {
  int value;          /* value id, or -1 for a constant of the plan */
  float* cbuf;        /* the plan's constant: one value per channel (BatchNormalization) */
  int64_t cn;         /* its length */
  int chan_node;      /* group node whose shape holds the channel axis (dim 1) of cbuf */
  int view;           /* a Slice member (node index) whose part of `value` this is, or -1: all of it */
  int cat;            /* a Concat member (node index) whose result this is, read from its inputs; -1 */
  int cat_tmp;        /* the temporary a block of it is gathered into */
  bool dies;          /* the value is released with the group: its buffer may take the output */
} fast_ext_t;

typedef struct fast_group {
  int root;
  int n_nodes;
  int nodes[FAST_MAX_NODES];
  int n_src[FAST_MAX_NODES];
  fast_src_t src[FAST_MAX_NODES][2];
  bool bn[FAST_MAX_NODES]; /* the node is a BatchNormalization: channel count checked against its input */
  int64_t bn_c[FAST_MAX_NODES];
  int n_ext;
  fast_ext_t ext[FAST_MAX_EXT];
  int n_ins;
  fast_ins_t ins[FAST_MAX_INS];
  int n_tmp;
} fast_group_t;

typedef struct fast_pool fast_pool_t;

/* A Slice with constant arguments and steps of 1, read against its input's rank. */
typedef struct fast_view {
  dycl_slice_args_t a;
  int rank;
} fast_view_t;

struct cpu_fast {
  const dycl_allocator_t* alloc; /* the plan, its constants and its pool */
  const fast_kernels_t* kern;
  int threads;
  int n_nodes;
  int* group_of;  /* per node: the group it belongs to, or -1 */
  bool* deferred; /* per node: a non-root member */
  int* rel;       /* per node, while planning: where its releases happen (a member's: its root's) */
  struct fast_view** views; /* per node: a Slice a group may read as a view of its input, else NULL */
  int* cat_axis;            /* per node: a Concat a group may read in place: its axis, else -1 */
  int n_groups;
  fast_group_t* groups;
  pthread_mutex_t pool_lock; /* guards the creation of `pool` */
  fast_pool_t* pool;         /* created on the first large run */
};

/* ------------------------------------------------------------------ helpers */

static bool f32_value(const dycl_ir_t* ir, int id) {
  if (id < 0) return false;
  const dycl_type_t* t = &ir->values[id]->type;
  return t->known && t->kind == DYCL_VALUE_TENSOR && t->dtype == DYCL_DTYPE_FLOAT32;
}

bool cpu_fast_dies_at(const dycl_subnet_t* sn, int k, int v) {
  for (int r = sn->release_start[k]; r < sn->release_start[k + 1]; r++)
    if (sn->release_ids[r] == v) return true;
  return false;
}

bool cpu_fast_may_keep(const dycl_kctx_t* kctx, const dycl_value_t* v) {
  return !kctx->place || v->alloc != &kctx->place->self;
}

/* Whether every use of value v in sn is an input of node k (and v leaves neither sn nor its graph). */
static bool only_used_by(const dycl_subnet_t* sn, int v, int k) {
  if (dycl_ids_contain(sn->out, sn->n_out, v) || dycl_ids_contain(sn->graph->out, sn->graph->n_out, v)) return false;
  for (int j = 0; j < sn->n_nodes; j++) {
    const dycl_node_t* n = sn->nodes[j];
    if (dycl_ids_contain(n->implicit, n->n_implicit, v)) return false;
    if (j != k && dycl_ids_contain(n->in, n->n_in, v)) return false;
  }
  return true;
}

static int producer_index(const dycl_subnet_t* sn, const dycl_ir_t* ir, int v) {
  const dycl_ir_value_t* iv = ir->values[v];
  if (iv->def != DYCL_DEF_NODE) return -1;
  for (int k = 0; k < sn->n_nodes; k++)
    if (sn->nodes[k] == iv->producer) return k;
  return -1;
}

/* A constant numeric scalar (numel 1, rank <= 1) input i of n, as a double. */
static bool const_scalar(const dycl_ir_t* ir, const dycl_node_t* n, int i, double* out, int* rank) {
  const dycl_value_t* c = i < n->n_in ? dycl_ir_const_tensor(ir, n->in[i]) : NULL;
  if (!c || c->numel != 1 || c->rank > 1 || c->dtype == DYCL_DTYPE_STRING || c->dtype == DYCL_DTYPE_BOOL) return false;
  *out = dycl_tensor_get_f64(c, 0);
  if (rank) *rank = c->rank;
  return true;
}

/* ------------------------------------------------------------------ eligibility */

/* What node n becomes in a group: its unary/binary op (with parameters), or false. */
typedef struct fast_node_form {
  int op;      /* fast_op_t; FOP_COUNT_ for BatchNormalization */
  int arity;   /* inputs taken as operands (1 or 2) */
  float p0, p1;
  int ones_rank; /* Pow: the exponent's rank (its shape takes part in the broadcast), else -1 */
} fast_node_form_t;

static bool node_form(const dycl_ir_t* ir, const dycl_node_t* n, fast_node_form_t* f) {
  if (n->n_out < 1 || n->out[0] < 0 || !f32_value(ir, n->out[0]) || n->n_in < 1 || !f32_value(ir, n->in[0])) return false;
  for (int j = 1; j < n->n_out; j++)
    if (n->out[j] >= 0) return false;
  memset(f, 0, sizeof *f);
  f->arity = 1;
  f->ones_rank = -1;
  int unary = -1, binary = -1;
  switch (n->op) {
    case DYCL_OP_Relu: unary = FOP_RELU; break;
    case DYCL_OP_Sigmoid: unary = FOP_SIGMOID; break;
    case DYCL_OP_Tanh: unary = FOP_TANH; break;
    case DYCL_OP_Exp: unary = FOP_EXP; break;
    case DYCL_OP_Log: unary = FOP_LOG; break;
    case DYCL_OP_Sqrt: unary = FOP_SQRT; break;
    case DYCL_OP_Neg: unary = FOP_NEG; break;
    case DYCL_OP_Abs: unary = FOP_ABS; break;
    case DYCL_OP_Erf: unary = FOP_ERF; break;
    case DYCL_OP_Reciprocal: unary = FOP_RECIP; break;
    case DYCL_OP_Floor: unary = FOP_FLOOR; break;
    case DYCL_OP_Ceil: unary = FOP_CEIL; break;
    case DYCL_OP_HardSwish: unary = FOP_HSWISH; break;
    case DYCL_OP_LeakyRelu:
      unary = FOP_LEAKY;
      f->p0 = (float)dycl_attr_float(n, "alpha", 0.01);
      break;
    case DYCL_OP_Elu:
      unary = FOP_ELU;
      f->p0 = (float)dycl_attr_float(n, "alpha", 1.0);
      break;
    case DYCL_OP_HardSigmoid:
      unary = FOP_HSIG;
      f->p0 = (float)dycl_attr_float(n, "alpha", 0.2);
      f->p1 = (float)dycl_attr_float(n, "beta", 0.5);
      break;
    case DYCL_OP_Clip: {
      double lo = -INFINITY, hi = INFINITY;
      if (n->opset < 11) {
        if (n->n_in != 1) return false;
        lo = dycl_attr_float(n, "min", -INFINITY);
        hi = dycl_attr_float(n, "max", INFINITY);
      } else {
        if (n->n_in > 1 && n->in[1] >= 0 && (!f32_value(ir, n->in[1]) || !const_scalar(ir, n, 1, &lo, NULL)))
          return false;
        if (n->n_in > 2 && n->in[2] >= 0 && (!f32_value(ir, n->in[2]) || !const_scalar(ir, n, 2, &hi, NULL)))
          return false;
      }
      unary = FOP_CLIP;
      f->p0 = (float)lo;
      f->p1 = (float)hi;
      break;
    }
    case DYCL_OP_Pow: {
      double e;
      int rank;
      if (n->n_in != 2 || !const_scalar(ir, n, 1, &e, &rank)) return false;
      unary = e == 2 ? FOP_SQUARE : e == 0.5 ? FOP_POWHALF : e == 1 ? FOP_COPY : e == 3 ? FOP_CUBE : e == 0 ? FOP_ONE : -1;
      f->ones_rank = rank;
      break;
    }
    case DYCL_OP_Add: binary = FOP_ADD; break;
    case DYCL_OP_Sub: binary = FOP_SUB; break;
    case DYCL_OP_Mul: binary = FOP_MUL; break;
    case DYCL_OP_Div: binary = FOP_DIV; break;
    case DYCL_OP_Max: binary = FOP_MAX; break;
    case DYCL_OP_Min: binary = FOP_MIN; break;
    case DYCL_OP_BatchNormalization: {
      if (n->n_in != 5 || (n->opset >= 14 && dycl_attr_int(n, "training_mode", 0) != 0)) return false;
      int64_t C = -1;
      for (int i = 1; i < 5; i++) {
        const dycl_value_t* c = dycl_ir_const_tensor(ir, n->in[i]);
        if (!c || c->dtype != DYCL_DTYPE_FLOAT32 || c->numel < 1 || (C >= 0 && c->numel != C)) return false;
        C = c->numel;
      }
      f->op = FOP_COUNT_;
      return true;
    }
    default: return false;
  }
  if (unary >= 0) {
    if (n->op != DYCL_OP_Clip && n->op != DYCL_OP_Pow && n->n_in != 1) return false;
    f->op = unary;
    return true;
  }
  if (binary < 0 || n->n_in != 2 || !f32_value(ir, n->in[1])) return false;
  f->op = binary;
  f->arity = 2;
  return true;
}

/* ------------------------------------------------------------------ compiling a group */

/* Operands while emitting: externals as themselves, virtual registers from FAST_MAX_EXT on. */
#define VREG(r) (FAST_MAX_EXT + (r))

/* A new external operand of g (the caller has checked there is room): no value, view, Concat or
 * constant yet. */
static fast_ext_t* ext_new(fast_group_t* g) {
  fast_ext_t* x = &g->ext[g->n_ext++];
  memset(x, 0, sizeof *x);
  x->value = x->chan_node = x->view = x->cat = -1;
  return x;
}

/* The external operand for value v (view -1) or for Slice node `view`'s part of it. */
static int ext_of_value(fast_group_t* g, int v, int view) {
  for (int e = 0; e < g->n_ext; e++)
    if (g->ext[e].value == v && g->ext[e].view == view) return e;
  if (g->n_ext >= FAST_MAX_EXT) return -1;
  fast_ext_t* x = ext_new(g);
  x->value = v;
  x->view = view;
  return g->n_ext - 1;
}

/* The external operand for Concat member node k's result, read from the Concat's inputs. */
static int ext_of_cat(fast_group_t* g, int k) {
  int n_cat = 0;
  for (int e = 0; e < g->n_ext; e++) {
    if (g->ext[e].cat == k) return e;
    n_cat += g->ext[e].cat >= 0;
  }
  if (g->n_ext >= FAST_MAX_EXT || n_cat >= FAST_MAX_CAT_EXT) return -1;
  ext_new(g)->cat = k;
  return g->n_ext - 1;
}

/* Whether external e of g reads value v: as itself, through a view, or as an input of its Concat. */
static bool ext_reads(const fast_group_t* g, const dycl_subnet_t* sn, int e, int v) {
  const fast_ext_t* x = &g->ext[e];
  if (x->cat < 0) return x->value == v;
  const dycl_node_t* n = sn->nodes[x->cat];
  return dycl_ids_contain(n->in, n->n_in, v);
}

static void group_free_consts(fast_group_t* g, const dycl_allocator_t* alloc) {
  for (int e = 0; e < g->n_ext; e++) {
    dycl_free(alloc, g->ext[e].cbuf);
    g->ext[e].cbuf = NULL;
  }
}

/* A per-channel constant of BatchNormalization node gi: a = scale / sqrt(var + eps) (which 1) or
 * c = bias - mean * a (2), so that the node is x * a + c (both in double, then rounded). */
static int ext_bn_const(fast_group_t* g, const dycl_ir_t* ir, const dycl_node_t* n, int gi, int which,
                        const dycl_allocator_t* alloc) {
  if (g->n_ext >= FAST_MAX_EXT) return -1;
  const dycl_value_t *S = dycl_ir_const_tensor(ir, n->in[1]), *B = dycl_ir_const_tensor(ir, n->in[2]), *M = dycl_ir_const_tensor(ir, n->in[3]),
                     *V = dycl_ir_const_tensor(ir, n->in[4]);
  int64_t C = S->numel;
  float* buf = dycl_calloc(alloc, (size_t)C, sizeof *buf);
  if (!buf) return -2;
  double eps = dycl_attr_float(n, "epsilon", 1e-5);
  for (int64_t c = 0; c < C; c++) {
    const float *s = S->data, *b = B->data, *m = M->data, *v = V->data;
    double a = (double)s[c] / sqrt((double)v[c] + eps);
    buf[c] = which == 1 ? (float)a : (float)((double)b[c] - (double)m[c] * a);
  }
  fast_ext_t* x = ext_new(g);
  x->cbuf = buf;
  x->cn = C;
  x->chan_node = gi;
  return g->n_ext - 1;
}

/* Compiles group g (its nodes set): externals, shape sources, instructions, temporaries.
 * Returns false when it does not fit the limits (g is then left with no constants). */
static bool group_compile(const cpu_fast_t* fp, fast_group_t* g, const dycl_program_t* p, const dycl_subnet_t* sn,
                          const dycl_allocator_t* alloc, bool* nomem) {
  const dycl_ir_t* ir = p->ir;
  g->n_ext = g->n_ins = g->n_tmp = 0;
  int vreg_of[FAST_MAX_NODES]; /* the virtual register holding each node's result */
  int alias[FAST_MAX_NODES];   /* a Slice member: the external of its view, else -1 */
  int n_vreg = 0;
  int def_ins[FAST_MAX_INS + 8];
  for (int gi = 0; gi < g->n_nodes; gi++) {
    const dycl_node_t* n = sn->nodes[g->nodes[gi]];
    alias[gi] = -1;
    g->bn[gi] = false;
    if (fp->views[g->nodes[gi]]) { /* read in place: no instruction */
      if (gi == g->n_nodes - 1) goto fail;
      for (int j = 0; j < gi; j++)
        if (sn->nodes[g->nodes[j]]->out[0] == n->in[0]) goto fail;
      int e = ext_of_value(g, n->in[0], g->nodes[gi]);
      if (e < 0) goto fail;
      alias[gi] = e;
      g->n_src[gi] = 1;
      g->src[gi][0] = (fast_src_t){0, (int8_t)e};
      continue;
    }
    if (fp->cat_axis[g->nodes[gi]] >= 0) { /* read from the Concat's inputs: no instruction */
      if (gi == g->n_nodes - 1) goto fail;
      for (int j = 0; j < gi; j++)
        if (dycl_ids_contain(n->in, n->n_in, sn->nodes[g->nodes[j]]->out[0])) goto fail;
      int e = ext_of_cat(g, g->nodes[gi]);
      if (e < 0) goto fail;
      alias[gi] = e;
      g->n_src[gi] = 1;
      g->src[gi][0] = (fast_src_t){0, (int8_t)e};
      continue;
    }
    fast_node_form_t f;
    if (!node_form(ir, n, &f)) goto fail;
    int opnd[2] = {-1, -1};
    int nin = f.op == FOP_COUNT_ ? 1 : f.arity;
    g->n_src[gi] = 0;
    g->bn[gi] = f.op == FOP_COUNT_;
    for (int i = 0; i < nin; i++) {
      int v = n->in[i], src = -1;
      for (int j = 0; j < gi; j++)
        if (sn->nodes[g->nodes[j]]->out[0] == v) src = j;
      if (src >= 0 && alias[src] >= 0) {
        opnd[i] = alias[src];
        g->src[gi][g->n_src[gi]++] = (fast_src_t){0, (int8_t)alias[src]};
      } else if (src >= 0) {
        opnd[i] = VREG(vreg_of[src]);
        g->src[gi][g->n_src[gi]++] = (fast_src_t){1, (int8_t)src};
      } else {
        int e = ext_of_value(g, v, -1);
        if (e < 0) goto fail;
        opnd[i] = e;
        g->src[gi][g->n_src[gi]++] = (fast_src_t){0, (int8_t)e};
      }
    }
    if (f.ones_rank >= 0) g->src[gi][g->n_src[gi]++] = (fast_src_t){2, (int8_t)f.ones_rank};
    if (g->n_ins + 2 > FAST_MAX_INS) goto fail;
    if (f.op == FOP_COUNT_) { /* BatchNormalization: y = x * a + c */
      int ea = ext_bn_const(g, ir, n, gi, 1, alloc), ec = ext_bn_const(g, ir, n, gi, 2, alloc);
      if (ea == -2 || ec == -2) {
        *nomem = true;
        goto fail;
      }
      if (ea < 0 || ec < 0) goto fail;
      g->bn_c[gi] = g->ext[ea].cn;
      int y = n_vreg++;
      def_ins[g->n_ins] = y;
      g->ins[g->n_ins++] = (fast_ins_t){FOP_FMA, (int8_t)VREG(y), (int8_t)opnd[0], (int8_t)ea, (int8_t)ec, 0, 0};
      vreg_of[gi] = y;
    } else if (f.op == FOP_RELU && g->n_ins > 0 && opnd[0] == VREG(def_ins[g->n_ins - 1]) &&
               (g->ins[g->n_ins - 1].op == FOP_FMA || g->ins[g->n_ins - 1].op == FOP_ADD)) {
      /* a Relu of the instruction just before, its only reader (the group's nodes form a tree):
       * applied by that instruction as it writes */
      fast_ins_t* prev = &g->ins[g->n_ins - 1];
      prev->op = prev->op == FOP_FMA ? FOP_FMA_RELU : FOP_ADD_RELU;
      vreg_of[gi] = def_ins[g->n_ins - 1];
    } else {
      int y = n_vreg++;
      def_ins[g->n_ins] = y;
      g->ins[g->n_ins++] = (fast_ins_t){(uint8_t)f.op, (int8_t)VREG(y), (int8_t)opnd[0],
                                        (int8_t)(f.arity > 1 ? opnd[1] : opnd[0]), 0, f.p0, f.p1};
      vreg_of[gi] = y;
    }
  }
  /* registers: the last instruction writes the output; the others get temporaries, reused once
   * their last reader has run */
  {
    int last_use[FAST_MAX_INS + 8];
    for (int r = 0; r < n_vreg; r++) last_use[r] = -1;
    for (int i = 0; i < g->n_ins; i++) {
      const fast_ins_t* I = &g->ins[i];
      int ops[3] = {I->a, I->b, I->op >= FOP_BINARY_END_ ? I->c : -1};
      for (int j = 0; j < 3; j++)
        if (ops[j] >= FAST_MAX_EXT) last_use[ops[j] - FAST_MAX_EXT] = i;
    }
    int phys[FAST_MAX_INS + 8];
    bool busy[FAST_MAX_INS];
    memset(busy, 0, sizeof busy);
    for (int i = 0; i < g->n_ins; i++) {
      fast_ins_t* I = &g->ins[i];
      int nops = I->op >= FOP_BINARY_END_ ? 3 : 2;
      int8_t* ops[3] = {&I->a, &I->b, &I->c};
      int vr[3] = {-1, -1, -1};
      for (int j = 0; j < nops; j++)
        if (*ops[j] >= FAST_MAX_EXT) {
          vr[j] = *ops[j] - FAST_MAX_EXT;
          *ops[j] = (int8_t)(g->n_ext + phys[vr[j]]);
        }
      if (I->op < FOP_BINARY_END_) I->c = I->a;
      /* registers read here for the last time are free again (the destination may take one) */
      for (int j = 0; j < nops; j++)
        if (vr[j] >= 0 && last_use[vr[j]] == i) busy[phys[vr[j]]] = false;
      if (i == g->n_ins - 1) {
        I->dst = -1;
        continue;
      }
      int t = 0;
      while (busy[t]) t++;
      busy[t] = true;
      phys[def_ins[i]] = t;
      if (t + 1 > g->n_tmp) g->n_tmp = t + 1;
      I->dst = (int8_t)(g->n_ext + t);
    }
  }
  /* each Concat read in place is gathered, a block at a time, into a temporary of its own */
  for (int e = 0; e < g->n_ext; e++)
    if (g->ext[e].cat >= 0) g->ext[e].cat_tmp = g->n_tmp++;
  if (g->n_tmp > FAST_MAX_INS || g->n_ext + g->n_tmp > FAST_MAX_EXT + FAST_MAX_INS) goto fail;
  /* The group runs at its root. An input that a node between its first node and the root
   * releases would be gone by then, unless that node is a member of a group whose root comes
   * later (fp->rel: its releases happen there). One that a member before the root releases stays
   * until the root: cpu.c releases it there, and its plan_memory tells the memory plan so. */
  int root = g->nodes[g->n_nodes - 1];
  for (int j = g->nodes[0] + 1, m = 1; j < root; j++) {
    if (m < g->n_nodes && g->nodes[m] == j) {
      m++;
      continue;
    }
    if (fp->rel[j] > root) continue;
    for (int r = sn->release_start[j]; r < sn->release_start[j + 1]; r++)
      for (int e = 0; e < g->n_ext; e++)
        if (ext_reads(g, sn, e, sn->release_ids[r])) goto fail;
  }
  /* externals released with the group may take its output; not a view, nor a value a view or a
   * Concat read in place reads (the output's blocks would overwrite parts of it read later) */
  for (int e = 0; e < g->n_ext; e++) {
    fast_ext_t* x = &g->ext[e];
    if (x->value < 0 || x->view >= 0) continue;
    bool viewed = false;
    for (int o = 0; o < g->n_ext; o++)
      viewed = viewed || (o != e && (g->ext[o].view >= 0 || g->ext[o].cat >= 0) && ext_reads(g, sn, o, x->value));
    if (viewed) continue;
    for (int gi = 0; gi < g->n_nodes && !x->dies; gi++) x->dies = cpu_fast_dies_at(sn, g->nodes[gi], x->value);
  }
  return true;
fail:
  group_free_consts(g, alloc);
  g->n_ext = 0;
  return false;
}

/* ------------------------------------------------------------------ planning */

/* Whether group g (node k's, k not yet among its nodes) with the nodes of groups hs[0..nh) and k
 * compiles; if so g takes their nodes (in node order). */
static bool merge_trial(const cpu_fast_t* f, fast_group_t* g, const int* hs, int nh, int k, const dycl_program_t* p,
                        const dycl_subnet_t* sn, const dycl_allocator_t* alloc, bool* nomem) {
  fast_group_t trial = *g;
  for (int m = 0; m < nh; m++) {
    const fast_group_t* h = &f->groups[hs[m]];
    if (trial.n_nodes + h->n_nodes + 1 > FAST_MAX_NODES) return false;
    int all[FAST_MAX_NODES], na = 0, a = 0, b = 0; /* members in node order */
    while (a < trial.n_nodes || b < h->n_nodes) {
      if (b >= h->n_nodes || (a < trial.n_nodes && trial.nodes[a] < h->nodes[b]))
        all[na++] = trial.nodes[a++];
      else
        all[na++] = h->nodes[b++];
    }
    memcpy(trial.nodes, all, sizeof all);
    trial.n_nodes = na;
  }
  int na = trial.n_nodes;
  trial.nodes[trial.n_nodes++] = k;
  bool fits = group_compile(f, &trial, p, sn, alloc, nomem);
  group_free_consts(&trial, alloc);
  if (!fits) return false;
  memcpy(g->nodes, trial.nodes, sizeof g->nodes);
  g->n_nodes = na;
  return true;
}

/* Slice node n as a view a group may read of its input (fast_view_t), or NULL: not such a Slice
 * (*nomem on a failed allocation). */
static fast_view_t* view_of(const dycl_ir_t* ir, const dycl_node_t* n, const dycl_allocator_t* alloc, bool* nomem) {
  if (n->op != DYCL_OP_Slice || n->n_out != 1 || n->out[0] < 0 || n->n_in < 1 || n->n_in > 5 ||
      !f32_value(ir, n->out[0]) || !f32_value(ir, n->in[0]))
    return NULL;
  int rank = ir->values[n->in[0]]->type.rank;
  if (rank < 1) return NULL;
  dycl_value_t* in[5] = {NULL, NULL, NULL, NULL, NULL};
  for (int i = 1; i < n->n_in; i++) {
    if (n->in[i] < 0) continue;
    in[i] = (dycl_value_t*)dycl_ir_const_tensor(ir, n->in[i]);
    if (!in[i]) return NULL; /* known only at run time */
  }
  fast_view_t v;
  dycl_status_t s = dycl_slice_read(n, in, n->n_in, rank, &v.a);
  if (s) { /* the kernel reports it */
    dycl_status_free(s);
    return NULL;
  }
  for (int k = 0; k < v.a.n; k++)
    if (v.a.steps[k] != 1) return NULL;
  v.rank = rank;
  fast_view_t* out = dycl_malloc(alloc, sizeof *out);
  if (!out) *nomem = true;
  else *out = v;
  return out;
}

/* The axis of Concat node n when a group may read its result in place (from its inputs, float
 * tensors of one rank), else -1. */
static int cat_of(const dycl_ir_t* ir, const dycl_node_t* n) {
  if (n->op != DYCL_OP_Concat || n->n_out != 1 || n->out[0] < 0 || n->n_in < 1 || n->n_in > FAST_MAX_CAT ||
      !f32_value(ir, n->out[0]) || !dycl_node_attr(n, "axis"))
    return -1;
  int rank = ir->values[n->out[0]]->type.rank;
  for (int i = 0; i < n->n_in; i++)
    if (!f32_value(ir, n->in[i]) || ir->values[n->in[i]]->type.rank != rank) return -1;
  int64_t a = dycl_attr_int(n, "axis", 0);
  if (a < 0) a += rank;
  return rank >= 1 && a >= 0 && a < rank ? (int)a : -1;
}

/* Takes node k out of its group while planning: it runs, and releases its values, at its own
 * position; a view is an ordinary Slice again, a Concat read in place an ordinary Concat. */
static void member_undo(cpu_fast_t* f, int k) {
  f->group_of[k] = -1;
  f->rel[k] = k;
  dycl_free(f->alloc, f->views[k]);
  f->views[k] = NULL;
  f->cat_axis[k] = -1;
}

/* Undoes group g while planning: its nodes run one by one. */
static void group_dissolve(cpu_fast_t* f, fast_group_t* g) {
  for (int m = 0; m < g->n_nodes; m++) member_undo(f, g->nodes[m]);
  g->root = -1;
  g->n_nodes = 0;
}

/* Takes the views and the Concats read in place out of group g while planning (they run as
 * ordinary Slices and Concats, at their own positions); true when there were some and other nodes
 * remain. */
static bool group_drop_inplace(cpu_fast_t* f, fast_group_t* g) {
  int keep = 0;
  for (int m = 0; m < g->n_nodes; m++) {
    int k = g->nodes[m];
    if (!f->views[k] && f->cat_axis[k] < 0) g->nodes[keep++] = k;
    else member_undo(f, k);
  }
  bool dropped = keep < g->n_nodes;
  g->n_nodes = keep;
  return dropped && keep > 0;
}

/* Node k's group as a member: it runs, and releases its values, with the group's root. */
static void set_rel(cpu_fast_t* f, const fast_group_t* g) {
  for (int m = 0; m < g->n_nodes; m++) f->rel[g->nodes[m]] = g->root;
}

dycl_status_t cpu_fast_plan(const dycl_program_t* p, const dycl_subnet_t* sn, const int* node_group, int threads,
                            const dycl_allocator_t* alloc, cpu_fast_t** out) {
  *out = NULL;
  const dycl_ir_t* ir = p->ir;
  alloc = dycl_alloc_or_default(alloc);
  cpu_fast_t* f = dycl_calloc(alloc, 1, sizeof *f);
  if (!f) return dycl_error_nomem();
  f->alloc = alloc;
  f->kern = cpu_fast_kernels();
  f->threads = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (f->threads < 1) f->threads = 1;
  f->n_nodes = sn->n_nodes;
  f->group_of = dycl_calloc(alloc, (size_t)sn->n_nodes + 1, sizeof *f->group_of);
  f->deferred = dycl_calloc(alloc, (size_t)sn->n_nodes + 1, sizeof *f->deferred);
  f->groups = dycl_calloc(alloc, (size_t)sn->n_nodes + 1, sizeof *f->groups);
  f->rel = dycl_calloc(alloc, (size_t)sn->n_nodes + 1, sizeof *f->rel);
  f->views = dycl_calloc(alloc, (size_t)sn->n_nodes + 1, sizeof *f->views);
  f->cat_axis = dycl_calloc(alloc, (size_t)sn->n_nodes + 1, sizeof *f->cat_axis);
  if (!f->group_of || !f->deferred || !f->groups || !f->rel || !f->views || !f->cat_axis ||
      pthread_mutex_init(&f->pool_lock, NULL) != 0) {
    dycl_free(alloc, f->group_of);
    dycl_free(alloc, f->deferred);
    dycl_free(alloc, f->groups);
    dycl_free(alloc, f->rel);
    dycl_free(alloc, f->views);
    dycl_free(alloc, f->cat_axis);
    dycl_free(alloc, f);
    return dycl_error_nomem();
  }
  dycl_status_t s = NULL;
  bool nomem = false;
  int ng = 0;
  for (int k = 0; k < sn->n_nodes; k++) {
    f->group_of[k] = -1;
    f->rel[k] = k;
    f->cat_axis[k] = -1;
  }
  for (int k = 0; k < sn->n_nodes && !nomem; k++) {
    fast_node_form_t form;
    const dycl_node_t* n = sn->nodes[k];
    if (node_group && node_group[k] != -1) continue;
    fast_group_t* g = &f->groups[ng];
    memset(g, 0, sizeof *g);
    /* a Slice or a Concat a group may read in place: a group of its own, which the group of the
     * node reading it may take in (else dissolved below); meanwhile its releases count as
     * happening later */
    if ((f->views[k] = view_of(ir, n, alloc, &nomem)) != NULL || (f->cat_axis[k] = cat_of(ir, n)) >= 0) {
      g->nodes[g->n_nodes++] = k;
      g->root = k;
      f->group_of[k] = ng++;
      f->rel[k] = INT_MAX;
      continue;
    }
    if (!node_form(ir, n, &form)) continue;
    /* the groups whose root's result only this node reads join it, when the whole still fits:
     * all of them at once first (one alone may leave a node of the other between its members,
     * which group_compile refuses when the other's node releases an external), else one by one */
    int cand[2], n_cand = 0, merged[2], n_merged = 0;
    int nin = form.op == FOP_COUNT_ ? 1 : form.arity;
    for (int i = 0; i < nin; i++) {
      int v = n->in[i];
      int j = producer_index(sn, ir, v);
      if (j < 0 || f->group_of[j] < 0 || f->groups[f->group_of[j]].root != j || !only_used_by(sn, v, k)) continue;
      if (n_cand == 1 && cand[0] == f->group_of[j]) continue;
      cand[n_cand++] = f->group_of[j];
    }
    if (n_cand == 2 && merge_trial(f, g, cand, 2, k, p, sn, alloc, &nomem)) {
      merged[n_merged++] = cand[0];
      merged[n_merged++] = cand[1];
    } else {
      for (int c = 0; c < n_cand && !nomem; c++)
        if (merge_trial(f, g, &cand[c], 1, k, p, sn, alloc, &nomem)) merged[n_merged++] = cand[c];
    }
    g->nodes[g->n_nodes++] = k;
    g->root = k;
    if (nomem) break;
    for (int m = 0; m < n_merged; m++) {
      fast_group_t* h = &f->groups[merged[m]];
      h->root = -1; /* dissolved into g */
      h->n_nodes = 0;
    }
    for (int i = 0; i < g->n_nodes; i++) f->group_of[g->nodes[i]] = ng;
    set_rel(f, g);
    ng++;
  }
  /* a view no group took is an ordinary Slice (a Concat an ordinary Concat) */
  for (int i = 0; i < ng; i++) {
    int r = f->groups[i].root;
    if (r >= 0 && (f->views[r] || f->cat_axis[r] >= 0)) group_dissolve(f, &f->groups[i]);
  }
  /* with every member's releases where they happen, each group is compiled again; one that no
   * longer compiles is tried without its views and Concats read in place (what an input they read
   * may be released before the root by a Slice no group took: a GRU cell's third gate slice, read
   * by a matrix product's residual), else dissolved (its nodes run one by one), until none is */
  for (bool again = true; again && !nomem;) {
    again = false;
    for (int i = 0; i < ng && !nomem; i++) {
      fast_group_t* g = &f->groups[i];
      if (g->root < 0) continue;
      group_free_consts(g, alloc); /* of its previous compilation */
      if (group_compile(f, g, p, sn, alloc, &nomem) || nomem) continue;
      again = true;
      if (group_drop_inplace(f, g)) {
        set_rel(f, g);
        if (group_compile(f, g, p, sn, alloc, &nomem) || nomem) continue;
      }
      group_dissolve(f, g);
    }
  }
  /* the surviving groups, compiled, packed */
  int live = 0;
  for (int i = 0; i < ng && !nomem; i++) {
    fast_group_t* g = &f->groups[i];
    if (g->root < 0) continue;
    if (live != i) f->groups[live] = *g;
    g = &f->groups[live];
    for (int m = 0; m < g->n_nodes; m++) {
      f->group_of[g->nodes[m]] = live;
      f->deferred[g->nodes[m]] = g->nodes[m] != g->root;
    }
    live++;
  }
  f->n_groups = live;
  dycl_free(alloc, f->rel); /* planning only */
  f->rel = NULL;
  if (nomem) {
    s = dycl_error_nomem();
    f->n_groups = ng; /* free every constant made so far */
    cpu_fast_destroy(f);
    return s;
  }
  *out = f;
  return NULL;
}

/* ------------------------------------------------------------------ running on several threads */

typedef void (*fast_job_fn)(void* ctx, int64_t begin, int64_t end, float* tmp);

/* A large group is split between the threads of the OpenMP team oneDNN's primitives run on, not
 * a pool of dycl's own: on a machine with as many threads as cores a second pool's workers would
 * compete for the cores with OpenMP's threads, which spin for a while after every primitive (and
 * a wake-up through a condition variable costs more than the spin). The region is entered through
 * libgomp's GOMP_parallel, the call gcc compiles `#pragma omp parallel` to, so that these sources
 * build without -fopenmp (packages compile them with the user's compiler and CFLAGS). */
void GOMP_parallel(void (*fn)(void*), void* data, unsigned num_threads, unsigned flags);

/* Made through the plan's allocator by the thread that first runs a large group. */
struct fast_pool {
  const dycl_allocator_t* alloc;
  int n;                /* threads a job is split between (the team's size at most) */
  float** tmp;          /* per thread but the caller's: FAST_MAX_INS temporaries (64-byte aligned) */
  void* tmp_raw;
  pthread_mutex_t busy; /* held by the thread running a job: the temporaries are the job's */
};

typedef struct fast_job {
  fast_job_fn fn;
  void* ctx;
  int64_t n_items;
  float* tmp0;  /* the calling thread's temporaries */
  float** tmp;  /* the other threads' */
} fast_job_t;

#if defined(__SANITIZE_THREAD__)
/* libgomp is not instrumented: tell ThreadSanitizer about the order its team start and join give */
#define JOB_RELEASE(j) __tsan_release(j)
#define JOB_ACQUIRE(j) __tsan_acquire(j)
#else
#define JOB_RELEASE(j) ((void)(j))
#define JOB_ACQUIRE(j) ((void)(j))
#endif

static void job_part(void* arg) {
  fast_job_t* j = arg;
  JOB_ACQUIRE(j);
  int t = omp_get_thread_num(), nt = omp_get_num_threads();
  int64_t per = (j->n_items + nt - 1) / nt, b = (int64_t)t * per, e = b + per;
  if (e > j->n_items) e = j->n_items;
  if (b < e) j->fn(j->ctx, b, e, t == 0 ? j->tmp0 : j->tmp[t - 1]);
  JOB_RELEASE(j);
}

typedef struct par_job {
  void (*fn)(void* ctx, int64_t begin, int64_t end);
  void* ctx;
  int64_t n;
} par_job_t;

static void par_part(void* arg) {
  par_job_t* j = arg;
  JOB_ACQUIRE(j);
  int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
  int64_t b = j->n * t / nt, e = j->n * (t + 1) / nt;
  if (b < e) j->fn(j->ctx, b, e);
  JOB_RELEASE(j);
}

void cpu_parallel_for(int threads, int64_t n, void (*fn)(void* ctx, int64_t begin, int64_t end), void* ctx) {
  if (threads <= 1 || n <= 1) {
    if (n > 0) fn(ctx, 0, n);
    return;
  }
  par_job_t job = {fn, ctx, n};
  JOB_RELEASE(&job);
  GOMP_parallel(par_part, &job, (unsigned)(n < threads ? n : threads), 0);
  JOB_ACQUIRE(&job);
}

static void pool_destroy(fast_pool_t* pool) {
  if (!pool) return;
  pthread_mutex_destroy(&pool->busy);
  dycl_free(pool->alloc, pool->tmp_raw);
  dycl_free(pool->alloc, pool->tmp);
  dycl_free(pool->alloc, pool);
}

/* Temporaries for n - 1 threads besides the caller, or NULL (the caller then runs alone). */
static fast_pool_t* pool_create(int n, const dycl_allocator_t* alloc) {
  const size_t per = (size_t)FAST_MAX_INS * FAST_BLOCK * sizeof(float); /* a multiple of 64 */
  if (n < 2 || (size_t)n > (SIZE_MAX - 64) / per) return NULL;
  fast_pool_t* pool = dycl_calloc(alloc, 1, sizeof *pool);
  if (!pool) return NULL;
  pool->alloc = alloc;
  pool->n = n;
  pool->tmp = dycl_calloc(alloc, (size_t)n - 1, sizeof *pool->tmp);
  pool->tmp_raw = dycl_malloc(alloc, (size_t)(n - 1) * per + 64);
  if (!pool->tmp || !pool->tmp_raw || pthread_mutex_init(&pool->busy, NULL) != 0) {
    dycl_free(alloc, pool->tmp_raw);
    dycl_free(alloc, pool->tmp);
    dycl_free(alloc, pool);
    return NULL;
  }
  char* tmp0 = (char*)(((uintptr_t)pool->tmp_raw + 63) & ~(uintptr_t)63);
  for (int i = 0; i < n - 1; i++) pool->tmp[i] = (float*)(tmp0 + (size_t)i * per);
  return pool;
}

/* Runs fn over [0, n_items), split between the calling thread (with `tmp`) and the other threads
 * of its OpenMP team when that is wanted and no other thread runs a job of this plan, else on the
 * calling thread alone. */
static void run_parallel(cpu_fast_t* f, bool want, int64_t n_items, fast_job_fn fn, void* ctx, float* tmp) {
  fast_pool_t* pool = NULL;
  if (want && f->threads > 1 && n_items > 1) {
    pthread_mutex_lock(&f->pool_lock);
    if (!f->pool) f->pool = pool_create(f->threads, f->alloc);
    pool = f->pool;
    pthread_mutex_unlock(&f->pool_lock);
  }
  if (!pool || pthread_mutex_trylock(&pool->busy) != 0) {
    fn(ctx, 0, n_items, tmp);
    return;
  }
  fast_job_t job = {fn, ctx, n_items, tmp, pool->tmp};
  unsigned n = (unsigned)(n_items < pool->n ? n_items : pool->n);
  JOB_RELEASE(&job);
  GOMP_parallel(job_part, &job, n, 0);
  JOB_ACQUIRE(&job);
  pthread_mutex_unlock(&pool->busy);
}

void cpu_fast_destroy(cpu_fast_t* f) {
  if (!f) return;
  for (int i = 0; i < f->n_groups; i++) group_free_consts(&f->groups[i], f->alloc);
  pool_destroy(f->pool);
  pthread_mutex_destroy(&f->pool_lock);
  for (int k = 0; f->views && k < f->n_nodes; k++) dycl_free(f->alloc, f->views[k]);
  dycl_free(f->alloc, f->views);
  dycl_free(f->alloc, f->cat_axis);
  dycl_free(f->alloc, f->rel);
  dycl_free(f->alloc, f->groups);
  dycl_free(f->alloc, f->group_of);
  dycl_free(f->alloc, f->deferred);
  dycl_free(f->alloc, f);
}

/* ------------------------------------------------------------------ running a group */

cpu_transpose_fn cpu_fast_transposer(void) { return cpu_fast_kernels()->transpose; }

const fast_kernels_t* cpu_fast_kern(const cpu_fast_t* f) { return f ? f->kern : cpu_fast_kernels(); }

bool cpu_fast_deferred(const cpu_fast_t* f, int k) { return f && k < f->n_nodes && f->deferred[k]; }

bool cpu_fast_cat_member(const cpu_fast_t* f, int k) {
  return f && k < f->n_nodes && f->group_of[k] >= 0 && f->cat_axis[k] >= 0;
}

int cpu_fast_group_nodes(const cpu_fast_t* f, int k, const int** nodes) {
  *nodes = NULL;
  if (!f || k >= f->n_nodes || f->group_of[k] < 0) return 0;
  const fast_group_t* g = &f->groups[f->group_of[k]];
  if (g->root != k) return 0;
  *nodes = g->nodes;
  return g->n_nodes;
}

typedef struct fast_shape {
  int rank;
  int64_t dims[DYCL_MAX_RANK];
} fast_shape_t;

static bool broadcast_into(fast_shape_t* acc, int rank, const int64_t* dims) {
  int r = acc->rank > rank ? acc->rank : rank;
  fast_shape_t o;
  o.rank = r;
  for (int i = 0; i < r; i++) {
    int ia = i - (r - acc->rank), ib = i - (r - rank);
    int64_t a = ia >= 0 ? acc->dims[ia] : 1, b = ib >= 0 ? dims[ib] : 1;
    if (a != b && a != 1 && b != 1) return false;
    o.dims[i] = a == 1 ? b : a;
  }
  *acc = o;
  return true;
}

/* A Concat read in place in one run: its result seen as [outer][W] (dense, in the order it is
 * walked: plain, or channels-last along the channels), input s being the columns [at[s], at[s] +
 * w[s]) of it, held as [outer][w[s]] — or, walked channels-last but held plain (S[s] > 0: the
 * positions of an image), as [images][w[s]][S[s]], its blocks turned as they are gathered. */
typedef struct fast_cat_run {
  int n;
  const float* src[FAST_MAX_CAT];
  int64_t w[FAST_MAX_CAT], at[FAST_MAX_CAT], S[FAST_MAX_CAT];
  int64_t W;
  int tmp; /* the temporary its blocks are gathered into */
} fast_cat_run_t;

/* Rows [o, o + rows) of input s (held plain, walked channels-last) into dst, rows ldy apart. */
static void cat_turn(const fast_cat_run_t* c, const fast_kernels_t* kern, int s, int64_t o, int64_t rows, float* dst,
                     int64_t ldy) {
  int64_t S = c->S[s], w = c->w[s];
  while (rows > 0) { /* per image */
    int64_t img = o / S, px = o % S, take = S - px < rows ? S - px : rows;
    kern->transpose_ld(c->src[s] + img * w * S + px, S, dst, ldy, w, take);
    dst += take * ldy;
    o += take;
    rows -= take;
  }
}

/* Elements [v, v + n) of a Concat's result (in its dense order) into dst. */
static void cat_gather(const fast_cat_run_t* c, const fast_kernels_t* kern, int64_t v, int64_t n, float* dst) {
  int64_t W = c->W, o = v / W, j = v % W;
  if (j == 0 && n % W == 0) { /* whole rows: each input's part of them */
    for (int s = 0; s < c->n; s++) {
      if (c->w[s] <= 0) continue;
      if (c->S[s]) cat_turn(c, kern, s, o, n / W, dst + c->at[s], W);
      else kern->copy_rows(c->src[s] + o * c->w[s], c->w[s], dst + c->at[s], W, n / W, c->w[s]);
    }
    return;
  }
  while (n > 0) {
    int s = 0;
    while (j >= c->at[s] + c->w[s]) s++;
    int64_t take = c->at[s] + c->w[s] - j;
    if (take > n) take = n;
    if (c->S[s]) { /* part of one row of a plain input: `take` channels of one position */
      int64_t S = c->S[s], img = o / S, px = o % S;
      const float* x = c->src[s] + (img * c->w[s] + (j - c->at[s])) * S + px;
      for (int64_t t = 0; t < take; t++) dst[t] = x[t * S];
    } else {
      memcpy(dst, c->src[s] + o * c->w[s] + (j - c->at[s]), (size_t)take * sizeof *dst);
    }
    dst += take;
    n -= take;
    j += take;
    if (j == W) {
      j = 0;
      o++;
    }
  }
}

/* The iteration of one run: the output's dims, collapsed, and each external's strides over them. */
typedef struct fast_run {
  const fast_group_t* g;
  const fast_kernels_t* kern;
  const float* base[FAST_MAX_EXT];
  const fast_cat_run_t* cat[FAST_MAX_EXT]; /* a Concat read in place (base unused), else NULL */
  float* out;
  int r;
  int64_t dims[DYCL_MAX_RANK];
  int64_t st[FAST_MAX_EXT][DYCL_MAX_RANK];
  int64_t chunks; /* blocks per row of the innermost dim */
} fast_run_t;

static void run_items(void* ctx, int64_t begin, int64_t end, float* tmp) {
  const fast_run_t* R = ctx;
  const fast_group_t* g = R->g;
  int r = R->r;
  int64_t inner = R->dims[r - 1];
  fast_block_t b;
  for (int t = 0; t < g->n_tmp; t++) {
    b.opnd[g->n_ext + t] = tmp + (size_t)t * FAST_BLOCK;
    b.scalar[g->n_ext + t] = false;
  }
  for (int e = 0; e < g->n_ext; e++) b.scalar[e] = R->st[e][r - 1] == 0;
  int64_t row = begin / R->chunks, chunk = begin % R->chunks;
  /* the row's multi-index over the outer dims, and each external's offset at its start */
  int64_t idx[DYCL_MAX_RANK];
  int64_t off[FAST_MAX_EXT];
  int64_t rem = row;
  for (int d = r - 2; d >= 0; d--) {
    idx[d] = rem % R->dims[d];
    rem /= R->dims[d];
  }
  for (int e = 0; e < g->n_ext; e++) {
    off[e] = 0;
    for (int d = 0; d < r - 1; d++) off[e] += idx[d] * R->st[e][d];
  }
  for (int64_t it = begin; it < end; it++) {
    int64_t i0 = chunk * FAST_BLOCK;
    b.n = inner - i0 < FAST_BLOCK ? inner - i0 : FAST_BLOCK;
    for (int e = 0; e < g->n_ext; e++) {
      const fast_cat_run_t* c = R->cat[e];
      if (c) {
        float* buf = tmp + (size_t)c->tmp * FAST_BLOCK;
        cat_gather(c, R->kern, off[e] + (b.scalar[e] ? 0 : i0), b.scalar[e] ? 1 : b.n, buf);
        b.opnd[e] = buf;
      } else {
        b.opnd[e] = R->base[e] + off[e] + (b.scalar[e] ? 0 : i0);
      }
    }
    b.out = R->out + row * inner + i0;
    R->kern->run_block(g->ins, g->n_ins, &b);
    if (++chunk == R->chunks) { /* next row */
      chunk = 0;
      row++;
      for (int d = r - 2; d >= 0; d--) {
        for (int e = 0; e < g->n_ext; e++) off[e] += R->st[e][d];
        if (++idx[d] < R->dims[d]) break;
        for (int e = 0; e < g->n_ext; e++) off[e] -= idx[d] * R->st[e][d];
        idx[d] = 0;
      }
    }
  }
}

/* Channels-last with few channels: the innermost dim of the iteration is C, and a block of one
 * row of C costs more to set up than to run. Folds k rows into one (k x C <= FAST_BLOCK, k dividing
 * the rows): full-size operands walk on contiguously, a per-channel operand (at most FAST_TILES of
 * them) is read from a copy of its C values repeated k times, scalars stay scalars. Anything else
 * (a value per position) leaves the iteration as it is. */
static void fold_rows(fast_run_t* R, int n_ext, float (*tiles)[FAST_BLOCK]) {
  int r = R->r;
  if (r < 2) return;
  int64_t inner = R->dims[r - 1], outer = R->dims[r - 2];
  if (inner > FAST_BLOCK / 2) return;
  int64_t k = FAST_BLOCK / inner;
  while (k > 1 && outer % k) k--;
  if (k < 2) return;
  int n_tiles = 0;
  for (int e = 0; e < n_ext; e++) {
    int64_t a = R->st[e][r - 1], b = R->st[e][r - 2];
    if ((a == 0 && b == 0) || (a == 1 && b == inner)) continue;
    if (a != 1 || b != 0 || ++n_tiles > FAST_TILES || R->cat[e]) return; /* a Concat is gathered, not tiled */
    for (int d = 0; d < r - 2; d++)
      if (R->st[e][d]) return;
  }
  n_tiles = 0;
  for (int e = 0; e < n_ext; e++) {
    int64_t a = R->st[e][r - 1], b = R->st[e][r - 2];
    if (a == 1 && b == 0) {
      float* t = tiles[n_tiles++];
      for (int64_t i = 0; i < k; i++) memcpy(t + i * inner, R->base[e], (size_t)inner * sizeof *t);
      R->base[e] = t;
    } else if (a == 1) {
      R->st[e][r - 2] = b * k;
    }
  }
  R->dims[r - 2] = outer / k;
  R->dims[r - 1] = inner * k;
}

/* Runs the group rooted at node k; with q, in channels-last order (see cpu_fast_run_cl): the
 * externals q says are held channels-last must have the output's dims, and the iteration goes
 * over [N, spatial..., C] so that every external is read, and the output written, contiguously
 * along the channels (externals that would not be, e.g. a plain full-size one: *ran false). */
static dycl_status_t group_run(cpu_fast_t* f, const dycl_program_t* p, const dycl_subnet_t* sn, int k,
                               dycl_value_t** slots, const cpu_cl_query_t* q, dycl_kctx_t* kctx, bool* ran) {
  *ran = false;
  if (!f || k >= f->n_nodes || f->group_of[k] < 0) return NULL;
  const fast_group_t* g = &f->groups[f->group_of[k]];
  if (g->root != k) return NULL;
  /* the externals: float tensors, or views of them (a Slice member's part: its dims, strides and
   * first element) */
  const dycl_value_t* ev[FAST_MAX_EXT];
  bool ecl[FAST_MAX_EXT]; /* held channels-last */
  int erank[FAST_MAX_EXT];
  const int64_t* edims[FAST_MAX_EXT];
  int64_t vdims[FAST_MAX_EXT][DYCL_MAX_RANK], vst[FAST_MAX_EXT][DYCL_MAX_RANK], voff[FAST_MAX_EXT];
  fast_cat_run_t cats[FAST_MAX_CAT_EXT];
  const fast_cat_run_t* ecat[FAST_MAX_EXT];
  int n_cl = 0, n_cats = 0;
  for (int e = 0; e < g->n_ext; e++) {
    ev[e] = NULL;
    ecl[e] = false;
    ecat[e] = NULL;
    if (g->ext[e].cat >= 0) { /* a Concat read in place: its inputs, of one rank and matching dims */
      const dycl_node_t* cn = sn->nodes[g->ext[e].cat];
      int axis = f->cat_axis[g->ext[e].cat], ncl = 0;
      fast_cat_run_t* c = &cats[n_cats++];
      c->n = cn->n_in;
      c->tmp = g->ext[e].cat_tmp;
      for (int i = 0; i < cn->n_in; i++) {
        const dycl_value_t* v = slots[cn->in[i]];
        if (!v || v->kind != DYCL_VALUE_TENSOR || v->dtype != DYCL_DTYPE_FLOAT32 || v->rank <= axis) return NULL;
        if (i == 0) {
          erank[e] = v->rank;
          memcpy(vdims[e], v->dims, (size_t)v->rank * sizeof *v->dims);
          vdims[e][axis] = 0;
        } else if (v->rank != erank[e]) {
          return NULL;
        }
        for (int d = 0; d < v->rank; d++)
          if (d != axis && v->dims[d] != vdims[e][d]) return NULL;
        vdims[e][axis] += v->dims[axis];
        c->src[i] = v->data;
        ncl += q && q->held_cl(q->ctx, cn->in[i]);
      }
      if (ncl > 0 && (axis != 1 || erank[e] < 3)) return NULL;
      edims[e] = vdims[e];
      ecl[e] = ncl > 0;
      n_cl += ecl[e];
      int64_t inner = 1; /* elements per index of the axis, in the order walked */
      for (int d = axis + 1; d < erank[e] && !ecl[e]; d++) inner *= vdims[e][d];
      c->W = 0;
      int64_t S = 1; /* positions of an image */
      for (int d = 2; d < erank[e] && ecl[e]; d++) S *= vdims[e][d];
      for (int i = 0; i < cn->n_in; i++) {
        c->at[i] = c->W;
        c->w[i] = slots[cn->in[i]]->dims[axis] * inner;
        c->S[i] = ecl[e] && !q->held_cl(q->ctx, cn->in[i]) ? S : 0; /* plain among channels-last ones */
        c->W += c->w[i];
      }
      ecat[e] = c;
      continue;
    }
    if (g->ext[e].value < 0) continue;
    const dycl_value_t* v = slots[g->ext[e].value];
    if (!v || v->kind != DYCL_VALUE_TENSOR || v->dtype != DYCL_DTYPE_FLOAT32) return NULL;
    ev[e] = v;
    erank[e] = v->rank;
    edims[e] = v->dims;
    if (g->ext[e].view >= 0) { /* views are read plain, of the rank the Slice was read for */
      const fast_view_t* w = f->views[g->ext[e].view];
      if (q || v->rank != w->rank) return NULL;
      voff[e] = dycl_slice_view(&w->a, v->rank, v->dims, vdims[e], vst[e]);
      edims[e] = vdims[e];
      continue;
    }
    if (q && q->held_cl(q->ctx, g->ext[e].value)) {
      ecl[e] = true;
      n_cl++;
    }
  }
  if (q && n_cl == 0) return NULL; /* nothing channels-last: the plain run */
  /* every node's shape, as the reference kernels would make it */
  fast_shape_t sh[FAST_MAX_NODES];
  for (int gi = 0; gi < g->n_nodes; gi++) {
    sh[gi].rank = 0;
    for (int s = 0; s < g->n_src[gi]; s++) {
      fast_src_t src = g->src[gi][s];
      bool ok;
      if (src.kind == 0) {
        ok = broadcast_into(&sh[gi], erank[src.idx], edims[src.idx]);
      } else if (src.kind == 1) {
        ok = broadcast_into(&sh[gi], sh[src.idx].rank, sh[src.idx].dims);
      } else {
        int64_t ones[1] = {1};
        ok = broadcast_into(&sh[gi], src.idx, ones);
      }
      if (!ok) return NULL;
    }
    if (g->bn[gi] && (sh[gi].rank < 2 || sh[gi].dims[1] != g->bn_c[gi])) return NULL;
  }
  const fast_shape_t* os = &sh[g->n_nodes - 1];
  const dycl_node_t* root = sn->nodes[k];
  int64_t numel = 1;
  for (int i = 0; i < os->rank; i++) numel *= os->dims[i];
  if (q) { /* channels-last externals are full-size images; the kernels read every plain one
             * along the channels contiguously or as one value: one channel, or one position */
    if (os->rank < 3) return NULL;
    for (int e = 0; e < g->n_ext; e++) {
      if (!ev[e] && !ecat[e]) continue; /* per-channel constants */
      int vr = erank[e];
      const int64_t* vd = edims[e];
      if (ecl[e]) {
        if (vr != os->rank || memcmp(vd, os->dims, (size_t)os->rank * sizeof *os->dims)) return NULL;
        continue;
      }
      int cd = vr - os->rank + 1; /* the channel dim among v's */
      if (cd < 0 || vd[cd] == 1) continue;
      for (int d = cd + 1; d < vr; d++)
        if (vd[d] != 1) return NULL;
    }
  }
  /* the blocks run contiguously along the output's innermost dim longer than 1: a view strided
   * there (a Slice of an inner dim to one element) leaves the group to its nodes one by one */
  int inner = os->rank - 1;
  while (inner > 0 && os->dims[inner] == 1) inner--;
  for (int e = 0; e < g->n_ext && os->rank > 0; e++) {
    int ed = inner - (os->rank - erank[e]);
    if (ev[e] && g->ext[e].view >= 0 && ed >= 0 && vdims[e][ed] != 1 && vst[e][ed] != 1) return NULL;
  }
  /* the output: the buffer of an input of the same shape (and layout) that dies here, or a new
   * tensor */
  dycl_value_t* Y = NULL;
  for (int e = 0; e < g->n_ext && !Y; e++) {
    const dycl_value_t* v = ev[e];
    if (!v || !g->ext[e].dies || g->ext[e].view >= 0 || v->rank != os->rank || numel == 0 || ecl[e] != (q != NULL))
      continue;
    if (memcmp(v->dims, os->dims, (size_t)os->rank * sizeof *os->dims)) continue;
    if (atomic_load_explicit(&((dycl_value_t*)v)->refs, memory_order_acquire) != 1 || !cpu_fast_may_keep(kctx, v))
      continue;
    Y = dycl_value_retain((dycl_value_t*)v);
  }
  if (!Y) DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, root, DYCL_DTYPE_FLOAT32, os->rank, os->dims, &Y));
  if (numel > 0) {
    fast_run_t R;
    R.g = g;
    R.kern = f->kern;
    R.out = Y->data;
    memcpy(R.cat, ecat, sizeof ecat);
    /* strides of every external over the output's dims (0 where it is broadcast) */
    int rank = os->rank;
    int64_t st[FAST_MAX_EXT][DYCL_MAX_RANK];
    for (int e = 0; e < g->n_ext; e++) {
      int er;
      int64_t edims[DYCL_MAX_RANK];
      if (ev[e] && g->ext[e].view >= 0) { /* a view: its own strides over the output's dims */
        er = erank[e];
        for (int d = rank - 1; d >= 0; d--) {
          int ed = d - (rank - er);
          st[e][d] = ed < 0 || vdims[e][ed] == 1 ? 0 : vst[e][ed];
        }
        R.base[e] = (const float*)ev[e]->data + voff[e];
        continue;
      }
      if (ecat[e]) { /* a Concat read in place: dense, of its result's dims */
        er = erank[e];
        memcpy(edims, vdims[e], (size_t)er * sizeof *edims);
        R.base[e] = NULL;
      } else if (ev[e]) {
        er = ev[e]->rank;
        memcpy(edims, ev[e]->dims, (size_t)er * sizeof *edims);
        R.base[e] = ev[e]->data;
      } else {
        const fast_shape_t* cs = &sh[g->ext[e].chan_node];
        er = cs->rank;
        for (int d = 0; d < er; d++) edims[d] = d == 1 ? g->ext[e].cn : 1;
        R.base[e] = g->ext[e].cbuf;
      }
      int64_t s = 1;
      if (ecl[e]) { /* [N, C, spatial...] held as [N, spatial..., C] */
        st[e][1] = edims[1] == 1 ? 0 : 1;
        s = edims[1];
        for (int d = rank - 1; d >= 2; d--) {
          st[e][d] = edims[d] == 1 ? 0 : s;
          s *= edims[d];
        }
        st[e][0] = edims[0] == 1 ? 0 : s;
        continue;
      }
      for (int d = rank - 1; d >= 0; d--) {
        int ed = d - (rank - er);
        int64_t n = ed >= 0 ? edims[ed] : 1;
        st[e][d] = n == 1 ? 0 : s;
        s *= n;
      }
    }
    /* the order of the iteration over the output's dims: as they are, or with q the channels last */
    int order[DYCL_MAX_RANK];
    for (int d = 0; d < rank; d++) order[d] = !q ? d : d == 0 ? 0 : d == rank - 1 ? 1 : d + 1;
    /* collapse: drop dims of 1, merge neighbours every external walks through contiguously */
    int r = 0;
    for (int i = 0; i < rank; i++) {
      int d = order[i];
      if (os->dims[d] == 1) continue;
      if (r > 0) {
        bool merge = true;
        for (int e = 0; e < g->n_ext && merge; e++) merge = R.st[e][r - 1] == st[e][d] * os->dims[d];
        if (merge) {
          R.dims[r - 1] *= os->dims[d];
          for (int e = 0; e < g->n_ext; e++) R.st[e][r - 1] = st[e][d];
          continue;
        }
      }
      R.dims[r] = os->dims[d];
      for (int e = 0; e < g->n_ext; e++) R.st[e][r] = st[e][d];
      r++;
    }

    if (r == 0) { /* one element */
      R.dims[0] = 1;
      for (int e = 0; e < g->n_ext; e++) R.st[e][0] = 0;
      r = 1;
    }
    R.r = r;
    float tiles[FAST_TILES][FAST_BLOCK];
    if (q) fold_rows(&R, g->n_ext, tiles);
    r = R.r;
    R.chunks = (R.dims[r - 1] + FAST_BLOCK - 1) / FAST_BLOCK;
    int64_t items = numel / R.dims[r - 1] * R.chunks;
    float stack_tmp[FAST_STACK_TMPS * FAST_BLOCK + 16];
    float* tmp = (float*)(((uintptr_t)stack_tmp + 63) & ~(uintptr_t)63);
    float* heap = NULL;
    const dycl_allocator_t* scratch = kctx->heap ? kctx->heap : kctx->alloc; /* never the arena */
    if (g->n_tmp > FAST_STACK_TMPS - 1) {
      heap = dycl_malloc(scratch, ((size_t)g->n_tmp * FAST_BLOCK + 16) * sizeof *heap);
      if (!heap) {
        dycl_value_release(Y);
        return dycl_error_nomem();
      }
      tmp = (float*)(((uintptr_t)heap + 63) & ~(uintptr_t)63);
    }
    run_parallel(f, numel >= FAST_PARALLEL_MIN, items, run_items, &R, tmp);
    dycl_free(scratch, heap);
  }
  dycl_status_t s = dycl_check_output(p->ir, root, 0, Y);
  if (s) {
    dycl_value_release(Y);
    return s;
  }
  dycl_value_release(slots[root->out[0]]);
  slots[root->out[0]] = Y;
  *ran = true;
  return NULL;
}

dycl_status_t cpu_fast_group_run(const cpu_fast_t* f, const dycl_program_t* p, const dycl_subnet_t* sn, int k,
                                 dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran) {
  /* only the pool is created lazily, under its lock */
  return group_run((cpu_fast_t*)f, p, sn, k, slots, NULL, kctx, ran);
}

dycl_status_t cpu_fast_run_cl(const cpu_fast_t* f, const dycl_program_t* p, const dycl_subnet_t* sn, int k,
                              dycl_value_t** slots, const cpu_cl_query_t* q, dycl_kctx_t* kctx, bool* ran) {
  *ran = false;
  if (!f || k >= f->n_nodes) return NULL;
  if (f->group_of[k] >= 0) return group_run((cpu_fast_t*)f, p, sn, k, slots, q, kctx, ran);
  if (sn->nodes[k]->op == DYCL_OP_Concat) return cpu_fast_concat_cl(f->kern, f->threads, p, sn->nodes[k], slots, q, kctx, ran);
  if (sn->nodes[k]->op == DYCL_OP_Pad) return cpu_fast_pad_cl(p, sn->nodes[k], slots, q, kctx, ran);
  return NULL;
}

bool cpu_fast_cl_capable(const cpu_fast_t* f, const dycl_program_t* p, const dycl_subnet_t* sn, int k) {
  if (!f || k >= f->n_nodes) return false;
  if (f->group_of[k] >= 0) {
    const fast_group_t* g = &f->groups[f->group_of[k]];
    for (int e = 0; e < g->n_ext; e++) {
      if (g->ext[e].view >= 0) return false; /* views are read plain */
      int c = g->ext[e].cat; /* a Concat read in place channels-last: along the channels */
      if (c >= 0 && (f->cat_axis[c] != 1 || p->ir->values[sn->nodes[c]->out[0]]->type.rank < 3)) return false;
    }
    return g->root == k;
  }
  const dycl_node_t* n = sn->nodes[k];
  if ((n->op != DYCL_OP_Concat && n->op != DYCL_OP_Pad) || n->n_out != 1 || n->out[0] < 0) return false;
  const dycl_type_t* t = &p->ir->values[n->out[0]]->type;
  if (!t->known || t->kind != DYCL_VALUE_TENSOR || t->dtype != DYCL_DTYPE_FLOAT32 || t->rank < 3) return false;
  if (n->op == DYCL_OP_Pad) { /* spatial pads (constants) of its first input only */
    int64_t pads[2 * DYCL_MAX_RANK];
    double value;
    const dycl_value_t* cv = n->n_in > 2 ? dycl_ir_const_tensor(p->ir, n->in[2]) : NULL;
    if (n->n_in > 2 && n->in[2] >= 0 && !cv) return false; /* a constant known only at run time */
    return dycl_pad_spatial(n, n->n_in > 1 ? dycl_ir_const_tensor(p->ir, n->in[1]) : NULL, cv, DYCL_DTYPE_FLOAT32,
                            t->rank, pads, &value);
  }
  if (!dycl_node_attr(n, "axis")) return false;
  int64_t axis = dycl_attr_int(n, "axis", 0);
  return axis == 1 || axis == 1 - t->rank;
}

int cpu_fast_group_root(const cpu_fast_t* f, int k) {
  if (!f || k >= f->n_nodes || f->group_of[k] < 0) return -1;
  return f->groups[f->group_of[k]].root;
}

dycl_status_t cpu_fast_node_run(const cpu_fast_t* f, const dycl_program_t* p, const dycl_subnet_t* sn, int k,
                                dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran) {
  *ran = false;
  if (!f) return NULL;
  return cpu_fast_op_run(f->kern, p, sn, k, slots, kctx, ran);
}
