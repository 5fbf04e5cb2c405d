/* Fuzz harness: value files. The first byte picks what the rest is read as:
 *   0  a TensorProto  (.pb)      2  an OptionalProto (.pb)
 *   1  a SequenceProto (.pb)     3  a NumPy array    (.npy)
 * (byte % 4). The rest goes through dycl_value_load_file. A value that loads is printed, saved with
 * dycl_value_save_file and loaded back, and must come back identical (kind, element type, shape,
 * bytes, strings) — the round trip is the invariant checked here. */
#include <string.h>

#include "base/value.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  return 0;
}

static void same_value(const dycl_value_t* a, const dycl_value_t* b, int depth) {
  if (a->kind != b->kind) fuzz_fail("round trip changed the kind (%d to %d)", (int)a->kind, (int)b->kind);
  switch (a->kind) {
    case DYCL_VALUE_TENSOR:
      if (a->dtype != b->dtype || a->rank != b->rank || a->numel != b->numel)
        fuzz_fail("round trip changed a tensor's type or shape (depth %d)", depth);
      for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) fuzz_fail("round trip changed dim %d", i);
      if (a->dtype == DYCL_DTYPE_STRING) {
        const char* const* sa = a->data;
        const char* const* sb = b->data;
        for (int64_t i = 0; i < a->numel; i++)
          if (strcmp(sa[i] ? sa[i] : "", sb[i] ? sb[i] : "") != 0) fuzz_fail("round trip changed string %lld", (long long)i);
      } else if (a->nbytes != b->nbytes || (a->nbytes && memcmp(a->data, b->data, a->nbytes) != 0)) {
        fuzz_fail("round trip changed a tensor's data");
      }
      break;
    case DYCL_VALUE_SEQUENCE:
      if (a->len != b->len) fuzz_fail("round trip changed a sequence's length");
      for (int i = 0; i < a->len; i++) same_value(a->items[i], b->items[i], depth + 1);
      break;
    case DYCL_VALUE_OPTIONAL:
      if (!a->elem != !b->elem) fuzz_fail("round trip changed whether an optional holds a value");
      if (a->elem) same_value(a->elem, b->elem, depth + 1);
      break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const dycl_value_kind_t kinds[4] = {DYCL_VALUE_TENSOR, DYCL_VALUE_SEQUENCE, DYCL_VALUE_OPTIONAL,
                                             DYCL_VALUE_TENSOR};
  int sel = data[0] % 4;
  const char* path = fuzz_tmp_path(sel == 3 ? "value.npy" : "value.pb");
  if (!path || fuzz_write_file(path, data + 1, size - 1) != 0) fuzz_fail("cannot write the temporary value file");
  char in_path[512];
  snprintf(in_path, sizeof in_path, "%s", path);

  dycl_value_t* v = NULL;
  dycl_status_t s = dycl_value_load_file(fuzz_allocator(), in_path, kinds[sel], &v);
  if (s) {
    if (v) fuzz_fail("dycl_value_load_file failed but returned a value");
    fuzz_check_status(s);
    return 0;
  }
  dycl_value_print(v, fuzz_null_stream(), 16);
  const char* out_path = fuzz_tmp_path("saved.pb");
  if (!out_path) fuzz_fail("no temporary path");
  s = dycl_value_save_file(v, "x", out_path);
  if (s) {
    /* a value read from a file is one dycl can write back */
    fuzz_fail("a loaded value could not be saved: %s", dycl_status_message(s));
  }
  dycl_value_t* back = NULL;
  s = dycl_value_load_file(fuzz_allocator(), out_path, dycl_value_kind(v), &back);
  if (s) fuzz_fail("a saved value could not be loaded back: %s", dycl_status_message(s));
  same_value(v, back, 0);
  dycl_value_release(back);
  dycl_value_release(v);
  return 0;
}
