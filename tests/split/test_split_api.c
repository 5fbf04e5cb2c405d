/* The public API behind `dycl split`: dycl_model_split's files and errors, and the sub-network
 * recorder of sessions (dycl_session_set_recorder). Runs on the bundled demo model. */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dycl/dycl.h"
#include "test_util.h"

#define DEMO "models/demo/early_exit.onnx"

static bool is_file(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

typedef struct counter {
  int calls[8];
  int bad_shape;
  int fail_at; /* return an error at this call (-1: never) */
  int total;
} counter_t;

static dycl_status_t count_calls(void* user, int subnet, const dycl_value_t* const* ins, int n_in,
                                 const dycl_value_t* const* outs, int n_out) {
  counter_t* c = user;
  if (subnet >= 0 && subnet < 8) c->calls[subnet]++;
  /* every sub-network of the demo reads one feature map and writes at least the logits */
  if (n_in != 1 || n_out < 1 || dycl_value_kind(ins[0]) != DYCL_VALUE_TENSOR || dycl_value_rank(ins[0]) != 4 ||
      dycl_value_rank(outs[0]) < 2)
    c->bad_shape++;
  if (c->total++ == c->fail_at) return dycl_status_create(DYCL_CODE_RUNTIME, "recorder stop at call %d", c->fail_at);
  return NULL;
}

static void test_split_files(const dycl_model_t* m, const char* tmp) {
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/nested/split", tmp); /* parents are created too */
  CHECK_OK(dycl_model_split(m, dir));
  const char* files[] = {"program.json", "subnet_0.onnx", "subnet_1.onnx", "subnet_2.onnx", "constants/const_0.pb"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    CHECK(is_file(path));
  }
  snprintf(path, sizeof path, "%s/subnet_3.onnx", dir);
  CHECK(!is_file(path));
  /* the host-bound constant (the exit index 1) reads back */
  dycl_value_t* v = NULL;
  snprintf(path, sizeof path, "%s/constants/const_0.pb", dir);
  CHECK_OK(dycl_value_load_file(NULL, path, DYCL_VALUE_TENSOR, &v));
  CHECK(v && dycl_value_dtype(v) == DYCL_DTYPE_INT64 && dycl_value_numel(v) == 1 &&
        ((const int64_t*)dycl_value_data(v))[0] == 1);
  dycl_value_release(v);
  /* splitting again over the same folder works */
  CHECK_OK(dycl_model_split(m, dir));
  /* a folder that cannot be created: under a regular file */
  snprintf(path, sizeof path, "%s/plain_file", tmp);
  FILE* f = fopen(path, "w");
  if (f) fclose(f);
  snprintf(dir, sizeof dir, "%s/plain_file/split", tmp);
  CHECK_ERR(dycl_model_split(m, dir), DYCL_CODE_IO, "plain_file");
  CHECK_ERR(dycl_model_split(NULL, dir), DYCL_CODE_INVALID_INPUT, "no model");
}

static void test_recorder(const dycl_model_t* m) {
  dycl_value_t* in = NULL;
  CHECK_OK(dycl_value_load_file(NULL, "models/demo/inputs/hard.pb", DYCL_VALUE_TENSOR, &in));
  if (!in) return;
  dycl_session_t* s = NULL;
  CHECK_OK(dycl_session_create(m, &s));
  if (!s) {
    dycl_value_release(in);
    return;
  }
  dycl_value_t* outs[2] = {NULL, NULL};
  counter_t c = {{0}, 0, -1, 0};
  dycl_session_set_recorder(s, count_calls, &c);
  CHECK_OK(dycl_session_run(s, &in, 1, outs, 2));
  dycl_run_stats_t st;
  dycl_session_stats(s, &st);
  CHECK(c.total == st.subnet_calls && c.total >= 1);
  CHECK(c.calls[0] == 1);
  CHECK(c.bad_shape == 0);
  for (int j = 0; j < 2; j++) dycl_value_release(outs[j]), outs[j] = NULL;
  /* an error from the recorder stops the run and comes back */
  counter_t stop = {{0}, 0, 0, 0};
  dycl_session_set_recorder(s, count_calls, &stop);
  CHECK_ERR(dycl_session_run(s, &in, 1, outs, 2), DYCL_CODE_RUNTIME, "recorder stop at call 0");
  CHECK(stop.total == 1 && outs[0] == NULL && outs[1] == NULL);
  /* removed: runs again without calling it */
  dycl_session_set_recorder(s, NULL, NULL);
  CHECK_OK(dycl_session_run(s, &in, 1, outs, 2));
  CHECK(stop.total == 1);
  for (int j = 0; j < 2; j++) dycl_value_release(outs[j]);
  dycl_session_destroy(s);
  dycl_value_release(in);
}

int main(void) {
  char tmp[] = "/tmp/dycl_split_test_XXXXXX";
  if (!mkdtemp(tmp)) {
    perror("mkdtemp");
    return 1;
  }
  dycl_model_t* m = NULL;
  CHECK_OK(dycl_model_load(DEMO, NULL, &m));
  if (m) {
    test_split_files(m, tmp);
    test_recorder(m);
  }
  dycl_model_destroy(m);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
  return test_finish("test_split_api");
}
