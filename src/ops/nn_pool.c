/* Pooling: MaxPool (with Indices), AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool,
 * GlobalLpPool, MaxRoiPool, MaxUnpool, RoiAlign.
 *
 * The windowed pools run over at most three spatial dimensions (1-D and 2-D as 3-D with leading
 * extents of 1) and compute in double on a converted copy of the input, which is exact for
 * every input type they accept. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/nn_internal.h"
#include "ops/op.h"

/* ---------------------------------------------------------------- helpers */

static const dycl_dtype_t k_maxpool_types[] = {DYCL_DTYPE_FLOAT32, DYCL_DTYPE_FLOAT64, DYCL_DTYPE_FLOAT16,
                                               DYCL_DTYPE_BFLOAT16, DYCL_DTYPE_INT8, DYCL_DTYPE_UINT8,
                                               DYCL_DTYPE_UNDEFINED};

/* -------------------------------------------------------------- geometry */

/* Pool attributes (kernel_shape, strides, dilations, pads) are at most 2^31. */
#define POOL_ATTR_MAX ((int64_t)1 << 31)

/* The number of spatial dims from kernel_shape (required by the windowed pools). */
static dycl_status_t pool_nsp(const dycl_node_t* node, int* nsp) {
  int nk = 0;
  const int64_t* k = dycl_attr_ints(node, "kernel_shape", &nk);
  if (!k || nk < 1 || nk > DYCL_MAX_RANK - 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'kernel_shape' is missing or has a bad length");
  *nsp = nk;
  return NULL;
}

/* Output extents and pads of a windowed pool; in[i] may be -1 (unknown) when inferring. */
static dycl_status_t pool_geometry(const dycl_node_t* node, dycl_code_t code, int nsp, const int64_t* in,
                                   dycl_nn_geom_t* g) {
  memset(g, 0, sizeof *g);
  g->nsp = nsp;
  dycl_nn_auto_pad_t ap = DYCL_NN_PAD_NOTSET;
  DYCL_RETURN_IF_ERROR(dycl_nn_auto_pad(node, &ap));
  bool same_upper = ap == DYCL_NN_PAD_SAME_UPPER, same_lower = ap == DYCL_NN_PAD_SAME_LOWER;
  bool valid = ap == DYCL_NN_PAD_VALID;
  int64_t pads[2 * DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "kernel_shape", nsp, 1, 1, POOL_ATTR_MAX, g->k));
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "strides", nsp, 1, 1, POOL_ATTR_MAX, g->s));
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "dilations", nsp, 1, 1, POOL_ATTR_MAX, g->d));
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "pads", 2 * nsp, 0, 0, POOL_ATTR_MAX, pads));
  bool ceil_mode = dycl_attr_int(node, "ceil_mode", 0) != 0;
  for (int i = 0; i < nsp; i++) {
    g->in[i] = in[i];
    g->out[i] = -1;
    bool notset = !same_upper && !same_lower && !valid;
    g->pb[i] = notset ? pads[i] : 0;
    g->pe[i] = notset ? pads[nsp + i] : 0;
    int64_t keff = (g->k[i] - 1) * g->d[i] + 1; /* both <= 2^40: no overflow */
    if (in[i] < 0) continue;
    if (in[i] > ((int64_t)1 << 60)) return dycl_node_error(node, code, "spatial dimension %d is too large", i);
    if (same_upper || same_lower) {
      g->out[i] = in[i] / g->s[i] + (in[i] % g->s[i] != 0);
      int64_t total = g->out[i] > 0 ? (g->out[i] - 1) * g->s[i] + keff - in[i] : 0;
      if (total < 0) total = 0;
      g->pb[i] = same_upper ? total / 2 : total - total / 2;
      g->pe[i] = total - g->pb[i];
      continue;
    }
    int64_t num = in[i] + g->pb[i] + g->pe[i] - keff;
    if (num < 0)
      return dycl_node_error(node, code,
                             "spatial dimension %d: the dilated kernel (%" PRId64 ") is larger than the padded input (%" PRId64 ")",
                             i, keff, in[i] + g->pb[i] + g->pe[i]);
    if (ceil_mode) {
      g->out[i] = num / g->s[i] + (num % g->s[i] != 0) + 1;
      /* the last window must start inside the input or its begin padding */
      if ((g->out[i] - 1) * g->s[i] >= in[i] + g->pb[i]) g->out[i]--;
    } else {
      g->out[i] = num / g->s[i] + 1;
    }
  }
  return NULL;
}

/* At inference: the number of spatial dims and the input's type, whose rank must match. */
static dycl_status_t pool_infer_input(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int* nsp, const dycl_type_t** x) {
  DYCL_RETURN_IF_ERROR(pool_nsp(node, nsp));
  *x = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* t = *x;
  if (t && t->known && t->rank >= 0 && t->rank != *nsp + 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input of rank %d does not match a kernel of %d dimensions",
                           t->rank, *nsp);
  return NULL;
}

/* Output type of a windowed pool. */
static dycl_status_t pool_infer_type(dycl_infer_ctx_t* ctx, const dycl_node_t* node, dycl_dtype_t dt, dycl_type_t* out) {
  int nsp;
  const dycl_type_t* x;
  DYCL_RETURN_IF_ERROR(pool_infer_input(ctx, node, &nsp, &x));
  *out = dycl_type_tensor(dt, nsp + 2);
  int64_t in[DYCL_MAX_RANK];
  bool xr = x && x->known && x->rank >= 0;
  for (int i = 0; i < nsp; i++) in[i] = xr ? x->dims[2 + i].v : -1;
  dycl_nn_geom_t g;
  DYCL_RETURN_IF_ERROR(pool_geometry(node, DYCL_CODE_INVALID_MODEL, nsp, in, &g));
  if (xr) {
    out->dims[0] = x->dims[0];
    out->dims[1] = x->dims[1];
  }
  for (int i = 0; i < nsp; i++) out->dims[2 + i] = g.out[i] >= 0 ? dycl_dim_const(g.out[i]) : dycl_dim_unknown();
  return NULL;
}

typedef enum { POOL_MAX, POOL_AVG, POOL_LP } pool_kind_t;

/* The input types of the pools: floats, and int8/uint8 for the max pools. */
static dycl_status_t pool_check_dtype(const dycl_node_t* node, pool_kind_t kind, const dycl_value_t* X) {
  bool ok = dycl_dtype_is_float(X->dtype) ||
            (kind == POOL_MAX && (X->dtype == DYCL_DTYPE_INT8 || X->dtype == DYCL_DTYPE_UINT8));
  if (!ok) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input type %s is not supported", dycl_dtype_name(X->dtype));
  return NULL;
}

/* The exponent of the Lp pools (attribute `p`, an int or a float; default 2). */
static dycl_status_t pool_lp_p(const dycl_node_t* node, double* p) {
  *p = 2;
  const dycl_attr_t* a = dycl_node_attr(node, "p");
  if (a) *p = a->type == DYCL_ATTR_FLOAT ? a->f : (double)a->i;
  if (!(*p > 0)) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "p must be positive");
  return NULL;
}

/* Runs a windowed pool: x is [NC, in...] in double, y [NC, out...]; idx (MaxPool, may be NULL)
 * receives flat input indices (row- or column-major within the spatial dims). */
static void pool_run(pool_kind_t kind, const double* x, double* y, int64_t* idx, int64_t NC, const dycl_nn_geom3_t* g,
                     bool count_pad, double p, bool col_major) {
  const int64_t ID = g->in[0], IH = g->in[1], IW = g->in[2];
  const int64_t IP = ID * IH * IW, OP = g->out[0] * g->out[1] * g->out[2];
  for (int64_t nc = 0; nc < NC; nc++) {
    const double* xp = x + nc * IP;
    for (int64_t od = 0; od < g->out[0]; od++)
      for (int64_t oh = 0; oh < g->out[1]; oh++)
        for (int64_t ow = 0; ow < g->out[2]; ow++) {
          double acc = kind == POOL_MAX ? -INFINITY : 0;
          int64_t best = -1, count = 0;
          for (int64_t kd = 0; kd < g->k[0]; kd++) {
            int64_t id = od * g->s[0] - g->pb[0] + kd * g->d[0];
            bool vd = id >= 0 && id < ID, pd = id >= -g->pb[0] && id < ID + g->pe[0];
            if (!pd) continue;
            for (int64_t kh = 0; kh < g->k[1]; kh++) {
              int64_t ih = oh * g->s[1] - g->pb[1] + kh * g->d[1];
              bool vh = ih >= 0 && ih < IH, ph = ih >= -g->pb[1] && ih < IH + g->pe[1];
              if (!ph) continue;
              for (int64_t kw = 0; kw < g->k[2]; kw++) {
                int64_t iw = ow * g->s[2] - g->pb[2] + kw * g->d[2];
                bool vw = iw >= 0 && iw < IW, pw = iw >= -g->pb[2] && iw < IW + g->pe[2];
                if (!pw) continue;
                if (!(vd && vh && vw)) {
                  if (count_pad) count++;
                  continue;
                }
                int64_t pos = (id * IH + ih) * IW + iw;
                double v = xp[pos];
                count++;
                if (kind == POOL_MAX) {
                  if (v > acc || best < 0) {
                    acc = v;
                    best = col_major ? id + ih * ID + iw * ID * IH : pos;
                  }
                } else if (kind == POOL_AVG) {
                  acc += v;
                } else {
                  acc += pow(fabs(v), p);
                }
              }
            }
          }
          int64_t o = nc * OP + (od * g->out[1] + oh) * g->out[2] + ow;
          if (kind == POOL_AVG) acc = count ? acc / (double)count : 0;
          else if (kind == POOL_LP) acc = pow(acc, 1.0 / p);
          y[o] = acc;
          if (idx) idx[o] = best < 0 ? 0 : nc * IP + best;
        }
  }
}

/* Shared run function of MaxPool/AveragePool/LpPool. */
static dycl_status_t run_pool(dycl_kctx_t* ctx, const dycl_node_t* node, pool_kind_t kind, dycl_value_t* const* in,
                              int nin, dycl_value_t** out, int nout) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* X = in[0];
  DYCL_RETURN_IF_ERROR(pool_check_dtype(node, kind, X));
  int nsp;
  DYCL_RETURN_IF_ERROR(pool_nsp(node, &nsp));
  if (X->rank != nsp + 2) {
    char b[128];
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %s does not match a kernel of %d dimensions",
                           dycl_shape_str(X->rank, X->dims, b, sizeof b), nsp);
  }
  if (nsp > 3) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "%d spatial dimensions (at most 3 are supported)", nsp);
  dycl_nn_geom_t g;
  DYCL_RETURN_IF_ERROR(pool_geometry(node, DYCL_CODE_RUNTIME, nsp, X->dims + 2, &g));
  int64_t odims[DYCL_MAX_RANK] = {X->dims[0], X->dims[1]};
  for (int i = 0; i < nsp; i++) odims[2 + i] = g.out[i];
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, odims, &out[0]));
  bool want_idx = kind == POOL_MAX && nout > 1 && node->n_out > 1 && node->out[1] >= 0;
  if (want_idx) DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, X->rank, odims, &out[1]));
  double p = 2;
  if (kind == POOL_LP) DYCL_RETURN_IF_ERROR(pool_lp_p(node, &p));
  int64_t so = dycl_attr_int(node, "storage_order", 0);
  if (so != 0 && so != 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "storage_order must be 0 or 1");
  if (out[0]->numel == 0) return NULL;
  double *x = NULL, *y = NULL;
  dycl_status_t s = NULL;
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, X, &x), done);
  y = dycl_malloc(ctx->alloc, (size_t)out[0]->numel * sizeof(double) + 1);
  if (!y) {
    s = dycl_error_nomem();
    goto done;
  }
  dycl_nn_geom3_t g3;
  dycl_nn_to_geom3(&g, &g3);
  pool_run(kind, x, y, want_idx ? out[1]->data : NULL, X->dims[0] * X->dims[1], &g3,
           dycl_attr_int(node, "count_include_pad", 0) != 0, p, so == 1);
  dycl_kernel_store_f64(out[0], y);
done:
  dycl_free(ctx->alloc, x);
  dycl_free(ctx->alloc, y);
  return s;
}

dycl_status_t dycl_infer_MaxPool(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, k_maxpool_types));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(pool_infer_type(ctx, node, x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, &t));
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 0, &t));
  t.dtype = DYCL_DTYPE_INT64;
  return dycl_infer_set(ctx, node, 1, &t);
}

static dycl_status_t infer_float_pool(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(pool_infer_type(ctx, node, x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, &t));
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_infer_AveragePool(dycl_infer_ctx_t* ctx, const dycl_node_t* node) { return infer_float_pool(ctx, node); }
dycl_status_t dycl_infer_LpPool(dycl_infer_ctx_t* ctx, const dycl_node_t* node) { return infer_float_pool(ctx, node); }

dycl_status_t dycl_run_MaxPool(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  return run_pool(ctx, node, POOL_MAX, in, nin, out, nout);
}
dycl_status_t dycl_run_AveragePool(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                   dycl_value_t** out, int nout) {
  return run_pool(ctx, node, POOL_AVG, in, nin, out, nout);
}
dycl_status_t dycl_run_LpPool(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  return run_pool(ctx, node, POOL_LP, in, nin, out, nout);
}

/* ------------------------------------------------------------ global pools */

dycl_status_t dycl_infer_global_pool(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  bool is_max = node->op == DYCL_OP_GlobalMaxPool;
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, is_max ? k_maxpool_types : dycl_dtypes_float));
  dycl_type_t t = dycl_type_tensor(x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, -1);
  if (x && x->known && x->rank >= 0) {
    if (x->rank < 2) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must have rank 2 or more, got %d", x->rank);
    t = dycl_type_tensor(x->dtype, x->rank);
    t.dims[0] = x->dims[0];
    t.dims[1] = x->dims[1];
    for (int i = 2; i < x->rank; i++) t.dims[i] = dycl_dim_const(1);
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

static dycl_status_t run_global(dycl_kctx_t* ctx, const dycl_node_t* node, pool_kind_t kind, dycl_value_t* const* in,
                                int nin, dycl_value_t** out) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* X = in[0];
  DYCL_RETURN_IF_ERROR(pool_check_dtype(node, kind, X));
  if (X->rank < 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must have rank 2 or more");
  int64_t odims[DYCL_MAX_RANK];
  int64_t plane = 1;
  for (int i = 0; i < X->rank; i++) {
    odims[i] = i < 2 ? X->dims[i] : 1;
    if (i >= 2) plane *= X->dims[i];
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, odims, &out[0]));
  double p = 2;
  if (kind == POOL_LP) DYCL_RETURN_IF_ERROR(pool_lp_p(node, &p));
  int64_t NC = out[0]->numel;
  double* y = dycl_malloc(ctx->alloc, (size_t)NC * sizeof(double) + 1);
  if (!y) return dycl_error_nomem();
  for (int64_t c = 0; c < NC; c++) {
    double acc = kind == POOL_MAX ? -INFINITY : 0;
    int64_t base = c * plane;
    if (X->dtype == DYCL_DTYPE_FLOAT32) {
      const float* xp = (const float*)X->data + base;
      for (int64_t i = 0; i < plane; i++) {
        double v = xp[i];
        if (kind == POOL_MAX) acc = v > acc ? v : acc;
        else if (kind == POOL_AVG) acc += v;
        else acc += pow(fabs(v), p);
      }
    } else {
      for (int64_t i = 0; i < plane; i++) {
        double v = dycl_tensor_get_f64(X, base + i);
        if (kind == POOL_MAX) acc = v > acc ? v : acc;
        else if (kind == POOL_AVG) acc += v;
        else acc += pow(fabs(v), p);
      }
    }
    if (kind == POOL_AVG) acc = plane ? acc / (double)plane : NAN;
    else if (kind == POOL_LP) acc = pow(acc, 1.0 / p);
    y[c] = acc;
  }
  dycl_kernel_store_f64(out[0], y);
  dycl_free(ctx->alloc, y);
  return NULL;
}

dycl_status_t dycl_run_GlobalAveragePool(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                         dycl_value_t** out, int nout) {
  (void)nout;
  return run_global(ctx, node, POOL_AVG, in, nin, out);
}
dycl_status_t dycl_run_GlobalMaxPool(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                     dycl_value_t** out, int nout) {
  (void)nout;
  return run_global(ctx, node, POOL_MAX, in, nin, out);
}
dycl_status_t dycl_run_GlobalLpPool(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                    dycl_value_t** out, int nout) {
  (void)nout;
  return run_global(ctx, node, POOL_LP, in, nin, out);
}

/* -------------------------------------------------------------- MaxRoiPool */

/* Output type of MaxRoiPool and RoiAlign: [num_rois, C, oh, ow] from X [N, C, H, W] and rois
 * [num_rois, ncoord]. */
static dycl_status_t roi_infer(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int ncoord, int64_t oh, int64_t ow) {
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* r = dycl_infer_in(ctx, node, 1);
  if (x && x->known && x->rank >= 0 && x->rank != 4)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must be 4-D, got rank %d", x->rank);
  if (r && r->known && r->rank >= 0 && (r->rank != 2 || (r->dims[1].v >= 0 && r->dims[1].v != ncoord)))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "rois must have shape [num_rois, %d]", ncoord);
  dycl_type_t t = dycl_type_tensor(x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, 4);
  if (r && r->known && r->rank == 2) t.dims[0] = r->dims[0];
  if (x && x->known && x->rank == 4) t.dims[1] = x->dims[1];
  t.dims[2] = dycl_dim_const(oh);
  t.dims[3] = dycl_dim_const(ow);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_infer_MaxRoiPool(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 1));
  int n = 0;
  const int64_t* ps = dycl_attr_ints(node, "pooled_shape", &n);
  if (!ps || n != 2 || ps[0] < 1 || ps[1] < 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'pooled_shape' must hold two positive values");
  return roi_infer(ctx, node, 5, ps[0], ps[1]);
}

dycl_status_t dycl_run_MaxRoiPool(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                  dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *X = in[0], *R = in[1];
  if (!dycl_dtype_is_float(X->dtype) || R->dtype != X->dtype)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs must share one float type");
  if (X->rank != 4 || R->rank != 2 || R->dims[1] != 5)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "expected a 4-D input and rois of shape [num_rois, 5]");
  int n = 0;
  const int64_t* ps = dycl_attr_ints(node, "pooled_shape", &n);
  if (!ps || n != 2 || ps[0] < 1 || ps[1] < 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'pooled_shape' must hold two positive values");
  double scale = dycl_attr_float(node, "spatial_scale", 1.0);
  int64_t C = X->dims[1], H = X->dims[2], W = X->dims[3], PH = ps[0], PW = ps[1];
  int64_t odims[4] = {R->dims[0], C, PH, PW};
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, 4, odims, &out[0]));
  dycl_value_t* Y = out[0];
  for (int64_t r = 0; r < R->dims[0]; r++) {
    double roi[5];
    for (int i = 0; i < 5; i++) roi[i] = dycl_tensor_get_f64(R, r * 5 + i);
    int64_t b = (int64_t)roi[0];
    if (!(roi[0] >= 0) || b >= X->dims[0])
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "roi %" PRId64 " has batch index %g out of range", r, roi[0]);
    for (int i = 1; i < 5; i++)
      if (!isfinite(roi[i]) || fabs(roi[i] * scale) > 1e15)
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "roi %" PRId64 " has an invalid coordinate", r);
    int64_t sw = (int64_t)round(roi[1] * scale), sh = (int64_t)round(roi[2] * scale);
    int64_t ew = (int64_t)round(roi[3] * scale), eh = (int64_t)round(roi[4] * scale);
    int64_t rh = eh - sh + 1 > 1 ? eh - sh + 1 : 1, rw = ew - sw + 1 > 1 ? ew - sw + 1 : 1;
    double bh = (double)rh / (double)PH, bw = (double)rw / (double)PW;
    for (int64_t c = 0; c < C; c++) {
      int64_t base = (b * C + c) * H * W;
      for (int64_t ph = 0; ph < PH; ph++)
        for (int64_t pw = 0; pw < PW; pw++) {
          int64_t hs = (int64_t)floor((double)ph * bh) + sh, he = (int64_t)ceil((double)(ph + 1) * bh) + sh;
          int64_t ws = (int64_t)floor((double)pw * bw) + sw, we = (int64_t)ceil((double)(pw + 1) * bw) + sw;
          hs = hs < 0 ? 0 : (hs > H ? H : hs);
          he = he < 0 ? 0 : (he > H ? H : he);
          ws = ws < 0 ? 0 : (ws > W ? W : ws);
          we = we < 0 ? 0 : (we > W ? W : we);
          double m = (he <= hs || we <= ws) ? 0 : -INFINITY;
          for (int64_t h = hs; h < he; h++)
            for (int64_t w = ws; w < we; w++) {
              double v = dycl_tensor_get_f64(X, base + h * W + w);
              if (v > m) m = v;
            }
          dycl_tensor_set_f64(Y, ((r * C + c) * PH + ph) * PW + pw, m);
        }
    }
  }
  return NULL;
}

/* --------------------------------------------------------------- MaxUnpool */

/* Default output extents of MaxUnpool: (in - 1) * stride + kernel - pads. */
static dycl_status_t unpool_dims(const dycl_node_t* node, dycl_code_t code, int nsp, const int64_t* in, int64_t* out) {
  int64_t k[DYCL_MAX_RANK], s[DYCL_MAX_RANK], pads[2 * DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "kernel_shape", nsp, 1, 1, POOL_ATTR_MAX, k));
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "strides", nsp, 1, 1, POOL_ATTR_MAX, s));
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "pads", 2 * nsp, 0, 0, POOL_ATTR_MAX, pads));
  for (int i = 0; i < nsp; i++) {
    out[i] = -1;
    if (in[i] < 0) continue;
    int64_t v;
    if (in[i] > ((int64_t)1 << 60) || !dycl_mul_i64(in[i] > 0 ? in[i] - 1 : 0, s[i], &v))
      return dycl_node_error(node, code, "output size overflows");
    v = v + k[i] - pads[i] - pads[nsp + i];
    if (v < 0) return dycl_node_error(node, code, "spatial dimension %d: the pads are larger than the output", i);
    out[i] = v;
  }
  return NULL;
}

dycl_status_t dycl_infer_MaxUnpool(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 2, dycl_dtypes_int64));
  int nsp;
  const dycl_type_t* x;
  DYCL_RETURN_IF_ERROR(pool_infer_input(ctx, node, &nsp, &x));
  dycl_type_t t = dycl_type_tensor(x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, nsp + 2);
  bool xr = x && x->known && x->rank >= 0;
  const dycl_value_t* os = dycl_infer_const(ctx, node, 2);
  if (node->n_in > 2 && node->in[2] >= 0) {
    if (os && os->rank == 1 && os->numel == nsp + 2 && dycl_dtype_is_int(os->dtype))
      for (int i = 0; i < nsp + 2; i++) {
        int64_t v = dycl_tensor_get_i64(os, i);
        t.dims[i] = v >= 0 ? dycl_dim_const(v) : dycl_dim_unknown();
      }
    return dycl_infer_set(ctx, node, 0, &t);
  }
  int64_t in[DYCL_MAX_RANK], o[DYCL_MAX_RANK];
  for (int i = 0; i < nsp; i++) in[i] = xr ? x->dims[2 + i].v : -1;
  DYCL_RETURN_IF_ERROR(unpool_dims(node, DYCL_CODE_INVALID_MODEL, nsp, in, o));
  if (xr) {
    t.dims[0] = x->dims[0];
    t.dims[1] = x->dims[1];
  }
  for (int i = 0; i < nsp; i++) t.dims[2 + i] = o[i] >= 0 ? dycl_dim_const(o[i]) : dycl_dim_unknown();
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_MaxUnpool(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                 dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *X = in[0], *I = in[1], *OS = nin > 2 ? in[2] : NULL;
  char b1[128], b2[128];
  if (!dycl_dtype_is_float(X->dtype) || I->dtype != DYCL_DTYPE_INT64)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "expected a float input and int64 indices");
  int nsp;
  DYCL_RETURN_IF_ERROR(pool_nsp(node, &nsp));
  if (X->rank != nsp + 2) return dycl_node_error(node, DYCL_CODE_RUNTIME, "input rank does not match kernel_shape");
  if (I->rank != X->rank || memcmp(I->dims, X->dims, sizeof(int64_t) * (size_t)X->rank))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "indices %s must have the input's shape %s",
                           dycl_shape_str(I->rank, I->dims, b1, sizeof b1), dycl_shape_str(X->rank, X->dims, b2, sizeof b2));
  /* The indices address the default output (the shape MaxPool's input had); an explicit
   * output_shape places that at the same coordinates of a (larger) output. */
  int64_t ddims[DYCL_MAX_RANK], odims[DYCL_MAX_RANK];
  ddims[0] = X->dims[0];
  ddims[1] = X->dims[1];
  DYCL_RETURN_IF_ERROR(unpool_dims(node, DYCL_CODE_RUNTIME, nsp, X->dims + 2, ddims + 2));
  int64_t dnumel;
  dycl_status_t s = dycl_shape_numel(X->rank, ddims, &dnumel);
  if (s) return dycl_error_wrap(s, "node '%s' (%s)", node->name, node->op_type);
  if (OS) {
    int n;
    DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, OS, odims, DYCL_MAX_RANK, &n));
    if (n != X->rank) return dycl_node_error(node, DYCL_CODE_RUNTIME, "output_shape must have %d values", X->rank);
  } else {
    memcpy(odims, ddims, sizeof odims);
  }
  int64_t numel;
  s = dycl_shape_numel(X->rank, odims, &numel);
  if (s) return dycl_error_wrap(s, "node '%s' (%s): output_shape", node->name, node->op_type);
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, X->rank, odims, &out[0]));
  dycl_value_t* Y = out[0];
  memset(Y->data, 0, Y->nbytes);
  const int64_t* idx = I->data;
  size_t es = dycl_dtype_size(X->dtype);
  bool same = !memcmp(odims, ddims, sizeof(int64_t) * (size_t)X->rank);
  int64_t ostr[DYCL_MAX_RANK];
  dycl_strides(X->rank, odims, ostr);
  for (int64_t i = 0; i < X->numel; i++) {
    if (idx[i] < 0 || idx[i] >= dnumel)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "index %" PRId64 " is out of range for an output of %" PRId64 " elements",
                             idx[i], dnumel);
    int64_t o = idx[i];
    if (!same) {
      int64_t rem = idx[i];
      o = 0;
      for (int d = X->rank - 1; d >= 0; d--) {
        int64_t c = rem % ddims[d];
        rem /= ddims[d];
        if (c >= odims[d])
          return dycl_node_error(node, DYCL_CODE_RUNTIME, "index %" PRId64 " falls outside output_shape", idx[i]);
        o += c * ostr[d];
      }
    }
    memcpy((char*)Y->data + (size_t)o * es, (const char*)X->data + (size_t)i * es, es);
  }
  return NULL;
}

/* ---------------------------------------------------------------- RoiAlign */

dycl_status_t dycl_infer_RoiAlign(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 1));
  static const dycl_dtype_t ints[] = {DYCL_DTYPE_INT64, DYCL_DTYPE_INT32, DYCL_DTYPE_UNDEFINED};
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 2, ints));
  int64_t oh = dycl_attr_int(node, "output_height", 1), ow = dycl_attr_int(node, "output_width", 1);
  if (oh < 1 || ow < 1 || oh > ((int64_t)1 << 31) || ow > ((int64_t)1 << 31))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "output_height and output_width must be positive");
  const char* mode = dycl_attr_string(node, "mode", "avg");
  if (strcmp(mode, "avg") && strcmp(mode, "max"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown mode '%s'", mode);
  const char* ctm = dycl_attr_string(node, "coordinate_transformation_mode", "half_pixel");
  if (strcmp(ctm, "half_pixel") && strcmp(ctm, "output_half_pixel"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown coordinate_transformation_mode '%s'", ctm);
  return roi_infer(ctx, node, 4, oh, ow);
}

typedef struct roi_tap {
  int64_t pos[4];
  double w[4];
} roi_tap_t;

dycl_status_t dycl_run_RoiAlign(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, int nout) {
  (void)nout;
  for (int i = 0; i < 3; i++) DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
  const dycl_value_t *X = in[0], *R = in[1], *BI = in[2];
  if (!dycl_dtype_is_float(X->dtype) || R->dtype != X->dtype || !dycl_dtype_is_int(BI->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "expected float X and rois and integer batch_indices");
  if (X->rank != 4 || R->rank != 2 || R->dims[1] != 4 || BI->rank != 1 || BI->dims[0] != R->dims[0])
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "expected X [N,C,H,W], rois [num_rois,4] and batch_indices [num_rois]");
  int64_t PH = dycl_attr_int(node, "output_height", 1), PW = dycl_attr_int(node, "output_width", 1);
  int64_t sr = dycl_attr_int(node, "sampling_ratio", 0);
  double scale = dycl_attr_float(node, "spatial_scale", 1.0);
  bool is_max = !strcmp(dycl_attr_string(node, "mode", "avg"), "max");
  bool half_pixel = node->opset >= 16 && !strcmp(dycl_attr_string(node, "coordinate_transformation_mode", "half_pixel"),
                                                 "half_pixel");
  if (PH < 1 || PW < 1 || sr < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "invalid output size or sampling_ratio");
  int64_t N = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3], NR = R->dims[0];
  if ((H == 0 || W == 0) && NR > 0 && C > 0)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "the input has an empty spatial dimension");
  int64_t odims[4] = {NR, C, PH, PW};
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, 4, odims, &out[0]));
  dycl_value_t* Y = out[0];
  if (Y->numel == 0) return NULL;
  double *x = NULL, *y = NULL;
  roi_tap_t* taps = NULL;
  dycl_status_t s = NULL;
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, X, &x), done);
  y = dycl_malloc(ctx->alloc, (size_t)Y->numel * sizeof(double) + 1);
  if (!y) {
    s = dycl_error_nomem();
    goto done;
  }
  double off = half_pixel ? 0.5 : 0;
  for (int64_t r = 0; r < NR; r++) {
    int64_t b = dycl_tensor_get_i64(BI, r);
    if (b < 0 || b >= N) {
      s = dycl_node_error(node, DYCL_CODE_RUNTIME, "batch index %" PRId64 " of roi %" PRId64 " is out of range", b, r);
      goto done;
    }
    double x1 = dycl_tensor_get_f64(R, r * 4) * scale - off, y1 = dycl_tensor_get_f64(R, r * 4 + 1) * scale - off;
    double x2 = dycl_tensor_get_f64(R, r * 4 + 2) * scale - off, y2 = dycl_tensor_get_f64(R, r * 4 + 3) * scale - off;
    double rw = x2 - x1, rh = y2 - y1;
    if (!isfinite(rw) || !isfinite(rh)) {
      s = dycl_node_error(node, DYCL_CODE_RUNTIME, "roi %" PRId64 " has a non-finite coordinate", r);
      goto done;
    }
    if (!half_pixel) {
      rw = rw > 1 ? rw : 1;
      rh = rh > 1 ? rh : 1;
    }
    double bh = rh / (double)PH, bw = rw / (double)PW;
    double gh_d = sr > 0 ? (double)sr : ceil(rh / (double)PH), gw_d = sr > 0 ? (double)sr : ceil(rw / (double)PW);
    if (gh_d > 1e6 || gw_d > 1e6) {
      s = dycl_node_error(node, DYCL_CODE_RUNTIME, "roi %" PRId64 " needs too many sampling points", r);
      goto done;
    }
    int64_t gh = gh_d > 0 ? (int64_t)gh_d : 0, gw = gw_d > 0 ? (int64_t)gw_d : 0;
    int64_t count = gh * gw > 1 ? gh * gw : 1, ntaps;
    if (!dycl_mul_i64(PH * PW, count, &ntaps) || ntaps > ((int64_t)1 << 26)) {
      s = dycl_node_error(node, DYCL_CODE_LIMIT, "roi %" PRId64 " needs too many sampling points", r);
      goto done;
    }
    dycl_free(ctx->alloc, taps);
    taps = dycl_calloc(ctx->alloc, (size_t)ntaps, sizeof *taps);
    if (!taps) {
      s = dycl_error_nomem();
      goto done;
    }
    /* bilinear taps of every sampling point, shared by all channels */
    roi_tap_t* tp = taps;
    for (int64_t ph = 0; ph < PH; ph++)
      for (int64_t pw = 0; pw < PW; pw++)
        for (int64_t iy = 0; iy < gh; iy++) {
          double yy = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
          for (int64_t ix = 0; ix < gw; ix++, tp++) {
            double xx = x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
            if (yy < -1.0 || yy > (double)H || xx < -1.0 || xx > (double)W) continue; /* all weights 0 */
            double yv = yy <= 0 ? 0 : yy, xv = xx <= 0 ? 0 : xx;
            int64_t yl = (int64_t)yv, xl = (int64_t)xv, yh, xh;
            if (yl >= H - 1) {
              yh = yl = H - 1;
              yv = (double)yl;
            } else {
              yh = yl + 1;
            }
            if (xl >= W - 1) {
              xh = xl = W - 1;
              xv = (double)xl;
            } else {
              xh = xl + 1;
            }
            double ly = yv - (double)yl, lx = xv - (double)xl, hy = 1 - ly, hx = 1 - lx;
            tp->pos[0] = yl * W + xl;
            tp->pos[1] = yl * W + xh;
            tp->pos[2] = yh * W + xl;
            tp->pos[3] = yh * W + xh;
            tp->w[0] = hy * hx;
            tp->w[1] = hy * lx;
            tp->w[2] = ly * hx;
            tp->w[3] = ly * lx;
          }
        }
    for (int64_t c = 0; c < C; c++) {
      const double* xp = x + (b * C + c) * H * W;
      const roi_tap_t* t = taps;
      for (int64_t o = 0; o < PH * PW; o++) {
        double acc = 0;
        bool first = true;
        for (int64_t k = 0; k < gh * gw; k++, t++) {
          if (is_max) {
            double v = t->w[0] * xp[t->pos[0]];
            for (int j = 1; j < 4; j++) {
              double u = t->w[j] * xp[t->pos[j]];
              if (u > v) v = u;
            }
            if (first || v > acc) acc = v;
            first = false;
          } else {
            acc += t->w[0] * xp[t->pos[0]] + t->w[1] * xp[t->pos[1]] + t->w[2] * xp[t->pos[2]] + t->w[3] * xp[t->pos[3]];
          }
        }
        y[((r * C + c) * PH) * PW + o] = is_max ? acc : acc / (double)count;
      }
    }
  }
  dycl_kernel_store_f64(Y, y);
done:
  dycl_free(ctx->alloc, x);
  dycl_free(ctx->alloc, y);
  dycl_free(ctx->alloc, taps);
  return s;
}
