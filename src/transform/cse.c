/* Common-subexpression elimination: two nodes of one graph that apply the same operator (same
 * domain and version) with the same attributes to the same inputs compute the same value. The
 * later one becomes an Identity of the earlier one's output, an alias the partitioner binds in the
 * host without running anything. Inputs that are module constants compare by content, so the
 * Unsqueeze-by-[0] nodes the exporter writes with one Constant each still match.
 *
 * Left alone: nodes with several outputs, random and control-flow ops, nodes with subgraph or
 * tensor attributes, and constants larger than CSE_CONST_BYTES (compared by identity only). */
#include <inttypes.h>
#include <string.h>

#include "transform/optimize.h"

#define CSE_CONST_BYTES 256

typedef struct kbuf {
  const dycl_allocator_t* alloc;
  dycl_arena_t keys; /* copies of the keys the maps hold (they borrow them) */
  char* p;
  size_t n, cap;
  bool oom;
} kbuf_t;

static void kput(kbuf_t* b, const void* data, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->n + n + 1) cap *= 2;
    char* q = dycl_malloc(b->alloc, cap);
    if (!q) {
      b->oom = true;
      return;
    }
    if (b->n) memcpy(q, b->p, b->n);
    dycl_free(b->alloc, b->p);
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void kstr(kbuf_t* b, const char* s) { kput(b, s, strlen(s)); }

static void kfmt_i64(kbuf_t* b, int64_t v) {
  char t[32];
  snprintf(t, sizeof t, "%" PRId64 ",", v);
  kstr(b, t);
}

/* Bytes as hex (the key is a C string: no NULs). */
static void khex(kbuf_t* b, const void* data, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char* p = data;
  for (size_t i = 0; i < n; i++) {
    char t[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
    kput(b, t, 2);
  }
}

static void kdouble(kbuf_t* b, double d) { khex(b, &d, sizeof d); }

/* The key of node n, or false when n is not a candidate. */
static bool node_key(const dycl_ir_t* ir, const int* canon, const dycl_node_t* n, kbuf_t* b) {
  if (n->n_out != 1 || n->out[0] < 0 || n->op == DYCL_OP_Identity) return false;
  if (dycl_op_table[n->op].flags & (DYCL_OPF_CONTROL | DYCL_OPF_RANDOM)) return false;
  if (n->n_implicit) return false;
  b->n = 0;
  kstr(b, n->domain);
  kstr(b, "|");
  kstr(b, n->op_type);
  kfmt_i64(b, n->opset);
  kstr(b, "|in:");
  for (int i = 0; i < n->n_in; i++) {
    int v = n->in[i] >= 0 && canon[n->in[i]] >= 0 ? canon[n->in[i]] : n->in[i];
    const dycl_ir_value_t* iv = v >= 0 ? ir->values[v] : NULL;
    if (iv && iv->def == DYCL_DEF_CONST && iv->constant && iv->constant->kind == DYCL_VALUE_TENSOR &&
        iv->constant->dtype != DYCL_DTYPE_STRING && iv->constant->nbytes <= CSE_CONST_BYTES) {
      const dycl_value_t* c = iv->constant;
      kstr(b, "c");
      kfmt_i64(b, c->dtype);
      kfmt_i64(b, c->rank);
      for (int d = 0; d < c->rank; d++) kfmt_i64(b, c->dims[d]);
      khex(b, c->data, c->nbytes);
      kstr(b, ";");
    } else {
      kstr(b, "v");
      kfmt_i64(b, v);
    }
  }
  kstr(b, "|at:");
  for (int a = 0; a < n->n_attr; a++) {
    const dycl_attr_t* at = &n->attrs[a];
    kstr(b, at->name);
    kstr(b, "=");
    kfmt_i64(b, at->type);
    switch (at->type) {
      case DYCL_ATTR_FLOAT: kdouble(b, at->f); break;
      case DYCL_ATTR_INT: kfmt_i64(b, at->i); break;
      case DYCL_ATTR_STRING: khex(b, at->s, at->slen); break;
      case DYCL_ATTR_FLOATS:
        for (int j = 0; j < at->n; j++) khex(b, &at->floats[j], sizeof at->floats[j]);
        break;
      case DYCL_ATTR_INTS:
        for (int j = 0; j < at->n; j++) kfmt_i64(b, at->ints[j]);
        break;
      case DYCL_ATTR_STRINGS:
        for (int j = 0; j < at->n; j++) {
          khex(b, at->strings[j], strlen(at->strings[j]));
          kstr(b, ",");
        }
        break;
      default: return false; /* graphs, tensors, type protos */
    }
    kstr(b, ";");
  }
  return !b->oom;
}

static dycl_status_t cse_graph(dycl_ir_t* ir, int* canon, dycl_graph_t* g, kbuf_t* b, int* count) {
  dycl_strmap_t seen;
  dycl_strmap_init(&seen, ir->alloc);
  dycl_status_t s = NULL;
  for (int k = 0; k < g->n_nodes && !s; k++) {
    dycl_node_t* n = g->nodes[k];
    for (int a = 0; a < n->n_attr && !s; a++) {
      if (n->attrs[a].type == DYCL_ATTR_GRAPH) s = cse_graph(ir, canon, n->attrs[a].g, b, count);
      if (n->attrs[a].type == DYCL_ATTR_GRAPHS)
        for (int j = 0; j < n->attrs[a].n && !s; j++) s = cse_graph(ir, canon, n->attrs[a].graphs[j], b, count);
    }
    if (s) break;
    if (n->op == DYCL_OP_Identity && n->n_in == 1 && n->in[0] >= 0 && n->n_out == 1 && n->out[0] >= 0) {
      canon[n->out[0]] = canon[n->in[0]] >= 0 ? canon[n->in[0]] : n->in[0];
      continue;
    }
    if (!node_key(ir, canon, n, b)) {
      if (b->oom) s = dycl_error_nomem();
      continue;
    }
    int first;
    if (!dycl_strmap_get(&seen, b->p, &first)) {
      char* key = dycl_arena_strdup(&b->keys, b->p);
      s = key ? dycl_strmap_put(&seen, key, k) : dycl_error_nomem();
      continue;
    }
    /* n recomputes node `first`'s value: make it an alias of it */
    int* in = dycl_arena_alloc(&ir->arena, sizeof *in);
    if (!in) {
      s = dycl_error_nomem();
      break;
    }
    in[0] = g->nodes[first]->out[0];
    canon[n->out[0]] = canon[in[0]] >= 0 ? canon[in[0]] : in[0];
    n->op = DYCL_OP_Identity;
    n->opset = ir->opset;
    n->op_type = "Identity";
    n->domain = "";
    n->n_in = 1;
    n->in = in;
    n->n_attr = 0;
    n->attrs = NULL;
    (*count)++;
  }
  dycl_strmap_destroy(&seen);
  return s;
}

dycl_status_t dycl_cse(dycl_ir_t* ir, int* merged) {
  kbuf_t b = {.alloc = ir->alloc};
  dycl_arena_init(&b.keys, ir->alloc);
  int n = 0;
  int* canon = dycl_calloc(ir->alloc, (size_t)ir->n_values + 1, sizeof *canon);
  if (!canon) return dycl_error_nomem();
  for (int64_t i = 0; i < ir->n_values; i++) canon[i] = -1;
  dycl_status_t s = cse_graph(ir, canon, ir->main, &b, &n);
  dycl_free(ir->alloc, b.p);
  dycl_arena_destroy(&b.keys);
  dycl_free(ir->alloc, canon);
  if (merged) *merged = n;
  return s;
}
