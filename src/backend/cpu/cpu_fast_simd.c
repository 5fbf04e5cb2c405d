/* The fast cpu kernels (cpu_fast_kernels.h) compiled for AVX-512, for AVX2 with FMA and in plain C,
 * each AVX version through function target attributes so that the binary runs on any x86-64 (and
 * the plain C one on anything). cpu_fast_kernels() picks one at run time from what the CPU has. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_fast_internal.h"

#define FAST_UNUSED __attribute__((unused))

/* ------------------------------------------------------------------ scalar C */

static inline int32_t fast_f2i(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof i);
  return i;
}
static inline float fast_i2f(int32_t i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}

#define SFX(name) name##_scalar
#define FT FAST_UNUSED
#define ISA_NAME "scalar"
#define VW 1
#define vf float
#define vi int32_t
#define vm int
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VLOADN(p, n) ((void)(n), *(p))
#define VRANGE(a, b) ((a) <= 0 && (b) > 0)
#define VLOADM(p, m) ((m) ? *(p) : 0.0f)
#define VSTOREN(p, v, n) ((void)(n), *(p) = (v))
#define VLANES(n) ((n) > 0)
#define VSET(x) ((float)(x))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VDIV(a, b) ((a) / (b))
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))
#define VSQRT(a) sqrtf(a)
#define VFLOOR(a) floorf(a)
#define VCEIL(a) ceilf(a)
#define VRINT(a) nearbyintf(a)
#define VCMPLT(a, b) ((a) < (b))
#define VCMPLE(a, b) ((a) <= (b))
#define VCMPGT(a, b) ((a) > (b))
#define VCMPGE(a, b) ((a) >= (b))
#define VCMPEQ(a, b) ((a) == (b))
#define VISNAN(a) isnan(a)
#define VSEL(m, x, y) ((m) ? (x) : (y))
#define VAND(a, b) fast_i2f(fast_f2i(a) & fast_f2i(b))
#define VOR(a, b) fast_i2f(fast_f2i(a) | fast_f2i(b))
#define VXOR(a, b) fast_i2f(fast_f2i(a) ^ fast_f2i(b))
#define VCVTI(a) (isnan(a) ? 0 : (int32_t)(a)) /* a holds a small integer here */
#define VI_SET(x) ((int32_t)(x))
#define VI_ADD(a, b) ((a) + (b))
#define VI_SUB(a, b) ((a) - (b))
#define VI_AND(a, b) ((a) & (b))
#define VI_OR(a, b) ((a) | (b))
#define VI_SRAI(a, k) ((a) >> (k))
#define VI_SLLI(a, k) ((int32_t)((uint32_t)(a) << (k)))
#define VI_AS_F(a) fast_i2f(a)
#define VF_AS_I(a) fast_f2i(a)
#define VI_TO_F(a) ((float)(a))
#define VLOADI8(p) ((float)*(p))
#define VHSUM(v) (v)
#define VHSUMS(a, n, out) memcpy((out), (a), (size_t)(n) * sizeof(float))
#define VHMAX(v) (v)
#include "backend/cpu/cpu_fast_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* ------------------------------------------------------------------ AVX2 + FMA */

#define FT FAST_UNUSED __attribute__((target("avx2,fma")))

FT static inline float fast_hsum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
FT static inline float fast_hmax_avx2(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}
FT static inline __m256i fast_lanes_avx2(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* lanes a <= i < b (a and b clamped to [-1, 8]) */
FT static inline __m256i fast_range_avx2(int64_t a, int64_t b) {
  a = a < -1 ? -1 : a > 8 ? 8 : a;
  b = b < -1 ? -1 : b > 8 ? 8 : b;
  __m256i i = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)a), i), _mm256_cmpgt_epi32(_mm256_set1_epi32((int)b), i));
}

#define SFX(name) name##_avx2
#define ISA_NAME "avx2"
#define VW 8
#define vf __m256
#define vi __m256i
#define vm __m256
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VLOADN(p, n) _mm256_maskload_ps((p), fast_lanes_avx2(n))
#define VRANGE(a, b) _mm256_castsi256_ps(fast_range_avx2((a), (b)))
#define VLOADM(p, m) _mm256_maskload_ps((p), _mm256_castps_si256(m))
#define VSTOREN(p, v, n) _mm256_maskstore_ps((p), fast_lanes_avx2(n), (v))
#define VLANES(n) _mm256_castsi256_ps(fast_lanes_avx2(n))
#define VSET(x) _mm256_set1_ps((float)(x))
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VSUB(a, b) _mm256_sub_ps((a), (b))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VDIV(a, b) _mm256_div_ps((a), (b))
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VMAX(a, b) _mm256_max_ps((a), (b))
#define VMIN(a, b) _mm256_min_ps((a), (b))
#define VSQRT(a) _mm256_sqrt_ps(a)
#define VFLOOR(a) _mm256_floor_ps(a)
#define VCEIL(a) _mm256_ceil_ps(a)
#define VRINT(a) _mm256_round_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCMPLT(a, b) _mm256_cmp_ps((a), (b), _CMP_LT_OQ)
#define VCMPLE(a, b) _mm256_cmp_ps((a), (b), _CMP_LE_OQ)
#define VCMPGT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define VCMPGE(a, b) _mm256_cmp_ps((a), (b), _CMP_GE_OQ)
#define VCMPEQ(a, b) _mm256_cmp_ps((a), (b), _CMP_EQ_OQ)
#define VISNAN(a) _mm256_cmp_ps((a), (a), _CMP_UNORD_Q)
#define VSEL(m, x, y) _mm256_blendv_ps((y), (x), (m))
#define VAND(a, b) _mm256_and_ps((a), (b))
#define VOR(a, b) _mm256_or_ps((a), (b))
#define VXOR(a, b) _mm256_xor_ps((a), (b))
#define VCVTI(a) _mm256_cvtps_epi32(a)
#define VI_SET(x) _mm256_set1_epi32((int)(x))
#define VI_ADD(a, b) _mm256_add_epi32((a), (b))
#define VI_SUB(a, b) _mm256_sub_epi32((a), (b))
#define VI_AND(a, b) _mm256_and_si256((a), (b))
#define VI_OR(a, b) _mm256_or_si256((a), (b))
#define VI_SRAI(a, k) _mm256_srai_epi32((a), (k))
#define VI_SLLI(a, k) _mm256_slli_epi32((a), (k))
#define VI_AS_F(a) _mm256_castsi256_ps(a)
#define VF_AS_I(a) _mm256_castps_si256(a)
#define VI_TO_F(a) _mm256_cvtepi32_ps(a)
#define VLOADI8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(const void*)(p))))
#define VHSUM(v) fast_hsum_avx2(v)
#define VHSUMS(a, n, out)                                           \
  do {                                                              \
    for (int i_ = 0; i_ < (n); i_++) (out)[i_] = fast_hsum_avx2((a)[i_]); \
  } while (0)
#define VHMAX(v) fast_hmax_avx2(v)
#include "backend/cpu/cpu_fast_kernels.h"

/* ------------------------------------------------------------------ AVX-512 */

#define FT FAST_UNUSED __attribute__((target("avx512f")))

FT static inline __mmask16 fast_lanes_avx512(int64_t n) { return (__mmask16)((1u << (unsigned)n) - 1u); }
/* lanes a <= i < b */
FT static inline __mmask16 fast_range_avx512(int64_t a, int64_t b) {
  a = a < 0 ? 0 : a > 16 ? 16 : a;
  b = b < 0 ? 0 : b > 16 ? 16 : b;
  return (__mmask16)(((1u << (unsigned)b) - 1u) & ~((1u << (unsigned)a) - 1u));
}
FT static inline __m512 fast_and_avx512(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
FT static inline __m512 fast_or_avx512(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
FT static inline __m512 fast_xor_avx512(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}

/* A tile of nr rows and nc columns (at most 16 each) of x (row stride ldx) transposed into y (row
 * stride ldy): rows loaded as vectors (missing rows zero, missing columns masked), then
 * interleaved in three rounds (32-bit elements, 64-bit pairs, 128-bit lanes), after which vector k
 * holds column tile_col[k]; each column is stored as a row of y, its nr lanes masked. */
FT static inline void fast_transpose_tile_avx512(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t nr,
                                                int64_t nc) {
  static const int tile_col[16] = {0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15};
  __mmask16 cm = fast_lanes_avx512(nc), rm = fast_lanes_avx512(nr);
  __m512 v[16], t[16];
  for (int i = 0; i < 16; i++) v[i] = i < nr ? _mm512_maskz_loadu_ps(cm, x + i * ldx) : _mm512_setzero_ps();
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
    __m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    v[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    v[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    v[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    v[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int i = 0; i < 8; i++) {
    int a = (i / 4) * 8 + i % 4;
    t[2 * i] = _mm512_shuffle_f32x4(v[a], v[a + 4], 0x88);
    t[2 * i + 1] = _mm512_shuffle_f32x4(v[a], v[a + 4], 0xdd);
  }
  for (int i = 0; i < 8; i++) {
    int c0 = tile_col[i], c1 = tile_col[i + 8];
    if (c0 < nc) _mm512_mask_storeu_ps(y + c0 * ldy, rm, _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88));
    if (c1 < nc) _mm512_mask_storeu_ps(y + c1 * ldy, rm, _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd));
  }
}
#define TRANSPOSE_TILE fast_transpose_tile_avx512

/* out[i] = the sum of the lanes of a[i] for i < n (VHSUMS), 16 at a time in 45 instructions instead
 * of 16 * 8: pairs interleaved and added within 128-bit blocks (twice), then the blocks of four
 * vectors combined (twice), lane i of the last ending up with vector i's sum. A macro, so that `a`
 * (a tile's accumulators) is read element by element and may stay in registers. */
#define FAST_HSUMS_AVX512(a, n, out)                                                                       \
  do {                                                                                                     \
    _Pragma("GCC unroll 4") for (int g_ = 0; g_ < (n); g_ += 16) {                                         \
      int k_ = (n) - g_ < 16 ? (n) - g_ : 16;                                                              \
      __m512 t_[8], u_[4];                                                                                 \
      _Pragma("GCC unroll 8") for (int i_ = 0; i_ < 8; i_++) {                                             \
        __m512 x_ = 2 * i_ < k_ ? (a)[g_ + 2 * i_] : _mm512_setzero_ps();                                  \
        __m512 y_ = 2 * i_ + 1 < k_ ? (a)[g_ + 2 * i_ + 1] : _mm512_setzero_ps();                          \
        t_[i_] = _mm512_add_ps(_mm512_unpacklo_ps(x_, y_), _mm512_unpackhi_ps(x_, y_));                    \
      }                                                                                                    \
      _Pragma("GCC unroll 4") for (int i_ = 0; i_ < 4; i_++) {                                             \
        __m512d x_ = _mm512_castps_pd(t_[2 * i_]), y_ = _mm512_castps_pd(t_[2 * i_ + 1]);                  \
        u_[i_] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x_, y_)),                              \
                               _mm512_castpd_ps(_mm512_unpackhi_pd(x_, y_)));                              \
      }                                                                                                    \
      __m512 w0_ = _mm512_add_ps(_mm512_shuffle_f32x4(u_[0], u_[1], 0x88), _mm512_shuffle_f32x4(u_[0], u_[1], 0xdd)); \
      __m512 w1_ = _mm512_add_ps(_mm512_shuffle_f32x4(u_[2], u_[3], 0x88), _mm512_shuffle_f32x4(u_[2], u_[3], 0xdd)); \
      __m512 r_ = _mm512_add_ps(_mm512_shuffle_f32x4(w0_, w1_, 0x88), _mm512_shuffle_f32x4(w0_, w1_, 0xdd));       \
      _mm512_mask_storeu_ps((out) + g_, fast_lanes_avx512(k_), r_);                                        \
    }                                                                                                      \
  } while (0)

#define SFX(name) name##_avx512
#define ISA_NAME "avx512"
#define VW 16
#define vf __m512
#define vi __m512i
#define vm __mmask16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VLOADN(p, n) _mm512_maskz_loadu_ps(fast_lanes_avx512(n), (p))
#define VRANGE(a, b) fast_range_avx512((a), (b))
#define VLOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define VSTOREN(p, v, n) _mm512_mask_storeu_ps((p), fast_lanes_avx512(n), (v))
#define VLANES(n) fast_lanes_avx512(n)
#define VSET(x) _mm512_set1_ps((float)(x))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VSUB(a, b) _mm512_sub_ps((a), (b))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VDIV(a, b) _mm512_div_ps((a), (b))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VMAX(a, b) _mm512_max_ps((a), (b))
#define VMIN(a, b) _mm512_min_ps((a), (b))
#define VSQRT(a) _mm512_sqrt_ps(a)
#define VFLOOR(a) _mm512_roundscale_ps((a), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
#define VCEIL(a) _mm512_roundscale_ps((a), _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC)
#define VRINT(a) _mm512_roundscale_ps((a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCMPLT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LT_OQ)
#define VCMPLE(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_LE_OQ)
#define VCMPGT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GT_OQ)
#define VCMPGE(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GE_OQ)
#define VCMPEQ(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_EQ_OQ)
#define VISNAN(a) _mm512_cmp_ps_mask((a), (a), _CMP_UNORD_Q)
#define VSEL(m, x, y) _mm512_mask_blend_ps((m), (y), (x))
#define VAND(a, b) fast_and_avx512((a), (b))
#define VOR(a, b) fast_or_avx512((a), (b))
#define VXOR(a, b) fast_xor_avx512((a), (b))
#define VCVTI(a) _mm512_cvtps_epi32(a)
#define VI_SET(x) _mm512_set1_epi32((int)(x))
#define VI_ADD(a, b) _mm512_add_epi32((a), (b))
#define VI_SUB(a, b) _mm512_sub_epi32((a), (b))
#define VI_AND(a, b) _mm512_and_si512((a), (b))
#define VI_OR(a, b) _mm512_or_si512((a), (b))
#define VI_SRAI(a, k) _mm512_srai_epi32((a), (k))
#define VI_SLLI(a, k) _mm512_slli_epi32((a), (k))
#define VI_AS_F(a) _mm512_castsi512_ps(a)
#define VF_AS_I(a) _mm512_castps_si512(a)
#define VI_TO_F(a) _mm512_cvtepi32_ps(a)
#define VLOADI8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(const void*)(p))))
#define VHSUM(v) _mm512_reduce_add_ps(v)
#define VHSUMS(a, n, out) FAST_HSUMS_AVX512(a, n, out)
#define VHMAX(v) _mm512_reduce_max_ps(v)
#include "backend/cpu/cpu_fast_kernels.h"

#endif /* x86 */

const fast_kernels_t* cpu_fast_kernels(void) {
  const char* cap = getenv("DYCL_CPU_ISA");
  if (cap && !*cap) cap = NULL;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if ((!cap || !strcmp(cap, "avx512")) && __builtin_cpu_supports("avx512f")) return &fast_kernels_avx512;
  if ((!cap || strcmp(cap, "scalar")) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return &fast_kernels_avx2;
#endif
  return &fast_kernels_scalar;
}
