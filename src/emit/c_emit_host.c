/* dycl compile: NAME.c, the host module. The Program's host tree becomes C: one function per block
 * (the steps of one graph: sub-network calls, then releases of values after their last use), one
 * function per If/Loop/Scan/SequenceMap node running its bodies with C if/for. Each control-flow
 * function is the in-process executor's (src/exec/exec.c: exec_if, exec_loop, exec_scan,
 * exec_seqmap) with the node's constants filled in, so that both run the same steps; the shared
 * pieces (slicing, stacking, conditions) are in the package's runtime/dycl_rt.c. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "emit/c_emit.h"

/* ------------------------------------------------------------------ blocks */

typedef struct host {
  dycl_cemit_t* E;
  dycl_cbuf_t* b;
  const dycl_block_t** blocks; /* pre-order: blocks[0] is the main graph */
  const char** block_what;     /* "the main graph", "then_branch of If 'x'", ... */
  int n_blocks, cap_blocks;
} host_t;

static int block_index(const host_t* H, const dycl_block_t* blk) {
  for (int i = 0; i < H->n_blocks; i++)
    if (H->blocks[i] == blk) return i;
  return -1;
}

static dycl_status_t collect_blocks(host_t* H, const dycl_block_t* blk, const char* what) {
  if (H->n_blocks == H->cap_blocks) {
    int cap = H->cap_blocks ? H->cap_blocks * 2 : 16;
    const dycl_allocator_t* a = H->E->alloc;
    const dycl_block_t** nb = dycl_calloc(a, (size_t)cap, sizeof *nb);
    const char** nw = dycl_calloc(a, (size_t)cap, sizeof *nw);
    if (!nb || !nw) {
      dycl_free(a, (void*)nb);
      dycl_free(a, (void*)nw);
      return dycl_error_nomem();
    }
    if (H->n_blocks) {
      memcpy((void*)nb, (const void*)H->blocks, (size_t)H->n_blocks * sizeof *nb);
      memcpy((void*)nw, (const void*)H->block_what, (size_t)H->n_blocks * sizeof *nw);
    }
    dycl_free(a, (void*)H->blocks);
    dycl_free(a, (void*)H->block_what);
    H->blocks = nb;
    H->block_what = nw;
    H->cap_blocks = cap;
  }
  H->blocks[H->n_blocks] = blk;
  H->block_what[H->n_blocks] = what;
  H->n_blocks++;
  for (int s = 0; s < blk->n_steps; s++) {
    const dycl_step_t* st = &blk->steps[s];
    if (st->kind == DYCL_STEP_CALL) continue;
    const char* op = st->node->op_type;
    if (st->kind == DYCL_STEP_IF) {
      DYCL_RETURN_IF_ERROR(collect_blocks(H, st->body[0], "then_branch"));
      DYCL_RETURN_IF_ERROR(collect_blocks(H, st->body[1], "else_branch"));
    } else {
      (void)op;
      DYCL_RETURN_IF_ERROR(collect_blocks(H, st->body[0], "body"));
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------ pieces */

/* "{a, b, c}" of slots ("{-1}" for an empty list: a placeholder never read). */
static void slots_init(const host_t* H, dycl_cbuf_t* b, const int* ids, int n) {
  dycl_cbuf_printf(b, "{");
  for (int i = 0; i < n; i++) dycl_cbuf_printf(b, "%s%d", i ? ", " : "", dycl_cemit_slot(H->E, ids[i]));
  dycl_cbuf_printf(b, "%s}", n ? "" : "-1");
}

static void name_comment(dycl_cbuf_t* b, const char* s) {
  dycl_cbuf_printf(b, "/* ");
  dycl_cbuf_comment(b, s);
  dycl_cbuf_printf(b, " */");
}

static const char* vname(const host_t* H, int id) { return id >= 0 ? H->E->ir->values[id]->name : "(none)"; }

/* "block_3_owned, 4" or "NULL, 0" */
static void owned_args(const dycl_block_t* blk, int idx, char* buf, size_t size) {
  if (blk->n_owned) snprintf(buf, size, "block_%d_owned, %d", idx, blk->n_owned);
  else snprintf(buf, size, "NULL, 0");
}

/* The texts of small cbufs, kept until the step is emitted (freed by strs_free). */
typedef struct strs {
  char* s[24];
  int n;
  const dycl_allocator_t* alloc; /* of the cbufs */
  bool failed;                   /* a text could not be made: the step's code is incomplete */
} strs_t;

static const char* keep(strs_t* S, dycl_cbuf_t* b) {
  if (S->n >= 24 || b->failed) {
    dycl_cbuf_free(b);
    S->failed = true;
    return "";
  }
  S->s[S->n++] = b->data ? b->data : NULL;
  const char* r = b->data ? b->data : "";
  memset(b, 0, sizeof *b);
  return r;
}

static void strs_free(strs_t* S) {
  for (int i = 0; i < S->n; i++) dycl_free(S->alloc, S->s[i]);
  S->n = 0;
}

static const char* slots_str(const host_t* H, strs_t* S, const int* ids, int n) {
  dycl_cbuf_t b = DYCL_CBUF(S->alloc);
  slots_init(H, &b, ids, n);
  return keep(S, &b);
}

static const char* types_str(const host_t* H, strs_t* S, const int* ids, int n) {
  dycl_cbuf_t b = DYCL_CBUF(S->alloc);
  dycl_cbuf_printf(&b, "{");
  for (int i = 0; i < n; i++) {
    dycl_type_t t = ids[i] >= 0 ? H->E->ir->values[ids[i]]->type : dycl_type_unknown();
    dycl_cbuf_printf(&b, "%s", i ? ",\n      " : "");
    dycl_cbuf_type(&b, &t);
  }
  dycl_cbuf_printf(&b, "%s}", n ? "" : "{.known = false, .rank = -1}");
  return keep(S, &b);
}

static const char* int_str(strs_t* S, int64_t v) {
  dycl_cbuf_t b = DYCL_CBUF(S->alloc);
  dycl_cbuf_printf(&b, "%" PRId64, v);
  return keep(S, &b);
}

/* ------------------------------------------------------- control-flow steps */

static const char* IF_TPL =
    "static dycl_status_t @FN@(dycl_rt_t* rt) {\n"
    "  const dycl_node_t* n = &H@ID@;\n"
    "  static const int then_out[] = @THEN_OUT@; /* then_branch's outputs */\n"
    "  static const int else_out[] = @ELSE_OUT@; /* else_branch's outputs */\n"
    "  static const int out[] = @OUT@; /* the node's outputs (-1: omitted) */\n"
    "  dycl_value_t* vals[@NOUT@ + 1] = {NULL};\n"
    "  dycl_value_t* c;\n"
    "  bool cond = false;\n"
    "  DYCL_RETURN_IF_ERROR(dycl_rt_need(rt, n, @COND@, &c)); /* @COND_NAME@ */\n"
    "  DYCL_RETURN_IF_ERROR(dycl_rt_bool(n, c, \"the condition\", &cond));\n"
    "  rt->branches_taken++;\n"
    "  dycl_status_t s;\n"
    "  if (cond) {\n"
    "    s = @THEN@(rt);\n"
    "    if (!s) s = dycl_rt_take(rt, n, then_out, @NOUT@, vals);\n"
    "    dycl_rt_drop_list(rt, @THEN_OWNED@);\n"
    "  } else {\n"
    "    s = @ELSE@(rt);\n"
    "    if (!s) s = dycl_rt_take(rt, n, else_out, @NOUT@, vals);\n"
    "    dycl_rt_drop_list(rt, @ELSE_OWNED@);\n"
    "  }\n"
    "  if (!s) dycl_rt_bind(rt, out, @NOUT@, vals);\n"
    "  return s;\n"
    "}\n";

static const char* LOOP_TPL =
    "static dycl_status_t @FN@(dycl_rt_t* rt) {\n"
    "  const dycl_node_t* n = &H@ID@;\n"
    "  static const int init[] = @INIT@; /* initial values of the carried values */\n"
    "  static const int body_in[] = @BODY_IN@; /* iteration number, condition, carried values */\n"
    "  static const int body_out[] = @BODY_OUT@; /* condition, carried values, scan outputs */\n"
    "  static const int out[] = @OUT@; /* final carried values, scan outputs (-1: omitted) */\n"
    "  static const dycl_type_t scan_type[] = @HINTS@; /* inferred per-iteration type of each scan output */\n"
    "  enum { N_CARRIED = @NC@, N_SCAN = @NS@, N_BODY_OUT = @NB@ };\n"
    "  int64_t trip = -1;\n"
    "  bool cond = true;\n"
    "  dycl_value_t* v;\n"
    "  dycl_value_t* carried[N_CARRIED + 1] = {NULL};\n"
    "  dycl_value_t* outs[N_BODY_OUT + 1] = {NULL};\n"
    "  dycl_rt_list_t scans[N_SCAN + 1] = {{NULL, 0, 0}};\n"
    "  dycl_status_t s = NULL;\n"
    "  DYCL_RETURN_IF_ERROR(dycl_rt_need(rt, n, @TRIP@, &v)); /* trip count: @TRIP_NAME@ */\n"
    "  DYCL_RETURN_IF_ERROR(dycl_rt_trip_count(n, v, &trip));\n"
    "  DYCL_RETURN_IF_ERROR(dycl_rt_need(rt, n, @COND@, &v)); /* condition: @COND_NAME@ */\n"
    "  if (v) DYCL_RETURN_IF_ERROR(dycl_rt_bool(n, v, \"the loop condition\", &cond));\n"
    "  for (int k = 0; k < N_CARRIED; k++) {\n"
    "    DYCL_GOTO_IF_ERROR(s, dycl_rt_need(rt, n, init[k], &v), done);\n"
    "    if (!v) {\n"
    "      s = dycl_node_error(n, DYCL_CODE_INVALID_MODEL, \"loop-carried value %d has no initial value\", k);\n"
    "      goto done;\n"
    "    }\n"
    "    carried[k] = dycl_value_retain(v);\n"
    "  }\n"
    "  for (int64_t i = 0; (trip < 0 || i < trip) && cond; i++) {\n"
    "    if (i >= rt->max_iterations) {\n"
    "      s = dycl_rt_loop_limit(rt, n);\n"
    "      goto done;\n"
    "    }\n"
    "    rt->loop_iterations++;\n"
    "    DYCL_GOTO_IF_ERROR(s, dycl_rt_set_i64(rt, body_in[0], DYCL_DTYPE_INT64, i), done);\n"
    "    DYCL_GOTO_IF_ERROR(s, dycl_rt_set_i64(rt, body_in[1], DYCL_DTYPE_BOOL, cond), done);\n"
    "    for (int k = 0; k < N_CARRIED; k++) {\n"
    "      dycl_rt_set(rt, body_in[2 + k], carried[k]);\n"
    "      carried[k] = NULL;\n"
    "    }\n"
    "    s = @BODY@(rt);\n"
    "    if (!s) s = dycl_rt_take(rt, n, body_out, N_BODY_OUT, outs);\n"
    "    dycl_rt_drop_list(rt, @BODY_OWNED@);\n"
    "    if (s) goto done;\n"
    "    s = dycl_rt_bool(n, outs[0], \"the body's condition output\", &cond);\n"
    "    dycl_value_release(outs[0]);\n"
    "    outs[0] = NULL;\n"
    "    for (int k = 0; k < N_CARRIED; k++) {\n"
    "      carried[k] = outs[1 + k];\n"
    "      outs[1 + k] = NULL;\n"
    "    }\n"
    "    for (int k = 0; k < N_SCAN; k++) {\n"
    "      dycl_status_t e = dycl_rt_push(&scans[k], outs[1 + N_CARRIED + k]);\n"
    "      outs[1 + N_CARRIED + k] = NULL;\n"
    "      if (!s) s = e;\n"
    "    }\n"
    "    if (s) goto done;\n"
    "  }\n"
    "  for (int k = 0; k < N_CARRIED; k++) {\n"
    "    if (out[k] >= 0) dycl_rt_set(rt, out[k], carried[k]);\n"
    "    else dycl_value_release(carried[k]);\n"
    "    carried[k] = NULL;\n"
    "  }\n"
    "  for (int k = 0; k < N_SCAN && !s; k++) { /* stack each scan output along a new first axis */\n"
    "    if (out[N_CARRIED + k] < 0) continue;\n"
    "    dycl_value_t* t;\n"
    "    s = dycl_rt_stack(rt, n, k, scans[k].items, scans[k].n, 0, &scan_type[k], &t);\n"
    "    if (!s) dycl_rt_set(rt, out[N_CARRIED + k], t);\n"
    "  }\n"
    "done:\n"
    "  dycl_rt_release_all(carried, N_CARRIED);\n"
    "  dycl_rt_release_all(outs, N_BODY_OUT);\n"
    "  dycl_rt_lists_free(scans, N_SCAN);\n"
    "  return s;\n"
    "}\n";

static const char* SCAN_TPL =
    "static dycl_status_t @FN@(dycl_rt_t* rt) {\n"
    "  const dycl_node_t* n = &H@ID@;\n"
    "  static const int in_ids[] = @INS@; /* @INS_WHAT@ */\n"
    "  static const int body_in[] = @BODY_IN@; /* states, scan input slices */\n"
    "  static const int body_out[] = @BODY_OUT@; /* states, scan output slices */\n"
    "  static const int out[] = @OUT@; /* final states, scan outputs (-1: omitted) */\n"
    "  static const dycl_type_t body_type[] = @HINTS@; /* inferred type of each body output */\n"
    "@ATTRS@"
    "  enum { V8 = @V8@, FIRST = @FIRST@, N_IN = @NIN@, N_STATE = @NST@, N_SCAN_IN = @NSI@, N_SCAN_OUT = @NSO@,\n"
    "         N_BODY_OUT = @NBO@ };\n"
    "  dycl_value_t* ins[N_IN + 1] = {NULL};\n"
    "  int axes[N_SCAN_IN + 1] = {0};\n"
    "  dycl_value_t* state[N_STATE + 1] = {NULL};\n"
    "  dycl_value_t* outs[N_BODY_OUT + 1] = {NULL};\n"
    "  dycl_rt_list_t scans[N_SCAN_OUT + 1] = {{NULL, 0, 0}};\n"
    "  /* Scan-8: per batch element, results stacked again along the batch axis */\n"
    "  dycl_rt_list_t batch_state[N_STATE + 1] = {{NULL, 0, 0}};\n"
    "  dycl_rt_list_t batch_scans[N_SCAN_OUT + 1] = {{NULL, 0, 0}};\n"
    "  int64_t batch = 1;\n"
    "  dycl_status_t s = NULL;\n"
    "  for (int i = 0; i < N_IN && !s; i++) s = dycl_rt_need(rt, n, in_ids[i], &ins[i]);\n"
    "  for (int i = FIRST; i < N_IN && !s; i++)\n"
    "    if (!ins[i] || ins[i]->kind != DYCL_VALUE_TENSOR) s = dycl_node_error(n, DYCL_CODE_RUNTIME, \"input %d must be a tensor\", i);\n"
    "  if (!s && V8) {\n"
    "    if (N_STATE && ins[FIRST]->rank < 1) s = dycl_node_error(n, DYCL_CODE_RUNTIME, \"state inputs need a batch dimension\");\n"
    "    else if (ins[0]) s = dycl_node_error(n, DYCL_CODE_UNSUPPORTED, \"Scan-8 sequence_lens is not supported\");\n"
    "    else batch = ins[FIRST + N_STATE]->rank >= 2 ? ins[FIRST + N_STATE]->dims[0] : 0;\n"
    "  }\n"
    "  if (s) return s;\n"
    "  for (int64_t bi = 0; bi < batch && !s; bi++) {\n"
    "    int64_t len = -1;\n"
    "    for (int k = 0; k < N_SCAN_IN; k++) {\n"
    "      const dycl_value_t* t = ins[FIRST + N_STATE + k];\n"
    "      int64_t a = V8 ? 1 : (in_axes ? in_axes[k] : 0);\n"
    "      if (a < 0) a += t->rank;\n"
    "      if (a < 0 || a >= t->rank) {\n"
    "        s = dycl_node_error(n, DYCL_CODE_RUNTIME, \"scan input %d: axis out of range for rank %d\", k, t->rank);\n"
    "        goto done;\n"
    "      }\n"
    "      axes[k] = (int)a;\n"
    "      if (len >= 0 && t->dims[a] != len) {\n"
    "        s = dycl_node_error(n, DYCL_CODE_RUNTIME, \"scan inputs have different lengths (%\" PRId64 \" and %\" PRId64 \")\",\n"
    "                            len, t->dims[a]);\n"
    "        goto done;\n"
    "      }\n"
    "      len = t->dims[a];\n"
    "    }\n"
    "    for (int k = 0; k < N_STATE; k++) {\n"
    "      if (V8) DYCL_GOTO_IF_ERROR(s, dycl_rt_slice(rt, n, ins[FIRST + k], 0, bi, &state[k]), done);\n"
    "      else state[k] = dycl_value_retain(ins[FIRST + k]);\n"
    "    }\n"
    "    for (int64_t t = 0; t < len; t++) {\n"
    "      if (t >= rt->max_iterations) {\n"
    "        s = dycl_rt_scan_limit(rt, n);\n"
    "        goto done;\n"
    "      }\n"
    "      rt->loop_iterations++;\n"
    "      for (int k = 0; k < N_STATE; k++) {\n"
    "        dycl_rt_set(rt, body_in[k], state[k]);\n"
    "        state[k] = NULL;\n"
    "      }\n"
    "      for (int k = 0; k < N_SCAN_IN; k++) {\n"
    "        int64_t idx = in_dirs && in_dirs[k] ? len - 1 - t : t;\n"
    "        const dycl_value_t* src = ins[FIRST + N_STATE + k];\n"
    "        dycl_value_t* slice;\n"
    "        if (V8) { /* [batch, sequence, ...]: take batch bi, then step idx */\n"
    "          dycl_value_t* tmp = NULL;\n"
    "          DYCL_GOTO_IF_ERROR(s, dycl_rt_slice(rt, n, src, 0, bi, &tmp), done);\n"
    "          s = dycl_rt_slice(rt, n, tmp, 0, idx, &slice);\n"
    "          dycl_value_release(tmp);\n"
    "          if (s) goto done;\n"
    "        } else {\n"
    "          DYCL_GOTO_IF_ERROR(s, dycl_rt_slice(rt, n, src, axes[k], idx, &slice), done);\n"
    "        }\n"
    "        dycl_rt_set(rt, body_in[N_STATE + k], slice);\n"
    "      }\n"
    "      s = @BODY@(rt);\n"
    "      if (!s) s = dycl_rt_take(rt, n, body_out, N_BODY_OUT, outs);\n"
    "      dycl_rt_drop_list(rt, @BODY_OWNED@);\n"
    "      if (s) goto done;\n"
    "      for (int k = 0; k < N_STATE; k++) {\n"
    "        state[k] = outs[k];\n"
    "        outs[k] = NULL;\n"
    "      }\n"
    "      for (int k = 0; k < N_SCAN_OUT; k++) {\n"
    "        dycl_status_t e = dycl_rt_push(&scans[k], outs[N_STATE + k]);\n"
    "        outs[N_STATE + k] = NULL;\n"
    "        if (!s) s = e;\n"
    "      }\n"
    "      if (s) goto done;\n"
    "    }\n"
    "    /* finish this batch element */\n"
    "    for (int k = 0; k < N_SCAN_OUT && !s; k++) {\n"
    "      if (out_dirs && out_dirs[k]) dycl_rt_reverse(&scans[k]); /* reverse: the last iteration's value first */\n"
    "      int axis = 0;\n"
    "      if (out_axes) {\n"
    "        int r = scans[k].n ? scans[k].items[0]->rank + 1 : 1;\n"
    "        axis = (int)(out_axes[k] < 0 ? out_axes[k] + r : out_axes[k]);\n"
    "      }\n"
    "      dycl_value_t* st;\n"
    "      s = dycl_rt_stack(rt, n, k, scans[k].items, scans[k].n, axis, &body_type[N_STATE + k], &st);\n"
    "      if (s) break;\n"
    "      if (V8) s = dycl_rt_push(&batch_scans[k], st);\n"
    "      else if (out[N_STATE + k] >= 0) dycl_rt_set(rt, out[N_STATE + k], st);\n"
    "      else dycl_value_release(st);\n"
    "      dycl_rt_lists_free(&scans[k], 1);\n"
    "    }\n"
    "    for (int k = 0; k < N_STATE && !s; k++) {\n"
    "      if (V8) s = dycl_rt_push(&batch_state[k], state[k]);\n"
    "      else if (out[k] >= 0) dycl_rt_set(rt, out[k], state[k]);\n"
    "      else dycl_value_release(state[k]);\n"
    "      state[k] = NULL;\n"
    "    }\n"
    "  }\n"
    "  if (V8 && !s) {\n"
    "    static const dycl_type_t unknown = {.known = false, .rank = -1};\n"
    "    for (int k = 0; k < N_STATE && !s; k++) {\n"
    "      dycl_value_t* st;\n"
    "      s = dycl_rt_stack(rt, n, k, batch_state[k].items, batch_state[k].n, 0, &body_type[k], &st);\n"
    "      if (!s) dycl_rt_bind(rt, &out[k], 1, &st);\n"
    "    }\n"
    "    for (int k = 0; k < N_SCAN_OUT && !s; k++) {\n"
    "      dycl_value_t* st;\n"
    "      s = dycl_rt_stack(rt, n, k, batch_scans[k].items, batch_scans[k].n, 0, &unknown, &st);\n"
    "      if (!s) dycl_rt_bind(rt, &out[N_STATE + k], 1, &st);\n"
    "    }\n"
    "  }\n"
    "done:\n"
    "  dycl_rt_release_all(state, N_STATE);\n"
    "  dycl_rt_release_all(outs, N_BODY_OUT);\n"
    "  dycl_rt_lists_free(scans, N_SCAN_OUT);\n"
    "  dycl_rt_lists_free(batch_state, N_STATE);\n"
    "  dycl_rt_lists_free(batch_scans, N_SCAN_OUT);\n"
    "  return s;\n"
    "}\n";

static const char* SCAN_BAD_TPL =
    "static dycl_status_t @FN@(dycl_rt_t* rt) {\n"
    "  (void)rt;\n"
    "  return dycl_node_error(&H@ID@, DYCL_CODE_INVALID_MODEL, \"@MSG@\");\n"
    "}\n";

static const char* SEQMAP_TPL =
    "static dycl_status_t @FN@(dycl_rt_t* rt) {\n"
    "  const dycl_node_t* n = &H@ID@;\n"
    "  static const int in_ids[] = @INS@; /* input 0: the sequence; then sequences or tensors */\n"
    "  static const int body_in[] = @BODY_IN@; /* one element of each input sequence (or the tensor) */\n"
    "  static const int body_out[] = @BODY_OUT@; /* one element of each output sequence */\n"
    "  static const int out[] = @OUT@; /* the output sequences (-1: omitted) */\n"
    "  static const dycl_dtype_t out_dtype[] = @DTYPES@; /* inferred element types */\n"
    "  enum { N_IN = @NIN@, N_OUT = @NOUT@, N_BODY_OUT = @NBO@ };\n"
    "  dycl_value_t* ins[N_IN + 1] = {NULL};\n"
    "  dycl_value_t* seqs[N_OUT + 1] = {NULL};\n"
    "  dycl_value_t* outs[N_BODY_OUT + 1] = {NULL};\n"
    "  dycl_status_t s = NULL;\n"
    "  DYCL_RETURN_IF_ERROR(dycl_rt_need(rt, n, in_ids[0], &ins[0]));\n"
    "  if (!ins[0] || ins[0]->kind != DYCL_VALUE_SEQUENCE)\n"
    "    return dycl_node_error(n, DYCL_CODE_RUNTIME, \"input 0 must be a sequence\");\n"
    "  int len = ins[0]->len;\n"
    "  for (int i = 1; i < N_IN; i++) {\n"
    "    DYCL_RETURN_IF_ERROR(dycl_rt_need(rt, n, in_ids[i], &ins[i]));\n"
    "    if (ins[i] && ins[i]->kind == DYCL_VALUE_SEQUENCE && ins[i]->len != len)\n"
    "      return dycl_node_error(n, DYCL_CODE_RUNTIME, \"input sequences have different lengths (%d and %d)\", len,\n"
    "                             ins[i]->len);\n"
    "  }\n"
    "  for (int j = 0; j < N_OUT && !s; j++) s = dycl_sequence_new(rt->kctx.alloc, out_dtype[j], len, &seqs[j]);\n"
    "  for (int it = 0; it < len && !s; it++) {\n"
    "    rt->loop_iterations++;\n"
    "    for (int i = 0; i < N_IN; i++) {\n"
    "      dycl_value_t* v = ins[i];\n"
    "      dycl_rt_set(rt, body_in[i], dycl_value_retain(v && v->kind == DYCL_VALUE_SEQUENCE ? v->items[it] : v));\n"
    "    }\n"
    "    s = @BODY@(rt);\n"
    "    if (!s) s = dycl_rt_take(rt, n, body_out, N_BODY_OUT, outs);\n"
    "    dycl_rt_drop_list(rt, @BODY_OWNED@);\n"
    "    for (int j = 0; j < N_OUT && !s; j++) {\n"
    "      seqs[j]->items[it] = outs[j];\n"
    "      outs[j] = NULL;\n"
    "      if (seqs[j]->items[it]->kind != DYCL_VALUE_TENSOR)\n"
    "        s = dycl_node_error(n, DYCL_CODE_RUNTIME, \"body output %d must be a tensor\", j);\n"
    "      else if (!seqs[j]->dtype)\n"
    "        seqs[j]->dtype = seqs[j]->items[it]->dtype;\n"
    "    }\n"
    "  }\n"
    "  for (int j = 0; j < N_OUT; j++) {\n"
    "    if (!s && out[j] >= 0) dycl_rt_set(rt, out[j], seqs[j]);\n"
    "    else dycl_value_release(seqs[j]);\n"
    "    seqs[j] = NULL;\n"
    "  }\n"
    "  dycl_rt_release_all(outs, N_BODY_OUT);\n"
    "  return s;\n"
    "}\n";

/* An int64 list attribute as a local pointer (NULL when absent), as dycl_attr_ints gives it. */
static void attr_list(dycl_cbuf_t* b, const char* var, const dycl_node_t* n, const char* attr) {
  int cnt = 0;
  const int64_t* v = dycl_attr_ints(n, attr, &cnt);
  if (!v) {
    dycl_cbuf_printf(b, "  const int64_t* %s = NULL; /* no '%s' attribute */\n", var, attr);
    return;
  }
  dycl_cbuf_printf(b, "  static const int64_t %s_v[] = {", var);
  for (int i = 0; i < cnt; i++) {
    dycl_cbuf_printf(b, "%s", i ? ", " : "");
    dycl_cbuf_i64(b, v[i]);
  }
  dycl_cbuf_printf(b, "%s}; /* '%s' */\n  const int64_t* %s = %s_v;\n", cnt ? "" : "0", attr, var, var);
}

static void step_comment(host_t* H, const dycl_step_t* st, int body0, int body1) {
  dycl_cbuf_t* b = H->b;
  const dycl_node_t* n = st->node;
  dycl_cbuf_printf(b, "\n/* %s '", n->op_type);
  dycl_cbuf_comment(b, n->name);
  dycl_cbuf_printf(b, "'");
  if (st->kind == DYCL_STEP_IF) dycl_cbuf_printf(b, ": then_branch → block_%d, else_branch → block_%d", body0, body1);
  else dycl_cbuf_printf(b, ": body → block_%d", body0);
  dycl_cbuf_printf(b, "\n *   inputs:  ");
  for (int i = 0; i < n->n_in; i++) {
    dycl_cbuf_printf(b, "%s[%d] ", i ? ", " : "", dycl_cemit_slot(H->E, n->in[i]));
    dycl_cbuf_comment(b, vname(H, n->in[i]));
  }
  if (n->n_implicit) {
    dycl_cbuf_printf(b, "\n *   captured by the body: ");
    for (int i = 0; i < n->n_implicit; i++) {
      dycl_cbuf_printf(b, "%s[%d] ", i ? ", " : "", dycl_cemit_slot(H->E, n->implicit[i]));
      dycl_cbuf_comment(b, vname(H, n->implicit[i]));
    }
  }
  dycl_cbuf_printf(b, "\n *   outputs: ");
  for (int j = 0; j < n->n_out; j++) {
    dycl_cbuf_printf(b, "%s[%d] ", j ? ", " : "", dycl_cemit_slot(H->E, n->out[j]));
    dycl_cbuf_comment(b, vname(H, n->out[j]));
  }
  dycl_cbuf_printf(b, " */\n");
}

static void ctl_fn_name(const dycl_step_t* st, char* buf, size_t size) {
  const char* kind = st->kind == DYCL_STEP_IF     ? "if"
                     : st->kind == DYCL_STEP_LOOP ? "loop"
                     : st->kind == DYCL_STEP_SCAN ? "scan"
                                                  : "seqmap";
  snprintf(buf, size, "%s_%d", kind, st->node->id);
}

static dycl_status_t emit_step_fn(host_t* H, const dycl_step_t* st) {
  dycl_cbuf_t* b = H->b;
  const dycl_node_t* n = st->node;
  int b0 = block_index(H, st->body[0]);
  int b1 = st->kind == DYCL_STEP_IF ? block_index(H, st->body[1]) : -1;
  const dycl_graph_t* body = st->body[0]->graph;
  char fn[64], id[32], body_fn[32], own0[64], own1[64], then_fn[32], else_fn[32];
  ctl_fn_name(st, fn, sizeof fn);
  snprintf(id, sizeof id, "%d", n->id);
  snprintf(body_fn, sizeof body_fn, "block_%d", b0);
  owned_args(st->body[0], b0, own0, sizeof own0);
  step_comment(H, st, b0, b1);
  strs_t S = {.alloc = H->E->alloc};
  switch (st->kind) {
    case DYCL_STEP_IF: {
      const dycl_graph_t* tg = st->body[0]->graph;
      const dycl_graph_t* eg = st->body[1]->graph;
      snprintf(then_fn, sizeof then_fn, "block_%d", b0);
      snprintf(else_fn, sizeof else_fn, "block_%d", b1);
      owned_args(st->body[1], b1, own1, sizeof own1);
      if (tg->n_out != n->n_out || eg->n_out != n->n_out)
        return dycl_node_error(n, DYCL_CODE_INVALID_MODEL, "branch outputs do not match the node's");
      const char* keys[] = {"FN", "ID", "THEN_OUT", "ELSE_OUT", "OUT", "NOUT", "COND", "COND_NAME",
                            "THEN", "ELSE", "THEN_OWNED", "ELSE_OWNED"};
      dycl_cbuf_t cn = DYCL_CBUF(H->E->alloc);
      dycl_cbuf_comment(&cn, vname(H, n->in[0]));
      const char* vals[] = {fn,
                            id,
                            slots_str(H, &S, tg->out, tg->n_out),
                            slots_str(H, &S, eg->out, eg->n_out),
                            slots_str(H, &S, n->out, n->n_out),
                            int_str(&S, n->n_out),
                            int_str(&S, dycl_cemit_slot(H->E, n->in[0])),
                            keep(&S, &cn),
                            then_fn,
                            else_fn,
                            own0,
                            own1};
      dycl_cbuf_template(b, IF_TPL, keys, vals, 12);
      break;
    }
    case DYCL_STEP_LOOP: {
      int nc = n->n_in - 2;
      int ns = body->n_out - 1 - nc;
      if (nc < 0 || ns < 0 || body->n_in != 2 + nc || n->n_out < nc + ns)
        return dycl_node_error(n, DYCL_CODE_INVALID_MODEL, "the body's inputs/outputs do not match the node's");
      dycl_cbuf_t tn = DYCL_CBUF(H->E->alloc), cn = DYCL_CBUF(H->E->alloc);
      dycl_cbuf_comment(&tn, n->in[0] >= 0 ? vname(H, n->in[0]) : "none");
      dycl_cbuf_comment(&cn, n->in[1] >= 0 ? vname(H, n->in[1]) : "none");
      const char* keys[] = {"FN",   "ID",        "INIT", "BODY_IN", "BODY_OUT", "OUT",  "HINTS",      "NC",
                            "NS",   "NB",        "TRIP", "TRIP_NAME", "COND",   "COND_NAME", "BODY", "BODY_OWNED"};
      const char* vals[] = {fn,
                            id,
                            slots_str(H, &S, n->in + 2, nc),
                            slots_str(H, &S, body->in, body->n_in),
                            slots_str(H, &S, body->out, body->n_out),
                            slots_str(H, &S, n->out, n->n_out),
                            types_str(H, &S, body->out + 1 + nc, ns),
                            int_str(&S, nc),
                            int_str(&S, ns),
                            int_str(&S, body->n_out),
                            int_str(&S, dycl_cemit_slot(H->E, n->in[0])),
                            keep(&S, &tn),
                            int_str(&S, dycl_cemit_slot(H->E, n->in[1])),
                            keep(&S, &cn),
                            body_fn,
                            own0};
      dycl_cbuf_template(b, LOOP_TPL, keys, vals, 16);
      break;
    }
    case DYCL_STEP_SCAN: {
      bool v8 = n->opset < 9;
      int first = v8 ? 1 : 0;
      int n_scan_in = (int)dycl_attr_int(n, "num_scan_inputs", 0);
      int n_state = n->n_in - first - n_scan_in;
      int n_scan_out = body->n_out - n_state;
      int na = 0, nd = 0, noa = 0, nod = 0;
      const char* dir_attr = v8 ? "directions" : "scan_input_directions";
      const int64_t* in_axes = dycl_attr_ints(n, "scan_input_axes", &na);
      const int64_t* in_dirs = dycl_attr_ints(n, dir_attr, &nd);
      const int64_t* out_axes = dycl_attr_ints(n, "scan_output_axes", &noa);
      const int64_t* out_dirs = dycl_attr_ints(n, "scan_output_directions", &nod);
      const char* bad = NULL;
      if ((in_axes && na != n_scan_in) || (in_dirs && nd != n_scan_in) || (out_axes && noa != n_scan_out) ||
          (out_dirs && nod != n_scan_out))
        bad = "scan axes/directions attributes have the wrong length";
      else if (n_scan_in < 1 || n_state < 0)
        bad = "bad num_scan_inputs";
      else if (n_scan_out < 0 || body->n_in != n_state + n_scan_in || n->n_out < n_state + n_scan_out)
        return dycl_node_error(n, DYCL_CODE_INVALID_MODEL, "the body's inputs/outputs do not match the node's");
      if (bad) {
        const char* keys[] = {"FN", "ID", "MSG"};
        const char* vals[] = {fn, id, bad};
        dycl_cbuf_template(b, SCAN_BAD_TPL, keys, vals, 3);
        break;
      }
      dycl_cbuf_t attrs = DYCL_CBUF(H->E->alloc);
      attr_list(&attrs, "in_axes", n, "scan_input_axes");
      attr_list(&attrs, "in_dirs", n, dir_attr);
      attr_list(&attrs, "out_axes", n, "scan_output_axes");
      attr_list(&attrs, "out_dirs", n, "scan_output_directions");
      const char* keys[] = {"FN",  "ID",    "INS", "INS_WHAT", "BODY_IN", "BODY_OUT", "OUT", "HINTS", "ATTRS",
                            "V8",  "FIRST", "NIN", "NST",      "NSI",     "NSO",      "NBO", "BODY",  "BODY_OWNED"};
      const char* vals[] = {fn,
                            id,
                            slots_str(H, &S, n->in, n->n_in),
                            v8 ? "sequence_lens, states, scan inputs" : "states, scan inputs",
                            slots_str(H, &S, body->in, body->n_in),
                            slots_str(H, &S, body->out, body->n_out),
                            slots_str(H, &S, n->out, n->n_out),
                            types_str(H, &S, body->out, body->n_out),
                            keep(&S, &attrs),
                            v8 ? "1" : "0",
                            int_str(&S, first),
                            int_str(&S, n->n_in),
                            int_str(&S, n_state),
                            int_str(&S, n_scan_in),
                            int_str(&S, n_scan_out),
                            int_str(&S, body->n_out),
                            body_fn,
                            own0};
      dycl_cbuf_template(b, SCAN_TPL, keys, vals, 18);
      break;
    }
    case DYCL_STEP_SEQMAP: {
      if (n->n_in < 1 || body->n_in != n->n_in || body->n_out != n->n_out)
        return dycl_node_error(n, DYCL_CODE_INVALID_MODEL, "the body's inputs/outputs do not match the node's");
      dycl_cbuf_t dt = DYCL_CBUF(H->E->alloc);
      dycl_cbuf_printf(&dt, "{");
      for (int j = 0; j < body->n_out; j++) {
        const dycl_type_t* t = &H->E->ir->values[body->out[j]]->type;
        dycl_cbuf_printf(&dt, "%s%s", j ? ", " : "", dycl_cemit_dtype_macro(t->known ? t->dtype : DYCL_DTYPE_UNDEFINED));
      }
      dycl_cbuf_printf(&dt, "%s}", body->n_out ? "" : "DYCL_DTYPE_UNDEFINED");
      const char* keys[] = {"FN", "ID", "INS", "BODY_IN", "BODY_OUT", "OUT", "DTYPES", "NIN", "NOUT", "NBO", "BODY", "BODY_OWNED"};
      const char* vals[] = {fn,
                            id,
                            slots_str(H, &S, n->in, n->n_in),
                            slots_str(H, &S, body->in, body->n_in),
                            slots_str(H, &S, body->out, body->n_out),
                            slots_str(H, &S, n->out, n->n_out),
                            keep(&S, &dt),
                            int_str(&S, n->n_in),
                            int_str(&S, n->n_out),
                            int_str(&S, body->n_out),
                            body_fn,
                            own0};
      dycl_cbuf_template(b, SEQMAP_TPL, keys, vals, 12);
      break;
    }
    case DYCL_STEP_CALL: break;
  }
  if (S.failed) b->failed = true; /* reported when the file is written */
  strs_free(&S);
  return NULL;
}

/* ------------------------------------------------------------ block bodies */

static void emit_block_fn(host_t* H, int idx) {
  dycl_cbuf_t* b = H->b;
  dycl_cemit_t* E = H->E;
  const dycl_block_t* blk = H->blocks[idx];
  const dycl_graph_t* g = blk->graph;
  dycl_cbuf_printf(b, "\n/* ---------------------------------------------------------------- block_%d\n * graph '", idx);
  dycl_cbuf_comment(b, g->name);
  dycl_cbuf_printf(b, "'");
  if (idx == 0) {
    dycl_cbuf_printf(b, ", the main graph");
  } else {
    dycl_cbuf_printf(b, ", the %s of %s '", H->block_what[idx], g->parent_node ? g->parent_node->op_type : "?");
    dycl_cbuf_comment(b, g->parent_node ? g->parent_node->name : "?");
    dycl_cbuf_printf(b, "'");
  }
  dycl_cbuf_printf(b, "\n *   inputs:  ");
  for (int i = 0; i < g->n_in; i++) {
    dycl_cbuf_printf(b, "%s[%d] ", i ? ", " : "", dycl_cemit_slot(E, g->in[i]));
    dycl_cbuf_comment(b, vname(H, g->in[i]));
  }
  if (!g->n_in) dycl_cbuf_printf(b, "(none)");
  dycl_cbuf_printf(b, "\n *   returns: ");
  for (int i = 0; i < g->n_out; i++) {
    dycl_cbuf_printf(b, "%s[%d] ", i ? ", " : "", dycl_cemit_slot(E, g->out[i]));
    dycl_cbuf_comment(b, vname(H, g->out[i]));
  }
  if (!g->n_out) dycl_cbuf_printf(b, "(nothing)");
  dycl_cbuf_printf(b, "\n */\n");
  for (int s = 0; s < blk->n_steps; s++) {
    const dycl_step_t* st = &blk->steps[s];
    if (st->kind == DYCL_STEP_CALL && st->subnet->n_out) {
      dycl_cbuf_printf(b, "static const int %s_out[] = ", st->subnet->name);
      slots_init(H, b, st->subnet->out, st->subnet->n_out);
      dycl_cbuf_printf(b, ";\n");
    }
  }
  dycl_cbuf_printf(b, "static dycl_status_t block_%d(dycl_rt_t* rt) {\n", idx);
  if (!blk->n_steps) dycl_cbuf_printf(b, "  (void)rt; /* nothing to compute */\n");
  for (int s = 0; s < blk->n_steps; s++) {
    const dycl_step_t* st = &blk->steps[s];
    if (st->kind == DYCL_STEP_CALL) {
      const dycl_subnet_t* sn = st->subnet;
      dycl_cbuf_printf(b, "  /* %s: %d node%s, %s '", sn->name, sn->n_nodes, sn->n_nodes == 1 ? "" : "s",
                       sn->nodes[0]->op_type);
      dycl_cbuf_comment(b, sn->nodes[0]->name);
      if (sn->n_nodes > 1) {
        dycl_cbuf_printf(b, "' … %s '", sn->nodes[sn->n_nodes - 1]->op_type);
        dycl_cbuf_comment(b, sn->nodes[sn->n_nodes - 1]->name);
      }
      dycl_cbuf_printf(b, "' */\n");
      if (sn->n_out) dycl_cbuf_printf(b, "  dycl_rt_drop_list(rt, %s_out, %d);\n", sn->name, sn->n_out);
      dycl_cbuf_printf(b, "  rt->subnet_calls++;\n  DYCL_RETURN_IF_ERROR(%s_%s(rt));\n", E->name, sn->name);
    } else {
      char fn[64];
      ctl_fn_name(st, fn, sizeof fn);
      dycl_cbuf_printf(b, "  /* %s '", st->node->op_type);
      dycl_cbuf_comment(b, st->node->name);
      dycl_cbuf_printf(b, "' */\n  DYCL_RETURN_IF_ERROR(%s(rt));\n", fn);
    }
    for (int r = 0; r < st->n_release; r++) {
      dycl_cbuf_printf(b, "  dycl_rt_drop(rt, %d); ", dycl_cemit_slot(E, st->release[r]));
      name_comment(b, vname(H, st->release[r]));
      dycl_cbuf_printf(b, "\n");
    }
  }
  dycl_cbuf_printf(b, "  return NULL;\n}\n");
}

/* Emits block idx, then the control-flow functions of its steps and their bodies (pre-order). */
static dycl_status_t emit_blocks(host_t* H, int idx) {
  emit_block_fn(H, idx);
  const dycl_block_t* blk = H->blocks[idx];
  for (int s = 0; s < blk->n_steps; s++) {
    const dycl_step_t* st = &blk->steps[s];
    if (st->kind == DYCL_STEP_CALL) continue;
    DYCL_RETURN_IF_ERROR(emit_step_fn(H, st));
    DYCL_RETURN_IF_ERROR(emit_blocks(H, block_index(H, st->body[0])));
    if (st->kind == DYCL_STEP_IF) DYCL_RETURN_IF_ERROR(emit_blocks(H, block_index(H, st->body[1])));
  }
  return NULL;
}

static void emit_host_nodes(host_t* H, const dycl_block_t* blk) {
  dycl_cbuf_t* b = H->b;
  for (int s = 0; s < blk->n_steps; s++) {
    const dycl_step_t* st = &blk->steps[s];
    if (st->kind == DYCL_STEP_CALL) continue;
    const dycl_node_t* n = st->node;
    dycl_cbuf_printf(b, "static const dycl_node_t H%d = {.id = %d, .name = ", n->id, n->id);
    dycl_cbuf_cstring(b, n->name, strlen(n->name));
    dycl_cbuf_printf(b, ", .op_type = ");
    dycl_cbuf_cstring(b, n->op_type, strlen(n->op_type));
    dycl_cbuf_printf(b, ", .domain = \"\", .op = DYCL_OP_%s, .opset = %d};\n", dycl_op_table[n->op].name, n->opset);
    emit_host_nodes(H, st->body[0]);
    if (st->kind == DYCL_STEP_IF) emit_host_nodes(H, st->body[1]);
  }
}

static void emit_prototypes(host_t* H) {
  dycl_cbuf_t* b = H->b;
  dycl_cbuf_printf(b, "/* the values defined in each block (its inputs and what its steps compute), cleared when it is left */\n");
  for (int i = 0; i < H->n_blocks; i++) {
    const dycl_block_t* blk = H->blocks[i];
    if (!blk->n_owned) continue;
    dycl_cbuf_printf(b, "static const int block_%d_owned[] = ", i);
    slots_init(H, b, blk->owned, blk->n_owned);
    dycl_cbuf_printf(b, ";\n");
  }
  dycl_cbuf_printf(b, "\n");
  for (int i = 0; i < H->n_blocks; i++) {
    dycl_cbuf_printf(b, "static dycl_status_t block_%d(dycl_rt_t* rt);\n", i);
    const dycl_block_t* blk = H->blocks[i];
    for (int s = 0; s < blk->n_steps; s++) {
      if (blk->steps[s].kind == DYCL_STEP_CALL) continue;
      char fn[64];
      ctl_fn_name(&blk->steps[s], fn, sizeof fn);
      dycl_cbuf_printf(b, "static dycl_status_t %s(dycl_rt_t* rt);\n", fn);
    }
  }
}

/* ------------------------------------------------------------------ the model */

static dycl_value_kind_t output_kind(const dycl_ir_t* ir, int id) {
  const dycl_ir_value_t* v = ir->values[id];
  if (v->type.known) return v->type.kind;
  return v->declared.known ? v->declared.kind : DYCL_VALUE_TENSOR;
}

static void emit_model_desc(host_t* H) {
  dycl_cbuf_t* b = H->b;
  dycl_cemit_t* E = H->E;
  const dycl_ir_t* ir = E->ir;
  const dycl_graph_t* g = ir->main;
  dycl_cbuf_printf(b, "\n/* ------------------------------------------------------------------ the model */\n\n");
  /* inputs */
  dycl_cbuf_printf(b, "static const int in_slots[] = ");
  slots_init(H, b, g->in, g->n_in);
  dycl_cbuf_printf(b, ";\nstatic const char* const in_names[] = {");
  for (int i = 0; i < g->n_in; i++) {
    const char* nm = ir->values[g->in[i]]->name;
    dycl_cbuf_printf(b, "%s", i ? ", " : "");
    dycl_cbuf_cstring(b, nm, strlen(nm));
  }
  dycl_cbuf_printf(b, "%s};\n/* the input types declared in the model file: the runs' inputs are checked against them */\n",
                   g->n_in ? "" : "NULL");
  dycl_cbuf_printf(b, "static const dycl_type_t in_types[] = {");
  for (int i = 0; i < g->n_in; i++) {
    dycl_cbuf_printf(b, "%s", i ? ",\n    " : "");
    dycl_cbuf_type(b, &ir->values[g->in[i]]->declared);
  }
  dycl_cbuf_printf(b, "%s};\n", g->n_in ? "" : "{.known = false, .rank = -1}");
  dycl_cbuf_printf(b, "static const int in_kinds[] = {");
  for (int i = 0; i < g->n_in; i++) {
    const dycl_type_t* t = &ir->values[g->in[i]]->declared;
    dycl_cbuf_printf(b, "%s%d", i ? ", " : "", t->known ? (int)t->kind : 0);
  }
  dycl_cbuf_printf(b, "%s};\n", g->n_in ? "" : "0");
  /* outputs */
  dycl_cbuf_printf(b, "static const int out_slots[] = ");
  slots_init(H, b, g->out, g->n_out);
  dycl_cbuf_printf(b, ";\nstatic const char* const out_names[] = {");
  for (int j = 0; j < g->n_out; j++) {
    dycl_cbuf_printf(b, "%s", j ? ", " : "");
    dycl_cbuf_cstring(b, E->p->output_names[j], strlen(E->p->output_names[j]));
  }
  dycl_cbuf_printf(b, "%s};\nstatic const int out_kinds[] = {", g->n_out ? "" : "NULL");
  for (int j = 0; j < g->n_out; j++) dycl_cbuf_printf(b, "%s%d", j ? ", " : "", (int)output_kind(ir, g->out[j]));
  dycl_cbuf_printf(b, "%s};\n", g->n_out ? "" : "0");
  /* constants */
  dycl_cbuf_printf(b, "/* the constants (weights), in the order of the weights image */\n");
  dycl_cbuf_printf(b, "static const dycl_rt_const_t consts[] = {");
  for (int i = 0; i < E->n_consts; i++) {
    const dycl_ir_value_t* iv = ir->values[E->slot_value[E->consts[i]]];
    const dycl_value_t* v = iv->constant;
    dycl_cbuf_printf(b, "\n    {%d, %s, %d, {", E->consts[i], dycl_cemit_dtype_macro(v->dtype), v->rank);
    for (int d = 0; d < v->rank; d++) {
      dycl_cbuf_printf(b, "%s", d ? ", " : "");
      dycl_cbuf_i64(b, v->dims[d]);
    }
    dycl_cbuf_printf(b, "%s}}, ", v->rank ? "" : "0");
    name_comment(b, iv->name);
  }
  dycl_cbuf_printf(b, "%s};\n", E->n_consts ? "" : "{-1, DYCL_DTYPE_UNDEFINED, 0, {0}}");
  if (E->embed_weights) dycl_cbuf_printf(b, "extern const uint8_t %s_weights[%" PRIu64 "]; /* %s_weights.c */\n", E->name, E->weight_bytes, E->name);
  dycl_cbuf_printf(b, "\nstatic const dycl_rt_model_t model_desc = {\n");
  dycl_cbuf_printf(b, "    .name = \"%s\",\n    .n_values = %d,\n    .value_names = %s_value_names,\n    .n_sym = %d,\n",
                   E->name, E->n_slots, E->name, ir->next_sym + 1);
  dycl_cbuf_printf(b, "    .n_in = %d,\n    .in_slots = in_slots,\n    .in_names = in_names,\n    .in_types = in_types,\n"
                   "    .in_kinds = in_kinds,\n", g->n_in);
  dycl_cbuf_printf(b, "    .n_out = %d,\n    .out_slots = out_slots,\n    .out_names = out_names,\n    .out_kinds = out_kinds,\n",
                   g->n_out);
  dycl_cbuf_printf(b, "    .n_consts = %d,\n    .consts = consts,\n", E->n_consts);
  const dycl_block_t* m = E->p->main;
  if (m->n_owned) dycl_cbuf_printf(b, "    .n_main_owned = %d,\n    .main_owned = block_0_owned,\n", m->n_owned);
  dycl_cbuf_printf(b, "    .main = block_0,\n");
  if (E->embed_weights)
    dycl_cbuf_printf(b, "    .weights = %s_weights,\n    .weights_size = %" PRIu64 ",\n", E->name, E->weight_bytes);
  if (E->exec)
    dycl_cbuf_printf(b, "    .program = &%s_program, /* the sub-networks, run by the %s backend */\n"
                        "    .exec_create = dycl_rt_exec_create,\n    .exec_destroy = dycl_rt_exec_destroy,\n",
                     E->name, E->backend->name);
  dycl_cbuf_printf(b, "};\n");
}

dycl_status_t dycl_cemit_host(dycl_cemit_t* E) {
  dycl_cbuf_t b = DYCL_CBUF(E->alloc);
  host_t H = {E, &b, NULL, NULL, 0, 0};
  dycl_status_t s = collect_blocks(&H, E->p->main, "main");
  if (s) goto done;
  dycl_cbuf_printf(&b, "/* %s.c — the host module of %s: the model's control flow as C.\n", E->name, E->name);
  dycl_cemit_provenance(E, &b);
  dycl_cbuf_printf(&b,
                   " *\n"
                   " * Values live in numbered slots (rt->v[k]; each slot's ONNX name is in %s_value_names).\n"
                   " * block_<k> runs the steps of one graph: calls of sub-networks (%s_subnets.c) and the\n"
                   " * control-flow nodes, each a function (if_<id>, loop_<id>, scan_<id>, seqmap_<id>) that runs\n"
                   " * its body blocks as the in-process executor does (dycl's src/exec/exec.c). After each step,\n"
                   " * the values it read for the last time are dropped.\n */\n",
                   E->name, E->name);
  dycl_cbuf_printf(&b, "#include <inttypes.h>\n#include <string.h>\n\n#include \"%s.h\"\n#include \"%s_internal.h\"\n\n", E->name,
                   E->name);
  dycl_cbuf_printf(&b, "/* ------------------------------------------------------------------ value slots */\n\n");
  dycl_cbuf_printf(&b, "const char* const %s_value_names[%d] = {\n", E->name, E->n_slots ? E->n_slots : 1);
  for (int i = 0; i < E->n_slots; i++) {
    const dycl_ir_value_t* v = E->ir->values[E->slot_value[i]];
    dycl_cbuf_printf(&b, "    /* %d */ ", i);
    dycl_cbuf_cstring(&b, v->name, strlen(v->name));
    dycl_cbuf_printf(&b, ",%s\n", v->def == DYCL_DEF_CONST ? " /* weight */" : "");
  }
  dycl_cbuf_printf(&b, "%s};\n", E->n_slots ? "" : "    \"\",\n");
  dycl_cbuf_printf(&b, "\n/* ------------------------------------------------------------------ host code */\n\n");
  dycl_cbuf_printf(&b, "/* the control-flow nodes (their names and types are what error messages show) */\n");
  emit_host_nodes(&H, E->p->main);
  dycl_cbuf_printf(&b, "\n");
  emit_prototypes(&H);
  s = emit_blocks(&H, 0);
  if (s) goto done;
  emit_model_desc(&H);
  const char* tpl = dycl_embedded_text("src/emit/pkg/model_api.c.in");
  if (!tpl) {
    s = dycl_error(DYCL_CODE_INTERNAL, "the package templates are missing from this dycl build");
    goto done;
  }
  dycl_cbuf_printf(&b, "\n");
  const char* keys[] = {"NAME"};
  const char* vals[] = {E->name};
  dycl_cbuf_template(&b, tpl, keys, vals, 1);
  char path[512];
  snprintf(path, sizeof path, "%s.c", E->name);
  s = dycl_cemit_write_buf(E, path, &b);
done:
  dycl_free(E->alloc, (void*)H.blocks);
  dycl_free(E->alloc, (void*)H.block_what);
  dycl_cbuf_free(&b);
  return s;
}
