// Tests for reductions, logsumexp and softmax: values, keepdim, empty axes,
// ties, numerical stability, and gradient checks.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "autodiff/autodiff.h"

using namespace ember;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Generator generator(seed);
  return uniform(shape, -2.0f, 2.0f, generator).set_requires_grad(true);
}

void require_gradients_match(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                             const std::vector<Tensor>& inputs) {
  const GradCheckResult result = gradcheck(f, inputs);
  INFO(result.report);
  REQUIRE(result.ok);
}

}  // namespace

TEST_CASE("reductions compute values", "[autodiff][reduce]") {
  // [[1, 5, 3],
  //  [4, 2, 6]]
  const Tensor x = from_vector({1, 5, 3, 4, 2, 6}, {2, 3});
  SECTION("over all elements") {
    CHECK(sum(x).item() == 21.0f);
    CHECK(mean(x).item() == 3.5f);
    CHECK(max(x).item() == 6.0f);
    CHECK(min(x).item() == 1.0f);
    CHECK(argmax(x).item() == 5.0f);
    CHECK(argmin(x).item() == 0.0f);
    CHECK(sum(x).shape() == Shape{});
  }
  SECTION("along dim 0") {
    CHECK(sum(x, 0).to_vector() == std::vector<float>{5, 7, 9});
    CHECK(max(x, 0).to_vector() == std::vector<float>{4, 5, 6});
    CHECK(argmin(x, 0).to_vector() == std::vector<float>{0, 1, 0});
  }
  SECTION("along dim -1 with keepdim") {
    const Tensor row_max = max(x, -1, /*keepdim=*/true);
    CHECK(row_max.shape() == Shape{2, 1});
    CHECK(row_max.to_vector() == std::vector<float>{5, 6});
    CHECK(mean(x, 1).to_vector() == std::vector<float>{3, 4});
    CHECK(sum(x, std::nullopt, /*keepdim=*/true).shape() == Shape{1, 1});
  }
  SECTION("logsumexp") {
    const Tensor pair = from_vector({0.0f, 0.0f}, {2});
    CHECK(logsumexp(pair).item() == Approx(std::log(2.0f)));
  }
}

TEST_CASE("empty axes give identities or throw", "[autodiff][reduce][errors]") {
  const Tensor empty = zeros({2, 0});
  CHECK(sum(empty, 1).to_vector() == std::vector<float>{0, 0});
  CHECK(logsumexp(empty, 1).to_vector() == std::vector<float>{-kInf, -kInf});
  CHECK_THROWS_WITH(max(empty, 1), Catch::Contains("cannot reduce over an empty axis (dimension 1 of shape [2, 0])"));
  CHECK_THROWS_WITH(mean(empty, 1), Catch::Contains("mean has no identity"));
  CHECK_THROWS_WITH(argmin(empty), Catch::Contains("argmin"));
  CHECK(sum(zeros({0})).item() == 0.0f);
}

TEST_CASE("max sends the gradient to the first tie", "[autodiff][reduce][ties]") {
  Tensor x = from_vector({3.0f, 1.0f, 3.0f}, {3}).set_requires_grad(true);
  max(x).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{1.0f, 0.0f, 0.0f});
  CHECK(argmax(x).item() == 0.0f);
}

TEST_CASE("NaN propagates through max", "[autodiff][reduce][numerics]") {
  const Tensor x = from_vector({1.0f, std::nanf(""), 3.0f}, {3});
  CHECK(std::isnan(max(x).item()));
  CHECK(std::isnan(logsumexp(x).item()));
}

TEST_CASE("NaN propagates through softmax on any axis", "[autodiff][reduce][numerics]") {
  // Each slice pairs a NaN with -inf, and -inf alone must not make the
  // slice count as all -inf. Axis 1 runs the row kernels and axis 0 the
  // strided loops, and both must give NaN throughout the slice.
  const float nan = std::nanf("");
  const Tensor rows = from_vector({nan, -kInf, -kInf, nan}, {2, 2});
  for (const int64_t axis : {int64_t{0}, int64_t{1}}) {
    INFO("axis " << axis);
    const Tensor x = axis == 1 ? rows : transpose(rows, 0, 1);
    for (const float value : softmax(x, axis).to_vector()) {
      CHECK(std::isnan(value));
    }
    for (const float value : log_softmax(x, axis).to_vector()) {
      CHECK(std::isnan(value));
    }
  }
}

TEST_CASE("logsumexp is stable", "[autodiff][reduce][numerics]") {
  SECTION("large inputs do not overflow") {
    const Tensor x = from_vector({1000.0f, 1000.0f}, {2});
    CHECK(logsumexp(x).item() == Approx(1000.0f + std::log(2.0f)));
  }
  SECTION("all -inf gives -inf and a zero gradient") {
    Tensor x = full({3}, -kInf).set_requires_grad(true);
    Tensor y = logsumexp(x);
    CHECK(y.item() == -kInf);
    y.backward();
    CHECK(x.grad().to_vector() == std::vector<float>{0, 0, 0});
  }
  SECTION("-inf entries get zero gradient beside finite ones") {
    Tensor x = from_vector({0.0f, -kInf}, {2}).set_requires_grad(true);
    logsumexp(x).backward();
    CHECK(x.grad().to_vector() == std::vector<float>{1.0f, 0.0f});
  }
}

TEST_CASE("softmax and log_softmax", "[autodiff][reduce][softmax]") {
  SECTION("rows sum to one and match log_softmax") {
    const Tensor x = from_vector({1, 2, 3, 1000, 1000, 1000}, {2, 3});
    const Tensor p = softmax(x, 1);
    CHECK(sum(p, 1).to_vector()[0] == Approx(1.0f));
    CHECK(p.at({1, 0}) == Approx(1.0f / 3.0f));
    const Tensor log_p = log_softmax(x, 1);
    for (int64_t j = 0; j < 3; ++j) {
      CHECK(std::exp(log_p.at({0, j})) == Approx(p.at({0, j})));
    }
  }
  SECTION("softmin is softmax of the negation") {
    const Tensor energies = from_vector({0.0f, std::log(3.0f)}, {2});
    const Tensor p = softmax(-energies);
    CHECK(p.at({0}) == Approx(0.75f));
  }
  SECTION("an all -inf row gives zeros, not NaN") {
    const Tensor x = full({1, 2}, -kInf);
    CHECK(softmax(x).to_vector() == std::vector<float>{0.0f, 0.0f});
    CHECK(log_softmax(x).to_vector() == std::vector<float>{-kInf, -kInf});
  }
}

TEST_CASE("reduction gradients match finite differences", "[autodiff][reduce][gradcheck]") {
  const Tensor x = random_tensor({3, 4, 2}, 11);
  SECTION("sum all") { require_gradients_match([](const auto& in) { return sum(in[0]); }, {x}); }
  SECTION("sum dim 1") { require_gradients_match([](const auto& in) { return sum(in[0], 1); }, {x}); }
  SECTION("mean dim 2 keepdim") { require_gradients_match([](const auto& in) { return mean(in[0], 2, true); }, {x}); }
  SECTION("max dim 1") { require_gradients_match([](const auto& in) { return max(in[0], 1); }, {x}); }
  SECTION("min all") { require_gradients_match([](const auto& in) { return min(in[0]); }, {x}); }
  SECTION("logsumexp dim 0") { require_gradients_match([](const auto& in) { return logsumexp(in[0], 0); }, {x}); }
  SECTION("logsumexp all") { require_gradients_match([](const auto& in) { return logsumexp(in[0]); }, {x}); }
  SECTION("softmax dim 1") { require_gradients_match([](const auto& in) { return softmax(in[0], 1); }, {x}); }
  SECTION("log_softmax last dim") { require_gradients_match([](const auto& in) { return log_softmax(in[0]); }, {x}); }
  SECTION("a tensor used twice") {
    require_gradients_match([](const auto& in) { return sum(in[0] * softmax(in[0], 0)); }, {x});
  }
}
