/* The `ref` backend: portable C kernels from the op table, run node by node. It is the oracle
 * that every other backend is tested against. */
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"

#define REF_MAX_IO 64

static dycl_status_t ref_prepare(const dycl_program_t* p, dycl_subnet_t* sn, const dycl_options_t* options) {
  (void)p, (void)sn, (void)options;
  return NULL;
}

static void ref_release(dycl_subnet_t* sn) { (void)sn; }

static dycl_status_t ref_run(const dycl_program_t* p, const dycl_subnet_t* sn, dycl_value_t** slots, dycl_kctx_t* kctx) {
  const dycl_ir_t* ir = p->ir;
  dycl_status_t s = NULL;
  int k = 0;
  for (; k < sn->n_nodes && !s; k++) {
    const dycl_node_t* n = sn->nodes[k];
    dycl_value_t* in_buf[REF_MAX_IO];
    dycl_value_t* out_buf[REF_MAX_IO];
    dycl_value_t** in = in_buf;
    dycl_value_t** out = out_buf;
    bool heap = n->n_in > REF_MAX_IO || n->n_out > REF_MAX_IO;
    if (heap) {
      in = dycl_calloc(kctx->alloc, (size_t)n->n_in + 1, sizeof *in);
      out = dycl_calloc(kctx->alloc, (size_t)n->n_out + 1, sizeof *out);
      if (!in || !out) {
        dycl_free(kctx->alloc, in);
        dycl_free(kctx->alloc, out);
        s = dycl_error_nomem();
        break;
      }
    }
    for (int i = 0; i < n->n_in; i++) {
      in[i] = n->in[i] >= 0 ? slots[n->in[i]] : NULL;
      if (n->in[i] >= 0 && !in[i])
        s = dycl_node_error(n, DYCL_CODE_INTERNAL, "input '%s' has no value", ir->values[n->in[i]]->name);
    }
    for (int j = 0; j < n->n_out; j++) out[j] = NULL;
    if (dycl_op_table[n->op].flags & DYCL_OPF_RANDOM) { /* fresh numbers on every call */
      uint64_t z = (kctx->seed += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      kctx->seed = z ^ (z >> 27);
    }
    int64_t t0 = dycl_prof_begin(kctx);
    if (!s) s = dycl_op_table[n->op].run(kctx, n, in, n->n_in, out, n->n_out);
    dycl_prof_end(kctx, k, t0);
    for (int j = 0; j < n->n_out; j++) {
      if (!s && n->out[j] >= 0) {
        if (!out[j]) s = dycl_node_error(n, DYCL_CODE_INTERNAL, "kernel did not produce output %d", j);
        else s = dycl_check_output(ir, n, j, out[j]);
      }
      if (s || n->out[j] < 0) {
        dycl_value_release(out[j]);
        continue;
      }
      dycl_value_release(slots[n->out[j]]);
      slots[n->out[j]] = out[j];
    }
    if (heap) {
      dycl_free(kctx->alloc, in);
      dycl_free(kctx->alloc, out);
    }
    if (!s)
      for (int r = sn->release_start[k]; r < sn->release_start[k + 1]; r++) {
        dycl_value_release(slots[sn->release_ids[r]]);
        slots[sn->release_ids[r]] = NULL;
      }
  }
  if (s) { /* drop every internal value this run produced */
    for (int kk = 0; kk < sn->n_nodes; kk++)
      for (int r = sn->release_start[kk]; r < sn->release_start[kk + 1]; r++) {
        dycl_value_release(slots[sn->release_ids[r]]);
        slots[sn->release_ids[r]] = NULL;
      }
  }
  return s;
}

static const dycl_backend_t ref_backend = {"ref", ref_prepare, ref_run, ref_release};

const dycl_backend_t* dycl_backend_ref(void) { return &ref_backend; }

const dycl_backend_t* dycl_backend_find(const char* name) {
  if (!name || strcmp(name, "ref") == 0) return &ref_backend;
  if (strcmp(name, "cpu") == 0) return dycl_backend_cpu(); /* NULL when built without oneDNN */
  return NULL;
}

dycl_status_t dycl_check_output(const dycl_ir_t* ir, const dycl_node_t* node, int j, const dycl_value_t* v) {
  const dycl_type_t* t = &ir->values[node->out[j]]->type;
  if (!t->known) return NULL;
  bool bad = t->kind != v->kind;
  if (!bad && v->kind == DYCL_VALUE_TENSOR) {
    if (t->dtype && t->dtype != v->dtype) bad = true;
    if (t->rank >= 0 && t->rank != v->rank) bad = true;
    for (int d = 0; !bad && t->rank >= 0 && d < t->rank; d++)
      if (t->dims[d].v >= 0 && t->dims[d].v != v->dims[d]) bad = true;
  }
  if (!bad && v->kind == DYCL_VALUE_SEQUENCE && t->dtype && v->dtype && t->dtype != v->dtype) bad = true;
  if (!bad) return NULL;
  char b1[256], b2[160];
  const char* kinds[] = {"tensor", "sequence", "optional"};
  if (v->kind == DYCL_VALUE_TENSOR) dycl_shape_str(v->rank, v->dims, b2, sizeof b2);
  else b2[0] = 0;
  return dycl_node_error(node, DYCL_CODE_INTERNAL, "output %d is %s %s%s, but inference said %s", j, kinds[v->kind],
                         dycl_dtype_name(v->dtype), b2, dycl_type_str(t, b1, sizeof b1));
}
