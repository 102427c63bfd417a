// Log-space arithmetic for the alignment dynamic programs: exp and log that
// the compiler can vectorise across states, and log-add.
//
// fast_exp and fast_log are polynomial approximations written with plain
// arithmetic and bit casts, so a loop over states that calls them compiles to
// SIMD code; std::exp and std::log are library calls that block that. Their
// specification is std::exp / std::log: the tests compare the two over the
// whole range the programs use. Both keep the values that make -inf the
// identity of log-add: fast_exp(-inf) = 0 and fast_log(0) = -inf.
//
// Left out on purpose: full-range accuracy guarantees. fast_exp flushes
// results below about 1e-38 to 0, and fast_log is only called on finite
// values >= 0.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace ember::alignment {

inline constexpr float kInf = std::numeric_limits<float>::infinity();

// GCC inlines a function into a caller compiled for another instruction set
// (the instruction-set variants in lattice_dp.cpp) only if it is marked
// always_inline, and a call would stop the caller's loop from vectorising.
#if defined(__GNUC__)
#define EMBER_ALWAYS_INLINE [[gnu::always_inline]] inline
#else
#define EMBER_ALWAYS_INLINE inline
#endif

// exp(x) to about 2 ulp for -87 <= x <= 88; 0 for x < -87, where exp(x) is
// near the denormal range (a term that small next to 1 does not change a
// log-add). Keeping every intermediate normal also matters for speed:
// arithmetic on denormals costs about a hundred cycles per operation.
EMBER_ALWAYS_INLINE float fast_exp(float x) {
  // Write x = n ln2 + r with |r| <= ln2 / 2; the magic constant rounds to the
  // nearest integer without a library call.
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2High = 0.693359375f;
  constexpr float kLn2Low = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
  // Clamping both ends keeps the discarded lanes (x = -inf, say) free of NaN
  // and of denormals.
  const float high = x < 88.0f ? x : 88.0f;
  const float clamped = high > -87.0f ? high : -87.0f;
  const float n = (clamped * kLog2e + kRound) - kRound;
  const float r = (clamped - n * kLn2High) - n * kLn2Low;

  // exp(r) by its Taylor series to degree 6: the error r^7/7! < 1e-7.
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;

  // 2^n built in the exponent field; n >= -126 keeps it a normal number.
  const float n_normal = n > -126.0f ? n : -126.0f;
  const int32_t exponent = static_cast<int32_t>(n_normal) + 127;
  const float scale = std::bit_cast<float>(exponent << 23);

  // Every value is computed before the selects, so the compiler can turn
  // them into blends instead of branches.
  const float value = p * scale;
  return x < -87.0f ? 0.0f : value;
}

// log(x) to about 2 ulp for finite x > 0; -inf for x = 0.
EMBER_ALWAYS_INLINE float fast_log(float x) {
  // Split x = 2^e m with m in [sqrt(1/2), sqrt(2)).
  constexpr float kLn2 = 0.693147180559945309f;
  const int32_t bits = std::bit_cast<int32_t>(x);
  int32_t e = ((bits >> 23) & 0xff) - 127;
  float m = std::bit_cast<float>((bits & 0x007fffff) | 0x3f800000);
  const bool high = m > 1.41421356f;
  const float half = m * 0.5f;
  m = high ? half : m;
  e = high ? e + 1 : e;

  // log m = 2 atanh(u) with u = (m - 1) / (m + 1), |u| < 0.1716, so the
  // series to u^11 leaves an error below 1e-9.
  const float u = (m - 1.0f) / (m + 1.0f);
  const float u2 = u * u;
  float p = 1.0f / 11.0f;
  p = p * u2 + 1.0f / 9.0f;
  p = p * u2 + 1.0f / 7.0f;
  p = p * u2 + 1.0f / 5.0f;
  p = p * u2 + 1.0f / 3.0f;
  p = p * u2 + 1.0f;
  const float result = static_cast<float>(e) * kLn2 + 2.0f * u * p;
  return x > 0.0f ? result : -kInf;
}

// log(exp(a) + exp(b) + exp(c)) = m + log(1 + exp(u - m) + exp(v - m)),
// where m is the largest of the three and u, v the other two: subtracting the
// max keeps exp from overflowing and saves one exp. The selects find u and v
// without branches; an all -inf triple gives -inf because -inf is the
// identity of log-add.
EMBER_ALWAYS_INLINE float log_add3(float a, float b, float c) {
  const float high_ab = a > b ? a : b;
  const float low_ab = a > b ? b : a;
  const float m = high_ab > c ? high_ab : c;
  const float other = high_ab > c ? c : high_ab;
  const float shift = m == -kInf ? 0.0f : m;
  const float total = 1.0f + fast_exp(low_ab - shift) + fast_exp(other - shift);
  const float result = shift + fast_log(total);
  return m == -kInf ? -kInf : result;
}

// log(exp(a) + exp(b)) with std::exp / std::log, for scalar code.
inline float log_add(float a, float b) {
  const float m = std::fmax(a, b);
  if (m == -kInf) {
    return -kInf;
  }
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

}  // namespace ember::alignment
