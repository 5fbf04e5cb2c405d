/* The `cpu` backend's own kernels (see cpu_own.h): which problems they take, their packed
 * weights, and a run split between the threads. The vector code is in cpu_fast_kernels.h. */
#ifdef DYCL_HAVE_ONEDNN

#include <float.h>
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_fast_internal.h"

struct cpu_own {
  const dycl_allocator_t* alloc;
  const fast_kernels_t* kern;
  bool is_conv, is_pool;
  own_conv_t conv;
  cpu_pool_desc_t pool;
  int64_t* taps[3]; /* a pool's taps per output index of each dim: lo, hi, padded (pool_taps) */
  own_mm_t mm;
  /* an ArgMax's product (cpu_own_argmax_create): the quantized pass, the float weights' strides
   * (b[k * bk + n * bn]), select_last_index */
  bool am_last;
  own_am_t am;
  int64_t bk, bn;
  int threads; /* a run is split between them */
  void* raw; /* the packed weights' allocation (64-byte aligned inside) */
};

static void own_post(const cpu_post_t* post, own_post_t* op) {
  memset(op, 0, sizeof *op);
  op->sum_scale = post->sum ? post->sum_scale : 0.0f;
  op->n_act = post->n_act;
  memcpy(op->act, post->act, sizeof op->act);
}

static cpu_own_t* own_new(const dycl_allocator_t* alloc, size_t floats, float** packed) {
  cpu_own_t* o = dycl_calloc(alloc, 1, sizeof *o);
  if (!o) return NULL;
  o->alloc = alloc;
  o->kern = cpu_fast_kernels();
  if (floats > (SIZE_MAX - 64) / sizeof(float)) {
    dycl_free(alloc, o);
    return NULL;
  }
  o->raw = dycl_calloc(alloc, floats * sizeof(float) + 64, 1);
  if (!o->raw) {
    dycl_free(alloc, o);
    return NULL;
  }
  *packed = (float*)(((uintptr_t)o->raw + 63) & ~(uintptr_t)63);
  return o;
}

void cpu_own_destroy(cpu_own_t* o) {
  if (!o) return;
  dycl_free(o->alloc, o->raw);
  dycl_free(o->alloc, o);
}

/* ------------------------------------------------------------------ convolution */

bool cpu_own_conv_suits(const cpu_conv_desc_t* d, const cpu_post_t* post) {
  if (d->transpose || d->nsp != 2 || d->G != 1 || d->M > CPU_OWN_CONV_MAX_M || !d->src_cl) return false;
  if (post->sum && d->sum_cl != d->dst_cl) return false;
  for (int i = 0; i < 2; i++)
    if (d->s[i] != 1 || d->d[i] != 1) return false;
  /* dot products of at least 16 vectors: on shorter ones the horizontal sums cost as much as the
   * products */
  return d->k[0] * d->k[1] * d->C >= 256;
}

dycl_status_t cpu_own_conv_create(const cpu_conv_desc_t* d, const cpu_post_t* post, const float* w, int threads,
                                  const dycl_allocator_t* alloc, cpu_own_t** out) {
  *out = NULL;
  own_conv_t c;
  memset(&c, 0, sizeof c);
  c.N = d->N, c.C = d->C, c.H = d->in[0], c.W = d->in[1], c.M = d->M;
  c.KH = d->k[0], c.KW = d->k[1], c.OH = d->out[0], c.OW = d->out[1], c.pt = d->pl[0], c.pl = d->pl[1];
  c.lw = (c.KW * c.C + 15) / 16 * 16;
  c.y_cl = d->dst_cl;
  own_post(post, &c.post);
  float* wp = NULL;
  cpu_own_t* o = own_new(alloc, (size_t)(c.M * c.KH * c.lw), &wp);
  if (!o) return dycl_error_nomem();
  /* w [M, C, KH, KW] -> [M][KH][kw * C + c] */
  for (int64_t m = 0; m < c.M; m++)
    for (int64_t ci = 0; ci < c.C; ci++)
      for (int64_t kh = 0; kh < c.KH; kh++)
        for (int64_t kw = 0; kw < c.KW; kw++)
          wp[(m * c.KH + kh) * c.lw + kw * c.C + ci] = w[((m * c.C + ci) * c.KH + kh) * c.KW + kw];
  c.w = wp;
  o->is_conv = true;
  o->conv = c;
  o->threads = threads;
  *out = o;
  return NULL;
}

/* ------------------------------------------------------------------ matrix product */

/* Columns a tile for M rows, narrower (down to two vectors) while the threads would get fewer than
 * two tiles each; *tiles the number of tiles of N columns and *last the last one's width, rounded
 * up to whole vectors (the layout own_mm_tiles and own_am_tiles read). */
static int64_t tile_cols(const fast_kernels_t* kern, int64_t M, int64_t N, int threads, int64_t* tiles,
                         int64_t* last) {
  int64_t vw = kern->width, nc = kern->own_mm_wide_cols(M);
  while (threads > 1 && nc >= 4 * vw && (N + nc - 1) / nc < 2 * threads) nc = nc / vw / 2 * vw;
  *tiles = (N + nc - 1) / nc;
  *last = ((N - (*tiles - 1) * nc) + vw - 1) / vw * vw;
  return nc;
}

bool cpu_own_mm_suits(const cpu_mm_desc_t* d) {
  if (d->rank != 2) return false;
  int64_t M = d->a_dims[0], K = d->a_dims[1];
  return M >= 1 && (M <= CPU_OWN_MM_MAX_M || d->b_dims[1] <= CPU_OWN_MM_FEW_N) && d->a_strides[1] == 1 &&
         d->a_strides[0] == K && K >= 1;
}

dycl_status_t cpu_own_mm_create(const cpu_mm_desc_t* d, const cpu_post_t* post, const float* b, int threads,
                                const dycl_allocator_t* alloc, cpu_own_t** out) {
  *out = NULL;
  own_mm_t m;
  memset(&m, 0, sizeof m);
  m.M = d->a_dims[0], m.K = d->a_dims[1], m.N = d->b_dims[1];
  own_post(post, &m.post);
  int64_t tiles = 0, last = 0;
  if (m.N > CPU_OWN_MM_MAX_N) /* wide: tiles as wide as the registers allow (see tile_cols) */
    m.nc = tile_cols(cpu_fast_kernels(), m.M, m.N, threads, &tiles, &last);
  size_t floats = m.nc ? (size_t)((tiles - 1) * m.nc + last) * (size_t)m.K : (size_t)(m.N * m.K);
  float* wp = NULL;
  cpu_own_t* o = own_new(alloc, floats, &wp);
  if (!o) return dycl_error_nomem();
  int64_t sk = d->b_strides[0], sn = d->b_strides[1]; /* b [K, N] as strided */
  if (m.nc)
    for (int64_t t = 0; t < tiles; t++) {
      int64_t n0 = t * m.nc, w = t < tiles - 1 ? m.nc : last;
      float* tp = wp + n0 * m.K;
      for (int64_t k = 0; k < m.K; k++)
        for (int64_t j = 0; j < w && n0 + j < m.N; j++) tp[k * w + j] = b[k * sk + (n0 + j) * sn]; /* the rest 0 */
    }
  else
    for (int64_t n = 0; n < m.N; n++)
      for (int64_t k = 0; k < m.K; k++) wp[n * m.K + k] = b[k * sk + n * sn];
  m.w = wp;
  o->mm = m;
  o->threads = threads;
  *out = o;
  return NULL;
}

/* ------------------------------------------------------------------ ArgMax of a product */

bool cpu_own_argmax_suits(int64_t M, int64_t K, int64_t N) {
  return M >= 1 && M <= CPU_OWN_MM_MAX_M && K >= 1 && K <= CPU_OWN_AM_MAX_K && N >= 1 &&
         (double)K * (double)N >= CPU_OWN_AM_MIN_WEIGHTS;
}

/* The quantization of column n: scale s = max |w| / 127 and q = round(w / s) in [-127, 127], so
 * that each weight lies within r = max |w - s q| of s q (r <= s / 2, computed exactly in double).
 * The approximate product sum x[k] s q[k] then lies within x1 r of the exact sum x[k] w[k]
 * (x1 = sum |x[k]|), and its float evaluation (K products and sums of terms |x[k] q[k]| <= 127 |x[k]|,
 * each rounded by at most 2^-24 relative) within s 127 x1 K 2^-24 / (1 - K 2^-24) of it, less than
 * s 127 x1 (K + 4) 2^-23 while K 2^-24 <= 1/4 (CPU_OWN_AM_MAX_K). err[n] holds both, rounded up;
 * the scaling by s, the bias and the addend round by 2^-24 of their magnitudes each, which the
 * kernel's (|terms|) 2^-20 covers, and products flushed to zero (a denormal mode) lose less than
 * K 2^-126 each before the scaling, which tiny * s covers. */
/* q = x / s rounded (1 / s given; q need not be the nearest integer, the deviation is measured
 * from the q stored), within [-127, 127]; returns |x - s q|, exactly. */
static double quantize(float x, float sc, double inv, int8_t* q) {
  double y = (double)x * inv;
  long qi = (long)(y + (y >= 0.0 ? 0.5 : -0.5));
  qi = qi > 127 ? 127 : qi < -127 ? -127 : qi;
  *q = (int8_t)qi;
  return fabs((double)x - (double)sc * (double)qi);
}

dycl_status_t cpu_own_argmax_create(const cpu_mm_desc_t* d, const cpu_post_t* post, const float* b, bool last,
                                    int threads, const dycl_allocator_t* alloc, cpu_own_t** out) {
  *out = NULL;
  if (d->rank != 2 || d->a_strides[1] != 1 || d->a_strides[0] != d->a_dims[1] || post->n_act > 0) return NULL;
  own_am_t am;
  memset(&am, 0, sizeof am);
  am.M = d->a_dims[0], am.K = d->a_dims[1], am.N = d->b_dims[1];
  if (!cpu_own_argmax_suits(am.M, am.K, am.N)) return NULL;
  int64_t sk = d->b_strides[0], sn = d->b_strides[1];
  int64_t tiles, lastw;
  am.nc = tile_cols(cpu_fast_kernels(), am.M, am.N, threads, &tiles, &lastw);
  size_t qfloats = ((size_t)((tiles - 1) * am.nc + lastw) * (size_t)am.K + 63) / 64 * 16;
  float* base = NULL;
  /* the int8 tiles, scale [N] and err [N]; col: max |w| and r per column while they are made */
  cpu_own_t* o = own_new(alloc, qfloats + 2 * (size_t)am.N, &base);
  double* col = dycl_calloc(alloc, 2 * (size_t)am.N + 1, sizeof *col);
  if (!o || !col) {
    cpu_own_destroy(o);
    dycl_free(alloc, col);
    return dycl_error_nomem();
  }
  int8_t* q = (int8_t*)base; /* zeros past the last column: own_new clears */
  float* scale = base + qfloats;
  float* err = scale + am.N;
  double *maxa = col, *r = col + am.N;
  /* tile by tile, each pass walking b in its memory order: along n for [K, N] weights (sn <= sk),
   * down a column for [N, K], with the column's figures in registers */
  bool n_inner = sn <= sk;
  bool finite = true;
  for (int64_t t = 0; t < tiles; t++) {
    int64_t n0 = t * am.nc, cols = am.N - n0 < am.nc ? am.N - n0 : am.nc;
    const float* bt = b + n0 * sn;
    if (n_inner) {
      for (int64_t k = 0; k < am.K; k++)
        for (int64_t j = 0; j < cols; j++) {
          double a = fabs((double)bt[k * sk + j * sn]);
          finite &= a <= FLT_MAX; /* no bound holds for a weight that is not finite (NaN fails too) */
          maxa[n0 + j] = a > maxa[n0 + j] ? a : maxa[n0 + j];
        }
    } else {
      for (int64_t j = 0; j < cols; j++) {
        double m = 0.0;
        for (int64_t k = 0; k < am.K; k++) {
          double a = fabs((double)bt[k * sk + j * sn]);
          finite &= a <= FLT_MAX;
          m = a > m ? a : m;
        }
        maxa[n0 + j] = m;
      }
    }
  }
  double* inv = maxa; /* once the scales are made, maxa's slots hold 1 / s */
  for (int64_t n = 0; n < am.N && finite; n++) {
    scale[n] = (float)maxa[n] / 127.0f;
    inv[n] = scale[n] > 0.0f ? 1.0 / scale[n] : 0.0;
  }
  for (int64_t t = 0; t < tiles && finite; t++) {
    int64_t n0 = t * am.nc, cols = am.N - n0 < am.nc ? am.N - n0 : am.nc, w = t < tiles - 1 ? am.nc : lastw;
    const float* bt = b + n0 * sn;
    int8_t* tq = q + n0 * am.K;
    if (n_inner) {
      for (int64_t k = 0; k < am.K; k++)
        for (int64_t j = 0; j < cols; j++) {
          double dev = quantize(bt[k * sk + j * sn], scale[n0 + j], inv[n0 + j], &tq[k * w + j]);
          r[n0 + j] = dev > r[n0 + j] ? dev : r[n0 + j];
        }
    } else {
      for (int64_t j = 0; j < cols; j++) {
        double rr = 0.0;
        for (int64_t k = 0; k < am.K; k++) {
          double dev = quantize(bt[k * sk + j * sn], scale[n0 + j], inv[n0 + j], &tq[k * w + j]);
          rr = dev > rr ? dev : rr;
        }
        r[n0 + j] = rr;
      }
    }
  }
  for (int64_t n = 0; n < am.N && finite; n++) {
    double e = (r[n] + (double)scale[n] * 127.0 * ((double)am.K + 4.0) * 0x1p-23) * (1.0 + 0x1p-20);
    err[n] = nextafterf((float)e, INFINITY);
  }
  dycl_free(alloc, col);
  if (!finite) {
    cpu_own_destroy(o);
    return NULL;
  }
  am.w = q;
  am.scale = scale;
  am.err = err;
  am.sum_scale = post->sum ? post->sum_scale : 0.0f;
  am.tiny = (float)(((double)am.K + 4.0) * 0x1p-125);
  o->am_last = last;
  o->am = am;
  o->bk = sk, o->bn = sn;
  o->threads = threads;
  *out = o;
  return NULL;
}

/* The workspace: hi [M, N], then tlo and thi [tiles, M]. */
static size_t am_hi_floats(const own_am_t* am) { return ((size_t)(am->M * am->N) + 15) / 16 * 16; }

size_t cpu_own_argmax_workspace(const cpu_own_t* o) {
  const own_am_t* am = &o->am;
  size_t tiles = (size_t)((am->N + am->nc - 1) / am->nc);
  return (am_hi_floats(am) + 2 * tiles * (size_t)am->M) * sizeof(float);
}

typedef struct am_job {
  const cpu_own_t* o;
  const cpu_args_t* a;
  const float* x1;
  float *hi, *tlo, *thi;
} am_job_t;

static void am_part(void* ctx, int64_t b, int64_t e) {
  const am_job_t* j = ctx;
  j->o->kern->own_am_tiles(&j->o->am, j->a->src, j->x1, j->a->bias, j->a->sum, j->hi, j->tlo, j->thi, b, e);
}

/* Column n of row i, exactly (double precision sums of the float operands). */
static double am_exact(const cpu_own_t* o, const cpu_args_t* a, int64_t i, int64_t n) {
  const own_am_t* am = &o->am;
  const float* x = a->src + i * am->K;
  const float* w = (const float*)a->weights + n * o->bn;
  double s[4] = {0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 4 <= am->K; k += 4)
    for (int u = 0; u < 4; u++) s[u] += (double)x[k + u] * (double)w[(k + u) * o->bk];
  for (; k < am->K; k++) s[0] += (double)x[k] * (double)w[k * o->bk];
  double v = (s[0] + s[1]) + (s[2] + s[3]);
  if (a->bias) v += a->bias[n];
  if (a->sum) v += (double)am->sum_scale * a->sum[i * am->N + n];
  return v;
}

void cpu_own_argmax_run(const cpu_own_t* o, const cpu_args_t* a, void* ws, int64_t* y) {
  const own_am_t* am = &o->am;
  int64_t M = am->M, N = am->N, nc = am->nc, tiles = (N + nc - 1) / nc;
  float* hi = ws;
  float* tlo = hi + am_hi_floats(am);
  float* thi = tlo + tiles * M;
  float x1[CPU_OWN_MM_MAX_M];
  for (int64_t i = 0; i < M; i++) {
    double s = 0.0;
    for (int64_t k = 0; k < am->K; k++) s += fabs((double)a->src[i * am->K + k]);
    x1[i] = (float)(s * (1.0 + 0x1p-20)); /* NaN or too large: no bound, the row is computed whole */
  }
  am_job_t job = {o, a, x1, hi, tlo, thi};
  cpu_parallel_for(o->threads, tiles, am_part, &job);
  for (int64_t i = 0; i < M; i++) {
    float lo = -INFINITY;
    bool whole = !isfinite(x1[i]);
    for (int64_t t = 0; t < tiles && !whole; t++) {
      whole = isnan(thi[t * M + i]);
      lo = tlo[t * M + i] > lo ? tlo[t * M + i] : lo;
    }
    float* row = hi + i * N;
    if (whole) {
      for (int64_t n = 0; n < N; n++) row[n] = (float)am_exact(o, a, i, n);
      o->kern->argext_rows(row, 1, N, true, o->am_last, &y[i]);
      continue;
    }
    /* only a column whose a + E reaches the largest a - E can hold the maximum */
    int64_t best = -1;
    double bv = 0.0;
    for (int64_t t = 0; t < tiles; t++) {
      if (!(thi[t * M + i] >= lo)) continue;
      int64_t n1 = (t + 1) * nc < N ? (t + 1) * nc : N;
      for (int64_t n = t * nc; n < n1; n++) {
        if (!(row[n] >= lo)) continue;
        double v = am_exact(o, a, i, n);
        if (best < 0 || v > bv || (o->am_last && v == bv)) best = n, bv = v;
      }
    }
    y[i] = best;
  }
}

/* ------------------------------------------------------------------ pool */

/* The taps of dim i of a pool's window at output index o: kernel indices [lo, hi) inside the input
 * (with a dilation, only those that land on it), and how many lie inside the padded input. */
static void pool_taps(const cpu_pool_desc_t* p, int i, int64_t o, int64_t* lo, int64_t* hi, int64_t* padded) {
  int64_t start = o * p->s[i] - p->pl[i], d = p->d[i], n = 0;
  *lo = p->k[i];
  *hi = 0;
  for (int64_t k = 0; k < p->k[i]; k++) {
    int64_t at = start + k * d;
    if (at < -p->pl[i] || at >= p->in[i] + p->pr[i]) continue;
    n++;
    if (at < 0 || at >= p->in[i]) continue;
    if (k < *lo) *lo = k;
    *hi = k + 1;
  }
  if (*hi <= *lo) *lo = *hi = 0;
  *padded = n;
}

dycl_status_t cpu_own_pool_create(const cpu_pool_desc_t* d, const dycl_allocator_t* alloc, cpu_own_t** out) {
  *out = NULL;
  if (d->nsp < 1 || d->nsp > 3) return NULL;
  cpu_own_t* o = dycl_calloc(alloc, 1, sizeof *o);
  if (!o) return dycl_error_nomem();
  o->alloc = alloc;
  o->kern = cpu_fast_kernels();
  o->is_pool = true;
  o->threads = 1;
  /* as three spatial dims, the missing leading ones of extent 1 */
  cpu_pool_desc_t p = *d;
  int lead = 3 - d->nsp;
  for (int i = 2; i >= 0; i--) {
    int j = i - lead;
    p.in[i] = j >= 0 ? d->in[j] : 1;
    p.out[i] = j >= 0 ? d->out[j] : 1;
    p.k[i] = j >= 0 ? d->k[j] : 1;
    p.s[i] = j >= 0 ? d->s[j] : 1;
    p.d[i] = j >= 0 ? d->d[j] : 1;
    p.pl[i] = j >= 0 ? d->pl[j] : 0;
    p.pr[i] = j >= 0 ? d->pr[j] : 0;
  }
  p.nsp = 3;
  o->pool = p;
  size_t n = 0;
  for (int i = 0; i < 3; i++) n += 3 * (size_t)p.out[i];
  o->raw = dycl_calloc(alloc, n + 1, sizeof(int64_t));
  if (!o->raw) {
    dycl_free(alloc, o);
    return dycl_error_nomem();
  }
  int64_t* t = o->raw;
  for (int i = 0; i < 3; i++) {
    o->taps[i] = t;
    for (int64_t j = 0; j < p.out[i]; j++) pool_taps(&p, i, j, &t[3 * j], &t[3 * j + 1], &t[3 * j + 2]);
    t += 3 * p.out[i];
  }
  *out = o;
  return NULL;
}

/* A windowed pool, as the reference kernel computes it (in float): the maximum starts from the
 * window's first tap inside the input (so a NaN there stays), the average divides by the taps
 * inside the input, or with count_include_pad by those inside the padded input too. The taps
 * inside the input are a box of kernel indices per output position (a dilated window lands on the
 * input at every step inside it), found for each output index of each dim when the pool is made. */
static void pool_run(const cpu_own_t* o, const float* x, float* y) {
  const cpu_pool_desc_t* p = &o->pool;
  int64_t S = p->in[0] * p->in[1] * p->in[2], OS = p->out[0] * p->out[1] * p->out[2], C = p->C;
  bool max = p->kind == CPU_POOL_MAX, pad = p->kind == CPU_POOL_AVG_INCLUDE;
  int64_t xs = p->src_cl ? C : 1, ys = p->dst_cl ? C : 1;
  int64_t s1 = p->in[2] * xs, s0 = p->in[1] * s1; /* strides of the spatial dims in x */
  for (int64_t o0 = 0; o0 < p->out[0]; o0++) {
    const int64_t* t0 = o->taps[0] + 3 * o0;
    int64_t a0 = t0[0], b0 = t0[1], n0 = t0[2];
    for (int64_t o1 = 0; o1 < p->out[1]; o1++) {
      const int64_t* t1 = o->taps[1] + 3 * o1;
      int64_t a1 = t1[0], b1 = t1[1], n1 = t1[2];
      for (int64_t o2 = 0; o2 < p->out[2]; o2++) {
        const int64_t* t2 = o->taps[2] + 3 * o2;
        int64_t a2 = t2[0], b2 = t2[1], n2 = t2[2];
        int64_t inside = (b0 - a0) * (b1 - a1) * (b2 - a2), count = pad ? n0 * n1 * n2 : inside;
        int64_t first = (o0 * p->s[0] - p->pl[0] + a0 * p->d[0]) * s0 + (o1 * p->s[1] - p->pl[1] + a1 * p->d[1]) * s1 +
                        (o2 * p->s[2] - p->pl[2] + a2 * p->d[2]) * xs;
        int64_t d0 = p->d[0] * s0, d1 = p->d[1] * s1, d2 = p->d[2] * xs;
        int64_t yo = ((o0 * p->out[1] + o1) * p->out[2] + o2) * ys;
        for (int64_t n = 0; n < p->N; n++)
          for (int64_t c = 0; c < C; c++) {
            /* no tap inside the input: `first` may lie outside it, and nothing is read */
            const float* xb = inside ? x + (p->src_cl ? n * S * C + c : (n * C + c) * S) + first : NULL;
            float acc = max ? (inside ? xb[0] : -INFINITY) : 0.0f;
            for (int64_t k0 = 0; k0 < b0 - a0; k0++)
              for (int64_t k1 = 0; k1 < b1 - a1; k1++) {
                const float* r = xb + k0 * d0 + k1 * d1;
                if (max)
                  for (int64_t k2 = 0; k2 < b2 - a2; k2++) acc = r[k2 * d2] > acc ? r[k2 * d2] : acc;
                else
                  for (int64_t k2 = 0; k2 < b2 - a2; k2++) acc += r[k2 * d2];
              }
            if (!max) acc = count ? acc / (float)count : 0.0f;
            y[(p->dst_cl ? n * OS * C + c : (n * C + c) * OS) + yo] = acc;
          }
      }
    }
  }
}

/* ------------------------------------------------------------------ running */

typedef struct own_job {
  const cpu_own_t* o;
  const cpu_args_t* a;
} own_job_t;

static void conv_part(void* ctx, int64_t b, int64_t e) {
  const own_job_t* j = ctx;
  j->o->kern->own_conv_rows(&j->o->conv, j->a->src, j->a->bias, j->a->sum, j->a->dst, b, e);
}

static void mm_part(void* ctx, int64_t b, int64_t e) {
  const own_job_t* j = ctx;
  j->o->kern->own_mm_cols(&j->o->mm, j->a->src, j->a->bias, j->a->sum, j->a->dst, b, e);
}

/* Blocks [b, e) of CPU_OWN_MM_MAX_M rows of a product of more rows (few columns). */
static void mm_rows_part(void* ctx, int64_t b, int64_t e) {
  const own_job_t* j = ctx;
  const own_mm_t* mm = &j->o->mm;
  for (int64_t blk = b; blk < e; blk++) {
    int64_t r0 = blk * CPU_OWN_MM_MAX_M;
    own_mm_t part = *mm;
    part.M = mm->M - r0 < CPU_OWN_MM_MAX_M ? mm->M - r0 : CPU_OWN_MM_MAX_M;
    const float* sum = j->a->sum ? j->a->sum + r0 * mm->N : NULL;
    j->o->kern->own_mm_cols(&part, j->a->src + r0 * mm->K, j->a->bias, sum, j->a->dst + r0 * mm->N, 0, mm->N);
  }
}

static void mm_tiles_part(void* ctx, int64_t b, int64_t e) {
  const own_job_t* j = ctx;
  j->o->kern->own_mm_tiles(&j->o->mm, j->a->src, j->a->bias, j->a->sum, j->a->dst, b, e);
}

void cpu_own_run(const cpu_own_t* o, const cpu_args_t* a) {
  own_job_t j = {o, a};
  if (o->is_pool) {
    pool_run(o, a->src, a->dst);
    return;
  }
  if (o->is_conv) cpu_parallel_for(o->threads, o->conv.N * o->conv.OH, conv_part, &j);
  else if (o->mm.nc) cpu_parallel_for(o->threads, (o->mm.N + o->mm.nc - 1) / o->mm.nc, mm_tiles_part, &j);
  else if (o->mm.M > CPU_OWN_MM_MAX_M)
    cpu_parallel_for(o->threads, (o->mm.M + CPU_OWN_MM_MAX_M - 1) / CPU_OWN_MM_MAX_M, mm_rows_part, &j);
  else cpu_parallel_for(o->threads, o->mm.N, mm_part, &j);
}

#else
typedef int dycl_cpu_own_unused_t; /* ISO C forbids an empty translation unit */
#endif
