// The direct-convolution kernels of taps.h: a small case worked by hand,
// the adjoint identity between the two, and every SIMD variant against the
// scalar reference (bit for bit for correlate_taps, to rounding for the
// sums of correlate_taps_dots).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/taps.h"
#include "kernel_test_util.h"

using namespace ember::kernels;
using namespace ember::kernels::testing;

namespace {

// Offsets of model A's 4x8 filter on rows `width` floats apart, plus a
// negative one, as the input gradient's flipped offsets have.
std::vector<int64_t> filter_offsets(int64_t width) {
  std::vector<int64_t> offsets;
  for (int64_t row = 0; row < 4; ++row) {
    for (int64_t column = 0; column < 8; ++column) {
      offsets.push_back(row * width + column);
    }
  }
  offsets.push_back(-3);
  return offsets;
}

}  // namespace

TEST_CASE("correlate_taps on a hand-worked row", "[kernels][taps]") {
  // y[i] += 2 x[i] - x[i + 2], starting from y = 1.
  const float x[] = {1, 2, 3, 4, 5};
  const float weights[] = {2, -1};
  const int64_t offsets[] = {0, 2};
  float y[] = {1, 1, 1};
  correlate_taps(3, 2, weights, offsets, x, y);
  CHECK(y[0] == 0.0f);  // 1 + 2 - 3
  CHECK(y[1] == 1.0f);  // 1 + 4 - 4
  CHECK(y[2] == 2.0f);  // 1 + 6 - 5

  const float g[] = {1, 0, -1};
  float out[] = {10, 20};
  correlate_taps_dots(3, 2, offsets, g, x, out);
  CHECK(out[0] == 8.0f);   // 10 + 1 - 3
  CHECK(out[1] == 18.0f);  // 20 + 3 - 5
}

TEST_CASE("correlate_taps and its dots are adjoint", "[kernels][taps]") {
  // <correlate(w), g> = <w, dots(g)> for any w and g, the identity the
  // weight gradient rests on.
  const int64_t width = 40;
  const int64_t n = 5 * width;
  const std::vector<int64_t> offsets = filter_offsets(width);
  const auto taps = static_cast<int64_t>(offsets.size());
  const Buffer x = random_buffer(n + 4 * width + 8, 1, -1.0f, 1.0f);
  const Buffer weights = random_buffer(taps, 2, -1.0f, 1.0f);
  const Buffer g = random_buffer(n, 3, -1.0f, 1.0f);
  const float* x_start = x.data() + 3;  // room for the offset -3

  std::vector<float> y(static_cast<size_t>(n), 0.0f);
  correlate_taps(n, taps, weights.data(), offsets.data(), x_start, y.data());
  std::vector<float> dots(static_cast<size_t>(taps), 0.0f);
  correlate_taps_dots(n, taps, offsets.data(), g.data(), x_start, dots.data());

  double left = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    left += static_cast<double>(y[static_cast<size_t>(i)]) * g[i];
  }
  double right = 0.0;
  for (int64_t k = 0; k < taps; ++k) {
    right += static_cast<double>(weights[k]) * dots[static_cast<size_t>(k)];
  }
  CHECK(left == Approx(right).epsilon(1e-4));
}

TEST_CASE("correlate_taps variants match the reference", "[kernels][taps]") {
  const KernelTable& reference = kernel_table(Isa::scalar);
  for (Isa isa : simd_isas()) {
    for (int64_t n : awkward_lengths(lanes_of(isa))) {
      const int64_t width = 37;
      const std::vector<int64_t> offsets = filter_offsets(width);
      // 33 taps: four blocks of 8 for the dots, then one alone.
      const auto taps = static_cast<int64_t>(offsets.size());
      const Buffer x = random_buffer(n + 4 * width + 8, 4, -1.0f, 1.0f);
      const Buffer weights = random_buffer(taps, 5, -1.0f, 1.0f);
      const Buffer g = random_buffer(n, 6, -1.0f, 1.0f);
      const Buffer start = random_buffer(n, 7, -1.0f, 1.0f);
      const float* x_start = x.data() + 3;
      INFO(isa_name(isa) << ", n = " << n);

      Buffer got = start;
      Buffer want = start;
      kernel_table(isa).correlate_taps(n, taps, weights.data(), offsets.data(), x_start,
                                       got.data());
      reference.correlate_taps(n, taps, weights.data(), offsets.data(), x_start, want.data());
      CHECK(first_bit_difference(got, want, n) == -1);

      Buffer dots_got = random_buffer(taps, 8, -1.0f, 1.0f);
      Buffer dots_want = dots_got;
      kernel_table(isa).correlate_taps_dots(n, taps, offsets.data(), g.data(), x_start,
                                            dots_got.data());
      reference.correlate_taps_dots(n, taps, offsets.data(), g.data(), x_start,
                                    dots_want.data());
      for (int64_t k = 0; k < taps; ++k) {
        // Sums of n products of magnitude at most 1, added in another order.
        CHECK(std::fabs(dots_got[k] - dots_want[k]) <= 1e-6f * static_cast<float>(n + 1));
      }
    }
  }
}
