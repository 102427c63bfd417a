// The AVX2+FMA mapping: an 8-lane float vector and the few operations the
// generic kernels in vector_kernels.h and simd_math.h are written in.
//
// This is the only file that names AVX2 intrinsics. It is included by
// kernels_avx2.cpp, which is compiled with -mavx2 -mfma and runs only after
// CPUID reports both, and by simd_avx512.h for the block transposes below.
// simd_avx512.h is the 16-lane twin.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ember::kernels::avx2 {

struct Vec {
  static constexpr int64_t lanes = 8;
  // A lane of a mask is all ones (true) or all zeros (false).
  using Mask = __m256;

  __m256 v;

  static Vec zero() { return {_mm256_setzero_ps()}; }
  static Vec broadcast(float x) { return {_mm256_set1_ps(x)}; }

  // Loads and stores take any float alignment.
  static Vec load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static void store(float* p, Vec x) { _mm256_storeu_ps(p, x.v); }

  // Loads the first `count` floats (0 <= count <= lanes) and sets the other
  // lanes to `fill`; memory past p + count is not touched.
  static Vec load_partial(const float* p, int64_t count, float fill = 0.0f) {
    const __m256i mask = first_lanes(count);
    const __m256 loaded = _mm256_maskload_ps(p, mask);
    return {_mm256_blendv_ps(_mm256_set1_ps(fill), loaded, _mm256_castsi256_ps(mask))};
  }
  static void store_partial(float* p, int64_t count, Vec x) {
    _mm256_maskstore_ps(p, first_lanes(count), x.v);
  }

  friend Vec operator+(Vec a, Vec b) { return {_mm256_add_ps(a.v, b.v)}; }
  friend Vec operator-(Vec a, Vec b) { return {_mm256_sub_ps(a.v, b.v)}; }
  friend Vec operator*(Vec a, Vec b) { return {_mm256_mul_ps(a.v, b.v)}; }
  friend Vec operator/(Vec a, Vec b) { return {_mm256_div_ps(a.v, b.v)}; }

  // a * b + c with one rounding.
  static Vec fma(Vec a, Vec b, Vec c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
  // Like the x86 instructions, max and min return b when either is NaN or
  // both are zeros.
  static Vec max(Vec a, Vec b) { return {_mm256_max_ps(a.v, b.v)}; }
  static Vec min(Vec a, Vec b) { return {_mm256_min_ps(a.v, b.v)}; }
  static Vec sqrt(Vec a) { return {_mm256_sqrt_ps(a.v)}; }
  static Vec abs(Vec a) {
    return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v)};
  }
  // Rounds to the nearest integer, ties to even.
  static Vec round(Vec a) {
    return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)};
  }

  // Comparisons are ordered: they are false when either operand is NaN.
  static Mask less(Vec a, Vec b) { return _mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ); }
  static Mask greater(Vec a, Vec b) { return _mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ); }
  static Mask equal(Vec a, Vec b) { return _mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ); }
  static Mask is_nan(Vec a) { return _mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q); }
  // Max pooling's rule for a later candidate: !(value <= best) && best ==
  // best, so a larger value or a NaN over a number, and never over a NaN.
  static Mask takes(Vec value, Vec best) {
    return _mm256_and_ps(_mm256_cmp_ps(value.v, best.v, _CMP_NLE_UQ),
                         _mm256_cmp_ps(best.v, best.v, _CMP_ORD_Q));
  }
  static Vec select(Mask m, Vec if_true, Vec if_false) {
    return {_mm256_blendv_ps(if_false.v, if_true.v, m)};
  }

  // Returns x * 2^n for integer-valued n in [-252, 254], rounding once. The
  // power is applied in two halves so that each factor 2^h is a normal float.
  // For the x in [0.5, 2] that exp produces, the first product is exact.
  static Vec scale_by_power_of_two(Vec x, Vec n) {
    const __m256i whole = _mm256_cvtps_epi32(n.v);
    const __m256i first = _mm256_srai_epi32(whole, 1);
    const __m256i second = _mm256_sub_epi32(whole, first);
    return {_mm256_mul_ps(_mm256_mul_ps(x.v, power_of_two(first)), power_of_two(second))};
  }

  // Splits a positive normal x into mantissa in [1, 2) and integer exponent,
  // so x = mantissa * 2^exponent.
  static Vec split_exponent(Vec x, Vec* exponent) {
    const __m256i bits = _mm256_castps_si256(x.v);
    const __m256i biased = _mm256_srli_epi32(bits, 23);
    *exponent = {_mm256_cvtepi32_ps(_mm256_sub_epi32(biased, _mm256_set1_epi32(127)))};
    const __m256i mantissa_bits = _mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff));
    const __m256i one_bits = _mm256_set1_epi32(0x3f800000);
    return {_mm256_castsi256_ps(_mm256_or_si256(mantissa_bits, one_bits))};
  }

  // Returns p[0], p[step], ..., p[7 step] for step 1, 2 or 3. It reads the
  // 8 step floats from p, up to p[8 step - 1].
  static Vec load_strided(const float* p, int64_t step) {
    if (step == 1) {
      return load(p);
    }
    const __m256 a = _mm256_loadu_ps(p);
    const __m256 b = _mm256_loadu_ps(p + 8);
    if (step == 2) {
      // Lanes a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs in order 0 2 1 3.
      const __m256 pairs = _mm256_shuffle_ps(a, b, 0x88);
      return {_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(pairs), 0xD8))};
    }
    // step 3: each lane i contains a wanted element (3 j, for some j) in
    // exactly one of a, b and c, so two blends gather them (a0 b1 c2 a3 b4
    // c5 a6 b7 = elements 0 9 18 3 12 21 6 15) and one permutation puts
    // them in order.
    const __m256 c = _mm256_loadu_ps(p + 16);
    const __m256 mixed = _mm256_blend_ps(_mm256_blend_ps(a, b, 0x92), c, 0x24);
    return {_mm256_permutevar8x32_ps(mixed, _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5))};
  }

  // Pairs for the Winograd kernels. deinterleave splits lo = x0..x7 and
  // hi = x8..x15 into even = x0 x2 .. x14 and odd = x1 x3 .. x15;
  // interleave is its inverse.
  static void deinterleave(Vec lo, Vec hi, Vec& even, Vec& odd) {
    // Within each 128-bit half: lo's pairs, then hi's; then 64-bit blocks 0 2 1 3.
    const __m256 evens = _mm256_shuffle_ps(lo.v, hi.v, 0x88);
    const __m256 odds = _mm256_shuffle_ps(lo.v, hi.v, 0xDD);
    even = {_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(evens), 0xD8))};
    odd = {_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odds), 0xD8))};
  }
  static void interleave(Vec even, Vec odd, Vec& lo, Vec& hi) {
    // unpacklo: e0 o0 e1 o1 | e4 o4 e5 o5, unpackhi: e2 o2 e3 o3 | e6 o6 e7 o7.
    const __m256 low_pairs = _mm256_unpacklo_ps(even.v, odd.v);
    const __m256 high_pairs = _mm256_unpackhi_ps(even.v, odd.v);
    lo = {_mm256_permute2f128_ps(low_pairs, high_pairs, 0x20)};
    hi = {_mm256_permute2f128_ps(low_pairs, high_pairs, 0x31)};
  }
  // Returns previous[7], current[0], ..., current[6].
  static Vec shift_in(Vec previous, Vec current) {
    // halves = previous[4..7] | current[0..3]; each 128-bit half of the
    // result is its 16 bytes shifted by 12 with current's matching half.
    const __m256 halves = _mm256_permute2f128_ps(previous.v, current.v, 0x21);
    return {_mm256_castsi256_ps(_mm256_alignr_epi8(_mm256_castps_si256(current.v),
                                                   _mm256_castps_si256(halves), 12))};
  }

  // Returns base[index[0]], ..., base[index[7]].
  static Vec gather(const float* base, const int32_t* index) {
    const __m256i offsets = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index));
    return {_mm256_i32gather_ps(base, offsets, 4)};
  }

  // Index stores for max pooling's argmax, whose offsets are exact integers
  // held as floats: p[i] = first + i step + offsets[i], or
  // p[i] = bases[i] + offsets[i].
  static void store_indices(int32_t* p, int32_t first, int32_t step, Vec offsets) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i start = _mm256_add_epi32(_mm256_set1_epi32(first),
                                           _mm256_mullo_epi32(lane, _mm256_set1_epi32(step)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm256_add_epi32(start, _mm256_cvttps_epi32(offsets.v)));
  }
  static void store_indices(int32_t* p, const int32_t* bases, Vec offsets) {
    const __m256i loaded = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bases));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                        _mm256_add_epi32(loaded, _mm256_cvttps_epi32(offsets.v)));
  }

  // Block transposes for GEMM packing: out[j * ld_out + i] = rows[i][j].
  static void transpose_4x8(const float* const* rows, float* out, int64_t ld_out);
  static void transpose_8x8(const float* const* rows, float* out, int64_t ld_out);

  static float first(Vec a) { return _mm256_cvtss_f32(a.v); }
  static float reduce_add(Vec a) {
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    return _mm_cvtss_f32(sum);
  }
  static float reduce_max(Vec a) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }

 private:
  // Lanes [0, count) all ones, the rest zero.
  static __m256i first_lanes(int64_t count) {
    const __m256i lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lane_index);
  }
  // 2^h for an integer h in [-126, 127], built from its exponent field.
  static __m256 power_of_two(__m256i h) {
    const __m256i biased = _mm256_add_epi32(h, _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
  }
};

// Block transposes for GEMM packing, in 256-bit registers. simd_avx512.h
// calls them too, since every AVX-512 CPU also runs AVX2. They sit in an
// unnamed namespace so that the AVX2 and AVX-512 objects, compiled with
// different flags, each keep their own copy. Otherwise the linker may hand
// the AVX2 kernels the copy compiled for AVX-512.
namespace {

// Rows r0..r3 (8 floats each) become u0..u3, where u_k contains column k of
// the four rows in its low half and column k + 4 in its high half.
inline void transpose_4x8_halves(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 u[4]) {
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1);  // r0[0] r1[0] r0[1] r1[1] | [4], [5]
  const __m256 t1 = _mm256_unpackhi_ps(r0, r1);  // r0[2] r1[2] r0[3] r1[3] | [6], [7]
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3);
  const __m256 t3 = _mm256_unpackhi_ps(r2, r3);
  u[0] = _mm256_shuffle_ps(t0, t2, 0x44);
  u[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
  u[2] = _mm256_shuffle_ps(t1, t3, 0x44);
  u[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

// out[j * ld_out + i] = rows[i][j] for i < 4, j < 8.
inline void transpose_4x8(const float* const* rows, float* out, int64_t ld_out) {
  __m256 u[4];
  transpose_4x8_halves(_mm256_loadu_ps(rows[0]), _mm256_loadu_ps(rows[1]),
                       _mm256_loadu_ps(rows[2]), _mm256_loadu_ps(rows[3]), u);
  for (int k = 0; k < 4; ++k) {
    _mm_storeu_ps(out + k * ld_out, _mm256_castps256_ps128(u[k]));
    _mm_storeu_ps(out + (k + 4) * ld_out, _mm256_extractf128_ps(u[k], 1));
  }
}

// out[j * ld_out + i] = rows[i][j] for i < 8, j < 8.
inline void transpose_8x8(const float* const* rows, float* out, int64_t ld_out) {
  __m256 top[4];
  __m256 bottom[4];
  transpose_4x8_halves(_mm256_loadu_ps(rows[0]), _mm256_loadu_ps(rows[1]),
                       _mm256_loadu_ps(rows[2]), _mm256_loadu_ps(rows[3]), top);
  transpose_4x8_halves(_mm256_loadu_ps(rows[4]), _mm256_loadu_ps(rows[5]),
                       _mm256_loadu_ps(rows[6]), _mm256_loadu_ps(rows[7]), bottom);
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_ps(out + k * ld_out, _mm256_permute2f128_ps(top[k], bottom[k], 0x20));
    _mm256_storeu_ps(out + (k + 4) * ld_out, _mm256_permute2f128_ps(top[k], bottom[k], 0x31));
  }
}

}  // namespace

inline void Vec::transpose_4x8(const float* const* rows, float* out, int64_t ld_out) {
  avx2::transpose_4x8(rows, out, ld_out);
}

inline void Vec::transpose_8x8(const float* const* rows, float* out, int64_t ld_out) {
  avx2::transpose_8x8(rows, out, ld_out);
}

}  // namespace ember::kernels::avx2
