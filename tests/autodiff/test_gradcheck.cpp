// Tests for the gradient checker itself: it must catch a wrong gradient.
#include <catch2/catch.hpp>

#include "autodiff/autodiff.h"

using namespace ember;

namespace {

// y = x^2 with a deliberately wrong backward (x instead of 2x) for index 1.
Tensor square_with_bug(const Tensor& x) {
  Tensor y = zeros(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    y.mutable_data()[i] = x.data()[i] * x.data()[i];
  }
  if (needs_grad({&x})) {
    Tape::current().record("square_with_bug", {x}, y, [x](const Tensor& grad_y) {
      float* grad_x = grad_buffer(x);
      for (int64_t i = 0; i < x.numel(); ++i) {
        const float local = i == 1 ? x.data()[i] : 2.0f * x.data()[i];
        grad_x[i] += grad_y.data()[i] * local;
      }
    });
  }
  return y;
}

}  // namespace

TEST_CASE("gradcheck passes a correct op", "[autodiff][gradcheck]") {
  Generator generator(3);
  Tensor x = normal({3, 4}, 0.0f, 1.0f, generator).set_requires_grad(true);
  const GradCheckResult result = gradcheck([](const auto& in) { return exp(in[0]) * in[0]; }, {x});
  INFO(result.report);
  CHECK(result.ok);
  CHECK(result.checked == 12);
  CHECK(result.mismatches.empty());
}

TEST_CASE("gradcheck reports a wrong gradient", "[autodiff][gradcheck]") {
  Tensor x = from_vector({1.0f, 2.0f, 3.0f}, {3}).set_requires_grad(true);
  const GradCheckResult result = gradcheck([](const auto& in) { return square_with_bug(in[0]); }, {x});
  REQUIRE_FALSE(result.ok);
  REQUIRE(result.mismatches.size() == 1);
  CHECK(result.mismatches[0].index == 1);
  // The buggy backward returns x instead of 2x, half the true derivative.
  CHECK(result.mismatches[0].numeric == Approx(2.0 * result.mismatches[0].analytic).epsilon(1e-2));
  CHECK_THAT(result.report, Catch::Contains("input 0 [3] element 1"));
}

TEST_CASE("gradcheck skips inputs without grad", "[autodiff][gradcheck]") {
  Tensor x = from_vector({1.0f, 2.0f}, {2}).set_requires_grad(true);
  Tensor fixed = from_vector({5.0f, 6.0f}, {2});
  const GradCheckResult result = gradcheck([](const auto& in) { return in[0] * in[1]; }, {x, fixed});
  CHECK(result.ok);
  CHECK(result.checked == 2);
}
