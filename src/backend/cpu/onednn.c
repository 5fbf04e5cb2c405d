/* oneDNN 2.x glue (the C API of dnnl.h): the only file of dycl that calls oneDNN. See onednn.h. */
#ifdef DYCL_HAVE_ONEDNN

#include "backend/cpu/onednn.h"

#include "backend/cpu/cpu_fast.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#if DNNL_VERSION_MAJOR != 2
#error "the cpu backend's oneDNN glue is written for the oneDNN 2 C API"
#endif

struct cpu_dnn {
  dnnl_engine_t engine;
  int threads;
  const dycl_allocator_t* alloc; /* every buffer of this file's own (not oneDNN's internal ones) */
  cpu_transpose_fn transpose;    /* small changes between plain and channels-last (relayout_t) */
};

/* A change of an activation between plain and channels-last done with dycl's transpose on the
 * calling thread instead of a oneDNN reorder: n images of [rows, cols] to [cols, rows]. oneDNN's
 * reorder kernel for it is a slow generic one (RANet's 1x100x16x16: 11-15 us against 5 us), and
 * runs on the whole team. n 0: not one. */
typedef struct relayout {
  int64_t n, rows, cols;
} relayout_t;

struct cpu_prim {
  const dycl_allocator_t* alloc; /* the engine's: this struct and its execution contexts */
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  /* the layouts the caller passes (plain, strided or channels-last) */
  dnnl_memory_desc_t src_user, wei_user, bias_md, dst_user, sum_user;
  /* the layouts the primitive runs on */
  dnnl_memory_desc_t src_md, wei_md, dst_md;
  bool has_wei, has_bias;
  bool wei_any;  /* the weights come packed (cpu_wcache_get), in a layout oneDNN chose */
  bool wei_pack; /* ... and that layout is not the plain one */
  /* reorders between them (NULL when the layouts are equal) */
  dnnl_primitive_t src_reorder, wei_reorder, dst_reorder, sum_reorder;
  relayout_t src_tr, dst_tr, sum_tr; /* ... or those done by transposing */
  bool sum; /* a sum post-op: cpu_args_t.sum is added */
  size_t scratch_bytes, src_bytes, wei_bytes, dst_bytes;
  size_t ws_bytes; /* the workspace of one execution: scratchpad and reorder buffers */
  int nthr;        /* OpenMP threads it was created for (and runs on) */
  int rnthr;       /* ... and those its oneDNN activation reorders run on */
  /* execution contexts not in use (one per concurrent execution at most) */
  pthread_mutex_t lock;
  struct exec_ctx* free_ctx;
};

/* What one execution needs besides buffers: a stream and memory objects whose data handles are
 * set per call. Kept with the primitive and reused (creating them costs more than running a
 * small primitive). */
typedef struct exec_ctx {
  const dycl_allocator_t* alloc;
  struct exec_ctx* next;
  dnnl_stream_t stream;
  dnnl_memory_t src_user, src, wei_user, wei, bias, dst, dst_user, sum_user, scratch;
} exec_ctx_t;

typedef struct wc_entry {
  dnnl_memory_desc_t md;
  void* raw;
  void* buf;
  struct wc_entry* next;
} wc_entry_t;

struct cpu_wcache {
  const dycl_allocator_t* alloc; /* the engine's */
  wc_entry_t* head;
};

/* ------------------------------------------------------------------ helpers */

static dycl_status_t dnn_error(dnnl_status_t st, const char* what) {
  if (st == dnnl_out_of_memory) return dycl_error_nomem();
  return dycl_error(DYCL_CODE_INTERNAL, "oneDNN: %s failed (%s)", what, dnnl_status2str(st));
}

#define DNN_TRY(expr, what)                                       \
  do {                                                            \
    dnnl_status_t dnn_st_ = (expr);                               \
    if (dnn_st_ != dnnl_success) return dnn_error(dnn_st_, what); \
  } while (0)

/* A 64-byte aligned buffer of `n` bytes; *raw is what to free. */
static void* alloc_aligned(const dycl_allocator_t* alloc, size_t n, void** raw) {
  *raw = NULL;
  if (n == 0) return NULL;
  if (n > SIZE_MAX - 64) return NULL;
  void* p = dycl_malloc(alloc, n + 64);
  if (!p) return NULL;
  *raw = p;
  return (void*)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* A zeroed primitive made through the engine's allocator (memory oneDNN allocates inside the
 * primitive descriptors, primitives, streams and memory objects made below is oneDNN's own and out
 * of the allocator's reach). */
static cpu_prim_t* prim_new(cpu_dnn_t* dnn) {
  cpu_prim_t* p = dycl_calloc(dnn->alloc, 1, sizeof *p);
  if (p) p->alloc = dnn->alloc;
  return p;
}

static void prim_free(cpu_prim_t* p) {
  if (p) dycl_free(p->alloc, p);
}

static void plain_md(dnnl_memory_desc_t* md, int ndims, const int64_t* dims) {
  dnnl_dims_t d, s;
  int64_t st = 1;
  for (int i = ndims - 1; i >= 0; i--) {
    d[i] = dims[i];
    s[i] = st;
    st *= dims[i] > 0 ? dims[i] : 1;
  }
  dnnl_memory_desc_init_by_strides(md, ndims, d, dnnl_f32, s);
}

/* A channels-last layout of [N, C, spatial...] (nwc, nhwc, ndhwc). */
static void cl_md(dnnl_memory_desc_t* md, int ndims, const int64_t* dims) {
  dnnl_dims_t d, s;
  int64_t C = dims[1] > 0 ? dims[1] : 1, st = C;
  for (int i = 0; i < ndims; i++) d[i] = dims[i];
  s[1] = 1;
  for (int i = ndims - 1; i >= 2; i--) {
    s[i] = st;
    st *= dims[i] > 0 ? dims[i] : 1;
  }
  s[0] = st;
  dnnl_memory_desc_init_by_strides(md, ndims, d, dnnl_f32, s);
}

static void act_md(dnnl_memory_desc_t* md, int ndims, const int64_t* dims, bool channels_last) {
  if (channels_last && ndims >= 3)
    cl_md(md, ndims, dims);
  else
    plain_md(md, ndims, dims);
}

static dnnl_status_t strided_md(dnnl_memory_desc_t* md, int ndims, const int64_t* dims, const int64_t* strides) {
  dnnl_dims_t d, s;
  for (int i = 0; i < ndims; i++) {
    d[i] = dims[i];
    s[i] = strides[i];
  }
  return dnnl_memory_desc_init_by_strides(md, ndims, d, dnnl_f32, s);
}

static dnnl_status_t any_md(dnnl_memory_desc_t* md, int ndims, const int64_t* dims) {
  dnnl_dims_t d;
  for (int i = 0; i < ndims; i++) d[i] = dims[i];
  return dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, dnnl_format_tag_any);
}

static dnnl_alg_kind_t act_alg(cpu_act_kind_t k) {
  switch (k) {
    case CPU_ACT_RELU: return dnnl_eltwise_relu;
    case CPU_ACT_CLIP: return dnnl_eltwise_clip;
    case CPU_ACT_SIGMOID: return dnnl_eltwise_logistic;
    case CPU_ACT_TANH: return dnnl_eltwise_tanh;
    case CPU_ACT_ELU: return dnnl_eltwise_elu;
    case CPU_ACT_HARDSWISH: return dnnl_eltwise_hardswish;
  }
  return dnnl_eltwise_relu;
}

/* Attributes: user scratchpad, and the post-ops. */
static dycl_status_t make_attr(const cpu_post_t* post, dnnl_primitive_attr_t* out) {
  *out = NULL;
  dnnl_primitive_attr_t attr;
  DNN_TRY(dnnl_primitive_attr_create(&attr), "creating attributes");
  dnnl_status_t st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (st == dnnl_success && post && (post->sum || post->n_act > 0)) {
    dnnl_post_ops_t po;
    st = dnnl_post_ops_create(&po);
    if (st == dnnl_success) {
      if (post->sum) st = dnnl_post_ops_append_sum(po, post->sum_scale);
      for (int i = 0; st == dnnl_success && i < post->n_act; i++)
        st = dnnl_post_ops_append_eltwise(po, 1.0f, act_alg(post->act[i].kind), post->act[i].alpha, post->act[i].beta);
      if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(attr, po);
      dnnl_post_ops_destroy(po);
    }
  }
  if (st != dnnl_success) {
    dnnl_primitive_attr_destroy(attr);
    return dnn_error(st, "setting attributes");
  }
  *out = attr;
  return NULL;
}

/* Sets the calling thread's OpenMP thread count for oneDNN; returns the previous one, which
 * threads_pop restores (dycl leaves the caller's OpenMP settings as they were). */
static int threads_push(int n) {
  int prev = omp_get_max_threads();
  if (n > 0 && n != prev) omp_set_num_threads(n);
  return prev;
}

static void threads_pop(int n, int prev) {
  if (n > 0 && n != prev) omp_set_num_threads(prev);
}

static dycl_status_t make_reorder(cpu_dnn_t* dnn, const dnnl_memory_desc_t* from, const dnnl_memory_desc_t* to,
                                  dnnl_primitive_t* out) {
  *out = NULL;
  if (dnnl_memory_desc_equal(from, to)) return NULL;
  dnnl_primitive_desc_t rpd;
  DNN_TRY(dnnl_reorder_primitive_desc_create(&rpd, from, dnn->engine, to, dnn->engine, NULL), "creating a reorder");
  dnnl_status_t st = dnnl_primitive_create(out, rpd);
  dnnl_primitive_desc_destroy(rpd);
  if (st != dnnl_success) {
    *out = NULL;
    return dnn_error(st, "creating a reorder");
  }
  return NULL;
}

/* Activations of fewer bytes are reordered on one thread (a team's start and join cost more than
 * the copy: 16% of RANet's run, whose activations are 8-112 KiB) */
#define DNN_SERIAL_REORDER_BYTES (512u << 10)

static size_t activation_bytes(const cpu_prim_t* p) {
  size_t a = dnnl_memory_desc_get_size(&p->src_user), b = dnnl_memory_desc_get_size(&p->dst_user);
  return a > b ? a : b;
}

/* Whether from -> to is a small float32 change between plain and channels-last of the same
 * dims, done by transposing (*t set), rather than by a oneDNN reorder. */
static bool as_transpose(const cpu_dnn_t* dnn, const dnnl_memory_desc_t* from, const dnnl_memory_desc_t* to,
                         relayout_t* t) {
  memset(t, 0, sizeof *t);
  int nd = from->ndims;
  if (!dnn->transpose || nd < 3 || nd > 5 || to->ndims != nd || from->data_type != dnnl_f32 ||
      to->data_type != dnnl_f32 || dnnl_memory_desc_get_size(from) >= DNN_SERIAL_REORDER_BYTES)
    return false;
  int64_t dims[5], S = 1;
  for (int i = 0; i < nd; i++) {
    if (from->dims[i] != to->dims[i] || from->dims[i] <= 0) return false;
    dims[i] = from->dims[i];
    if (i >= 2) S *= dims[i];
  }
  dnnl_memory_desc_t plain, cl;
  plain_md(&plain, nd, dims);
  cl_md(&cl, nd, dims);
  if (dnnl_memory_desc_equal(from, &plain) && dnnl_memory_desc_equal(to, &cl))
    *t = (relayout_t){dims[0], dims[1], S};
  else if (dnnl_memory_desc_equal(from, &cl) && dnnl_memory_desc_equal(to, &plain))
    *t = (relayout_t){dims[0], S, dims[1]};
  return t->n > 0;
}

/* The reorder from -> to: none when they are equal, a transpose (*t) when as_transpose takes it,
 * else a oneDNN reorder (*out). */
static dycl_status_t make_relayout(cpu_dnn_t* dnn, const dnnl_memory_desc_t* from, const dnnl_memory_desc_t* to,
                                   dnnl_primitive_t* out, relayout_t* t) {
  *out = NULL;
  if (as_transpose(dnn, from, to, t)) return NULL;
  return make_reorder(dnn, from, to, out);
}

static void transpose_run(const cpu_dnn_t* dnn, const relayout_t* t, const void* src, void* dst) {
  size_t image = (size_t)(t->rows * t->cols);
  for (int64_t i = 0; i < t->n; i++) dnn->transpose((const float*)src + i * image, (float*)dst + i * image, t->rows, t->cols, t->rows);
}

/* Finishes a primitive from its op descriptor: creates the primitive descriptor (NULL result
 * when unimplemented), the primitive and the reorders between user and primitive layouts. */
static dycl_status_t finish_prim(cpu_dnn_t* dnn, const_dnnl_op_desc_t op, const cpu_post_t* post, int threads,
                                 cpu_prim_t* p, cpu_prim_t** out) {
  dnnl_primitive_attr_t attr;
  dycl_status_t s = make_attr(post, &attr);
  if (s) {
    prim_free(p);
    return s;
  }
  /* oneDNN sizes a primitive's buffers for the threads it will run on: the same at creation and
   * at every execution */
  p->nthr = threads > 0 ? threads : dnn->threads > 0 ? dnn->threads : omp_get_max_threads();
  int prev = threads_push(p->nthr);
  /* oneDNN allocates the descriptor, the primitive and its reorders itself (not through dycl's
   * allocator); the per-execution buffers come from the caller's workspace */
  dnnl_status_t st = dnnl_primitive_desc_create(&p->pd, op, attr, dnn->engine, NULL);
  dnnl_primitive_attr_destroy(attr);
  if (st != dnnl_success) {
    threads_pop(p->nthr, prev);
    prim_free(p);
    if (st == dnnl_out_of_memory) return dycl_error_nomem();
    return NULL; /* unimplemented or rejected: the caller falls back */
  }
  /* oneDNN's generic reference implementations are much slower than dycl's own */
  const char* impl = NULL;
  if (dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl &&
      strncmp(impl, "ref", 3) == 0) {
    threads_pop(p->nthr, prev);
    dnnl_primitive_desc_destroy(p->pd);
    prim_free(p);
    return NULL;
  }
  p->src_md = *dnnl_primitive_desc_query_md(p->pd, dnnl_query_src_md, 0);
  p->dst_md = *dnnl_primitive_desc_query_md(p->pd, dnnl_query_dst_md, 0);
  if (p->has_wei) p->wei_md = *dnnl_primitive_desc_query_md(p->pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t* sp = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
  p->scratch_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
  p->src_bytes = dnnl_memory_desc_get_size(&p->src_md);
  p->dst_bytes = dnnl_memory_desc_get_size(&p->dst_md);
  p->wei_bytes = p->has_wei ? dnnl_memory_desc_get_size(&p->wei_md) : 0;
  p->sum = post && post->sum;
  p->ws_bytes = align64(p->scratch_bytes) + align64(p->src_bytes) + align64(p->dst_bytes) + align64(p->wei_bytes);
  if (pthread_mutex_init(&p->lock, NULL) != 0) {
    threads_pop(p->nthr, prev);
    dnnl_primitive_desc_destroy(p->pd);
    prim_free(p);
    return dycl_error(DYCL_CODE_INTERNAL, "cannot create a mutex");
  }
  st = dnnl_primitive_create(&p->prim, p->pd);
  if (st != dnnl_success) {
    threads_pop(p->nthr, prev);
    p->prim = NULL;
    cpu_prim_destroy(p);
    return dnn_error(st, "creating a primitive");
  }
  /* the reorders too are made under the primitive's thread count: oneDNN fixes a reorder's
   * parallelization when it makes it, and one made under more threads than it runs on starts an
   * OpenMP team of that size at every run (seen with --threads 1: a team of 2 per convolution) */
  /* a small activation is reordered on one thread: starting and joining a team costs more */
  p->rnthr = activation_bytes(p) < DNN_SERIAL_REORDER_BYTES ? 1 : p->nthr;
  if (p->rnthr != p->nthr) omp_set_num_threads(p->rnthr);
  s = make_relayout(dnn, &p->src_user, &p->src_md, &p->src_reorder, &p->src_tr);
  if (!s) s = make_relayout(dnn, &p->dst_md, &p->dst_user, &p->dst_reorder, &p->dst_tr);
  if (!s && p->sum) s = make_relayout(dnn, &p->sum_user, &p->dst_md, &p->sum_reorder, &p->sum_tr);
  if (p->rnthr != p->nthr) omp_set_num_threads(p->nthr);
  /* weights packed once need no reorder primitive of their own (cpu_wcache_get makes one
   * when it packs them) */
  if (p->has_wei) p->wei_pack = !dnnl_memory_desc_equal(&p->wei_user, &p->wei_md);
  if (!s && p->has_wei && !p->wei_any) s = make_reorder(dnn, &p->wei_user, &p->wei_md, &p->wei_reorder);
  threads_pop(p->nthr, prev);
  if (s) {
    cpu_prim_destroy(p);
    return s;
  }
  *out = p;
  return NULL;
}

/* -------------------------------------------------------------------- engine */

dycl_status_t cpu_dnn_create(int threads, const dycl_allocator_t* alloc, cpu_dnn_t** out) {
  *out = NULL;
  alloc = dycl_alloc_or_default(alloc);
  cpu_dnn_t* d = dycl_calloc(alloc, 1, sizeof *d);
  if (!d) return dycl_error_nomem();
  d->threads = threads;
  d->alloc = alloc;
  d->transpose = cpu_fast_transposer();
  dnnl_status_t st = dnnl_engine_create(&d->engine, dnnl_cpu, 0); /* oneDNN allocates its engine itself */
  if (st != dnnl_success) {
    dycl_free(alloc, d);
    return dnn_error(st, "creating the CPU engine");
  }
  *out = d;
  return NULL;
}

int cpu_dnn_threads(const cpu_dnn_t* dnn) { return dnn->threads > 0 ? dnn->threads : omp_get_max_threads(); }

void cpu_dnn_destroy(cpu_dnn_t* dnn) {
  if (!dnn) return;
  dnnl_engine_destroy(dnn->engine);
  dycl_free(dnn->alloc, dnn);
}

/* ---------------------------------------------------------------- primitives */

/* A convolution whose activations are in the user's layouts (any_io false) or in layouts oneDNN
 * picks (any_io true: reordered to and from the user's inside cpu_prim_exec). */
static dycl_status_t conv_try(cpu_dnn_t* dnn, const cpu_conv_desc_t* d, const cpu_post_t* post, bool weights_any,
                              bool any_io, cpu_prim_t** out) {
  *out = NULL;
  cpu_prim_t* p = prim_new(dnn);
  if (!p) return dycl_error_nomem();
  int nd = d->nsp + 2;
  int64_t xs[5], ys[5], ws[6], bs[1] = {d->M};
  xs[0] = ys[0] = d->N;
  xs[1] = d->C;
  ys[1] = d->M;
  for (int i = 0; i < d->nsp; i++) {
    xs[2 + i] = d->in[i];
    ys[2 + i] = d->out[i];
  }
  int wnd;
  if (d->G == 1) {
    wnd = nd;
    ws[0] = d->M;
    ws[1] = d->C;
    for (int i = 0; i < d->nsp; i++) ws[2 + i] = d->k[i];
  } else {
    wnd = nd + 1;
    ws[0] = d->G;
    ws[1] = d->M / d->G;
    ws[2] = d->C / d->G;
    for (int i = 0; i < d->nsp; i++) ws[3 + i] = d->k[i];
  }
  act_md(&p->src_user, nd, xs, d->src_cl);
  act_md(&p->dst_user, nd, ys, d->dst_cl);
  act_md(&p->sum_user, nd, ys, d->sum_cl);
  if (!d->transpose) {
    plain_md(&p->wei_user, wnd, ws);
  } else { /* ONNX stores [G * C/G, M/G, k...]: oneDNN's [G,] M/G, C/G, k... read with swapped strides */
    int64_t st[6], K = 1, g0 = d->G > 1;
    for (int i = 0; i < d->nsp; i++) K *= d->k[i];
    int64_t kst = 1;
    for (int i = d->nsp - 1; i >= 0; i--) {
      st[g0 + 2 + i] = kst;
      kst *= d->k[i];
    }
    st[g0 + 0] = K;                 /* output channel within the group */
    st[g0 + 1] = (d->M / d->G) * K; /* input channel within the group */
    if (g0) st[0] = (d->C / d->G) * (d->M / d->G) * K;
    if (strided_md(&p->wei_user, wnd, ws, st) != dnnl_success) {
      prim_free(p);
      return NULL;
    }
  }
  p->has_wei = true;
  p->has_bias = d->bias;
  if (d->bias) plain_md(&p->bias_md, 1, bs);
  dnnl_memory_desc_t wmd = p->wei_user, xmd = p->src_user, ymd = p->dst_user;
  if (weights_any && any_md(&wmd, wnd, ws) != dnnl_success) wmd = p->wei_user;
  p->wei_any = weights_any;
  if (any_io) {
    any_md(&xmd, nd, xs);
    any_md(&ymd, nd, ys);
  }
  dnnl_dims_t strides, dil, pl, pr;
  for (int i = 0; i < d->nsp; i++) {
    strides[i] = d->s[i];
    dil[i] = d->d[i] - 1;
    pl[i] = d->pl[i];
    pr[i] = d->pr[i];
  }
  dnnl_convolution_desc_t cd; /* a deconvolution descriptor has the same type */
  dnnl_status_t st =
      d->transpose
          ? dnnl_dilated_deconvolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_deconvolution_direct, &xmd,
                                                         &wmd, d->bias ? &p->bias_md : NULL, &ymd, strides, dil, pl, pr)
          : dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &xmd, &wmd,
                                                       d->bias ? &p->bias_md : NULL, &ymd, strides, dil, pl, pr);
  if (st != dnnl_success) {
    prim_free(p);
    return NULL;
  }
  return finish_prim(dnn, &cd, post, d->threads, p, out);
}

dycl_status_t cpu_prim_conv(cpu_dnn_t* dnn, const cpu_conv_desc_t* d, const cpu_post_t* post, bool weights_any,
                            cpu_prim_t** out) {
  *out = NULL;
  /* activations held channels-last on both sides: first ask for an implementation that reads and
   * writes them as they are. Left to pick, oneDNN takes a blocked layout for some convolutions
   * (grouped ones: nChw16c) and the two reorders around each cost more than they save (ResNeXt:
   * 28 reorders, 8% of a run); without a non-reference implementation for channels-last, it picks */
  if (d->blocked_io && d->src_cl && d->dst_cl && (!post || !post->sum || d->sum_cl)) {
    DYCL_RETURN_IF_ERROR(conv_try(dnn, d, post, weights_any, false, out));
    if (*out) return NULL;
  }
  return conv_try(dnn, d, post, weights_any, d->blocked_io, out);
}

dycl_status_t cpu_prim_matmul(cpu_dnn_t* dnn, const cpu_mm_desc_t* d, const cpu_post_t* post, bool weights_any,
                              cpu_prim_t** out) {
  *out = NULL;
  if (d->rank < 2 || d->rank > CPU_MM_MAX_RANK) return NULL;
  cpu_prim_t* p = prim_new(dnn);
  if (!p) return dycl_error_nomem();
  int nd = d->rank;
  if (strided_md(&p->src_user, nd, d->a_dims, d->a_strides) != dnnl_success ||
      strided_md(&p->wei_user, nd, d->b_dims, d->b_strides) != dnnl_success) {
    prim_free(p);
    return NULL;
  }
  plain_md(&p->dst_user, nd, d->c_dims);
  p->sum_user = p->dst_user;
  p->has_wei = true;
  p->has_bias = d->bias;
  if (d->bias) {
    int64_t bd[CPU_MM_MAX_RANK];
    for (int i = 0; i < nd; i++) bd[i] = i == nd - 1 ? d->c_dims[i] : 1;
    plain_md(&p->bias_md, nd, bd);
  }
  dnnl_memory_desc_t wmd = p->wei_user;
  if (weights_any && any_md(&wmd, nd, d->b_dims) != dnnl_success) wmd = p->wei_user;
  p->wei_any = weights_any;
  dnnl_matmul_desc_t md;
  if (dnnl_matmul_desc_init(&md, &p->src_user, &wmd, d->bias ? &p->bias_md : NULL, &p->dst_user) != dnnl_success) {
    prim_free(p);
    return NULL;
  }
  return finish_prim(dnn, &md, post, d->threads, p, out);
}

dycl_status_t cpu_prim_pool(cpu_dnn_t* dnn, const cpu_pool_desc_t* d, cpu_prim_t** out) {
  *out = NULL;
  cpu_prim_t* p = prim_new(dnn);
  if (!p) return dycl_error_nomem();
  int nd = d->nsp + 2;
  int64_t xs[5], ys[5];
  xs[0] = ys[0] = d->N;
  xs[1] = ys[1] = d->C;
  for (int i = 0; i < d->nsp; i++) {
    xs[2 + i] = d->in[i];
    ys[2 + i] = d->out[i];
  }
  act_md(&p->src_user, nd, xs, d->src_cl);
  act_md(&p->dst_user, nd, ys, d->dst_cl);
  dnnl_dims_t strides, kernel, dil, pl, pr;
  for (int i = 0; i < d->nsp; i++) {
    strides[i] = d->s[i];
    kernel[i] = d->k[i];
    dil[i] = d->d[i] - 1;
    pl[i] = d->pl[i];
    pr[i] = d->pr[i];
  }
  dnnl_alg_kind_t alg = d->kind == CPU_POOL_MAX           ? dnnl_pooling_max
                        : d->kind == CPU_POOL_AVG_INCLUDE ? dnnl_pooling_avg_include_padding
                                                          : dnnl_pooling_avg_exclude_padding;
  /* the destination in the layout oneDNN pairs with the source's (reordered if needed) */
  dnnl_memory_desc_t ymd;
  if (any_md(&ymd, nd, ys) != dnnl_success) ymd = p->dst_user;
  dnnl_pooling_v2_desc_t pd;
  if (dnnl_pooling_v2_forward_desc_init(&pd, dnnl_forward_inference, alg, &p->src_user, &ymd, strides, kernel, dil, pl,
                                        pr) != dnnl_success) {
    prim_free(p);
    return NULL;
  }
  return finish_prim(dnn, &pd, NULL, d->threads, p, out);
}

dycl_status_t cpu_prim_reduce(cpu_dnn_t* dnn, const cpu_reduce_desc_t* d, cpu_prim_t** out) {
  *out = NULL;
  cpu_prim_t* p = prim_new(dnn);
  if (!p) return dycl_error_nomem();
  act_md(&p->src_user, d->rank, d->dims, d->src_cl);
  plain_md(&p->dst_user, d->rank, d->out_dims);
  dnnl_alg_kind_t alg = d->kind == CPU_REDUCE_SUM    ? dnnl_reduction_sum
                        : d->kind == CPU_REDUCE_MEAN ? dnnl_reduction_mean
                        : d->kind == CPU_REDUCE_MAX  ? dnnl_reduction_max
                                                     : dnnl_reduction_min;
  dnnl_memory_desc_t ymd;
  if (any_md(&ymd, d->rank, d->out_dims) != dnnl_success) ymd = p->dst_user;
  dnnl_reduction_desc_t rd;
  if (dnnl_reduction_desc_init(&rd, alg, &p->src_user, &ymd, 0.0f, 0.0f) != dnnl_success) {
    prim_free(p);
    return NULL;
  }
  return finish_prim(dnn, &rd, NULL, d->threads, p, out);
}

static void ctx_destroy(exec_ctx_t* c) {
  if (!c) return;
  dnnl_memory_t* mems[] = {&c->src_user, &c->src,      &c->wei_user, &c->wei,    &c->bias,
                           &c->dst,      &c->dst_user, &c->sum_user, &c->scratch};
  for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
    if (*mems[i]) dnnl_memory_destroy(*mems[i]);
  if (c->stream) dnnl_stream_destroy(c->stream);
  dycl_free(c->alloc, c);
}

void cpu_prim_destroy(cpu_prim_t* p) {
  if (!p) return;
  if (p->prim) { /* the mutex exists once the primitive does */
    for (exec_ctx_t *c = p->free_ctx, *n; c; c = n) {
      n = c->next;
      ctx_destroy(c);
    }
    pthread_mutex_destroy(&p->lock);
  }
  if (p->src_reorder) dnnl_primitive_destroy(p->src_reorder);
  if (p->wei_reorder) dnnl_primitive_destroy(p->wei_reorder);
  if (p->dst_reorder) dnnl_primitive_destroy(p->dst_reorder);
  if (p->sum_reorder) dnnl_primitive_destroy(p->sum_reorder);
  if (p->prim) dnnl_primitive_destroy(p->prim);
  if (p->pd) dnnl_primitive_desc_destroy(p->pd);
  prim_free(p);
}

/* ------------------------------------------------------------------- running */

/* Runs one primitive with up to 6 arguments on a fresh stream. */
static dycl_status_t run1(dnnl_stream_t stream, dnnl_primitive_t prim, int n, const dnnl_exec_arg_t* args) {
  DNN_TRY(dnnl_primitive_execute(prim, stream, n, args), "executing a primitive");
  return NULL;
}

static dycl_status_t mem(cpu_dnn_t* dnn, const dnnl_memory_desc_t* md, const void* ptr, dnnl_memory_t* out) {
  DNN_TRY(dnnl_memory_create(out, md, dnn->engine, (void*)ptr), "creating a memory object");
  return NULL;
}

static dycl_status_t reorder_run(cpu_dnn_t* dnn, dnnl_stream_t stream, dnnl_primitive_t r,
                                 const dnnl_memory_desc_t* from, const void* src, const dnnl_memory_desc_t* to,
                                 void* dst) {
  dnnl_memory_t a = NULL, b = NULL;
  dycl_status_t s = mem(dnn, from, src, &a);
  if (!s) s = mem(dnn, to, dst, &b);
  if (!s) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a}, {DNNL_ARG_TO, b}};
    s = run1(stream, r, 2, args);
  }
  if (a) dnnl_memory_destroy(a);
  if (b) dnnl_memory_destroy(b);
  return s;
}

dycl_status_t cpu_wcache_get(cpu_dnn_t* dnn, cpu_wcache_t** wc, const cpu_prim_t* p, const float* plain,
                             const void** packed) {
  *packed = plain;
  if (!p->wei_pack) return NULL;
  if (!*wc) {
    *wc = dycl_calloc(dnn->alloc, 1, sizeof **wc);
    if (!*wc) return dycl_error_nomem();
    (*wc)->alloc = dnn->alloc;
  }
  for (wc_entry_t* e = (*wc)->head; e; e = e->next)
    if (dnnl_memory_desc_equal(&e->md, &p->wei_md)) {
      *packed = e->buf;
      return NULL;
    }
  wc_entry_t* e = dycl_calloc((*wc)->alloc, 1, sizeof *e);
  if (!e) return dycl_error_nomem();
  e->md = p->wei_md;
  e->buf = alloc_aligned((*wc)->alloc, p->wei_bytes, &e->raw);
  if (!e->buf && p->wei_bytes) {
    dycl_free((*wc)->alloc, e);
    return dycl_error_nomem();
  }
  /* the reorder is made, as well as run, under the primitive's thread count (see finish_prim) */
  int prev = threads_push(p->nthr);
  dnnl_primitive_t r = NULL;
  dycl_status_t s = make_reorder(dnn, &p->wei_user, &p->wei_md, &r);
  if (s) {
    threads_pop(p->nthr, prev);
    dycl_free((*wc)->alloc, e->raw);
    dycl_free((*wc)->alloc, e);
    return s;
  }
  dnnl_stream_t stream;
  dnnl_status_t st = dnnl_stream_create(&stream, dnn->engine, dnnl_stream_default_flags);
  if (st != dnnl_success) {
    threads_pop(p->nthr, prev);
    dnnl_primitive_destroy(r);
    dycl_free((*wc)->alloc, e->raw);
    dycl_free((*wc)->alloc, e);
    return dnn_error(st, "creating a stream");
  }
  s = reorder_run(dnn, stream, r, &p->wei_user, plain, &p->wei_md, e->buf);
  st = dnnl_stream_wait(stream);
  if (!s && st != dnnl_success) s = dnn_error(st, "waiting for a stream");
  dnnl_stream_destroy(stream);
  dnnl_primitive_destroy(r);
  threads_pop(p->nthr, prev);
  if (s) {
    dycl_free((*wc)->alloc, e->raw);
    dycl_free((*wc)->alloc, e);
    return s;
  }
  e->next = (*wc)->head;
  (*wc)->head = e;
  *packed = e->buf;
  return NULL;
}

void cpu_wcache_destroy(cpu_wcache_t* wc) {
  if (!wc) return;
  for (wc_entry_t *e = wc->head, *n; e; e = n) {
    n = e->next;
    dycl_free(wc->alloc, e->raw);
    dycl_free(wc->alloc, e);
  }
  dycl_free(wc->alloc, wc);
}

static dycl_status_t ctx_mem(cpu_dnn_t* dnn, const dnnl_memory_desc_t* md, dnnl_memory_t* out) {
  DNN_TRY(dnnl_memory_create(out, md, dnn->engine, DNNL_MEMORY_NONE), "creating a memory object");
  return NULL;
}

static dycl_status_t ctx_create(cpu_dnn_t* dnn, const cpu_prim_t* p, exec_ctx_t** out) {
  *out = NULL;
  exec_ctx_t* c = dycl_calloc(p->alloc, 1, sizeof *c);
  if (!c) return dycl_error_nomem();
  c->alloc = p->alloc;
  dycl_status_t s = NULL;
  dnnl_status_t st = dnnl_stream_create(&c->stream, dnn->engine, dnnl_stream_default_flags);
  if (st != dnnl_success) {
    c->stream = NULL;
    s = dnn_error(st, "creating a stream");
  }
  if (!s) s = ctx_mem(dnn, &p->src_md, &c->src);
  if (!s && p->src_reorder) s = ctx_mem(dnn, &p->src_user, &c->src_user);
  if (!s && p->has_wei) s = ctx_mem(dnn, &p->wei_md, &c->wei);
  if (!s && p->has_wei && p->wei_reorder) s = ctx_mem(dnn, &p->wei_user, &c->wei_user);
  if (!s && p->has_bias) s = ctx_mem(dnn, &p->bias_md, &c->bias);
  if (!s) s = ctx_mem(dnn, &p->dst_md, &c->dst);
  if (!s && p->dst_reorder) s = ctx_mem(dnn, &p->dst_user, &c->dst_user);
  if (!s && p->sum_reorder) s = ctx_mem(dnn, &p->sum_user, &c->sum_user);
  if (!s && p->scratch_bytes)
    s = ctx_mem(dnn, dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0), &c->scratch);
  if (s) {
    ctx_destroy(c);
    return s;
  }
  *out = c;
  return NULL;
}

static dycl_status_t set_handle(dnnl_memory_t m, const void* ptr) {
  DNN_TRY(dnnl_memory_set_data_handle(m, (void*)ptr), "setting a data handle");
  return NULL;
}

static dycl_status_t reorder2(dnnl_stream_t stream, dnnl_primitive_t r, dnnl_memory_t from, const void* src,
                              dnnl_memory_t to, void* dst) {
  DYCL_RETURN_IF_ERROR(set_handle(from, src));
  DYCL_RETURN_IF_ERROR(set_handle(to, dst));
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
  return run1(stream, r, 2, args);
}

/* An activation reorder of p, run on the threads it was made for (p->rnthr) inside an execution
 * that runs under p->nthr. */
static dycl_status_t act_reorder(const cpu_prim_t* p, dnnl_stream_t stream, dnnl_primitive_t r, dnnl_memory_t from,
                                 const void* src, dnnl_memory_t to, void* dst) {
  if (p->rnthr != p->nthr) omp_set_num_threads(p->rnthr);
  dycl_status_t s = reorder2(stream, r, from, src, to, dst);
  if (p->rnthr != p->nthr) omp_set_num_threads(p->nthr);
  return s;
}

size_t cpu_prim_workspace_bytes(const cpu_prim_t* p) { return p->ws_bytes; }

dycl_status_t cpu_prim_exec(cpu_dnn_t* dnn, const cpu_prim_t* p, const cpu_args_t* a, void* workspace) {
  cpu_prim_t* mp = (cpu_prim_t*)p; /* only the context list changes, under the lock */
  pthread_mutex_lock(&mp->lock);
  exec_ctx_t* c = mp->free_ctx;
  if (c) mp->free_ctx = c->next;
  pthread_mutex_unlock(&mp->lock);
  if (!c) DYCL_RETURN_IF_ERROR(ctx_create(dnn, p, &c));
  int prev = threads_push(p->nthr);
  dycl_status_t s = NULL;
  const void* src = a->src;
  const void* wei = a->weights;
  void* dst = a->dst;
  /* the workspace: [scratchpad | src | dst | weights], each 64-byte aligned */
  char* ws = workspace;
  void* src_tmp = ws + align64(p->scratch_bytes);
  void* dst_tmp = (char*)src_tmp + align64(p->src_bytes);
  void* wei_tmp = (char*)dst_tmp + align64(p->dst_bytes);
  if (p->src_tr.n) {
    transpose_run(dnn, &p->src_tr, src, src_tmp);
    src = src_tmp;
  } else if (p->src_reorder) {
    DYCL_GOTO_IF_ERROR(s, act_reorder(p, c->stream, p->src_reorder, c->src_user, src, c->src, src_tmp), done);
    src = src_tmp;
  }
  if (p->has_wei && !a->weights_packed && p->wei_any && p->wei_pack) {
    s = dycl_error(DYCL_CODE_INTERNAL, "cpu backend: weights in a chosen layout were not packed");
    goto done;
  }
  if (p->has_wei && p->wei_reorder && !a->weights_packed) {
    DYCL_GOTO_IF_ERROR(s, reorder2(c->stream, p->wei_reorder, c->wei_user, wei, c->wei, wei_tmp), done);
    wei = wei_tmp;
  }
  if (p->dst_reorder || p->dst_tr.n) dst = dst_tmp;
  if (p->sum) { /* the addend into the destination, in the primitive's layout */
    const void* sum = a->sum;
    if (sum == dst && (p->sum_reorder || p->sum_tr.n)) {
      /* the result planned over its addend (mem_plan.h) in another layout: relayout a copy */
      memcpy(dst_tmp, sum, p->dst_bytes);
      sum = dst_tmp;
    }
    if (p->sum_reorder) {
      DYCL_GOTO_IF_ERROR(s, act_reorder(p, c->stream, p->sum_reorder, c->sum_user, sum, c->dst, dst), done);
    } else if (p->sum_tr.n) {
      transpose_run(dnn, &p->sum_tr, sum, dst);
    } else if (sum != dst)
      memcpy(dst, sum, p->dst_bytes);
  }
  dnnl_exec_arg_t args[5];
  int n = 0;
  DYCL_GOTO_IF_ERROR(s, set_handle(c->src, src), done);
  args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, c->src};
  if (p->has_wei) {
    DYCL_GOTO_IF_ERROR(s, set_handle(c->wei, wei), done);
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, c->wei};
  }
  if (p->has_bias) {
    DYCL_GOTO_IF_ERROR(s, set_handle(c->bias, a->bias), done);
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, c->bias};
  }
  DYCL_GOTO_IF_ERROR(s, set_handle(c->dst, dst), done);
  args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, c->dst};
  if (p->scratch_bytes) {
    DYCL_GOTO_IF_ERROR(s, set_handle(c->scratch, ws), done);
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, c->scratch};
  }
  DYCL_GOTO_IF_ERROR(s, run1(c->stream, p->prim, n, args), done);
  if (p->dst_tr.n) {
    transpose_run(dnn, &p->dst_tr, dst, a->dst);
  } else if (p->dst_reorder) {
    s = act_reorder(p, c->stream, p->dst_reorder, c->dst, dst, c->dst_user, a->dst);
  }
done:;
  dnnl_status_t st = dnnl_stream_wait(c->stream);
  threads_pop(p->nthr, prev);
  if (!s && st != dnnl_success) s = dnn_error(st, "waiting for a stream");
  if (s) {
    ctx_destroy(c);
    return s;
  }
  pthread_mutex_lock(&mp->lock);
  c->next = mp->free_ctx;
  mp->free_ctx = c;
  pthread_mutex_unlock(&mp->lock);
  return NULL;
}

#else
typedef int dycl_cpu_onednn_unused_t; /* ISO C forbids an empty translation unit */
#endif
