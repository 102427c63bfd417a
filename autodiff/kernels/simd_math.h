// Vectorised exp, log, sigmoid and tanh, written once for any vector type V
// from the mapping headers (simd_avx2.h, simd_avx512.h).
//
// The scalar reference in reference.cpp uses std::exp, std::log and
// std::tanh; these are the fast versions it is tested against. Error bounds
// (checked by tests/autodiff/kernels/math_test.cpp over every useful input):
//   exp:     <= 2 ulp for normal results; denormal results are within
//            2^-149 (one denormal step) of std::exp; 0 below -103.98, +inf
//            above 88.73, NaN stays NaN.
//   log:     <= 2 ulp for every positive input, denormals included;
//            log(0) = -inf, log(x < 0) = NaN, log(+inf) = +inf.
//   sigmoid, tanh: <= 4 ulp on [-40, 40], where the tests sweep them (the
//            worst measured is 2 and 3 ulp). Beyond it tanh rounds to +-1
//            and sigmoid is about exp(x), which is not swept.
// Rounding mode must be round-to-nearest and denormals must not be flushed
// (the C++ defaults).
#pragma once

#include <cstdint>

namespace ember::kernels::simd_math {

// exp(x) = 2^n * exp(r) with n = round(x / ln 2) and r = x - n ln 2 in
// [-ln2/2, ln2/2] (Cody-Waite reduction with ln 2 split in two parts so
// n * ln2_high is exact). exp(r) is its Taylor series to r^7, whose
// truncation error there is below 2^-27 relative.
template <class V>
V exp(V x) {
  const V log2_e = V::broadcast(1.44269504088896341f);
  const V ln2_high = V::broadcast(0.693145751953125f);  // 11 significant bits
  const V ln2_low = V::broadcast(1.428606765330187e-06f);

  // Below -104 the result rounds to 0, above 89 to +inf; clamping keeps n
  // inside the range scale_by_power_of_two accepts.
  const V clamped = V::min(V::max(x, V::broadcast(-104.0f)), V::broadcast(89.0f));
  const V n = V::round(clamped * log2_e);
  V r = V::fma(n, V::zero() - ln2_high, clamped);
  r = V::fma(n, V::zero() - ln2_low, r);

  V p = V::broadcast(1.0f / 5040.0f);
  p = V::fma(p, r, V::broadcast(1.0f / 720.0f));
  p = V::fma(p, r, V::broadcast(1.0f / 120.0f));
  p = V::fma(p, r, V::broadcast(1.0f / 24.0f));
  p = V::fma(p, r, V::broadcast(1.0f / 6.0f));
  p = V::fma(p, r, V::broadcast(0.5f));
  p = V::fma(p, r, V::broadcast(1.0f));
  p = V::fma(p, r, V::broadcast(1.0f));

  const V result = V::scale_by_power_of_two(p, n);
  // max and min turned NaN into a bound, so put it back.
  return V::select(V::is_nan(x), x, result);
}

// log(x) = e ln 2 + log(m) with x = m 2^e and m in [sqrt(1/2), sqrt(2)).
// With f = m - 1 and s = f / (2 + f), log(1 + f) = 2 atanh(s)
// = f - s (f - R(s^2)), where R(z) = z (2/3 + 2/5 z + ... + 2/11 z^4); this
// form keeps the large term f exact. |s| <= 0.172, so the series truncation
// is below 2^-30 relative.
template <class V>
V log(V x) {
  const V ln2_high = V::broadcast(0.693145751953125f);
  const V ln2_low = V::broadcast(1.428606765330187e-06f);
  const V one = V::broadcast(1.0f);

  // Denormals are scaled up by 2^23 so the exponent split gets a normal number.
  const auto is_denormal = V::less(x, V::broadcast(1.17549435e-38f));
  const V scaled = V::select(is_denormal, x * V::broadcast(8388608.0f), x);
  V exponent;
  V m = V::split_exponent(scaled, &exponent);
  exponent = exponent - V::select(is_denormal, V::broadcast(23.0f), V::zero());

  const auto above_sqrt2 = V::greater(m, V::broadcast(1.41421356f));
  m = V::select(above_sqrt2, m * V::broadcast(0.5f), m);
  exponent = exponent + V::select(above_sqrt2, one, V::zero());

  const V f = m - one;  // exact, since m is within a factor 2 of 1
  const V s = f / (V::broadcast(2.0f) + f);
  const V z = s * s;
  V series = V::broadcast(2.0f / 11.0f);
  series = V::fma(series, z, V::broadcast(2.0f / 9.0f));
  series = V::fma(series, z, V::broadcast(2.0f / 7.0f));
  series = V::fma(series, z, V::broadcast(2.0f / 5.0f));
  series = V::fma(series, z, V::broadcast(2.0f / 3.0f));
  const V rest = series * z;
  const V log1p_f = f - s * (f - rest);

  V result = V::fma(exponent, ln2_high, V::fma(exponent, ln2_low, log1p_f));

  const V infinity = V::broadcast(__builtin_inff());
  result = V::select(V::equal(x, infinity), infinity, result);
  result = V::select(V::equal(x, V::zero()), V::zero() - infinity, result);
  result = V::select(V::less(x, V::zero()), V::broadcast(__builtin_nanf("")), result);
  return V::select(V::is_nan(x), x, result);
}

// sigmoid(x) = 1 / (1 + exp(-x)); exp overflowing to +inf gives exactly 0.
template <class V>
V sigmoid(V x) {
  const V one = V::broadcast(1.0f);
  return one / (one + exp(V::zero() - x));
}

// tanh(x) = sign(x) (1 - t) / (1 + t) with t = exp(-2|x|). Below |x| = 1/4
// that difference cancels, so the odd Taylor series to x^13 is used there
// (truncation below 2^-30 relative).
template <class V>
V tanh(V x) {
  const V one = V::broadcast(1.0f);
  const V magnitude = V::abs(x);

  const V t = exp(V::broadcast(-2.0f) * magnitude);
  const V large = (one - t) / (one + t);
  const V signed_large = V::select(V::less(x, V::zero()), V::zero() - large, large);

  const V z = x * x;
  V series = V::broadcast(-929569.0f / 638512875.0f);
  series = V::fma(series, z, V::broadcast(21844.0f / 6081075.0f));
  series = V::fma(series, z, V::broadcast(-1382.0f / 155925.0f));
  series = V::fma(series, z, V::broadcast(62.0f / 2835.0f));
  series = V::fma(series, z, V::broadcast(-17.0f / 315.0f));
  series = V::fma(series, z, V::broadcast(2.0f / 15.0f));
  series = V::fma(series, z, V::broadcast(-1.0f / 3.0f));
  // x (1 + z series) rather than x + x z series keeps the sign of -0.
  const V small = x * V::fma(z, series, one);

  return V::select(V::less(magnitude, V::broadcast(0.25f)), small, signed_large);
}

}  // namespace ember::kernels::simd_math
