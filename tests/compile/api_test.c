/* The typed API of a generated package, on the ONNX node test test_loop11 compiled with
 * `dycl compile ... --name api` (run_compile_tests.py builds it against PKG/libapi.a):
 *   inputs  trip_count int64[], cond bool[], y float32[1]
 *   outputs res_y float32[1], res_scan float32[N,1]   (y + x[0] + ... + x[i], x = 1..5)
 * Checks results, metadata, error codes and messages (never an abort), the iteration limit, a
 * zero-iteration run, two instances running at once on two threads, the value API, and the thread
 * count of api_create_threads. The package's backend (ref or cpu) is the first argument. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

static int failures = 0;
#define CHECK(cond)                                                \
  do {                                                             \
    if (!(cond)) {                                                 \
      fprintf(stderr, "api_test: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                  \
    }                                                              \
  } while (0)

static int run(api_t* m, int64_t trip, bool cond, float y) {
  api_tensor_t in[3] = {{api_INT64, 0, {0}, &trip}, {api_BOOL, 0, {0}, &cond}, {api_FLOAT32, 1, {1}, &y}};
  return api_run(m, in, 3);
}

static void* worker(void* arg) {
  api_t* m = arg;
  for (int it = 0; it < 200; it++) {
    if (run(m, 5, true, (float)it) != 0) return (void*)1;
    api_tensor_t out;
    if (api_output(m, 0, &out) != 0 || ((const float*)out.data)[0] != (float)it + 15) return (void*)1;
  }
  return NULL;
}

int main(int argc, char** argv) {
  char err[256];
  api_t* m = NULL;
  CHECK(argc == 2 && strcmp(api_BACKEND, argv[1]) == 0);
  CHECK(api_create(NULL, &m, err, sizeof err) == api_OK); /* embedded weights: no file needed */
  if (!m) return 1;
  CHECK(api_NUM_INPUTS == 3 && api_NUM_OUTPUTS == 2 && api_WEIGHTS_EMBEDDED == 1);
  CHECK(strcmp(api_input_name(0), "trip_count") == 0 && strcmp(api_output_name(1), "res_scan") == 0);
  CHECK(api_input_dtype(0) == api_INT64 && api_input_rank(0) == 0);
  CHECK(api_input_dtype(2) == api_FLOAT32 && api_input_rank(2) == 1 && api_input_dim(2, 0) == 1);
  CHECK(api_input_kind(0) == 0 && api_output_kind(0) == 0 && api_input_name(3) == NULL);

  /* a run and its outputs */
  CHECK(run(m, 5, true, -2) == api_OK);
  api_tensor_t out;
  CHECK(api_output(m, 0, &out) == api_OK);
  CHECK(out.dtype == api_FLOAT32 && out.rank == 1 && out.dims[0] == 1 && ((const float*)out.data)[0] == 13);
  CHECK(api_output(m, 1, &out) == api_OK);
  CHECK(out.rank == 2 && out.dims[0] == 5 && out.dims[1] == 1);
  const float want[5] = {-1, 1, 4, 8, 13};
  CHECK(memcmp(out.data, want, sizeof want) == 0);
  int64_t calls, branches, iters;
  api_stats(m, &calls, &branches, &iters);
  CHECK(calls == 5 && branches == 0 && iters == 5);
  CHECK(api_output(m, 2, &out) == api_INVALID_INPUT && strstr(api_error(m), "does not exist"));

  /* the condition stops it: no iteration, an empty scan output */
  CHECK(run(m, 5, false, 1) == api_OK);
  CHECK(api_output(m, 1, &out) == api_OK && out.rank == 2 && out.dims[0] == 0);
  CHECK(api_output(m, 0, &out) == api_OK && ((const float*)out.data)[0] == 1);

  /* bad inputs: codes and messages, and no output left over */
  int64_t trip = 3;
  bool cond = true;
  float y = 0, y2[2] = {0, 0};
  api_tensor_t in[3] = {{api_INT64, 0, {0}, &trip}, {api_BOOL, 0, {0}, &cond}, {api_FLOAT32, 1, {1}, &y}};
  CHECK(api_run(m, in, 2) == api_INVALID_INPUT && strstr(api_error(m), "takes 3 inputs"));
  CHECK(api_output(m, 0, &out) == api_INVALID_INPUT);
  in[0].dtype = api_INT32;
  CHECK(api_run(m, in, 3) == api_INVALID_INPUT && strstr(api_error(m), "trip_count"));
  in[0].dtype = api_INT64;
  in[2].dims[0] = 2;
  in[2].data = y2;
  CHECK(api_run(m, in, 3) == api_INVALID_INPUT && strstr(api_error(m), "'y' must have shape"));
  in[2].dims[0] = 1;
  in[2].data = NULL;
  CHECK(api_run(m, in, 3) == api_INVALID_INPUT && strstr(api_error(m), "data is missing"));
  in[2].data = &y;
  in[2].rank = 9;
  CHECK(api_run(m, in, 3) == api_INVALID_INPUT);
  in[2].rank = 1;
  CHECK(api_run(m, in, 3) == api_OK && api_error(m)[0] == 0);

  /* the iteration limit */
  api_set_limits(m, 3, 0);
  CHECK(run(m, 3, true, 0) == api_OK);
  CHECK(run(m, 4, true, 0) == api_LIMIT && strstr(api_error(m), "more than 3 iterations"));
  api_set_limits(m, 1000, 0);
  /* the tensor size limit: the scan output of 5 floats (20 bytes) is over 16 bytes */
  api_set_limits(m, 0, 16);
  CHECK(run(m, 5, true, 0) == api_LIMIT);
  api_set_limits(m, 0, (uint64_t)1 << 30);
  CHECK(run(m, 5, true, 0) == api_OK);

  /* the value API: a run on values built from tensors, outputs read through views */
  int64_t trip5 = 5;
  bool yes = true;
  float y7 = 7;
  api_tensor_t tin[3] = {{api_INT64, 0, {0}, &trip5}, {api_BOOL, 0, {0}, &yes}, {api_FLOAT32, 1, {1}, &y7}};
  struct dycl_value* vin[3] = {NULL, NULL, NULL};
  struct dycl_value* vout[2] = {NULL, NULL};
  for (int i = 0; i < 3; i++) CHECK(api_value_from_tensor(&tin[i], &vin[i], err, sizeof err) == api_OK);
  CHECK(vin[2] && api_value_kind(vin[2]) == 0 && api_value_length(vin[2]) == -1 && api_value_item(vin[2], 0) == NULL);
  if (vin[0] && vin[1] && vin[2]) CHECK(api_run_values(m, vin, vout) == api_OK);
  CHECK(vout[0] && api_value_tensor(vout[0], &out) == api_OK && out.rank == 1 && ((const float*)out.data)[0] == 22);
  CHECK(vout[1] && api_value_tensor(vout[1], &out) == api_OK && out.rank == 2 && out.dims[0] == 5);
  for (int i = 0; i < 3; i++) api_value_release(vin[i]);
  for (int j = 0; j < 2; j++) api_value_release(vout[j]);
  api_tensor_t bad = {api_FLOAT32, 9, {0}, &y7};
  struct dycl_value* v = NULL;
  CHECK(api_value_from_tensor(&bad, &v, err, sizeof err) == api_INVALID_INPUT && v == NULL && strstr(err, "rank 9"));
  CHECK(api_value_load("/nonexistent/x.pb", 0, &v, err, sizeof err) == api_IO && v == NULL && strstr(err, "cannot open"));
  CHECK(api_value_load("/nonexistent/x.pb", 7, &v, err, sizeof err) == api_INVALID_INPUT);
  CHECK(api_value_tensor(NULL, &out) == api_INVALID_INPUT);
  api_value_release(NULL);

  /* threads: a negative count is refused; 1 and 2 give the same results */
  api_t* mt = NULL;
  CHECK(api_create_threads(NULL, -1, &mt, err, sizeof err) == api_INVALID_INPUT && mt == NULL && strstr(err, "threads"));
  for (int threads = 1; threads <= 2; threads++) {
    CHECK(api_create_threads(NULL, threads, &mt, err, sizeof err) == api_OK);
    if (!mt) continue;
    CHECK(run(mt, 5, true, -2) == api_OK && api_output(mt, 0, &out) == api_OK && ((const float*)out.data)[0] == 13);
    api_destroy(mt);
    mt = NULL;
  }

  /* two instances, two threads */
  api_t* m2 = NULL;
  CHECK(api_create("ignored", &m2, NULL, 0) == api_OK);
  pthread_t t1, t2;
  void *r1 = (void*)1, *r2 = (void*)1;
  if (m2 && pthread_create(&t1, NULL, worker, m) == 0) {
    if (pthread_create(&t2, NULL, worker, m2) == 0) pthread_join(t2, &r2);
    pthread_join(t1, &r1);
  }
  CHECK(r1 == NULL && r2 == NULL);
  api_destroy(m2);
  api_destroy(m);
  api_destroy(NULL);
  if (failures) return 1;
  printf("api_test: ok\n");
  return 0;
}
