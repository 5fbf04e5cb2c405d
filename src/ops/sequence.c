/* Sequence and optional operators: SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceAt,
 * SequenceErase, SequenceLength, ConcatFromSequence, SplitToSequence, Optional,
 * OptionalHasElement, OptionalGetElement.
 *
 * Values are immutable: every op builds a new sequence (or optional) whose items are retained
 * references to the input's items, never copies. SequenceAt and OptionalGetElement return a
 * retained reference to the element itself.
 *
 * Static types: a sequence's type has kind SEQUENCE and the dtype/rank/dims that all of its
 * tensors share (rank -1 when they may differ or are not known); an optional's type has kind
 * OPTIONAL, elem_kind, and the dtype/rank/dims of the tensor it (or its sequence) holds. */
#include <inttypes.h>
#include <string.h>

#include "ops/op.h"

/* ------------------------------------------------------------- type helpers */

static dycl_type_t seq_type(dycl_dtype_t dtype) {
  dycl_type_t t = dycl_type_unknown();
  t.known = true;
  t.kind = DYCL_VALUE_SEQUENCE;
  t.dtype = dtype;
  t.rank = -1;
  return t;
}

/* Widens `acc` (dtype/rank/dims of a sequence's tensors) to cover tensor type t as well; `acc_set`
 * false means acc describes nothing yet. A dtype clash is reported by the callers. */
static void merge_elem(dycl_type_t* acc, bool* acc_set, const dycl_type_t* t) {
  if (!*acc_set) {
    acc->dtype = t->known ? t->dtype : DYCL_DTYPE_UNDEFINED;
    acc->rank = t->known ? t->rank : -1;
    for (int i = 0; i < acc->rank; i++) acc->dims[i] = t->dims[i];
    *acc_set = true;
    return;
  }
  if (!t->known) {
    acc->rank = -1;
    return;
  }
  if (!acc->dtype) acc->dtype = t->dtype;
  if (acc->rank != t->rank) {
    acc->rank = -1;
    return;
  }
  for (int i = 0; i < acc->rank; i++)
    if (!dycl_dim_equal(acc->dims[i], t->dims[i])) acc->dims[i] = dycl_dim_unknown();
}

static dycl_status_t need_kind(const dycl_node_t* node, const dycl_type_t* t, int i, dycl_value_kind_t kind) {
  if (!t || !t->known || t->kind == kind) return NULL;
  static const char* const names[] = {"a tensor", "a sequence", "an optional"};
  return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d must be %s", i, names[kind]);
}

/* Checks a position input: a scalar int32/int64 tensor. */
static dycl_status_t infer_position(dycl_infer_ctx_t* ctx, const dycl_node_t* node, int i) {
  const dycl_type_t* t = dycl_infer_in(ctx, node, i);
  if (!t) return NULL;
  DYCL_RETURN_IF_ERROR(need_kind(node, t, i, DYCL_VALUE_TENSOR));
  DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, i, dycl_dtypes_index));
  if (t->known && t->rank > 1)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "position must be a scalar, not of rank %d", t->rank);
  return NULL;
}

/* ----------------------------------------------------------- kernel helpers */

static dycl_status_t need_seq(const dycl_node_t* node, dycl_value_t* const* in, int nin, int i) {
  if (i >= nin || !in[i]) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d is required", i);
  if (in[i]->kind != DYCL_VALUE_SEQUENCE)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d must be a sequence", i);
  return NULL;
}

/* Reads a scalar (or one-element) integer position. */
static dycl_status_t read_position(const dycl_node_t* node, const dycl_value_t* t, int64_t* pos) {
  if (t->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_int(t->dtype) || t->numel != 1 || t->rank > 1)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "position must be an integer scalar");
  *pos = dycl_tensor_get_i64(t, 0);
  return NULL;
}

/* Normalizes pos against [-n, n - 1] (or [-n, n] when `inclusive`). */
static dycl_status_t seq_index(const dycl_node_t* node, int64_t pos, int n, bool inclusive, int* out) {
  int64_t hi = inclusive ? n : n - 1;
  if (pos < -(int64_t)n || pos > hi)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "position %" PRId64 " is out of range for a sequence of %d", pos, n);
  *out = (int)(pos < 0 ? pos + n : pos);
  return NULL;
}

/* A new sequence of `len` slots. */
static dycl_status_t new_seq(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_dtype_t dtype, int len, dycl_value_t** out) {
  dycl_status_t s = dycl_sequence_new(ctx->alloc, dtype, len, out);
  if (s) return dycl_error_wrap(s, "node '%s' (%s)", node->name, node->op_type);
  return NULL;
}

/* Copies `n` elements from src[si...] to dst[di...] (same dtype, strings deep-copied). */
static dycl_status_t copy_elems(dycl_value_t* dst, int64_t di, const dycl_value_t* src, int64_t si, int64_t n) {
  if (n <= 0) return NULL;
  if (dst->dtype == DYCL_DTYPE_STRING) {
    for (int64_t k = 0; k < n; k++) {
      dycl_tensor_copy_elem(dst, di + k, src, si + k);
      if (!((char**)dst->data)[di + k]) return dycl_error_nomem();
    }
    return NULL;
  }
  size_t esz = dycl_dtype_size(dst->dtype);
  memcpy((char*)dst->data + (size_t)di * esz, (const char*)src->data + (size_t)si * esz, (size_t)n * esz);
  return NULL;
}

/* ------------------------------------------------------------ SequenceEmpty */

dycl_status_t dycl_infer_SequenceEmpty(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  int64_t dt = dycl_attr_int(node, "dtype", DYCL_DTYPE_FLOAT32);
  if (!dycl_dtype_is_valid((int)dt) || dt == DYCL_DTYPE_UNDEFINED)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "unsupported dtype %" PRId64, dt);
  dycl_type_t t = seq_type((dycl_dtype_t)dt);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_SequenceEmpty(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                     dycl_value_t** out, int nout) {
  (void)in, (void)nin, (void)nout;
  int64_t dt = dycl_attr_int(node, "dtype", DYCL_DTYPE_FLOAT32);
  if (!dycl_dtype_is_valid((int)dt) || dt == DYCL_DTYPE_UNDEFINED)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "unsupported dtype %" PRId64, dt);
  return new_seq(ctx, node, (dycl_dtype_t)dt, 0, &out[0]);
}

/* -------------------------------------------------------- SequenceConstruct */

dycl_status_t dycl_infer_SequenceConstruct(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t = seq_type(DYCL_DTYPE_UNDEFINED);
  bool set = false;
  for (int i = 0; i < node->n_in; i++) {
    const dycl_type_t* u = dycl_infer_in(ctx, node, i);
    if (!u) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input %d is missing", i);
    DYCL_RETURN_IF_ERROR(need_kind(node, u, i, DYCL_VALUE_TENSOR));
    if (i > 0) DYCL_RETURN_IF_ERROR(dycl_infer_check_same_dtype(ctx, node, 0, i));
    merge_elem(&t, &set, u);
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_SequenceConstruct(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                         dycl_value_t** out, int nout) {
  (void)nout;
  if (nin < 1) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "needs at least one input");
  for (int i = 0; i < nin; i++) {
    DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, i));
    if (in[i]->dtype != in[0]->dtype)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "input %d is %s but input 0 is %s", i,
                             dycl_dtype_name(in[i]->dtype), dycl_dtype_name(in[0]->dtype));
  }
  DYCL_RETURN_IF_ERROR(new_seq(ctx, node, in[0]->dtype, nin, &out[0]));
  for (int i = 0; i < nin; i++) out[0]->items[i] = dycl_value_retain(in[i]);
  return NULL;
}

/* ----------------------------------------------------------- SequenceInsert */

dycl_status_t dycl_infer_SequenceInsert(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* s = dycl_infer_in(ctx, node, 0);
  const dycl_type_t* x = dycl_infer_in(ctx, node, 1);
  DYCL_RETURN_IF_ERROR(need_kind(node, s, 0, DYCL_VALUE_SEQUENCE));
  DYCL_RETURN_IF_ERROR(need_kind(node, x, 1, DYCL_VALUE_TENSOR));
  DYCL_RETURN_IF_ERROR(infer_position(ctx, node, 2));
  if (s && x && s->known && x->known && s->dtype && x->dtype && s->dtype != x->dtype)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "inserting a %s tensor into a sequence of %s",
                           dycl_dtype_name(x->dtype), dycl_dtype_name(s->dtype));
  dycl_type_t t = seq_type(DYCL_DTYPE_UNDEFINED);
  bool set = false;
  if (s && s->known) {
    dycl_type_t e = *s;
    e.kind = DYCL_VALUE_TENSOR;
    merge_elem(&t, &set, &e);
  } else {
    set = true; /* the sequence's elements are unknown */
  }
  if (x) merge_elem(&t, &set, x);
  if (!t.dtype) t.dtype = s && s->known && s->dtype ? s->dtype : (x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_SequenceInsert(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                      dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(need_seq(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 1));
  const dycl_value_t* s = in[0];
  dycl_value_t* x = in[1];
  if (s->dtype != DYCL_DTYPE_UNDEFINED && s->dtype != x->dtype)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "inserting a %s tensor into a sequence of %s",
                           dycl_dtype_name(x->dtype), dycl_dtype_name(s->dtype));
  if (s->len >= INT32_MAX) return dycl_node_error(node, DYCL_CODE_LIMIT, "sequence is too long");
  int at = s->len;
  if (nin > 2 && in[2]) {
    int64_t pos = 0;
    DYCL_RETURN_IF_ERROR(read_position(node, in[2], &pos));
    DYCL_RETURN_IF_ERROR(seq_index(node, pos, s->len, true, &at));
  }
  DYCL_RETURN_IF_ERROR(new_seq(ctx, node, x->dtype, s->len + 1, &out[0]));
  dycl_value_t** items = out[0]->items;
  for (int i = 0, k = 0; i <= s->len; i++) items[i] = dycl_value_retain(i == at ? x : s->items[k++]);
  return NULL;
}

/* --------------------------------------------------------------- SequenceAt */

dycl_status_t dycl_infer_SequenceAt(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* s = dycl_infer_in(ctx, node, 0);
  DYCL_RETURN_IF_ERROR(need_kind(node, s, 0, DYCL_VALUE_SEQUENCE));
  DYCL_RETURN_IF_ERROR(infer_position(ctx, node, 1));
  dycl_type_t t = dycl_type_tensor(DYCL_DTYPE_UNDEFINED, -1);
  if (s && s->known) {
    t = *s;
    t.kind = DYCL_VALUE_TENSOR;
    t.elem_kind = DYCL_VALUE_TENSOR;
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_SequenceAt(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                  dycl_value_t** out, int nout) {
  (void)ctx, (void)nout;
  DYCL_RETURN_IF_ERROR(need_seq(node, in, nin, 0));
  if (nin < 2 || !in[1]) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "position is required");
  int64_t pos = 0;
  int at = 0;
  DYCL_RETURN_IF_ERROR(read_position(node, in[1], &pos));
  DYCL_RETURN_IF_ERROR(seq_index(node, pos, in[0]->len, false, &at));
  out[0] = dycl_value_retain(in[0]->items[at]);
  return NULL;
}

/* ------------------------------------------------------------ SequenceErase */

dycl_status_t dycl_infer_SequenceErase(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* s = dycl_infer_in(ctx, node, 0);
  DYCL_RETURN_IF_ERROR(need_kind(node, s, 0, DYCL_VALUE_SEQUENCE));
  DYCL_RETURN_IF_ERROR(infer_position(ctx, node, 1));
  dycl_type_t t = s && s->known ? *s : seq_type(DYCL_DTYPE_UNDEFINED);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_SequenceErase(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                     dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(need_seq(node, in, nin, 0));
  const dycl_value_t* s = in[0];
  int64_t pos = -1;
  int at = 0;
  if (nin > 1 && in[1]) DYCL_RETURN_IF_ERROR(read_position(node, in[1], &pos));
  DYCL_RETURN_IF_ERROR(seq_index(node, pos, s->len, false, &at));
  DYCL_RETURN_IF_ERROR(new_seq(ctx, node, s->dtype, s->len - 1, &out[0]));
  for (int i = 0, k = 0; i < s->len; i++)
    if (i != at) out[0]->items[k++] = dycl_value_retain(s->items[i]);
  return NULL;
}

/* ----------------------------------------------------------- SequenceLength */

dycl_status_t dycl_infer_SequenceLength(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  DYCL_RETURN_IF_ERROR(need_kind(node, dycl_infer_in(ctx, node, 0), 0, DYCL_VALUE_SEQUENCE));
  dycl_type_t t = dycl_type_tensor(DYCL_DTYPE_INT64, 0);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_SequenceLength(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                      dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(need_seq(node, in, nin, 0));
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_INT64, 0, NULL, &out[0]));
  ((int64_t*)out[0]->data)[0] = in[0]->len;
  return NULL;
}

/* ------------------------------------------------------- ConcatFromSequence */

dycl_status_t dycl_infer_ConcatFromSequence(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* s = dycl_infer_in(ctx, node, 0);
  DYCL_RETURN_IF_ERROR(need_kind(node, s, 0, DYCL_VALUE_SEQUENCE));
  if (!dycl_node_attr(node, "axis"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'axis' is required");
  int64_t axis = dycl_attr_int(node, "axis", 0);
  bool new_axis = dycl_attr_int(node, "new_axis", 0) != 0;
  dycl_type_t t = dycl_type_tensor(s && s->known ? s->dtype : DYCL_DTYPE_UNDEFINED, -1);
  if (s && s->known && s->rank >= 0) {
    int r = s->rank + (new_axis ? 1 : 0);
    if (axis < -r || axis >= r || (!new_axis && r == 0))
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "axis %" PRId64 " is out of range for rank %d", axis, r);
    int a = (int)(axis < 0 ? axis + r : axis);
    t.rank = r;
    for (int i = 0, k = 0; i < r; i++) {
      if (i == a) {
        t.dims[i] = dycl_dim_unknown();
        if (!new_axis) k++;
      } else {
        t.dims[i] = s->dims[k++];
      }
    }
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_ConcatFromSequence(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                          dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(need_seq(node, in, nin, 0));
  const dycl_value_t* s = in[0];
  if (!dycl_node_attr(node, "axis"))
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "attribute 'axis' is required");
  int64_t axis_attr = dycl_attr_int(node, "axis", 0);
  bool new_axis = dycl_attr_int(node, "new_axis", 0) != 0;
  if (s->len == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot concatenate an empty sequence");
  const dycl_value_t* first = s->items[0];
  int r = first->rank;
  for (int i = 0; i < s->len; i++) {
    const dycl_value_t* it = s->items[i];
    if (it->kind != DYCL_VALUE_TENSOR)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "sequence item %d is not a tensor", i);
    if (it->dtype != first->dtype || it->rank != r)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "sequence item %d (%s of rank %d) differs from item 0 (%s of rank %d)",
                             i, dycl_dtype_name(it->dtype), it->rank, dycl_dtype_name(first->dtype), r);
  }
  int orank = r + (new_axis ? 1 : 0);
  if (orank > DYCL_MAX_RANK) return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "rank %d is too high", orank);
  if (!new_axis && r == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot concatenate scalars");
  int a = 0;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, axis_attr, orank, &a));
  /* every item must match item 0 except along the axis (concat) */
  int64_t axis_total = 0;
  for (int i = 0; i < s->len; i++) {
    const dycl_value_t* it = s->items[i];
    for (int d = 0; d < r; d++) {
      if (!new_axis && d == a) continue;
      if (it->dims[d] != first->dims[d]) {
        char b1[128], b2[128];
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "sequence item %d has shape %s, incompatible with item 0's %s", i,
                               dycl_shape_str(it->rank, it->dims, b1, sizeof b1),
                               dycl_shape_str(r, first->dims, b2, sizeof b2));
      }
    }
    if (!new_axis && !dycl_add_i64(axis_total, it->dims[a], &axis_total))
      return dycl_node_error(node, DYCL_CODE_LIMIT, "size overflows");
  }
  int64_t odims[DYCL_MAX_RANK];
  for (int i = 0, k = 0; i < orank; i++) {
    if (i == a) {
      odims[i] = new_axis ? s->len : axis_total;
      if (!new_axis) k++;
    } else {
      odims[i] = first->dims[k++];
    }
  }
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, first->dtype, orank, odims, &out[0]));
  /* outer = product of dims before the axis; each item contributes a block per outer index */
  int64_t outer = 1;
  for (int i = 0; i < a; i++) outer *= odims[i];
  int64_t inner = 1; /* product of item dims after the axis (or from the axis, for new_axis) */
  for (int d = new_axis ? a : a + 1; d < r; d++) inner *= first->dims[d];
  int64_t pos = 0;
  for (int64_t o = 0; o < outer; o++) {
    for (int i = 0; i < s->len; i++) {
      const dycl_value_t* it = s->items[i];
      int64_t block = new_axis ? inner : it->dims[a] * inner;
      DYCL_RETURN_IF_ERROR(copy_elems(out[0], pos, it, o * block, block));
      pos += block;
    }
  }
  return NULL;
}

/* ---------------------------------------------------------- SplitToSequence */

dycl_status_t dycl_infer_SplitToSequence(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  DYCL_RETURN_IF_ERROR(need_kind(node, x, 0, DYCL_VALUE_TENSOR));
  const dycl_type_t* sp = dycl_infer_in(ctx, node, 1);
  if (sp) {
    DYCL_RETURN_IF_ERROR(need_kind(node, sp, 1, DYCL_VALUE_TENSOR));
    DYCL_RETURN_IF_ERROR(dycl_infer_check_dtype(ctx, node, 1, dycl_dtypes_index));
  }
  int64_t axis = dycl_attr_int(node, "axis", 0);
  bool keepdims = dycl_attr_int(node, "keepdims", 1) != 0;
  dycl_type_t t = seq_type(x && x->known ? x->dtype : DYCL_DTYPE_UNDEFINED);
  if (x && x->known && x->rank >= 0) {
    int r = x->rank, a;
    DYCL_RETURN_IF_ERROR(dycl_kernel_axis_code(node, DYCL_CODE_INVALID_MODEL, axis, r, &a));
    if (!sp && !keepdims) {
      t.rank = r - 1;
      for (int i = 0, k = 0; i < r; i++)
        if (i != a) t.dims[k++] = x->dims[i];
    } else {
      t.rank = r;
      for (int i = 0; i < r; i++) t.dims[i] = x->dims[i];
      t.dims[a] = sp ? dycl_dim_unknown() : dycl_dim_const(1);
    }
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

/* The slice [start, start + len) of x along axis a, keeping the axis or not. */
static dycl_status_t slice_axis(dycl_kctx_t* ctx, const dycl_node_t* node, const dycl_value_t* x, int a, int64_t start,
                                int64_t len, bool keep, dycl_value_t** out) {
  int64_t dims[DYCL_MAX_RANK];
  int rank = 0;
  for (int i = 0; i < x->rank; i++) {
    if (i == a) {
      if (keep) dims[rank++] = len;
    } else {
      dims[rank++] = x->dims[i];
    }
  }
  dycl_status_t s = dycl_tensor_new(ctx->alloc, ctx->limits, x->dtype, rank, dims, out);
  if (s) return dycl_error_wrap(s, "node '%s' (%s)", node->name, node->op_type);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < a; i++) outer *= x->dims[i];
  for (int i = a + 1; i < x->rank; i++) inner *= x->dims[i];
  int64_t block = len * inner;
  for (int64_t o = 0; o < outer; o++) {
    s = copy_elems(*out, o * block, x, (o * x->dims[a] + start) * inner, block);
    if (s) {
      dycl_value_release(*out);
      *out = NULL;
      return dycl_error_wrap(s, "node '%s' (%s)", node->name, node->op_type);
    }
  }
  return NULL;
}

dycl_status_t dycl_run_SplitToSequence(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                       dycl_value_t** out, int nout) {
  (void)nout;
  DYCL_RETURN_IF_ERROR(dycl_kernel_need_tensor(node, in, nin, 0));
  const dycl_value_t* x = in[0];
  if (x->rank == 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "cannot split a scalar");
  int a = 0;
  DYCL_RETURN_IF_ERROR(dycl_kernel_axis(node, dycl_attr_int(node, "axis", 0), x->rank, &a));
  bool keepdims = dycl_attr_int(node, "keepdims", 1) != 0;
  const int64_t dim = x->dims[a];
  const dycl_value_t* sp = nin > 1 ? in[1] : NULL;
  int64_t n = 0, chunk = 1;
  if (sp) {
    if (sp->kind != DYCL_VALUE_TENSOR || !dycl_dtype_is_int(sp->dtype) || sp->rank > 1)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "split must be an integer scalar or 1-D tensor");
    if (sp->rank == 0) {
      chunk = dycl_tensor_get_i64(sp, 0);
      if (chunk <= 0) return dycl_node_error(node, DYCL_CODE_RUNTIME, "split must be positive, not %" PRId64, chunk);
      n = dim / chunk + (dim % chunk ? 1 : 0);
    } else {
      n = sp->numel;
      int64_t total = 0;
      for (int64_t i = 0; i < n; i++) {
        int64_t v = dycl_tensor_get_i64(sp, i);
        if (v < 0 || !dycl_add_i64(total, v, &total))
          return dycl_node_error(node, DYCL_CODE_RUNTIME, "split has a negative or huge entry %" PRId64, v);
      }
      if (total != dim)
        return dycl_node_error(node, DYCL_CODE_RUNTIME, "split sums to %" PRId64 " but the axis has %" PRId64, total, dim);
    }
  } else {
    n = dim;
  }
  if (n >= INT32_MAX) return dycl_node_error(node, DYCL_CODE_LIMIT, "too many pieces (%" PRId64 ")", n);
  DYCL_RETURN_IF_ERROR(new_seq(ctx, node, x->dtype, (int)n, &out[0]));
  int64_t start = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t len;
    if (sp && sp->rank == 1) len = dycl_tensor_get_i64(sp, i);
    else if (sp) len = start + chunk <= dim ? chunk : dim - start;
    else len = 1;
    bool keep = sp || keepdims;
    DYCL_RETURN_IF_ERROR(slice_axis(ctx, node, x, a, start, len, keep, &out[0]->items[i]));
    start += len;
  }
  return NULL;
}

/* ----------------------------------------------------------------- Optional */

dycl_status_t dycl_infer_Optional(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  dycl_type_t t = dycl_type_unknown();
  t.known = true;
  t.kind = DYCL_VALUE_OPTIONAL;
  if (x) {
    if (x->known && x->kind == DYCL_VALUE_OPTIONAL)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input must be a tensor or a sequence, not an optional");
    if (x->known) {
      t.elem_kind = x->kind;
      t.dtype = x->dtype;
      t.rank = x->rank;
      for (int i = 0; i < x->rank; i++) t.dims[i] = x->dims[i];
    } else {
      t = dycl_type_unknown(); /* cannot tell whether it holds a tensor or a sequence */
    }
  } else {
    const dycl_attr_t* a = dycl_node_attr(node, "type");
    if (!a || a->type != DYCL_ATTR_TYPE_PROTO)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "an Optional without input needs the 'type' attribute");
    if (a->tp.known && a->tp.kind == DYCL_VALUE_OPTIONAL)
      return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "optionals of optionals are not supported");
    t.elem_kind = a->tp.known ? a->tp.kind : DYCL_VALUE_TENSOR;
    t.dtype = a->tp.dtype;
    t.rank = a->tp.known ? a->tp.rank : -1;
    for (int i = 0; i < t.rank; i++) t.dims[i] = a->tp.dims[i];
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_Optional(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                dycl_value_t** out, int nout) {
  (void)nout;
  dycl_value_t* x = nin > 0 ? in[0] : NULL;
  dycl_status_t s;
  if (x) {
    if (x->kind == DYCL_VALUE_OPTIONAL)
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "input must be a tensor or a sequence, not an optional");
    s = dycl_optional_new(ctx->alloc, x->kind, x->dtype, x, &out[0]);
  } else {
    const dycl_attr_t* a = dycl_node_attr(node, "type");
    if (!a || a->type != DYCL_ATTR_TYPE_PROTO)
      return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "an Optional without input needs the 'type' attribute");
    s = dycl_optional_new(ctx->alloc, a->tp.known ? a->tp.kind : DYCL_VALUE_TENSOR, a->tp.dtype, NULL, &out[0]);
  }
  if (s) return dycl_error_wrap(s, "node '%s' (%s)", node->name, node->op_type);
  return NULL;
}

/* ------------------------------------------------------- OptionalHasElement */

dycl_status_t dycl_infer_OptionalHasElement(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  dycl_type_t t = dycl_type_tensor(DYCL_DTYPE_BOOL, 0);
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_OptionalHasElement(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                          dycl_value_t** out, int nout) {
  (void)nout;
  const dycl_value_t* x = nin > 0 ? in[0] : NULL;
  /* an omitted input or an empty optional has no element; a plain tensor or sequence has one */
  bool has = x && (x->kind != DYCL_VALUE_OPTIONAL || x->elem != NULL);
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(ctx, node, DYCL_DTYPE_BOOL, 0, NULL, &out[0]));
  ((uint8_t*)out[0]->data)[0] = has ? 1 : 0;
  return NULL;
}

/* ------------------------------------------------------- OptionalGetElement */

dycl_status_t dycl_infer_OptionalGetElement(dycl_infer_ctx_t* ctx, const dycl_node_t* node) {
  const dycl_type_t* x = dycl_infer_in(ctx, node, 0);
  dycl_type_t t = dycl_type_unknown();
  if (x && x->known) {
    t = *x;
    if (x->kind == DYCL_VALUE_OPTIONAL) t.kind = x->elem_kind;
    t.elem_kind = DYCL_VALUE_TENSOR;
  }
  return dycl_infer_set(ctx, node, 0, &t);
}

dycl_status_t dycl_run_OptionalGetElement(dycl_kctx_t* ctx, const dycl_node_t* node, dycl_value_t* const* in, int nin,
                                          dycl_value_t** out, int nout) {
  (void)ctx, (void)nout;
  dycl_value_t* x = nin > 0 ? in[0] : NULL;
  if (!x) return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "input 0 is required");
  if (x->kind == DYCL_VALUE_OPTIONAL) {
    if (!x->elem) return dycl_node_error(node, DYCL_CODE_RUNTIME, "the optional input has no element");
    out[0] = dycl_value_retain(x->elem);
  } else {
    out[0] = dycl_value_retain(x);
  }
  return NULL;
}
