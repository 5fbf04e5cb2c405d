/* The cpu backend's vector math (src/backend/cpu/cpu_fast_kernels.h) against libm in double
 * precision, for every instruction set this machine runs (AVX-512, AVX2, plain C; DYCL_CPU_ISA
 * picks one): exp, log, tanh, sigmoid, erf and elu over wide ranges, tiny values, denormals, zeros
 * of both signs, infinities and NaN, in blocks of odd lengths (vector tails), and the softmax,
 * log-softmax, layer-norm and row-sum kernels on rows with a tail and a NaN. Exit 0 when every value
 * is within 1e-6 absolute + 2e-6 relative (erf: 4e-7 absolute) and every special value matches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_fast_internal.h"

static double ref_unary(int op, double v) {
  switch (op) {
    case FOP_EXP: return exp(v);
    case FOP_LOG: return log(v);
    case FOP_TANH: return tanh(v);
    case FOP_SIGMOID: return v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
    case FOP_ERF: return erf(v);
    case FOP_ELU: return v < 0 ? expm1(v) : v;
    default: return NAN;
  }
}

static int check_unary(const fast_kernels_t* k, int op, const char* name) {
  enum { N = 100003, STEP = 37 };
  float* x = malloc(N * sizeof *x);
  float* y = malloc(N * sizeof *y);
  if (!x || !y) return 1;
  for (int i = 0; i < N; i++) {
    double u = (double)i / N;
    x[i] = (float)(op == FOP_LOG ? exp(-100 + 190 * u) : (u - 0.5) * 40);
    if (i % 1000 == 7) x[i] = (float)((u - 0.5) * 1e-3);
  }
  const float specials[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -1e-40f, 100, -100, -3, 0.5f, -0.5f, 0.34f, 9.5f};
  memcpy(x, specials, sizeof specials);
  fast_ins_t ins = {(uint8_t)op, -1, 0, 0, 0, 1.0f, 0};
  for (int i0 = 0; i0 < N; i0 += STEP) {
    fast_block_t b;
    memset(&b, 0, sizeof b);
    b.opnd[0] = x + i0;
    b.out = y + i0;
    b.n = N - i0 < STEP ? N - i0 : STEP;
    k->run_block(&ins, 1, &b);
  }
  int bad = 0;
  double atol = op == FOP_ERF ? 4e-7 : 1e-6;
  for (int i = 0; i < N; i++) {
    double r = (float)ref_unary(op, x[i]), g = y[i];
    bool ok = isnan(r) || isnan(g) ? isnan(r) && isnan(g)
              : isinf(r) || isinf(g) ? r == g
                                     : fabs(g - r) <= atol + 2e-6 * fabs(r);
    if (!ok && bad++ < 5) printf("  %s %s(%.9g) = %.9g, libm %.9g\n", k->isa, name, x[i], g, r);
  }
  free(x);
  free(y);
  return bad;
}

static int check_rows(const fast_kernels_t* k) {
  enum { R = 7, C = 37 };
  float x[R * C], y[R * C], sc[C], bi[C], sums[R];
  for (int i = 0; i < R * C; i++) x[i] = (float)sin(i * 0.7) * 5;
  for (int j = 0; j < C; j++) sc[j] = 1 + 0.01f * j, bi[j] = 0.1f * j;
  x[3 * C + 5] = NAN;
  int bad = 0;
  for (int lg = 0; lg < 2; lg++) {
    k->softmax_rows(x, y, R, C, lg);
    for (int r = 0; r < R; r++) {
      double m = -INFINITY, s = 0;
      bool nan = false;
      for (int j = 0; j < C; j++) {
        nan |= isnan(x[r * C + j]);
        if (x[r * C + j] > m) m = x[r * C + j];
      }
      for (int j = 0; j < C; j++) s += exp(x[r * C + j] - m);
      for (int j = 0; j < C; j++) {
        double v = lg ? x[r * C + j] - m - log(s) : exp(x[r * C + j] - m) / s, g = y[r * C + j];
        bool ok = nan ? isnan(g) : fabs(g - v) <= 2e-6 + 2e-6 * fabs(v);
        if (!ok && bad++ < 5) printf("  %s %s row %d col %d: %g, expected %g\n", k->isa, lg ? "logsoftmax" : "softmax", r, j, g, v);
      }
    }
  }
  x[3 * C + 5] = 1;
  k->layernorm_rows(x, y, R, C, sc, bi, 1e-5f);
  k->sum_rows(x, sums, R, C, true);
  for (int r = 0; r < R; r++) {
    double m = 0, v = 0;
    for (int j = 0; j < C; j++) m += x[r * C + j];
    m /= C;
    if (fabs(sums[r] - m) > 1e-6 + 1e-6 * fabs(m) && bad++ < 5) printf("  %s row mean %d: %g, expected %g\n", k->isa, r, sums[r], m);
    for (int j = 0; j < C; j++) v += (x[r * C + j] - m) * (x[r * C + j] - m);
    v /= C;
    for (int j = 0; j < C; j++) {
      double e = (x[r * C + j] - m) / sqrt(v + 1e-5) * sc[j] + bi[j];
      if (fabs(e - y[r * C + j]) > 2e-6 + 2e-6 * fabs(e) && bad++ < 5)
        printf("  %s layernorm row %d col %d: %g, expected %g\n", k->isa, r, j, y[r * C + j], e);
    }
  }
  return bad;
}

/* The transpose (plain <-> channels-last relayouts) on shapes with full and partial 16 x 16 tiles,
 * thin ones (element by element) and single rows/columns, into rows of y as long as x's columns
 * and longer (a Concat's slice); exact, and nothing written outside the slice. */
static int check_transpose(const fast_kernels_t* k) {
  static const int64_t shapes[][2] = {{16, 16}, {100, 256}, {256, 100}, {24, 64}, {3, 1024},
                                      {1024, 3}, {17, 33}, {8, 8}, {7, 9}, {1, 40}, {40, 1}, {31, 16}};
  int bad = 0;
  for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++)
    for (int64_t pad = 0; pad <= 5; pad += 5) {
      int64_t R = shapes[t][0], C = shapes[t][1], ld = R + pad, ny = C * ld + 16; /* 16 guard floats */
      float* x = malloc((size_t)(R * C) * sizeof *x);
      float* y = malloc((size_t)ny * sizeof *y);
      for (int64_t i = 0; i < R * C; i++) x[i] = (float)i;
      for (int64_t i = 0; i < ny; i++) y[i] = -1.0f;
      k->transpose(x, y, R, C, ld);
      for (int64_t i = 0; i < ny; i++) {
        int64_t c = i / ld, r = i % ld;
        float e = c < C && r < R ? x[r * C + c] : -1.0f;
        if (y[i] != e && bad++ < 5)
          printf("  %s transpose %lldx%lld (ldy %lld) at %lld: %g, expected %g\n", k->isa, (long long)R,
                 (long long)C, (long long)ld, (long long)i, y[i], e);
      }
      free(x);
      free(y);
    }
  return bad;
}

/* copy_rows (a Concat's part of each row) for widths below, at and above a vector, and past two,
 * between rows of different strides; exact, and nothing written between the rows' parts. */
static int check_copy_rows(const fast_kernels_t* k) {
  static const int64_t widths[] = {1, 3, 6, 8, 15, 16, 17, 31, 32, 40, 0};
  int bad = 0;
  for (size_t t = 0; t < sizeof widths / sizeof widths[0]; t++) {
    int64_t w = widths[t], rows = 7, ldx = w + 3, ldy = w + 11, ny = rows * ldy + 16;
    float* x = malloc((size_t)(rows * ldx + 1) * sizeof *x);
    float* y = malloc((size_t)ny * sizeof *y);
    for (int64_t i = 0; i < rows * ldx; i++) x[i] = (float)i + 0.5f;
    for (int64_t i = 0; i < ny; i++) y[i] = -1.0f;
    k->copy_rows(x + 1, ldx, y + 2, ldy, rows, w);
    for (int64_t i = 0; i < ny; i++) {
      int64_t r = (i - 2) / ldy, j = (i - 2) % ldy;
      float e = i >= 2 && r < rows && j < w ? x[1 + r * ldx + j] : -1.0f;
      if (y[i] != e && bad++ < 5)
        printf("  %s copy_rows width %lld at %lld: %g, expected %g\n", k->isa, (long long)w, (long long)i, y[i], e);
    }
    free(x);
    free(y);
  }
  return bad;
}

int main(void) {
  const char* isas[] = {"avx512", "avx2", "scalar"};
  const char* seen[3] = {NULL, NULL, NULL};
  int total = 0, tested = 0;
  for (int i = 0; i < 3; i++) {
    setenv("DYCL_CPU_ISA", isas[i], 1);
    const fast_kernels_t* k = cpu_fast_kernels();
    if (strcmp(k->isa, isas[i])) continue; /* this CPU lacks it */
    seen[tested++] = k->isa;
    int ops[] = {FOP_EXP, FOP_LOG, FOP_TANH, FOP_SIGMOID, FOP_ERF, FOP_ELU};
    const char* names[] = {"exp", "log", "tanh", "sigmoid", "erf", "elu"};
    int bad = 0;
    for (int o = 0; o < 6; o++) bad += check_unary(k, ops[o], names[o]);
    bad += check_rows(k);
    bad += check_transpose(k);
    bad += check_copy_rows(k);
    printf("%s: %s\n", k->isa, bad ? "FAILED" : "ok");
    total += bad;
  }
  if (!tested || strcmp(seen[tested - 1], "scalar")) {
    printf("the plain C kernels were not tested\n");
    return 1;
  }
  printf("test_cpu_fast_math: %d instruction set(s), %s\n", tested, total ? "FAILED" : "passed");
  return total ? 1 : 0;
}
