// The AVX-512 mapping: a 16-lane float vector and the few operations the
// generic kernels in vector_kernels.h and simd_math.h are written in.
//
// This is the only file that names AVX-512 intrinsics. It is included only by
// kernels_avx512.cpp, which is compiled with -mavx512f -mavx512dq and runs
// only after CPUID reports those features. simd_avx2.h is the 8-lane twin.
#pragma once

// GCC 12's AVX-512 intrinsics pass a deliberately undefined merge operand,
// which its uninitialized-value warnings report after inlining (GCC bug
// 105593). The warnings are located in the intrinsics header, so turning them
// off around its inclusion silences only those.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "autodiff/kernels/simd_avx2.h"  // the 256-bit block transposes

namespace ember::kernels::avx512 {

struct Vec {
  static constexpr int64_t lanes = 16;
  using Mask = __mmask16;

  __m512 v;

  static Vec zero() { return {_mm512_setzero_ps()}; }
  static Vec broadcast(float x) { return {_mm512_set1_ps(x)}; }

  // Loads and stores take any float alignment.
  static Vec load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static void store(float* p, Vec x) { _mm512_storeu_ps(p, x.v); }

  // Loads the first `count` floats (0 <= count <= lanes) and sets the other
  // lanes to `fill`; memory past p + count is not touched.
  static Vec load_partial(const float* p, int64_t count, float fill = 0.0f) {
    return {_mm512_mask_loadu_ps(_mm512_set1_ps(fill), first_lanes(count), p)};
  }
  static void store_partial(float* p, int64_t count, Vec x) {
    _mm512_mask_storeu_ps(p, first_lanes(count), x.v);
  }

  friend Vec operator+(Vec a, Vec b) { return {_mm512_add_ps(a.v, b.v)}; }
  friend Vec operator-(Vec a, Vec b) { return {_mm512_sub_ps(a.v, b.v)}; }
  friend Vec operator*(Vec a, Vec b) { return {_mm512_mul_ps(a.v, b.v)}; }
  friend Vec operator/(Vec a, Vec b) { return {_mm512_div_ps(a.v, b.v)}; }

  // a * b + c with one rounding.
  static Vec fma(Vec a, Vec b, Vec c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
  // Like the x86 instructions, max and min return b when either is NaN or
  // both are zeros.
  static Vec max(Vec a, Vec b) { return {_mm512_max_ps(a.v, b.v)}; }
  static Vec min(Vec a, Vec b) { return {_mm512_min_ps(a.v, b.v)}; }
  static Vec sqrt(Vec a) { return {_mm512_sqrt_ps(a.v)}; }
  static Vec abs(Vec a) { return {_mm512_abs_ps(a.v)}; }
  // Rounds to the nearest integer, ties to even.
  static Vec round(Vec a) {
    return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
  }

  // Comparisons are ordered: they are false when either operand is NaN.
  static Mask less(Vec a, Vec b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ); }
  static Mask greater(Vec a, Vec b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ); }
  static Mask equal(Vec a, Vec b) { return _mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ); }
  static Mask is_nan(Vec a) { return _mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q); }
  // Max pooling's rule for a later candidate: !(value <= best) && best ==
  // best, so a larger value or a NaN over a number, and never over a NaN.
  static Mask takes(Vec value, Vec best) {
    return _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(best.v, best.v, _CMP_ORD_Q), value.v,
                                   best.v, _CMP_NLE_UQ);
  }
  static Vec select(Mask m, Vec if_true, Vec if_false) {
    return {_mm512_mask_blend_ps(m, if_false.v, if_true.v)};
  }

  // Returns x * 2^n for integer-valued n in [-252, 254] (the range the AVX2
  // twin accepts), rounding once.
  static Vec scale_by_power_of_two(Vec x, Vec n) { return {_mm512_scalef_ps(x.v, n.v)}; }

  // Splits a positive normal x into mantissa in [1, 2) and integer exponent,
  // so x = mantissa * 2^exponent.
  static Vec split_exponent(Vec x, Vec* exponent) {
    *exponent = {_mm512_getexp_ps(x.v)};
    return {_mm512_getmant_ps(x.v, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src)};
  }

  static float first(Vec a) { return _mm512_cvtss_f32(a.v); }
  static float reduce_add(Vec a) { return _mm512_reduce_add_ps(a.v); }
  static float reduce_max(Vec a) { return _mm512_reduce_max_ps(a.v); }

  // Pairs for the Winograd kernels, as in simd_avx2.h: deinterleave splits
  // lo = x0..x15 and hi = x16..x31 into even and odd elements, interleave
  // is its inverse, and shift_in returns previous[15], current[0..14].
  static void deinterleave(Vec lo, Vec hi, Vec& even, Vec& odd) {
    even = {_mm512_permutex2var_ps(lo.v, every_other(0), hi.v)};
    odd = {_mm512_permutex2var_ps(lo.v, every_other(1), hi.v)};
  }
  static void interleave(Vec even, Vec odd, Vec& lo, Vec& hi) {
    // Index i < 16 picks even[i], 16 + i picks odd[i].
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22,
                                            7, 23);
    const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14,
                                             30, 15, 31);
    lo = {_mm512_permutex2var_ps(even.v, first, odd.v)};
    hi = {_mm512_permutex2var_ps(even.v, second, odd.v)};
  }
  static Vec shift_in(Vec previous, Vec current) {
    // current:previous as 32 lanes, shifted down by 15.
    return {_mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(current.v),
                                                    _mm512_castps_si512(previous.v), 15))};
  }

  // Returns p[0], p[step], ..., p[15 step] for step 1, 2 or 3. It reads the
  // 16 step floats from p, up to p[16 step - 1]. Loads and permutations
  // replaced a gather here, and with the index stores below they made the
  // pooled forward of model B's first layer 1.6x faster (32 x 90 images).
  static Vec load_strided(const float* p, int64_t step) {
    const __m512 a = _mm512_loadu_ps(p);
    if (step == 1) {
      return {a};
    }
    const __m512 b = _mm512_loadu_ps(p + 16);
    if (step == 2) {
      return {_mm512_permutex2var_ps(a, every_other(0), b)};
    }
    // step 3: elements 0, 3, .., 30 of a:b go to lanes 0 to 10, then lanes
    // 11 to 15 take elements 33, 36, .., 45, which are c's 1, 4, .., 13.
    const __m512 c = _mm512_loadu_ps(p + 32);
    const __m512i from_ab = _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0, 0, 0,
                                              0, 0);
    const __m512i from_c = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 20, 23, 26,
                                             29);
    return {_mm512_permutex2var_ps(_mm512_permutex2var_ps(a, from_ab, b), from_c, c)};
  }

  // Returns base[index[0]], ..., base[index[15]].
  static Vec gather(const float* base, const int32_t* index) {
    return {_mm512_i32gather_ps(_mm512_loadu_si512(index), base, 4)};
  }

  // Index stores for max pooling's argmax, whose offsets are exact integers
  // held as floats: p[i] = first + i step + offsets[i], or
  // p[i] = bases[i] + offsets[i].
  static void store_indices(int32_t* p, int32_t first, int32_t step, Vec offsets) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i start = _mm512_add_epi32(_mm512_set1_epi32(first),
                                           _mm512_mullo_epi32(lane, _mm512_set1_epi32(step)));
    _mm512_storeu_si512(p, _mm512_add_epi32(start, _mm512_cvttps_epi32(offsets.v)));
  }
  static void store_indices(int32_t* p, const int32_t* bases, Vec offsets) {
    _mm512_storeu_si512(p, _mm512_add_epi32(_mm512_loadu_si512(bases),
                                            _mm512_cvttps_epi32(offsets.v)));
  }

  // Block transposes for GEMM packing: out[j * ld_out + i] = rows[i][j].
  // These call the AVX2 ones: packing moves data rather than computing, so
  // 512-bit registers would gain little there (an estimate, not measured).
  static void transpose_4x8(const float* const* rows, float* out, int64_t ld_out) {
    avx2::transpose_4x8(rows, out, ld_out);
  }
  static void transpose_8x8(const float* const* rows, float* out, int64_t ld_out) {
    avx2::transpose_8x8(rows, out, ld_out);
  }

 private:
  // Returns the indices of the even (parity 0) or odd (parity 1) elements
  // of two vectors taken as 32 lanes.
  static __m512i every_other(int parity) {
    return _mm512_add_epi32(_mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                              28, 30),
                            _mm512_set1_epi32(parity));
  }
  static __mmask16 first_lanes(int64_t count) {
    return static_cast<__mmask16>((1u << count) - 1u);
  }
};

}  // namespace ember::kernels::avx512
