/* Machine peak for the benchmark: OpenBLAS sgemm GFLOP/s (square N x N x N, single precision).
 * usage: sgemm_peak [N] [SECONDS]   (threads from OPENBLAS_NUM_THREADS)
 * Prints: gflops=<best of repeated runs> n=<N> threads=<openblas threads> */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern int openblas_get_num_threads(void);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1536;
  double budget = argc > 2 ? atof(argv[2]) : 3.0;
  if (n <= 0 || budget <= 0) return fprintf(stderr, "usage: sgemm_peak [N] [SECONDS]\n"), 2;
  size_t nn = (size_t)n * (size_t)n;
  float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
  if (!a || !b || !c) return fprintf(stderr, "out of memory\n"), 1;
  for (size_t i = 0; i < nn; i++) {
    a[i] = (float)((i * 7 + 3) % 13) / 13.0f - 0.5f;
    b[i] = (float)((i * 5 + 1) % 11) / 11.0f - 0.5f;
    c[i] = 0.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up */
  double best = 0.0, start = now();
  int runs = 0;
  while (runs < 3 || now() - start < budget) {
    double t = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double g = 2.0 * (double)n * (double)n * (double)n / (now() - t) / 1e9;
    if (g > best) best = g;
    runs++;
  }
  printf("gflops=%.2f n=%d threads=%d runs=%d check=%g\n", best, n, openblas_get_num_threads(), runs, (double)c[nn / 2]);
  free(a);
  free(b);
  free(c);
  return 0;
}
