/* Loading a model with its large initializers read straight from the file (src/onnx/strip.c):
 * the values are those protobuf would read, including where protobuf's merging rules decide
 * (a repeated raw_data field, two graph fields), and damaged files give the loader's errors.
 * The models are written here in the protobuf wire format by hand, so that the odd encodings
 * can be made. */
#include <stdint.h>
#include <unistd.h>

#include "dycl/dycl.h"
#include "onnx/onnx_io.h"
#include "test_util.h"

#define N 1200 /* floats in the weight: 4800 bytes, above the 4096 from which payloads stay in the file */

typedef struct buf {
  uint8_t* p;
  size_t n, cap;
} buf_t;

static void put(buf_t* b, const void* src, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  if (n) memcpy(b->p + b->n, src, n);
  b->n += n;
}

static void varint(buf_t* b, uint64_t v) {
  do {
    uint8_t c = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    put(b, &c, 1);
    v >>= 7;
  } while (v);
}

static void f_varint(buf_t* b, int field, uint64_t v) {
  varint(b, (uint64_t)field << 3);
  varint(b, v);
}

static void f_bytes(buf_t* b, int field, const void* data, size_t n) {
  varint(b, ((uint64_t)field << 3) | 2);
  varint(b, n);
  put(b, data, n);
}

static void f_str(buf_t* b, int field, const char* s) { f_bytes(b, field, s, strlen(s)); }

static void f_msg(buf_t* b, int field, buf_t* m) {
  f_bytes(b, field, m->p, m->n);
  free(m->p);
  *m = (buf_t){0};
}

/* A float tensor value info [N] named `name`. */
static void value_info(buf_t* g, int field, const char* name) {
  buf_t dim = {0}, shape = {0}, tensor = {0}, type = {0}, vi = {0};
  f_varint(&dim, 1, N);
  f_msg(&shape, 1, &dim);
  f_varint(&tensor, 1, 1); /* FLOAT */
  f_msg(&tensor, 2, &shape);
  f_msg(&type, 1, &tensor);
  f_str(&vi, 1, name);
  f_msg(&vi, 2, &type);
  f_msg(g, field, &vi);
}

/* The initializer w: dims [dims], FLOAT, then each raw_data given (protobuf keeps the last). */
static void initializer(buf_t* g, int64_t dims, const float* const* raws, const size_t* raw_bytes, int n_raws) {
  buf_t t = {0};
  f_varint(&t, 1, (uint64_t)dims);
  f_varint(&t, 2, 1);
  f_str(&t, 8, "w");
  for (int i = 0; i < n_raws; i++) f_bytes(&t, 9, raws[i], raw_bytes[i]);
  f_msg(g, 5, &t);
}

/* Graph fields: y = x + w (node, name, input, output), without the initializer. */
static void graph_body(buf_t* g) {
  buf_t node = {0};
  f_str(&node, 1, "x");
  f_str(&node, 1, "w");
  f_str(&node, 2, "y");
  f_str(&node, 4, "Add");
  f_msg(g, 1, &node);
  f_str(g, 2, "g");
  value_info(g, 11, "x");
  value_info(g, 12, "y");
}

static void model_head(buf_t* m) {
  f_varint(m, 1, 8); /* ir_version */
  buf_t op = {0};
  f_str(&op, 1, "");
  f_varint(&op, 2, 13);
  f_msg(m, 8, &op);
}

static const char* write_model(const buf_t* m, const char* name) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(m->p, 1, m->n, f) != m->n) abort();
  fclose(f);
  return path;
}

/* Loads path with the ref backend and runs it on x = 1: y must be want + 1. */
static void check_runs(const char* path, const float* want) {
  dycl_options_t o;
  dycl_options_init(&o);
  o.backend = "ref";
  dycl_model_t* m = NULL;
  CHECK_OK(dycl_model_load(path, &o, &m));
  if (!m) return;
  static float ones[N];
  for (int i = 0; i < N; i++) ones[i] = 1.0f;
  int64_t dims[1] = {N};
  dycl_value_t *x = NULL, *y = NULL;
  CHECK_OK(dycl_value_create_tensor(NULL, DYCL_DTYPE_FLOAT32, 1, dims, ones, &x));
  dycl_session_t* S = NULL;
  CHECK_OK(dycl_session_create(m, &S));
  if (S) CHECK_OK(dycl_session_run(S, &x, 1, &y, 1));
  dycl_session_destroy(S);
  if (y) {
    const float* yd = dycl_value_data(y);
    int bad = 0;
    for (int i = 0; i < N; i++) bad += yd[i] != want[i] + 1.0f;
    CHECK(bad == 0);
  }
  dycl_value_release(x);
  dycl_value_release(y);
  dycl_model_destroy(m);
}

static void check_fails(const char* path, dycl_code_t code, const char* needle) {
  dycl_options_t o;
  dycl_options_init(&o);
  o.backend = "ref";
  dycl_model_t* m = NULL;
  CHECK_ERR(dycl_model_load(path, &o, &m), code, needle);
  CHECK(m == NULL);
  dycl_model_destroy(m);
}

int main(void) {
  static float a[N], b[N];
  for (int i = 0; i < N; i++) {
    a[i] = (float)i * 0.5f;
    b[i] = -(float)i;
  }
  const float* ra[1] = {a};
  size_t rbytes[2] = {sizeof a, sizeof b};

  /* the plain case: the payload is left in the file, the values are the same */
  buf_t g = {0}, m = {0};
  graph_body(&g);
  initializer(&g, N, ra, rbytes, 1);
  model_head(&m);
  f_msg(&m, 7, &g);
  const char* path = write_model(&m, "dycl_strip_plain.onnx");
  dycl_onnx_stripped_t s;
  CHECK_OK(dycl_onnx_read_stripped(NULL, path, (size_t)1 << 31, &s));
  CHECK(s.fd >= 0 && s.n_payloads == 1 && s.payloads && s.payloads[0].len == sizeof a);
  CHECK(s.size + sizeof a - 2 <= m.n); /* the payload's bytes are not in the copy */
  if (s.payloads && s.payloads[0].len == sizeof a) CHECK(!memcmp(m.p + s.payloads[0].offset, a, sizeof a));
  dycl_onnx_stripped_free(NULL, &s);
  check_runs(path, a);
  unlink(path);
  free(m.p);

  /* raw_data given twice: protobuf keeps the second; the file is read whole */
  const float* rab[2] = {a, b};
  g = (buf_t){0};
  m = (buf_t){0};
  graph_body(&g);
  initializer(&g, N, rab, rbytes, 2);
  model_head(&m);
  f_msg(&m, 7, &g);
  path = write_model(&m, "dycl_strip_tworaw.onnx");
  CHECK_OK(dycl_onnx_read_stripped(NULL, path, (size_t)1 << 31, &s));
  CHECK(s.fd < 0 && s.size == m.n);
  dycl_onnx_stripped_free(NULL, &s);
  check_runs(path, b);
  unlink(path);
  free(m.p);

  /* two graph fields: protobuf merges them (the initializer comes in the second) */
  buf_t g1 = {0}, g2 = {0};
  m = (buf_t){0};
  graph_body(&g1);
  initializer(&g2, N, ra, rbytes, 1);
  model_head(&m);
  f_msg(&m, 7, &g1);
  f_msg(&m, 7, &g2);
  path = write_model(&m, "dycl_strip_twographs.onnx");
  CHECK_OK(dycl_onnx_read_stripped(NULL, path, (size_t)1 << 31, &s));
  CHECK(s.fd < 0 && s.size == m.n);
  dycl_onnx_stripped_free(NULL, &s);
  check_runs(path, a);
  unlink(path);
  free(m.p);

  /* a payload that does not match the dims: the same error as when it is read in memory */
  g = (buf_t){0};
  m = (buf_t){0};
  graph_body(&g);
  initializer(&g, N - 200, ra, rbytes, 1);
  model_head(&m);
  f_msg(&m, 7, &g);
  path = write_model(&m, "dycl_strip_mismatch.onnx");
  check_fails(path, DYCL_CODE_INVALID_MODEL, "raw_data holds 4800 bytes but its dims need 1000 values");
  /* cut inside the payload: not a model (protobuf's verdict on the whole file) */
  m.n -= 100;
  path = write_model(&m, "dycl_strip_cut.onnx");
  check_fails(path, DYCL_CODE_INVALID_MODEL, "not a valid ONNX model");
  unlink(path);
  free(m.p);
  snprintf((char*)path, 256, "%s/dycl_strip_mismatch.onnx", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  unlink(path);
  return test_finish("test_strip");
}
