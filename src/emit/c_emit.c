/* dycl compile: emits a self-contained C package for a loaded model (see c_emit.h for the files).
 * This file: the entry point, the numbering of value slots, NAME.h, the weights, and the text
 * helpers the other c_emit*.c files share. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/cpu/cpu.h"
#include "emit/c_emit.h"

/* Weights up to this size are compiled into the library (NAME_weights.c): the package is then one
 * library with nothing to ship beside it, and the array still compiles in well under a second.
 * Larger weights go to NAME.weights, read by NAME_create: a big initializer would make the C
 * compiler slow and memory-hungry, and a file can be replaced or shared. */
#define DYCL_EMBED_WEIGHTS_MAX (64 * 1024)

/* ------------------------------------------------------------ text buffers */

void dycl_cbuf_write(dycl_cbuf_t* b, const void* data, size_t n) {
  if (b->failed) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char* d = dycl_malloc(b->alloc, cap);
    if (!d) {
      b->failed = true;
      return;
    }
    if (b->len) memcpy(d, b->data, b->len);
    dycl_free(b->alloc, b->data);
    b->data = d;
    b->cap = cap;
  }
  if (n) memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = 0;
}

void dycl_cbuf_vprintf(dycl_cbuf_t* b, const char* fmt, va_list ap) {
  char small[512];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    b->failed = true;
    return;
  }
  if ((size_t)n < sizeof small) {
    dycl_cbuf_write(b, small, (size_t)n);
  } else {
    char* big = dycl_malloc(b->alloc, (size_t)n + 1);
    if (!big) {
      b->failed = true;
    } else {
      vsnprintf(big, (size_t)n + 1, fmt, ap2);
      dycl_cbuf_write(b, big, (size_t)n);
      dycl_free(b->alloc, big);
    }
  }
  va_end(ap2);
}

void dycl_cbuf_printf(dycl_cbuf_t* b, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dycl_cbuf_vprintf(b, fmt, ap);
  va_end(ap);
}

void dycl_cbuf_free(dycl_cbuf_t* b) {
  const dycl_allocator_t* a = b->alloc;
  dycl_free(a, b->data);
  memset(b, 0, sizeof *b);
  b->alloc = a;
}

void dycl_cbuf_template(dycl_cbuf_t* b, const char* tpl, const char* const* keys, const char* const* vals, int n) {
  const char* p = tpl;
  while (*p) {
    const char* at = strchr(p, '@');
    if (!at) {
      dycl_cbuf_write(b, p, strlen(p));
      break;
    }
    dycl_cbuf_write(b, p, (size_t)(at - p));
    const char* end = strchr(at + 1, '@');
    int k = -1;
    if (end)
      for (int i = 0; i < n && k < 0; i++)
        if (strlen(keys[i]) == (size_t)(end - at - 1) && strncmp(keys[i], at + 1, (size_t)(end - at - 1)) == 0) k = i;
    if (k >= 0) {
      dycl_cbuf_write(b, vals[k], strlen(vals[k]));
      p = end + 1;
    } else {
      dycl_cbuf_write(b, "@", 1);
      p = at + 1;
    }
  }
}

void dycl_cbuf_cstring(dycl_cbuf_t* b, const char* s, size_t n) {
  dycl_cbuf_write(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\' || c == '?') {
      esc[0] = '\\';
      esc[1] = (char)c;
      dycl_cbuf_write(b, esc, 2);
    } else if (c == '\n') {
      dycl_cbuf_write(b, "\\n", 2);
    } else if (c < 32 || c >= 127) {
      snprintf(esc, sizeof esc, "\\%03o", c); /* three digits: never merges with a following digit */
      dycl_cbuf_write(b, esc, 4);
    } else {
      dycl_cbuf_write(b, (const char*)&c, 1);
    }
  }
  dycl_cbuf_write(b, "\"", 1);
}

void dycl_cbuf_comment(dycl_cbuf_t* b, const char* s) {
  for (const char* p = s; p && *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '*' && p[1] == '/') dycl_cbuf_write(b, "* ", 2);
    else if (c == '/' && p[1] == '*') dycl_cbuf_write(b, "/ ", 2);
    else if (c < 32 || c == 127) dycl_cbuf_write(b, "?", 1);
    else if (c == '\\' && (p[1] == 0 || p[1] == '\n')) dycl_cbuf_write(b, "\\ ", 2); /* no line splice */
    else if (c == '?' && p[1] == '?') dycl_cbuf_write(b, "? ", 2);                    /* no trigraph */
    else dycl_cbuf_write(b, (const char*)&c, 1);
  }
}

void dycl_cbuf_i64(dycl_cbuf_t* b, int64_t v) {
  if (v == INT64_MIN) dycl_cbuf_printf(b, "(-INT64_C(9223372036854775807) - 1)");
  else if (v > INT32_MAX || v < INT32_MIN) dycl_cbuf_printf(b, "INT64_C(%" PRId64 ")", v);
  else dycl_cbuf_printf(b, "%" PRId64, v);
}

void dycl_cbuf_f64(dycl_cbuf_t* b, double v) {
  if (isnan(v)) dycl_cbuf_printf(b, "%sNAN", signbit(v) ? "-" : "");
  else if (isinf(v)) dycl_cbuf_printf(b, "%sINFINITY", v < 0 ? "-" : "");
  else dycl_cbuf_printf(b, "%a", v); /* hexadecimal: exact */
}

const char* dycl_cemit_dtype_macro(dycl_dtype_t t) {
  switch (t) {
    case DYCL_DTYPE_FLOAT32: return "DYCL_DTYPE_FLOAT32";
    case DYCL_DTYPE_UINT8: return "DYCL_DTYPE_UINT8";
    case DYCL_DTYPE_INT8: return "DYCL_DTYPE_INT8";
    case DYCL_DTYPE_UINT16: return "DYCL_DTYPE_UINT16";
    case DYCL_DTYPE_INT16: return "DYCL_DTYPE_INT16";
    case DYCL_DTYPE_INT32: return "DYCL_DTYPE_INT32";
    case DYCL_DTYPE_INT64: return "DYCL_DTYPE_INT64";
    case DYCL_DTYPE_STRING: return "DYCL_DTYPE_STRING";
    case DYCL_DTYPE_BOOL: return "DYCL_DTYPE_BOOL";
    case DYCL_DTYPE_FLOAT16: return "DYCL_DTYPE_FLOAT16";
    case DYCL_DTYPE_FLOAT64: return "DYCL_DTYPE_FLOAT64";
    case DYCL_DTYPE_UINT32: return "DYCL_DTYPE_UINT32";
    case DYCL_DTYPE_UINT64: return "DYCL_DTYPE_UINT64";
    case DYCL_DTYPE_BFLOAT16: return "DYCL_DTYPE_BFLOAT16";
    default: return "DYCL_DTYPE_UNDEFINED";
  }
}

static const char* kind_macro(dycl_value_kind_t k) {
  return k == DYCL_VALUE_SEQUENCE ? "DYCL_VALUE_SEQUENCE" : k == DYCL_VALUE_OPTIONAL ? "DYCL_VALUE_OPTIONAL" : "DYCL_VALUE_TENSOR";
}

void dycl_cbuf_type(dycl_cbuf_t* b, const dycl_type_t* t) {
  if (!t->known) {
    dycl_cbuf_printf(b, "{.known = false, .rank = -1}");
    return;
  }
  dycl_cbuf_printf(b, "{.known = true, .kind = %s", kind_macro(t->kind));
  if (t->kind == DYCL_VALUE_OPTIONAL) dycl_cbuf_printf(b, ", .elem_kind = %s", kind_macro(t->elem_kind));
  dycl_cbuf_printf(b, ", .dtype = %s, .rank = %d", dycl_cemit_dtype_macro(t->dtype), t->rank);
  if (t->rank > 0) {
    dycl_cbuf_printf(b, ", .dims = {");
    for (int d = 0; d < t->rank && d < DYCL_MAX_RANK; d++) {
      dycl_cbuf_printf(b, "%s{", d ? ", " : "");
      dycl_cbuf_i64(b, t->dims[d].v);
      dycl_cbuf_printf(b, ", %d}", t->dims[d].sym);
    }
    dycl_cbuf_printf(b, "}");
  }
  dycl_cbuf_printf(b, "}");
}

const char* dycl_embedded_text(const char* path) {
  for (int i = 0; i < dycl_embedded_count; i++)
    if (strcmp(dycl_embedded_files[i].path, path) == 0) return dycl_embedded_files[i].text;
  return NULL;
}

/* ------------------------------------------------------------------ files */

static dycl_status_t mkdirs(const char* path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n >= sizeof buf) return dycl_error(DYCL_CODE_IO, "path too long: '%s'", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char c = buf[i];
    buf[i] = 0;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return dycl_error(DYCL_CODE_IO, "cannot create folder '%s': %s", buf, strerror(errno));
    buf[i] = c;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return dycl_error(DYCL_CODE_IO, "'%s' is not a folder", path);
  return NULL;
}

dycl_status_t dycl_cemit_write(dycl_cemit_t* E, const char* relpath, const void* data, size_t n) {
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", E->dir, relpath) >= sizeof path)
    return dycl_error(DYCL_CODE_IO, "path too long: '%s/%s'", E->dir, relpath);
  char* slash = strrchr(path, '/');
  if (slash && slash > path + strlen(E->dir)) {
    *slash = 0;
    DYCL_RETURN_IF_ERROR(mkdirs(path));
    *slash = '/';
  }
  FILE* f = fopen(path, "wb");
  if (!f) return dycl_error(DYCL_CODE_IO, "cannot write '%s': %s", path, strerror(errno));
  bool ok = !n || fwrite(data, 1, n, f) == n;
  ok = fclose(f) == 0 && ok;
  if (!ok) return dycl_error(DYCL_CODE_IO, "cannot write '%s': %s", path, strerror(errno));
  E->n_files++;
  E->bytes_written += n;
  return NULL;
}

dycl_status_t dycl_cemit_write_buf(dycl_cemit_t* E, const char* relpath, dycl_cbuf_t* b) {
  if (b->failed) return dycl_error_nomem();
  return dycl_cemit_write(E, relpath, b->data ? b->data : "", b->len);
}

static const char* base_name(const char* path) {
  const char* s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static void count_steps(const dycl_block_t* b, int* counts) {
  for (int s = 0; s < b->n_steps; s++) {
    counts[b->steps[s].kind]++;
    if (b->steps[s].kind == DYCL_STEP_CALL) continue;
    count_steps(b->steps[s].body[0], counts);
    if (b->steps[s].kind == DYCL_STEP_IF) count_steps(b->steps[s].body[1], counts);
  }
}

void dycl_cemit_provenance(const dycl_cemit_t* E, dycl_cbuf_t* b) {
  const dycl_ir_t* ir = E->ir;
  dycl_cbuf_printf(b, " * Generated by dycl %s (`dycl compile`, backend %s); do not edit.\n", DYCL_VERSION, E->backend->name);
  dycl_cbuf_printf(b, " * Command:  ");
  dycl_cbuf_comment(b, E->opts->command_line ? E->opts->command_line : "(not recorded)");
  dycl_cbuf_printf(b, "\n * Model:    ");
  dycl_cbuf_comment(b, base_name(ir->path));
  dycl_cbuf_printf(b, " (producer: ");
  dycl_cbuf_comment(b, ir->producer && *ir->producer ? ir->producer : "unknown");
  dycl_cbuf_printf(b, ", ONNX IR version %" PRId64 ", opset %d)\n", ir->ir_version, ir->opset);
  int counts[5] = {0};
  count_steps(E->p->main, counts);
  int nodes = 0;
  for (int k = 0; k < E->p->n_subnets; k++) nodes += E->p->subnets[k]->n_nodes;
  dycl_cbuf_printf(b, " * Program:  %d sub-networks (%d nodes); host: %d If, %d Loop, %d Scan, %d SequenceMap\n",
                   E->p->n_subnets, nodes, counts[DYCL_STEP_IF], counts[DYCL_STEP_LOOP], counts[DYCL_STEP_SCAN],
                   counts[DYCL_STEP_SEQMAP]);
}

/* ---------------------------------------------------------- slot numbering */

static void mark(dycl_cemit_t* E, int id) {
  if (id >= 0) E->slot[id] = 0;
}

static void mark_block(dycl_cemit_t* E, const dycl_block_t* b) {
  for (int i = 0; i < b->graph->n_in; i++) mark(E, b->graph->in[i]);
  for (int i = 0; i < b->graph->n_out; i++) mark(E, b->graph->out[i]);
  for (int s = 0; s < b->n_steps; s++) {
    const dycl_step_t* st = &b->steps[s];
    if (st->kind == DYCL_STEP_CALL) {
      const dycl_subnet_t* sn = st->subnet;
      for (int i = 0; i < sn->n_in; i++) mark(E, sn->in[i]);
      for (int i = 0; i < sn->n_out; i++) mark(E, sn->out[i]);
      for (int i = 0; i < sn->n_const; i++) mark(E, sn->consts[i]);
      for (int k = 0; k < sn->n_nodes; k++) {
        const dycl_node_t* n = sn->nodes[k];
        for (int i = 0; i < n->n_in; i++) mark(E, n->in[i]);
        for (int j = 0; j < n->n_out; j++) mark(E, n->out[j]);
      }
    } else {
      const dycl_node_t* n = st->node;
      for (int i = 0; i < n->n_in; i++) mark(E, n->in[i]);
      for (int j = 0; j < n->n_out; j++) mark(E, n->out[j]);
      for (int i = 0; i < n->n_implicit; i++) mark(E, n->implicit[i]);
      mark_block(E, st->body[0]);
      if (st->kind == DYCL_STEP_IF) mark_block(E, st->body[1]);
    }
  }
}

/* Finds the ops the sub-networks use; refuses what a package cannot run. */
static dycl_status_t check_ops(dycl_cemit_t* E) {
  for (int k = 0; k < E->p->n_subnets; k++) {
    const dycl_subnet_t* sn = E->p->subnets[k];
    for (int i = 0; i < sn->n_nodes; i++) {
      const dycl_node_t* n = sn->nodes[i];
      if (n->op < 0 || n->op >= DYCL_OP_COUNT_) return dycl_node_error(n, DYCL_CODE_INTERNAL, "unknown op id %d", n->op);
      if (dycl_op_table[n->op].flags & DYCL_OPF_CONTROL)
        return dycl_node_error(n, DYCL_CODE_INTERNAL, "control-flow op inside a sub-network");
      for (int a = 0; a < n->n_attr; a++)
        if (n->attrs[a].type == DYCL_ATTR_GRAPH || n->attrs[a].type == DYCL_ATTR_GRAPHS)
          return dycl_node_error(n, DYCL_CODE_UNSUPPORTED, "graph attribute '%s' outside If/Loop/Scan/SequenceMap",
                                 n->attrs[a].name);
      E->op_used[n->op] = true;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------ weights */

static void put_u32(dycl_cbuf_t* b, uint32_t x) { dycl_cbuf_write(b, &x, 4); }
static void put_u64(dycl_cbuf_t* b, uint64_t x) { dycl_cbuf_write(b, &x, 8); }

/* The weights image (format in the package's runtime/dycl_rt.c). */
static dycl_status_t weights_image(dycl_cemit_t* E, dycl_cbuf_t* b) {
  uint16_t probe = 1;
  uint8_t lo;
  memcpy(&lo, &probe, 1);
  if (lo != 1) return dycl_error(DYCL_CODE_UNSUPPORTED, "dycl compile runs on little-endian hosts only");
  dycl_cbuf_write(b, "DYCLWTS1", 8);
  put_u32(b, 1);
  put_u32(b, (uint32_t)E->n_consts);
  for (int i = 0; i < E->n_consts; i++) {
    const dycl_value_t* v = E->ir->values[E->slot_value[E->consts[i]]]->constant;
    if (!v || v->kind != DYCL_VALUE_TENSOR)
      return dycl_error(DYCL_CODE_UNSUPPORTED, "constant '%s' is not a tensor", E->ir->values[E->slot_value[E->consts[i]]]->name);
    put_u32(b, (uint32_t)v->dtype);
    put_u32(b, (uint32_t)v->rank);
    for (int d = 0; d < v->rank; d++) put_u64(b, (uint64_t)v->dims[d]);
    if (v->dtype == DYCL_DTYPE_STRING) {
      uint64_t total = 0;
      char* const* s = v->data;
      for (int64_t k = 0; k < v->numel; k++) total += 4 + (s[k] ? strlen(s[k]) : 0);
      put_u64(b, total);
      for (int64_t k = 0; k < v->numel; k++) {
        uint32_t len = s[k] ? (uint32_t)strlen(s[k]) : 0;
        put_u32(b, len);
        dycl_cbuf_write(b, s[k] ? s[k] : "", len);
      }
    } else {
      put_u64(b, v->nbytes);
      dycl_cbuf_write(b, v->data, v->nbytes);
    }
  }
  if (b->failed) return dycl_error_nomem();
  E->weight_bytes = b->len;
  return NULL;
}

static dycl_status_t emit_weights(dycl_cemit_t* E) {
  dycl_cbuf_t img = DYCL_CBUF(E->alloc);
  dycl_status_t s = weights_image(E, &img);
  if (s) {
    dycl_cbuf_free(&img);
    return s;
  }
  E->embed_weights = img.len <= DYCL_EMBED_WEIGHTS_MAX;
  char path[512];
  if (!E->embed_weights) {
    snprintf(path, sizeof path, "%s.weights", E->name);
    s = dycl_cemit_write(E, path, img.data, img.len);
    dycl_cbuf_free(&img);
    return s;
  }
  dycl_cbuf_t c = DYCL_CBUF(E->alloc);
  dycl_cbuf_printf(&c, "/* %s_weights.c — the weights of %s, embedded (%zu bytes; dycl embeds up to %d bytes and\n"
                   " * writes larger weights to %s.weights). The image format is described in runtime/dycl_rt.c. */\n",
                   E->name, E->name, img.len, DYCL_EMBED_WEIGHTS_MAX, E->name);
  dycl_cbuf_printf(&c, "#include <stddef.h>\n#include <stdint.h>\n\n");
  dycl_cbuf_printf(&c, "const size_t %s_weights_size = %zu;\n", E->name, img.len);
  dycl_cbuf_printf(&c, "const uint8_t %s_weights[] = {", E->name);
  for (size_t i = 0; i < img.len; i++) dycl_cbuf_printf(&c, "%s%u,", i % 24 ? "" : "\n ", (unsigned)(uint8_t)img.data[i]);
  dycl_cbuf_printf(&c, "\n};\n");
  snprintf(path, sizeof path, "%s_weights.c", E->name);
  s = dycl_cemit_write_buf(E, path, &c);
  dycl_cbuf_free(&c);
  dycl_cbuf_free(&img);
  return s;
}

/* ------------------------------------------------------------------- NAME.h */

static void type_text(const dycl_type_t* t, char* buf, size_t size) { dycl_type_str(t, buf, size); }

static dycl_status_t emit_header(dycl_cemit_t* E) {
  const dycl_ir_t* ir = E->ir;
  const dycl_graph_t* g = ir->main;
  dycl_cbuf_t prov = DYCL_CBUF(E->alloc), ins = DYCL_CBUF(E->alloc), outs = DYCL_CBUF(E->alloc),
              b = DYCL_CBUF(E->alloc);
  dycl_cemit_provenance(E, &prov);
  for (int i = 0; i < g->n_in; i++) {
    const dycl_ir_value_t* v = ir->values[g->in[i]];
    char t[256];
    type_text(v->declared.known ? &v->declared : &v->type, t, sizeof t);
    dycl_cbuf_printf(&ins, " *   %d  ", i);
    dycl_cbuf_comment(&ins, v->name);
    dycl_cbuf_printf(&ins, "  ");
    dycl_cbuf_comment(&ins, t);
    dycl_cbuf_printf(&ins, "\n");
  }
  if (!g->n_in) dycl_cbuf_printf(&ins, " *   (none)\n");
  for (int j = 0; j < g->n_out; j++) {
    const dycl_ir_value_t* v = ir->values[g->out[j]];
    char t[256];
    type_text(&v->type, t, sizeof t);
    dycl_cbuf_printf(&outs, " *   %d  ", j);
    dycl_cbuf_comment(&outs, E->p->output_names[j]);
    dycl_cbuf_printf(&outs, "  ");
    dycl_cbuf_comment(&outs, t);
    dycl_cbuf_printf(&outs, "\n");
  }
  if (!g->n_out) dycl_cbuf_printf(&outs, " *   (none)\n");
  /* a usage example with this model's inputs */
  dycl_cbuf_t use = DYCL_CBUF(E->alloc);
  const char* N = E->name;
  dycl_cbuf_printf(&use, " *   #include \"%s.h\"\n *   char err[512];\n *   %s_t* m;\n", N, N);
  if (E->embed_weights)
    dycl_cbuf_printf(&use, " *   if (%s_create(NULL, &m, err, sizeof err) != %s_OK) { // the weights are embedded\n", N, N);
  else
    dycl_cbuf_printf(&use, " *   if (%s_create(\"path/to/%s.weights\", &m, err, sizeof err) != %s_OK) {\n", N, N, N);
  dycl_cbuf_printf(&use, " *     puts(err);\n *     return 1;\n *   }\n");
  bool all_tensors = true;
  for (int i = 0; i < g->n_in; i++) {
    const dycl_type_t* t = &ir->values[g->in[i]]->declared;
    if (t->known && t->kind != DYCL_VALUE_TENSOR) all_tensors = false;
  }
  if (all_tensors) {
    dycl_cbuf_printf(&use, " *   %s_tensor_t in[%s_NUM_INPUTS] = {", N, N);
    for (int i = 0; i < g->n_in; i++) {
      const dycl_ir_value_t* v = ir->values[g->in[i]];
      const dycl_type_t* t = &v->declared;
      const char* dt = t->known && t->dtype ? dycl_cemit_dtype_macro(t->dtype) + 11 : "FLOAT32";
      dycl_cbuf_printf(&use, "\n *       {%s_%s, %d, {", N, dt, t->known && t->rank >= 0 ? t->rank : 1);
      for (int d = 0; t->known && d < t->rank; d++) {
        if (t->dims[d].v >= 0) dycl_cbuf_printf(&use, "%s%lld", d ? ", " : "", (long long)t->dims[d].v);
        else dycl_cbuf_printf(&use, "%sn%d", d ? ", " : "", d);
      }
      dycl_cbuf_printf(&use, "%s}, data_%d}%s // ", t->known && t->rank ? "" : "0", i, i + 1 < g->n_in ? "," : "");
      dycl_cbuf_comment(&use, v->name);
    }
    dycl_cbuf_printf(&use, "\n *   };\n *   if (%s_run(m, in, %s_NUM_INPUTS) != %s_OK) puts(%s_error(m));\n", N, N, N, N);
    dycl_cbuf_printf(&use, " *   %s_tensor_t y;\n *   %s_output(m, 0, &y); // y.dims, y.data: valid until the next run\n", N, N);
  } else {
    dycl_cbuf_printf(&use, " *   // sequence or optional inputs: build dycl values and call %s_run_values\n", N);
    dycl_cbuf_printf(&use, " *   dycl_value_t* in[%s_NUM_INPUTS] = {...}, *out[%s_NUM_OUTPUTS];\n", N, N);
    dycl_cbuf_printf(&use, " *   if (%s_run_values(m, in, out) != %s_OK) puts(%s_error(m));\n", N, N, N);
  }
  dycl_cbuf_printf(&use, " *   %s_destroy(m);\n", N);
  char uname[256], nin[16], nout[16];
  size_t i = 0;
  for (; E->name[i] && i < sizeof uname - 1; i++) uname[i] = (char)toupper((unsigned char)E->name[i]);
  uname[i] = 0;
  snprintf(nin, sizeof nin, "%d", g->n_in);
  snprintf(nout, sizeof nout, "%d", g->n_out);
  const char* backend_doc =
      E->exec ? "The sub-networks run on dycl's cpu backend (oneDNN), with its threads: a run may use\n"
                " * several cores, and instances on different threads each have their own."
              : "The sub-networks run on dycl's reference kernels, on the calling thread.";
  const char* threads_doc = E->exec ? "the oneDNN threads\n * of its primitives (0: OpenMP's default, all cores or OMP_NUM_THREADS)."
                                    : "ignored by this ref\n * package, which runs on the calling thread.";
  const char* keys[] = {"NAME",       "UNAME",       "PROVENANCE", "INPUTS", "OUTPUTS",     "VERSION",    "NUM_INPUTS",
                        "NUM_OUTPUTS", "EMBEDDED", "USAGE",      "BACKEND", "BACKEND_DOC", "THREADS_DOC", "LDLIBS"};
  const char* vals[] = {E->name, uname, prov.data ? prov.data : "", ins.data ? ins.data : "", outs.data ? outs.data : "",
                        DYCL_VERSION, nin, nout, E->embed_weights ? "1" : "0", use.data ? use.data : "",
                        E->backend->name, backend_doc, threads_doc, E->backend->ldlibs};
  const char* tpl = dycl_embedded_text("src/emit/pkg/model.h.in");
  dycl_status_t s = NULL;
  if (!tpl) s = dycl_error(DYCL_CODE_INTERNAL, "the package templates are missing from this dycl build");
  if (!s) {
    dycl_cbuf_template(&b, tpl, keys, vals, (int)(sizeof keys / sizeof keys[0]));
    if (prov.failed || ins.failed || outs.failed || use.failed) b.failed = true;
    char path[512];
    snprintf(path, sizeof path, "%s.h", E->name);
    s = dycl_cemit_write_buf(E, path, &b);
  }
  dycl_cbuf_free(&prov);
  dycl_cbuf_free(&ins);
  dycl_cbuf_free(&outs);
  dycl_cbuf_free(&use);
  dycl_cbuf_free(&b);
  return s;
}

/* --------------------------------------------------------------- the entry */

/* The backends a package can be compiled for. cpu: the sources of src/backend/cpu with oneDNN
 * (libdnnl-dev), whose OpenMP runtime (libgomp) its glue calls too. */
static const dycl_cemit_backend_t BACKENDS[] = {
    {"ref", NULL, NULL, "", "-lm"},
    {"cpu", "backend/cpu/cpu.h", "dycl_backend_cpu", "-DDYCL_HAVE_ONEDNN", "-ldnnl -lgomp -lpthread -lm"},
};

dycl_status_t dycl_cemit_find_backend(const char* name, const dycl_cemit_backend_t** out) {
  bool have_cpu = dycl_backend_cpu() != NULL;
  if (!name) name = have_cpu ? "cpu" : "ref";
  *out = NULL;
  for (size_t i = 0; i < sizeof BACKENDS / sizeof BACKENDS[0]; i++)
    if (strcmp(BACKENDS[i].name, name) == 0) *out = &BACKENDS[i];
  if (!*out) return dycl_error(DYCL_CODE_UNSUPPORTED, "unknown backend '%s' (dycl compile knows ref and cpu)", name);
  if (strcmp(name, "cpu") == 0 && !have_cpu)
    return dycl_error(DYCL_CODE_UNSUPPORTED, "backend 'cpu': this dycl was built without oneDNN (libdnnl-dev), use ref");
  return NULL;
}

static bool is_identifier(const char* s) {
  if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
  for (const char* p = s; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_')) return false;
  return true;
}

static dycl_status_t compile(dycl_cemit_t* E) {
  const dycl_ir_t* ir = E->ir;
  const dycl_graph_t* g = ir->main;
  /* the interface: tensors, sequences and optionals pass through the value API */
  for (int i = 0; i < g->n_in; i++) {
    const dycl_type_t* t = &ir->values[g->in[i]]->declared;
    if (t->known && t->kind == DYCL_VALUE_OPTIONAL && t->elem_kind == DYCL_VALUE_OPTIONAL)
      return dycl_error(DYCL_CODE_UNSUPPORTED, "input '%s': nested optionals are not supported", ir->values[g->in[i]]->name);
  }
  DYCL_RETURN_IF_ERROR(check_ops(E));
  /* slots: every value the program touches, in IR order */
  for (int64_t i = 0; i < ir->n_values; i++) E->slot[i] = -1;
  for (int i = 0; i < g->n_in; i++) mark(E, g->in[i]);
  mark_block(E, E->p->main);
  for (int64_t i = 0; i < ir->n_values; i++) {
    if (E->slot[i] < 0) continue;
    E->slot[i] = E->n_slots;
    E->slot_value[E->n_slots++] = (int)i;
    if (ir->values[i]->def == DYCL_DEF_CONST) E->consts[E->n_consts++] = E->slot[i];
  }
  DYCL_RETURN_IF_ERROR(mkdirs(E->dir));
  DYCL_RETURN_IF_ERROR(emit_weights(E));
  DYCL_RETURN_IF_ERROR(emit_header(E));
  DYCL_RETURN_IF_ERROR(dycl_cemit_subnets(E));
  DYCL_RETURN_IF_ERROR(dycl_cemit_host(E));
  DYCL_RETURN_IF_ERROR(dycl_cemit_runtime(E));
  return NULL;
}

/* The default package name: the model file's name without .onnx, as a C identifier. */
static void default_name(const char* path, char* out, size_t size) {
  const char* b = base_name(path);
  size_t n = strlen(b);
  if (n > 5 && strcmp(b + n - 5, ".onnx") == 0) n -= 5;
  size_t k = 0;
  if (n && isdigit((unsigned char)b[0]) && k < size - 1) out[k++] = 'm';
  for (size_t i = 0; i < n && k < size - 1; i++) out[k++] = isalnum((unsigned char)b[i]) ? b[i] : '_';
  if (!k) out[k++] = 'm';
  out[k] = 0;
}

dycl_status_t dycl_model_compile(const dycl_model_t* model, const dycl_compile_options_t* options, const char* dir) {
  char summary[1024];
  dycl_status_t s = dycl_cemit_compile(model, options, dir, summary, sizeof summary);
  if (!s && !(options && options->quiet)) fprintf(stderr, "dycl compile: %s\n", summary);
  return s;
}

dycl_status_t dycl_cemit_compile(const dycl_model_t* model, const dycl_compile_options_t* options, const char* dir,
                                 char* summary, size_t summary_size) {
  if (summary && summary_size) summary[0] = 0;
  dycl_compile_options_t opts;
  memset(&opts, 0, sizeof opts);
  if (options) opts = *options;
  const dycl_cemit_backend_t* backend;
  DYCL_RETURN_IF_ERROR(dycl_cemit_find_backend(opts.backend, &backend));
  if (!dir || !*dir) return dycl_error(DYCL_CODE_INVALID_INPUT, "no package folder given");
  char name[128];
  if (opts.name) {
    if (!is_identifier(opts.name) || strlen(opts.name) >= 64)
      return dycl_error(DYCL_CODE_INVALID_INPUT, "package name '%s' is not a C identifier (letters, digits, _; at most 63)",
                        opts.name);
    snprintf(name, sizeof name, "%s", opts.name);
  } else {
    default_name(model->ir->path, name, 64);
  }
  if (strncmp(name, "dycl_", 5) == 0 || strcmp(name, "dycl") == 0)
    return dycl_error(DYCL_CODE_INVALID_INPUT, "package name '%s' would clash with the dycl runtime's symbols", name);
  const dycl_ir_t* ir = model->ir;
  dycl_cemit_t E;
  memset(&E, 0, sizeof E);
  E.model = model;
  E.alloc = model->alloc;
  E.p = model->program;
  E.ir = ir;
  E.opts = &opts;
  E.name = name;
  E.dir = dir;
  E.backend = backend;
  E.exec = backend->getter != NULL;
  size_t nv = (size_t)ir->n_values + 1;
  E.slot = dycl_calloc(E.alloc, nv, sizeof *E.slot);
  E.slot_value = dycl_calloc(E.alloc, nv, sizeof *E.slot_value);
  E.consts = dycl_calloc(E.alloc, nv, sizeof *E.consts);
  E.op_used = dycl_calloc(E.alloc, DYCL_OP_COUNT_ + 1, sizeof *E.op_used);
  dycl_status_t s = (!E.slot || !E.slot_value || !E.consts || !E.op_used) ? dycl_error_nomem() : compile(&E);
  if (!s && summary && summary_size)
    snprintf(summary, summary_size, "%s/: backend %s; %d files; %d value slots; weights %" PRIu64 " bytes, %s; %d runtime sources: %s",
             dir, backend->name, E.n_files, E.n_slots, E.weight_bytes, E.embed_weights ? "embedded" : "in a file", E.n_runtime_units,
             E.runtime_list);
  dycl_free(E.alloc, E.slot);
  dycl_free(E.alloc, E.slot_value);
  dycl_free(E.alloc, E.consts);
  dycl_free(E.alloc, E.op_used);
  return s;
}
