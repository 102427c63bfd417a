// Elementwise ops whose outputs come from a NaN-filled buffer pool: every
// element must be written. Also relu at NaN, -0 and infinities, through the
// SIMD kernels' tails.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "autodiff/autodiff.h"
#include "nan_pool.h"

using namespace ember;
using ember::testing::fill_pool_with_nan;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// n values cycling through NaN, -0, +inf, -inf and ordinary numbers.
std::vector<float> awkward_values(int64_t n) {
  const float cycle[] = {kNaN, -0.0f, kInf, -kInf, 1.5f, -2.0f, 0.0f, 3.0f, -0.5f};
  std::vector<float> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    values[static_cast<size_t>(i)] = cycle[i % 9];
  }
  return values;
}

}  // namespace

TEST_CASE("relu at NaN, zeros and infinities", "[autodiff][elementwise][relu]") {
  // Lengths around the AVX2 and AVX-512 widths and a long one with a tail,
  // all above the 1 KiB that the pool serves for the long ones.
  for (const int64_t n : {1, 7, 9, 15, 17, 1000, 4099}) {
    INFO("length " << n);
    const std::vector<float> values = awkward_values(n);
    Tensor x = from_vector(values, {n}).set_requires_grad(true);
    fill_pool_with_nan();
    const Tensor y = relu(x);
    const Tensor twice = relu(x);
    sum(y + twice).backward();

    const std::vector<float> out = y.to_vector();
    const std::vector<float> grad = x.grad().to_vector();
    int64_t failures = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float v = values[static_cast<size_t>(i)];
      // relu(v) = v for v > 0, else +0 (NaN and -0 included); the gradient
      // of relu(x) + relu(x) is 2 where x > 0, else 0.
      const float want = v > 0.0f ? v : 0.0f;
      const float want_grad = v > 0.0f ? 2.0f : 0.0f;
      const float got = out[static_cast<size_t>(i)];
      const bool same = got == want && !std::signbit(got) &&
                        grad[static_cast<size_t>(i)] == want_grad;
      if (!same && failures++ == 0) {
        INFO("element " << i << " = " << v << ": relu " << got << ", gradient "
                        << grad[static_cast<size_t>(i)]);
        CHECK(same);
      }
    }
    CHECK(failures == 0);
  }
}

TEST_CASE("elementwise outputs are fully written", "[autodiff][elementwise]") {
  // Finite inputs, so any NaN in an output is memory the op did not write.
  Generator generator(600);
  const Tensor a = uniform({37, 41}, 0.5f, 2.0f, generator);
  const Tensor b = uniform({37, 41}, 0.5f, 2.0f, generator);
  const Tensor row = uniform({41}, 0.5f, 2.0f, generator);
  const Tensor column = uniform({37, 1}, 0.5f, 2.0f, generator);
  const Tensor mask = uniform({37, 41}, -1.0f, 1.0f, generator) * 0.0f + 1.0f;

  const auto require_finite = [](const Tensor& t, const char* what) {
    const std::vector<float> values = t.to_vector();
    int64_t bad = 0;
    for (const float v : values) {
      bad += std::isfinite(v) ? 0 : 1;
    }
    INFO(what << ": " << bad << " of " << values.size() << " elements not finite");
    CHECK(bad == 0);
  };
  fill_pool_with_nan();
  require_finite(a + b, "add (kernel)");
  fill_pool_with_nan();
  require_finite(a * row, "mul broadcast row");
  fill_pool_with_nan();
  require_finite(column - a, "sub broadcast column");
  fill_pool_with_nan();
  require_finite(row / column, "div broadcast both");
  fill_pool_with_nan();
  require_finite(exp(a), "exp (kernel)");
  fill_pool_with_nan();
  require_finite(sqrt(a), "sqrt (loop)");
  fill_pool_with_nan();
  require_finite(where(mask, a, row), "where");
  fill_pool_with_nan();
  require_finite(a.clone(), "clone");
}
