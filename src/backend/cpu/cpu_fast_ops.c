/* The `cpu` backend's single-node fast kernels (see cpu_fast.h): Softmax/LogSoftmax over contiguous
 * rows, LayerNormalization, ArgMax/ArgMin over contiguous rows, ReduceSum/ReduceMean over one run
 * of axes (ReduceMax/ReduceMin over trailing ones), Concat, Transpose, and the
 * reshapes (Reshape, Flatten, Squeeze, Unsqueeze) taking over their input's buffer. Each one takes
 * only the inputs it is sure of and otherwise reports *ran false without writing anything, leaving
 * the node (and any error message) to the reference kernel. */
#include <stdatomic.h>
#include <string.h>

#include "backend/cpu/cpu_fast_internal.h"

static const dycl_value_t* input(dycl_value_t** slots, const dycl_node_t* n, int i) {
  return i < n->n_in && n->in[i] >= 0 ? slots[n->in[i]] : NULL;
}

static bool f32_tensor(const dycl_value_t* t) {
  return t && t->kind == DYCL_VALUE_TENSOR && t->dtype == DYCL_DTYPE_FLOAT32;
}

/* A tensor whose elements are plain bytes (no strings). */
static bool plain_tensor(const dycl_value_t* t) {
  return t && t->kind == DYCL_VALUE_TENSOR && t->dtype != DYCL_DTYPE_STRING && dycl_dtype_size(t->dtype) > 0;
}

/* Checks output y of node n against inference and stores it in its slot (consumes y). */
static dycl_status_t finish(const dycl_program_t* p, const dycl_node_t* n, dycl_value_t** slots, dycl_value_t* y,
                            bool* ran) {
  dycl_status_t s = dycl_check_output(p->ir, n, 0, y);
  if (s) {
    dycl_value_release(y);
    return s;
  }
  dycl_value_release(slots[n->out[0]]);
  slots[n->out[0]] = y;
  *ran = true;
  return NULL;
}

/* Reads an integer tensor of at most `max` values (rank <= 1). */
static bool read_ints(const dycl_value_t* t, int64_t* v, int max, int* n) {
  if (!t || t->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_int(t->dtype) || t->rank > 1 || t->numel > max) return false;
  *n = (int)t->numel;
  for (int i = 0; i < *n; i++) v[i] = dycl_tensor_get_i64(t, i);
  return true;
}

/* ------------------------------------------------------------------ reshapes */

/* The output dims of a Reshape, Flatten, Squeeze or Unsqueeze of x, or false (left to ref). */
static bool reshape_dims(const dycl_node_t* n, dycl_value_t** slots, const dycl_value_t* x, int* rank, int64_t* dims) {
  int64_t v[DYCL_MAX_RANK];
  int nv = 0;
  switch (n->op) {
    case DYCL_OP_Reshape: {
      if (n->opset < 5 || !read_ints(input(slots, n, 1), v, DYCL_MAX_RANK, &nv)) return false;
      bool allowzero = dycl_attr_int(n, "allowzero", 0) != 0;
      int neg = -1;
      int64_t prod = 1;
      for (int i = 0; i < nv; i++) {
        if (v[i] == -1) {
          if (neg >= 0) return false;
          neg = i;
          dims[i] = 1;
          continue;
        }
        if (v[i] < -1 || (v[i] == 0 && (allowzero || i >= x->rank))) return false;
        dims[i] = v[i] == 0 ? x->dims[i] : v[i];
        if (!dycl_mul_i64(prod, dims[i], &prod)) return false;
      }
      if (neg >= 0) {
        if (prod == 0 || x->numel % prod) return false;
        dims[neg] = x->numel / prod;
      } else if (prod != x->numel) {
        return false;
      }
      *rank = nv;
      return true;
    }
    case DYCL_OP_Flatten: {
      int64_t a = dycl_attr_int(n, "axis", 1);
      if (a < -(int64_t)x->rank || a > x->rank) return false;
      if (a < 0) a += x->rank;
      dims[0] = dims[1] = 1;
      for (int i = 0; i < x->rank; i++) dims[i < a ? 0 : 1] *= x->dims[i];
      *rank = 2;
      return true;
    }
    case DYCL_OP_Squeeze:
    case DYCL_OP_Unsqueeze: {
      bool present;
      if (n->opset < 13) {
        const int64_t* a = dycl_attr_ints(n, "axes", &nv);
        present = a != NULL;
        if (nv > DYCL_MAX_RANK) return false;
        for (int i = 0; i < nv; i++) v[i] = a[i];
      } else {
        const dycl_value_t* a = input(slots, n, 1);
        present = a != NULL;
        if (a && !read_ints(a, v, DYCL_MAX_RANK, &nv)) return false;
      }
      bool squeeze = n->op == DYCL_OP_Squeeze;
      int r = squeeze ? x->rank : x->rank + nv;
      if (!squeeze && (!present || r > DYCL_MAX_RANK)) return false;
      bool mark[DYCL_MAX_RANK] = {false};
      for (int i = 0; i < nv; i++) {
        int64_t ax = v[i] < 0 ? v[i] + r : v[i];
        if (ax < 0 || ax >= r || mark[ax] || (squeeze && x->dims[ax] != 1)) return false;
        mark[ax] = true;
      }
      if (squeeze && !present)
        for (int i = 0; i < r; i++) mark[i] = x->dims[i] == 1;
      *rank = 0;
      for (int i = 0, k = 0; i < r; i++) {
        if (squeeze) {
          if (!mark[i]) dims[(*rank)++] = x->dims[i];
        } else {
          dims[(*rank)++] = mark[i] ? 1 : x->dims[k++];
        }
      }
      return true;
    }
    default: return false;
  }
}

/* The reshapes: the input's buffer becomes the output when this node is its last reader and
 * nothing else holds it (else the reference kernel copies it). */
static dycl_status_t run_reshape(const dycl_program_t* p, const dycl_subnet_t* sn, int k, dycl_value_t** slots,
                                 const dycl_kctx_t* kctx, bool* ran) {
  const dycl_node_t* n = sn->nodes[k];
  dycl_value_t* x = n->in[0] >= 0 ? slots[n->in[0]] : NULL;
  if (!plain_tensor(x) || n->n_out != 1 || n->out[0] < 0 || n->out[0] == n->in[0]) return NULL;
  if (!cpu_fast_dies_at(sn, k, n->in[0]) || atomic_load_explicit(&x->refs, memory_order_acquire) != 1 ||
      !cpu_fast_may_keep(kctx, x))
    return NULL;
  for (int i = 1; i < n->n_in; i++)
    if (n->in[i] == n->in[0]) return NULL;
  int rank;
  int64_t dims[DYCL_MAX_RANK];
  if (!reshape_dims(n, slots, x, &rank, dims)) return NULL;
  /* x is ours alone and dies here: it takes the new shape and moves to the output slot */
  x->rank = rank;
  memcpy(x->dims, dims, (size_t)rank * sizeof *dims);
  slots[n->in[0]] = NULL;
  return finish(p, n, slots, x, ran);
}

/* ------------------------------------------------------------------ Softmax */

static dycl_status_t run_softmax(const fast_kernels_t* kern, const dycl_program_t* p, const dycl_node_t* n,
                                 dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran) {
  const dycl_value_t* x = input(slots, n, 0);
  if (!f32_tensor(x) || x->rank == 0 || x->numel == 0) return NULL;
  bool old = n->opset < 13;
  int64_t axis = dycl_attr_int(n, "axis", old ? 1 : -1);
  if (axis < -x->rank || axis >= x->rank) return NULL;
  if (axis < 0) axis += x->rank;
  int64_t cols = 1;
  for (int d = (int)axis; d < x->rank; d++) cols *= x->dims[d];
  if (!old && axis != x->rank - 1) return NULL; /* along an inner axis: the reference kernel */
  dycl_value_t* y;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, n, DYCL_DTYPE_FLOAT32, x->rank, x->dims, &y));
  kern->softmax_rows(x->data, y->data, x->numel / cols, cols, n->op == DYCL_OP_LogSoftmax);
  return finish(p, n, slots, y, ran);
}

/* ------------------------------------------------------------------ ArgMax, ArgMin */

/* Over the last axis (or one with only dims of 1 after it) of a float tensor: a decoder's greedy
 * choice of the next token among 30000 (NMT: 92 us a step on the reference kernel). */
static dycl_status_t run_argext(const fast_kernels_t* kern, const dycl_program_t* p, const dycl_node_t* n,
                                dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran) {
  const dycl_value_t* x = input(slots, n, 0);
  if (!f32_tensor(x) || x->rank == 0) return NULL;
  int64_t axis = dycl_attr_int(n, "axis", 0);
  if (axis < -x->rank || axis >= x->rank) return NULL;
  if (axis < 0) axis += x->rank;
  int64_t len = x->dims[axis];
  for (int d = (int)axis + 1; d < x->rank; d++)
    if (x->dims[d] != 1) return NULL; /* along an inner axis: the reference kernel */
  if (len < 1) return NULL;           /* the reference kernel's error, or an empty result */
  bool keep = dycl_attr_int(n, "keepdims", 1) != 0, last = dycl_attr_int(n, "select_last_index", 0) != 0;
  int rank = 0;
  int64_t dims[DYCL_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    if (d != axis) dims[rank++] = x->dims[d];
    else if (keep) dims[rank++] = 1;
  dycl_value_t* y;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, n, DYCL_DTYPE_INT64, rank, dims, &y));
  if (y->numel > 0) kern->argext_rows(x->data, y->numel, len, n->op == DYCL_OP_ArgMax, last, y->data);
  return finish(p, n, slots, y, ran);
}

/* ------------------------------------------------------------------ LayerNormalization */

/* Whether t holds one value per position of the trailing dims of x from `axis` on (leading 1s
 * allowed). */
static bool per_column(const dycl_value_t* t, const dycl_value_t* x, int axis, int64_t cols) {
  if (!f32_tensor(t) || t->numel != cols || t->rank > x->rank) return false;
  for (int i = 0; i < t->rank; i++) {
    int xd = x->rank - t->rank + i;
    if (xd < axis ? t->dims[i] != 1 : t->dims[i] != x->dims[xd]) return false;
  }
  return true;
}

static dycl_status_t run_layernorm(const fast_kernels_t* kern, const dycl_program_t* p, const dycl_node_t* n,
                                   dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran) {
  const dycl_value_t *x = input(slots, n, 0), *S = input(slots, n, 1), *B = input(slots, n, 2);
  for (int j = 1; j < n->n_out; j++)
    if (n->out[j] >= 0) return NULL; /* the mean and inverse deviation: the reference kernel */
  if (!f32_tensor(x) || x->rank == 0 || x->numel == 0) return NULL;
  int64_t axis = dycl_attr_int(n, "axis", -1);
  if (axis < -x->rank || axis >= x->rank) return NULL;
  if (axis < 0) axis += x->rank;
  int64_t cols = 1;
  for (int d = (int)axis; d < x->rank; d++) cols *= x->dims[d];
  if (!per_column(S, x, (int)axis, cols) || (B && !per_column(B, x, (int)axis, cols))) return NULL;
  dycl_value_t* y;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, n, DYCL_DTYPE_FLOAT32, x->rank, x->dims, &y));
  kern->layernorm_rows(x->data, y->data, x->numel / cols, cols, S->data, B ? B->data : NULL,
                       (float)dycl_attr_float(n, "epsilon", 1e-5));
  return finish(p, n, slots, y, ran);
}

/* ------------------------------------------------------------------ ReduceSum / ReduceMean */

/* The largest (is_max) or smallest value of each of `rows` rows of n floats, as the reference kernel
 * folds them: a NaN anywhere gives NaN. Rows are short where this runs (a maxout unit's 2 values). */
static void ext_rows(const float* x, float* y, int64_t rows, int64_t n, bool is_max) {
  for (int64_t r = 0; r < rows; r++, x += n) {
    float a = is_max ? -INFINITY : INFINITY;
    for (int64_t j = 0; j < n; j++) {
      float v = x[j];
      if (isnan(v) || (is_max ? v > a : v < a)) a = v;
    }
    y[r] = a;
  }
}

static dycl_status_t run_reduce(const fast_kernels_t* kern, const dycl_program_t* p, const dycl_node_t* n,
                                dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran) {
  const dycl_value_t* x = input(slots, n, 0);
  if (!f32_tensor(x) || x->rank == 0 || x->numel == 0 || n->n_out != 1) return NULL;
  bool axes_input = n->op == DYCL_OP_ReduceSum ? n->opset >= 13 : n->opset >= 18;
  bool ext = n->op == DYCL_OP_ReduceMax || n->op == DYCL_OP_ReduceMin;
  int64_t axes[DYCL_MAX_RANK];
  int na = 0;
  if (axes_input) {
    const dycl_value_t* a = input(slots, n, 1);
    if (a && !read_ints(a, axes, DYCL_MAX_RANK, &na)) return NULL;
    if (na == 0 && dycl_attr_int(n, "noop_with_empty_axes", 0)) return NULL;
  } else {
    const int64_t* a = dycl_attr_ints(n, "axes", &na);
    if (na > DYCL_MAX_RANK) return NULL;
    for (int i = 0; i < na; i++) axes[i] = a[i];
  }
  bool red[DYCL_MAX_RANK] = {false};
  for (int i = 0; i < na; i++) {
    int64_t a = axes[i] < 0 ? axes[i] + x->rank : axes[i];
    if (a < 0 || a >= x->rank || red[a]) return NULL;
    red[a] = true;
  }
  if (na == 0)
    for (int i = 0; i < x->rank; i++) red[i] = true;
  /* the reduced dims (ignoring dims of 1) must be one run: x is [outer, R, inner] */
  int64_t outer = 1, R = 1, inner = 1;
  int phase = 0; /* 0: inner dims (from the end), 1: reduced, 2: outer */
  for (int i = x->rank - 1; i >= 0; i--) {
    if (x->dims[i] == 1) continue;
    if (red[i]) {
      if (phase == 2) return NULL; /* a second run of reduced dims */
      phase = 1;
      R *= x->dims[i];
    } else {
      if (phase == 1) phase = 2;
      if (phase == 0) inner *= x->dims[i];
      else outer *= x->dims[i];
    }
  }
  if (ext && inner != 1) return NULL; /* across rows: the reference kernel */
  bool keep = dycl_attr_int(n, "keepdims", 1) != 0;
  int r = 0;
  int64_t dims[DYCL_MAX_RANK];
  for (int i = 0; i < x->rank; i++)
    if (!red[i]) dims[r++] = x->dims[i];
    else if (keep) dims[r++] = 1;
  dycl_value_t* y;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, n, DYCL_DTYPE_FLOAT32, r, dims, &y));
  bool mean = n->op == DYCL_OP_ReduceMean;
  if (ext) ext_rows(x->data, y->data, outer, R, n->op == DYCL_OP_ReduceMax);
  else if (inner == 1) kern->sum_rows(x->data, y->data, outer, R, mean);
  else kern->sum_middle(x->data, y->data, outer, R, inner, mean);
  return finish(p, n, slots, y, ran);
}

/* ------------------------------------------------------------------ Concat */

static dycl_status_t run_concat(const dycl_program_t* p, const dycl_node_t* n, dycl_value_t** slots,
                                dycl_kctx_t* kctx, bool* ran) {
  const dycl_value_t* x0 = input(slots, n, 0);
  if (!plain_tensor(x0) || x0->rank == 0 || n->n_in < 1 || !dycl_node_attr(n, "axis")) return NULL;
  int64_t axis = dycl_attr_int(n, "axis", 0);
  if (axis < -x0->rank || axis >= x0->rank) return NULL;
  if (axis < 0) axis += x0->rank;
  int64_t dims[DYCL_MAX_RANK];
  memcpy(dims, x0->dims, (size_t)x0->rank * sizeof *dims);
  dims[axis] = 0;
  for (int i = 0; i < n->n_in; i++) {
    const dycl_value_t* t = input(slots, n, i);
    if (!plain_tensor(t) || t->dtype != x0->dtype || t->rank != x0->rank) return NULL;
    for (int d = 0; d < t->rank; d++)
      if (d != axis && t->dims[d] != x0->dims[d]) return NULL;
    dims[axis] += t->dims[axis];
  }
  dycl_value_t* y;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, n, x0->dtype, x0->rank, dims, &y));
  size_t es = dycl_dtype_size(x0->dtype);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= dims[d];
  for (int d = (int)axis + 1; d < x0->rank; d++) inner *= dims[d];
  size_t orow = (size_t)(dims[axis] * inner) * es;
  char* dst = y->data;
  size_t at = 0;
  for (int i = 0; i < n->n_in; i++) {
    const dycl_value_t* t = input(slots, n, i);
    size_t row = (size_t)(t->dims[axis] * inner) * es;
    if (row)
      for (int64_t o = 0; o < outer; o++) memcpy(dst + (size_t)o * orow + at, (const char*)t->data + (size_t)o * row, row);
    at += row;
  }
  return finish(p, n, slots, y, ran);
}

/* Concat along the channels with a channels-last result: [N, S, C_i] pieces side by side in
 * [N, S, sum C_i]; inputs held plain ([N, C_i, S]) are transposed into place. Only when some input
 * is channels-last (else the plain Concat above is a plain copy). */
typedef struct concat_cl_job {
  const fast_kernels_t* kern;
  const dycl_node_t* n;
  dycl_value_t** slots;
  const cpu_cl_query_t* q;
  float* dst;
  int64_t C, S;
  bool rows; /* items are rows, not images */
} concat_cl_job_t;

/* Items [i0, i1) of a channels-last concatenation: each input's rows of c channels copied into
 * place (channels-last inputs), or transposed into place (plain ones). An item is a row (a
 * position of an image) when every input is channels-last, else an image. */
static void concat_cl_part(void* ctx, int64_t i0, int64_t i1) {
  const concat_cl_job_t* j = ctx;
  int64_t C = j->C, S = j->S, at = 0;
  for (int i = 0; i < j->n->n_in; i++) {
    const dycl_value_t* t = input(j->slots, j->n, i);
    const float* src = t->data;
    int64_t c = t->dims[1];
    if (c > 0 && S > 0) {
      if (j->rows)
        j->kern->copy_rows(src + i0 * c, c, j->dst + i0 * C + at, C, i1 - i0, c);
      else
        for (int64_t b = i0; b < i1; b++) {
          if (j->q->held_cl(j->q->ctx, j->n->in[i]))
            j->kern->copy_rows(src + b * S * c, c, j->dst + b * S * C + at, C, S, c);
          else
            j->kern->transpose(src + b * c * S, j->dst + b * S * C + at, c, S, C);
        }
    }
    at += c;
  }
}

dycl_status_t cpu_fast_concat_cl(const fast_kernels_t* kern, int threads, const dycl_program_t* p, const dycl_node_t* n,
                                 dycl_value_t** slots, const cpu_cl_query_t* q, dycl_kctx_t* kctx, bool* ran) {
  *ran = false;
  const dycl_value_t* x0 = input(slots, n, 0);
  if (!f32_tensor(x0) || x0->rank < 3 || !dycl_node_attr(n, "axis")) return NULL;
  int64_t axis = dycl_attr_int(n, "axis", 0);
  if (axis != 1 && axis != 1 - x0->rank) return NULL;
  int64_t dims[DYCL_MAX_RANK], S = 1;
  memcpy(dims, x0->dims, (size_t)x0->rank * sizeof *dims);
  dims[1] = 0;
  bool any_cl = false;
  for (int i = 0; i < n->n_in; i++) {
    const dycl_value_t* t = input(slots, n, i);
    if (!f32_tensor(t) || t->rank != x0->rank) return NULL;
    for (int d = 0; d < t->rank; d++)
      if (d != 1 && t->dims[d] != x0->dims[d]) return NULL;
    dims[1] += t->dims[1];
    any_cl = any_cl || q->held_cl(q->ctx, n->in[i]);
  }
  if (!any_cl) return NULL;
  for (int d = 2; d < x0->rank; d++) S *= dims[d];
  dycl_value_t* y;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, n, DYCL_DTYPE_FLOAT32, x0->rank, dims, &y));
  bool all_cl = true;
  for (int i = 0; i < n->n_in; i++) all_cl = all_cl && q->held_cl(q->ctx, n->in[i]);
  concat_cl_job_t job = {kern, n, slots, q, y->data, dims[1], S, all_cl};
  int64_t numel = dims[0] * S * dims[1];
  cpu_parallel_for(numel >= FAST_PARALLEL_MIN ? threads : 1, all_cl ? dims[0] * S : dims[0], concat_cl_part, &job);
  return finish(p, n, slots, y, ran);
}

/* ------------------------------------------------------------------ Pad, channels-last */

/* Pad node n of a channels-last source over its spatial dims, with a channels-last result: the
 * output filled with the constant, then each run of the source's last spatial dim (W x C floats)
 * copied into place. */
dycl_status_t cpu_fast_pad_cl(const dycl_program_t* p, const dycl_node_t* n, dycl_value_t** slots,
                              const cpu_cl_query_t* q, dycl_kctx_t* kctx, bool* ran) {
  *ran = false;
  const dycl_value_t* x = input(slots, n, 0);
  if (!f32_tensor(x) || !q->held_cl(q->ctx, n->in[0])) return NULL;
  int r = x->rank;
  int64_t pads[2 * DYCL_MAX_RANK];
  double cv;
  if (!dycl_pad_spatial(n, input(slots, n, 1), input(slots, n, 2), DYCL_DTYPE_FLOAT32, r, pads, &cv)) return NULL;
  float value = (float)cv;
  int64_t dims[DYCL_MAX_RANK];
  for (int d = 0; d < r; d++) dims[d] = x->dims[d] + pads[d] + pads[r + d];
  dycl_value_t* y;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, n, DYCL_DTYPE_FLOAT32, r, dims, &y));
  float* dst = y->data;
  for (int64_t i = 0; i < y->numel; i++) dst[i] = value;
  /* channels-last strides (in floats) of the output's dims N, spatial...: C innermost */
  int64_t C = x->dims[1], ost[DYCL_MAX_RANK];
  ost[r - 1] = C;
  for (int d = r - 2; d >= 2; d--) ost[d] = ost[d + 1] * dims[d + 1];
  ost[0] = ost[2] * dims[2];
  int64_t row = x->dims[r - 1] * C, rows = x->numel / (row > 0 ? row : 1);
  const float* src = x->data;
  for (int64_t i = 0; i < rows && row > 0; i++) { /* i runs over (n, spatial dims but the last) */
    int64_t rem = i, off = pads[r - 1] * ost[r - 1];
    for (int d = r - 2; d >= 2; d--) {
      off += (rem % x->dims[d] + pads[d]) * ost[d];
      rem /= x->dims[d];
    }
    off += rem * ost[0];
    memcpy(dst + off, src + i * row, (size_t)row * sizeof *dst);
  }
  return finish(p, n, slots, y, ran);
}

/* ------------------------------------------------------------------ Transpose */

static dycl_status_t run_transpose(const dycl_program_t* p, const dycl_subnet_t* sn, int k, dycl_value_t** slots,
                                   dycl_kctx_t* kctx, bool* ran) {
  const dycl_node_t* n = sn->nodes[k];
  const dycl_value_t* x = input(slots, n, 0);
  if (!plain_tensor(x) || x->rank == 0) return NULL;
  int r = x->rank, perm[DYCL_MAX_RANK], np = 0;
  const int64_t* pa = dycl_attr_ints(n, "perm", &np);
  if (pa && np != r) return NULL;
  bool seen[DYCL_MAX_RANK] = {false};
  for (int i = 0; i < r; i++) {
    int64_t v = pa ? (pa[i] < 0 ? pa[i] + r : pa[i]) : r - 1 - i;
    if (v < 0 || v >= r || seen[v]) return NULL;
    seen[v] = true;
    perm[i] = (int)v;
  }
  int64_t xs[DYCL_MAX_RANK], dims[DYCL_MAX_RANK];
  dycl_strides(r, x->dims, xs);
  /* the output's dims with their strides in x, dims of 1 dropped, neighbours merged when x walks
   * them contiguously */
  int64_t cd[DYCL_MAX_RANK], cs[DYCL_MAX_RANK];
  int c = 0;
  for (int i = 0; i < r; i++) {
    dims[i] = x->dims[perm[i]];
    if (dims[i] == 1) continue;
    if (c > 0 && cs[c - 1] == xs[perm[i]] * dims[i]) {
      cd[c - 1] *= dims[i];
      cs[c - 1] = xs[perm[i]];
      continue;
    }
    cd[c] = dims[i];
    cs[c++] = xs[perm[i]];
  }
  if (c <= 1 || cs[c - 1] == 1) { /* x's order kept: a reshape, or a copy of blocks */
    if (c <= 1) {
      bool steal = cpu_fast_dies_at(sn, k, n->in[0]) && n->out[0] != n->in[0] &&
                   atomic_load_explicit(&((dycl_value_t*)x)->refs, memory_order_acquire) == 1 &&
                   cpu_fast_may_keep(kctx, x);
      if (steal) {
        dycl_value_t* v = (dycl_value_t*)x;
        memcpy(v->dims, dims, (size_t)r * sizeof *dims);
        slots[n->in[0]] = NULL;
        return finish(p, n, slots, v, ran);
      }
    }
  }
  dycl_value_t* y;
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, n, x->dtype, r, dims, &y));
  if (y->numel == 0) return finish(p, n, slots, y, ran);
  size_t es = dycl_dtype_size(x->dtype);
  if (c == 0) {
    memcpy(y->data, x->data, es);
    return finish(p, n, slots, y, ran);
  }
  /* walk the output in order; the innermost dim is a contiguous run of x or a strided one */
  int64_t idx[DYCL_MAX_RANK] = {0}, off = 0, inner = cd[c - 1], istr = cs[c - 1];
  int64_t rows = y->numel / inner;
  char* dst = y->data;
  const char* src = x->data;
  for (int64_t row = 0; row < rows; row++) {
    if (istr == 1) {
      memcpy(dst, src + (size_t)off * es, (size_t)inner * es);
    } else if (es == 4) {
      const uint32_t* s = (const uint32_t*)src + off;
      uint32_t* d = (uint32_t*)dst;
      for (int64_t j = 0; j < inner; j++) d[j] = s[j * istr];
    } else {
      for (int64_t j = 0; j < inner; j++) memcpy(dst + (size_t)j * es, src + (size_t)(off + j * istr) * es, es);
    }
    dst += (size_t)inner * es;
    for (int d = c - 2; d >= 0; d--) {
      off += cs[d];
      if (++idx[d] < cd[d]) break;
      off -= idx[d] * cs[d];
      idx[d] = 0;
    }
  }
  return finish(p, n, slots, y, ran);
}

/* ------------------------------------------------------------------ dispatch */

dycl_status_t cpu_fast_op_run(const fast_kernels_t* kern, const dycl_program_t* p, const dycl_subnet_t* sn, int k,
                              dycl_value_t** slots, dycl_kctx_t* kctx, bool* ran) {
  *ran = false;
  const dycl_node_t* n = sn->nodes[k];
  if (n->n_out < 1 || n->out[0] < 0 || n->n_in < 1 || n->in[0] < 0) return NULL;
  switch (n->op) {
    case DYCL_OP_Softmax:
    case DYCL_OP_LogSoftmax: return run_softmax(kern, p, n, slots, kctx, ran);
    case DYCL_OP_LayerNormalization: return run_layernorm(kern, p, n, slots, kctx, ran);
    case DYCL_OP_ArgMax:
    case DYCL_OP_ArgMin: return run_argext(kern, p, n, slots, kctx, ran);
    case DYCL_OP_ReduceSum:
    case DYCL_OP_ReduceMean:
    case DYCL_OP_ReduceMax:
    case DYCL_OP_ReduceMin: return run_reduce(kern, p, n, slots, kctx, ran);
    case DYCL_OP_Concat: return run_concat(p, n, slots, kctx, ran);
    case DYCL_OP_Transpose: return run_transpose(p, sn, k, slots, kctx, ran);
    case DYCL_OP_Reshape:
    case DYCL_OP_Flatten:
    case DYCL_OP_Squeeze:
    case DYCL_OP_Unsqueeze: return run_reshape(p, sn, k, slots, kctx, ran);
    default: return NULL;
  }
}
