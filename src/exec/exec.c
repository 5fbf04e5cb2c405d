/* The in-process host module: walks the Program's host tree, binds values, evaluates If/Loop/Scan
 * and calls the backend for each sub-network. */
#include <inttypes.h>
#include <string.h>

#include "backend/backend.h"
#include "exec/host_ops.h"
#include "exec/model.h"

#define DYCL_DEFAULT_MAX_ITERATIONS ((int64_t)1 << 40)

/* ---------------------------------------------------------------- deadline */

static dycl_status_t deadline_error(const dycl_session_t* S, const dycl_node_t* n, const dycl_subnet_t* sn, int64_t it) {
  char where[512], iter[64] = "";
  if (it >= 0) snprintf(iter, sizeof iter, ", iteration %" PRId64, it);
  if (n) snprintf(where, sizeof where, "node '%s' (%s)%s", n->name, n->op_type, iter);
  else if (sn) snprintf(where, sizeof where, "sub-network %d (first node '%s')", sn->id, sn->n_nodes ? sn->nodes[0]->name : "");
  else snprintf(where, sizeof where, "the start");
  return dycl_error(DYCL_CODE_LIMIT, "the run passed its deadline of %g s (--deadline) at %s", S->model->options.deadline_seconds,
                    where);
}

/* Before each host step and loop iteration: one branch when no deadline is set, one clock read
 * (vDSO, tens of nanoseconds) when one is. */
#define CHECK_DEADLINE(S, n, sn, it)                                                            \
  do {                                                                                         \
    if ((S)->deadline_ns && dycl_mono_ns() > (S)->deadline_ns) return deadline_error(S, n, sn, it); \
  } while (0)
#define CHECK_DEADLINE_GOTO(S, n, it, s, label)                                                   \
  do {                                                                                           \
    if ((S)->deadline_ns && dycl_mono_ns() > (S)->deadline_ns) {                                      \
      (s) = deadline_error(S, n, NULL, it);                                                      \
      goto label;                                                                                \
    }                                                                                            \
  } while (0)

/* ------------------------------------------------------------------ slots */

static void slot_set(dycl_session_t* S, int id, dycl_value_t* v) {
  dycl_value_release(S->slots[id]);
  S->slots[id] = v;
}

static void clear_block(dycl_session_t* S, const dycl_block_t* b) {
  for (int i = 0; i < b->n_owned; i++) slot_set(S, b->owned[i], NULL);
}

static dycl_status_t run_block(dycl_session_t* S, const dycl_block_t* b);

static dycl_status_t need_value(dycl_session_t* S, const dycl_node_t* n, int id, dycl_value_t** v) {
  *v = id >= 0 ? S->slots[id] : NULL;
  if (id >= 0 && !*v)
    return dycl_node_error(n, DYCL_CODE_INTERNAL, "value '%s' has not been computed", S->model->ir->values[id]->name);
  return NULL;
}

/* Takes the outputs of a finished body block: new references, read before the block is cleared. */
static dycl_status_t take_outputs(dycl_session_t* S, const dycl_node_t* n, const dycl_block_t* b, dycl_value_t** vals) {
  for (int j = 0; j < b->graph->n_out; j++) {
    dycl_value_t* v;
    dycl_status_t s = need_value(S, n, b->graph->out[j], &v);
    if (s) {
      for (int i = 0; i < j; i++) dycl_value_release(vals[i]);
      return s;
    }
    vals[j] = dycl_value_retain(v);
  }
  return NULL;
}

/* Stacks a Loop/Scan output (host_ops.h), symbolic dims of an empty one from this run's inputs. */
static dycl_status_t stack(dycl_session_t* S, const dycl_node_t* node, int which, dycl_value_t** items, int64_t n,
                           int axis, const dycl_type_t* hint, dycl_value_t** out) {
  return dycl_host_stack(&S->kctx, node, which, items, n, axis, hint, S->sym_vals, S->model->ir->next_sym + 1, out);
}

/* ------------------------------------------------------------------- steps */

static dycl_status_t exec_if(dycl_session_t* S, const dycl_step_t* st) {
  const dycl_node_t* n = st->node;
  dycl_value_t* c;
  DYCL_RETURN_IF_ERROR(need_value(S, n, n->in[0], &c));
  bool cond = false;
  DYCL_RETURN_IF_ERROR(dycl_host_read_bool(n, c, "the condition", &cond));
  S->stats.branches_taken++;
  const dycl_block_t* b = st->body[cond ? 0 : 1];
  const dycl_allocator_t* A = S->kctx.alloc;
  dycl_value_t** vals = dycl_calloc(A, (size_t)n->n_out + 1, sizeof *vals);
  if (!vals) return dycl_error_nomem();
  dycl_status_t s = run_block(S, b);
  if (!s) s = take_outputs(S, n, b, vals);
  clear_block(S, b);
  for (int j = 0; j < n->n_out && !s; j++) {
    if (n->out[j] >= 0) slot_set(S, n->out[j], vals[j]);
    else dycl_value_release(vals[j]);
    vals[j] = NULL;
  }
  for (int j = 0; j < n->n_out; j++) dycl_value_release(vals[j]); /* after an error */
  dycl_free(A, vals);
  return s;
}

static dycl_status_t exec_loop(dycl_session_t* S, const dycl_step_t* st) {
  const dycl_node_t* n = st->node;
  const dycl_block_t* b = st->body[0];
  const dycl_graph_t* body = b->graph;
  int n_carried = n->n_in - 2;
  int n_scan = body->n_out - 1 - n_carried;
  int64_t trip = -1;
  bool cond = true;
  dycl_value_t* v;
  DYCL_RETURN_IF_ERROR(need_value(S, n, n->in[0], &v));
  DYCL_RETURN_IF_ERROR(dycl_host_trip_count(n, v, &trip));
  DYCL_RETURN_IF_ERROR(need_value(S, n, n->in[1], &v));
  if (v) DYCL_RETURN_IF_ERROR(dycl_host_read_bool(n, v, "the loop condition", &cond));
  const dycl_allocator_t* A = S->kctx.alloc;
  dycl_value_t** carried = dycl_calloc(A, (size_t)n_carried + 1, sizeof *carried);
  dycl_host_list_t* scans = dycl_calloc(A, (size_t)n_scan + 1, sizeof *scans);
  dycl_value_t** outs = dycl_calloc(A, (size_t)body->n_out + 1, sizeof *outs);
  dycl_status_t s = NULL;
  if (!carried || !scans || !outs) {
    s = dycl_error_nomem();
    goto done;
  }
  for (int k = 0; k < n_carried; k++) {
    DYCL_GOTO_IF_ERROR(s, need_value(S, n, n->in[2 + k], &v), done);
    if (!v) {
      s = dycl_node_error(n, DYCL_CODE_INVALID_MODEL, "loop-carried value %d has no initial value", k);
      goto done;
    }
    carried[k] = dycl_value_retain(v);
  }
  int64_t max_iter = S->max_iterations;
  for (int64_t i = 0; (trip < 0 || i < trip) && cond; i++) {
    if (i >= max_iter) {
      s = dycl_host_loop_limit(n, max_iter);
      goto done;
    }
    CHECK_DEADLINE_GOTO(S, n, i, s, done);
    S->stats.loop_iterations++;
    dycl_value_t *iv, *cv;
    DYCL_GOTO_IF_ERROR(s, dycl_tensor_scalar_i64(S->kctx.alloc, DYCL_DTYPE_INT64, i, &iv), done);
    slot_set(S, body->in[0], iv);
    DYCL_GOTO_IF_ERROR(s, dycl_tensor_scalar_i64(S->kctx.alloc, DYCL_DTYPE_BOOL, cond, &cv), done);
    slot_set(S, body->in[1], cv);
    for (int k = 0; k < n_carried; k++) {
      slot_set(S, body->in[2 + k], carried[k]);
      carried[k] = NULL;
    }
    s = run_block(S, b);
    if (!s) s = take_outputs(S, n, b, outs);
    clear_block(S, b);
    if (s) goto done;
    s = dycl_host_read_bool(n, outs[0], "the body's condition output", &cond);
    dycl_value_release(outs[0]);
    outs[0] = NULL;
    for (int k = 0; k < n_carried; k++) {
      carried[k] = outs[1 + k];
      outs[1 + k] = NULL;
    }
    for (int k = 0; k < n_scan; k++) {
      dycl_status_t e = dycl_host_list_push(A, &scans[k], outs[1 + n_carried + k]);
      outs[1 + n_carried + k] = NULL;
      if (!s) s = e;
    }
    if (s) goto done;
  }
  for (int k = 0; k < n_carried; k++) {
    if (n->out[k] >= 0) slot_set(S, n->out[k], carried[k]);
    else dycl_value_release(carried[k]);
    carried[k] = NULL;
  }
  for (int k = 0; k < n_scan && !s; k++) {
    if (n->out[n_carried + k] < 0) continue;
    dycl_value_t* t;
    s = stack(S, n, k, scans[k].items, scans[k].n, 0, &S->model->ir->values[body->out[1 + n_carried + k]]->type, &t);
    if (!s) slot_set(S, n->out[n_carried + k], t);
  }
done:
  if (carried)
    for (int k = 0; k < n_carried; k++) dycl_value_release(carried[k]);
  if (outs)
    for (int k = 0; k < body->n_out; k++) dycl_value_release(outs[k]);
  if (scans) dycl_host_lists_free(A, scans, n_scan);
  dycl_free(A, carried);
  dycl_free(A, scans);
  dycl_free(A, outs);
  return s;
}

static dycl_status_t exec_scan(dycl_session_t* S, const dycl_step_t* st) {
  const dycl_node_t* n = st->node;
  const dycl_block_t* b = st->body[0];
  const dycl_graph_t* body = b->graph;
  bool v8 = n->opset < 9;
  int first = v8 ? 1 : 0;
  int n_scan_in = (int)dycl_attr_int(n, "num_scan_inputs", 0);
  int n_state = n->n_in - first - n_scan_in;
  int n_scan_out = body->n_out - n_state;
  int na = 0, nd = 0, noa = 0, nod = 0;
  const int64_t* in_axes = dycl_attr_ints(n, "scan_input_axes", &na);
  const int64_t* in_dirs = dycl_attr_ints(n, v8 ? "directions" : "scan_input_directions", &nd);
  const int64_t* out_axes = dycl_attr_ints(n, "scan_output_axes", &noa);
  const int64_t* out_dirs = dycl_attr_ints(n, "scan_output_directions", &nod);
  if ((in_axes && na != n_scan_in) || (in_dirs && nd != n_scan_in) || (out_axes && noa != n_scan_out) ||
      (out_dirs && nod != n_scan_out))
    return dycl_node_error(n, DYCL_CODE_INVALID_MODEL, "scan axes/directions attributes have the wrong length");
  if (n_scan_in < 1 || n_state < 0) return dycl_node_error(n, DYCL_CODE_INVALID_MODEL, "bad num_scan_inputs");
  dycl_status_t s = NULL;
  const dycl_allocator_t* A = S->kctx.alloc;
  dycl_value_t** ins = dycl_calloc(A, (size_t)n->n_in + 1, sizeof *ins);
  int* axes = dycl_calloc(A, (size_t)n_scan_in + 1, sizeof *axes);
  int64_t batch = 1;
  if (!ins || !axes) {
    dycl_free(A, ins);
    dycl_free(A, axes);
    return dycl_error_nomem();
  }
  for (int i = 0; i < n->n_in && !s; i++) s = need_value(S, n, n->in[i], &ins[i]);
  for (int i = first; i < n->n_in && !s; i++)
    if (!ins[i] || ins[i]->kind != DYCL_VALUE_TENSOR) s = dycl_node_error(n, DYCL_CODE_RUNTIME, "input %d must be a tensor", i);
  if (!s && v8) {
    if (n_state && ins[first]->rank < 1) s = dycl_node_error(n, DYCL_CODE_RUNTIME, "state inputs need a batch dimension");
    else if (ins[0]) s = dycl_node_error(n, DYCL_CODE_UNSUPPORTED, "Scan-8 sequence_lens is not supported");
    else batch = ins[first + n_state]->rank >= 2 ? ins[first + n_state]->dims[0] : 0;
  }
  if (s) {
    dycl_free(A, ins);
    dycl_free(A, axes);
    return s;
  }
  dycl_value_t** state = dycl_calloc(A, (size_t)n_state + 1, sizeof *state);
  dycl_value_t** outs = dycl_calloc(A, (size_t)body->n_out + 1, sizeof *outs);
  dycl_host_list_t* scans = dycl_calloc(A, (size_t)n_scan_out + 1, sizeof *scans);
  /* Scan-8: per batch element, results stacked again along the batch axis */
  dycl_host_list_t* batch_state = dycl_calloc(A, (size_t)n_state + 1, sizeof *batch_state);
  dycl_host_list_t* batch_scans = dycl_calloc(A, (size_t)n_scan_out + 1, sizeof *batch_scans);
  if (!state || !outs || !scans || !batch_state || !batch_scans) {
    s = dycl_error_nomem();
    goto done;
  }
  for (int bi = 0; bi < batch && !s; bi++) {
    int64_t len = -1;
    for (int k = 0; k < n_scan_in; k++) {
      const dycl_value_t* t = ins[first + n_state + k];
      int64_t a = v8 ? 1 : (in_axes ? in_axes[k] : 0);
      if (a < 0) a += v8 ? t->rank : t->rank;
      if (a < 0 || a >= t->rank) {
        s = dycl_node_error(n, DYCL_CODE_RUNTIME, "scan input %d: axis out of range for rank %d", k, t->rank);
        goto done;
      }
      axes[k] = (int)a;
      if (len >= 0 && t->dims[a] != len) {
        s = dycl_node_error(n, DYCL_CODE_RUNTIME, "scan inputs have different lengths (%" PRId64 " and %" PRId64 ")", len, t->dims[a]);
        goto done;
      }
      len = t->dims[a];
    }
    for (int k = 0; k < n_state; k++) {
      if (v8) DYCL_GOTO_IF_ERROR(s, dycl_host_slice(&S->kctx, n, ins[first + k], 0, bi, &state[k]), done);
      else state[k] = dycl_value_retain(ins[first + k]);
    }
    for (int64_t t = 0; t < len; t++) {
      if (t >= S->max_iterations) {
        s = dycl_host_scan_limit(n, S->max_iterations);
        goto done;
      }
      CHECK_DEADLINE_GOTO(S, n, t, s, done);
      S->stats.loop_iterations++;
      for (int k = 0; k < n_state; k++) {
        slot_set(S, body->in[k], state[k]);
        state[k] = NULL;
      }
      for (int k = 0; k < n_scan_in; k++) {
        int64_t idx = in_dirs && in_dirs[k] ? len - 1 - t : t;
        dycl_value_t* slice;
        const dycl_value_t* src = ins[first + n_state + k];
        dycl_value_t* tmp = NULL;
        if (v8) { /* [batch, seq, ...]: take batch bi, then step idx */
          DYCL_GOTO_IF_ERROR(s, dycl_host_slice(&S->kctx, n, src, 0, bi, &tmp), done);
          s = dycl_host_slice(&S->kctx, n, tmp, 0, idx, &slice);
          dycl_value_release(tmp);
          if (s) goto done;
        } else {
          DYCL_GOTO_IF_ERROR(s, dycl_host_slice(&S->kctx, n, src, axes[k], idx, &slice), done);
        }
        slot_set(S, body->in[n_state + k], slice);
      }
      s = run_block(S, b);
      if (!s) s = take_outputs(S, n, b, outs);
      clear_block(S, b);
      if (s) goto done;
      for (int k = 0; k < n_state; k++) {
        state[k] = outs[k];
        outs[k] = NULL;
      }
      for (int k = 0; k < n_scan_out; k++) {
        dycl_status_t e = dycl_host_list_push(A, &scans[k], outs[n_state + k]);
        outs[n_state + k] = NULL;
        if (!s) s = e;
      }
      if (s) goto done;
    }
    /* finish this batch element */
    for (int k = 0; k < n_scan_out && !s; k++) {
      if (out_dirs && out_dirs[k]) dycl_host_list_reverse(&scans[k]); /* the last iteration's value comes first */
      int axis = 0;
      if (out_axes) {
        int r = scans[k].n ? scans[k].items[0]->rank + 1 : 1;
        axis = (int)(out_axes[k] < 0 ? out_axes[k] + r : out_axes[k]);
      }
      dycl_value_t* t;
      s = stack(S, n, k, scans[k].items, scans[k].n, axis, &S->model->ir->values[body->out[n_state + k]]->type, &t);
      if (s) break;
      if (v8) s = dycl_host_list_push(A, &batch_scans[k], t);
      else if (n->out[n_state + k] >= 0) slot_set(S, n->out[n_state + k], t);
      else dycl_value_release(t);
      for (int64_t i = 0; i < scans[k].n; i++) dycl_value_release(scans[k].items[i]);
      scans[k].n = 0;
    }
    for (int k = 0; k < n_state && !s; k++) {
      if (v8) {
        s = dycl_host_list_push(A, &batch_state[k], state[k]);
        state[k] = NULL;
      } else {
        if (n->out[k] >= 0) slot_set(S, n->out[k], state[k]);
        else dycl_value_release(state[k]);
        state[k] = NULL;
      }
    }
  }
  if (v8 && !s) {
    for (int k = 0; k < n_state && !s; k++) {
      dycl_value_t* t;
      s = stack(S, n, k, batch_state[k].items, batch_state[k].n, 0, &S->model->ir->values[body->out[k]]->type, &t);
      if (!s) slot_set(S, n->out[k], t);
    }
    for (int k = 0; k < n_scan_out && !s; k++) {
      dycl_value_t* t;
      dycl_type_t hint = dycl_type_unknown();
      s = stack(S, n, k, batch_scans[k].items, batch_scans[k].n, 0, &hint, &t);
      if (!s) slot_set(S, n->out[n_state + k], t);
    }
  }
done:
  if (state)
    for (int k = 0; k < n_state; k++) dycl_value_release(state[k]);
  if (outs)
    for (int k = 0; k < body->n_out; k++) dycl_value_release(outs[k]);
  if (scans) dycl_host_lists_free(A, scans, n_scan_out);
  if (batch_state) dycl_host_lists_free(A, batch_state, n_state);
  if (batch_scans) dycl_host_lists_free(A, batch_scans, n_scan_out);
  dycl_free(A, state);
  dycl_free(A, outs);
  dycl_free(A, scans);
  dycl_free(A, batch_state);
  dycl_free(A, batch_scans);
  dycl_free(A, ins);
  dycl_free(A, axes);
  return s;
}

static dycl_status_t exec_seqmap(dycl_session_t* S, const dycl_step_t* st) {
  const dycl_node_t* n = st->node;
  const dycl_block_t* b = st->body[0];
  const dycl_graph_t* body = b->graph;
  dycl_value_t* v0;
  DYCL_RETURN_IF_ERROR(need_value(S, n, n->in[0], &v0));
  if (!v0 || v0->kind != DYCL_VALUE_SEQUENCE) return dycl_node_error(n, DYCL_CODE_RUNTIME, "input 0 must be a sequence");
  int len = v0->len;
  for (int i = 1; i < n->n_in; i++) {
    dycl_value_t* v;
    DYCL_RETURN_IF_ERROR(need_value(S, n, n->in[i], &v));
    if (v && v->kind == DYCL_VALUE_SEQUENCE && v->len != len)
      return dycl_node_error(n, DYCL_CODE_RUNTIME, "input sequences have different lengths (%d and %d)", len, v->len);
  }
  dycl_status_t s = NULL;
  const dycl_allocator_t* A = S->kctx.alloc;
  dycl_value_t** seqs = dycl_calloc(A, (size_t)n->n_out + 1, sizeof *seqs);
  dycl_value_t** outs = dycl_calloc(A, (size_t)body->n_out + 1, sizeof *outs);
  if (!seqs || !outs) s = dycl_error_nomem();
  for (int j = 0; j < n->n_out && !s; j++) {
    const dycl_type_t* t = &S->model->ir->values[body->out[j]]->type;
    s = dycl_sequence_new(S->kctx.alloc, t->known ? t->dtype : DYCL_DTYPE_UNDEFINED, len, &seqs[j]);
  }
  for (int it = 0; it < len && !s; it++) {
    if (S->deadline_ns && dycl_mono_ns() > S->deadline_ns) {
      s = deadline_error(S, n, NULL, it);
      break;
    }
    S->stats.loop_iterations++;
    for (int i = 0; i < n->n_in; i++) {
      dycl_value_t* v = S->slots[n->in[i]];
      slot_set(S, body->in[i], dycl_value_retain(v->kind == DYCL_VALUE_SEQUENCE ? v->items[it] : v));
    }
    s = run_block(S, b);
    if (!s) s = take_outputs(S, n, b, outs);
    clear_block(S, b);
    for (int j = 0; j < n->n_out && !s; j++) {
      seqs[j]->items[it] = outs[j];
      outs[j] = NULL;
      if (seqs[j]->items[it]->kind != DYCL_VALUE_TENSOR) s = dycl_node_error(n, DYCL_CODE_RUNTIME, "body output %d must be a tensor", j);
      else if (!seqs[j]->dtype) seqs[j]->dtype = seqs[j]->items[it]->dtype;
    }
  }
  for (int j = 0; seqs && j < n->n_out; j++) {
    if (!s && n->out[j] >= 0) slot_set(S, n->out[j], seqs[j]);
    else dycl_value_release(seqs[j]);
  }
  for (int j = 0; outs && j < body->n_out; j++) dycl_value_release(outs[j]);
  dycl_free(A, seqs);
  dycl_free(A, outs);
  return s;
}

/* Hands a finished sub-network call's inputs and outputs to the session's recorder. */
static dycl_status_t record_call(dycl_session_t* S, const dycl_subnet_t* sn) {
  int n = sn->n_in + sn->n_out;
  const dycl_value_t** vals = dycl_calloc(S->kctx.alloc, (size_t)n + 1, sizeof *vals);
  dycl_value_t** copies = dycl_calloc(S->kctx.alloc, (size_t)n + 1, sizeof *copies);
  dycl_status_t s = vals && copies ? NULL : dycl_error_nomem();
  for (int i = 0; !s && i < n; i++) {
    vals[i] = S->slots[i < sn->n_in ? sn->in[i] : sn->out[i - sn->n_in]];
    /* a value the cpu backend hands on channels-last: the recorder sees it row-major */
    if (vals[i] && vals[i]->kind == DYCL_VALUE_TENSOR && vals[i]->layout) {
      s = dycl_tensor_from_channels_last(S->kctx.alloc, NULL, vals[i], NULL, &copies[i]);
      if (copies[i]) vals[i] = copies[i];
    }
  }
  if (!s) s = S->recorder(S->recorder_user, sn->id, vals, sn->n_in, vals + sn->n_in, sn->n_out);
  for (int i = 0; copies && i < n; i++) dycl_value_release(copies[i]);
  dycl_free(S->kctx.alloc, copies);
  dycl_free(S->kctx.alloc, vals);
  return s;
}

static dycl_status_t run_block(dycl_session_t* S, const dycl_block_t* b) {
  const dycl_model_t* m = S->model;
  for (int i = 0; i < b->n_steps; i++) {
    const dycl_step_t* st = &b->steps[i];
    dycl_status_t s = NULL;
    CHECK_DEADLINE(S, st->node, st->subnet, -1);
    switch (st->kind) {
      case DYCL_STEP_CALL:
        for (int o = 0; o < st->subnet->n_out; o++) slot_set(S, st->subnet->out[o], NULL);
        S->stats.subnet_calls++;
        if (S->profiling) {
          int off = S->prof_off[st->subnet->id];
          S->kctx.prof_ns = S->prof_ns + off;
          S->kctx.prof_calls = S->prof_calls + off;
          S->kctx.prof_into = S->prof_into + off;
          int64_t t0 = dycl_mono_ns();
          s = m->backend->run(m->program, st->subnet, S->slots, &S->kctx);
          S->prof_totals.subnet_seconds += (double)(dycl_mono_ns() - t0) * 1e-9;
          S->prof_totals.subnet_calls++;
        } else {
          s = m->backend->run(m->program, st->subnet, S->slots, &S->kctx);
        }
        if (!s && S->recorder) s = record_call(S, st->subnet);
        break;
      case DYCL_STEP_IF: s = exec_if(S, st); break;
      case DYCL_STEP_LOOP: s = exec_loop(S, st); break;
      case DYCL_STEP_SCAN: s = exec_scan(S, st); break;
      case DYCL_STEP_SEQMAP: s = exec_seqmap(S, st); break;
    }
    if (s) return s;
    for (int r = 0; r < st->n_release; r++) slot_set(S, st->release[r], NULL);
  }
  return NULL;
}

/* ------------------------------------------------------------------ session */

dycl_status_t dycl_session_create(const dycl_model_t* m, dycl_session_t** out) {
  *out = NULL;
  dycl_session_t* S = dycl_calloc(m->alloc, 1, sizeof *S);
  if (!S) return dycl_error_nomem();
  S->model = m;
  S->slots = dycl_calloc(m->alloc, (size_t)m->ir->n_values + 1, sizeof *S->slots);
  if (!S->slots) {
    dycl_free(m->alloc, S);
    return dycl_error_nomem();
  }
  S->sym_vals = dycl_calloc(m->alloc, (size_t)m->ir->next_sym + 1, sizeof *S->sym_vals);
  S->meter = dycl_meter_create(m->alloc, m->options.max_memory);
  S->pool = dycl_bufpool_create(m->alloc);
  if (!S->sym_vals || !S->meter || !S->pool) {
    dycl_bufpool_close(S->pool);
    dycl_meter_release(S->meter);
    dycl_free(m->alloc, S->sym_vals);
    dycl_free(m->alloc, S->slots);
    dycl_free(m->alloc, S);
    return dycl_error_nomem();
  }
  S->limits = m->ir->limits;
  S->limits.meter = S->meter;
  S->kctx.alloc = dycl_bufpool_allocator(S->pool);
  S->kctx.limits = &S->limits;
  S->kctx.seed = 0x5eed;
  dycl_placement_init(&S->place, S->kctx.alloc); /* what the arena does not hold comes from the pool */
  S->kctx.place = &S->place;
  S->max_iterations = m->options.max_iterations > 0 ? m->options.max_iterations : DYCL_DEFAULT_MAX_ITERATIONS;
  for (int64_t i = 0; i < m->ir->n_values; i++)
    if (m->ir->values[i]->def == DYCL_DEF_CONST) S->slots[i] = dycl_value_retain(m->ir->values[i]->constant);
  *out = S;
  return NULL;
}

void dycl_session_destroy(dycl_session_t* S) {
  if (!S) return;
  dycl_free(S->model->alloc, S->prof_off);
  dycl_free(S->model->alloc, S->prof_ns);
  dycl_free(S->model->alloc, S->prof_calls);
  dycl_free(S->model->alloc, S->prof_into);
  for (int64_t i = 0; i < S->model->ir->n_values; i++) dycl_value_release(S->slots[i]);
  dycl_free(S->model->alloc, S->slots);
  dycl_free(S->model->alloc, S->sym_vals);
  dycl_placement_destroy(&S->place);
  dycl_meter_release(S->meter); /* freed once the last value charged to it is gone too */
  dycl_bufpool_close(S->pool);   /* likewise, once the last block it handed out (an output) is back */
  dycl_free(S->model->alloc, S);
}

void dycl_session_stats(const dycl_session_t* S, dycl_run_stats_t* stats) { *stats = S->stats; }

void dycl_session_set_recorder(dycl_session_t* S, dycl_subnet_recorder_fn callback, void* user) {
  S->recorder = callback;
  S->recorder_user = user;
}

/* ---------------------------------------------------------------- profiling */

static dycl_status_t session_run(dycl_session_t* S, dycl_value_t* const* inputs, int num_inputs,
                                 dycl_value_t** outputs, int num_outputs);

dycl_status_t dycl_session_set_profiling(dycl_session_t* S, int on) {
  const dycl_model_t* m = S->model;
  const dycl_program_t* p = m->program;
  S->profiling = false;
  S->kctx.prof_ns = NULL;
  S->kctx.prof_calls = NULL;
  S->kctx.prof_into = NULL;
  if (!on) return NULL;
  if (!S->prof_off) {
    S->prof_off = dycl_calloc(m->alloc, (size_t)p->n_subnets + 1, sizeof *S->prof_off);
    if (!S->prof_off) return dycl_error_nomem();
    int total = 0;
    for (int i = 0; i < p->n_subnets; i++) {
      S->prof_off[p->subnets[i]->id] = total;
      total += p->subnets[i]->n_nodes;
    }
    S->prof_off[p->n_subnets] = total;
    S->prof_ns = dycl_calloc(m->alloc, (size_t)total + 1, sizeof *S->prof_ns);
    S->prof_calls = dycl_calloc(m->alloc, (size_t)total + 1, sizeof *S->prof_calls);
    S->prof_into = dycl_calloc(m->alloc, (size_t)total + 1, sizeof *S->prof_into);
    if (!S->prof_ns || !S->prof_calls || !S->prof_into) {
      dycl_free(m->alloc, S->prof_ns);
      dycl_free(m->alloc, S->prof_calls);
      dycl_free(m->alloc, S->prof_into);
      dycl_free(m->alloc, S->prof_off);
      S->prof_off = NULL, S->prof_ns = NULL, S->prof_calls = NULL, S->prof_into = NULL;
      return dycl_error_nomem();
    }
  }
  int total = S->prof_off[p->n_subnets];
  memset(S->prof_ns, 0, (size_t)total * sizeof *S->prof_ns);
  memset(S->prof_calls, 0, (size_t)total * sizeof *S->prof_calls);
  for (int i = 0; i < total; i++) S->prof_into[i] = -1;
  memset(&S->prof_totals, 0, sizeof S->prof_totals);
  S->profiling = true;
  return NULL;
}

int dycl_session_profile(const dycl_session_t* S, dycl_profile_entry_t* entries, int capacity,
                         dycl_profile_totals_t* totals) {
  const dycl_program_t* p = S->model->program;
  if (totals) {
    if (S->prof_off) *totals = S->prof_totals;
    else memset(totals, 0, sizeof *totals);
  }
  if (!S->prof_off) return 0;
  int n = 0;
  for (int i = 0; i < p->n_subnets; i++) {
    const dycl_subnet_t* sn = p->subnets[i];
    int off = S->prof_off[sn->id];
    for (int k = 0; k < sn->n_nodes; k++) {
      if (S->prof_calls[off + k] == 0) continue;
      dycl_profile_entry_t e = {sn->id, k, sn->nodes[k]->name, sn->nodes[k]->op_type, 0, S->prof_calls[off + k],
                                (double)S->prof_ns[off + k] * 1e-9};
      for (int j = 0; j < sn->n_nodes; j++) e.fused += S->prof_into[off + j] == k;
      /* insertion into the first `capacity` places, the most time first */
      int at = n < capacity ? n : capacity;
      while (at > 0 && entries[at - 1].seconds < e.seconds) {
        if (at < capacity) entries[at] = entries[at - 1];
        at--;
      }
      if (at < capacity) entries[at] = e;
      n++;
    }
  }
  return n;
}

dycl_status_t dycl_session_run(dycl_session_t* S, dycl_value_t* const* inputs, int num_inputs, dycl_value_t** outputs,
                               int num_outputs) {
  int64_t t0 = S->profiling ? dycl_mono_ns() : 0;
  dycl_status_t s = session_run(S, inputs, num_inputs, outputs, num_outputs);
  if (S->profiling) {
    S->prof_totals.runs++;
    S->prof_totals.run_seconds += (double)(dycl_mono_ns() - t0) * 1e-9;
  }
  return s;
}

static dycl_status_t session_run(dycl_session_t* S, dycl_value_t* const* inputs, int num_inputs,
                                 dycl_value_t** outputs, int num_outputs) {
  const dycl_model_t* m = S->model;
  const dycl_graph_t* g = m->ir->main;
  if (num_inputs != g->n_in)
    return dycl_error(DYCL_CODE_INVALID_INPUT, "the model takes %d input%s, %d given", g->n_in, g->n_in == 1 ? "" : "s",
                      num_inputs);
  if (num_outputs != g->n_out)
    return dycl_error(DYCL_CODE_INVALID_INPUT, "the model gives %d outputs, room for %d given", g->n_out, num_outputs);
  for (int i = 0; i < g->n_in; i++) {
    const dycl_ir_value_t* iv = m->ir->values[g->in[i]];
    DYCL_RETURN_IF_ERROR(dycl_host_check_input(iv->name, &iv->declared, inputs[i]));
  }
  memset(&S->stats, 0, sizeof S->stats);
  dycl_bufpool_stats_t pool0;
  dycl_bufpool_stats(S->pool, &pool0);
  atomic_store_explicit(&S->meter->peak, atomic_load_explicit(&S->meter->live, memory_order_relaxed),
                        memory_order_relaxed);
  double limit_s = m->options.deadline_seconds;
  S->deadline_ns = 0;
  if (limit_s > 0) {
    int64_t now = dycl_mono_ns();
    double budget = limit_s * 1e9;
    S->deadline_ns = budget >= (double)(INT64_MAX - now) ? INT64_MAX : now + (int64_t)budget + 1;
  }
  /* bind the symbolic dims the inputs declare */
  for (int i = 0; i <= m->ir->next_sym; i++) S->sym_vals[i] = -1;
  for (int i = 0; i < g->n_in; i++)
    dycl_host_bind_syms(&m->ir->values[g->in[i]]->declared, inputs[i], S->sym_vals, m->ir->next_sym + 1);
  for (int i = 0; i < g->n_in; i++) slot_set(S, g->in[i], dycl_value_retain(inputs[i]));
  dycl_status_t s = run_block(S, m->program->main);
  for (int j = 0; j < g->n_out; j++) outputs[j] = NULL;
  for (int j = 0; j < g->n_out && !s; j++) {
    dycl_value_t* v = S->slots[g->out[j]];
    if (!v) s = dycl_error(DYCL_CODE_INTERNAL, "output '%s' was not computed", m->program->output_names[j]);
    else outputs[j] = dycl_value_retain(v);
  }
  clear_block(S, m->program->main);
  S->deadline_ns = 0;
  S->stats.peak_tensor_bytes = atomic_load_explicit(&S->meter->peak, memory_order_relaxed);
  S->stats.arena_bytes = S->place.cap;
  S->stats.arena_lower_bound = S->place.lower_bound;
  dycl_bufpool_stats_t pool1;
  dycl_bufpool_stats(S->pool, &pool1);
  S->stats.allocations = pool1.base_allocs - pool0.base_allocs;
  if (s)
    for (int j = 0; j < g->n_out; j++) {
      dycl_value_release(outputs[j]);
      outputs[j] = NULL;
    }
  /* the outputs now belong to the caller: they no longer count against this session's memory */
  for (int j = 0; j < g->n_out; j++) dycl_value_unmeter(outputs[j]);
  return s;
}
