/* Profiling (dycl_session_set_profiling / dycl_session_profile) on the demo model, with each backend
 * built in: the counters stay zero while it is off; on, they count the runs, every node that ran a
 * step has calls and time, the entries come most time first, their time lies within the sub-network
 * calls' and that within the runs'; the easy input (first exit) runs fewer sub-networks than the
 * hard one; turning it on again starts from zero; fused nodes (cpu) are counted at their step. */
#include <stdio.h>
#include <string.h>

#include "dycl/dycl.h"
#include "test_util.h"

#define MODEL "models/demo/early_exit.onnx"

static void run_n(dycl_session_t* s, dycl_value_t* in, int n_out, int times) {
  for (int t = 0; t < times; t++) {
    dycl_value_t* out[4] = {NULL};
    CHECK_OK(dycl_session_run(s, &in, 1, out, n_out));
    for (int j = 0; j < n_out; j++) dycl_value_release(out[j]);
  }
}

static void check_backend(const char* backend) {
  dycl_options_t opt;
  dycl_options_init(&opt);
  opt.backend = backend;
  opt.threads = 1;
  dycl_model_t* m = NULL;
  dycl_status_t st = dycl_model_load(MODEL, &opt, &m);
  if (st && dycl_status_code(st) == DYCL_CODE_UNSUPPORTED) { /* a dycl built without oneDNN */
    printf("test_profile: backend %s not built: skipped\n", backend);
    dycl_status_free(st);
    return;
  }
  CHECK_OK(st);
  if (!m) return;
  int n_out = dycl_model_num_outputs(m);
  CHECK(n_out <= 4);
  dycl_value_t *easy = NULL, *hard = NULL;
  CHECK_OK(dycl_value_load_file(NULL, "models/demo/inputs/easy.pb", DYCL_VALUE_TENSOR, &easy));
  CHECK_OK(dycl_value_load_file(NULL, "models/demo/inputs/hard.pb", DYCL_VALUE_TENSOR, &hard));
  dycl_session_t* s = NULL;
  CHECK_OK(dycl_session_create(m, &s));
  if (!s || !easy || !hard || n_out > 4) goto done;

  dycl_profile_totals_t t;
  run_n(s, hard, n_out, 2); /* off: nothing counted */
  CHECK(dycl_session_profile(s, NULL, 0, &t) == 0);
  CHECK(t.runs == 0 && t.run_seconds == 0 && t.subnet_calls == 0);

  CHECK_OK(dycl_session_set_profiling(s, 1));
  run_n(s, easy, n_out, 3);
  int n_easy = dycl_session_profile(s, NULL, 0, &t);
  CHECK(n_easy > 0);
  CHECK(t.runs == 3);
  int64_t easy_calls = t.subnet_calls;
  CHECK(easy_calls >= 3 && easy_calls % 3 == 0);

  CHECK_OK(dycl_session_set_profiling(s, 1)); /* again: from zero */
  CHECK(dycl_session_profile(s, NULL, 0, &t) == 0 && t.runs == 0);
  run_n(s, hard, n_out, 4);
  int n = dycl_session_profile(s, NULL, 0, &t);
  CHECK(t.runs == 4);
  CHECK(t.subnet_calls > easy_calls / 3 * 4); /* the hard input runs past the first exit */
  CHECK(n > n_easy);
  dycl_profile_entry_t e[512];
  CHECK(n <= 512);
  int got = dycl_session_profile(s, e, n < 512 ? n : 512, NULL);
  CHECK(got == n);
  double sum = 0;
  int fused = 0;
  for (int i = 0; i < got && i < 512; i++) {
    CHECK(e[i].calls > 0 && e[i].calls % 4 == 0); /* the same steps in every run */
    CHECK(e[i].seconds >= 0);
    CHECK(e[i].node && e[i].op && e[i].subnet >= 0 && e[i].node_index >= 0);
    if (i > 0) CHECK(e[i - 1].seconds >= e[i].seconds);
    sum += e[i].seconds;
    fused += e[i].fused;
  }
  CHECK(sum <= t.subnet_seconds * (1 + 1e-9));
  CHECK(t.subnet_seconds <= t.run_seconds * (1 + 1e-9));
  CHECK(t.run_seconds > 0);
  if (!strcmp(backend, "ref")) CHECK(fused == 0); /* ref runs node by node */
  else CHECK(fused > 0);                          /* the demo's Conv + Relu, Gemm + Relu */
  /* fewer places than entries: the costliest ones */
  dycl_profile_entry_t top[2];
  CHECK(dycl_session_profile(s, top, 2, NULL) == n);
  if (n >= 2) CHECK(top[0].seconds == e[0].seconds && top[1].seconds == e[1].seconds);

  CHECK_OK(dycl_session_set_profiling(s, 0)); /* off: the counters stay */
  run_n(s, hard, n_out, 1);
  dycl_profile_totals_t t2;
  CHECK(dycl_session_profile(s, NULL, 0, &t2) == n && t2.runs == 4);
done:
  dycl_session_destroy(s);
  dycl_value_release(easy);
  dycl_value_release(hard);
  dycl_model_destroy(m);
}

int main(void) {
  FILE* f = fopen(MODEL, "rb");
  if (!f) {
    printf("test_profile: no model at %s (run from the repository root)\n", MODEL);
    return 1;
  }
  fclose(f);
  check_backend("ref");
  check_backend("cpu");
  return test_finish("test_profile");
}
