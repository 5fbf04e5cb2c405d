/* Signal processing (opset 17): DFT, STFT, BlackmanWindow, HammingWindow, HannWindow,
 * MelWeightMatrix. Transforms are computed in double: radix-2 FFT for power-of-two lengths, a
 * direct DFT with a twiddle table otherwise. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/op.h"

#define PI 3.14159265358979323846

/* ------------------------------------------------------------------ helpers */

/* Reads a scalar (or one-element) integer input. */
static dycl_status_t read_scalar_int(const dycl_node_t* node, const dycl_value_t* t, const char* what, int64_t* v) {
  if (t->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_int(t->dtype) || t->numel != 1 || t->rank > 1)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "%s must be an integer scalar", what);
  *v = dycl_tensor_get_i64(t, 0);
  return NULL;
}

static dycl_status_t read_scalar_float(const dycl_node_t* node, const dycl_value_t* t, const char* what, double* v) {
  if (t->kind != DYCL_VALUE_TENSOR || t->dtype == DYCL_DTYPE_STRING || t->numel != 1 || t->rank > 1)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "%s must be a numeric scalar", what);
  *v = dycl_tensor_get_f64(t, 0);
  return NULL;
}

/* The value of a constant scalar integer input, or -1 when it is not known at load time. */
static int64_t const_int(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i) {
  const dycl_value_t* c = dycl_infer_const(ctx, node, i);
  if (!c || c->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_int(c->dtype) || c->numel != 1) return -1;
  return dycl_tensor_get_i64(c, 0);
}

/* n zero-filled doubles (dycl_kernel_scratch); *out is NULL on error. */
static dycl_status_t alloc_doubles(dycl_kctx_t* ctx, const dycl_node_t* node, int64_t n, double** out) {
  void* p;
  dycl_status_t s = dycl_kernel_scratch(ctx, node, n, sizeof(double), &p);
  *out = p;
  return s;
}

/* --------------------------------------------------------------- transform */

/* Plan for transforms of length n: twiddles w[k] = exp(-2 pi i k / n), interleaved re/im. */
typedef struct fft_plan {
  int64_t n;
  bool pow2;
  double* tw;      /* 2n */
  double* scratch; /* 2n */
} fft_plan_t;

static dycl_status_t fft_plan_init(dycl_kctx_t* ctx, const dycl_node_t* node, int64_t n, fft_plan_t* p) {
  memset(p, 0, sizeof *p);
  p->n = n;
  p->pow2 = n > 0 && (n & (n - 1)) == 0;
  int64_t n2;
  if (!dycl_mul_i64(n, 2, &n2)) return dycl_node_error(node, DYCL_CODE_LIMIT, "DFT length overflows");
  DYCL_RETURN_IF_ERROR(alloc_doubles(ctx, node, n2, &p->tw));
  dycl_status_t s = alloc_doubles(ctx, node, n2, &p->scratch);
  if (s) {
    dycl_free(ctx->alloc, p->tw);
    p->tw = NULL;
    return s;
  }
  for (int64_t k = 0; k < n; k++) {
    double a = -2.0 * PI * (double)k / (double)n;
    p->tw[2 * k] = cos(a);
    p->tw[2 * k + 1] = sin(a);
  }
  return NULL;
}

static void fft_plan_free(dycl_kctx_t* ctx, fft_plan_t* p) {
  dycl_free(ctx->alloc, p->tw);
  dycl_free(ctx->alloc, p->scratch);
}

/* In-place transform of a[0..n) (interleaved complex); the inverse divides by n. */
static void fft_run(fft_plan_t* p, double* a, bool inverse) {
  const int64_t n = p->n;
  const double sgn = inverse ? -1.0 : 1.0; /* conjugate twiddles for the inverse */
  if (n <= 1) return;
  if (p->pow2) {
    for (int64_t i = 1, j = 0; i < n; i++) { /* bit reversal */
      int64_t bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) {
        double tr = a[2 * i], ti = a[2 * i + 1];
        a[2 * i] = a[2 * j], a[2 * i + 1] = a[2 * j + 1];
        a[2 * j] = tr, a[2 * j + 1] = ti;
      }
    }
    for (int64_t len = 2; len <= n; len <<= 1) {
      int64_t half = len >> 1, step = n / len;
      for (int64_t i = 0; i < n; i += len) {
        for (int64_t k = 0; k < half; k++) {
          double wr = p->tw[2 * k * step], wi = sgn * p->tw[2 * k * step + 1];
          double* u = a + 2 * (i + k);
          double* v = a + 2 * (i + k + half);
          double xr = v[0] * wr - v[1] * wi, xi = v[0] * wi + v[1] * wr;
          v[0] = u[0] - xr, v[1] = u[1] - xi;
          u[0] += xr, u[1] += xi;
        }
      }
    }
  } else {
    double* o = p->scratch;
    for (int64_t j = 0; j < n; j++) {
      double sr = 0, si = 0;
      int64_t idx = 0; /* (j * k) mod n */
      for (int64_t k = 0; k < n; k++) {
        double wr = p->tw[2 * idx], wi = sgn * p->tw[2 * idx + 1];
        sr += a[2 * k] * wr - a[2 * k + 1] * wi;
        si += a[2 * k] * wi + a[2 * k + 1] * wr;
        idx += j;
        if (idx >= n) idx -= n;
      }
      o[2 * j] = sr, o[2 * j + 1] = si;
    }
    memcpy(a, o, (size_t)(2 * n) * sizeof(double));
  }
  if (inverse) {
    double s = 1.0 / (double)n;
    for (int64_t i = 0; i < 2 * n; i++) a[i] *= s;
  }
}

/* --------------------------------------------------------------------- DFT */

static dycl_status_t dft_axis(const dycl_node_t* node, int rank, int* axis) {
  int64_t a = dycl_attr_int(node, "axis", 1);
  if (a < 0) a += rank;
  if (a < 1 || a > rank - 2)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                           "axis %" PRId64 " must name a signal dimension (1..%d) of the rank-%d input",
                           dycl_attr_int(node, "axis", 1), rank - 2, rank);
  *axis = (int)a;
  return NULL;
}

dycl_status_t dycl_infer_DFT(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_index));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  bool onesided = dycl_attr_int(node, "onesided", 0) != 0;
  dycl_type_t t = dycl_type_tensor(x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, -1);
  if (x && x->known && x->rank >= 0) {
    if (x->rank < 3)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must have rank 3 or more ([batch, signal..., 1 or 2])");
    if (x->dims[x->rank - 1].v > 2 || x->dims[x->rank - 1].v == 0)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "the last dimension must be 1 (real) or 2 (complex)");
    int axis = 1;
    DYCL_RETURN_IF_ERROR(dft_axis(node, x->rank, &axis));
    t = *x;
    t.dims[x->rank - 1] = dycl_dim_const(2);
    int64_t n = -1;
    if (dycl_infer_in(ctx, node, 1)) n = const_int(ctx, node, 1);
    else n = x->dims[axis].v;
    if (n >= 0) t.dims[axis] = dycl_dim_const(onesided ? n / 2 + 1 : n);
    else if (onesided || dycl_infer_in(ctx, node, 1)) t.dims[axis] = dycl_dim_unknown();
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_DFT(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (!dycl_dtype_is_float(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be a floating-point tensor");
  const int r = x->rank;
  if (r < 3 || (x->dims[r - 1] != 1 && x->dims[r - 1] != 2))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be [batch, signal..., 1 or 2]");
  int axis = 1;
  DYCL_RETURN_IF_ERROR(dft_axis(node, r, &axis));
  bool onesided = dycl_attr_int(node, "onesided", 0) != 0;
  bool inverse = dycl_attr_int(node, "inverse", 0) != 0;
  int64_t n = x->dims[axis];
  if (nin > 1 && in[1]) {
    DYCL_RETURN_IF_ERROR(read_scalar_int(node, in[1], "dft_length", &n));
    if (n <= 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "dft_length must be positive, not %" PRId64, n);
  }
  const int64_t n_out = onesided ? n / 2 + 1 : n;
  const int64_t n_in = x->dims[axis] < n ? x->dims[axis] : n;
  const int64_t C = x->dims[r - 1];
  int64_t dims[DYCL_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)r);
  dims[axis] = n_out;
  dims[r - 1] = 2;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, r, dims, &out[0]));
  dycl_value_t* y = out[0];
  if (y->numel == 0) return NULL;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= x->dims[i];
  for (int i = axis + 1; i < r - 1; i++) inner *= x->dims[i];
  fft_plan_t plan;
  DYCL_RETURN_IF_ERROR(fft_plan_init(ctx, node, n, &plan));
  double* line = NULL;
  dycl_status_t st = alloc_doubles(ctx, node, 2 * n, &line);
  if (st) {
    fft_plan_free(ctx, &plan);
    return st;
  }
  const int64_t L = x->dims[axis];
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      memset(line, 0, (size_t)(2 * n) * sizeof(double));
      for (int64_t k = 0; k < n_in; k++) {
        int64_t src = ((o * L + k) * inner + i) * C;
        line[2 * k] = dycl_tensor_get_f64(x, src);
        if (C == 2) line[2 * k + 1] = dycl_tensor_get_f64(x, src + 1);
      }
      fft_run(&plan, line, inverse);
      for (int64_t k = 0; k < n_out; k++) {
        int64_t dst = ((o * n_out + k) * inner + i) * 2;
        dycl_tensor_set_f64(y, dst, line[2 * k]);
        dycl_tensor_set_f64(y, dst + 1, line[2 * k + 1]);
      }
    }
  }
  dycl_free(ctx->alloc, line);
  fft_plan_free(ctx, &plan);
  return NULL;
}

/* -------------------------------------------------------------------- STFT */

dycl_status_t dycl_infer_STFT(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_index));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 2, dycl_dtypes_float));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 3, dycl_dtypes_index));
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* w = dycl_infer_in(ctx, node, 2);
  if (w) DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, 2));
  if (!w && !dycl_infer_in(ctx, node, 3))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "STFT needs a window or a frame_length");
  bool onesided = dycl_attr_int(node, "onesided", 1) != 0;
  dycl_type_t t = dycl_type_tensor(x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED, 4);
  /* frame length: the constant frame_length, else the window's length */
  int64_t flen = dycl_infer_in(ctx, node, 3) ? const_int(ctx, node, 3) : -1;
  if (flen < 0 && w && w->known && w->rank == 1) flen = w->dims[0].v;
  int64_t step = const_int(ctx, node, 1);
  t.dims[0] = x && x->known && x->rank >= 1 ? x->dims[0] : dycl_dim_unknown();
  t.dims[1] = dycl_dim_unknown();
  if (x && x->known && x->rank >= 2 && x->dims[1].v >= 0 && flen > 0 && step > 0 && x->dims[1].v >= flen)
    t.dims[1] = dycl_dim_const((x->dims[1].v - flen) / step + 1);
  t.dims[2] = flen > 0 ? dycl_dim_const(onesided ? flen / 2 + 1 : flen) : dycl_dim_unknown();
  t.dims[3] = dycl_dim_const(2);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_STFT(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t* x = in[0];
  const dycl_value_t* w = nin > 2 ? in[2] : NULL;
  const dycl_value_t* fl = nin > 3 ? in[3] : NULL;
  if (!dycl_dtype_is_float(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "signal must be a floating-point tensor");
  if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "signal must be [batch, length, 1 or 2]");
  const int64_t batch = x->dims[0], L = x->dims[1], C = x->dims[2];
  int64_t step = 0;
  DYCL_RETURN_IF_ERROR(read_scalar_int(node, in[1], "frame_step", &step));
  if (step <= 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "frame_step must be positive, not %" PRId64, step);
  int64_t n = -1;
  if (w) {
    if (w->kind != DYCL_VALUE_TENSOR || w->rank != 1 || !dycl_dtype_is_float(w->dtype))
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "window must be a 1-D floating-point tensor");
    n = w->dims[0];
  }
  if (fl) {
    int64_t v = 0;
    DYCL_RETURN_IF_ERROR(read_scalar_int(node, fl, "frame_length", &v));
    if (n >= 0 && v != n)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "frame_length is %" PRId64 " but the window has %" PRId64 " values",
                             v, n);
    n = v;
  }
  if (n < 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "STFT needs a window or a frame_length");
  if (n == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "frame length must be positive");
  if (n > L)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "frame length %" PRId64 " exceeds the signal length %" PRId64, n, L);
  bool onesided = dycl_attr_int(node, "onesided", 1) != 0;
  const int64_t frames = (L - n) / step + 1;
  const int64_t bins = onesided ? n / 2 + 1 : n;
  int64_t dims[4] = {batch, frames, bins, 2};
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, 4, dims, &out[0]));
  dycl_value_t* y = out[0];
  if (y->numel == 0) return NULL;
  fft_plan_t plan;
  DYCL_RETURN_IF_ERROR(fft_plan_init(ctx, node, n, &plan));
  double* line = NULL;
  double* win = NULL;
  dycl_status_t st = alloc_doubles(ctx, node, 2 * n, &line);
  if (!st) st = alloc_doubles(ctx, node, n, &win);
  if (st) goto done;
  for (int64_t k = 0; k < n; k++) win[k] = w ? dycl_tensor_get_f64(w, k) : 1.0;
  for (int64_t b = 0; b < batch; b++) {
    for (int64_t f = 0; f < frames; f++) {
      for (int64_t k = 0; k < n; k++) {
        int64_t src = (b * L + f * step + k) * C;
        line[2 * k] = dycl_tensor_get_f64(x, src) * win[k];
        line[2 * k + 1] = C == 2 ? dycl_tensor_get_f64(x, src + 1) * win[k] : 0.0;
      }
      fft_run(&plan, line, false);
      for (int64_t k = 0; k < bins; k++) {
        int64_t dst = ((b * frames + f) * bins + k) * 2;
        dycl_tensor_set_f64(y, dst, line[2 * k]);
        dycl_tensor_set_f64(y, dst + 1, line[2 * k + 1]);
      }
    }
  }
done:
  dycl_free(ctx->alloc, line);
  dycl_free(ctx->alloc, win);
  fft_plan_free(ctx, &plan);
  return st;
}

/* ----------------------------------------------------------------- windows */

static dycl_status_t out_datatype(const dycl_node_t* node, dycl_dtype_t* dt) {
  int64_t v = dycl_attr_int(node, "output_datatype", DYCL_DTYPE_FLOAT32);
  if (!dycl_dtype_is_valid((int)v) || v == DYCL_DTYPE_UNDEFINED || v == DYCL_DTYPE_STRING || v == DYCL_DTYPE_BOOL)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "output_datatype %" PRId64 " is not a numeric type", v);
  *dt = (dycl_dtype_t)v;
  return NULL;
}

dycl_status_t dycl_infer_window(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_index));
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(out_datatype(node, &dt));
  dycl_type_t t = dycl_type_tensor(dt, 1);
  int64_t size = const_int(ctx, node, 0);
  if (size >= 0) t.dims[0] = dycl_dim_const(size);
  return dycl_infer_set(ctx, node, 0, &t);
}

/* w[k] = a0 - a1 cos(2 pi k / N) + a2 cos(4 pi k / N), N = size (periodic) or size - 1. */
static dycl_status_t run_window(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, double a0, double a1, double a2) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  int64_t size = 0;
  DYCL_RETURN_IF_ERROR(read_scalar_int(node, in[0], "size", &size));
  if (size < 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "size must not be negative, not %" PRId64, size);
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(out_datatype(node, &dt));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, 1, &size, &out[0]));
  bool periodic = dycl_attr_int(node, "periodic", 1) != 0;
  int64_t N = periodic ? size : size - 1;
  for (int64_t k = 0; k < size; k++) {
    double v = 1.0;
    if (N > 0) {
      double ph = 2.0 * PI * (double)k / (double)N;
      v = a0 - a1 * cos(ph) + a2 * cos(2.0 * ph);
    }
    dycl_tensor_set_f64(out[0], k, v);
  }
  return NULL;
}

dycl_status_t dycl_run_BlackmanWindow(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                      dycl_value_t** out, int nout) {
  (void)nout;
  return run_window(ctx, node, in, nin, out, 0.42, 0.5, 0.08);
}
dycl_status_t dycl_run_HammingWindow(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                     dycl_value_t** out, int nout) {
  (void)nout;
  return run_window(ctx, node, in, nin, out, 25.0 / 46.0, 21.0 / 46.0, 0.0);
}
dycl_status_t dycl_run_HannWindow(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                  dycl_value_t** out, int nout) {
  (void)nout;
  return run_window(ctx, node, in, nin, out, 0.5, 0.5, 0.0);
}

/* ---------------------------------------------------------- MelWeightMatrix */

dycl_status_t dycl_infer_MelWeightMatrix(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  for (int i = 0; i < 3; i++) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, dycl_dtypes_index));
  for (int i = 3; i < 5; i++) DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, dycl_dtypes_float));
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(out_datatype(node, &dt));
  dycl_type_t t = dycl_type_tensor(dt, 2);
  int64_t mel = const_int(ctx, node, 0), dft = const_int(ctx, node, 1);
  if (dft >= 0) t.dims[0] = dycl_dim_const(dft / 2 + 1);
  if (mel >= 0) t.dims[1] = dycl_dim_const(mel);
  return dycl_infer_set(ctx, node, 0, &t);
}

/* Follows the ONNX reference: num_mel_bins + 2 points evenly spaced on the mel scale between the
 * edges, mapped to spectrogram bins floor((dft_length + 1) * hz / sample_rate), and a triangle of
 * peak 1 per mel bin. The edge mels are computed in the precision of the edge inputs. */
dycl_status_t dycl_run_MelWeightMatrix(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                       dycl_value_t** out, int nout) {
  (void)nout;
  for (int i = 0; i < 5; i++) DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
  int64_t n_mel = 0, dft_len = 0, rate = 0;
  double lo = 0, hi = 0;
  DYCL_RETURN_IF_ERROR(read_scalar_int(node, in[0], "num_mel_bins", &n_mel));
  DYCL_RETURN_IF_ERROR(read_scalar_int(node, in[1], "dft_length", &dft_len));
  DYCL_RETURN_IF_ERROR(read_scalar_int(node, in[2], "sample_rate", &rate));
  DYCL_RETURN_IF_ERROR(read_scalar_float(node, in[3], "lower_edge_hertz", &lo));
  DYCL_RETURN_IF_ERROR(read_scalar_float(node, in[4], "upper_edge_hertz", &hi));
  if (n_mel <= 0 || dft_len <= 0 || rate <= 0)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "num_mel_bins, dft_length and sample_rate must be positive");
  if (n_mel > (int64_t)1 << 30) return dycl_node_error(node, DYCL_CODE_LIMIT, "num_mel_bins is too large");
  dycl_dtype_t dt = DYCL_DTYPE_UNDEFINED;
  DYCL_RETURN_IF_ERROR(out_datatype(node, &dt));
  const int64_t n_spec = dft_len / 2 + 1;
  int64_t dims[2] = {n_spec, n_mel};
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, 2, dims, &out[0]));
  dycl_value_t* y = out[0];
  double* w = NULL;
  double* fb = NULL;
  int64_t numel = y->numel;
  DYCL_RETURN_IF_ERROR(alloc_doubles(ctx, node, numel, &w));
  dycl_status_t st = alloc_doubles(ctx, node, n_mel + 2, &fb);
  if (st) {
    dycl_free(ctx->alloc, w);
    return st;
  }
  double lo_mel, step;
  if (in[3]->dtype == DYCL_DTYPE_FLOAT64 || in[4]->dtype == DYCL_DTYPE_FLOAT64) {
    lo_mel = 2595.0 * log10(1.0 + lo / 700.0);
    double hi_mel = 2595.0 * log10(1.0 + hi / 700.0);
    step = (hi_mel - lo_mel) / (double)(n_mel + 2);
  } else {
    float l = 2595.0f * log10f(1.0f + (float)lo / 700.0f);
    float h = 2595.0f * log10f(1.0f + (float)hi / 700.0f);
    lo_mel = l;
    step = (float)((h - l) / (float)(n_mel + 2));
  }
  int64_t* bin = (int64_t*)fb; /* reuse: doubles and int64 have the same size */
  for (int64_t i = 0; i < n_mel + 2; i++) {
    double mel = (double)i * step + lo_mel;
    double hz = 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
    double b = floor(((double)(dft_len + 1) * hz) / (double)rate);
    bin[i] = isfinite(b) && fabs(b) < 9e18 ? (int64_t)b : -1;
  }
  for (int64_t i = 0; i < n_mel; i++) {
    int64_t left = bin[i], center = bin[i + 1], right = bin[i + 2];
    int64_t low_to_center = center - left;
    /* indices outside the spectrogram (edges above the Nyquist frequency) are dropped */
    if (low_to_center == 0) {
      if (center >= 0 && center < n_spec) w[center * n_mel + i] = 1.0;
    } else {
      int64_t j0 = left > 0 ? left : 0, j1 = center < n_spec - 1 ? center : n_spec - 1;
      for (int64_t j = j0; j <= j1; j++) w[j * n_mel + i] = (double)(j - left) / (double)low_to_center;
    }
    int64_t center_to_high = right - center;
    if (center_to_high > 0) {
      int64_t j0 = center > 0 ? center : 0, j1 = right < n_spec ? right : n_spec;
      for (int64_t j = j0; j < j1; j++) w[j * n_mel + i] = (double)(right - j) / (double)center_to_high;
    }
  }
  for (int64_t k = 0; k < numel; k++) dycl_tensor_set_f64(y, k, w[k]);
  dycl_free(ctx->alloc, w);
  dycl_free(ctx->alloc, fb);
  return NULL;
}
