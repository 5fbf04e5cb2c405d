/* Reductions: ReduceSum/Mean/Prod/Max/Min/L1/L2/SumSquare/LogSum/LogSumExp and ArgMax/ArgMin.
 *
 * Axes come from the `axes` attribute, or from input 1 (ReduceSum from opset 13, the others from
 * opset 18); no axes means all of them, or nothing at all with noop_with_empty_axes=1 (input form
 * only). Floating data accumulates in double; integer data in int64 (wrapping), except L2,
 * LogSum and LogSumExp, computed in double. Empty reductions give the identity of the operation:
 * 0 for sums, 1 for products, the lowest value for Max (-inf for floats), the highest for Min,
 * -inf for LogSum/LogSumExp and NaN for the Mean of floats. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/elementwise_internal.h"
#include "ops/op.h"

typedef enum rop { R_SUM, R_MEAN, R_PROD, R_MAX, R_MIN, R_L1, R_L2, R_SUMSQ, R_LOGSUM, R_LOGSUMEXP } rop_t;

/* ------------------------------------------------------ axes */

/* Whether the axes come from input 1 for this node (and so noop_with_empty_axes applies). */
static bool axes_from_input(const dycl_node_t* node) {
  return strcmp(node->op_type, "ReduceSum") == 0 ? node->opset >= 13 : node->opset >= 18;
}

/* Marks the reduced dims. `*noop` is set when nothing is reduced (noop_with_empty_axes). */
static dycl_status_t reduce_axes_of(const dycl_node_t* node, const int64_t* axes, int n, bool given, int rank,
                                    dycl_code_t code, bool* red, bool* noop) {
  *noop = false;
  for (int d = 0; d < rank; d++) red[d] = false;
  if (!given || n == 0) {
    if (axes_from_input(node) && dycl_attr_int(node, "noop_with_empty_axes", 0)) *noop = true;
    else
      for (int d = 0; d < rank; d++) red[d] = true;
    return NULL;
  }
  for (int k = 0; k < n; k++) {
    int64_t a = axes[k] < 0 ? axes[k] + rank : axes[k];
    if (a < 0 || a >= rank)
      return dycl_node_error(node, code, "axis %" PRId64 " is out of range for rank %d", axes[k], rank);
    if (red[a]) return dycl_node_error(node, code, "axis %" PRId64 " is repeated", axes[k]);
    red[a] = true;
  }
  return NULL;
}

static dycl_status_t reduce_axes_run(const dycl_node_t* node, dycl_value_t* const* in, int nin, int rank, bool* red,
                                     bool* noop) {
  int64_t axes[DYCL_MAX_RANK * 2];
  int n = 0;
  bool given = false;
  if (axes_from_input(node) || (nin > 1 && in[1])) {
    if (nin > 1 && in[1]) {
      DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, in[1], axes, DYCL_MAX_RANK * 2, &n));
      given = true;
    }
  } else {
    const int64_t* a = dycl_attr_ints(node, "axes", &n);
    if (n > DYCL_MAX_RANK * 2) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "too many axes");
    for (int k = 0; k < n; k++) axes[k] = a[k];
    given = a != NULL;
  }
  return reduce_axes_of(node, axes, n, given, rank, DYCL_CODE_RUNTIME, red, noop);
}

/* ------------------------------------------------------ iteration */

/* The input viewed as coalesced dims, each reduced or kept, and the output strides. */
typedef struct rview {
  int rank;
  int64_t dims[DYCL_MAX_RANK];
  bool red[DYCL_MAX_RANK];
  int64_t ost[DYCL_MAX_RANK];
} rview_t;

static void rview_setup(rview_t* v, int rank, const int64_t* dims, const bool* red) {
  int r = 0;
  for (int d = 0; d < rank; d++) {
    if (dims[d] == 1) continue;
    if (r > 0 && v->red[r - 1] == red[d]) {
      v->dims[r - 1] *= dims[d];
      continue;
    }
    v->dims[r] = dims[d];
    v->red[r] = red[d];
    r++;
  }
  if (r == 0) {
    v->dims[0] = 1;
    v->red[0] = false;
    r = 1;
  }
  v->rank = r;
  int64_t s = 1;
  for (int d = r - 1; d >= 0; d--) {
    if (v->red[d]) {
      v->ost[d] = 0;
    } else {
      v->ost[d] = s;
      s *= v->dims[d];
    }
  }
}

/* Calls BODY for each input row: `ioff` (input flat offset), `ooff` (output offset), `len`, and
 * `ostep` (0: the row folds into one output; 1: one output per element). */
#define RVIEW_FOR_ROWS(v, numel, BODY)                                                 \
  do {                                                                                 \
    int64_t len = (v)->dims[(v)->rank - 1], ostep = (v)->ost[(v)->rank - 1];           \
    int64_t idx_[DYCL_MAX_RANK] = {0}, ooff = 0;                                       \
    int64_t rows_ = (numel) / len;                                                     \
    for (int64_t row_ = 0; row_ < rows_; row_++) {                                     \
      int64_t ioff = row_ * len;                                                       \
      BODY;                                                                            \
      for (int d_ = (v)->rank - 2; d_ >= 0; d_--) {                                    \
        idx_[d_]++;                                                                    \
        ooff += (v)->ost[d_];                                                          \
        if (idx_[d_] < (v)->dims[d_]) break;                                           \
        ooff -= (v)->ost[d_] * (v)->dims[d_];                                          \
        idx_[d_] = 0;                                                                  \
      }                                                                                \
    }                                                                                  \
  } while (0)

/* Type range of integer dtypes, as int64 (uint64: bits). */
static void int_range(dycl_dtype_t t, int64_t* lo, int64_t* hi) {
  switch (t) {
    case DYCL_DTYPE_UINT8: *lo = 0, *hi = UINT8_MAX; break;
    case DYCL_DTYPE_INT8: *lo = INT8_MIN, *hi = INT8_MAX; break;
    case DYCL_DTYPE_UINT16: *lo = 0, *hi = UINT16_MAX; break;
    case DYCL_DTYPE_INT16: *lo = INT16_MIN, *hi = INT16_MAX; break;
    case DYCL_DTYPE_UINT32: *lo = 0, *hi = UINT32_MAX; break;
    case DYCL_DTYPE_INT32: *lo = INT32_MIN, *hi = INT32_MAX; break;
    case DYCL_DTYPE_UINT64: *lo = 0, *hi = -1; break;
    default: *lo = INT64_MIN, *hi = INT64_MAX; break;
  }
}

/* ------------------------------------------------------ float reduction */

static void fold_f64(rop_t op, double* acc, const double* x, int64_t n, int64_t ostep, const double* mx) {
  /* acc[ostep * j] op= f(x[j]); mx: per-output max for LogSumExp */
#define FOLD(EXPR)                                  \
  for (int64_t j = 0; j < n; j++) {                 \
    double* a = &acc[ostep * j];                    \
    double v = x[j];                                \
    EXPR;                                           \
  }                                                 \
  break
  switch (op) {
    case R_SUM: case R_MEAN: case R_LOGSUM: FOLD(*a += v);
    case R_PROD: FOLD(*a *= v);
    case R_MAX: FOLD(if (isnan(v) || v > *a) *a = v);
    case R_MIN: FOLD(if (isnan(v) || v < *a) *a = v);
    case R_L1: FOLD(*a += fabs(v));
    case R_L2: case R_SUMSQ: FOLD(*a += v * v);
    case R_LOGSUMEXP: {
      for (int64_t j = 0; j < n; j++) {
        double m = mx[ostep * j];
        if (!isinf(m) && !isnan(m)) acc[ostep * j] += exp(x[j] - m);
      }
      break;
    }
  }
#undef FOLD
}

static dycl_status_t reduce_f64(dycl_kctx_t* ctx, rop_t op, const dycl_value_t* x,
                                const rview_t* v, dycl_value_t* y, int64_t count) {
  int64_t on = y->numel;
  double* acc = dycl_calloc(ctx->alloc, (size_t)(on ? on : 1), sizeof(double) * (op == R_LOGSUMEXP ? 2 : 1));
  if (!acc) return dycl_error_nomem();
  double* mx = op == R_LOGSUMEXP ? acc + on : NULL;
  double init = op == R_PROD ? 1.0 : op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : 0.0;
  for (int64_t i = 0; i < on; i++) acc[i] = init;
  double buf[EW_BLOCK];
  if (x->numel > 0) {
    if (mx) {
      for (int64_t i = 0; i < on; i++) mx[i] = -INFINITY;
      RVIEW_FOR_ROWS(v, x->numel, {
        for (int64_t j0 = 0; j0 < len; j0 += EW_BLOCK) {
          int64_t m = len - j0 < EW_BLOCK ? len - j0 : EW_BLOCK;
          dycl_ew_load_f64(x, ioff + j0, 1, m, buf);
          fold_f64(R_MAX, mx + ooff + ostep * j0, buf, m, ostep, NULL);
        }
      });
    }
    RVIEW_FOR_ROWS(v, x->numel, {
      for (int64_t j0 = 0; j0 < len; j0 += EW_BLOCK) {
        int64_t m = len - j0 < EW_BLOCK ? len - j0 : EW_BLOCK;
        dycl_ew_load_f64(x, ioff + j0, 1, m, buf);
        fold_f64(op, acc + ooff + ostep * j0, buf, m, ostep, mx ? mx + ooff + ostep * j0 : NULL);
      }
    });
  }
  for (int64_t i = 0; i < on; i++) {
    switch (op) {
      case R_MEAN: acc[i] /= (double)count; break;
      case R_L2: acc[i] = sqrt(acc[i]); break;
      case R_LOGSUM: acc[i] = log(acc[i]); break;
      case R_LOGSUMEXP:
        acc[i] = count == 0 ? -INFINITY : (isinf(mx[i]) || isnan(mx[i])) ? mx[i] : mx[i] + log(acc[i]);
        break;
      default: break;
    }
  }
  dycl_ew_store_f64(y, 0, on, acc);
  dycl_free(ctx->alloc, acc);
  return NULL;
}

/* ------------------------------------------------------ integer reduction */

static void fold_i64(rop_t op, bool u64, int64_t* acc, const int64_t* x, int64_t n, int64_t ostep) {
#define FOLD(EXPR)                                  \
  for (int64_t j = 0; j < n; j++) {                 \
    int64_t* a = &acc[ostep * j];                   \
    int64_t v = x[j];                               \
    EXPR;                                           \
  }                                                 \
  break
  switch (op) {
    case R_SUM: case R_MEAN: FOLD(*a = (int64_t)((uint64_t)*a + (uint64_t)v));
    case R_PROD: FOLD(*a = (int64_t)((uint64_t)*a * (uint64_t)v));
    case R_MAX:
      if (u64) {
        FOLD(if ((uint64_t)v > (uint64_t)*a) *a = v);
      } else {
        FOLD(if (v > *a) *a = v);
      }
    case R_MIN:
      if (u64) {
        FOLD(if ((uint64_t)v < (uint64_t)*a) *a = v);
      } else {
        FOLD(if (v < *a) *a = v);
      }
    case R_L1: FOLD(*a = (int64_t)((uint64_t)*a + (uint64_t)(v < 0 && !u64 ? 0 - (uint64_t)v : (uint64_t)v)));
    case R_SUMSQ: FOLD(*a = (int64_t)((uint64_t)*a + (uint64_t)v * (uint64_t)v));
    default: break;
  }
#undef FOLD
}

static dycl_status_t reduce_i64(dycl_kctx_t* ctx, rop_t op, const dycl_value_t* x, const rview_t* v,
                                dycl_value_t* y, int64_t count) {
  int64_t on = y->numel;
  bool u64 = x->dtype == DYCL_DTYPE_UINT64;
  int64_t* acc = dycl_calloc(ctx->alloc, (size_t)(on ? on : 1), sizeof(int64_t));
  if (!acc) return dycl_error_nomem();
  int64_t lo, hi;
  int_range(x->dtype, &lo, &hi);
  int64_t init = op == R_PROD ? 1 : op == R_MAX ? lo : op == R_MIN ? hi : 0;
  for (int64_t i = 0; i < on; i++) acc[i] = init;
  int64_t buf[EW_BLOCK];
  if (x->numel > 0) {
    RVIEW_FOR_ROWS(v, x->numel, {
      for (int64_t j0 = 0; j0 < len; j0 += EW_BLOCK) {
        int64_t m = len - j0 < EW_BLOCK ? len - j0 : EW_BLOCK;
        dycl_ew_load_i64(x, ioff + j0, 1, m, buf);
        fold_i64(op, u64, acc + ooff + ostep * j0, buf, m, ostep);
      }
    });
  }
  if (op == R_MEAN) {
    for (int64_t i = 0; i < on; i++) {
      if (count == 0) acc[i] = 0;
      else if (u64) acc[i] = (int64_t)((uint64_t)acc[i] / (uint64_t)count);
      else acc[i] /= count;
    }
  }
  dycl_ew_store_i64(y, 0, on, acc, u64);
  dycl_free(ctx->alloc, acc);
  return NULL;
}

/* ------------------------------------------------------ the kernel */

static dycl_status_t run_reduce(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, rop_t op) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (!dycl_dtype_is_float(x->dtype) && !dycl_dtype_is_int(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "element type %s is not supported", dycl_dtype_name(x->dtype));
  bool red[DYCL_MAX_RANK], noop;
  DYCL_RETURN_IF_ERROR(reduce_axes_run(node, in, nin, x->rank, red, &noop));
  if (noop) {
    DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, x->rank, x->dims, &out[0]));
    if (x->nbytes) memcpy(out[0]->data, x->data, x->nbytes);
    return NULL;
  }
  bool keep = dycl_attr_int(node, "keepdims", 1) != 0;
  int orank = 0;
  int64_t odims[DYCL_MAX_RANK], count = 1;
  for (int d = 0; d < x->rank; d++) {
    if (red[d]) {
      count *= x->dims[d];
      if (keep) odims[orank++] = 1;
    } else {
      odims[orank++] = x->dims[d];
    }
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, orank, odims, &out[0]));
  rview_t v;
  rview_setup(&v, x->rank, x->dims, red);
  bool int_dom = dycl_dtype_is_int(x->dtype) && op != R_L2 && op != R_LOGSUM && op != R_LOGSUMEXP;
  if (int_dom) return reduce_i64(ctx, op, x, &v, out[0], count);
  return reduce_f64(ctx, op, x, &v, out[0], count);
}

#define REDUCE(Name, OP)                                                                                  \
  dycl_status_t dycl_run_##Name(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin, \
                                dycl_value_t** out, int nout) {                                            \
    (void)nout;                                                                                            \
    return run_reduce(ctx, node, in, nin, out, OP);                                                        \
  }

REDUCE(ReduceSum, R_SUM)
REDUCE(ReduceMean, R_MEAN)
REDUCE(ReduceProd, R_PROD)
REDUCE(ReduceMax, R_MAX)
REDUCE(ReduceMin, R_MIN)
REDUCE(ReduceL1, R_L1)
REDUCE(ReduceL2, R_L2)
REDUCE(ReduceSumSquare, R_SUMSQ)
REDUCE(ReduceLogSum, R_LOGSUM)
REDUCE(ReduceLogSumExp, R_LOGSUMEXP)

/* ------------------------------------------------------ ArgMax, ArgMin */

static dycl_status_t run_arg(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, bool is_max) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (!dycl_dtype_is_float(x->dtype) && !dycl_dtype_is_int(x->dtype))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "element type %s is not supported", dycl_dtype_name(x->dtype));
  int axis;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", 0), x->rank > 0 ? x->rank : 1, &axis));
  bool keep = dycl_attr_int(node, "keepdims", 1) != 0;
  bool last = dycl_attr_int(node, "select_last_index", 0) != 0;
  int64_t n = x->rank > 0 ? x->dims[axis] : 1, outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  int orank = 0;
  int64_t odims[DYCL_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    if (d != axis) odims[orank++] = x->dims[d];
    else if (keep) odims[orank++] = 1;
  if (n == 0 && outer * inner > 0)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot take the %s over an empty axis",
                           is_max ? "ArgMax" : "ArgMin");
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, orank, odims, &out[0]));
  int64_t* y = out[0]->data;
  if (out[0]->numel == 0) return NULL;
  bool fdom = dycl_dtype_is_float(x->dtype), u64 = x->dtype == DYCL_DTYPE_UINT64;
  double fb[EW_BLOCK], fbest[EW_BLOCK];
  int64_t ib[EW_BLOCK], ibest[EW_BLOCK];
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t j0 = 0; j0 < inner; j0 += EW_BLOCK) {
      int64_t m = inner - j0 < EW_BLOCK ? inner - j0 : EW_BLOCK;
      int64_t* yi = y + o * inner + j0;
      for (int64_t k = 0; k < n; k++) {
        int64_t off = (o * n + k) * inner + j0;
        if (fdom) {
          double* dst = k == 0 ? fbest : fb;
          dycl_ew_load_f64(x, off, 1, m, dst);
          if (k == 0) {
            for (int64_t j = 0; j < m; j++) yi[j] = 0;
            continue;
          }
          for (int64_t j = 0; j < m; j++) {
            double v = fb[j], b = fbest[j];
            bool take;
            if (isnan(b)) take = last && isnan(v); /* NaN wins, as in numpy */
            else if (isnan(v)) take = true;
            else take = is_max ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
            if (take) {
              fbest[j] = v;
              yi[j] = k;
            }
          }
        } else {
          int64_t* dst = k == 0 ? ibest : ib;
          dycl_ew_load_i64(x, off, 1, m, dst);
          if (k == 0) {
            for (int64_t j = 0; j < m; j++) yi[j] = 0;
            continue;
          }
          for (int64_t j = 0; j < m; j++) {
            bool gt = u64 ? (uint64_t)ib[j] > (uint64_t)ibest[j] : ib[j] > ibest[j];
            bool eq = ib[j] == ibest[j];
            bool take = is_max ? (gt || (last && eq)) : ((!gt && !eq) || (last && eq));
            if (take) {
              ibest[j] = ib[j];
              yi[j] = k;
            }
          }
        }
      }
    }
  }
  return NULL;
}

dycl_status_t dycl_run_ArgMax(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  return run_arg(ctx, node, in, nin, out, true);
}
dycl_status_t dycl_run_ArgMin(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                              dycl_value_t** out, int nout) {
  (void)nout;
  return run_arg(ctx, node, in, nin, out, false);
}

/* ------------------------------------------------------ inference */

dycl_status_t dycl_infer_ew_reduce(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_ew_infer_input0(ctx, node, dycl_ew_numeric_types, &t));
  bool keep = dycl_attr_int(node, "keepdims", 1) != 0;
  int64_t axes[DYCL_MAX_RANK * 2];
  int n = 0;
  bool given = false, known = true;
  if (axes_from_input(node) || dycl_infer_in(ctx, node, 1)) {
    if (dycl_infer_in(ctx, node, 1)) {
      DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_index));
      const dycl_value_t* c = dycl_infer_const(ctx, node, 1);
      if (c) {
        DYCL_RETURN_IF_ERROR(dycl_kernel_read_ints(node, c, axes, DYCL_MAX_RANK * 2, &n));
        given = true;
      } else {
        known = false;
      }
    }
  } else {
    const int64_t* a = dycl_attr_ints(node, "axes", &n);
    if (n > DYCL_MAX_RANK * 2) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "too many axes");
    for (int k = 0; k < n; k++) axes[k] = a[k];
    given = a != NULL;
  }
  dycl_type_t u = t;
  if (t.rank < 0) {
    u.rank = -1;
  } else if (!known) {
    /* axes only known at run time: with keepdims the rank stays, every dim but the 1s unknown */
    if (!keep) u.rank = -1;
    else
      for (int d = 0; d < t.rank; d++)
        if (t.dims[d].v != 1) u.dims[d] = dycl_dim_unknown();
  } else {
    bool red[DYCL_MAX_RANK], noop;
    DYCL_RETURN_IF_ERROR(reduce_axes_of(node, axes, n, given, t.rank, DYCL_CODE_INVALID_MODEL, red, &noop));
    if (!noop) {
      int r = 0;
      for (int d = 0; d < t.rank; d++) {
        if (!red[d]) u.dims[r++] = t.dims[d];
        else if (keep) u.dims[r++] = dycl_dim_const(1);
      }
      u.rank = r;
    }
  }
  return dycl_infer_set(ctx, node, 0, &u);
}

dycl_status_t dycl_infer_ew_argreduce(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t;
  DYCL_RETURN_IF_ERROR(dycl_ew_infer_input0(ctx, node, dycl_ew_numeric_types, &t));
  bool keep = dycl_attr_int(node, "keepdims", 1) != 0;
  int64_t axis = dycl_attr_int(node, "axis", 0);
  dycl_type_t u = t;
  u.dtype = DYCL_DTYPE_INT64;
  if (t.rank >= 0) {
    int r = t.rank > 0 ? t.rank : 1;
    if (axis < -r || axis >= r)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "axis %lld is out of range for rank %d",
                             (long long)axis, t.rank);
    if (axis < 0) axis += r;
    int k = 0;
    for (int d = 0; d < t.rank; d++) {
      if (d != axis) u.dims[k++] = t.dims[d];
      else if (keep) u.dims[k++] = dycl_dim_const(1);
    }
    u.rank = k;
  }
  return dycl_infer_set(ctx, node, 0, &u);
}
