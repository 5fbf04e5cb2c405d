/* The `cpu` backend's own kernels (see cpu_own.h): which problems they take, their packed
 * weights, and a run split between the threads. The vector code is in cpu_fast_kernels.h. */
#ifdef DYCL_HAVE_ONEDNN

#include <string.h>

#include "backend/cpu/cpu_fast_internal.h"

struct cpu_own {
  const dycl_allocator_t* alloc;
  const fast_kernels_t* kern;
  bool is_conv;
  own_conv_t conv;
  own_mm_t mm;
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

bool cpu_own_mm_suits(const cpu_mm_desc_t* d) {
  if (d->rank != 2) return false;
  int64_t M = d->a_dims[0], K = d->a_dims[1];
  return M >= 1 && M <= CPU_OWN_MM_MAX_M && d->b_dims[1] <= CPU_OWN_MM_MAX_N && d->a_strides[1] == 1 &&
         d->a_strides[0] == K && K >= 1;
}

dycl_status_t cpu_own_mm_create(const cpu_mm_desc_t* d, const cpu_post_t* post, const float* b, int threads,
                                const dycl_allocator_t* alloc, cpu_own_t** out) {
  *out = NULL;
  own_mm_t m;
  memset(&m, 0, sizeof m);
  m.M = d->a_dims[0], m.K = d->a_dims[1], m.N = d->b_dims[1];
  own_post(post, &m.post);
  float* wp = NULL;
  cpu_own_t* o = own_new(alloc, (size_t)(m.N * m.K), &wp);
  if (!o) return dycl_error_nomem();
  int64_t sk = d->b_strides[0], sn = d->b_strides[1]; /* b [K, N] as strided */
  for (int64_t n = 0; n < m.N; n++)
    for (int64_t k = 0; k < m.K; k++) wp[n * m.K + k] = b[k * sk + n * sn];
  m.w = wp;
  o->mm = m;
  o->threads = threads;
  *out = o;
  return NULL;
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

void cpu_own_run(const cpu_own_t* o, const cpu_args_t* a) {
  own_job_t j = {o, a};
  if (o->is_conv) cpu_parallel_for(o->threads, o->conv.N * o->conv.OH, conv_part, &j);
  else cpu_parallel_for(o->threads, o->mm.N, mm_part, &j);
}

#else
typedef int dycl_cpu_own_unused_t; /* ISO C forbids an empty translation unit */
#endif
