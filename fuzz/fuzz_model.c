/* Fuzz harness: the model loader. The input is an ONNX model file. It goes through
 * dycl_model_load (protobuf parsing, conversion to IR, verification, type and shape inference,
 * constant folding, partition, the backend's prepare) and, when it loads, dycl_model_inspect and
 * dycl_model_write_dot; a model without inputs is also run once. A model that loads with the `ref`
 * backend is loaded again with `cpu` (when built), whose prepare step packs weights through oneDNN.
 *
 * The bytes are written to model.onnx in a private temporary folder, so external-data references
 * resolve inside that folder (holding only the model itself). */
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  return 0;
}

static void run_without_inputs(const dycl_model_t* m) {
  dycl_session_t* sess = NULL;
  dycl_status_t s = dycl_session_create(m, &sess);
  if (s) {
    fuzz_check_status(s);
    return;
  }
  int n_out = dycl_model_num_outputs(m);
  dycl_value_t* outs[64];
  if (n_out <= 64) {
    memset(outs, 0, sizeof outs);
    s = dycl_session_run(sess, NULL, 0, outs, n_out);
    if (!s) {
      for (int i = 0; i < n_out; i++) {
        if (!outs[i]) fuzz_fail("run succeeded without output %d", i);
        dycl_value_print(outs[i], fuzz_null_stream(), 8);
        dycl_value_release(outs[i]);
      }
    }
    fuzz_check_status(s);
  }
  dycl_session_destroy(sess);
}

/* 1 when the model loaded. */
static int load_one(const char* path, const char* backend) {
  dycl_options_t opts;
  dycl_options_init(&opts);
  opts.backend = backend;
  opts.threads = 1;
  opts.allocator = fuzz_allocator();
  opts.max_tensor_bytes = FUZZ_MAX_TENSOR_BYTES;
  opts.max_iterations = FUZZ_MAX_ITERATIONS;
  dycl_model_t* m = NULL;
  dycl_status_t s = dycl_model_load(path, &opts, &m);
  if (s) {
    if (m) fuzz_fail("dycl_model_load failed but returned a model");
    fuzz_check_status(s);
    return 0;
  }
  FILE* null = fuzz_null_stream();
  dycl_model_inspect(m, null);
  fuzz_check_status(dycl_model_write_dot(m, null));
  for (int i = 0; i < dycl_model_num_inputs(m); i++)
    if (!dycl_model_input_name(m, i)) fuzz_fail("input %d has no name", i);
  for (int i = 0; i < dycl_model_num_outputs(m); i++)
    if (!dycl_model_output_name(m, i)) fuzz_fail("output %d has no name", i);
  if (dycl_model_num_inputs(m) == 0) run_without_inputs(m);
  dycl_model_destroy(m);
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* path = fuzz_tmp_path("model.onnx");
  if (!path || fuzz_write_file(path, data, size) != 0) fuzz_fail("cannot write the temporary model file");
  int loaded = load_one(path, "ref");
#ifdef DYCL_HAVE_ONEDNN
  if (loaded) load_one(path, "cpu");
#else
  (void)loaded;
#endif
  return 0;
}
