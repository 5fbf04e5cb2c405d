/* Resampling: Resize (opsets 10, 11, 13), Upsample (opsets 1-10), GridSample.
 *
 * Resize is separable: for every dimension and output position it precomputes up to four input
 * taps with their weights (nearest: 1, linear: 2, cubic: 4), then every output element sums
 * the products of its taps over all dimensions. Coordinates and weights are computed in double,
 * following the ONNX reference implementation (onnx/backend/test/case/node/resize.py). */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/op.h"

/* ------------------------------------------------------------- parameters */

typedef enum { RM_NEAREST, RM_LINEAR, RM_CUBIC } resize_mode_t;
typedef enum { CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NN,
               CT_TF_CROP_AND_RESIZE } coord_mode_t;
typedef enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE } nearest_mode_t;

typedef struct resize_params {
  resize_mode_t mode;
  coord_mode_t ctm;
  nearest_mode_t nm;
  double cubic_a, extrapolation;
  bool exclude_outside;
  /* where scales and sizes come from */
  bool legacy; /* Upsample and Resize-10: scales only, asymmetric, old nearest rounding */
  int scales_input, sizes_input, roi_input; /* -1: none */
  const float* attr_scales; /* Upsample-7/8 */
  int n_attr_scales;
  double hw_scales[2]; /* Upsample-1 height_scale, width_scale */
  bool has_hw;
} resize_params_t;

static dycl_status_t resize_params(const dycl_node_t* node, resize_params_t* p) {
  memset(p, 0, sizeof *p);
  p->scales_input = p->sizes_input = p->roi_input = -1;
  bool upsample = node->op == DYCL_OP_Upsample;
  const char* mode = dycl_attr_string(node, "mode", "nearest");
  if (!strcmp(mode, "nearest")) p->mode = RM_NEAREST;
  else if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear")) p->mode = RM_LINEAR;
  else if (!strcmp(mode, "cubic") && !upsample && node->opset >= 11) p->mode = RM_CUBIC;
  else return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown mode '%s'", mode);
  if (upsample || node->opset < 11) {
    p->legacy = true;
    p->ctm = CT_ASYMMETRIC;
    p->nm = NM_SIMPLE;
    if (!upsample || node->opset >= 9) {
      p->scales_input = 1;
    } else if (node->opset >= 7) {
      p->attr_scales = dycl_attr_floats(node, "scales", &p->n_attr_scales);
      if (!p->attr_scales) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'scales'");
    } else {
      p->has_hw = true;
      p->hw_scales[0] = dycl_attr_float(node, "height_scale", 1.0);
      p->hw_scales[1] = dycl_attr_float(node, "width_scale", 1.0);
    }
    return NULL;
  }
  p->roi_input = 1;
  p->scales_input = 2;
  p->sizes_input = 3;
  const char* ctm = dycl_attr_string(node, "coordinate_transformation_mode", "half_pixel");
  if (!strcmp(ctm, "half_pixel")) p->ctm = CT_HALF_PIXEL;
  else if (!strcmp(ctm, "pytorch_half_pixel")) p->ctm = CT_PYTORCH_HALF_PIXEL;
  else if (!strcmp(ctm, "align_corners")) p->ctm = CT_ALIGN_CORNERS;
  else if (!strcmp(ctm, "asymmetric")) p->ctm = CT_ASYMMETRIC;
  else if (!strcmp(ctm, "tf_half_pixel_for_nn")) p->ctm = CT_TF_HALF_PIXEL_FOR_NN;
  else if (!strcmp(ctm, "tf_crop_and_resize")) p->ctm = CT_TF_CROP_AND_RESIZE;
  else return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown coordinate_transformation_mode '%s'", ctm);
  const char* nm = dycl_attr_string(node, "nearest_mode", "round_prefer_floor");
  if (!strcmp(nm, "round_prefer_floor")) p->nm = NM_ROUND_PREFER_FLOOR;
  else if (!strcmp(nm, "round_prefer_ceil")) p->nm = NM_ROUND_PREFER_CEIL;
  else if (!strcmp(nm, "floor")) p->nm = NM_FLOOR;
  else if (!strcmp(nm, "ceil")) p->nm = NM_CEIL;
  else return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown nearest_mode '%s'", nm);
  p->cubic_a = dycl_attr_float(node, "cubic_coeff_a", -0.75);
  p->exclude_outside = dycl_attr_int(node, "exclude_outside", 0) != 0;
  p->extrapolation = dycl_attr_float(node, "extrapolation_value", 0.0);
  return NULL;
}

/* Output extent for a scale, as the reference computes it: floor(in * scale). */
static dycl_status_t scaled_dim(const dycl_node_t* node, dycl_code_t code, int64_t in, double scale, int64_t* out) {
  if (!(scale > 0) || !isfinite(scale)) return dycl_node_error(node, code, "scale %g must be positive", scale);
  double v = floor((double)in * scale);
  if (v > 9.0e15) return dycl_node_error(node, code, "the output size overflows");
  *out = (int64_t)v;
  return NULL;
}

/* A tensor holding nothing (an empty scales input of Resize-11 when sizes are given). */
static bool is_empty(const dycl_value_t* t) { return !t || t->numel == 0; }

/* --------------------------------------------------------------- inference */

dycl_status_t dycl_infer_Resize(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  resize_params_t p;
  DYCL_RETURN_IF_ERROR(resize_params(node, &p));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  if (x && x->known && (x->dtype == DYCL_DTYPE_STRING))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "string tensors cannot be resized");
  if (p.scales_input >= 0) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, p.scales_input, dycl_dtypes_float));
  if (p.sizes_input >= 0) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, p.sizes_input, dycl_dtypes_int64));
  dycl_type_t t = dycl_type_tensor(x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, -1);
  if (!x || !x->known || x->rank < 0) return dycl_infer_set(ctx, node, 0, &t);
  int rank = x->rank;
  t = dycl_type_tensor(x->dtype, rank);
  const dycl_value_t* sizes = p.sizes_input >= 0 ? dycl_infer_const(ctx, node, p.sizes_input) : NULL;
  bool has_sizes = p.sizes_input >= 0 && p.sizes_input < node->n_in && node->in[p.sizes_input] >= 0;
  if (sizes && sizes->numel == 0) has_sizes = false, sizes = NULL;
  const dycl_value_t* scales = p.scales_input >= 0 ? dycl_infer_const(ctx, node, p.scales_input) : NULL;
  if (has_sizes) {
    if (sizes && sizes->rank == 1 && sizes->numel == rank && dycl_dtype_is_int(sizes->dtype))
      for (int i = 0; i < rank; i++) {
        int64_t v = dycl_tensor_get_i64(sizes, i);
        if (v < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "sizes has a negative value");
        t.dims[i] = dycl_dim_const(v);
      }
    else if (sizes && (sizes->rank != 1 || sizes->numel != rank))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "sizes must hold %d values", rank);
    return dycl_infer_set(ctx, node, 0, &t);
  }
  double sc[DYCL_MAX_RANK];
  bool known = false;
  if (p.attr_scales) {
    if (p.n_attr_scales != rank)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "scales has %d values for an input of rank %d", p.n_attr_scales, rank);
    for (int i = 0; i < rank; i++) sc[i] = p.attr_scales[i];
    known = true;
  } else if (p.has_hw) {
    if (rank != 4) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "Upsample-1 needs a 4-D input");
    sc[0] = sc[1] = 1;
    sc[2] = p.hw_scales[0];
    sc[3] = p.hw_scales[1];
    known = true;
  } else if (scales && !is_empty(scales)) {
    if (scales->rank != 1 || scales->numel != rank)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "scales must hold %d values", rank);
    for (int i = 0; i < rank; i++) sc[i] = dycl_tensor_get_f64(scales, i);
    known = true;
  }
  if (known)
    for (int i = 0; i < rank; i++) {
      if (x->dims[i].v < 0) {
        if (sc[i] == 1.0) t.dims[i] = x->dims[i];
        continue;
      }
      int64_t v;
      DYCL_RETURN_IF_ERROR(scaled_dim(node, DYCL_CODE_INVALID_MODEL, x->dims[i].v, sc[i], &v));
      t.dims[i] = dycl_dim_const(v);
    }
  return dycl_infer_set(ctx, node, 0, &t);
}

/* -------------------------------------------------------------------- run */

typedef struct dim_taps {
  int64_t* off;  /* [out * 4]: input element offsets (index * stride) */
  double* w;     /* [out * 4] */
  uint8_t* n;    /* [out]: taps used */
  uint8_t* ext;  /* [out]: 1 when the position is outside the crop (tf_crop_and_resize) */
} dim_taps_t;

/* The cubic convolution kernel with coefficient A: cubic1 for |x| <= 1, cubic2 for 1 < |x| < 2. */
static double cubic1(double x, double A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }
static double cubic2(double x, double A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

/* The weights of the four taps around a point at fraction t past the second one. */
static void cubic_coeffs(double t, double A, double* c) {
  c[0] = cubic2(t + 1, A);
  c[1] = cubic1(t, A);
  c[2] = cubic1(1 - t, A);
  c[3] = cubic2(2 - t, A);
}

static int64_t clampi(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* Fills the taps of one dimension. */
static void dim_fill(const resize_params_t* p, int64_t in, int64_t out, double scale, double roi0, double roi1,
                     int64_t stride, dim_taps_t* d) {
  double out_f = scale * (double)in; /* the reference's "output_width" (not rounded) */
  for (int64_t o = 0; o < out; o++) {
    double xo, x = (double)o;
    switch (p->ctm) {
      case CT_HALF_PIXEL: xo = (x + 0.5) / scale - 0.5; break;
      case CT_PYTORCH_HALF_PIXEL: xo = out_f > 1 ? (x + 0.5) / scale - 0.5 : 0; break;
      case CT_ALIGN_CORNERS: xo = out_f == 1 ? 0 : x * (double)(in - 1) / (out_f - 1); break;
      case CT_TF_HALF_PIXEL_FOR_NN: xo = (x + 0.5) / scale; break;
      case CT_TF_CROP_AND_RESIZE:
        xo = out_f == 1 ? (roi1 - roi0) * (double)(in - 1) / 2 : x * (roi1 - roi0) * (double)(in - 1) / (out_f - 1);
        xo += roi0 * (double)(in - 1);
        break;
      default: xo = x / scale; break;
    }
    d->ext[o] = p->ctm == CT_TF_CROP_AND_RESIZE && (xo < 0 || xo > (double)(in - 1));
    int64_t* off = d->off + o * 4;
    double* w = d->w + o * 4;
    if (!isfinite(xo)) xo = 0;
    if (xo > 4.0e15) xo = 4.0e15;
    if (xo < -4.0e15) xo = -4.0e15;
    double fl = floor(xo), fr = xo - fl;
    int64_t base = (int64_t)fl;
    if (p->mode == RM_NEAREST) {
      int64_t idx;
      if (fr == 0) {
        idx = base;
      } else {
        switch (p->nm) {
          case NM_ROUND_PREFER_FLOOR: idx = fr <= 0.5 ? base : base + 1; break;
          case NM_ROUND_PREFER_CEIL: idx = fr < 0.5 ? base : base + 1; break;
          case NM_FLOOR: idx = base; break;
          case NM_CEIL: idx = base + 1; break;
          default: idx = scale < 1 ? base + 1 : (xo < 0 ? base + 1 : base); break; /* ceil / truncation */
        }
      }
      off[0] = clampi(idx, 0, in - 1) * stride;
      w[0] = 1;
      d->n[o] = 1;
    } else if (p->mode == RM_LINEAR) {
      off[0] = clampi(base, 0, in - 1) * stride;
      off[1] = clampi(base + 1, 0, in - 1) * stride;
      w[0] = 1 - fr;
      w[1] = fr;
      d->n[o] = fr == 0 ? 1 : 2;
    } else {
      double c[4];
      cubic_coeffs(fr, p->cubic_a, c);
      double sum = 0;
      for (int k = 0; k < 4; k++) {
        int64_t idx = base - 1 + k;
        if (p->exclude_outside && (idx < 0 || idx >= in)) c[k] = 0;
        sum += c[k];
        off[k] = clampi(idx, 0, in - 1) * stride;
      }
      for (int k = 0; k < 4; k++) w[k] = p->exclude_outside && sum != 0 ? c[k] / sum : c[k];
      d->n[o] = 4;
    }
  }
}

dycl_status_t dycl_run_Resize(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  resize_params_t p;
  DYCL_RETURN_IF_ERROR(resize_params(node, &p));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* X = in[0];
  if (X->dtype == DYCL_DTYPE_STRING) return dycl_node_error(node, DYCL_CODE_RUNTIME, "string tensors cannot be resized");
  int rank = X->rank;
  const dycl_value_t* scales = p.scales_input >= 0 && p.scales_input < nin ? in[p.scales_input] : NULL;
  const dycl_value_t* sizes = p.sizes_input >= 0 && p.sizes_input < nin ? in[p.sizes_input] : NULL;
  const dycl_value_t* roi = p.roi_input >= 0 && p.roi_input < nin ? in[p.roi_input] : NULL;
  if (sizes && sizes->kind == DYCL_VALUE_TENSOR && sizes->numel == 0) sizes = NULL;
  double sc[DYCL_MAX_RANK];
  int64_t odims[DYCL_MAX_RANK];
  if (sizes) {
    int n;
    DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, sizes, odims, DYCL_MAX_RANK, &n));
    if (n != rank) return dycl_node_error(node, DYCL_CODE_RUNTIME, "sizes holds %d values for an input of rank %d", n, rank);
    if (!is_empty(scales)) return dycl_node_error(node, DYCL_CODE_RUNTIME, "only one of scales and sizes may be given");
    for (int i = 0; i < rank; i++) {
      if (odims[i] < 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "sizes has a negative value");
      sc[i] = X->dims[i] ? (double)odims[i] / (double)X->dims[i] : 1.0;
    }
  } else {
    if (p.attr_scales) {
      if (p.n_attr_scales != rank)
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "scales has %d values for an input of rank %d", p.n_attr_scales, rank);
      for (int i = 0; i < rank; i++) sc[i] = p.attr_scales[i];
    } else if (p.has_hw) {
      if (rank != 4) return dycl_node_error(node, DYCL_CODE_RUNTIME, "Upsample-1 needs a 4-D input");
      sc[0] = sc[1] = 1;
      sc[2] = p.hw_scales[0];
      sc[3] = p.hw_scales[1];
    } else {
      if (is_empty(scales)) return dycl_node_error(node, DYCL_CODE_RUNTIME, "one of scales and sizes must be given");
      if (scales->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_float(scales->dtype) || scales->numel != rank)
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "scales must be a float tensor of %d values", rank);
      for (int i = 0; i < rank; i++) sc[i] = dycl_tensor_get_f64(scales, i);
    }
    for (int i = 0; i < rank; i++) DYCL_RETURN_IF_ERROR(scaled_dim(node, DYCL_CODE_RUNTIME, X->dims[i], sc[i], &odims[i]));
  }
  double roi_v[2 * DYCL_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    roi_v[i] = 0;
    roi_v[rank + i] = 1;
  }
  if (p.ctm == CT_TF_CROP_AND_RESIZE) {
    if (!roi || roi->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_float(roi->dtype) || roi->numel != 2 * rank)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "tf_crop_and_resize needs a float roi of %d values", 2 * rank);
    for (int i = 0; i < 2 * rank; i++) roi_v[i] = dycl_tensor_get_f64(roi, i);
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, rank, odims, &out[0]));
  dycl_value_t* Y = out[0];
  if (Y->numel == 0) return NULL;
  if (X->numel == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot resize an empty tensor to a non-empty one");
  int64_t xstr[DYCL_MAX_RANK];
  dycl_strides(rank, X->dims, xstr);
  dim_taps_t taps[DYCL_MAX_RANK];
  memset(taps, 0, sizeof taps);
  double *x = NULL, *y = NULL;
  dycl_status_t s = NULL;
  for (int i = 0; i < rank; i++) {
    taps[i].off = dycl_malloc(ctx->alloc, (size_t)odims[i] * 4 * sizeof(int64_t) + 1);
    taps[i].w = dycl_malloc(ctx->alloc, (size_t)odims[i] * 4 * sizeof(double) + 1);
    taps[i].n = dycl_malloc(ctx->alloc, (size_t)odims[i] + 1);
    taps[i].ext = dycl_malloc(ctx->alloc, (size_t)odims[i] + 1);
    if (!taps[i].off || !taps[i].w || !taps[i].n || !taps[i].ext) {
      s = dycl_error_nomem();
      goto done;
    }
    dim_fill(&p, X->dims[i], odims[i], sc[i], roi_v[i], roi_v[rank + i], xstr[i], &taps[i]);
  }
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, X, &x), done);
  y = dycl_malloc(ctx->alloc, (size_t)Y->numel * sizeof(double));
  if (!y) {
    s = dycl_error_nomem();
    goto done;
  }
  int64_t pos[DYCL_MAX_RANK] = {0};
  for (int64_t o = 0; o < Y->numel; o++) {
    bool ext = false;
    for (int i = 0; i < rank; i++) ext |= taps[i].ext[pos[i]];
    if (ext) {
      y[o] = p.extrapolation;
    } else {
      int t[DYCL_MAX_RANK] = {0};
      double acc = 0;
      for (;;) {
        int64_t off = 0;
        double w = 1;
        for (int i = 0; i < rank; i++) {
          off += taps[i].off[pos[i] * 4 + t[i]];
          w *= taps[i].w[pos[i] * 4 + t[i]];
        }
        acc += w * x[off];
        int i = rank - 1;
        for (; i >= 0; i--) {
          if (++t[i] < taps[i].n[pos[i]]) break;
          t[i] = 0;
        }
        if (i < 0) break;
      }
      y[o] = acc;
    }
    for (int i = rank - 1; i >= 0; i--) {
      if (++pos[i] < odims[i]) break;
      pos[i] = 0;
    }
  }
  if (!dycl_dtype_is_float(Y->dtype) && p.mode != RM_NEAREST)
    for (int64_t o = 0; o < Y->numel; o++) y[o] = nearbyint(y[o]); /* integer outputs round */
  dycl_kernel_store_f64(Y, y);
done:
  for (int i = 0; i < rank; i++) {
    dycl_free(ctx->alloc, taps[i].off);
    dycl_free(ctx->alloc, taps[i].w);
    dycl_free(ctx->alloc, taps[i].n);
    dycl_free(ctx->alloc, taps[i].ext);
  }
  dycl_free(ctx->alloc, x);
  dycl_free(ctx->alloc, y);
  return s;
}

/* -------------------------------------------------------------- GridSample */

dycl_status_t dycl_infer_GridSample(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_float));
  const char* mode = dycl_attr_string(node, "mode", "bilinear");
  const char* pad = dycl_attr_string(node, "padding_mode", "zeros");
  if (strcmp(mode, "bilinear") && strcmp(mode, "nearest") && strcmp(mode, "bicubic"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown mode '%s'", mode);
  if (strcmp(pad, "zeros") && strcmp(pad, "border") && strcmp(pad, "reflection"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown padding_mode '%s'", pad);
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* g = dycl_infer_in(ctx, node, 1);
  if (x && x->known && x->rank >= 0 && x->rank != 4)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "X must be 4-D, got rank %d", x->rank);
  if (g && g->known && g->rank >= 0 && (g->rank != 4 || (g->dims[3].v >= 0 && g->dims[3].v != 2)))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "grid must have shape [N, H_out, W_out, 2]");
  if (x && x->known && x->dtype == DYCL_DTYPE_STRING)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "X cannot be a string tensor");
  dycl_type_t t = dycl_type_tensor(x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, 4);
  if (x && x->known && x->rank == 4) {
    t.dims[0] = x->dims[0];
    t.dims[1] = x->dims[1];
  }
  if (g && g->known && g->rank == 4) {
    if (t.dims[0].v < 0) t.dims[0] = g->dims[0];
    t.dims[2] = g->dims[1];
    t.dims[3] = g->dims[2];
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

typedef enum { GP_ZEROS, GP_BORDER, GP_REFLECTION } grid_pad_t;

static double reflect_coord(double in, double twice_low, double twice_high) {
  if (twice_low == twice_high) return 0;
  double mn = twice_low / 2, span = (twice_high - twice_low) / 2;
  in = fabs(in - mn);
  double extra = fmod(in, span);
  double flips = floor(in / span);
  return fmod(flips, 2) == 0 ? extra + mn : span - extra + mn;
}

static double grid_coord(double c, int64_t size, grid_pad_t pad, bool align) {
  if (pad == GP_BORDER) {
    c = c < 0 ? 0 : (c > (double)(size - 1) ? (double)(size - 1) : c);
  } else if (pad == GP_REFLECTION) {
    c = align ? reflect_coord(c, 0, 2.0 * (double)(size - 1)) : reflect_coord(c, -1, 2.0 * (double)size - 1);
    c = c < 0 ? 0 : (c > (double)(size - 1) ? (double)(size - 1) : c);
  }
  return c;
}

static double grid_unnormalize(double c, int64_t size, bool align) {
  return align ? (c + 1) / 2 * (double)(size - 1) : ((c + 1) * (double)size - 1) / 2;
}

/* Value at integer position (ix, iy) of a plane, 0 outside. */
static double plane_at(const double* p, int64_t H, int64_t W, double ix, double iy) {
  if (!(ix >= 0 && ix <= (double)(W - 1) && iy >= 0 && iy <= (double)(H - 1))) return 0;
  return p[(int64_t)iy * W + (int64_t)ix];
}

dycl_status_t dycl_run_GridSample(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                  dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *X = in[0], *G = in[1];
  if (X->dtype == DYCL_DTYPE_STRING || !dycl_dtype_is_float(G->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "X must be numeric and grid a float tensor");
  if (X->rank != 4 || G->rank != 4 || G->dims[3] != 2 || G->dims[0] != X->dims[0])
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "expected X [N,C,H,W] and grid [N,H_out,W_out,2]");
  const char* mode = dycl_attr_string(node, "mode", "bilinear");
  const char* pads = dycl_attr_string(node, "padding_mode", "zeros");
  bool align = dycl_attr_int(node, "align_corners", 0) != 0;
  grid_pad_t pad = !strcmp(pads, "border") ? GP_BORDER : (!strcmp(pads, "reflection") ? GP_REFLECTION : GP_ZEROS);
  int m = !strcmp(mode, "nearest") ? 1 : (!strcmp(mode, "bicubic") ? 2 : 0);
  int64_t N = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3], HO = G->dims[1], WO = G->dims[2];
  int64_t odims[4] = {N, C, HO, WO};
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, 4, odims, &out[0]));
  dycl_value_t* Y = out[0];
  if (Y->numel == 0) return NULL;
  double *x = NULL, *y = NULL;
  dycl_status_t s = NULL;
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_to_f64(ctx, X, &x), done);
  y = dycl_malloc(ctx->alloc, (size_t)Y->numel * sizeof(double));
  if (!y) {
    s = dycl_error_nomem();
    goto done;
  }
  for (int64_t n = 0; n < N; n++)
    for (int64_t h = 0; h < HO; h++)
      for (int64_t w = 0; w < WO; w++) {
        int64_t gi = ((n * HO + h) * WO + w) * 2;
        double gx = dycl_tensor_get_f64(G, gi), gy = dycl_tensor_get_f64(G, gi + 1);
        double ix = grid_unnormalize(gx, W, align), iy = grid_unnormalize(gy, H, align);
        if (m != 2) {
          ix = grid_coord(ix, W, pad, align);
          iy = grid_coord(iy, H, pad, align);
        }
        for (int64_t c = 0; c < C; c++) {
          const double* p = x + (n * C + c) * H * W;
          double v = 0;
          if (!isfinite(ix) || !isfinite(iy)) {
            v = 0;
          } else if (m == 1) {
            v = plane_at(p, H, W, nearbyint(ix), nearbyint(iy));
          } else if (m == 0) {
            double x0 = floor(ix), y0 = floor(iy), x1 = x0 + 1, y1 = y0 + 1;
            v = plane_at(p, H, W, x0, y0) * (x1 - ix) * (y1 - iy) + plane_at(p, H, W, x1, y0) * (ix - x0) * (y1 - iy) +
                plane_at(p, H, W, x0, y1) * (x1 - ix) * (iy - y0) + plane_at(p, H, W, x1, y1) * (ix - x0) * (iy - y0);
          } else {
            const double A = -0.75;
            double x0 = floor(ix), y0 = floor(iy), tx = ix - x0, ty = iy - y0;
            double cx[4], cy[4];
            cubic_coeffs(tx, A, cx);
            cubic_coeffs(ty, A, cy);
            for (int j = 0; j < 4; j++)
              for (int i = 0; i < 4; i++) {
                double px = grid_coord(x0 - 1 + i, W, pad, align), py = grid_coord(y0 - 1 + j, H, pad, align);
                v += plane_at(p, H, W, px, py) * cx[i] * cy[j];
              }
          }
          y[((n * C + c) * HO + h) * WO + w] = v;
        }
      }
  if (!dycl_dtype_is_float(Y->dtype))
    for (int64_t o = 0; o < Y->numel; o++) y[o] = nearbyint(y[o]);
  dycl_kernel_store_f64(Y, y);
done:
  dycl_free(ctx->alloc, x);
  dycl_free(ctx->alloc, y);
  return s;
}
