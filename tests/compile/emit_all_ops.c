/* emit_all_ops DIR — writes the runtime that `dycl compile` would ship if a model used every op,
 * with an op table of every kernel (DIR/all_ops.c) and a Makefile: building and linking it checks
 * that the runtime selection of src/emit/c_emit_runtime.c finds every kernel and every helper it
 * calls (run by tests/compile/run_compile_tests.py). */
#include <stdio.h>

#include "emit/c_emit.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: emit_all_ops DIR\n");
    return 2;
  }
  dycl_status_t s = dycl_cemit_all_ops(argv[1]);
  if (s) {
    fprintf(stderr, "emit_all_ops: error: %s\n", dycl_status_message(s));
    dycl_status_free(s);
    return 1;
  }
  return 0;
}
