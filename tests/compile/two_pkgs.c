/* Two packages in one program: `first` and `second`, the same model compiled twice (run_compile_tests.py
 * compiles the demo model with --backend cpu as `first` and --backend ref as `second`), each holding
 * its own copy of the dycl runtime. Linking them together only works when each libNAME.a exports its
 * API alone. Runs both on every input and writes their outputs where the test compares them with
 * `dycl run`:
 *   two_pkgs FIRST_WEIGHTS SECOND_WEIGHTS OUT_DIR INPUT...
 * writes OUT_DIR/first_<k>/output_<j>.pb and OUT_DIR/second_<k>/output_<j>.pb for input k (the
 * folders must exist). Both instances are alive at once. Exit status 1 on any failure. */
#include <stdio.h>
#include <string.h>

#include "first.h"
#include "second.h"

/* Runs package P's instance m on the .pb file `input` and saves its outputs into DIR. */
#define RUN_ONE(P)                                                                                      \
  static int run_##P(P##_t* m, const char* input, const char* dir) {                                   \
    char err[512], path[4200];                                                                          \
    struct dycl_value* in[P##_NUM_INPUTS + 1] = {NULL};                                                 \
    struct dycl_value* out[P##_NUM_OUTPUTS + 1] = {NULL};                                               \
    if (P##_value_load(input, P##_input_kind(0), &in[0], err, sizeof err) != P##_OK) {                  \
      fprintf(stderr, #P ": %s\n", err);                                                                \
      return 1;                                                                                         \
    }                                                                                                   \
    int rc = P##_run_values(m, in, out) != P##_OK;                                                      \
    if (rc) fprintf(stderr, #P ": %s\n", P##_error(m));                                                 \
    for (int j = 0; j < P##_NUM_OUTPUTS && !rc; j++) {                                                  \
      snprintf(path, sizeof path, "%s/output_%d.pb", dir, j);                                           \
      if (P##_value_save(out[j], P##_output_name(j), path, err, sizeof err) != P##_OK) {                \
        fprintf(stderr, #P ": %s\n", err);                                                              \
        rc = 1;                                                                                         \
      }                                                                                                 \
    }                                                                                                   \
    for (int j = 0; j < P##_NUM_OUTPUTS; j++) P##_value_release(out[j]);                                \
    P##_value_release(in[0]);                                                                           \
    return rc;                                                                                          \
  }

RUN_ONE(first)
RUN_ONE(second)

int main(int argc, char** argv) {
  if (argc < 5 || first_NUM_INPUTS != 1 || second_NUM_INPUTS != 1) {
    fprintf(stderr, "usage: two_pkgs FIRST_WEIGHTS SECOND_WEIGHTS OUT_DIR INPUT... (one-input models)\n");
    return 2;
  }
  char err[512];
  first_t* a = NULL;
  second_t* b = NULL;
  if (first_create_threads(argv[1], 2, &a, err, sizeof err) != first_OK) {
    fprintf(stderr, "first: %s\n", err);
    return 1;
  }
  if (second_create(argv[2], &b, err, sizeof err) != second_OK) {
    fprintf(stderr, "second: %s\n", err);
    first_destroy(a);
    return 1;
  }
  printf("first: %s backend, second: %s backend\n", first_BACKEND, second_BACKEND);
  int rc = 0;
  for (int k = 4; k < argc; k++) {
    char dir[4096];
    if (strlen(argv[3]) > 4000) return 2;
    snprintf(dir, sizeof dir, "%s/first_%d", argv[3], k - 4);
    rc |= run_first(a, argv[k], dir);
    snprintf(dir, sizeof dir, "%s/second_%d", argv[3], k - 4);
    rc |= run_second(b, argv[k], dir);
  }
  first_destroy(a);
  second_destroy(b);
  return rc;
}
