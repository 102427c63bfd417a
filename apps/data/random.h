// Portable random draws from a std::mt19937_64 engine.
//
// The C++ standard fixes the output sequence of std::mt19937_64 but not the
// algorithms of std::uniform_real_distribution, std::normal_distribution and
// friends, so they give different numbers under libstdc++ and libc++. Every
// seeded operation of the data layer draws through these functions instead,
// so one seed gives one dataset on every standard library.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace ember::data {

using Rng = std::mt19937_64;

// Returns a double uniform in [0, 1) built from the top 53 bits of one draw.
inline double uniform01(Rng& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// Returns a double uniform in [low, high).
inline double uniform(Rng& rng, double low, double high) {
  return low + (high - low) * uniform01(rng);
}

// Returns an integer uniform in [low, high], both ends included. Draws that
// fall in the incomplete last block of the 64-bit range are rejected so that
// every value is equally likely.
inline std::int64_t uniform_int(Rng& rng, std::int64_t low, std::int64_t high) {
  if (high < low) {
    throw std::invalid_argument(
        fmt::format("uniform_int: range [{}, {}] is empty; expected low <= high", low, high));
  }
  const std::uint64_t span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low) + 1;
  if (span == 0) return static_cast<std::int64_t>(rng());  // the full 64-bit range

  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % span;
  std::uint64_t draw = rng();
  while (draw >= limit) draw = rng();
  return low + static_cast<std::int64_t>(draw % span);
}

// Returns a standard normal draw (mean 0, deviation 1) by the Box-Muller
// transform. Each call uses two engine outputs and discards the second normal
// so that the number of engine draws per call is fixed.
inline double normal(Rng& rng) {
  const double u1 = 1.0 - uniform01(rng);  // in (0, 1], so log(u1) is finite
  const double u2 = uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// Returns true with probability p.
inline bool bernoulli(Rng& rng, double p) { return uniform01(rng) < p; }

// Shuffles in place by Fisher-Yates with uniform_int, so the order depends on
// the engine alone.
template <typename T>
void shuffle(std::span<T> items, Rng& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(uniform_int(rng, 0, static_cast<std::int64_t>(i) - 1));
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace ember::data
