/* Fuzz harness: load + run. A fixed set of small models (fuzz/gen_models.py writes them: the demo's
 * early-exit classifier, If/Loop/Scan, sequences in a loop, shapes/indices/counts taken from the
 * inputs, integer arithmetic, nested control flow, convolution) is loaded once; each input picks a
 * model and supplies its input values, which are then run.
 *
 * Input layout (bytes past the end read as 0):
 *   byte 0      model index (modulo the number of models)
 *   byte 1      flags: bits 0-1 backend (0, 1: ref; 2: cpu; 3: both, which must agree on success
 *               and, when both succeed, on the kinds, types and shapes of the outputs);
 *               bit 2: ranks from the input instead of the model; bit 3: element types from the input
 *   then, for each graph input in order:
 *     sequence: 1 byte length (% 4), then that many tensors; optional: 1 byte (odd: holds a tensor)
 *     tensor:   [1 byte element type, when bit 3]  [1 byte rank % 5, when bit 2 or rank unknown]
 *               1 byte per dim: below 0x80 and the model's dim known: that dim; else byte % 9
 *   and then the element data of every tensor in the same order, raw little-endian bytes,
 *   zeros once the input runs out.
 *
 * The models' folder is compiled in (DYCL_FUZZ_MODELS_DIR, the build's fuzz-models/) and can be
 * overridden with the environment variable DYCL_FUZZ_MODELS. */
#include <stdlib.h>
#include <string.h>

#include "base/value.h"
#include "exec/model.h"
#include "fuzz_common.h"

#ifndef DYCL_FUZZ_MODELS_DIR
#define DYCL_FUZZ_MODELS_DIR "fuzz-models"
#endif

#define MAX_MODELS 32
#define MAX_VALUES 64
#define MAX_NUMEL ((int64_t)1 << 16)

/* Loaded once per process (libFuzzer's entry points carry no context). */
static dycl_model_t* models[MAX_MODELS][2]; /* [k][0]: ref, [k][1]: cpu (NULL when not built) */
static int n_models;

static void destroy_models(void) {
  for (int k = 0; k < n_models; k++) {
    dycl_model_destroy(models[k][0]);
    dycl_model_destroy(models[k][1]);
  }
  n_models = 0;
}

static dycl_model_t* load(const char* path, const char* backend) {
  dycl_options_t o;
  dycl_options_init(&o);
  o.backend = backend;
  o.threads = 1;
  o.allocator = fuzz_allocator();
  o.max_tensor_bytes = FUZZ_MAX_TENSOR_BYTES;
  o.max_iterations = FUZZ_MAX_ITERATIONS;
  dycl_model_t* m = NULL;
  dycl_status_t s = dycl_model_load(path, &o, &m);
  if (s) {
    fprintf(stderr, "fuzz_run: cannot load %s with %s: %s\n", path, backend, dycl_status_message(s));
    dycl_status_free(s);
    return NULL;
  }
  return m;
}

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  const char* dir = getenv("DYCL_FUZZ_MODELS");
  if (!dir || !*dir) dir = DYCL_FUZZ_MODELS_DIR;
  for (n_models = 0; n_models < MAX_MODELS; n_models++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/run_%d.onnx", dir, n_models);
    FILE* f = fopen(path, "rb");
    if (!f) break;
    fclose(f);
    models[n_models][0] = load(path, "ref");
    if (!models[n_models][0]) exit(1);
#ifdef DYCL_HAVE_ONEDNN
    models[n_models][1] = load(path, "cpu");
    if (!models[n_models][1]) exit(1);
#endif
  }
  if (n_models == 0) {
    fprintf(stderr, "fuzz_run: no models in %s (run fuzz/gen_models.py DIR, or set DYCL_FUZZ_MODELS)\n", dir);
    exit(1);
  }
  atexit(destroy_models);
  return 0;
}

static const dycl_dtype_t dtypes[] = {DYCL_DTYPE_FLOAT32, DYCL_DTYPE_UINT8,   DYCL_DTYPE_INT8,    DYCL_DTYPE_UINT16,
                                      DYCL_DTYPE_INT16,   DYCL_DTYPE_INT32,   DYCL_DTYPE_INT64,   DYCL_DTYPE_BOOL,
                                      DYCL_DTYPE_FLOAT16, DYCL_DTYPE_FLOAT64, DYCL_DTYPE_UINT32,  DYCL_DTYPE_UINT64,
                                      DYCL_DTYPE_BFLOAT16};

typedef struct build {
  fuzz_reader_t head;      /* shapes and types */
  dycl_value_t* fill[256]; /* tensors whose data comes after all the shapes */
  int n_fill;
  int flags;
} build_t;

/* A tensor of the declared type `t` (element type and shape as the input says); NULL: skip. */
static dycl_value_t* make_tensor(build_t* b, const dycl_type_t* t) {
  dycl_dtype_t dt = t->known && t->dtype != DYCL_DTYPE_UNDEFINED && t->dtype != DYCL_DTYPE_STRING ? t->dtype
                                                                                               : DYCL_DTYPE_FLOAT32;
  if (b->flags & 8) dt = dtypes[fuzz_u8(&b->head) % (sizeof dtypes / sizeof dtypes[0])];
  int rank = t->known ? t->rank : -1;
  if ((b->flags & 4) || rank < 0) rank = fuzz_u8(&b->head) % 5;
  int64_t dims[DYCL_MAX_RANK];
  int64_t numel = 1;
  for (int i = 0; i < rank; i++) {
    uint8_t c = fuzz_u8(&b->head);
    bool declared = t->known && i < t->rank && dycl_dim_known(t->dims[i]);
    dims[i] = declared && c < 0x80 ? t->dims[i].v : c % 9;
    if (dims[i] > MAX_NUMEL) return NULL;
    numel *= dims[i];
    if (numel > MAX_NUMEL) return NULL;
  }
  if (b->n_fill == (int)(sizeof b->fill / sizeof b->fill[0])) return NULL;
  dycl_value_t* v = NULL;
  dycl_status_t s = dycl_tensor_new_zero(fuzz_allocator(), NULL, dt, rank, dims, &v);
  if (s) fuzz_fail("cannot make a %lld-element input: %s", (long long)numel, dycl_status_message(s));
  b->fill[b->n_fill++] = v;
  return dycl_value_retain(v);
}

static dycl_value_t* make_input(build_t* b, const dycl_type_t* t) {
  dycl_value_kind_t kind = t->known ? t->kind : DYCL_VALUE_TENSOR;
  dycl_value_t* v = NULL;
  dycl_status_t s = NULL;
  if (kind == DYCL_VALUE_SEQUENCE) {
    int len = fuzz_u8(&b->head) % 4;
    s = dycl_sequence_new(fuzz_allocator(), t->dtype, len, &v);
    if (s) fuzz_fail("sequence: %s", dycl_status_message(s));
    for (int i = 0; i < len; i++) {
      v->items[i] = make_tensor(b, t);
      if (!v->items[i]) {
        dycl_value_release(v);
        return NULL;
      }
      if (t->dtype == DYCL_DTYPE_UNDEFINED) v->dtype = v->items[i]->dtype;
    }
  } else if (kind == DYCL_VALUE_OPTIONAL) {
    dycl_value_t* e = NULL;
    if (fuzz_u8(&b->head) & 1) {
      e = make_tensor(b, t);
      if (!e) return NULL;
    }
    s = dycl_optional_new(fuzz_allocator(), DYCL_VALUE_TENSOR, e ? e->dtype : t->dtype, e, &v);
    dycl_value_release(e);
    if (s) fuzz_fail("optional: %s", dycl_status_message(s));
  } else {
    v = make_tensor(b, t);
  }
  return v;
}

static void release_all(dycl_value_t** v, int n) {
  for (int i = 0; i < n; i++) dycl_value_release(v[i]);
}

static void same_shape(const dycl_value_t* a, const dycl_value_t* b, int out) {
  if (a->kind != b->kind) fuzz_fail("ref and cpu disagree on the kind of output %d", out);
  if (a->kind == DYCL_VALUE_TENSOR) {
    if (a->dtype != b->dtype || a->rank != b->rank) fuzz_fail("ref and cpu disagree on output %d's type", out);
    for (int i = 0; i < a->rank; i++)
      if (a->dims[i] != b->dims[i]) fuzz_fail("ref and cpu disagree on output %d's shape", out);
  } else if (a->kind == DYCL_VALUE_SEQUENCE) {
    if (a->len != b->len) fuzz_fail("ref and cpu disagree on output %d's length", out);
    for (int i = 0; i < a->len; i++) same_shape(a->items[i], b->items[i], out);
  } else if (!a->elem != !b->elem) {
    fuzz_fail("ref and cpu disagree on whether optional output %d holds a value", out);
  } else if (a->elem) {
    same_shape(a->elem, b->elem, out);
  }
}

/* Runs `m`; returns whether it succeeded, with the outputs in outs[] (released by the caller). */
static bool run(const dycl_model_t* m, dycl_value_t* const* ins, int n_in, dycl_value_t** outs, int n_out) {
  dycl_session_t* sess = NULL;
  dycl_status_t s = dycl_session_create(m, &sess);
  if (s) {
    fuzz_check_status(s);
    return false;
  }
  memset(outs, 0, (size_t)n_out * sizeof *outs);
  s = dycl_session_run(sess, ins, n_in, outs, n_out);
  dycl_run_stats_t st;
  dycl_session_stats(sess, &st);
  if (st.subnet_calls < 0 || st.branches_taken < 0 || st.loop_iterations < 0) fuzz_fail("negative run statistics");
  dycl_session_destroy(sess);
  if (s) {
    fuzz_check_status(s);
    for (int i = 0; i < n_out; i++)
      if (outs[i]) fuzz_fail("a failed run left output %d set", i);
    return false;
  }
  for (int i = 0; i < n_out; i++) {
    if (!outs[i]) fuzz_fail("a run succeeded without output %d", i);
    dycl_value_print(outs[i], fuzz_null_stream(), 4096);
  }
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  build_t b;
  memset(&b, 0, sizeof b);
  b.head.p = data;
  b.head.n = size;
  int k = fuzz_u8(&b.head) % n_models;
  b.flags = fuzz_u8(&b.head);
  int backend = b.flags & 3;
  if (backend >= 2 && !models[k][1]) backend = 0; /* no cpu backend in this build */
  const dycl_model_t* m = models[k][backend == 2 ? 1 : 0];

  int n_in = dycl_model_num_inputs(m), n_out = dycl_model_num_outputs(m);
  if (n_in > MAX_VALUES || n_out > MAX_VALUES) fuzz_fail("model %d has too many inputs or outputs", k);
  dycl_value_t* ins[MAX_VALUES] = {0};
  for (int i = 0; i < n_in; i++) {
    ins[i] = make_input(&b, &m->ir->values[m->ir->main->in[i]]->declared);
    if (!ins[i]) {
      release_all(ins, i);
      release_all(b.fill, b.n_fill);
      return 0;
    }
  }
  /* element data, after all the shapes */
  for (int j = 0; j < b.n_fill; j++) {
    dycl_value_t* t = b.fill[j];
    uint8_t* p = t->data;
    size_t n = t->nbytes < b.head.n ? t->nbytes : b.head.n;
    if (n) memcpy(p, b.head.p, n);
    b.head.p += n;
    b.head.n -= n;
    if (t->dtype == DYCL_DTYPE_BOOL)
      for (size_t e = 0; e < t->nbytes; e++) p[e] &= 1;
  }
  release_all(b.fill, b.n_fill);

  dycl_value_t* outs[MAX_VALUES];
  bool ok = run(m, ins, n_in, outs, n_out);
  if (backend == 3) {
    dycl_value_t* outs_cpu[MAX_VALUES];
    bool ok_cpu = run(models[k][1], ins, n_in, outs_cpu, n_out);
    if (ok != ok_cpu) fuzz_fail("model %d: ref %s but cpu %s", k, ok ? "succeeded" : "failed", ok_cpu ? "succeeded" : "failed");
    if (ok)
      for (int i = 0; i < n_out; i++) same_shape(outs[i], outs_cpu[i], i);
    if (ok_cpu) release_all(outs_cpu, n_out);
  }
  if (ok) release_all(outs, n_out);
  release_all(ins, n_in);
  return 0;
}
