/* The `cpu` backend's groups: builds the oneDNN problem of a Conv, MatMul, Gemm or pool (with its
 * fused Add and activations) from the inputs of one run, keeps the primitive per input shape, and
 * runs it. Anything unusual (a dtype or shape oneDNN is not given, a bad attribute, an empty
 * tensor) is left to the reference kernels: cpu_group_run then reports CPU_RAN_NONE. When oneDNN
 * runs the head but not its fused members (say, an Add that broadcasts), it reports CPU_RAN_HEAD. */
#ifdef DYCL_HAVE_ONEDNN

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_fast_internal.h"
#include "backend/cpu/cpu_internal.h"

/* Problems smaller than this (multiply-adds, or pooled elements) run faster in the reference
 * kernels than through a oneDNN call. */
#define CPU_MIN_WORK 4096.0
#define CPU_MIN_REDUCE 1024.0 /* elements: the reference reductions are slower */
/* Problems smaller than this run on one thread: waking the others costs more than they save. */
#define CPU_SERIAL_WORK 262144.0

/* How the bias and the pre-filled destination (sum post-op) of an entry are fed. */
typedef enum { SRC_NONE = 0, SRC_OWN, SRC_GEMM_C, SRC_ADD } src_kind_t;

/* What one entry needs besides its primitive: the output shape and where bias/sum come from. */
typedef struct entry_plan {
  bool fused;  /* the group's members are fused in (else only the head runs here) */
  bool out_cl; /* the result is written channels-last */
  int out_rank;
  int64_t out_dims[DYCL_MAX_RANK];
  src_kind_t bias, sum;
  bool bias_direct;   /* the bias tensor's data can be passed as is */
  bool bias_after;    /* a deconvolution's bias, added after the primitive (cpu_group_run) */
  bool argmax;        /* the product's ArgMax (cpu_own_argmax_create): the result is its index */
  int64_t rows, cols; /* gemm C broadcast into [rows, cols] */
} entry_plan_t;

typedef struct cpu_entry_full {
  cpu_entry_t e;
  entry_plan_t plan;
} cpu_entry_full_t;

/* The tensors of one run. */
typedef struct group_io {
  const dycl_value_t* x; /* conv/pool X, matmul/gemm A */
  const dycl_value_t* w; /* W or B */
  const dycl_value_t* b; /* conv B, gemm C */
  const dycl_value_t* s; /* fused Add's other operand */
  bool x_cl, s_cl;       /* x and s are held channels-last */
} group_io_t;

/* ------------------------------------------------------------------ keys */

static void key_push(int64_t* key, int* n, const dycl_value_t* t) {
  if (*n + 1 + DYCL_MAX_RANK > CPU_KEY_MAX) return; /* cannot happen: at most 4 tensors */
  if (!t) {
    key[(*n)++] = -1;
    return;
  }
  key[(*n)++] = t->rank;
  for (int d = 0; d < t->rank; d++) key[(*n)++] = t->dims[d];
}

/* ------------------------------------------------------------- attributes */

/* An ints attribute of exactly n values >= lo (absent: dflt). False when malformed. */
static bool ints_attr(const dycl_node_t* node, const char* name, int n, int64_t dflt, int64_t lo, int64_t* v) {
  int cnt = 0;
  const int64_t* a = dycl_attr_ints(node, name, &cnt);
  if (!a) {
    for (int i = 0; i < n; i++) v[i] = dflt;
    return true;
  }
  if (cnt != n) return false;
  for (int i = 0; i < n; i++) {
    if (a[i] < lo || a[i] > ((int64_t)1 << 31)) return false;
    v[i] = a[i];
  }
  return true;
}

/* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID; -1 unknown */
static int auto_pad(const dycl_node_t* node) {
  const char* s = dycl_attr_string(node, "auto_pad", "NOTSET");
  if (!*s || !strcmp(s, "NOTSET")) return 0;
  if (!strcmp(s, "SAME_UPPER")) return 1;
  if (!strcmp(s, "SAME_LOWER")) return 2;
  if (!strcmp(s, "VALID")) return 3;
  return -1;
}

/* --------------------------------------------------------------- problems */

/* Conv: the oneDNN problem for these inputs, or false. */
static bool conv_problem(const cpu_group_t* g, const dycl_node_t* node, const group_io_t* io, bool fused,
                         cpu_conv_desc_t* d, entry_plan_t* ep) {
  memset(ep, 0, sizeof *ep);
  const dycl_value_t *X = io->x, *W = io->w, *B = io->b;
  int r = X->rank;
  if (r < 3 || r > 5 || W->rank != r) return false;
  int nsp = r - 2;
  memset(d, 0, sizeof *d);
  d->nsp = nsp;
  d->transpose = g->transpose;
  d->N = X->dims[0];
  d->C = X->dims[1];
  d->G = dycl_attr_int(node, "group", 1);
  if (d->G < 1 || d->G > d->C) return false;
  if (g->transpose) { /* W [C, M/G, k...] */
    d->M = W->dims[1] * d->G;
    if (W->dims[0] != d->C || d->C % d->G) return false;
  } else { /* W [M, C/G, k...] */
    d->M = W->dims[0];
    if (d->M % d->G || W->dims[1] * d->G != d->C) return false;
  }
  if (d->N < 1 || d->C < 1 || d->M < 1) return false;
  if (B && (B->rank != 1 || B->dims[0] != d->M)) return false;
  /* oneDNN 2.6 runs a deconvolution with a bias 2.3 times slower than without (14.8 against 6.4 us
   * for 64 -> 32 channels, 8x8 -> 16x16, stride 2): the bias is added after it */
  d->bias = B != NULL && !g->transpose;
  ep->bias_after = B != NULL && g->transpose;
  d->blocked_io = true;
  d->src_cl = io->x_cl;
  ep->out_cl = d->dst_cl = g->y_cl >= 0 && (fused || g->n_members == 0);
  int nk = 0;
  const int64_t* ks = dycl_attr_ints(node, "kernel_shape", &nk);
  if (ks && nk != nsp) return false;
  int64_t pads[6], opad[3];
  int ap = auto_pad(node);
  if (ap < 0 || !ints_attr(node, "strides", nsp, 1, 1, d->s) || !ints_attr(node, "dilations", nsp, 1, 1, d->d) ||
      !ints_attr(node, "pads", 2 * nsp, 0, 0, pads) || !ints_attr(node, "output_padding", nsp, 0, 0, opad))
    return false;
  int nos = 0;
  const int64_t* os = g->transpose ? dycl_attr_ints(node, "output_shape", &nos) : NULL;
  if (os && nos != nsp && nos != nsp + 2) return false;
  for (int i = 0; i < nsp; i++) {
    int64_t in = X->dims[2 + i], k = W->dims[2 + i];
    if (ks && ks[i] != k) return false;
    if (in < 1 || k < 1) return false;
    int64_t keff = (k - 1) * d->d[i] + 1;
    d->in[i] = in;
    d->k[i] = k;
    if (g->transpose) { /* as the reference kernel: the output extent, then the padding */
      int64_t full = d->s[i] * (in - 1) + opad[i] + keff, out, pb, pe;
      if (os || ap == 1 || ap == 2) {
        out = os ? os[nos == nsp ? i : i + 2] : in * d->s[i];
        int64_t total = full - out, half = total >= 0 ? total / 2 : -((-total + 1) / 2);
        pb = ap == 1 ? half : total - half;
        pe = total - pb;
      } else {
        pb = ap == 3 ? 0 : pads[i];
        pe = ap == 3 ? 0 : pads[nsp + i];
        out = full - pb - pe;
      }
      /* oneDNN: out = (in - 1) * s + keff - pl - pr, output_padding folded into pr */
      d->out[i] = out;
      d->pl[i] = pb;
      d->pr[i] = (in - 1) * d->s[i] + keff - pb - out;
      if (out < 1 || d->pl[i] < 0 || d->pr[i] < 0) return false;
      continue;
    }
    if (ap == 1 || ap == 2) {
      int64_t out = (in + d->s[i] - 1) / d->s[i];
      int64_t total = (out - 1) * d->s[i] + keff - in;
      if (total < 0) total = 0;
      d->pl[i] = ap == 1 ? total / 2 : total - total / 2;
      d->pr[i] = total - d->pl[i];
    } else {
      d->pl[i] = ap == 3 ? 0 : pads[i];
      d->pr[i] = ap == 3 ? 0 : pads[nsp + i];
    }
    int64_t num = in + d->pl[i] + d->pr[i] - keff;
    if (num < 0) return false;
    d->out[i] = num / d->s[i] + 1;
  }
  ep->out_rank = r;
  ep->out_dims[0] = d->N;
  ep->out_dims[1] = d->M;
  for (int i = 0; i < nsp; i++) ep->out_dims[2 + i] = d->out[i];
  ep->bias = B ? SRC_OWN : SRC_NONE;
  ep->bias_direct = true;
  if (g->add_operand >= 0 && fused) { /* residual: only an addend of the output's shape */
    const dycl_value_t* S = io->s;
    if (S->rank != r) return false;
    for (int i = 0; i < r; i++)
      if (S->dims[i] != ep->out_dims[i]) return false;
    ep->sum = SRC_ADD;
    d->sum_cl = io->s_cl;
  }
  return true;
}

/* Whether S is a bias for a [..., N] result: [N] or [1, ..., 1, N]. */
static bool bias_like(const dycl_value_t* S, int out_rank, int64_t N) {
  if (S->rank < 1 || S->rank > out_rank || S->dims[S->rank - 1] != N) return false;
  for (int i = 0; i < S->rank - 1; i++)
    if (S->dims[i] != 1) return false;
  return true;
}

static bool same_shape(const dycl_value_t* S, int rank, const int64_t* dims) {
  if (S->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (S->dims[i] != dims[i]) return false;
  return true;
}

/* The fused Add's operand as bias or addend of a matrix product (ep's output shape set). */
static bool mm_add_operand(const cpu_group_t* g, const group_io_t* io, entry_plan_t* ep, cpu_mm_desc_t* d, bool fused) {
  if (g->add_operand < 0 || !fused) return true;
  const dycl_value_t* S = io->s;
  int64_t N = ep->out_rank > 0 ? ep->out_dims[ep->out_rank - 1] : 1;
  if (ep->bias == SRC_NONE && bias_like(S, ep->out_rank, N)) {
    ep->bias = SRC_ADD;
    ep->bias_direct = true;
    d->bias = true;
    return true;
  }
  if (ep->sum == SRC_NONE && same_shape(S, ep->out_rank, ep->out_dims)) {
    ep->sum = SRC_ADD;
    return true;
  }
  return false;
}

static bool matmul_problem(const cpu_group_t* g, const group_io_t* io, cpu_mm_desc_t* d, entry_plan_t* ep, bool fused) {
  memset(ep, 0, sizeof *ep);
  const dycl_value_t *A = io->x, *B = io->w;
  int ra = A->rank, rb = B->rank;
  if (ra < 2 || rb < 2) return false;
  memset(d, 0, sizeof *d);
  int64_t K = A->dims[ra - 1], N = B->dims[rb - 1];
  if (B->dims[rb - 2] != K || K < 1 || N < 1) return false;
  for (int i = 0; i < ra; i++)
    if (A->dims[i] < 1) return false;
  for (int i = 0; i < rb; i++)
    if (B->dims[i] < 1) return false;
  if (rb == 2) { /* one weight matrix: A's batch is more rows */
    int64_t M = 1;
    for (int i = 0; i < ra - 1; i++) M *= A->dims[i];
    d->rank = 2;
    d->a_dims[0] = M, d->a_dims[1] = K;
    d->a_strides[0] = K, d->a_strides[1] = 1;
    d->c_dims[0] = M, d->c_dims[1] = N;
    ep->out_rank = ra;
    for (int i = 0; i < ra - 1; i++) ep->out_dims[i] = A->dims[i];
    ep->out_dims[ra - 1] = N;
  } else {
    int r = ra > rb ? ra : rb;
    if (r > CPU_MM_MAX_RANK) return false;
    d->rank = r;
    for (int i = 0; i < r; i++) {
      int ia = i - (r - ra), ib = i - (r - rb);
      d->a_dims[i] = ia >= 0 ? A->dims[ia] : 1;
      d->b_dims[i] = ib >= 0 ? B->dims[ib] : 1;
    }
    for (int i = 0; i < r - 2; i++) {
      if (d->a_dims[i] != d->b_dims[i] && d->a_dims[i] != 1 && d->b_dims[i] != 1) return false;
      d->c_dims[i] = d->a_dims[i] > d->b_dims[i] ? d->a_dims[i] : d->b_dims[i];
    }
    d->c_dims[r - 2] = d->a_dims[r - 2];
    d->c_dims[r - 1] = N;
    int64_t st = 1;
    for (int i = r - 1; i >= 0; i--) d->a_strides[i] = st, st *= d->a_dims[i];
    ep->out_rank = r;
    for (int i = 0; i < r; i++) ep->out_dims[i] = d->c_dims[i];
  }
  if (rb == 2) {
    d->b_dims[0] = K, d->b_dims[1] = N;
  }
  int64_t st = 1;
  for (int i = d->rank - 1; i >= 0; i--) d->b_strides[i] = st, st *= d->b_dims[i];
  return mm_add_operand(g, io, ep, d, fused);
}

static bool gemm_problem(const cpu_group_t* g, const dycl_node_t* node, const group_io_t* io, cpu_mm_desc_t* d,
                         entry_plan_t* ep, bool fused) {
  memset(ep, 0, sizeof *ep);
  const dycl_value_t *A = io->x, *B = io->w, *C = io->b;
  if (A->rank != 2 || B->rank != 2) return false;
  bool ta = dycl_attr_int(node, "transA", 0) != 0, tb = dycl_attr_int(node, "transB", 0) != 0;
  float beta = (float)dycl_attr_float(node, "beta", 1.0);
  int64_t M = A->dims[ta ? 1 : 0], K = A->dims[ta ? 0 : 1], N = B->dims[tb ? 0 : 1];
  if (B->dims[tb ? 1 : 0] != K || M < 1 || K < 1 || N < 1) return false;
  memset(d, 0, sizeof *d);
  d->rank = 2;
  d->a_dims[0] = M, d->a_dims[1] = K;
  d->a_strides[0] = ta ? 1 : K, d->a_strides[1] = ta ? M : 1;
  d->b_dims[0] = K, d->b_dims[1] = N;
  d->b_strides[0] = tb ? 1 : N, d->b_strides[1] = tb ? K : 1;
  d->c_dims[0] = M, d->c_dims[1] = N;
  ep->out_rank = 2;
  ep->out_dims[0] = M, ep->out_dims[1] = N;
  if (C && beta != 0) {
    if (C->rank > 2) return false;
    int64_t ci = C->rank == 2 ? C->dims[0] : 1, cj = C->rank >= 1 ? C->dims[C->rank - 1] : 1;
    if ((ci != 1 && ci != M) || (cj != 1 && cj != N)) return false;
    ep->rows = ci;
    ep->cols = cj;
    if (ci == 1) { /* a row vector: the bias */
      ep->bias = SRC_GEMM_C;
      ep->bias_direct = beta == 1 && cj == N;
      d->bias = true;
    } else {
      ep->sum = SRC_GEMM_C;
    }
  }
  return mm_add_operand(g, io, ep, d, fused);
}

static bool pool_problem(const cpu_group_t* g, const dycl_node_t* node, const group_io_t* io, cpu_pool_desc_t* d,
                         entry_plan_t* ep) {
  memset(ep, 0, sizeof *ep);
  const dycl_value_t* X = io->x;
  int r = X->rank;
  if (r < 3 || r > 5) return false;
  int nsp = r - 2;
  memset(d, 0, sizeof *d);
  d->kind = g->pool_kind;
  d->nsp = nsp;
  d->src_cl = io->x_cl;
  ep->out_cl = d->dst_cl = g->y_cl >= 0;
  d->N = X->dims[0];
  d->C = X->dims[1];
  if (d->N < 1 || d->C < 1) return false;
  for (int i = 0; i < nsp; i++) {
    d->in[i] = X->dims[2 + i];
    if (d->in[i] < 1) return false;
  }
  if (g->global) {
    for (int i = 0; i < nsp; i++) {
      d->k[i] = d->in[i];
      d->s[i] = d->d[i] = d->out[i] = 1;
    }
  } else {
    int nk = 0;
    dycl_attr_ints(node, "kernel_shape", &nk);
    int64_t pads[6];
    int ap = auto_pad(node);
    if (nk != nsp || ap < 0 || !ints_attr(node, "kernel_shape", nsp, 1, 1, d->k) ||
        !ints_attr(node, "strides", nsp, 1, 1, d->s) || !ints_attr(node, "dilations", nsp, 1, 1, d->d) ||
        !ints_attr(node, "pads", 2 * nsp, 0, 0, pads))
      return false;
    bool ceil_mode = dycl_attr_int(node, "ceil_mode", 0) != 0;
    for (int i = 0; i < nsp; i++) {
      int64_t in = d->in[i], keff = (d->k[i] - 1) * d->d[i] + 1, pb, pe, out;
      if (ap == 1 || ap == 2) {
        out = (in + d->s[i] - 1) / d->s[i];
        int64_t total = (out - 1) * d->s[i] + keff - in;
        if (total < 0) total = 0;
        pb = ap == 1 ? total / 2 : total - total / 2;
        pe = total - pb;
      } else {
        pb = ap == 3 ? 0 : pads[i];
        pe = ap == 3 ? 0 : pads[nsp + i];
        int64_t num = in + pb + pe - keff;
        if (num < 0) return false;
        if (ceil_mode) {
          out = num / d->s[i] + (num % d->s[i] != 0) + 1;
          if ((out - 1) * d->s[i] >= in + pb) out--;
        } else {
          out = num / d->s[i] + 1;
        }
      }
      if (out < 1) return false;
      /* oneDNN wants the right padding that makes its floor formula give `out` */
      int64_t pr = pe;
      if ((in + pb + pr - keff) / d->s[i] + 1 < out) pr = (out - 1) * d->s[i] + keff - in - pb;
      if (pr > pe && d->kind == CPU_POOL_AVG_INCLUDE) return false; /* would count the overhang */
      if (pb >= keff || pr >= keff) return false;                   /* windows entirely in the padding */
      d->pl[i] = pb;
      d->pr[i] = pr;
      d->out[i] = out;
    }
  }
  bool unit = true; /* spatial output extents of 1: both layouts are the same bytes */
  for (int i = 0; i < nsp; i++) unit &= d->out[i] == 1;
  if (unit && d->src_cl) d->dst_cl = true;
  ep->out_rank = r;
  ep->out_dims[0] = d->N;
  ep->out_dims[1] = d->C;
  for (int i = 0; i < nsp; i++) ep->out_dims[2 + i] = d->out[i];
  return true;
}

/* The reduced dims of X, as the reference kernel reads them; false when nothing is reduced
 * (noop_with_empty_axes) or the axes are bad (the reference kernel reports it). */
static bool reduce_axes(const cpu_group_t* g, const dycl_node_t* node, const group_io_t* io, bool* red) {
  int rank = io->x->rank;
  int64_t axes[DYCL_MAX_RANK * 2];
  int n = 0;
  bool given = false;
  if (g->axes_input || io->w) {
    if (io->w) {
      const dycl_value_t* a = io->w;
      if (a->kind != DYCL_VALUE_TENSOR || (a->dtype != DYCL_DTYPE_INT64 && a->dtype != DYCL_DTYPE_INT32) ||
          a->rank > 1 || a->numel > DYCL_MAX_RANK * 2)
        return false;
      n = (int)a->numel;
      for (int k = 0; k < n; k++) axes[k] = dycl_tensor_get_i64(a, k);
      given = true;
    }
  } else {
    const int64_t* a = dycl_attr_ints(node, "axes", &n);
    if (n > DYCL_MAX_RANK * 2) return false;
    for (int k = 0; k < n; k++) axes[k] = a[k];
    given = a != NULL;
  }
  for (int d = 0; d < rank; d++) red[d] = false;
  if (!given || n == 0) {
    if (g->axes_input && dycl_attr_int(node, "noop_with_empty_axes", 0)) return false;
    for (int d = 0; d < rank; d++) red[d] = true;
    return true;
  }
  for (int k = 0; k < n; k++) {
    int64_t a = axes[k] < 0 ? axes[k] + rank : axes[k];
    if (a < 0 || a >= rank || red[a]) return false;
    red[a] = true;
  }
  return true;
}

static bool reduce_problem(const cpu_group_t* g, const dycl_node_t* node, const group_io_t* io, cpu_reduce_desc_t* d,
                           entry_plan_t* ep) {
  memset(ep, 0, sizeof *ep);
  memset(d, 0, sizeof *d);
  const dycl_value_t* X = io->x;
  if (X->rank < 1 || X->numel < 1) return false;
  bool red[DYCL_MAX_RANK];
  if (!reduce_axes(g, node, io, red)) return false;
  bool keep = dycl_attr_int(node, "keepdims", 1) != 0;
  d->kind = g->reduce_kind;
  d->rank = X->rank;
  d->src_cl = io->x_cl && X->rank >= 3;
  bool any = false;
  for (int i = 0; i < X->rank; i++) {
    d->dims[i] = X->dims[i];
    d->out_dims[i] = red[i] ? 1 : X->dims[i];
    any |= red[i] && X->dims[i] != 1;
    if (!red[i] || keep) ep->out_dims[ep->out_rank++] = d->out_dims[i];
  }
  return any; /* reducing only dims of 1 is a copy: the reference kernel */
}

/* Reductions over every spatial axis (global pools, ReduceMean/Sum/Max/Min over the axes after
 * the channels) of a channels-last source run here: one pass over [N, spatial, C] rows, combining
 * whole rows of C (oneDNN 2.6 takes such sources to its reference code, which dycl declines). */
static bool spatial_axes(const cpu_group_t* g, const dycl_node_t* head, const group_io_t* io) {
  int rank = io->x->rank;
  if (rank < 3) return false;
  if (g->kind == CPU_KIND_POOL) return g->global;
  bool red[DYCL_MAX_RANK];
  if (g->kind != CPU_KIND_REDUCE || !reduce_axes(g, head, io, red) || red[0] || red[1]) return false;
  for (int d = 2; d < rank; d++)
    if (!red[d]) return false;
  return true;
}

bool cpu_group_spatial_reduce(const dycl_program_t* p, const dycl_subnet_t* sn, const cpu_group_t* g) {
  if (g->kind != CPU_KIND_REDUCE && g->kind != CPU_KIND_POOL) return false;
  const dycl_node_t* head = sn->nodes[g->head];
  const dycl_type_t* t = &p->ir->values[head->in[0]]->type;
  if (!t->known || t->kind != DYCL_VALUE_TENSOR || t->rank < 3 || t->rank > DYCL_MAX_RANK) return false;
  dycl_value_t xb; /* the rank is all spatial_axes reads of X */
  memset(&xb, 0, sizeof xb);
  xb.kind = DYCL_VALUE_TENSOR;
  xb.rank = t->rank;
  const dycl_value_t* w = NULL;
  if (g->kind == CPU_KIND_REDUCE && g->axes_input && head->n_in > 1 && head->in[1] >= 0) {
    w = dycl_ir_const_tensor(p->ir, head->in[1]);
    if (!w) return false;
  }
  group_io_t io = {&xb, w, NULL, NULL, true, false};
  return spatial_axes(g, head, &io);
}

static dycl_status_t spatial_reduce_cl(const dycl_program_t* p, const cpu_state_t* st, const cpu_group_t* g,
                                       const dycl_node_t* head, const group_io_t* io, dycl_value_t** slots,
                                       dycl_kctx_t* kctx, cpu_ran_t* ran) {
  const dycl_value_t* X = io->x;
  if (!spatial_axes(g, head, io) || X->numel < 1) return NULL; /* the caller makes X plain */
  bool max = g->kind == CPU_KIND_POOL ? g->pool_kind == CPU_POOL_MAX : g->reduce_kind == CPU_REDUCE_MAX;
  bool min = g->kind == CPU_KIND_REDUCE && g->reduce_kind == CPU_REDUCE_MIN;
  bool mean = g->kind == CPU_KIND_POOL ? !max : g->reduce_kind == CPU_REDUCE_MEAN;
  bool keep = g->kind == CPU_KIND_POOL || dycl_attr_int(head, "keepdims", 1) != 0;
  int64_t N = X->dims[0], C = X->dims[1], S = X->numel / (N * C);
  int64_t dims[DYCL_MAX_RANK] = {N, C};
  int rank = keep ? X->rank : 2;
  for (int d = 2; d < rank; d++) dims[d] = 1;
  dycl_value_t* Y;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, head, DYCL_DTYPE_FLOAT32, rank, dims, &Y));
  float* y = Y->data;
  if (!max && !min) { /* [N, S, C] summed over S, vectorized along C */
    cpu_fast_kern(st->fast)->sum_middle(X->data, y, N, S, C, mean);
  } else { /* NaN as the reference kernels take it: ReduceMax/Min keep it, GlobalMaxPool skips it */
    bool keep_nan = g->kind == CPU_KIND_REDUCE;
    for (int64_t n = 0; n < N; n++) {
      const float* x = (const float*)X->data + n * S * C;
      float* yn = y + n * C;
      for (int64_t c = 0; c < C; c++) yn[c] = max ? -INFINITY : INFINITY;
      for (int64_t s = 0; s < S; s++) {
        const float* r = x + s * C;
        for (int64_t c = 0; c < C; c++) {
          float v = r[c];
          if ((keep_nan && v != v) || (max ? v > yn[c] : v < yn[c])) yn[c] = v;
        }
      }
    }
  }
  dycl_status_t s = dycl_check_output(p->ir, head, 0, Y);
  if (s) {
    dycl_value_release(Y);
    return s;
  }
  dycl_value_release(slots[head->out[0]]);
  slots[head->out[0]] = Y; /* no spatial extent left: plain and channels-last are the same bytes */
  *ran = CPU_RAN_ALL;
  return NULL;
}

/* ------------------------------------------------------------------ cache */

static void entry_destroy(const dycl_allocator_t* alloc, cpu_entry_t* e) {
  if (!e) return;
  cpu_prim_destroy(e->prim);
  cpu_own_destroy(e->own);
  dycl_free(alloc, e);
}

void cpu_group_release(cpu_group_t* g, const dycl_allocator_t* alloc) {
  for (int i = 0; i < g->n_entries; i++) entry_destroy(alloc, g->entries[i]);
  g->n_entries = 0;
  cpu_wcache_destroy(g->wc);
  g->wc = NULL;
}

/* y[n, c, ...] += bias[c], y held channels-last or plain. */
static void add_channel_bias(dycl_value_t* Y, const float* bias, bool cl) {
  float* y = Y->data;
  int64_t N = Y->dims[0], C = Y->dims[1], S = 1;
  for (int d = 2; d < Y->rank; d++) S *= Y->dims[d];
  for (int64_t n = 0; n < N; n++) {
    if (cl) {
      for (int64_t s = 0; s < S; s++, y += C)
        for (int64_t c = 0; c < C; c++) y[c] += bias[c];
    } else {
      for (int64_t c = 0; c < C; c++, y += S)
        for (int64_t s = 0; s < S; s++) y[s] += bias[c];
    }
  }
}

/* Creates the primitive of group g for these inputs, with the members fused in or not. */
static dycl_status_t build_prim(cpu_state_t* st, cpu_group_t* g, const dycl_node_t* head, const group_io_t* io,
                                bool fused, cpu_entry_full_t* e) {
  cpu_post_t post;
  memset(&post, 0, sizeof post);
  if (fused) {
    post.n_act = g->n_act;
    memcpy(post.act, g->act, sizeof post.act);
  }
  switch (g->kind) {
    case CPU_KIND_CONV: {
      cpu_conv_desc_t d;
      if (!conv_problem(g, head, io, fused, &d, &e->plan)) return NULL;
      double work = (double)d.N * (double)d.M * (double)(d.C / d.G);
      for (int i = 0; i < d.nsp; i++) work *= (double)d.k[i] * (double)(d.transpose ? d.in[i] : d.out[i]);
      if (work < CPU_MIN_WORK) return NULL;
      d.threads = work < CPU_SERIAL_WORK ? 1 : 0;
      post.sum = e->plan.sum != SRC_NONE;
      post.sum_scale = 1.0f;
      if (g->w_const && io->w->data && cpu_own_conv_suits(&d, &post))
        return cpu_own_conv_create(&d, &post, io->w->data, d.threads ? d.threads : cpu_dnn_threads(st->dnn), st->alloc,
                                   &e->e.own);
      return cpu_prim_conv(st->dnn, &d, &post, g->w_const, &e->e.prim);
    }
    case CPU_KIND_MATMUL:
    case CPU_KIND_GEMM: {
      cpu_mm_desc_t d;
      bool ok = g->kind == CPU_KIND_MATMUL ? matmul_problem(g, io, &d, &e->plan, fused)
                                           : gemm_problem(g, head, io, &d, &e->plan, fused);
      if (!ok) return NULL;
      if (fused && g->argmax) { /* the ArgMax fuses into the quantized kernel only; else the head runs alone */
        if (e->plan.sum == SRC_GEMM_C || !g->w_const || !io->w->data) return NULL;
        post.sum = e->plan.sum != SRC_NONE;
        post.sum_scale = 1.0f;
        e->plan.argmax = true;
        return cpu_own_argmax_create(&d, &post, io->w->data, g->am_last, cpu_dnn_threads(st->dnn), st->alloc,
                                     &e->e.own);
      }
      double work = (double)d.a_dims[d.rank - 1];
      for (int i = 0; i < d.rank; i++) work *= (double)d.c_dims[i];
      /* dycl's own product costs a call and the arithmetic: it takes the products too small for
       * oneDNN too (an RNN cell's gates, a gate's logit), which the reference kernel would run */
      bool own = g->w_const && io->w->data && cpu_own_mm_suits(&d);
      if (work < CPU_MIN_WORK && !own) return NULL;
      d.threads = work < CPU_SERIAL_WORK ? 1 : 0;
      post.sum = e->plan.sum != SRC_NONE;
      post.sum_scale = e->plan.sum == SRC_GEMM_C ? (float)dycl_attr_float(head, "beta", 1.0) : 1.0f;
      if (own)
        return cpu_own_mm_create(&d, &post, io->w->data, d.threads ? d.threads : cpu_dnn_threads(st->dnn), st->alloc,
                                 &e->e.own);
      return cpu_prim_matmul(st->dnn, &d, &post, g->w_const, &e->e.prim);
    }
    case CPU_KIND_REDUCE: {
      cpu_reduce_desc_t d;
      if (!reduce_problem(g, head, io, &d, &e->plan)) return NULL;
      if ((double)io->x->numel < CPU_MIN_REDUCE) return NULL;
      d.threads = (double)io->x->numel < CPU_SERIAL_WORK ? 1 : 0;
      return cpu_prim_reduce(st->dnn, &d, &e->e.prim);
    }
    case CPU_KIND_POOL: {
      cpu_pool_desc_t d;
      if (!pool_problem(g, head, io, &d, &e->plan)) return NULL;
      double work = (double)d.N * (double)d.C;
      for (int i = 0; i < d.nsp; i++) work *= (double)d.k[i] * (double)d.out[i];
      if (work < CPU_MIN_WORK && !g->global) return cpu_own_pool_create(&d, st->alloc, &e->e.own);
      if (work < CPU_MIN_WORK) return NULL;
      d.threads = work < CPU_SERIAL_WORK ? 1 : 0;
      return cpu_prim_pool(st->dnn, &d, &e->e.prim);
    }
  }
  return NULL;
}

/* A new entry for these inputs (prim NULL when oneDNN is not to run them): the whole group when
 * oneDNN takes it, else the head alone. Called locked. The entry, the primitive and the packed
 * weights outlive the run: they come from the state's allocator, never the kernel context's. */
static dycl_status_t entry_build(cpu_state_t* st, cpu_group_t* g, const dycl_node_t* head, const group_io_t* io,
                                 cpu_entry_full_t** out) {
  *out = NULL;
  cpu_entry_full_t* e = dycl_calloc(st->alloc, 1, sizeof *e);
  if (!e) return dycl_error_nomem();
  bool has_members = g->n_members > 0;
  dycl_status_t s = build_prim(st, g, head, io, true, e);
  if (!s && (e->e.prim || e->e.own)) e->plan.fused = true;
  if (!s && !e->e.prim && !e->e.own && has_members) s = build_prim(st, g, head, io, false, e);
  if (!s && e->e.prim && g->w_const)
    s = cpu_wcache_get(st->dnn, &g->wc, e->e.prim, io->w->data, &e->e.packed);
  if (s) {
    entry_destroy(st->alloc, &e->e);
    return s;
  }
  *out = e;
  return NULL;
}

/* Finds or makes the entry for `key`, with a reference taken (*transient: not kept in the cache,
 * destroy after use). */
static dycl_status_t entry_get(cpu_state_t* st, cpu_group_t* g, const dycl_node_t* head, const group_io_t* io,
                               const int64_t* key, int nkey, cpu_entry_full_t** out, bool* transient) {
  *out = NULL;
  *transient = false;
  uint64_t h = 0xcbf29ce484222325ull;
  for (int i = 0; i < nkey; i++) h = (h ^ (uint64_t)key[i]) * 0x100000001b3ull;
  pthread_mutex_lock(&st->lock);
  for (int i = 0; i < g->n_entries; i++) {
    cpu_entry_t* e = g->entries[i];
    if (e->hash == h && e->nkey == nkey && !memcmp(e->key, key, (size_t)nkey * sizeof *key)) {
      e->refs++;
      pthread_mutex_unlock(&st->lock);
      *out = (cpu_entry_full_t*)e;
      return NULL;
    }
  }
  cpu_entry_full_t* e;
  dycl_status_t s = entry_build(st, g, head, io, &e);
  if (s) {
    pthread_mutex_unlock(&st->lock);
    return s;
  }
  e->e.hash = h;
  e->e.nkey = nkey;
  memcpy(e->e.key, key, (size_t)nkey * sizeof *key);
  e->e.refs = 1;
  st->clock++; /* misses: the seed of the random eviction */
  int slot = -1;
  if (g->n_entries < CPU_CACHE_SIZE) {
    slot = g->n_entries++;
  } else {
    /* evict an entry not in use, picked at random: shapes that come back in a cycle longer than
     * the cache (a sequence growing in a loop) would miss every time under LRU */
    uint64_t r = (st->clock + (uint64_t)(uintptr_t)g) * 0x9e3779b97f4a7c15ull;
    int start = (int)((r >> 32) % (uint64_t)g->n_entries);
    for (int j = 0; j < g->n_entries && slot < 0; j++) {
      int i = (start + j) % g->n_entries;
      if (g->entries[i]->refs == 0) slot = i;
    }
    if (slot >= 0) entry_destroy(st->alloc, g->entries[slot]);
  }
  if (slot >= 0)
    g->entries[slot] = &e->e;
  else
    *transient = true;
  pthread_mutex_unlock(&st->lock);
  *out = e;
  return NULL;
}

static void entry_put(cpu_state_t* st, cpu_entry_full_t* e, bool transient) {
  if (transient) {
    entry_destroy(st->alloc, &e->e);
    return;
  }
  pthread_mutex_lock(&st->lock);
  e->e.refs--;
  pthread_mutex_unlock(&st->lock);
}

/* ------------------------------------------------------------- workspaces */

/* A workspace of at least `size` bytes: a free one of the state's (grown if needed) or a new one. */
static dycl_status_t ws_take(cpu_state_t* st, size_t size, cpu_buf_t** out) {
  pthread_mutex_lock(&st->lock);
  cpu_buf_t* b = st->free_bufs;
  if (b) st->free_bufs = b->next;
  pthread_mutex_unlock(&st->lock);
  if (!b) {
    b = dycl_calloc(st->alloc, 1, sizeof *b);
    if (!b) return dycl_error_nomem();
  }
  if (b->size < size) {
    dycl_free(st->alloc, b->raw);
    b->raw = NULL;
    size_t grow = size + size / 4;
    if (grow < size || grow > SIZE_MAX - 64) grow = size;
    b->raw = size <= SIZE_MAX - 64 ? dycl_malloc(st->alloc, grow + 64) : NULL;
    if (!b->raw) {
      dycl_free(st->alloc, b);
      return dycl_error_nomem();
    }
    b->p = (void*)(((uintptr_t)b->raw + 63) & ~(uintptr_t)63);
    b->size = grow;
  }
  *out = b;
  return NULL;
}

static void ws_give(cpu_state_t* st, cpu_buf_t* b) {
  if (!b) return;
  pthread_mutex_lock(&st->lock);
  b->next = st->free_bufs;
  st->free_bufs = b;
  pthread_mutex_unlock(&st->lock);
}

void cpu_state_free_buffers(cpu_state_t* st) {
  for (cpu_buf_t *b = st->free_bufs, *n; b; b = n) {
    n = b->next;
    dycl_free(st->alloc, b->raw);
    dycl_free(st->alloc, b);
  }
  st->free_bufs = NULL;
}

/* ------------------------------------------------------------------- run */

static const dycl_value_t* tensor_or_null(dycl_value_t** slots, const dycl_node_t* n, int i) {
  return i < n->n_in && n->in[i] >= 0 ? slots[n->in[i]] : NULL;
}

static bool f32_tensor(const dycl_value_t* t) {
  return t && t->kind == DYCL_VALUE_TENSOR && t->dtype == DYCL_DTYPE_FLOAT32;
}

/* Copies C (broadcast over [rows|M, cols|N]) into the [M, N] buffer y. */
static void broadcast_rows(const float* c, int64_t ci, int64_t cj, float* y, int64_t M, int64_t N) {
  for (int64_t i = 0; i < M; i++) {
    const float* cr = c + (ci == 1 ? 0 : i * cj);
    float* yr = y + i * N;
    if (cj == 1)
      for (int64_t j = 0; j < N; j++) yr[j] = cr[0];
    else
      memcpy(yr, cr, (size_t)N * sizeof *yr);
  }
}

/* The cache key of a group's inputs; false when oneDNN is not to run them. */
static bool group_key(const cpu_group_t* g, const group_io_t* io, int64_t* key, int* nkey) {
  *nkey = 0;
  key[(*nkey)++] = io->x_cl | io->s_cl << 1;
  key_push(key, nkey, io->x);
  if (g->kind == CPU_KIND_REDUCE) { /* the axes' values */
    const dycl_value_t* w = io->w;
    if (w && (w->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_int(w->dtype) || w->numel > DYCL_MAX_RANK || !w->data))
      return false;
    key[(*nkey)++] = w ? w->numel : -1;
    for (int64_t i = 0; w && i < w->numel; i++) key[(*nkey)++] = dycl_tensor_get_i64(w, i);
  } else {
    key_push(key, nkey, io->w);
  }
  key_push(key, nkey, io->b);
  key_push(key, nkey, io->s);
  return true;
}

/* A stand-in for value id with its inferred type, when that is a float tensor of known shape (its
 * data: the constant's when it is one, else NULL). */
static const dycl_value_t* typed_standin(const dycl_ir_t* ir, int id, dycl_value_t* buf) {
  if (id < 0) return NULL;
  const dycl_ir_value_t* iv = ir->values[id];
  if (iv->def == DYCL_DEF_CONST && iv->constant) return iv->constant;
  const dycl_type_t* t = &iv->type;
  if (!t->known || t->kind != DYCL_VALUE_TENSOR || t->rank < 0) return NULL;
  memset(buf, 0, sizeof *buf);
  buf->kind = DYCL_VALUE_TENSOR;
  buf->dtype = t->dtype;
  buf->rank = t->rank;
  buf->numel = 1;
  for (int d = 0; d < t->rank; d++) {
    if (t->dims[d].v < 0) return NULL;
    buf->dims[d] = t->dims[d].v;
    buf->numel *= t->dims[d].v;
  }
  return buf;
}

dycl_status_t cpu_group_prepare(const dycl_program_t* p, const dycl_subnet_t* sn, cpu_state_t* st, cpu_group_t* g) {
  const dycl_ir_t* ir = p->ir;
  const dycl_node_t* head = sn->nodes[g->head];
  dycl_value_t xb, wb, bb, sb;
  group_io_t io = {typed_standin(ir, head->in[0], &xb), NULL, NULL, NULL, g->x_cl >= 0, g->s_cl >= 0};
  if (!f32_tensor(io.x)) return NULL;
  if (g->kind == CPU_KIND_REDUCE) {
    io.w = head->n_in > 1 ? typed_standin(ir, head->in[1], &wb) : NULL;
    if (head->n_in > 1 && head->in[1] >= 0 && (!io.w || !io.w->data)) return NULL; /* axes known at run time */
  } else if (g->kind != CPU_KIND_POOL) {
    io.w = head->n_in > 1 ? typed_standin(ir, head->in[1], &wb) : NULL;
    io.b = head->n_in > 2 ? typed_standin(ir, head->in[2], &bb) : NULL;
    if (!f32_tensor(io.w) || (head->n_in > 2 && head->in[2] >= 0 && !f32_tensor(io.b))) return NULL;
  }
  if (g->add_operand >= 0) {
    io.s = typed_standin(ir, g->add_operand, &sb);
    if (!f32_tensor(io.s)) return NULL;
  }
  int64_t key[CPU_KEY_MAX];
  int nkey = 0;
  if (!group_key(g, &io, key, &nkey)) return NULL;
  cpu_entry_full_t* e;
  bool transient;
  DYCL_RETURN_IF_ERROR(entry_get(st, g, head, &io, key, nkey, &e, &transient));
  entry_put(st, e, transient);
  return NULL;
}

dycl_status_t cpu_group_run(const dycl_program_t* p, const dycl_subnet_t* sn, cpu_state_t* st, cpu_group_t* g,
                            dycl_value_t** slots, unsigned char* cl, dycl_kctx_t* kctx, cpu_ran_t* ran) {
  *ran = CPU_RAN_NONE;
  const dycl_node_t* head = sn->nodes[g->head];
  group_io_t io = {tensor_or_null(slots, head, 0), NULL, NULL, NULL, false, false};
  io.x_cl = g->x_cl >= 0 && cl[g->x_cl];
  io.s_cl = g->s_cl >= 0 && cl[g->s_cl];
  if (!f32_tensor(io.x)) return NULL;
  if (g->kind == CPU_KIND_REDUCE) {
    io.w = tensor_or_null(slots, head, 1); /* the axes, when an input */
  } else if (g->kind != CPU_KIND_POOL) {
    io.w = tensor_or_null(slots, head, 1);
    io.b = tensor_or_null(slots, head, 2);
    if (!f32_tensor(io.w) || (io.b && !f32_tensor(io.b))) return NULL;
  }
  if (g->add_operand >= 0) {
    io.s = slots[g->add_operand];
    if (!f32_tensor(io.s)) return NULL;
  }
  if (io.x_cl && (g->kind == CPU_KIND_REDUCE || g->kind == CPU_KIND_POOL) && (g->kind != CPU_KIND_POOL || g->global))
    return spatial_reduce_cl(p, st, g, head, &io, slots, kctx, ran);
  /* oneDNN's max and min reductions drop a NaN that ONNX (and the reference kernel) keep */
  if (g->kind == CPU_KIND_REDUCE && (g->reduce_kind == CPU_REDUCE_MAX || g->reduce_kind == CPU_REDUCE_MIN)) return NULL;
  int64_t key[CPU_KEY_MAX];
  int nkey = 0;
  if (!group_key(g, &io, key, &nkey)) return NULL;
  cpu_entry_full_t* e;
  bool transient;
  DYCL_RETURN_IF_ERROR(entry_get(st, g, head, &io, key, nkey, &e, &transient));
  if (!e->e.prim && !e->e.own) {
    entry_put(st, e, transient);
    return NULL;
  }
  const entry_plan_t plan = e->plan, *ep = &plan; /* a copy: e may be evicted after entry_put */
  const dycl_node_t* last = ep->fused ? sn->nodes[g->last] : head;
  dycl_value_t* Y = NULL;
  float* tmp_bias = NULL;
  cpu_buf_t* ws = NULL;
  /* a result planned over the addend (g->inplace): the head alone must not write there, the Add
   * still reads the addend after it; run whole, the result takes the addend's bytes, which then
   * stop counting as live (the memory meter would count them twice) */
  const dycl_allocator_t* place = kctx->alloc;
  if (g->inplace && !ep->fused && kctx->heap) kctx->alloc = kctx->heap;
  if (g->inplace && ep->fused && ep->sum == SRC_ADD && kctx->place && kctx->alloc == &kctx->place->self &&
      dycl_placement_gives(kctx->place, io.s->data))
    dycl_value_unmeter(slots[g->add_operand]);
  /* the product's ArgMax: an index per row, the last dim kept as 1 or dropped */
  bool am = ep->fused && ep->argmax;
  int y_rank = am && !g->am_keep ? ep->out_rank - 1 : ep->out_rank;
  int64_t y_dims[DYCL_MAX_RANK];
  memcpy(y_dims, ep->out_dims, sizeof y_dims);
  if (am && g->am_keep) y_dims[y_rank - 1] = 1;
  dycl_status_t s = dycl_kernel_tensor(kctx, last, am ? DYCL_DTYPE_INT64 : DYCL_DTYPE_FLOAT32, y_rank, y_dims, &Y);
  kctx->alloc = place;
  if (s) goto done;
  int64_t N = ep->out_rank > 0 ? ep->out_dims[ep->out_rank - 1] : 1;
  /* the addend, written into the output before the run */
  const float* sum = NULL;
  if (ep->sum == SRC_ADD) {
    sum = io.s->data;
  } else if (ep->sum == SRC_GEMM_C) {
    sum = Y->data;
    broadcast_rows(io.b->data, ep->rows, ep->cols, Y->data, ep->out_dims[0], N);
  }
  const float* bias = NULL;
  if (ep->bias == SRC_OWN) {
    bias = io.b->data;
  } else if (ep->bias == SRC_ADD) {
    bias = io.s->data;
  } else if (ep->bias == SRC_GEMM_C) {
    if (ep->bias_direct) {
      bias = io.b->data;
    } else {
      tmp_bias = dycl_malloc(kctx->heap ? kctx->heap : kctx->alloc, (size_t)N * sizeof *tmp_bias);
      if (!tmp_bias) {
        s = dycl_error_nomem();
        goto done;
      }
      float beta = (float)dycl_attr_float(head, "beta", 1.0);
      const float* c = io.b->data;
      for (int64_t j = 0; j < N; j++) tmp_bias[j] = beta * c[ep->cols == 1 ? 0 : j];
      bias = tmp_bias;
    }
  }
  const void* wei = e->e.packed ? e->e.packed : (io.w && g->kind != CPU_KIND_REDUCE ? io.w->data : NULL);
  cpu_args_t args = {io.x->data, wei, e->e.packed != NULL, bias, sum, am ? NULL : Y->data};
  if (am) {
    DYCL_GOTO_IF_ERROR(s, ws_take(st, cpu_own_argmax_workspace(e->e.own), &ws), done);
    cpu_own_argmax_run(e->e.own, &args, ws->p, Y->data);
  } else if (e->e.own) {
    cpu_own_run(e->e.own, &args);
  } else {
    DYCL_GOTO_IF_ERROR(s, ws_take(st, cpu_prim_workspace_bytes(e->e.prim), &ws), done);
    s = cpu_prim_exec(st->dnn, e->e.prim, &args, ws->p);
  }
  if (!s && ep->bias_after) add_channel_bias(Y, bias, ep->out_cl);
  if (!s) s = dycl_check_output(p->ir, last, 0, Y);
done:
  ws_give(st, ws);
  dycl_free(kctx->heap ? kctx->heap : kctx->alloc, tmp_bias);
  entry_put(st, e, transient);
  if (s) {
    dycl_value_release(Y);
    return s;
  }
  dycl_value_release(slots[last->out[0]]);
  slots[last->out[0]] = Y;
  *ran = ep->fused || g->n_members == 0 ? CPU_RAN_ALL : CPU_RAN_HEAD;
  if (ep->out_cl) cl[g->y_cl] = 1;
  return NULL;
}

#else
typedef int dycl_cpu_ops_unused_t; /* ISO C forbids an empty translation unit */
#endif
