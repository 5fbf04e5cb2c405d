/* Host-side helpers of control flow, shared by the in-process executor and generated packages
 * (see host_ops.h). */
#include "exec/host_ops.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ lists */

dycl_status_t dycl_host_list_push(const dycl_allocator_t* alloc, dycl_host_list_t* l, dycl_value_t* x) {
  dycl_status_t s = dycl_grow(alloc, (void**)&l->items, sizeof *l->items, &l->cap, l->n + 1);
  if (s) {
    dycl_value_release(x);
    return s;
  }
  l->items[l->n++] = x;
  return NULL;
}

void dycl_host_list_reverse(dycl_host_list_t* l) {
  for (int64_t i = 0; i < l->n / 2; i++) {
    dycl_value_t* tmp = l->items[i];
    l->items[i] = l->items[l->n - 1 - i];
    l->items[l->n - 1 - i] = tmp;
  }
}

void dycl_host_lists_free(const dycl_allocator_t* alloc, dycl_host_list_t* l, int n) {
  for (int k = 0; k < n; k++) {
    for (int64_t i = 0; i < l[k].n; i++) dycl_value_release(l[k].items[i]);
    dycl_free(alloc, l[k].items);
    l[k].items = NULL;
    l[k].n = l[k].cap = 0;
  }
}

/* ------------------------------------------------------------- conditions */

dycl_status_t dycl_host_read_bool(const dycl_node_t* n, const dycl_value_t* v, const char* what, bool* out) {
  if (v->kind != DYCL_VALUE_TENSOR || v->numel != 1 || v->dtype == DYCL_DTYPE_STRING)
    return dycl_node_error(n, DYCL_CODE_RUNTIME, "%s must be a single boolean value", what);
  *out = dycl_tensor_get_f64(v, 0) != 0;
  return NULL;
}

dycl_status_t dycl_host_trip_count(const dycl_node_t* n, const dycl_value_t* v, int64_t* trip) {
  *trip = -1;
  if (!v) return NULL;
  if (v->kind != DYCL_VALUE_TENSOR || v->numel != 1 || !dycl_dtype_is_int(v->dtype))
    return dycl_node_error(n, DYCL_CODE_RUNTIME, "trip count must be a single integer, got %s with %" PRId64 " elements",
                           dycl_dtype_name(v->dtype), v->numel);
  *trip = dycl_tensor_get_i64(v, 0);
  if (*trip < 0) *trip = 0;
  return NULL;
}

dycl_status_t dycl_host_loop_limit(const dycl_node_t* n, int64_t max_iterations) {
  return dycl_node_error(n, DYCL_CODE_LIMIT, "loop ran more than %" PRId64 " iterations (the --max-iterations limit)",
                         max_iterations);
}

dycl_status_t dycl_host_scan_limit(const dycl_node_t* n, int64_t max_iterations) {
  return dycl_node_error(n, DYCL_CODE_LIMIT, "scan ran more than %" PRId64 " iterations (the --max-iterations limit)",
                         max_iterations);
}

/* ---------------------------------------------------------- stack / slice */

/* Drops a half-copied string tensor. */
static dycl_status_t string_nomem(const dycl_node_t* node, dycl_value_t** out) {
  dycl_value_release(*out);
  *out = NULL;
  return dycl_node_error(node, DYCL_CODE_NO_MEMORY, "out of memory copying strings");
}

int64_t dycl_host_dim_value(dycl_dim_t d, const int64_t* sym, int n_sym) {
  if (d.v >= 0) return d.v;
  if (d.sym > 0 && d.sym < n_sym && sym[d.sym] >= 0) return sym[d.sym];
  return 0;
}

dycl_status_t dycl_host_stack(dycl_kctx_t* kctx, const dycl_node_t* node, int which, dycl_value_t** items, int64_t n,
                              int axis, const dycl_type_t* hint, const int64_t* sym, int n_sym, dycl_value_t** out) {
  int64_t dims[DYCL_MAX_RANK];
  if (n == 0) { /* no iteration: an empty tensor, the per-iteration shape from inference */
    dycl_dtype_t dt = hint->known && hint->dtype ? hint->dtype : DYCL_DTYPE_FLOAT32;
    int elem_rank = hint->known && hint->rank >= 0 && hint->rank < DYCL_MAX_RANK ? hint->rank : 0;
    if (axis < 0 || axis > elem_rank) axis = 0;
    for (int d = 0, e = 0; d <= elem_rank; d++)
      dims[d] = d == axis ? 0 : dycl_host_dim_value(hint->dims[e], sym, n_sym), e += d != axis;
    return dycl_kernel_tensor(kctx, node, dt, elem_rank + 1, dims, out);
  }
  const dycl_value_t* f = items[0];
  if (f->kind != DYCL_VALUE_TENSOR)
    return dycl_node_error(node, DYCL_CODE_RUNTIME, "scan output %d must be a tensor", which);
  if (f->rank + 1 > DYCL_MAX_RANK)
    return dycl_node_error(node, DYCL_CODE_UNSUPPORTED, "scan output %d would exceed rank %d", which, DYCL_MAX_RANK);
  if (axis < 0 || axis > f->rank)
    return dycl_node_error(node, DYCL_CODE_INVALID_MODEL, "scan output axis %d is out of range", axis);
  for (int64_t i = 1; i < n; i++) {
    const dycl_value_t* t = items[i];
    bool same = t->kind == DYCL_VALUE_TENSOR && t->dtype == f->dtype && t->rank == f->rank;
    for (int d = 0; same && d < f->rank; d++) same = t->dims[d] == f->dims[d];
    if (!same) {
      char b1[128], b2[128];
      return dycl_node_error(node, DYCL_CODE_RUNTIME, "scan output %d changes shape across iterations (%s then %s)",
                             which, dycl_shape_str(f->rank, f->dims, b1, sizeof b1),
                             dycl_shape_str(t->rank, t->dims, b2, sizeof b2));
    }
  }
  for (int d = 0, s = 0; d <= f->rank; d++) dims[d] = d == axis ? n : f->dims[s++];
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, node, f->dtype, f->rank + 1, dims, out));
  /* out = [outer..., n, inner...]: copy each item's inner blocks */
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= f->dims[d];
  for (int d = axis; d < f->rank; d++) inner *= f->dims[d];
  size_t esz = dycl_dtype_size(f->dtype);
  for (int64_t i = 0; i < n; i++)
    for (int64_t o = 0; o < outer; o++) {
      int64_t di = (o * n + i) * inner, si = o * inner;
      if (f->dtype == DYCL_DTYPE_STRING) {
        for (int64_t e = 0; e < inner; e++)
          if (!dycl_tensor_copy_elem(*out, di + e, items[i], si + e)) return string_nomem(node, out);
      } else if (inner) {
        memcpy((char*)(*out)->data + (size_t)di * esz, (const char*)items[i]->data + (size_t)si * esz,
               (size_t)inner * esz);
      }
    }
  return NULL;
}

dycl_status_t dycl_host_slice(dycl_kctx_t* kctx, const dycl_node_t* node, const dycl_value_t* t, int axis,
                              int64_t index, dycl_value_t** out) {
  int64_t dims[DYCL_MAX_RANK];
  for (int d = 0, k = 0; d < t->rank; d++)
    if (d != axis) dims[k++] = t->dims[d];
  DYCL_RETURN_IF_ERROR(dycl_kernel_tensor(kctx, node, t->dtype, t->rank - 1, dims, out));
  int64_t outer = 1, inner = 1, len = t->dims[axis];
  for (int d = 0; d < axis; d++) outer *= t->dims[d];
  for (int d = axis + 1; d < t->rank; d++) inner *= t->dims[d];
  size_t esz = dycl_dtype_size(t->dtype);
  for (int64_t o = 0; o < outer; o++) {
    int64_t si = (o * len + index) * inner, di = o * inner;
    if (t->dtype == DYCL_DTYPE_STRING) {
      for (int64_t e = 0; e < inner; e++)
        if (!dycl_tensor_copy_elem(*out, di + e, t, si + e)) return string_nomem(node, out);
    } else if (inner) {
      memcpy((char*)(*out)->data + (size_t)di * esz, (const char*)t->data + (size_t)si * esz, (size_t)inner * esz);
    }
  }
  return NULL;
}

/* ----------------------------------------------------------------- inputs */

static const char* kind_name(dycl_value_kind_t k) {
  return k == DYCL_VALUE_SEQUENCE ? "a sequence" : k == DYCL_VALUE_OPTIONAL ? "an optional" : "a tensor";
}

dycl_status_t dycl_host_check_input(const char* name, const dycl_type_t* t, const dycl_value_t* v) {
  if (!v) return dycl_error(DYCL_CODE_INVALID_INPUT, "input '%s' is missing", name);
  if (!t->known) return NULL;
  if (t->kind != v->kind)
    return dycl_error(DYCL_CODE_INVALID_INPUT, "input '%s' must be %s, got %s", name, kind_name(t->kind),
                      kind_name(v->kind));
  if (v->kind == DYCL_VALUE_SEQUENCE && t->dtype) /* a sequence of tensors: each item's element type */
    for (int i = 0; i < v->len; i++) {
      const dycl_value_t* it = v->items[i];
      if (it && it->kind == DYCL_VALUE_TENSOR && it->dtype != t->dtype)
        return dycl_error(DYCL_CODE_INVALID_INPUT, "input '%s' must be a sequence of %s tensors, item %d is %s", name,
                          dycl_dtype_name(t->dtype), i, dycl_dtype_name(it->dtype));
    }
  if (v->kind != DYCL_VALUE_TENSOR) return NULL;
  char b1[256], b2[160];
  if (t->dtype && t->dtype != v->dtype)
    return dycl_error(DYCL_CODE_INVALID_INPUT, "input '%s' must have element type %s, got %s%s", name,
                      dycl_dtype_name(t->dtype), dycl_dtype_name(v->dtype), dycl_shape_str(v->rank, v->dims, b2, sizeof b2));
  bool bad = t->rank >= 0 && t->rank != v->rank;
  for (int d = 0; !bad && t->rank >= 0 && d < t->rank; d++) bad = t->dims[d].v >= 0 && t->dims[d].v != v->dims[d];
  if (bad)
    return dycl_error(DYCL_CODE_INVALID_INPUT, "input '%s' must have shape %s, got %s%s", name,
                      dycl_type_str(t, b1, sizeof b1), dycl_dtype_name(v->dtype),
                      dycl_shape_str(v->rank, v->dims, b2, sizeof b2));
  return NULL;
}

void dycl_host_bind_syms(const dycl_type_t* t, const dycl_value_t* v, int64_t* sym, int n_sym) {
  if (v->kind != DYCL_VALUE_TENSOR || !t->known || t->rank != v->rank) return;
  for (int d = 0; d < t->rank; d++)
    if (t->dims[d].sym > 0 && t->dims[d].sym < n_sym) sym[t->dims[d].sym] = v->dims[d];
}
