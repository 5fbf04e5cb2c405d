/* Convolutions: Conv, ConvTranspose, ConvInteger, QLinearConv.
 *
 * The kernels are direct loops (no im2col) over at most three spatial dimensions: 1-D and 2-D
 * convolutions are run as 3-D ones with leading extents of 1. For each (image, output channel)
 * the output plane stays in cache while every input channel and kernel tap adds one scaled,
 * shifted copy of an input row into it; the innermost loop runs over contiguous output width.
 * float32 is computed in float32, float64 in double, float16/bfloat16 through float32, and the
 * integer convolutions in double on zero-point-adjusted values (exact for their ranges). */
#include <inttypes.h>
#include <string.h>

#include "ops/nn_internal.h"
#include "ops/op.h"

/* ---------------------------------------------------------------- helpers */

const dycl_dtype_t dycl_nn_q8_types[] = {DYCL_DTYPE_UINT8, DYCL_DTYPE_INT8, DYCL_DTYPE_UNDEFINED};

/* A float32 view of a float tensor: its data for float32, else a converted copy in *owned. */
static dycl_status_t view_f32(dycl_kctx_t* ctx, const dycl_value_t* t, const float** p, float** owned) {
  *owned = NULL;
  if (t->dtype == DYCL_DTYPE_FLOAT32) {
    *p = t->data;
    return NULL;
  }
  float* b = dycl_malloc(ctx->alloc, (size_t)t->numel * sizeof(float) + 1);
  if (!b) return dycl_error_nomem();
  for (int64_t i = 0; i < t->numel; i++) b[i] = (float)dycl_tensor_get_f64(t, i);
  *owned = b;
  *p = b;
  return NULL;
}

/* A double copy of any numeric tensor, minus a zero point (zp may be NULL). With `per` > 0 the
 * zero point is a vector over blocks of `inner` elements cycling every `per` blocks. */
static dycl_status_t copy_f64_minus(dycl_kctx_t* ctx, const dycl_value_t* t, const dycl_value_t* zp, int64_t inner,
                                    double** out) {
  double* b = dycl_malloc(ctx->alloc, (size_t)t->numel * sizeof(double) + 1);
  if (!b) return dycl_error_nomem();
  for (int64_t i = 0; i < t->numel; i++) {
    double z = 0;
    if (zp && zp->numel == 1) z = dycl_tensor_get_f64(zp, 0);
    else if (zp && zp->numel > 1) z = dycl_tensor_get_f64(zp, (i / inner) % zp->numel);
    b[i] = dycl_tensor_get_f64(t, i) - z;
  }
  *out = b;
  return NULL;
}

static bool ck_mul(int64_t a, int64_t b, int64_t* r, bool* ovf) {
  if (!dycl_mul_i64(a, b, r)) *ovf = true;
  return !*ovf;
}
static bool ck_add(int64_t a, int64_t b, int64_t* r, bool* ovf) {
  if (!dycl_add_i64(a, b, r)) *ovf = true;
  return !*ovf;
}

/* -------------------------------------------------------------- geometry */

/* dycl_nn_auto_pad, dycl_nn_ints_attr and dycl_nn_to_geom3 serve the pools too (nn_internal.h). */

dycl_status_t dycl_nn_auto_pad(const dycl_node_t* node, dycl_nn_auto_pad_t* ap) {
  const char* s = dycl_attr_string(node, "auto_pad", "NOTSET");
  if (!strcmp(s, "NOTSET") || !*s) *ap = DYCL_NN_PAD_NOTSET;
  else if (!strcmp(s, "SAME_UPPER")) *ap = DYCL_NN_PAD_SAME_UPPER;
  else if (!strcmp(s, "SAME_LOWER")) *ap = DYCL_NN_PAD_SAME_LOWER;
  else if (!strcmp(s, "VALID")) *ap = DYCL_NN_PAD_VALID;
  else return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "unknown auto_pad '%s'", s);
  return NULL;
}

dycl_status_t dycl_nn_ints_attr(const dycl_node_t* node, const char* name, int n, int64_t dflt, int64_t lo, int64_t hi,
                                int64_t* v) {
  int cnt = 0;
  const int64_t* a = dycl_attr_ints(node, name, &cnt);
  if (!a) {
    for (int i = 0; i < n; i++) v[i] = dflt;
    return NULL;
  }
  if (cnt != n)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute '%s' has %d values, expected %d", name, cnt, n);
  for (int i = 0; i < n; i++) {
    if (a[i] < lo || a[i] > hi)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute '%s' has an invalid value %" PRId64, name, a[i]);
    v[i] = a[i];
  }
  return NULL;
}

/* Convolution attributes are at most 2^40 (so that dilated kernel sizes cannot overflow). */
#define CONV_ATTR_MAX ((int64_t)1 << 40)

void dycl_nn_to_geom3(const dycl_nn_geom_t* g, dycl_nn_geom3_t* g3) {
  int off = 3 - g->nsp;
  for (int i = 0; i < 3; i++) {
    int j = i - off;
    g3->in[i] = j < 0 ? 1 : g->in[j];
    g3->out[i] = j < 0 ? 1 : g->out[j];
    g3->k[i] = j < 0 ? 1 : g->k[j];
    g3->s[i] = j < 0 ? 1 : g->s[j];
    g3->d[i] = j < 0 ? 1 : g->d[j];
    g3->pb[i] = j < 0 ? 0 : g->pb[j];
    g3->pe[i] = j < 0 ? 0 : g->pe[j];
  }
}

/* Computes the output extents (and the begin/end pads) of a convolution or a transposed one.
 * in[i] or wk[i] may be -1 (unknown, at inference time): the output extents that depend on them
 * come out -1. `code` is the error code for shape errors (INVALID_MODEL when inferring). */
static dycl_status_t conv_geometry(const dycl_node_t* node, dycl_code_t code, bool transpose, int nsp,
                                   const int64_t* in, const int64_t* wk, dycl_nn_geom_t* g) {
  memset(g, 0, sizeof *g);
  g->nsp = nsp;
  dycl_nn_auto_pad_t ap = DYCL_NN_PAD_NOTSET;
  DYCL_RETURN_IF_ERROR(dycl_nn_auto_pad(node, &ap));
  int nk = 0;
  const int64_t* ka = dycl_attr_ints(node, "kernel_shape", &nk);
  if (ka && nk != nsp)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "kernel_shape has %d values for %d spatial dimensions", nk, nsp);
  int64_t pads[2 * DYCL_MAX_RANK], opad[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "strides", nsp, 1, 1, CONV_ATTR_MAX, g->s));
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "dilations", nsp, 1, 1, CONV_ATTR_MAX, g->d));
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "pads", 2 * nsp, 0, 0, CONV_ATTR_MAX, pads));
  DYCL_RETURN_IF_ERROR(dycl_nn_ints_attr(node, "output_padding", nsp, 0, 0, CONV_ATTR_MAX, opad));
  int nos = 0;
  const int64_t* os = transpose ? dycl_attr_ints(node, "output_shape", &nos) : NULL;
  if (os && nos != nsp && nos != nsp + 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "output_shape has %d values for %d spatial dimensions", nos, nsp);
  for (int i = 0; i < nsp; i++) {
    int64_t k = wk[i];
    if (ka) {
      if (ka[i] < 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "kernel_shape[%d] must be positive", i);
      if (k >= 0 && k != ka[i])
        return dycl_node_error(node, code, "kernel_shape[%d] is %" PRId64 " but the weights have %" PRId64, i, ka[i], k);
      k = ka[i];
    }
    if (k == 0) return dycl_node_error(node, code, "the kernel has an empty spatial dimension");
    g->k[i] = k;
    g->in[i] = in[i];
    g->pb[i] = ap == DYCL_NN_PAD_NOTSET ? pads[i] : 0;
    g->pe[i] = ap == DYCL_NN_PAD_NOTSET ? pads[nsp + i] : 0;
    g->out[i] = -1;
    bool ovf = false;
    int64_t keff = -1, t, total = 0;
    if (k > 0 && ck_mul(k - 1, g->d[i], &t, &ovf)) keff = t + 1;
    if (ovf) return dycl_node_error(node, code, "spatial dimension %d: the dilated kernel size overflows", i);
    if (!transpose) {
      if (ap == DYCL_NN_PAD_SAME_UPPER || ap == DYCL_NN_PAD_SAME_LOWER) {
        if (in[i] < 0) continue;
        g->out[i] = in[i] / g->s[i] + (in[i] % g->s[i] != 0);
        if (keff < 0) continue;
        if (g->out[i] > 0 && ck_mul(g->out[i] - 1, g->s[i], &t, &ovf)) ck_add(t, keff - in[i], &total, &ovf);
        if (total < 0) total = 0;
        g->pb[i] = ap == DYCL_NN_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        g->pe[i] = total - g->pb[i];
      } else {
        if (in[i] < 0 || keff < 0) continue;
        int64_t num = 0;
        if (ck_add(in[i], g->pb[i] + g->pe[i], &num, &ovf)) num -= keff;
        if (ovf) return dycl_node_error(node, code, "spatial dimension %d: the padded size overflows", i);
        if (num < 0)
          return dycl_node_error(node, code,
                                 "spatial dimension %d: the dilated kernel (%" PRId64 ") is larger than the padded input (%" PRId64 ")",
                                 i, keff, in[i] + g->pb[i] + g->pe[i]);
        g->out[i] = num / g->s[i] + 1;
      }
    } else {
      bool same = ap == DYCL_NN_PAD_SAME_UPPER || ap == DYCL_NN_PAD_SAME_LOWER;
      int64_t full = -1; /* output extent without padding */
      if (in[i] >= 0 && keff >= 0) {
        if (ck_mul(g->s[i], in[i] - 1, &t, &ovf) && ck_add(t, opad[i], &t, &ovf) && ck_add(t, keff, &t, &ovf))
          full = t;
      }
      if (os || same) {
        if (os) {
          g->out[i] = os[nos == nsp ? i : i + 2];
          if (g->out[i] < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "output_shape has a negative value");
        } else if (in[i] >= 0) {
          if (!ck_mul(in[i], g->s[i], &g->out[i], &ovf)) g->out[i] = -1;
        }
        if (full >= 0 && g->out[i] >= 0) {
          /* total may be negative (output_shape beyond the full output): floor division, as
           * the ONNX reference computes it, pads the end */
          total = full - g->out[i];
          int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
          if (ap == DYCL_NN_PAD_SAME_UPPER) {
            g->pb[i] = half;
            g->pe[i] = total - half;
          } else {
            g->pb[i] = total - half;
            g->pe[i] = half;
          }
        }
      } else if (full >= 0) {
        g->out[i] = full - g->pb[i] - g->pe[i];
        if (g->out[i] < 0)
          return dycl_node_error(node, code, "spatial dimension %d: the pads are larger than the output", i);
      }
    }
    if (ovf) return dycl_node_error(node, code, "spatial dimension %d: the output size overflows", i);
  }
  return NULL;
}

/* -------------------------------------------------------------- kernels */

/* Iterations t in [0, n) with 0 <= t*s + a < limit, as [*lo, *hi). */
static void tap_range(int64_t a, int64_t s, int64_t n, int64_t limit, int64_t* lo, int64_t* hi) {
  int64_t l = a >= 0 ? 0 : (-a + s - 1) / s;
  int64_t h = limit - 1 - a < 0 ? 0 : (limit - 1 - a) / s + 1;
  if (h > n) h = n;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* y[N, M, out] = conv(x[N, C, in], w[M, C/G, k]) + b[M]   (b may be NULL). Output channels are
 * taken in blocks of up to 4 (within one group) so that each input row is read once per block. */
#define NN_CONV_FWD(SUF, T)                                                                                            \
  static void conv_fwd_##SUF(const T* x, const T* w, const T* b, T* y, int64_t N, int64_t C, int64_t M,                \
                             int64_t G, const dycl_nn_geom3_t* g) {                                                    \
    const int64_t Cg = C / G, Mg = M / G;                                                                              \
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];                                        \
    const int64_t IP = g->in[0] * IH * IW, OP = g->out[0] * OH * OW, KS = g->k[0] * g->k[1] * g->k[2];                 \
    const int64_t sw = g->s[2];                                                                                        \
    for (int64_t n = 0; n < N; n++)                                                                                    \
      for (int64_t m0 = 0; m0 < M;) {                                                                                  \
        const int64_t grp = m0 / Mg;                                                                                   \
        int nb = (int)((grp + 1) * Mg - m0 < 4 ? (grp + 1) * Mg - m0 : 4);                                             \
        T* yb[4];                                                                                                      \
        for (int q = 0; q < nb; q++) {                                                                                 \
          yb[q] = y + (n * M + m0 + q) * OP;                                                                           \
          const T bias = b ? b[m0 + q] : (T)0;                                                                         \
          for (int64_t o = 0; o < OP; o++) yb[q][o] = bias;                                                            \
        }                                                                                                              \
        for (int64_t c = 0; c < Cg; c++) {                                                                             \
          const T* xp = x + (n * C + grp * Cg + c) * IP;                                                               \
          for (int64_t kd = 0; kd < g->k[0]; kd++) {                                                                   \
            int64_t d_lo, d_hi, ad = kd * g->d[0] - g->pb[0];                                                          \
            tap_range(ad, g->s[0], g->out[0], g->in[0], &d_lo, &d_hi);                                                 \
            for (int64_t kh = 0; kh < g->k[1]; kh++) {                                                                 \
              int64_t h_lo, h_hi, ah = kh * g->d[1] - g->pb[1];                                                        \
              tap_range(ah, g->s[1], OH, IH, &h_lo, &h_hi);                                                            \
              for (int64_t kw = 0; kw < g->k[2]; kw++) {                                                               \
                int64_t w_lo, w_hi, aw = kw * g->d[2] - g->pb[2];                                                      \
                tap_range(aw, sw, OW, IW, &w_lo, &w_hi);                                                               \
                if (w_lo >= w_hi) continue;                                                                            \
                const int64_t tap = (kd * g->k[1] + kh) * g->k[2] + kw;                                                \
                T wv[4];                                                                                               \
                for (int q = 0; q < nb; q++) wv[q] = w[((m0 + q) * Cg + c) * KS + tap];                                \
                for (int64_t od = d_lo; od < d_hi; od++) {                                                             \
                  const int64_t id = od * g->s[0] + ad;                                                                \
                  for (int64_t oh = h_lo; oh < h_hi; oh++) {                                                           \
                    const int64_t ih = oh * g->s[1] + ah;                                                              \
                    const T* restrict xr = xp + (id * IH + ih) * IW + aw;                                              \
                    const int64_t ro = (od * OH + oh) * OW;                                                            \
                    if (nb == 4) {                                                                                     \
                      T* restrict r0 = yb[0] + ro;                                                                     \
                      T* restrict r1 = yb[1] + ro;                                                                     \
                      T* restrict r2 = yb[2] + ro;                                                                     \
                      T* restrict r3 = yb[3] + ro;                                                                     \
                      const T w0 = wv[0], w1 = wv[1], w2 = wv[2], w3 = wv[3];                                          \
                      if (sw == 1) {                                                                                   \
                        for (int64_t ow = w_lo; ow < w_hi; ow++) {                                                     \
                          const T xv = xr[ow];                                                                         \
                          r0[ow] += w0 * xv;                                                                           \
                          r1[ow] += w1 * xv;                                                                           \
                          r2[ow] += w2 * xv;                                                                           \
                          r3[ow] += w3 * xv;                                                                           \
                        }                                                                                              \
                      } else {                                                                                         \
                        for (int64_t ow = w_lo; ow < w_hi; ow++) {                                                     \
                          const T xv = xr[ow * sw];                                                                    \
                          r0[ow] += w0 * xv;                                                                           \
                          r1[ow] += w1 * xv;                                                                           \
                          r2[ow] += w2 * xv;                                                                           \
                          r3[ow] += w3 * xv;                                                                           \
                        }                                                                                              \
                      }                                                                                                \
                    } else {                                                                                           \
                      for (int q = 0; q < nb; q++) {                                                                   \
                        T* restrict r = yb[q] + ro;                                                                    \
                        const T wq = wv[q];                                                                            \
                        if (sw == 1) {                                                                                 \
                          for (int64_t ow = w_lo; ow < w_hi; ow++) r[ow] += wq * xr[ow];                               \
                        } else {                                                                                       \
                          for (int64_t ow = w_lo; ow < w_hi; ow++) r[ow] += wq * xr[ow * sw];                          \
                        }                                                                                              \
                      }                                                                                                \
                    }                                                                                                  \
                  }                                                                                                    \
                }                                                                                                      \
              }                                                                                                        \
            }                                                                                                          \
          }                                                                                                            \
        }                                                                                                              \
        m0 += nb;                                                                                                      \
      }                                                                                                                \
  }

/* y[N, M, out] = convtranspose(x[N, C, in], w[C, M/G, k]) + b[M]   (b may be NULL); output
 * channels in blocks of up to 4 as above. */
#define NN_CONV_BWD(SUF, T)                                                                                            \
  static void conv_bwd_##SUF(const T* x, const T* w, const T* b, T* y, int64_t N, int64_t C, int64_t M,                \
                             int64_t G, const dycl_nn_geom3_t* g) {                                                    \
    const int64_t Cg = C / G, Mg = M / G;                                                                              \
    const int64_t IH = g->in[1], IW = g->in[2], OH = g->out[1], OW = g->out[2];                                        \
    const int64_t IP = g->in[0] * IH * IW, OP = g->out[0] * OH * OW, KS = g->k[0] * g->k[1] * g->k[2];                 \
    const int64_t sw = g->s[2];                                                                                        \
    for (int64_t n = 0; n < N; n++)                                                                                    \
      for (int64_t m0 = 0; m0 < M;) {                                                                                  \
        const int64_t grp = m0 / Mg, mm0 = m0 % Mg;                                                                    \
        int nb = (int)(Mg - mm0 < 4 ? Mg - mm0 : 4);                                                                   \
        T* yb[4];                                                                                                      \
        for (int q = 0; q < nb; q++) {                                                                                 \
          yb[q] = y + (n * M + m0 + q) * OP;                                                                           \
          const T bias = b ? b[m0 + q] : (T)0;                                                                         \
          for (int64_t o = 0; o < OP; o++) yb[q][o] = bias;                                                            \
        }                                                                                                              \
        for (int64_t c = 0; c < Cg; c++) {                                                                             \
          const T* xp = x + (n * C + grp * Cg + c) * IP;                                                               \
          const T* wp = w + ((grp * Cg + c) * Mg + mm0) * KS;                                                          \
          for (int64_t kd = 0; kd < g->k[0]; kd++) {                                                                   \
            int64_t d_lo, d_hi, ad = kd * g->d[0] - g->pb[0];                                                          \
            tap_range(ad, g->s[0], g->in[0], g->out[0], &d_lo, &d_hi);                                                 \
            for (int64_t kh = 0; kh < g->k[1]; kh++) {                                                                 \
              int64_t h_lo, h_hi, ah = kh * g->d[1] - g->pb[1];                                                        \
              tap_range(ah, g->s[1], IH, OH, &h_lo, &h_hi);                                                            \
              for (int64_t kw = 0; kw < g->k[2]; kw++) {                                                               \
                int64_t w_lo, w_hi, aw = kw * g->d[2] - g->pb[2];                                                      \
                tap_range(aw, sw, IW, OW, &w_lo, &w_hi);                                                               \
                if (w_lo >= w_hi) continue;                                                                            \
                const int64_t tap = (kd * g->k[1] + kh) * g->k[2] + kw;                                                \
                for (int64_t id = d_lo; id < d_hi; id++) {                                                             \
                  const int64_t od = id * g->s[0] + ad;                                                                \
                  for (int64_t ih = h_lo; ih < h_hi; ih++) {                                                           \
                    const int64_t oh = ih * g->s[1] + ah;                                                              \
                    const T* restrict xr = xp + (id * IH + ih) * IW;                                                   \
                    const int64_t ro = (od * OH + oh) * OW + aw;                                                       \
                    for (int q = 0; q < nb; q++) {                                                                     \
                      T* restrict r = yb[q] + ro;                                                                      \
                      const T wq = wp[q * KS + tap];                                                                   \
                      if (sw == 1) {                                                                                   \
                        for (int64_t iw = w_lo; iw < w_hi; iw++) r[iw] += wq * xr[iw];                                 \
                      } else {                                                                                         \
                        for (int64_t iw = w_lo; iw < w_hi; iw++) r[iw * sw] += wq * xr[iw];                            \
                      }                                                                                                \
                    }                                                                                                  \
                  }                                                                                                    \
                }                                                                                                      \
              }                                                                                                        \
            }                                                                                                          \
          }                                                                                                            \
        }                                                                                                              \
        m0 += nb;                                                                                                      \
      }                                                                                                                \
  }

NN_CONV_FWD(f32, float)
NN_CONV_FWD(f64, double)
NN_CONV_BWD(f32, float)
NN_CONV_BWD(f64, double)

/* ------------------------------------------------------------ validation */

typedef struct conv_shape {
  int64_t N, C, M, G;
  dycl_nn_geom_t geom;
  int rank;
  int64_t odims[DYCL_MAX_RANK];
} conv_shape_t;

/* Checks X/W/B and computes the output shape of a (transposed) convolution at run time. */
static dycl_status_t conv_setup(const dycl_node_t* node, bool transpose, const dycl_value_t* X, const dycl_value_t* W,
                                const dycl_value_t* B, conv_shape_t* cs) {
  char b1[128], b2[128];
  if (X->rank < 3)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must have rank 3 or more (N, C, spatial...), got %s",
                           dycl_shape_str(X->rank, X->dims, b1, sizeof b1));
  if (W->rank != X->rank)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "weights %s and input %s have different ranks",
                           dycl_shape_str(W->rank, W->dims, b1, sizeof b1), dycl_shape_str(X->rank, X->dims, b2, sizeof b2));
  int nsp = X->rank - 2;
  if (nsp > 3)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "%d spatial dimensions (at most 3 are supported)", nsp);
  int64_t G = dycl_attr_int(node, "group", 1);
  if (G < 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "group must be positive");
  cs->N = X->dims[0];
  cs->C = X->dims[1];
  cs->G = G;
  if (!transpose) {
    cs->M = W->dims[0];
    if (cs->C != W->dims[1] * G || cs->M % G)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %s, weights %s and group %" PRId64 " do not agree",
                             dycl_shape_str(X->rank, X->dims, b1, sizeof b1), dycl_shape_str(W->rank, W->dims, b2, sizeof b2), G);
  } else {
    if (cs->C != W->dims[0] || cs->C % G || !dycl_mul_i64(W->dims[1], G, &cs->M))
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %s, weights %s and group %" PRId64 " do not agree",
                             dycl_shape_str(X->rank, X->dims, b1, sizeof b1), dycl_shape_str(W->rank, W->dims, b2, sizeof b2), G);
  }
  if (B && (B->rank != 1 || B->dims[0] != cs->M))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "bias %s must have shape [%" PRId64 "]",
                           dycl_shape_str(B->rank, B->dims, b1, sizeof b1), cs->M);
  DYCL_RETURN_IF_ERROR(conv_geometry(node, DYCL_CODE_RUNTIME, transpose, nsp, X->dims + 2, W->dims + 2, &cs->geom));
  cs->rank = X->rank;
  cs->odims[0] = cs->N;
  cs->odims[1] = cs->M;
  for (int i = 0; i < nsp; i++) cs->odims[2 + i] = cs->geom.out[i];
  return NULL;
}

/* Output type of a (transposed) convolution from the input types. */
static dycl_status_t conv_infer_type(dycl_infer_ctx_t* ctx, const dycl_node_t* node, bool transpose, int w_index,
                                     dycl_dtype_t out_dtype, dycl_type_t* out) {
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* w = dycl_infer_in(ctx, node, w_index);
  *out = dycl_type_tensor(out_dtype, -1);
  int64_t G = dycl_attr_int(node, "group", 1);
  if (G < 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "group must be positive");
  bool xr = x && x->known && x->rank >= 0, wr = w && w->known && w->rank >= 0;
  if (xr && x->rank < 3)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must have rank 3 or more (N, C, spatial...), got rank %d", x->rank);
  if (wr && w->rank < 3)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "weights must have rank 3 or more, got rank %d", w->rank);
  if (xr && wr && x->rank != w->rank)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "weights (rank %d) and input (rank %d) have different ranks", w->rank,
                           x->rank);
  int rank = xr ? x->rank : (wr ? w->rank : -1);
  if (rank < 0) {
    int nk = 0;
    if (dycl_attr_ints(node, "kernel_shape", &nk) && nk + 2 <= DYCL_MAX_RANK) rank = nk + 2;
    else return NULL;
  }
  *out = dycl_type_tensor(out_dtype, rank);
  int nsp = rank - 2;
  if (xr) out->dims[0] = x->dims[0];
  if (wr) {
    if (!transpose) out->dims[1] = w->dims[0];
    else if (w->dims[1].v >= 0 && w->dims[1].v <= INT64_MAX / G) out->dims[1] = dycl_dim_const(w->dims[1].v * G);
  }
  if (xr && wr && x->dims[1].v >= 0) {
    int64_t c = x->dims[1].v;
    int64_t wc = transpose ? w->dims[0].v : w->dims[1].v;
    bool bad = transpose ? (wc >= 0 && wc != c) || c % G : (wc >= 0 && (wc > INT64_MAX / G || wc * G != c));
    if (!transpose && w->dims[0].v >= 0 && w->dims[0].v % G) bad = true;
    if (bad)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input channels (%" PRId64 "), weights and group (%" PRId64 ") do not agree",
                             c, G);
  }
  int64_t in[DYCL_MAX_RANK] = {0}, k[DYCL_MAX_RANK] = {0};
  for (int i = 0; i < nsp; i++) {
    in[i] = xr ? x->dims[2 + i].v : -1;
    k[i] = wr ? w->dims[2 + i].v : -1;
  }
  dycl_nn_geom_t g;
  DYCL_RETURN_IF_ERROR(conv_geometry(node, DYCL_CODE_INVALID_MODEL, transpose, nsp, in, k, &g));
  for (int i = 0; i < nsp; i++) out->dims[2 + i] = g.out[i] >= 0 ? dycl_dim_const(g.out[i]) : dycl_dim_unknown();
  return NULL;
}

/* ------------------------------------------------------ Conv, ConvTranspose */

static dycl_status_t infer_conv_float(dycl_infer_ctx_t* ctx, const dycl_node_t* node, bool transpose) {
  for (int i = 0; i < 3; i++) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 1));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* w = dycl_infer_in(ctx, node, 1);
  dycl_dtype_t dt = x && x->known && x->dtype ? x->dtype : (w && w->known ? w->dtype : DYCL_DTYPE_UNDEFINED);
  const dycl_type_t* b = dycl_infer_in(ctx, node, 2);
  if (b && b->known && b->rank >= 0 && b->rank != 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "bias must be 1-D, got rank %d", b->rank);
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(conv_infer_type(ctx, node, transpose, 1, dt, &t));
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_infer_Conv(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_conv_float(ctx, node, false);
}
dycl_status_t dycl_infer_ConvTranspose(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  return infer_conv_float(ctx, node, true);
}

static dycl_status_t run_conv_float(dycl_kctx_t* ctx, const dycl_node_t* node, bool transpose, dycl_value_t* const* in,
                                    int nin, dycl_value_t** out) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *X = in[0], *W = in[1], *B = nin > 2 ? in[2] : NULL;
  if (!dycl_dtype_is_float(X->dtype) || W->dtype != X->dtype || (B && B->dtype != X->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs must share one float type (got %s, %s%s%s)",
                           dycl_dtype_name(X->dtype), dycl_dtype_name(W->dtype), B ? ", " : "", B ? dycl_dtype_name(B->dtype) : "");
  conv_shape_t cs;
  DYCL_RETURN_IF_ERROR(conv_setup(node, transpose, X, W, B, &cs));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, X->dtype, cs.rank, cs.odims, &out[0]));
  dycl_value_t* Y = out[0];
  if (Y->numel == 0) return NULL;
  dycl_nn_geom3_t g3;
  dycl_nn_to_geom3(&cs.geom, &g3);
  if (X->dtype == DYCL_DTYPE_FLOAT64) {
    (transpose ? conv_bwd_f64 : conv_fwd_f64)(X->data, W->data, B ? B->data : NULL, Y->data, cs.N, cs.C, cs.M, cs.G, &g3);
    return NULL;
  }
  if (X->dtype == DYCL_DTYPE_FLOAT32) {
    (transpose ? conv_bwd_f32 : conv_fwd_f32)(X->data, W->data, B ? B->data : NULL, Y->data, cs.N, cs.C, cs.M, cs.G, &g3);
    return NULL;
  }
  /* float16 / bfloat16: through float32 */
  const float *x, *w, *b = NULL;
  float *ox = NULL, *ow = NULL, *ob = NULL, *y = NULL;
  dycl_status_t s = NULL;
  DYCL_GOTO_IF_ERROR(s, view_f32(ctx, X, &x, &ox), done);
  DYCL_GOTO_IF_ERROR(s, view_f32(ctx, W, &w, &ow), done);
  if (B) DYCL_GOTO_IF_ERROR(s, view_f32(ctx, B, &b, &ob), done);
  y = dycl_malloc(ctx->alloc, (size_t)Y->numel * sizeof(float));
  if (!y) {
    s = dycl_error_nomem();
    goto done;
  }
  (transpose ? conv_bwd_f32 : conv_fwd_f32)(x, w, b, y, cs.N, cs.C, cs.M, cs.G, &g3);
  for (int64_t i = 0; i < Y->numel; i++) dycl_tensor_set_f64(Y, i, y[i]);
done:
  dycl_free(ctx->alloc, ox);
  dycl_free(ctx->alloc, ow);
  dycl_free(ctx->alloc, ob);
  dycl_free(ctx->alloc, y);
  return s;
}

dycl_status_t dycl_run_Conv(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  (void)nout;
  return run_conv_float(ctx, node, false, in, nin, out);
}

dycl_status_t dycl_run_ConvTranspose(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                     dycl_value_t** out, int nout) {
  (void)nout;
  return run_conv_float(ctx, node, true, in, nin, out);
}

/* ------------------------------------------------- ConvInteger, QLinearConv */

/* Checks that a zero point or scale is a scalar or, where `per` > 0, a vector of `per` values. */
static dycl_status_t check_qparam(const dycl_node_t* node, const dycl_value_t* t, const char* what, int64_t per) {
  if (!t) return NULL;
  if (t->kind != DYCL_VALUE_TENSOR)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "%s must be a tensor", what);
  if (t->numel == 1 && t->rank <= 1) return NULL;
  if (per > 0 && t->rank == 1 && t->dims[0] == per) return NULL;
  char b[128];
  return dycl_node_error(node, DYCL_CODE_RUNTIME, "%s has shape %s, expected a scalar%s", what,
                         dycl_shape_str(t->rank, t->dims, b, sizeof b), per > 0 ? " or one value per output channel" : "");
}

/* Integer convolution on zero-point-adjusted values: acc[N, M, out] in double (exact). */
static dycl_status_t conv_integer_acc(dycl_kctx_t* ctx, const dycl_node_t* node, const dycl_value_t* X,
                                      const dycl_value_t* xzp, const dycl_value_t* W, const dycl_value_t* wzp,
                                      const dycl_value_t* B, conv_shape_t* cs, double** acc) {
  *acc = NULL;
  DYCL_RETURN_IF_ERROR(conv_setup(node, false, X, W, NULL, cs));
  DYCL_RETURN_IF_ERROR(check_qparam(node, xzp, "the input zero point", 0));
  DYCL_RETURN_IF_ERROR(check_qparam(node, wzp, "the weight zero point", cs->M));
  if (xzp && xzp->dtype != X->dtype)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "the input zero point must have the input's type");
  if (wzp && wzp->dtype != W->dtype)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "the weight zero point must have the weights' type");
  if (B && (B->rank != 1 || B->dims[0] != cs->M))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "bias must have shape [%" PRId64 "]", cs->M);
  int64_t numel;
  DYCL_RETURN_IF_ERROR(dycl_shape_numel(cs->rank, cs->odims, &numel));
  double *x = NULL, *w = NULL, *b = NULL, *y = NULL;
  dycl_status_t s = NULL;
  int64_t per_m = W->dims[0] ? W->numel / W->dims[0] : 1;
  DYCL_GOTO_IF_ERROR(s, copy_f64_minus(ctx, X, xzp, 1, &x), done);
  DYCL_GOTO_IF_ERROR(s, copy_f64_minus(ctx, W, wzp, per_m ? per_m : 1, &w), done);
  if (B) DYCL_GOTO_IF_ERROR(s, copy_f64_minus(ctx, B, NULL, 1, &b), done);
  y = dycl_malloc(ctx->alloc, (size_t)numel * sizeof(double) + 1);
  if (!y) {
    s = dycl_error_nomem();
    goto done;
  }
  dycl_nn_geom3_t g3;
  dycl_nn_to_geom3(&cs->geom, &g3);
  if (numel) conv_fwd_f64(x, w, b, y, cs->N, cs->C, cs->M, cs->G, &g3);
  *acc = y;
  y = NULL;
done:
  dycl_free(ctx->alloc, x);
  dycl_free(ctx->alloc, w);
  dycl_free(ctx->alloc, b);
  dycl_free(ctx->alloc, y);
  return s;
}

/* Shared with MatMulInteger and QLinearMatMul (nn_internal.h). */
dycl_status_t dycl_nn_infer_integer_inputs(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_nn_q8_types));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_nn_q8_types));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  return dycl_infer_check_same_dtype(ctx, node, 1, 3);
}

dycl_status_t dycl_infer_ConvInteger(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_nn_infer_integer_inputs(ctx, node));
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(conv_infer_type(ctx, node, false, 1, DYCL_DTYPE_INT32, &t));
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_ConvInteger(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                   dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t *X = in[0], *W = in[1];
  if ((X->dtype != DYCL_DTYPE_UINT8 && X->dtype != DYCL_DTYPE_INT8) || (W->dtype != DYCL_DTYPE_UINT8 && W->dtype != DYCL_DTYPE_INT8))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs must be int8 or uint8");
  conv_shape_t cs;
  double* acc;
  DYCL_RETURN_IF_ERROR(conv_integer_acc(ctx, node, X, nin > 2 ? in[2] : NULL, W, nin > 3 ? in[3] : NULL, NULL, &cs, &acc));
  dycl_status_t s = dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT32, cs.rank, cs.odims, &out[0]);
  if (!s) {
    int32_t* y = out[0]->data;
    for (int64_t i = 0; i < out[0]->numel; i++) y[i] = (int32_t)(int64_t)acc[i]; /* wraps like int32 */
  }
  dycl_free(ctx->alloc, acc);
  return s;
}

dycl_status_t dycl_nn_infer_qlinear_inputs(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  static const dycl_dtype_t f32[] = {DYCL_DTYPE_FLOAT32, DYCL_DTYPE_UNDEFINED};
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_nn_q8_types));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 3, dycl_nn_q8_types));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 7, dycl_nn_q8_types));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 3, 5));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, f32));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 4, f32));
  return dycl_infer_check_dtype(ctx, node, 6, f32);
}

dycl_status_t dycl_infer_QLinearConv(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  static const dycl_dtype_t i32[] = {DYCL_DTYPE_INT32, DYCL_DTYPE_UNDEFINED};
  DYCL_RETURN_IF_ERROR(dycl_nn_infer_qlinear_inputs(ctx, node));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 8, i32));
  const dycl_type_t* yz = dycl_infer_in(ctx, node, 7);
  dycl_dtype_t dt = yz ? (yz->known ? yz->dtype : DYCL_DTYPE_UNDEFINED) : DYCL_DTYPE_UINT8;
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(conv_infer_type(ctx, node, false, 3, dt, &t));
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_QLinearConv(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                   dycl_value_t** out, int nout) {
  (void)nout;
  static const int required[] = {0, 1, 3, 4, 6};
  for (int k = 0; k < 5; k++) DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, required[k]));
  const dycl_value_t *X = in[0], *xs = in[1], *xzp = in[2], *W = in[3], *ws = in[4], *wzp = in[5], *ys = in[6];
  const dycl_value_t *yzp = nin > 7 ? in[7] : NULL, *B = nin > 8 ? in[8] : NULL;
  if ((X->dtype != DYCL_DTYPE_UINT8 && X->dtype != DYCL_DTYPE_INT8) || (W->dtype != DYCL_DTYPE_UINT8 && W->dtype != DYCL_DTYPE_INT8))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "x and w must be int8 or uint8");
  if (xs->dtype != DYCL_DTYPE_FLOAT32 || ws->dtype != DYCL_DTYPE_FLOAT32 || ys->dtype != DYCL_DTYPE_FLOAT32)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "scales must be float32");
  if (B && B->dtype != DYCL_DTYPE_INT32) return dycl_node_error(node, DYCL_CODE_RUNTIME, "bias must be int32");
  dycl_dtype_t ydt = yzp ? yzp->dtype : DYCL_DTYPE_UINT8;
  if (ydt != DYCL_DTYPE_UINT8 && ydt != DYCL_DTYPE_INT8)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "the output zero point must be int8 or uint8");
  conv_shape_t cs;
  double* acc;
  DYCL_RETURN_IF_ERROR(conv_integer_acc(ctx, node, X, xzp, W, wzp, B, &cs, &acc));
  dycl_status_t s = NULL;
  DYCL_GOTO_IF_ERROR(s, check_qparam(node, xs, "x_scale", 0), done);
  DYCL_GOTO_IF_ERROR(s, check_qparam(node, ws, "w_scale", cs.M), done);
  DYCL_GOTO_IF_ERROR(s, check_qparam(node, ys, "y_scale", 0), done);
  DYCL_GOTO_IF_ERROR(s, check_qparam(node, yzp, "y_zero_point", 0), done);
  DYCL_GOTO_IF_ERROR(s, dycl_kernel_tensor(ctx, node, ydt, cs.rank, cs.odims, &out[0]), done);
  {
    dycl_value_t* Y = out[0];
    const float xsv = ((const float*)xs->data)[0], ysv = ((const float*)ys->data)[0];
    const int64_t zp = yzp ? dycl_tensor_get_i64(yzp, 0) : 0;
    int64_t plane = cs.N && cs.M ? Y->numel / (cs.N * cs.M) : 0;
    for (int64_t i = 0; i < Y->numel; i++) {
      int64_t m = plane ? (i / plane) % cs.M : 0;
      float wsv = ((const float*)ws->data)[ws->numel == 1 ? 0 : m];
      float scale = xsv * wsv / ysv;
      dycl_tensor_set_i64(Y, i, dycl_nn_requantize((float)acc[i] * scale, zp, ydt));
    }
  }
done:
  dycl_free(ctx->alloc, acc);
  return s;
}
