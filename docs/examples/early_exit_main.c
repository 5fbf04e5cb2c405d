#include <stdint.h>
#include <stdio.h>
#include "early_exit.h"

int main(void) {
  static float image[1 * 3 * 32 * 32]; /* your pixels here */
  early_exit_t* m;
  char err[256];
  if (early_exit_create("pkg/early_exit.weights", &m, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  early_exit_tensor_t in = {early_exit_FLOAT32, 4, {1, 3, 32, 32}, image}, logits, exit_taken;
  if (early_exit_run(m, &in, 1)) return fprintf(stderr, "%s\n", early_exit_error(m)), 1;
  early_exit_output(m, 0, &logits);
  early_exit_output(m, 1, &exit_taken);
  printf("left at exit %lld, logit[0] = %f\n", (long long)*(const int64_t*)exit_taken.data, ((const float*)logits.data)[0]);
  early_exit_destroy(m);
  return 0;
}
