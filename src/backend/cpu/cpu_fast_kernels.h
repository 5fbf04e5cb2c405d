/* The fast cpu kernels, written once over a small vector vocabulary and compiled once per
 * instruction set by cpu_fast_simd.c, which defines the vocabulary (AVX-512, AVX2 + FMA, scalar C)
 * and includes this file after each definition. There is deliberately no include guard.
 *
 * The vocabulary (the includer defines it): SFX(name) suffixes a name with the instruction set;
 * FT is the function attribute selecting it; VW floats per vector; types vf (floats), vi (int32),
 * vm (lane mask). VLOAD/VSTORE (unaligned), VLOADN/VSTOREN (the first n < VW lanes, the others read
 * as 0 / left alone), VRANGE(a, b) (the mask of lanes a <= i < b, for any a and b), VLOADM(p, m) (the
 * lanes of mask m, the others 0 and not read), VLANES(n) (mask of the first n lanes), VSET, VADD, VSUB, VMUL, VDIV,
 * VFMA(a, b, c) = a * b + c, VMAX(a, b) = a > b ? a : b, VMIN(a, b) = a < b ? a : b (so an unordered
 * comparison gives b, as the x86 instructions), VSQRT, VFLOOR, VCEIL, VRINT (to nearest even),
 * VLOADI8(p) (VW int8 values as floats),
 * VCMPLT/LE/GT/GE/EQ (ordered), VISNAN, VSEL(m, x, y) = m ? x : y, bit operations VAND/VOR/VXOR on
 * floats, VCVTI (float holding an integer to int32), VI_* on int32 lanes, VI_AS_F / VF_AS_I (bit
 * casts), VI_TO_F (value conversion), VHSUM / VHMAX (horizontal sum / max), VHSUMS(a, n, out)
 * (out[i] = VHSUM(a[i]) for i < n, n <= 24).
 *
 * The math functions (exp, expm1, tanh, sigmoid, log, erf) are written here from their series and
 * range reductions; their error is a few float ulps (erf: 1.5e-7 absolute for |x| >= 0.5, the
 * Abramowitz-Stegun 7.1.26 rational form), well inside the tolerance the tests hold the cpu backend
 * to against the ref backend's double-precision results. NaN inputs give NaN as in the ref kernels. */

/* ------------------------------------------------------------------ math */

FT static inline vf SFX(vabs)(vf x) { return VAND(x, VI_AS_F(VI_SET(0x7fffffff))); }
FT static inline vf SFX(vsign)(vf x) { return VAND(x, VI_AS_F(VI_SET((int32_t)0x80000000u))); }

/* e^x: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to r^7, 2^n applied in two
 * halves so that results down to the denormals and up to the overflow come out right. */
FT static inline vf SFX(vexp)(vf x) {
  x = VMAX(VSET(-105.0f), x); /* NaN stays NaN */
  x = VMIN(VSET(89.0f), x);
  vf n = VRINT(VMUL(x, VSET(1.44269504088896341f)));
  vf r = VFMA(n, VSET(-0.693145751953125f), x);
  r = VFMA(n, VSET(-1.42860682030941723212e-6f), r);
  vf p = VSET(1.0f / 5040.0f);
  p = VFMA(p, r, VSET(1.0f / 720.0f));
  p = VFMA(p, r, VSET(1.0f / 120.0f));
  p = VFMA(p, r, VSET(1.0f / 24.0f));
  p = VFMA(p, r, VSET(1.0f / 6.0f));
  p = VFMA(p, r, VSET(0.5f));
  p = VFMA(p, r, VSET(1.0f));
  p = VFMA(p, r, VSET(1.0f));
  vi ni = VCVTI(n);
  vi n1 = VI_SRAI(ni, 1);
  vi n2 = VI_SUB(ni, n1);
  vf s1 = VI_AS_F(VI_SLLI(VI_ADD(n1, VI_SET(127)), 23));
  vf s2 = VI_AS_F(VI_SLLI(VI_ADD(n2, VI_SET(127)), 23));
  return VMUL(VMUL(p, s1), s2);
}

/* e^x - 1, accurate near 0 (Taylor series to x^8 for |x| < 0.34). */
FT static inline vf SFX(vexpm1)(vf x) {
  vf p = VSET(1.0f / 40320.0f);
  p = VFMA(p, x, VSET(1.0f / 5040.0f));
  p = VFMA(p, x, VSET(1.0f / 720.0f));
  p = VFMA(p, x, VSET(1.0f / 120.0f));
  p = VFMA(p, x, VSET(1.0f / 24.0f));
  p = VFMA(p, x, VSET(1.0f / 6.0f));
  p = VFMA(p, x, VSET(0.5f));
  p = VFMA(p, x, VSET(1.0f));
  vf small = VMUL(p, x);
  vf big = VSUB(SFX(vexp)(x), VSET(1.0f));
  return VSEL(VCMPLT(SFX(vabs)(x), VSET(0.34f)), small, big);
}

/* tanh |x| = m / (m + 2) with m = e^(2|x|) - 1; |x| capped at 9 (tanh 9 rounds to 1). */
FT static inline vf SFX(vtanh)(vf x) {
  vf a = VMIN(VSET(9.0f), SFX(vabs)(x));
  vf m = SFX(vexpm1)(VADD(a, a));
  vf t = VDIV(m, VADD(m, VSET(2.0f)));
  return VOR(t, SFX(vsign)(x));
}

/* 1 / (1 + e^-x), from e^-|x| so that nothing overflows. */
FT static inline vf SFX(vsigmoid)(vf x) {
  vf e = SFX(vexp)(VXOR(SFX(vabs)(x), VI_AS_F(VI_SET((int32_t)0x80000000u))));
  vf s = VDIV(VSET(1.0f), VADD(VSET(1.0f), e));
  return VSEL(VCMPGE(x, VSET(0.0f)), s, VMUL(e, s));
}

/* log x = e ln2 + log m with m in [sqrt(1/2), sqrt(2)]; log m = 2 atanh s, s = (m-1)/(m+1), by its
 * series to s^11. Denormals are scaled up first; 0, negatives, +inf and NaN as C's log. */
FT static inline vf SFX(vlog)(vf x) {
  vm den = VCMPLT(x, VSET(1.17549435e-38f));
  vf xs = VSEL(den, VMUL(x, VSET(8388608.0f)), x);
  vi bits = VF_AS_I(xs);
  vi ei = VI_SUB(VI_AND(VI_SRAI(bits, 23), VI_SET(0xff)), VI_SET(127));
  vf e = VSUB(VI_TO_F(ei), VSEL(den, VSET(23.0f), VSET(0.0f)));
  vf m = VI_AS_F(VI_OR(VI_AND(bits, VI_SET(0x007fffff)), VI_SET(0x3f800000)));
  vm big = VCMPGT(m, VSET(1.41421356f));
  m = VSEL(big, VMUL(m, VSET(0.5f)), m);
  e = VSEL(big, VADD(e, VSET(1.0f)), e);
  vf s = VDIV(VSUB(m, VSET(1.0f)), VADD(m, VSET(1.0f)));
  vf z = VMUL(s, s);
  vf p = VSET(1.0f / 11.0f);
  p = VFMA(p, z, VSET(1.0f / 9.0f));
  p = VFMA(p, z, VSET(1.0f / 7.0f));
  p = VFMA(p, z, VSET(1.0f / 5.0f));
  p = VFMA(p, z, VSET(1.0f / 3.0f));
  p = VFMA(p, z, VSET(1.0f));
  vf lm = VMUL(VADD(s, s), p);
  vf r = VFMA(e, VSET(0.693145751953125f), VFMA(e, VSET(1.42860682030941723212e-6f), lm));
  r = VSEL(VCMPEQ(x, VSET(0.0f)), VSET(-INFINITY), r);
  r = VSEL(VCMPLT(x, VSET(0.0f)), VSET(NAN), r);
  r = VSEL(VCMPEQ(x, VSET(INFINITY)), x, r);
  return VSEL(VISNAN(x), x, r);
}

/* erf: its Taylor series to x^13 for |x| < 0.5, else 1 - (a1 t + ... + a5 t^5) e^(-x^2) with
 * t = 1 / (1 + p |x|) (Abramowitz and Stegun 7.1.26), with the sign of x. */
FT static inline vf SFX(verf)(vf x) {
  vf a = SFX(vabs)(x);
  vf z = VMUL(x, x);
  vf p = VSET(1.0f / 9360.0f);
  p = VFMA(p, z, VSET(-1.0f / 1320.0f));
  p = VFMA(p, z, VSET(1.0f / 216.0f));
  p = VFMA(p, z, VSET(-1.0f / 42.0f));
  p = VFMA(p, z, VSET(1.0f / 10.0f));
  p = VFMA(p, z, VSET(-1.0f / 3.0f));
  p = VFMA(p, z, VSET(1.0f));
  vf small = VMUL(VMUL(x, VSET(1.12837916709551257f)), p);
  vf t = VDIV(VSET(1.0f), VFMA(a, VSET(0.3275911f), VSET(1.0f)));
  vf q = VSET(1.061405429f);
  q = VFMA(q, t, VSET(-1.453152027f));
  q = VFMA(q, t, VSET(1.421413741f));
  q = VFMA(q, t, VSET(-0.284496736f));
  q = VFMA(q, t, VSET(0.254829592f));
  q = VMUL(q, t);
  vf e = SFX(vexp)(VXOR(z, VI_AS_F(VI_SET((int32_t)0x80000000u))));
  vf big = VOR(VSUB(VSET(1.0f), VMUL(q, e)), SFX(vsign)(x));
  return VSEL(VCMPLT(a, VSET(0.5f)), small, big);
}

/* max / min with NaN in either operand giving NaN (the first one when both are). */
FT static inline vf SFX(vmaxnan)(vf x, vf y) {
  vf r = VMAX(y, x); /* y > x ? y : x */
  r = VSEL(VISNAN(y), y, r);
  return VSEL(VISNAN(x), x, r);
}
FT static inline vf SFX(vminnan)(vf x, vf y) {
  vf r = VMIN(y, x);
  r = VSEL(VISNAN(y), y, r);
  return VSEL(VISNAN(x), x, r);
}

/* ------------------------------------------------------------ elementwise */

/* Runs EXPR (of x, and of the parameters) over n elements of operand a into d. */
#define FAST_UNARY(EXPR)                                        \
  do {                                                          \
    int64_t i = 0;                                              \
    if (sa) {                                                   \
      vf x = VSET(*pa);                                         \
      vf r_ = (EXPR);                                           \
      for (; i + VW <= n; i += VW) VSTORE(d + i, r_);           \
      if (i < n) VSTOREN(d + i, r_, n - i);                     \
    } else {                                                    \
      for (; i + VW <= n; i += VW) {                            \
        vf x = VLOAD(pa + i);                                   \
        VSTORE(d + i, (EXPR));                                  \
      }                                                         \
      if (i < n) {                                              \
        vf x = VLOADN(pa + i, n - i);                           \
        VSTOREN(d + i, (EXPR), n - i);                          \
      }                                                         \
    }                                                           \
  } while (0)

FT static void SFX(unary)(int op, float* d, const float* pa, bool sa, float p0, float p1, int64_t n) {
  const vf P0 = VSET(p0), P1 = VSET(p1), ZERO = VSET(0.0f), ONE = VSET(1.0f);
  switch (op) {
    case FOP_COPY: FAST_UNARY(x); break;
    case FOP_RELU: FAST_UNARY(VMAX(ZERO, x)); break;
    case FOP_LEAKY: FAST_UNARY(VSEL(VCMPLT(x, ZERO), VMUL(x, P0), x)); break;
    case FOP_SIGMOID: FAST_UNARY(SFX(vsigmoid)(x)); break;
    case FOP_TANH: FAST_UNARY(SFX(vtanh)(x)); break;
    case FOP_EXP: FAST_UNARY(SFX(vexp)(x)); break;
    case FOP_LOG: FAST_UNARY(SFX(vlog)(x)); break;
    case FOP_SQRT: FAST_UNARY(VSQRT(x)); break;
    case FOP_NEG: FAST_UNARY(VXOR(x, VI_AS_F(VI_SET((int32_t)0x80000000u)))); break;
    case FOP_ABS: FAST_UNARY(SFX(vabs)(x)); break;
    case FOP_ERF: FAST_UNARY(SFX(verf)(x)); break;
    case FOP_RECIP: FAST_UNARY(VDIV(ONE, x)); break;
    case FOP_CLIP: FAST_UNARY(VMIN(P1, VMAX(P0, x))); break;
    case FOP_HSIG: FAST_UNARY(VMAX(VMIN(VFMA(P0, x, P1), ONE), ZERO)); break;
    case FOP_HSWISH:
      FAST_UNARY(VMUL(x, VMAX(VMIN(VFMA(VSET(1.0f / 6.0f), x, VSET(0.5f)), ONE), ZERO)));
      break;
    case FOP_ELU: FAST_UNARY(VSEL(VCMPLT(x, ZERO), VMUL(P0, SFX(vexpm1)(x)), x)); break;
    case FOP_FLOOR: FAST_UNARY(VFLOOR(x)); break;
    case FOP_CEIL: FAST_UNARY(VCEIL(x)); break;
    case FOP_SQUARE: FAST_UNARY(VMUL(x, x)); break;
    case FOP_CUBE: FAST_UNARY(VMUL(VMUL(x, x), x)); break;
    case FOP_POWHALF: FAST_UNARY(VSEL(VCMPEQ(x, VSET(-INFINITY)), VSET(INFINITY), VSQRT(x))); break;
    case FOP_ONE: FAST_UNARY(VMAX(ONE, VAND(x, ZERO))); break; /* x & 0 is +0, NaN included */
    default: break;
  }
}

/* Runs EXPR (of x and y) over n elements of operands a and b into d, either of which may be a
 * scalar. */
#define FAST_BINARY(EXPR)                                       \
  do {                                                          \
    int64_t i = 0;                                              \
    if (sa && sb) {                                             \
      vf x = VSET(*pa), y = VSET(*pb);                          \
      vf r_ = (EXPR);                                           \
      for (; i + VW <= n; i += VW) VSTORE(d + i, r_);           \
      if (i < n) VSTOREN(d + i, r_, n - i);                     \
    } else if (sa) {                                            \
      vf x = VSET(*pa);                                         \
      for (; i + VW <= n; i += VW) {                            \
        vf y = VLOAD(pb + i);                                   \
        VSTORE(d + i, (EXPR));                                  \
      }                                                         \
      if (i < n) {                                              \
        vf y = VLOADN(pb + i, n - i);                           \
        VSTOREN(d + i, (EXPR), n - i);                          \
      }                                                         \
    } else if (sb) {                                            \
      vf y = VSET(*pb);                                         \
      for (; i + VW <= n; i += VW) {                            \
        vf x = VLOAD(pa + i);                                   \
        VSTORE(d + i, (EXPR));                                  \
      }                                                         \
      if (i < n) {                                              \
        vf x = VLOADN(pa + i, n - i);                           \
        VSTOREN(d + i, (EXPR), n - i);                          \
      }                                                         \
    } else {                                                    \
      for (; i + VW <= n; i += VW) {                            \
        vf x = VLOAD(pa + i), y = VLOAD(pb + i);                \
        VSTORE(d + i, (EXPR));                                  \
      }                                                         \
      if (i < n) {                                              \
        vf x = VLOADN(pa + i, n - i), y = VLOADN(pb + i, n - i); \
        VSTOREN(d + i, (EXPR), n - i);                          \
      }                                                         \
    }                                                           \
  } while (0)

FT static void SFX(binary)(int op, float* d, const float* pa, bool sa, const float* pb, bool sb, int64_t n) {
  const vf ZERO = VSET(0.0f);
  switch (op) {
    case FOP_ADD: FAST_BINARY(VADD(x, y)); break;
    case FOP_SUB: FAST_BINARY(VSUB(x, y)); break;
    case FOP_MUL: FAST_BINARY(VMUL(x, y)); break;
    case FOP_DIV: FAST_BINARY(VDIV(x, y)); break;
    case FOP_MAX: FAST_BINARY(SFX(vmaxnan)(x, y)); break;
    case FOP_MIN: FAST_BINARY(SFX(vminnan)(x, y)); break;
    case FOP_ADD_RELU: FAST_BINARY(VMAX(ZERO, VADD(x, y))); break;
    default: break;
  }
}

/* d = a * b + c (BatchNormalization's scale and shift), or max(0, a * b + c) with relu; a is never
 * a scalar in practice, but may be. RELU(v) is v, or its maximum with 0. */
#define FMA3_BODY(RELU)                                                                                  \
  do {                                                                                                   \
    int64_t i = 0;                                                                                       \
    if (!sa && sb && sc) { /* the common form: per-channel scale and shift over a run of one channel */ \
      vf y = VSET(*pb), z = VSET(*pc);                                                                   \
      for (; i + VW <= n; i += VW) VSTORE(d + i, RELU(VFMA(VLOAD(pa + i), y, z)));                     \
      if (i < n) VSTOREN(d + i, RELU(VFMA(VLOADN(pa + i, n - i), y, z)), n - i);                       \
      break;                                                                                             \
    }                                                                                                    \
    if (!sa && !sb && !sc) { /* per-channel operands folded into rows (fold_rows) */                     \
      for (; i + VW <= n; i += VW) VSTORE(d + i, RELU(VFMA(VLOAD(pa + i), VLOAD(pb + i), VLOAD(pc + i)))); \
    }                                                                                                    \
    for (; i + VW <= n; i += VW) {                                                                       \
      vf x = sa ? VSET(*pa) : VLOAD(pa + i), y = sb ? VSET(*pb) : VLOAD(pb + i),                         \
         z = sc ? VSET(*pc) : VLOAD(pc + i);                                                             \
      VSTORE(d + i, RELU(VFMA(x, y, z)));                                                                \
    }                                                                                                    \
    if (i < n) {                                                                                         \
      int64_t k = n - i;                                                                                 \
      vf x = sa ? VSET(*pa) : VLOADN(pa + i, k), y = sb ? VSET(*pb) : VLOADN(pb + i, k),                 \
         z = sc ? VSET(*pc) : VLOADN(pc + i, k);                                                         \
      VSTOREN(d + i, RELU(VFMA(x, y, z)), k);                                                            \
    }                                                                                                    \
  } while (0)

#define FMA3_PLAIN(v) (v)
#define FMA3_RELU(v) VMAX(ZERO, (v))

FT static void SFX(fma3)(float* d, const float* pa, bool sa, const float* pb, bool sb, const float* pc, bool sc,
                         int64_t n, bool relu) {
  const vf ZERO = VSET(0.0f);
  if (relu) FMA3_BODY(FMA3_RELU);
  else FMA3_BODY(FMA3_PLAIN);
}

#undef FMA3_BODY
#undef FMA3_PLAIN
#undef FMA3_RELU

FT static void SFX(run_block)(const fast_ins_t* ins, int n_ins, const fast_block_t* b) {
  for (int k = 0; k < n_ins; k++) {
    const fast_ins_t* I = &ins[k];
    float* d = I->dst < 0 ? b->out : (float*)b->opnd[I->dst];
    if (I->op < FOP_UNARY_END_)
      SFX(unary)(I->op, d, b->opnd[I->a], b->scalar[I->a], I->p0, I->p1, b->n);
    else if (I->op < FOP_BINARY_END_)
      SFX(binary)(I->op, d, b->opnd[I->a], b->scalar[I->a], b->opnd[I->b], b->scalar[I->b], b->n);
    else
      SFX(fma3)(d, b->opnd[I->a], b->scalar[I->a], b->opnd[I->b], b->scalar[I->b], b->opnd[I->c], b->scalar[I->c],
                b->n, I->op == FOP_FMA_RELU);
  }
}

/* ------------------------------------------------------------------- rows */

/* The first n < VW lanes of p, the others `fill`. */
FT static inline vf SFX(vloadfill)(const float* p, int64_t n, float fill) {
  return VSEL(VLANES(n), VLOADN(p, n), VSET(fill));
}

FT static void SFX(softmax_rows)(const float* x, float* y, int64_t rows, int64_t n, bool log_softmax) {
  for (int64_t r = 0; r < rows; r++, x += n, y += n) {
    /* a NaN may be lost from the maximum, but then it makes the sum NaN, hence every output */
    vf mv = VSET(-INFINITY);
    int64_t i = 0;
    for (; i + VW <= n; i += VW) mv = VMAX(mv, VLOAD(x + i));
    if (i < n) mv = VMAX(mv, SFX(vloadfill)(x + i, n - i, -INFINITY));
    vf m = VSET(VHMAX(mv));
    vf sv = VSET(0.0f);
    for (i = 0; i + VW <= n; i += VW) {
      vf e = SFX(vexp)(VSUB(VLOAD(x + i), m));
      if (!log_softmax) VSTORE(y + i, e);
      sv = VADD(sv, e);
    }
    if (i < n) {
      vf e = SFX(vexp)(VSUB(SFX(vloadfill)(x + i, n - i, -INFINITY), m));
      e = VSEL(VLANES(n - i), e, VSET(0.0f)); /* a NaN maximum must not leak from the padding */
      if (!log_softmax) VSTOREN(y + i, e, n - i);
      sv = VADD(sv, e);
    }
    float s = VHSUM(sv);
    if (log_softmax) {
      vf c = VADD(m, SFX(vlog)(VSET(s)));
      for (i = 0; i + VW <= n; i += VW) VSTORE(y + i, VSUB(VLOAD(x + i), c));
      if (i < n) VSTOREN(y + i, VSUB(VLOADN(x + i, n - i), c), n - i);
    } else {
      vf inv = VDIV(VSET(1.0f), VSET(s));
      for (i = 0; i + VW <= n; i += VW) VSTORE(y + i, VMUL(VLOAD(y + i), inv));
      if (i < n) VSTOREN(y + i, VMUL(VLOADN(y + i, n - i), inv), n - i);
    }
  }
}

FT static float SFX(row_sum)(const float* x, int64_t n) {
  vf s0 = VSET(0.0f), s1 = VSET(0.0f);
  int64_t i = 0;
  for (; i + 2 * VW <= n; i += 2 * VW) {
    s0 = VADD(s0, VLOAD(x + i));
    s1 = VADD(s1, VLOAD(x + i + VW));
  }
  for (; i + VW <= n; i += VW) s0 = VADD(s0, VLOAD(x + i));
  if (i < n) s1 = VADD(s1, VLOADN(x + i, n - i));
  return VHSUM(VADD(s0, s1));
}

FT static void SFX(layernorm_rows)(const float* x, float* y, int64_t rows, int64_t n, const float* scale,
                                   const float* bias, float eps) {
  for (int64_t r = 0; r < rows; r++, x += n, y += n) {
    float mean = SFX(row_sum)(x, n) / (float)n;
    vf m = VSET(mean), sv = VSET(0.0f);
    int64_t i = 0;
    for (; i + VW <= n; i += VW) {
      vf d = VSUB(VLOAD(x + i), m);
      sv = VFMA(d, d, sv);
    }
    if (i < n) {
      vf d = VSEL(VLANES(n - i), VSUB(VLOADN(x + i, n - i), m), VSET(0.0f));
      sv = VFMA(d, d, sv);
    }
    float var = VHSUM(sv) / (float)n;
    vf inv = VDIV(VSET(1.0f), VSQRT(VSET(var + eps)));
    for (i = 0; i + VW <= n; i += VW) {
      vf v = VMUL(VMUL(VSUB(VLOAD(x + i), m), inv), VLOAD(scale + i));
      VSTORE(y + i, bias ? VADD(v, VLOAD(bias + i)) : v);
    }
    if (i < n) {
      int64_t k = n - i;
      vf v = VMUL(VMUL(VSUB(VLOADN(x + i, k), m), inv), VLOADN(scale + i, k));
      VSTOREN(y + i, bias ? VADD(v, VLOADN(bias + i, k)) : v, k);
    }
  }
}

FT static void SFX(sum_rows)(const float* x, float* y, int64_t rows, int64_t n, bool mean) {
  for (int64_t r = 0; r < rows; r++, x += n) {
    float s = SFX(row_sum)(x, n);
    y[r] = mean ? s / (float)n : s;
  }
}

/* y[o, i] = sum over r of x[o, r, i] (mean: divided by R); four vectors of i at a time, for as many
 * independent sums in flight. */
FT static void SFX(sum_middle)(const float* x, float* y, int64_t outer, int64_t R, int64_t inner, bool mean) {
  vf sc = VSET(mean ? 1.0f / (float)R : 1.0f);
  for (int64_t o = 0; o < outer; o++, x += R * inner, y += inner) {
    int64_t i = 0;
    for (; i + 4 * VW <= inner; i += 4 * VW) {
      vf s0 = VSET(0.0f), s1 = VSET(0.0f), s2 = VSET(0.0f), s3 = VSET(0.0f);
      for (int64_t r = 0; r < R; r++) {
        const float* xr = x + r * inner + i;
        s0 = VADD(s0, VLOAD(xr));
        s1 = VADD(s1, VLOAD(xr + VW));
        s2 = VADD(s2, VLOAD(xr + 2 * VW));
        s3 = VADD(s3, VLOAD(xr + 3 * VW));
      }
      VSTORE(y + i, VMUL(s0, sc));
      VSTORE(y + i + VW, VMUL(s1, sc));
      VSTORE(y + i + 2 * VW, VMUL(s2, sc));
      VSTORE(y + i + 3 * VW, VMUL(s3, sc));
    }
    for (; i < inner; i += VW) {
      int64_t k = inner - i < VW ? inner - i : VW;
      vf s = VSET(0.0f);
      for (int64_t r = 0; r < R; r++) s = VADD(s, VLOADN(x + r * inner + i, k));
      VSTOREN(y + i, VMUL(s, sc), k);
    }
  }
}

/* y[c * ldy + r] = x[r * ldx + c] for r < rows, c < cols: 16 x 16 tiles, each transposed in
 * registers where the instruction set has a tile transpose (TRANSPOSE_TILE(x, ldx, y, ldy, nr, nc):
 * a tile of nr rows and nc columns), else element by element (still by tiles, so that both sides
 * stay in cache). */
FT static void SFX(transpose_ld)(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t rows, int64_t cols) {
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    int64_t nr = rows - r0 < 16 ? rows - r0 : 16;
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      int64_t nc = cols - c0 < 16 ? cols - c0 : 16;
      const float* xt = x + r0 * ldx + c0;
      float* yt = y + c0 * ldy + r0;
#ifdef TRANSPOSE_TILE
      if (nr >= 8 && nc >= 8) { /* a thin tile is mostly masked lanes: faster element by element */
        TRANSPOSE_TILE(xt, ldx, yt, ldy, nr, nc);
        continue;
      }
#endif
      for (int64_t c = 0; c < nc; c++)
        for (int64_t r = 0; r < nr; r++) yt[c * ldy + r] = xt[r * ldx + c];
    }
  }
}

FT static void SFX(transpose)(const float* x, float* y, int64_t rows, int64_t cols, int64_t ldy) {
  SFX(transpose_ld)(x, cols, y, ldy, rows, cols);
}

/* y[r * ldy + j] = x[r * ldx + j] for r < rows, j < w: rows of a channels-last concatenation
 * (a few channels each, too short for memcpy's call to pay). */
FT static void SFX(copy_rows)(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t rows, int64_t w) {
  if (w <= 0) return;
  if (w == VW) {
    for (int64_t r = 0; r < rows; r++) VSTORE(y + r * ldy, VLOAD(x + r * ldx));
    return;
  }
  if (w < VW) {
    for (int64_t r = 0; r < rows; r++) VSTOREN(y + r * ldy, VLOADN(x + r * ldx, w), w);
    return;
  }
  for (int64_t r = 0; r < rows; r++) {
    const float* a = x + r * ldx;
    float* b = y + r * ldy;
    int64_t j = 0;
    for (; j + VW <= w; j += VW) VSTORE(b + j, VLOAD(a + j));
    if (j < w) VSTOREN(b + j, VLOADN(a + j, w - j), w - j);
  }
}

/* y[r] = the index of the largest (is_max) or smallest element of row r of x [rows, n], n >= 1, as
 * the reference kernel picks it: the first NaN if there is one, else the first extreme element (with
 * select_last_index, the last of either). One pass for the extreme and for whether there is a NaN,
 * one to find its index. */
FT static void SFX(argext_rows)(const float* x, int64_t rows, int64_t n, bool is_max, bool last, int64_t* y) {
  const vf ZERO = VSET(0.0f), ONE = VSET(1.0f), FLIP = VI_AS_F(VI_SET(is_max ? 0 : (int32_t)0x80000000u));
  for (int64_t r = 0; r < rows; r++) {
    const float* p = x + r * n;
    vf acc = VSET(-INFINITY), nan = ZERO;
    int64_t i = 0;
    for (; i + VW <= n; i += VW) {
      vf v = VXOR(VLOAD(p + i), FLIP); /* a minimum is the maximum of the negated values */
      acc = VMAX(acc, v);
      nan = VMAX(nan, VSEL(VISNAN(v), ONE, ZERO));
    }
    if (i < n) {
      vf v = VXOR(SFX(vloadfill)(p + i, n - i, is_max ? -INFINITY : INFINITY), FLIP);
      acc = VMAX(acc, v);
      nan = VMAX(nan, VSEL(VISNAN(v), ONE, ZERO));
    }
    bool has_nan = VHMAX(nan) > 0.0f;
    float m = VHMAX(acc);
    if (!is_max) m = -m;
    int64_t step = last ? -1 : 1, k = last ? n - 1 : 0;
    while (k + step >= 0 && k + step < n && !(has_nan ? isnan(p[k]) : p[k] == m)) k += step;
    y[r] = k;
  }
}

/* ------------------------------------------------------------------ own kernels (cpu_own.h) */

/* Register blocking: accumulators a tile keeps (of the vector registers: 32 with AVX-512, 16 with
 * AVX2), the most output channels (OWN_MB) and pixels (OWN_MAXP) of a convolution's tile (a matrix
 * product's: weight rows and rows). The tiles are written with loops over
 * arrays whose bounds are constants where they are inlined (the switches below), which the
 * compiler unrolls into registers. */
#if VW >= 16
#define OWN_ACC 24
#define OWN_MM_ACC 16
#elif VW >= 8
#define OWN_ACC 10
#define OWN_MM_ACC 8
#else
#define OWN_ACC 8
#define OWN_MM_ACC 8
#endif
#define OWN_MB (OWN_ACC < 6 ? OWN_ACC : 6)
#define OWN_MAXP 8
#define OWN_P(mb) (OWN_ACC / (mb) > OWN_MAXP ? OWN_MAXP : OWN_ACC / (mb) < 1 ? 1 : OWN_ACC / (mb))
#define OWN_NB(mr) (OWN_MM_ACC / (mr) > OWN_MB ? OWN_MB : OWN_MM_ACC / (mr) < 1 ? 1 : OWN_MM_ACC / (mr))
#define OWN_INLINE FT static inline __attribute__((always_inline))

/* The activations of p over v[0, n), in place, in vectors (the vector math above; NaN passes as in
 * oneDNN's post-ops and the fused groups). */
FT static void SFX(own_acts)(const own_post_t* p, float* v, int64_t n) {
  for (int k = 0; k < p->n_act; k++) {
    const cpu_act_t* a = &p->act[k];
    const vf al = VSET(a->alpha), be = VSET(a->beta), zero = VSET(0.0f), one = VSET(1.0f);
    for (int64_t i = 0; i < n; i += VW) {
      int64_t nl = n - i < VW ? n - i : VW;
      vf x = VLOADN(v + i, nl);
      switch (a->kind) {
        case CPU_ACT_RELU: x = VSEL(VCMPGT(x, zero), x, VMUL(x, al)); break;
        case CPU_ACT_CLIP: x = VSEL(VCMPLT(x, al), al, VSEL(VCMPGT(x, be), be, x)); break;
        case CPU_ACT_SIGMOID: x = SFX(vsigmoid)(x); break;
        case CPU_ACT_TANH: x = SFX(vtanh)(x); break;
        case CPU_ACT_ELU: x = VSEL(VCMPLT(x, zero), VMUL(al, SFX(vexpm1)(x)), x); break;
        case CPU_ACT_HARDSWISH: x = VMUL(x, VMAX(VMIN(VFMA(VSET(1.0f / 6.0f), x, VSET(0.5f)), one), zero)); break;
      }
      if (nl == VW) VSTORE(v + i, x);
      else VSTOREN(v + i, x, nl);
    }
  }
}

/* res[p * MB + m] = sum over t < nkh, j < L of x0[t * xs + p * C + j] * w[m][t * ws + j]: P rows of
 * x C floats apart (a convolution's pixels, a matrix product's rows) by MB rows of weights, over
 * nkh kernel rows of L floats. */
OWN_INLINE void SFX(own_tile)(const float* x0, int64_t xs, int64_t C, const float* const* w, int64_t ws, int64_t nkh,
                              int64_t L, int MB, int P, float* res) {
  vf acc[OWN_MAXP * OWN_MB]; /* [p * MB + m] */
#pragma GCC unroll 32
  for (int i = 0; i < P * MB; i++) acc[i] = VSET(0.0f);
  for (int64_t t = 0; t < nkh; t++) {
    const float* xr = x0 + t * xs;
    int64_t j = 0;
    for (; j + VW <= L; j += VW) {
      vf xv[OWN_MAXP];
#pragma GCC unroll 16
      for (int p = 0; p < P; p++) xv[p] = VLOAD(xr + p * C + j);
#pragma GCC unroll 16
      for (int m = 0; m < MB; m++) {
        vf wv = VLOAD(w[m] + t * ws + j);
#pragma GCC unroll 16
        for (int p = 0; p < P; p++) acc[p * MB + m] = VFMA(xv[p], wv, acc[p * MB + m]);
      }
    }
    if (j < L) { /* the row's tail: masked loads, the other lanes 0 */
      int64_t n = L - j;
      vf xv[OWN_MAXP];
#pragma GCC unroll 16
      for (int p = 0; p < P; p++) xv[p] = VLOADN(xr + p * C + j, n);
#pragma GCC unroll 16
      for (int m = 0; m < MB; m++) {
        vf wv = VLOADN(w[m] + t * ws + j, n);
#pragma GCC unroll 16
        for (int p = 0; p < P; p++) acc[p * MB + m] = VFMA(xv[p], wv, acc[p * MB + m]);
      }
    }
  }
  VHSUMS(acc, P * MB, res);
}

/* Writes the np pixels from (n, oh, ow) by MB output channels from m0 of a tile's results (res,
 * overwritten) with their bias, addend and activations. */
OWN_INLINE void SFX(own_conv_store)(const own_conv_t* c, float* res, const float* btile, int MB, int np, int64_t n,
                                    int64_t oh, int64_t ow, int64_t m0, const float* bias, const float* sum, float* y) {
  const int64_t M = c->M, OHW = c->OH * c->OW, pix = (n * c->OH + oh) * c->OW + ow;
  /* output (p, m) lies at y[pix * M + p * M + m0 + m] (channels-last) or y[(n * M + m0 + m) * OHW + oh *
   * OW + ow + p] */
  const int64_t base = c->y_cl ? pix * M + m0 : (n * M + m0) * OHW + oh * c->OW + ow;
  if (btile) { /* channels-last: vectors of a pixel's channels (of all the tile's pixels when the
                 block holds every channel: one run), then the activations over what was stored */
    const bool run = MB == M;
    const int64_t cnt = run ? (int64_t)np * MB : MB, reps = run ? 1 : np;
    for (int64_t p = 0; p < reps; p++) {
      for (int64_t i = 0; i < cnt; i += VW) {
        int64_t nl = cnt - i < VW ? cnt - i : VW, o = base + p * M + i;
        vf v = VADD(VLOADN(res + p * MB + i, nl), VLOADN(btile + i, nl));
        if (sum) v = VFMA(VSET(c->post.sum_scale), VLOADN(sum + o, nl), v);
        if (nl == VW) VSTORE(y + o, v);
        else VSTOREN(y + o, v, nl);
      }
      SFX(own_acts)(&c->post, y + base + p * M, cnt);
    }
    return;
  }
  const int64_t sp = c->y_cl ? M : 1, sm = c->y_cl ? 1 : OHW;
  if (bias)
    for (int p = 0; p < np; p++)
      for (int m = 0; m < MB; m++) res[p * MB + m] += bias[m0 + m];
  if (sum)
    for (int p = 0; p < np; p++)
      for (int m = 0; m < MB; m++) res[p * MB + m] += c->post.sum_scale * sum[base + p * sp + m * sm];
  SFX(own_acts)(&c->post, res, (int64_t)np * MB);
  for (int p = 0; p < np; p++)
    for (int m = 0; m < MB; m++) y[base + p * sp + m * sm] = res[p * MB + m];
}

/* own_tile for pixels whose windows may stick out of the row: pixel p reads the lanes mk[p][s] of
 * vector s of its span only (the others count as 0); x0 + p * C + j is position j's address whether
 * or not it lies in the image (masked loads do not touch the lanes they leave out). The weights'
 * rows are zero beyond L (up to lw), so they are read whole. */
OWN_INLINE void SFX(own_tile_masked)(const float* x0, int64_t xs, int64_t C, const float* const* w, int64_t ws,
                                     int64_t nkh, int64_t L, const vm* const* mk, int MB, int P, float* res) {
  vf acc[OWN_MAXP * OWN_MB];
#pragma GCC unroll 32
  for (int i = 0; i < P * MB; i++) acc[i] = VSET(0.0f);
  for (int64_t t = 0; t < nkh; t++) {
    const float* xr = x0 + t * xs;
    for (int64_t j = 0, st = 0; j < L; j += VW, st++) {
      vf xv[OWN_MAXP];
#pragma GCC unroll 16
      for (int p = 0; p < P; p++) xv[p] = VLOADM(xr + p * C + j, mk[p][st]);
#pragma GCC unroll 16
      for (int m = 0; m < MB; m++) {
        vf wv = VLOAD(w[m] + t * ws + j);
#pragma GCC unroll 16
        for (int p = 0; p < P; p++) acc[p * MB + m] = VFMA(xv[p], wv, acc[p * MB + m]);
      }
    }
  }
  VHSUMS(acc, P * MB, res);
}

#define OWN_EDGE_COLS 8  /* output columns at the edges whose masks are made once per call */
#define OWN_MAX_STEPS 40 /* ... when a span has at most this many vectors */

/* Output rows [r0, r1), channels [m0, m0 + MB), in tiles of P pixels along each row (the last
 * pixels, fewer than P, one by one): those whose windows lie inside the row (columns [lo, hi))
 * with own_tile, the others with own_tile_masked, whose lane masks (a column's kernel window clipped
 * to the row) are made here once for all rows. */
OWN_INLINE void SFX(own_conv_seg)(const own_conv_t* c, const float* x, int64_t r0, int64_t r1, int64_t m0, int64_t lo,
                                  int64_t hi, const float* bias, const float* sum, float* y, int MB, int P) {
  const int64_t C = c->C, xs = c->W * C, ws = c->lw, wm = c->KH * c->lw, L = c->KW * C;
  const int64_t steps = (L + VW - 1) / VW, n_edge = lo + (c->OW - hi);
  float res[OWN_MAXP * OWN_MB];
  /* the bias of a tile's outputs in their order, when they are stored as vectors */
  float btile_buf[OWN_MAXP * OWN_MB];
  const float* btile = NULL;
  if (c->y_cl) {
    for (int i = 0; i < P * MB; i++) btile_buf[i] = bias ? bias[m0 + i % MB] : 0.0f;
    btile = btile_buf;
  }
  vm inside[OWN_MAX_STEPS], edge[OWN_EDGE_COLS][OWN_MAX_STEPS];
  const bool masks = steps <= OWN_MAX_STEPS && n_edge <= OWN_EDGE_COLS;
  for (int64_t s = 0; masks && s < steps; s++) {
    inside[s] = VRANGE(0, L - s * VW);
    for (int64_t e = 0; e < n_edge; e++) { /* the edge columns: the lo left ones, then the right ones */
      int64_t q = e < lo ? e : hi + (e - lo);
      int64_t kw0 = c->pl - q > 0 ? c->pl - q : 0, kw1 = c->W + c->pl - q < c->KW ? c->W + c->pl - q : c->KW;
      edge[e][s] = kw1 > kw0 ? VRANGE(kw0 * C - s * VW, kw1 * C - s * VW) : VRANGE(0, 0);
    }
  }
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / c->OH, oh = r % c->OH;
    int64_t kh0 = c->pt - oh > 0 ? c->pt - oh : 0, kh1 = c->H + c->pt - oh < c->KH ? c->H + c->pt - oh : c->KH;
    int64_t nkh = kh1 > kh0 ? kh1 - kh0 : 0;
    /* the input row of kernel row kh0 (not read when no kernel row is inside) */
    const float* xrow = x + (n * c->H + (nkh ? oh + kh0 - c->pt : 0)) * xs;
    const float* wb = c->w + (m0 * c->KH + kh0) * c->lw;
    const float* wrow[OWN_MB]; /* channel m's weights from kernel row kh0 */
    for (int m = 0; m < MB; m++) wrow[m] = wb + m * wm;
    for (int64_t ow = 0; ow < c->OW;) {
      int np = c->OW - ow >= P ? P : c->OW - ow >= 2 && P > 2 ? 2 : 1;
      const float* x0 = xrow + (ow - c->pl) * C; /* span position 0 of pixel ow (perhaps outside) */
      if (nkh == 0) { /* no kernel row inside the image: the bias and post-ops alone */
        for (int i = 0; i < np * MB; i++) res[i] = 0.0f;
      } else if (ow >= lo && ow + np <= hi) {
        if (np == P) SFX(own_tile)(x0, xs, C, wrow, ws, nkh, L, MB, P, res);
        else if (np == 2) SFX(own_tile)(x0, xs, C, wrow, ws, nkh, L, MB, 2, res);
        else SFX(own_tile)(x0, xs, C, wrow, ws, nkh, L, MB, 1, res);
      } else if (masks) {
        const vm* mk[OWN_MAXP];
        for (int p = 0; p < np; p++) {
          int64_t q = ow + p;
          mk[p] = q < lo ? edge[q] : q >= hi ? edge[lo + q - hi] : inside;
        }
        if (np == P) SFX(own_tile_masked)(x0, xs, C, wrow, ws, nkh, L, mk, MB, P, res);
        else if (np == 2) SFX(own_tile_masked)(x0, xs, C, wrow, ws, nkh, L, mk, MB, 2, res);
        else SFX(own_tile_masked)(x0, xs, C, wrow, ws, nkh, L, mk, MB, 1, res);
      } else { /* many edge columns or long spans: each pixel alone, its window clipped */
        int64_t kw0 = c->pl - ow > 0 ? c->pl - ow : 0, kw1 = c->W + c->pl - ow < c->KW ? c->W + c->pl - ow : c->KW;
        np = 1;
        const float* wk[OWN_MB];
        for (int m = 0; m < MB; m++) wk[m] = wrow[m] + kw0 * C;
        if (kw1 > kw0)
          SFX(own_tile)(xrow + (ow + kw0 - c->pl) * C, xs, C, wk, ws, nkh, (kw1 - kw0) * C, MB, 1, res);
        else
          for (int i = 0; i < MB; i++) res[i] = 0.0f;
      }
      SFX(own_conv_store)(c, res, btile, MB, np, n, oh, ow, m0, bias, sum, y);
      ow += np;
    }
  }
}

#define OWN_CONV_CASE(mb) \
  case mb: SFX(own_conv_seg)(c, x, r0, r1, m0, lo, hi, bias, sum, y, mb, OWN_P(mb)); break;

FT static void SFX(own_conv_rows)(const own_conv_t* c, const float* x, const float* bias, const float* sum, float* y,
                                  int64_t r0, int64_t r1) {
  /* the columns whose window lies inside the row: ow - pl >= 0 and ow - pl + KW <= W */
  int64_t lo = c->pl < c->OW ? c->pl : c->OW, hi = c->W - c->KW + c->pl + 1;
  if (hi > c->OW) hi = c->OW;
  if (hi < lo) hi = lo;
  /* the channels in blocks of at most OWN_MB, as equal as they come (12: 6 + 6, not 8 + 4); a
   * block's weights stay in the L1 cache while its tiles run along the rows */
  int64_t nblk = (c->M + OWN_MB - 1) / OWN_MB, per = (c->M + nblk - 1) / nblk;
  for (int64_t m0 = 0; m0 < c->M; m0 += per) {
    int64_t mb = c->M - m0 < per ? c->M - m0 : per;
    switch (mb) {
      OWN_CONV_CASE(1)
      OWN_CONV_CASE(2)
      OWN_CONV_CASE(3)
      OWN_CONV_CASE(4)
      OWN_CONV_CASE(5)
      OWN_CONV_CASE(6)
      default: break; /* per <= OWN_MB <= 6 */
    }
  }
}
#undef OWN_CONV_CASE

/* Columns [n0, n1) of an own matrix product of MR rows, NB weight rows at a time (a last, partial
 * tile reads its last row again in the missing ones' places, from the cache, and drops them). */
OWN_INLINE void SFX(own_mm_seg)(const own_mm_t* mm, const float* x, const float* bias, const float* sum, float* y,
                                int64_t n0, int64_t n1, int MR, int NB) {
  const int64_t K = mm->K, N = mm->N;
  float res[OWN_MAXP * OWN_MB];
  for (int64_t n = n0; n < n1; n += NB) {
    const float* wr[OWN_MB];
    for (int b = 0; b < NB; b++) wr[b] = mm->w + (n + b < n1 ? n + b : n1 - 1) * K;
    SFX(own_tile)(x, 0, K, wr, 0, 1, K, NB, MR, res); /* res[i * NB + b] */
    int nb = n1 - n < NB ? (int)(n1 - n) : NB;
    for (int i = 0; i < MR; i++) {
      const float* v = res + i * NB;
      for (int b = 0; b < nb; b++) {
        int64_t o = i * N + n + b; /* the addend may be y itself: read before written */
        y[o] = v[b] + (bias ? bias[n + b] : 0.0f) + (sum ? mm->post.sum_scale * sum[o] : 0.0f);
      }
    }
  }
  for (int i = 0; i < MR; i++) SFX(own_acts)(&mm->post, y + i * N + n0, n1 - n0); /* each row's run at once */
}

FT static void SFX(own_mm_cols)(const own_mm_t* mm, const float* x, const float* bias, const float* sum, float* y,
                                int64_t n0, int64_t n1) {
  switch (mm->M) {
    case 1: SFX(own_mm_seg)(mm, x, bias, sum, y, n0, n1, 1, OWN_NB(1)); break;
    case 2: SFX(own_mm_seg)(mm, x, bias, sum, y, n0, n1, 2, OWN_NB(2)); break;
    case 3: SFX(own_mm_seg)(mm, x, bias, sum, y, n0, n1, 3, OWN_NB(3)); break;
    case 4: SFX(own_mm_seg)(mm, x, bias, sum, y, n0, n1, 4, OWN_NB(4)); break;
    default: break;
  }
}

/* A wide product (mm->nc > 0): the weights packed in tiles of nc columns, tile t as [K][w] (its
 * columns t * nc .. t * nc + w, w = nc but for the last tile, rounded up to whole vectors with
 * zeros). A tile is one sequential stream: for each k, its w weights are multiplied by x[i][k] of
 * each row i into MR x NV vector accumulators. One pass over the weights at the memory's speed,
 * where a dot product per column (or oneDNN's M = 1 product) reads them at half of it. */
#if VW >= 16
#define OWN_WIDE_ACC 24
#elif VW >= 8
#define OWN_WIDE_ACC 12
#else
#define OWN_WIDE_ACC 8
#endif
#define OWN_WIDE_NV 8 /* vectors of a tile (AVX-512: 128 columns) */
#define OWN_WNV(mr) (OWN_WIDE_ACC / (mr) < OWN_WIDE_NV ? OWN_WIDE_ACC / (mr) : OWN_WIDE_NV)

/* The widest tile (in columns) for a product of M rows; 0 when M is not 1 to CPU_OWN_MM_MAX_M. */
FT static int64_t SFX(own_mm_wide_cols)(int64_t M) { return M >= 1 && M <= CPU_OWN_MM_MAX_M ? OWN_WNV(M) * VW : 0; }

/* The accumulators of a tile of NV vectors a row over K: acc[i * NV + j] = sum over k of x[i][k]
 * times the tile's row k (float weights wf, or int8 weights wq when wf is NULL). */
OWN_INLINE void SFX(own_tile_acc)(const float* x, const float* wf, const int8_t* wq, int64_t K, int MR, int NV,
                                  vf* acc) {
#pragma GCC unroll 32
  for (int i = 0; i < MR * NV; i++) acc[i] = VSET(0.0f);
  for (int64_t k = 0; k < K; k++) {
    vf xv[CPU_OWN_MM_MAX_M];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) xv[i] = VSET(x[i * K + k]);
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) {
      vf wv = wf ? VLOAD(wf + (k * NV + j) * VW) : VLOADI8(wq + (k * NV + j) * VW);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) acc[i * NV + j] = VFMA(xv[i], wv, acc[i * NV + j]);
    }
  }
}

/* Tile t (columns n0 .. n0 + cols, its weights w, NV vectors a row) of a wide product of MR rows:
 * the accumulators, then the bias, the addend and the activations of each row's columns. */
OWN_INLINE void SFX(own_wide_tile)(const own_mm_t* mm, const float* x, const float* w, const float* bias,
                                   const float* sum, float* y, int64_t n0, int64_t cols, int MR, int NV) {
  const int64_t N = mm->N;
  vf acc[CPU_OWN_MM_MAX_M * OWN_WIDE_NV];
  SFX(own_tile_acc)(x, w, NULL, mm->K, MR, NV, acc);
  const vf scale = VSET(mm->post.sum_scale);
  for (int i = 0; i < MR; i++) {
    float* yr = y + i * N + n0;
    const float* sr = sum ? sum + i * N + n0 : NULL;
    for (int j = 0; j < NV; j++) {
      int64_t c = j * VW, n = cols - c < VW ? cols - c : VW;
      if (n <= 0) break;
      vf v = acc[i * NV + j];
      if (n == VW) {
        if (bias) v = VADD(v, VLOAD(bias + n0 + c));
        if (sr) v = VFMA(scale, VLOAD(sr + c), v); /* the addend may be y itself: read before written */
        VSTORE(yr + c, v);
      } else {
        if (bias) v = VADD(v, VLOADN(bias + n0 + c, n));
        if (sr) v = VFMA(scale, VLOADN(sr + c, n), v);
        VSTOREN(yr + c, v, n);
      }
    }
    SFX(own_acts)(&mm->post, yr, cols);
  }
}

#define OWN_WIDE_NV_CASE(mr, nv) \
  case nv:                       \
    if (nv <= OWN_WNV(mr)) SFX(own_wide_tile)(mm, x, w, bias, sum, y, n0, cols, mr, nv); \
    break;
#define OWN_WIDE_MR_CASE(mr)                                                                     \
  case mr:                                                                                       \
    switch (nv) {                                                                                \
      OWN_WIDE_NV_CASE(mr, 1)                                                                    \
      OWN_WIDE_NV_CASE(mr, 2)                                                                    \
      OWN_WIDE_NV_CASE(mr, 3)                                                                    \
      OWN_WIDE_NV_CASE(mr, 4)                                                                    \
      OWN_WIDE_NV_CASE(mr, 5)                                                                    \
      OWN_WIDE_NV_CASE(mr, 6)                                                                    \
      OWN_WIDE_NV_CASE(mr, 7)                                                                    \
      OWN_WIDE_NV_CASE(mr, 8)                                                                    \
      default: break; /* nv <= OWN_WNV(mr) <= OWN_WIDE_NV */                                    \
    }                                                                                            \
    break;

/* Tiles [t0, t1) of a wide product. */
FT static void SFX(own_mm_tiles)(const own_mm_t* mm, const float* x, const float* bias, const float* sum, float* y,
                                 int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t++) {
    int64_t n0 = t * mm->nc, cols = mm->N - n0 < mm->nc ? mm->N - n0 : mm->nc;
    int nv = (int)((cols + VW - 1) / VW);
    const float* w = mm->w + n0 * mm->K; /* the tiles before t are nc columns wide */
    switch (mm->M) {
      OWN_WIDE_MR_CASE(1)
      OWN_WIDE_MR_CASE(2)
      OWN_WIDE_MR_CASE(3)
      OWN_WIDE_MR_CASE(4)
      default: break;
    }
  }
}
#undef OWN_WIDE_NV_CASE
#undef OWN_WIDE_MR_CASE

/* The approximate pass of a product read only by an ArgMax (own_am_t): tile t of int8 weights,
 * [K][NV * VW] like a wide product's, times x into MR x NV accumulators; then per column the
 * approximation a = scale * acc + bias + sum_scale * sum, its bound
 * E = x1[i] * err + (|scale * acc| + |bias| + |sum_scale * sum|) * 2^-20 + tiny * scale, and
 * hi = a + E stored; the tile's largest a - E and a + E per row (thi NaN when any hi is not finite:
 * hi - hi is 0 for a finite hi, NaN else, and a sum of them stays NaN). */
OWN_INLINE void SFX(own_am_tile)(const own_am_t* am, const float* x, const int8_t* w, const float* x1,
                                 const float* bias, const float* sum, float* hi, float* tlo, float* thi, int64_t t,
                                 int64_t n0, int64_t cols, int MR, int NV) {
  const int64_t N = am->N;
  vf acc[CPU_OWN_MM_MAX_M * OWN_WIDE_NV];
  SFX(own_tile_acc)(x, NULL, w, am->K, MR, NV, acc);
  const vf sscale = VSET(am->sum_scale), rel = VSET(0x1p-20f), tiny = VSET(am->tiny), ninf = VSET(-INFINITY);
  for (int i = 0; i < MR; i++) {
    const float* sr = sum ? sum + i * N + n0 : NULL;
    float* hr = hi + i * N + n0;
    const vf x1v = VSET(x1[i]);
    vf lo_m = ninf, hi_m = ninf, bad = VSET(0.0f);
    for (int j = 0; j < NV; j++) {
      int64_t c = j * VW, n = cols - c < VW ? cols - c : VW;
      if (n <= 0) break;
      vf sc = n == VW ? VLOAD(am->scale + n0 + c) : VLOADN(am->scale + n0 + c, n);
      vf er = n == VW ? VLOAD(am->err + n0 + c) : VLOADN(am->err + n0 + c, n);
      vf a = VMUL(sc, acc[i * NV + j]);
      vf mag = SFX(vabs)(a);
      if (bias) {
        vf bv = n == VW ? VLOAD(bias + n0 + c) : VLOADN(bias + n0 + c, n);
        a = VADD(a, bv);
        mag = VADD(mag, SFX(vabs)(bv));
      }
      if (sr) {
        vf sv = VMUL(sscale, n == VW ? VLOAD(sr + c) : VLOADN(sr + c, n));
        a = VADD(a, sv);
        mag = VADD(mag, SFX(vabs)(sv));
      }
      vf e = VFMA(x1v, er, VFMA(mag, rel, VMUL(tiny, sc)));
      vf l = VSUB(a, e), h = VADD(a, e);
      bad = VADD(bad, VSUB(h, h));
      if (n == VW) {
        VSTORE(hr + c, h);
      } else {
        VSTOREN(hr + c, h, n);
        vm in = VLANES(n);
        l = VSEL(in, l, ninf);
        h = VSEL(in, h, ninf);
      }
      lo_m = VMAX(l, lo_m);
      hi_m = VMAX(h, hi_m);
    }
    tlo[t * am->M + i] = VHMAX(lo_m);
    thi[t * am->M + i] = VHMAX(hi_m) + VHSUM(bad);
  }
}

#define OWN_AM_NV_CASE(mr, nv) \
  case nv:                     \
    if (nv <= OWN_WNV(mr)) SFX(own_am_tile)(am, x, w, x1, bias, sum, hi, tlo, thi, t, n0, cols, mr, nv); \
    break;
#define OWN_AM_MR_CASE(mr)                                 \
  case mr:                                                 \
    switch (nv) {                                          \
      OWN_AM_NV_CASE(mr, 1)                                \
      OWN_AM_NV_CASE(mr, 2)                                \
      OWN_AM_NV_CASE(mr, 3)                                \
      OWN_AM_NV_CASE(mr, 4)                                \
      OWN_AM_NV_CASE(mr, 5)                                \
      OWN_AM_NV_CASE(mr, 6)                                \
      OWN_AM_NV_CASE(mr, 7)                                \
      OWN_AM_NV_CASE(mr, 8)                                \
      default: break; /* nv <= OWN_WNV(mr) <= OWN_WIDE_NV */ \
    }                                                      \
    break;

/* Tiles [t0, t1) of the approximate pass (am->nc columns a tile, as own_mm_tiles). */
FT static void SFX(own_am_tiles)(const own_am_t* am, const float* x, const float* x1, const float* bias,
                                 const float* sum, float* hi, float* tlo, float* thi, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t++) {
    int64_t n0 = t * am->nc, cols = am->N - n0 < am->nc ? am->N - n0 : am->nc;
    int nv = (int)((cols + VW - 1) / VW);
    const int8_t* w = am->w + n0 * am->K;
    switch (am->M) {
      OWN_AM_MR_CASE(1)
      OWN_AM_MR_CASE(2)
      OWN_AM_MR_CASE(3)
      OWN_AM_MR_CASE(4)
      default: break;
    }
  }
}
#undef OWN_AM_NV_CASE
#undef OWN_AM_MR_CASE
#undef OWN_WIDE_ACC
#undef OWN_WIDE_NV
#undef OWN_WNV

#undef OWN_ACC
#undef OWN_MM_ACC
#undef OWN_MB
#undef OWN_MAXP
#undef OWN_P
#undef OWN_NB
#undef OWN_INLINE
#undef OWN_EDGE_COLS
#undef OWN_MAX_STEPS

static const fast_kernels_t SFX(fast_kernels) = {
    ISA_NAME,        VW,         SFX(run_block), SFX(softmax_rows), SFX(layernorm_rows), SFX(sum_rows),
    SFX(sum_middle), SFX(transpose), SFX(transpose_ld), SFX(copy_rows), SFX(argext_rows), SFX(own_conv_rows), SFX(own_mm_cols),
    SFX(own_mm_tiles), SFX(own_mm_wide_cols), SFX(own_am_tiles),
};

#undef FAST_UNARY
#undef FAST_BINARY

/* the vocabulary, so that the includer can define it again for the next instruction set */
#undef SFX
#undef FT
#undef TRANSPOSE_TILE
#undef ISA_NAME
#undef VW
#undef vf
#undef vi
#undef vm
#undef VLOAD
#undef VSTORE
#undef VLOADN
#undef VRANGE
#undef VLOADM
#undef VSTOREN
#undef VLANES
#undef VSET
#undef VADD
#undef VSUB
#undef VMUL
#undef VDIV
#undef VFMA
#undef VMAX
#undef VMIN
#undef VSQRT
#undef VFLOOR
#undef VCEIL
#undef VRINT
#undef VCMPLT
#undef VCMPLE
#undef VCMPGT
#undef VCMPGE
#undef VCMPEQ
#undef VISNAN
#undef VSEL
#undef VAND
#undef VOR
#undef VXOR
#undef VCVTI
#undef VI_SET
#undef VI_ADD
#undef VI_SUB
#undef VI_AND
#undef VI_OR
#undef VI_SRAI
#undef VI_SLLI
#undef VI_AS_F
#undef VF_AS_I
#undef VI_TO_F
#undef VLOADI8
#undef VHSUM
#undef VHSUMS
#undef VHMAX
