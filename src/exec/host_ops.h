/* Host-side helpers of control flow: the pieces of If/Loop/Scan evaluation that do not depend on
 * where the values live. One source for both hosts: the in-process executor (src/exec/exec.c) and
 * the host module of a generated C package (its runtime/dycl_rt.c wraps these; `dycl compile`
 * copies this file and host_ops.c into every package from the embedded sources), so that a package
 * computes and reports exactly what `dycl run` does.
 *
 * Plain functions: they take what they need (the kernel context for allocation and limits, the node
 * for messages, the symbolic dim values) and keep no state. */
#ifndef DYCL_EXEC_HOST_OPS_H
#define DYCL_EXEC_HOST_OPS_H

#include "ops/op.h"

/* A growing list of values (a scan output collecting one value per iteration). Its storage comes
 * from the allocator passed to push and free (the same one; NULL: malloc/free). */
typedef struct dycl_host_list {
  dycl_value_t** items;
  int64_t n, cap;
} dycl_host_list_t;

/* Appends x (taking the reference, also on failure). */
dycl_status_t dycl_host_list_push(const dycl_allocator_t* alloc, dycl_host_list_t* l, dycl_value_t* x);
/* Reverses the order of the items (a scan output with direction 1). */
void dycl_host_list_reverse(dycl_host_list_t* l);
/* Releases the items of l[0..n) and their storage; the lists are left empty. */
void dycl_host_lists_free(const dycl_allocator_t* alloc, dycl_host_list_t* l, int n);

/* A single boolean (If condition, Loop condition); `what` names it in the message. */
dycl_status_t dycl_host_read_bool(const dycl_node_t* n, const dycl_value_t* v, const char* what, bool* out);
/* A Loop trip count: a single integer; negative counts as 0. v NULL (omitted): -1 (no limit). */
dycl_status_t dycl_host_trip_count(const dycl_node_t* n, const dycl_value_t* v, int64_t* trip);

/* The errors for a Loop/Scan that ran past `max_iterations`. */
dycl_status_t dycl_host_loop_limit(const dycl_node_t* n, int64_t max_iterations);
dycl_status_t dycl_host_scan_limit(const dycl_node_t* n, int64_t max_iterations);

/* A static dim's value in this run: a constant, a symbol bound by the inputs (sym[1..n_sym), -1
 * when unbound), else 0. */
int64_t dycl_host_dim_value(dycl_dim_t d, const int64_t* sym, int n_sym);

/* Stacks n tensors of one shape along a new axis `axis` (a Loop/Scan output). With n == 0: an empty
 * tensor whose other dims come from `hint` (the inferred per-iteration type; symbolic dims from
 * sym, see dycl_host_dim_value). `which` numbers the output in messages. */
dycl_status_t dycl_host_stack(dycl_kctx_t* kctx, const dycl_node_t* node, int which, dycl_value_t** items, int64_t n,
                              int axis, const dycl_type_t* hint, const int64_t* sym, int n_sym, dycl_value_t** out);
/* Slice `index` of `t` along `axis`, the axis removed (a Scan input's per-iteration slice). */
dycl_status_t dycl_host_slice(dycl_kctx_t* kctx, const dycl_node_t* node, const dycl_value_t* t, int axis,
                              int64_t index, dycl_value_t** out);

/* Checks a caller's input `name` against the type declared in the model file. */
dycl_status_t dycl_host_check_input(const char* name, const dycl_type_t* declared, const dycl_value_t* v);
/* Binds the symbolic dims that one input's declared type names (sym[1..n_sym)) from its value. */
void dycl_host_bind_syms(const dycl_type_t* declared, const dycl_value_t* v, int64_t* sym, int n_sym);

#endif
