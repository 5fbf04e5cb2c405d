/* Operators along one axis: Softmax, LogSoftmax, Hardmax, CumSum, TopK.
 *
 * Softmax/LogSoftmax/Hardmax before opset 13 coerce the input to 2-D [prod(dims[:axis]),
 * prod(dims[axis:])] (default axis 1) and work on the second dim; from opset 13 they work along
 * `axis` alone (default -1). TopK orders equal values by lower index first, and treats NaN as
 * larger than every number. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elementwise_internal.h"
#include "ops/op.h"

/* ------------------------------------------------------ Softmax, LogSoftmax, Hardmax */

typedef enum smop { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX } smop_t;

/* outer/n/inner of the softmax axis (the coerced 2-D form before opset 13). */
static dycl_status_t softmax_geometry(const dycl_node_t* node, int rank, const int64_t* dims, int64_t* outer,
                                      int64_t* n, int64_t* inner, dycl_code_t code) {
  bool old = node->opset < 13;
  *outer = *n = *inner = 1;
  int64_t axis = dycl_attr_int(node, "axis", old ? 1 : -1);
  int r = rank;
  if (old && rank == 0) r = 1;
  if (axis < -r || axis >= r + (old ? 1 : 0) || (!old && rank == 0))
    return dycl_node_error(node, code, "axis %" PRId64 " is out of range for rank %d", axis, rank);
  if (axis < 0) axis += r;
  if (!dims) return NULL;
  for (int d = 0; d < axis && d < rank; d++) *outer *= dims[d];
  if (old) {
    for (int d = (int)axis; d < rank; d++) *n *= dims[d];
  } else {
    *n = dims[axis];
    for (int d = (int)axis + 1; d < rank; d++) *inner *= dims[d];
  }
  return NULL;
}

static void softmax_finish(smop_t op, double* b, int64_t m, const double* mx, const double* sm, int64_t k,
                           const int64_t* arg, int64_t mstep) {
  /* b[j] for one row at position k along the axis; mx/sm/arg per column (mstep 1) or shared (0) */
  switch (op) {
    case SM_SOFTMAX:
      for (int64_t j = 0; j < m; j++) b[j] = exp(b[j] - mx[j * mstep]) / sm[j * mstep];
      break;
    case SM_LOGSOFTMAX:
      for (int64_t j = 0; j < m; j++) b[j] = b[j] - mx[j * mstep] - log(sm[j * mstep]);
      break;
    case SM_HARDMAX:
      for (int64_t j = 0; j < m; j++) b[j] = arg[j * mstep] == k + j * (1 - mstep) ? 1.0 : 0.0;
      break;
  }
}

static dycl_status_t run_softmax(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                 dycl_value_t** out, smop_t op) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (!dycl_dtype_is_float(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be floating point, not %s", dycl_dtype_name(x->dtype));
  int64_t outer, n, inner;
  DYCL_RETURN_IF_ERROR(softmax_geometry(node, x->rank, x->dims, &outer, &n, &inner, DYCL_CODE_RUNTIME));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, x->dims, &out[0]));
  dycl_value_t* y = out[0];
  if (x->numel == 0) return NULL;
  double b[EW_BLOCK], mx[EW_BLOCK], sm[EW_BLOCK];
  int64_t arg[EW_BLOCK];
  for (int64_t o = 0; o < outer; o++) {
    int64_t base = o * n * inner;
    if (inner == 1) {
      /* one contiguous slice of n: passes over chunks */
      double m1 = -INFINITY, s1 = 0;
      int64_t a1 = 0;
      bool first = true;
      for (int64_t k0 = 0; k0 < n; k0 += EW_BLOCK) {
        int64_t m = n - k0 < EW_BLOCK ? n - k0 : EW_BLOCK;
        dycl_ew_load_f64(x, base + k0, 1, m, b);
        for (int64_t j = 0; j < m; j++) {
          if (first || b[j] > m1 || (isnan(b[j]) && !isnan(m1))) {
            m1 = b[j];
            a1 = k0 + j;
          }
          first = false;
        }
      }
      if (op != SM_HARDMAX) {
        for (int64_t k0 = 0; k0 < n; k0 += EW_BLOCK) {
          int64_t m = n - k0 < EW_BLOCK ? n - k0 : EW_BLOCK;
          dycl_ew_load_f64(x, base + k0, 1, m, b);
          for (int64_t j = 0; j < m; j++) s1 += exp(b[j] - m1);
        }
      }
      for (int64_t k0 = 0; k0 < n; k0 += EW_BLOCK) {
        int64_t m = n - k0 < EW_BLOCK ? n - k0 : EW_BLOCK;
        dycl_ew_load_f64(x, base + k0, 1, m, b);
        softmax_finish(op, b, m, &m1, &s1, k0, &a1, 0);
        dycl_ew_store_f64(y, base + k0, m, b);
      }
      continue;
    }
    for (int64_t j0 = 0; j0 < inner; j0 += EW_BLOCK) {
      int64_t m = inner - j0 < EW_BLOCK ? inner - j0 : EW_BLOCK;
      for (int64_t k = 0; k < n; k++) {
        dycl_ew_load_f64(x, base + k * inner + j0, 1, m, b);
        for (int64_t j = 0; j < m; j++) {
          if (k == 0 || b[j] > mx[j] || (isnan(b[j]) && !isnan(mx[j]))) {
            mx[j] = b[j];
            arg[j] = k;
          }
        }
      }
      if (op != SM_HARDMAX) {
        for (int64_t j = 0; j < m; j++) sm[j] = 0;
        for (int64_t k = 0; k < n; k++) {
          dycl_ew_load_f64(x, base + k * inner + j0, 1, m, b);
          for (int64_t j = 0; j < m; j++) sm[j] += exp(b[j] - mx[j]);
        }
      }
      for (int64_t k = 0; k < n; k++) {
        dycl_ew_load_f64(x, base + k * inner + j0, 1, m, b);
        softmax_finish(op, b, m, mx, sm, k, arg, 1);
        dycl_ew_store_f64(y, base + k * inner + j0, m, b);
      }
    }
  }
  return NULL;
}

dycl_status_t dycl_run_Softmax(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  (void)nout;
  return run_softmax(ctx, node, in, nin, out, SM_SOFTMAX);
}
dycl_status_t dycl_run_LogSoftmax(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                  dycl_value_t** out, int nout) {
  (void)nout;
  return run_softmax(ctx, node, in, nin, out, SM_LOGSOFTMAX);
}
dycl_status_t dycl_run_Hardmax(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                               dycl_value_t** out, int nout) {
  (void)nout;
  return run_softmax(ctx, node, in, nin, out, SM_HARDMAX);
}

/* ------------------------------------------------------ CumSum */

/* One step of a running sum: *v becomes the sum so far, including itself (or, `excl`, excluding
 * itself). Integers wrap. */
static inline void scan_f64(double* v, double* acc, bool excl) {
  double x = *v;
  if (excl) {
    *v = *acc;
    *acc += x;
  } else {
    *acc += x;
    *v = *acc;
  }
}

static inline void scan_i64(int64_t* v, int64_t* acc, bool excl) {
  int64_t x = *v;
  if (excl) {
    *v = *acc;
    *acc = (int64_t)((uint64_t)*acc + (uint64_t)x);
  } else {
    *acc = (int64_t)((uint64_t)*acc + (uint64_t)x);
    *v = *acc;
  }
}

dycl_status_t dycl_run_CumSum(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t* x = in[0];
  if (!dycl_dtype_is_float(x->dtype) && !dycl_dtype_is_int(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "element type %s is not supported", dycl_dtype_name(x->dtype));
  if (in[1]->numel != 1 || in[1]->rank > 1 || !dycl_dtype_is_int(in[1]->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "axis must be an integer scalar");
  int64_t a;
  dycl_ew_load_i64(in[1], 0, 0, 1, &a);
  int axis;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, a, x->rank, &axis));
  bool excl = dycl_attr_int(node, "exclusive", 0) != 0, rev = dycl_attr_int(node, "reverse", 0) != 0;
  int64_t outer = 1, n = x->dims[axis], inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, x->dims, &out[0]));
  dycl_value_t* y = out[0];
  if (x->numel == 0) return NULL;
  bool fdom = dycl_dtype_is_float(x->dtype), u64 = x->dtype == DYCL_DTYPE_UINT64;
  double fb[EW_BLOCK], facc[EW_BLOCK];
  int64_t ib[EW_BLOCK], iacc[EW_BLOCK];
  /* Rows are `inner` columns wide (blocks of at most EW_BLOCK); along the axis step by `inner`.
   * With inner == 1 the slice is contiguous: walk it in chunks, one accumulator. */
  int64_t cols = inner == 1 ? 1 : inner;
  for (int64_t o = 0; o < outer; o++) {
    int64_t base = o * n * inner;
    if (inner == 1) {
      double fs = 0;
      int64_t is = 0;
      int64_t nchunks = (n + EW_BLOCK - 1) / EW_BLOCK;
      for (int64_t c = 0; c < nchunks; c++) {
        int64_t ci = rev ? nchunks - 1 - c : c, k0 = ci * EW_BLOCK;
        int64_t m = n - k0 < EW_BLOCK ? n - k0 : EW_BLOCK;
        if (fdom) dycl_ew_load_f64(x, base + k0, 1, m, fb);
        else dycl_ew_load_i64(x, base + k0, 1, m, ib);
        for (int64_t t = 0; t < m; t++) {
          int64_t j = rev ? m - 1 - t : t;
          if (fdom) scan_f64(&fb[j], &fs, excl);
          else scan_i64(&ib[j], &is, excl);
        }
        if (fdom) dycl_ew_store_f64(y, base + k0, m, fb);
        else dycl_ew_store_i64(y, base + k0, m, ib, u64);
      }
      continue;
    }
    for (int64_t j0 = 0; j0 < cols; j0 += EW_BLOCK) {
      int64_t m = cols - j0 < EW_BLOCK ? cols - j0 : EW_BLOCK;
      for (int64_t j = 0; j < m; j++) facc[j] = 0, iacc[j] = 0;
      for (int64_t t = 0; t < n; t++) {
        int64_t k = rev ? n - 1 - t : t, off = base + k * inner + j0;
        if (fdom) {
          dycl_ew_load_f64(x, off, 1, m, fb);
          for (int64_t j = 0; j < m; j++) scan_f64(&fb[j], &facc[j], excl);
          dycl_ew_store_f64(y, off, m, fb);
        } else {
          dycl_ew_load_i64(x, off, 1, m, ib);
          for (int64_t j = 0; j < m; j++) scan_i64(&ib[j], &iacc[j], excl);
          dycl_ew_store_i64(y, off, m, ib, u64);
        }
      }
    }
  }
  return NULL;
}

/* ------------------------------------------------------ TopK */

typedef struct tk_entry {
  double f;
  int64_t i;
  int64_t idx;
} tk_entry_t;

/* "a comes first" orderings; ties by lower index. NaN is above every number. */
static int tk_cmp_f_large(const void* pa, const void* pb) {
  const tk_entry_t *a = pa, *b = pb;
  bool an = isnan(a->f), bn = isnan(b->f);
  if (an != bn) return an ? -1 : 1;
  if (!an && a->f != b->f) return a->f > b->f ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}
static int tk_cmp_f_small(const void* pa, const void* pb) {
  const tk_entry_t *a = pa, *b = pb;
  bool an = isnan(a->f), bn = isnan(b->f);
  if (an != bn) return an ? 1 : -1;
  if (!an && a->f != b->f) return a->f < b->f ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}
static int tk_cmp_i_large(const void* pa, const void* pb) {
  const tk_entry_t *a = pa, *b = pb;
  if (a->i != b->i) return a->i > b->i ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}
static int tk_cmp_i_small(const void* pa, const void* pb) {
  const tk_entry_t *a = pa, *b = pb;
  if (a->i != b->i) return a->i < b->i ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}
static int tk_cmp_u_large(const void* pa, const void* pb) {
  const tk_entry_t *a = pa, *b = pb;
  if (a->i != b->i) return (uint64_t)a->i > (uint64_t)b->i ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}
static int tk_cmp_u_small(const void* pa, const void* pb) {
  const tk_entry_t *a = pa, *b = pb;
  if (a->i != b->i) return (uint64_t)a->i < (uint64_t)b->i ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static dycl_status_t topk_k(const dycl_node_t* node, dycl_value_t* const* in, int nin, int64_t* k) {
  if (node->opset < 10) {
    if (!dycl_node_attr(node, "k")) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'k'");
    *k = dycl_attr_int(node, "k", 0);
    return NULL;
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  if (in[1]->numel != 1 || in[1]->rank > 1 || !dycl_dtype_is_int(in[1]->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "K must be a 1-D integer tensor with one value");
  dycl_ew_load_i64(in[1], 0, 0, 1, k);
  return NULL;
}

dycl_status_t dycl_run_TopK(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (!dycl_dtype_is_float(x->dtype) && !dycl_dtype_is_int(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "element type %s is not supported", dycl_dtype_name(x->dtype));
  int64_t k;
  DYCL_RETURN_IF_ERROR(topk_k(node, in, nin, &k));
  int axis;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", -1), x->rank, &axis));
  int64_t n = x->dims[axis], outer = 1, inner = 1;
  if (k < 0 || k > n)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "K = %" PRId64 " is out of range for an axis of %" PRId64, k, n);
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  bool largest = dycl_attr_int(node, "largest", 1) != 0;
  int64_t odims[DYCL_MAX_RANK];
  memcpy(odims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  odims[axis] = k;
  bool want_v = node->n_out > 0 && node->out[0] >= 0, want_i = node->n_out > 1 && node->out[1] >= 0;
  if (want_v) DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, odims, &out[0]));
  if (want_i) DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, x->rank, odims, &out[1]));
  if (k == 0 || outer * inner == 0) return NULL;
  bool fdom = dycl_dtype_is_float(x->dtype), u64 = x->dtype == DYCL_DTYPE_UINT64;
  int (*cmp)(const void*, const void*) = fdom ? (largest ? tk_cmp_f_large : tk_cmp_f_small)
                                         : u64 ? (largest ? tk_cmp_u_large : tk_cmp_u_small)
                                               : (largest ? tk_cmp_i_large : tk_cmp_i_small);
  size_t bytes;
  if (!dycl_mul_size((size_t)n, sizeof(tk_entry_t) + sizeof(double) + sizeof(int64_t), &bytes))
    return dycl_node_error(node, DYCL_CODE_LIMIT, "axis too long");
  tk_entry_t* e = dycl_malloc(ctx->alloc, bytes);
  if (!e) return dycl_error_nomem();
  double* fb = (double*)(e + n);
  int64_t* ib = (int64_t*)(fb + n);
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t j = 0; j < inner; j++) {
      int64_t base = o * n * inner + j;
      if (fdom) dycl_ew_load_f64(x, base, inner, n, fb);
      else dycl_ew_load_i64(x, base, inner, n, ib);
      if (k * 16 <= n) {
        /* small K: keep the best K in order, inserting each better element (ties keep the
         * lower index because elements come in index order) */
        int64_t cnt = 0;
        for (int64_t t = 0; t < n; t++) {
          tk_entry_t c = {fdom ? fb[t] : 0, fdom ? 0 : ib[t], t};
          if (cnt == k && cmp(&c, &e[k - 1]) >= 0) continue;
          int64_t lo = 0, hi = cnt; /* first position whose entry c precedes */
          while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (cmp(&c, &e[mid]) < 0) hi = mid;
            else lo = mid + 1;
          }
          int64_t last = cnt < k ? cnt : k - 1;
          memmove(&e[lo + 1], &e[lo], sizeof *e * (size_t)(last - lo));
          e[lo] = c;
          if (cnt < k) cnt++;
        }
      } else {
        for (int64_t t = 0; t < n; t++) {
          e[t].f = fdom ? fb[t] : 0;
          e[t].i = fdom ? 0 : ib[t];
          e[t].idx = t;
        }
        qsort(e, (size_t)n, sizeof *e, cmp);
      }
      for (int64_t r = 0; r < k; r++) {
        int64_t dst = (o * k + r) * inner + j;
        if (want_v) dycl_tensor_copy_elem(out[0], dst, x, base + e[r].idx * inner);
        if (want_i) ((int64_t*)out[1]->data)[dst] = e[r].idx;
      }
    }
  }
  dycl_free(ctx->alloc, e);
  return NULL;
}

/* ------------------------------------------------------ inference */

dycl_status_t dycl_infer_ew_softmax(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_ew_infer_input0(ctx, node, dycl_dtypes_float, &t));
  if (t.rank >= 0) {
    int64_t o, n, i;
    DYCL_RETURN_IF_ERROR(softmax_geometry(node, t.rank, NULL, &o, &n, &i, DYCL_CODE_INVALID_MODEL));
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_infer_CumSum(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_ew_infer_input0(ctx, node, dycl_ew_numeric_types, &t));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_index));
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_infer_TopK(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_ew_infer_input0(ctx, node, dycl_ew_numeric_types, &t));
  int64_t k = -1;
  if (node->opset < 10) {
    if (!dycl_node_attr(node, "k")) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "missing attribute 'k'");
    k = dycl_attr_int(node, "k", 0);
  } else {
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_int64));
    const dycl_value_t* c = dycl_infer_const(ctx, node, 1);
    if (c && c->kind == DYCL_VALUE_TENSOR && c->numel == 1 && dycl_dtype_is_int(c->dtype))
      dycl_ew_load_i64(c, 0, 0, 1, &k);
  }
  if (node->opset >= 10 && dycl_infer_const(ctx, node, 1) && k < 0)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "K must be a non-negative scalar");
  if (t.rank >= 0) {
    int axis;
    int64_t a = dycl_attr_int(node, "axis", -1);
    DYCL_RETURN_IF_ERROR(dycl_kernel_axis_code(node, DYCL_CODE_INVALID_MODEL, a, t.rank, &axis));
    if (k >= 0 && t.dims[axis].v >= 0 && k > t.dims[axis].v)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "K = %lld is larger than the axis (%lld)", (long long)k,
                             (long long)t.dims[axis].v);
    t.dims[axis] = k >= 0 ? dycl_dim_const(k) : dycl_dim_unknown();
  }
  DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, 0, &t));
  t.dtype = DYCL_DTYPE_INT64;
  return dycl_infer_set(ctx, node, 1, &t);
}
