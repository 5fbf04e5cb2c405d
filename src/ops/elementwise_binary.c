/* Elementwise operators, part 2: binary and variadic operators with multidirectional (numpy)
 * broadcasting: arithmetic, Pow, Mod, comparisons, logic, BitShift, PRelu, Max/Min/Sum/Mean and
 * Where.
 *
 * Computation domains: F (double) when an operand is floating point, U (uint64 bits in int64)
 * for uint64, I (int64) for every other integer type and bool. Integer arithmetic wraps around
 * like the C unsigned types; integer division truncates toward zero. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "ops/elementwise_internal.h"
#include "ops/op.h"

#define EW_MAX_IN 3

/* ------------------------------------------------------ broadcasting */

/* Broadcast iteration over an output shape in rows: dims of size 1 are dropped and adjacent
 * dims that every input walks contiguously are merged, so the innermost row is as long as it can
 * be (the whole tensor when shapes are equal or an input is a scalar). */
typedef struct bcast {
  int n, rank;
  int64_t dims[DYCL_MAX_RANK];
  int64_t st[EW_MAX_IN][DYCL_MAX_RANK];
  int64_t numel;
} bcast_t;

static void bcast_setup(bcast_t* b, int n, const dycl_value_t* const* ts, int rank, const int64_t* dims) {
  int64_t st[EW_MAX_IN][DYCL_MAX_RANK];
  for (int k = 0; k < n; k++) dycl_broadcast_strides(ts[k], rank, dims, st[k]);
  b->n = n;
  b->numel = 1;
  for (int d = 0; d < rank; d++) b->numel *= dims[d];
  int r = 0;
  for (int d = 0; d < rank; d++) {
    if (dims[d] == 1) continue;
    if (r > 0) { /* merge with the previous kept dim when every input is contiguous across both */
      bool merge = true;
      for (int k = 0; k < n; k++)
        if (st[k][d] * dims[d] != b->st[k][r - 1]) merge = false;
      if (merge) {
        b->dims[r - 1] *= dims[d];
        for (int k = 0; k < n; k++) b->st[k][r - 1] = st[k][d];
        continue;
      }
    }
    b->dims[r] = dims[d];
    for (int k = 0; k < n; k++) b->st[k][r] = st[k][d];
    r++;
  }
  if (r == 0) {
    b->dims[0] = 1;
    for (int k = 0; k < n; k++) b->st[k][0] = 0;
    r = 1;
  }
  b->rank = r;
}

typedef struct bpos {
  int64_t idx[DYCL_MAX_RANK];
  int64_t off[EW_MAX_IN];
} bpos_t;

/* Advances to the next row (all dims but the innermost). */
static void bcast_next(const bcast_t* b, bpos_t* p) {
  for (int d = b->rank - 2; d >= 0; d--) {
    p->idx[d]++;
    for (int k = 0; k < b->n; k++) p->off[k] += b->st[k][d];
    if (p->idx[d] < b->dims[d]) return;
    for (int k = 0; k < b->n; k++) p->off[k] -= b->st[k][d] * b->dims[d];
    p->idx[d] = 0;
  }
}

/* Opset < 7 binary ops broadcast B only with broadcast=1, aligned at `axis` (default: suffix). */
static dycl_status_t legacy_view(const dycl_node_t* node, const dycl_value_t* a, const dycl_value_t* b,
                                 dycl_value_t* view, const dycl_value_t** bp) {
  *bp = b;
  if (node->opset >= 7 || !dycl_attr_int(node, "broadcast", 0) || !dycl_node_attr(node, "axis")) return NULL;
  int64_t axis = dycl_attr_int(node, "axis", 0);
  if (axis < 0) axis += a->rank;
  if (axis < 0 || axis + b->rank > a->rank)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "broadcast axis %" PRId64 " does not fit B of rank %d into rank %d",
                           axis, b->rank, a->rank);
  *view = *b;
  view->rank = (int)(a->rank - axis);
  for (int d = b->rank; d < view->rank; d++) view->dims[d] = 1;
  *bp = view;
  return NULL;
}

/* ------------------------------------------------------ binary kernels */

typedef enum bop {
  B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MOD, B_FMOD, B_MAX, B_MIN, B_PRELU,
  B_EQ, B_GT, B_GE, B_LT, B_LE, /* bool results */
  B_AND, B_OR, B_XOR,           /* bool inputs */
  B_SHL, B_SHR,                 /* unsigned inputs */
} bop_t;

static bool bop_is_compare(bop_t op) { return op >= B_EQ && op <= B_LE; }

static void apply_f64(bop_t op, const double* a, const double* b, double* r, int64_t* ri, int64_t n) {
#define EACH(EXPR)                                   \
  for (int64_t i = 0; i < n; i++) {                  \
    double x = a[i], y = b[i];                       \
    r[i] = (EXPR);                                   \
  }                                                  \
  break
#define EACH_I(EXPR)                                 \
  for (int64_t i = 0; i < n; i++) {                  \
    double x = a[i], y = b[i];                       \
    ri[i] = (EXPR);                                  \
  }                                                  \
  break
  switch (op) {
    case B_ADD: EACH(x + y);
    case B_SUB: EACH(x - y);
    case B_MUL: EACH(x * y);
    case B_DIV: EACH(x / y);
    case B_POW: EACH(pow(x, y));
    case B_FMOD: EACH(fmod(x, y));
    case B_MOD: {
      /* numpy's mod: the result has the sign of the divisor */
      for (int64_t i = 0; i < n; i++) {
        double x = a[i], y = b[i], m = fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        r[i] = m;
      }
      break;
    }
    case B_MAX: EACH(isnan(x) ? x : isnan(y) ? y : x > y ? x : y);
    case B_MIN: EACH(isnan(x) ? x : isnan(y) ? y : x < y ? x : y);
    case B_PRELU: EACH(x < 0 ? x * y : x);
    case B_EQ: EACH_I(x == y);
    case B_GT: EACH_I(x > y);
    case B_GE: EACH_I(x >= y);
    case B_LT: EACH_I(x < y);
    case B_LE: EACH_I(x <= y);
    case B_AND: EACH_I(x != 0 && y != 0);
    case B_OR: EACH_I(x != 0 || y != 0);
    case B_XOR: EACH_I((x != 0) != (y != 0));
    case B_SHL:
    case B_SHR: break; /* integers only */
  }
#undef EACH
#undef EACH_I
}

static uint64_t upow(uint64_t x, uint64_t e) {
  uint64_t r = 1;
  while (e) {
    if (e & 1) r *= x;
    x *= x;
    e >>= 1;
  }
  return r;
}

/* Integer domain. `u64`: values are uint64 bits. `bits`: width of the element type (shifts).
 * Returns false on division by zero. */
static bool apply_i64(bop_t op, bool u64, int bits, const int64_t* a, const int64_t* b, int64_t* r, int64_t n) {
#define EACH(EXPR)                                   \
  for (int64_t i = 0; i < n; i++) {                  \
    int64_t x = a[i], y = b[i];                      \
    r[i] = (int64_t)(EXPR);                          \
  }                                                  \
  break
#define EACH_U(EXPR)                                 \
  for (int64_t i = 0; i < n; i++) {                  \
    uint64_t x = (uint64_t)a[i], y = (uint64_t)b[i]; \
    r[i] = (int64_t)(EXPR);                          \
  }                                                  \
  break
  switch (op) {
    case B_ADD: EACH_U(x + y);
    case B_SUB: EACH_U(x - y);
    case B_MUL: EACH_U(x * y);
    case B_DIV:
      for (int64_t i = 0; i < n; i++)
        if (b[i] == 0) return false;
      if (u64) {
        EACH_U(x / y);
      } else {
        EACH(x == INT64_MIN && y == -1 ? INT64_MIN : x / y);
      }
    case B_MOD:
    case B_FMOD:
      for (int64_t i = 0; i < n; i++)
        if (b[i] == 0) return false;
      if (u64) {
        EACH_U(x % y);
      } else if (op == B_FMOD) {
        EACH(y == -1 ? 0 : x % y);
      } else {
        for (int64_t i = 0; i < n; i++) {
          int64_t x = a[i], y = b[i], m = y == -1 ? 0 : x % y;
          if (m != 0 && ((m < 0) != (y < 0))) m += y;
          r[i] = m;
        }
        break;
      }
    case B_POW:
      if (u64) {
        EACH_U(upow(x, y));
      } else {
        for (int64_t i = 0; i < n; i++) {
          int64_t x = a[i], y = b[i];
          if (y >= 0) r[i] = (int64_t)upow((uint64_t)x, (uint64_t)y);
          else if (x == 1) r[i] = 1;
          else if (x == -1) r[i] = (y & 1) ? -1 : 1;
          else if (x == 0) return false;
          else r[i] = 0; /* |x| > 1 to a negative power truncates to 0 */
        }
        break;
      }
    case B_MAX:
      if (u64) {
        EACH_U(x > y ? x : y);
      } else {
        EACH(x > y ? x : y);
      }
    case B_MIN:
      if (u64) {
        EACH_U(x < y ? x : y);
      } else {
        EACH(x < y ? x : y);
      }
    case B_PRELU:
      if (u64) {
        memcpy(r, a, (size_t)n * sizeof *r);
        break;
      } else {
        EACH(x < 0 ? (int64_t)((uint64_t)x * (uint64_t)y) : x);
      }
    case B_EQ: EACH(x == y);
    case B_GT:
      if (u64) {
        EACH_U(x > y);
      } else {
        EACH(x > y);
      }
    case B_GE:
      if (u64) {
        EACH_U(x >= y);
      } else {
        EACH(x >= y);
      }
    case B_LT:
      if (u64) {
        EACH_U(x < y);
      } else {
        EACH(x < y);
      }
    case B_LE:
      if (u64) {
        EACH_U(x <= y);
      } else {
        EACH(x <= y);
      }
    case B_AND: EACH(x != 0 && y != 0);
    case B_OR: EACH(x != 0 || y != 0);
    case B_XOR: EACH((x != 0) != (y != 0));
    case B_SHL: EACH_U(y >= (uint64_t)bits ? 0 : x << y);
    case B_SHR: EACH_U(y >= (uint64_t)bits ? 0 : x >> y);
  }
#undef EACH
#undef EACH_U
  return true;
}

static int dtype_bits(dycl_dtype_t t) { return (int)dycl_dtype_size(t) * 8; }

/* out = op(a, b) over the broadcast `bc` (built over a, b); `out` may alias `a` when a has the
 * output's shape (rows are read before they are written). */
static dycl_status_t bin_apply(const dycl_node_t* node, bop_t op, const dycl_value_t* a, const dycl_value_t* b,
                               dycl_value_t* out, const bcast_t* bc) {
  if (bc->numel == 0) return NULL;
  bool fdom = dycl_dtype_is_float(a->dtype) || dycl_dtype_is_float(b->dtype);
  bool u64 = a->dtype == DYCL_DTYPE_UINT64;
  int bits = dtype_bits(a->dtype);
  int64_t inner = bc->dims[bc->rank - 1], sa = bc->st[0][bc->rank - 1], sb = bc->st[1][bc->rank - 1];
  int64_t rows = bc->numel / inner;
  bpos_t p;
  memset(&p, 0, sizeof p);
  double fa[EW_BLOCK], fb[EW_BLOCK], fr[EW_BLOCK];
  int64_t ia[EW_BLOCK], ib[EW_BLOCK], ir[EW_BLOCK];
  bool cmp = bop_is_compare(op);
  for (int64_t row = 0; row < rows; row++, bcast_next(bc, &p)) {
    int64_t obase = row * inner;
    for (int64_t j0 = 0; j0 < inner; j0 += EW_BLOCK) {
      int64_t m = inner - j0 < EW_BLOCK ? inner - j0 : EW_BLOCK;
      if (fdom) {
        dycl_ew_load_f64(a, p.off[0] + j0 * sa, sa, m, fa);
        dycl_ew_load_f64(b, p.off[1] + j0 * sb, sb, m, fb);
        apply_f64(op, fa, fb, fr, ir, m);
        if (cmp || op == B_AND || op == B_OR || op == B_XOR) dycl_ew_store_i64(out, obase + j0, m, ir, false);
        else dycl_ew_store_f64(out, obase + j0, m, fr);
      } else {
        dycl_ew_load_i64(a, p.off[0] + j0 * sa, sa, m, ia);
        dycl_ew_load_i64(b, p.off[1] + j0 * sb, sb, m, ib);
        if (!apply_i64(op, u64, bits, ia, ib, ir, m))
          return dycl_node_error(node, DYCL_CODE_RUNTIME,
                                 op == B_POW ? "integer 0 raised to a negative power" : "integer division by zero");
        dycl_ew_store_i64(out, obase + j0, m, ir, u64 && !cmp);
      }
    }
  }
  return NULL;
}

static bool dtype_in(dycl_dtype_t t, const dycl_dtype_t* set) {
  for (; *set; set++)
    if (*set == t) return true;
  return false;
}

#define F16 DYCL_DTYPE_FLOAT16
#define BF16 DYCL_DTYPE_BFLOAT16
#define F32 DYCL_DTYPE_FLOAT32
#define F64 DYCL_DTYPE_FLOAT64
static const dycl_dtype_t k_numeric_bool[] = {F16, BF16, F32, F64, DYCL_DTYPE_INT8, DYCL_DTYPE_INT16,
                                              DYCL_DTYPE_INT32, DYCL_DTYPE_INT64, DYCL_DTYPE_UINT8,
                                              DYCL_DTYPE_UINT16, DYCL_DTYPE_UINT32, DYCL_DTYPE_UINT64,
                                              DYCL_DTYPE_BOOL, 0};
static const dycl_dtype_t k_uint[] = {DYCL_DTYPE_UINT8, DYCL_DTYPE_UINT16, DYCL_DTYPE_UINT32, DYCL_DTYPE_UINT64, 0};

static const dycl_dtype_t* bop_dtypes(bop_t op) {
  switch (op) {
    case B_AND: case B_OR: case B_XOR: return dycl_dtypes_bool;
    case B_SHL: case B_SHR: return k_uint;
    case B_EQ: return k_numeric_bool;
    default: return dycl_ew_numeric_types;
  }
}

static dycl_status_t run_binary(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, bop_t op) {
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t* a = in[0];
  const dycl_value_t* b = in[1];
  const dycl_dtype_t* allowed = bop_dtypes(op);
  if (!dtype_in(a->dtype, allowed) || !dtype_in(b->dtype, op == B_POW ? dycl_ew_numeric_types : allowed))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "element types %s and %s are not supported",
                           dycl_dtype_name(a->dtype), dycl_dtype_name(b->dtype));
  if (op != B_POW && a->dtype != b->dtype)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs have different element types (%s, %s)",
                           dycl_dtype_name(a->dtype), dycl_dtype_name(b->dtype));
  dycl_value_t view;
  DYCL_RETURN_IF_ERROR(legacy_view(node, a, b, &view, &b));
  const dycl_value_t* ts[2] = {a, b};
  int rank;
  int64_t dims[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(dycl_kernel_broadcast(node, 2, ts, &rank, dims));
  dycl_dtype_t odt = bop_is_compare(op) ? DYCL_DTYPE_BOOL : a->dtype;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, odt, rank, dims, &out[0]));
  bcast_t bc;
  bcast_setup(&bc, 2, ts, rank, dims);
  return bin_apply(node, op, a, b, out[0], &bc);
}

#define EW_BINARY(Name, OP)                                                                               \
  dycl_status_t dycl_run_##Name(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin, \
                                dycl_value_t** out, int nout) {                                            \
    (void)nout;                                                                                            \
    return run_binary(ctx, node, in, nin, out, OP);                                                        \
  }

EW_BINARY(Add, B_ADD)
EW_BINARY(Sub, B_SUB)
EW_BINARY(Mul, B_MUL)
EW_BINARY(Div, B_DIV)
EW_BINARY(Pow, B_POW)
EW_BINARY(PRelu, B_PRELU)
EW_BINARY(Equal, B_EQ)
EW_BINARY(Greater, B_GT)
EW_BINARY(GreaterOrEqual, B_GE)
EW_BINARY(Less, B_LT)
EW_BINARY(LessOrEqual, B_LE)
EW_BINARY(And, B_AND)
EW_BINARY(Or, B_OR)
EW_BINARY(Xor, B_XOR)

dycl_status_t dycl_run_Mod(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  (void)nout;
  return run_binary(ctx, node, in, nin, out, dycl_attr_int(node, "fmod", 0) ? B_FMOD : B_MOD);
}

dycl_status_t dycl_run_BitShift(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, int nout) {
  (void)nout;
  const char* dir = dycl_attr_string(node, "direction", "");
  if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "direction must be LEFT or RIGHT, not '%s'", dir);
  return run_binary(ctx, node, in, nin, out, strcmp(dir, "LEFT") == 0 ? B_SHL : B_SHR);
}

/* ------------------------------------------------------ variadic: Max, Min, Sum, Mean */

static dycl_status_t run_variadic(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                  dycl_value_t** out, bop_t op, bool mean) {
  int n = 0;
  const dycl_value_t* ts[64];
  for (int i = 0; i < nin; i++) {
    if (!in[i]) continue;
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
    if (n == 64) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "more than 64 inputs");
    ts[n++] = in[i];
  }
  if (n == 0) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "needs at least one input");
  dycl_dtype_t dt = ts[0]->dtype;
  if (!dtype_in(dt, (op == B_ADD) ? dycl_dtypes_float : dycl_ew_numeric_types))
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "element type %s is not supported", dycl_dtype_name(dt));
  for (int i = 1; i < n; i++)
    if (ts[i]->dtype != dt)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "inputs have different element types (%s, %s)",
                             dycl_dtype_name(dt), dycl_dtype_name(ts[i]->dtype));
  int rank;
  int64_t dims[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(dycl_kernel_broadcast(node, n, ts, &rank, dims));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, dt, rank, dims, &out[0]));
  dycl_value_t* y = out[0];
  if (n == 1) {
    if (y->nbytes) memcpy(y->data, ts[0]->data, y->nbytes);
    return NULL;
  }
  bcast_t bc;
  const dycl_value_t* pair[2] = {ts[0], ts[1]};
  bcast_setup(&bc, 2, pair, rank, dims);
  DYCL_RETURN_IF_ERROR(bin_apply(node, op, ts[0], ts[1], y, &bc));
  for (int i = 2; i < n; i++) {
    pair[0] = y;
    pair[1] = ts[i];
    bcast_setup(&bc, 2, pair, rank, dims);
    DYCL_RETURN_IF_ERROR(bin_apply(node, op, y, ts[i], y, &bc));
  }
  if (mean) {
    double buf[EW_BLOCK];
    for (int64_t i0 = 0; i0 < y->numel; i0 += EW_BLOCK) {
      int64_t m = y->numel - i0 < EW_BLOCK ? y->numel - i0 : EW_BLOCK;
      dycl_ew_load_f64(y, i0, 1, m, buf);
      for (int64_t i = 0; i < m; i++) buf[i] /= n;
      dycl_ew_store_f64(y, i0, m, buf);
    }
  }
  return NULL;
}

dycl_status_t dycl_run_Max(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  (void)nout;
  return run_variadic(ctx, node, in, nin, out, B_MAX, false);
}
dycl_status_t dycl_run_Min(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  (void)nout;
  return run_variadic(ctx, node, in, nin, out, B_MIN, false);
}
dycl_status_t dycl_run_Sum(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                           dycl_value_t** out, int nout) {
  (void)nout;
  return run_variadic(ctx, node, in, nin, out, B_ADD, false);
}
dycl_status_t dycl_run_Mean(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                            dycl_value_t** out, int nout) {
  (void)nout;
  return run_variadic(ctx, node, in, nin, out, B_ADD, true);
}

/* ------------------------------------------------------ Where */

dycl_status_t dycl_run_Where(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                             dycl_value_t** out, int nout) {
  (void)nout;
  for (int i = 0; i < 3; i++) DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
  const dycl_value_t *c = in[0], *x = in[1], *y = in[2];
  if (c->dtype != DYCL_DTYPE_BOOL)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "condition must be bool, not %s", dycl_dtype_name(c->dtype));
  if (x->dtype != y->dtype)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "X and Y have different element types (%s, %s)",
                           dycl_dtype_name(x->dtype), dycl_dtype_name(y->dtype));
  const dycl_value_t* ts[3] = {c, x, y};
  int rank;
  int64_t dims[DYCL_MAX_RANK];
  DYCL_RETURN_IF_ERROR(dycl_kernel_broadcast(node, 3, ts, &rank, dims));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, x->dtype, rank, dims, &out[0]));
  dycl_value_t* o = out[0];
  bcast_t bc;
  bcast_setup(&bc, 3, ts, rank, dims);
  if (bc.numel == 0) return NULL;
  int64_t inner = bc.dims[bc.rank - 1], rows = bc.numel / inner;
  int64_t sc = bc.st[0][bc.rank - 1], sx = bc.st[1][bc.rank - 1], sy = bc.st[2][bc.rank - 1];
  const uint8_t* cd = c->data;
  size_t esz = dycl_dtype_size(x->dtype);
  bpos_t p;
  memset(&p, 0, sizeof p);
  for (int64_t row = 0; row < rows; row++, bcast_next(&bc, &p)) {
    int64_t ob = row * inner;
    const uint8_t* cr = cd + p.off[0];
    if (x->dtype == DYCL_DTYPE_STRING) {
      for (int64_t j = 0; j < inner; j++) {
        if (cr[j * sc]) dycl_tensor_copy_elem(o, ob + j, x, p.off[1] + j * sx);
        else dycl_tensor_copy_elem(o, ob + j, y, p.off[2] + j * sy);
        if (!((char**)o->data)[ob + j]) return dycl_error_nomem();
      }
      continue;
    }
#define WHERE_LOOP(T)                                                            \
  do {                                                                           \
    const T* xr = (const T*)x->data + p.off[1];                                  \
    const T* yr = (const T*)y->data + p.off[2];                                  \
    T* orow = (T*)o->data + ob;                                                  \
    for (int64_t j = 0; j < inner; j++) orow[j] = cr[j * sc] ? xr[j * sx] : yr[j * sy]; \
  } while (0)
    switch (esz) {
      case 1: WHERE_LOOP(uint8_t); break;
      case 2: WHERE_LOOP(uint16_t); break;
      case 4: WHERE_LOOP(uint32_t); break;
      case 8: WHERE_LOOP(uint64_t); break;
      default:
        return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "element type %s is not supported",
                               dycl_dtype_name(x->dtype));
    }
#undef WHERE_LOOP
  }
  return NULL;
}

/* ------------------------------------------------------ inference */

/* Broadcast of the present inputs among [first, first + n) (legacy axis alignment of input 1 for
 * opset < 7 binary ops), output dtype `dtype`. */
static dycl_status_t infer_bcast(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int first, int n,
                                 dycl_dtype_t dtype) {
  DYCL_RETURN_IF_ERROR(dycl_ew_check_attrs(node));
  bool rank_known = true;
  int rank = 0;
  dycl_type_t ts[64];
  int cnt = 0;
  for (int i = first; i < first + n && i < node->n_in; i++) {
    const dycl_type_t* t = dycl_infer_in(ctx, node, i);
    if (!t) continue;
    if (t->known && t->kind != DYCL_VALUE_TENSOR)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d must be a tensor", i);
    if (cnt == 64) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "more than 64 inputs");
    ts[cnt++] = *t;
    if (!t->known || t->rank < 0) rank_known = false;
  }
  /* legacy broadcasting: B aligned at `axis` */
  if (rank_known && cnt == 2 && node->opset < 7 && dycl_attr_int(node, "broadcast", 0) &&
      dycl_node_attr(node, "axis")) {
    int64_t axis = dycl_attr_int(node, "axis", 0);
    if (axis < 0) axis += ts[0].rank;
    if (axis < 0 || axis + ts[1].rank > ts[0].rank)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "broadcast axis %lld does not fit B into A",
                             (long long)axis);
    int r = (int)(ts[0].rank - axis);
    for (int d = ts[1].rank; d < r; d++) ts[1].dims[d] = dycl_dim_const(1);
    ts[1].rank = r;
  }
  for (int k = 0; k < cnt && rank_known; k++)
    if (ts[k].rank > rank) rank = ts[k].rank;
  dycl_type_t out = dycl_type_tensor(dtype, rank_known ? rank : -1);
  if (rank_known) {
    for (int d = 0; d < rank; d++) out.dims[d] = dycl_dim_const(1);
    for (int k = 0; k < cnt; k++) {
      int off = rank - ts[k].rank;
      for (int d = 0; d < ts[k].rank; d++) {
        dycl_dim_t a = out.dims[off + d], b = ts[k].dims[d];
        if (b.v == 1) continue;
        if (a.v == 1) out.dims[off + d] = b;
        else if (dycl_dim_equal(a, b)) continue;
        else if (a.v >= 0 && b.v >= 0)
          return dycl_node_error(node, DYCL_CODE_INVALID_MODEL,
                                 "input shapes do not broadcast (dimension %d: %lld vs %lld)", off + d,
                                 (long long)a.v, (long long)b.v);
        else out.dims[off + d] = a.v >= 0 ? a : (b.v >= 0 ? b : dycl_dim_unknown());
      }
    }
  }
  for (int j = 0; j < node->n_out; j++) DYCL_RETURN_IF_ERROR(dycl_infer_set(ctx, node, j, &out));
  return NULL;
}

/* All present inputs share one dtype from `allowed`; returns it (UNDEFINED when unknown). */
static dycl_status_t check_inputs(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int first, int n,
                                  const dycl_dtype_t* allowed, dycl_dtype_t* dtype) {
  int ref = -1;
  *dtype = DYCL_DTYPE_UNDEFINED;
  for (int i = first; i < first + n && i < node->n_in; i++) {
    if (!dycl_infer_in(ctx, node, i)) continue;
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, allowed));
    if (ref >= 0) DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, ref, i));
    else ref = i;
    if (!*dtype) *dtype = dycl_ew_in_dtype(ctx, node, i);
  }
  return NULL;
}

dycl_status_t dycl_infer_ew_arith(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_dtype_t dt;
  DYCL_RETURN_IF_ERROR(check_inputs(ctx, node, 0, node->n_in, dycl_ew_numeric_types, &dt));
  return infer_bcast(ctx, node, 0, node->n_in, dt);
}
dycl_status_t dycl_infer_ew_float_nary(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_dtype_t dt;
  DYCL_RETURN_IF_ERROR(check_inputs(ctx, node, 0, node->n_in, dycl_dtypes_float, &dt));
  return infer_bcast(ctx, node, 0, node->n_in, dt);
}
dycl_status_t dycl_infer_ew_compare(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_dtype_t dt;
  const dycl_dtype_t* allowed = strcmp(node->op_type, "Equal") == 0 ? k_numeric_bool : dycl_ew_numeric_types;
  DYCL_RETURN_IF_ERROR(check_inputs(ctx, node, 0, 2, allowed, &dt));
  return infer_bcast(ctx, node, 0, 2, DYCL_DTYPE_BOOL);
}
dycl_status_t dycl_infer_ew_logic(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_dtype_t dt;
  DYCL_RETURN_IF_ERROR(check_inputs(ctx, node, 0, 2, dycl_dtypes_bool, &dt));
  return infer_bcast(ctx, node, 0, 2, DYCL_DTYPE_BOOL);
}
dycl_status_t dycl_infer_BitShift(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const char* dir = dycl_attr_string(node, "direction", "");
  if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "direction must be LEFT or RIGHT, not '%s'", dir);
  dycl_dtype_t dt;
  DYCL_RETURN_IF_ERROR(check_inputs(ctx, node, 0, 2, k_uint, &dt));
  return infer_bcast(ctx, node, 0, 2, dt);
}
dycl_status_t dycl_infer_Pow(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_ew_numeric_types));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_ew_numeric_types));
  return infer_bcast(ctx, node, 0, 2, dycl_ew_in_dtype(ctx, node, 0));
}
dycl_status_t dycl_infer_Where(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 0, dycl_dtypes_bool));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 1, 2));
  dycl_dtype_t dt = dycl_ew_in_dtype(ctx, node, 1);
  if (!dt) dt = dycl_ew_in_dtype(ctx, node, 2);
  return infer_bcast(ctx, node, 0, 3, dt);
}
