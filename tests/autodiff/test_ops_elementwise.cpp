// Tests for elementwise ops: values on hand-computed cases, broadcasting,
// and a gradient check of every op including broadcast operands.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>

#include "autodiff/autodiff.h"

using namespace ember;

namespace {

using Function = std::function<Tensor(const std::vector<Tensor>&)>;

Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -2.0f, float high = 2.0f) {
  Generator generator(seed);
  return uniform(shape, low, high, generator).set_requires_grad(true);
}

void require_gradients_match(const Function& f, const std::vector<Tensor>& inputs) {
  const GradCheckResult result = gradcheck(f, inputs);
  INFO(result.report);
  REQUIRE(result.ok);
}

}  // namespace

TEST_CASE("binary ops compute values", "[autodiff][elementwise]") {
  const Tensor a = from_vector({1, 2, 3, 4}, {2, 2});
  const Tensor b = from_vector({2, 2, 2, 2}, {2, 2});
  CHECK((a + b).to_vector() == std::vector<float>{3, 4, 5, 6});
  CHECK((a - b).to_vector() == std::vector<float>{-1, 0, 1, 2});
  CHECK((a * b).to_vector() == std::vector<float>{2, 4, 6, 8});
  CHECK((a / b).to_vector() == std::vector<float>{0.5f, 1, 1.5f, 2});
  CHECK(pow(a, b).to_vector() == std::vector<float>{1, 4, 9, 16});
  CHECK(maximum(a, b).to_vector() == std::vector<float>{2, 2, 3, 4});
  CHECK(minimum(a, b).to_vector() == std::vector<float>{1, 2, 2, 2});
  CHECK((2.0f - a).to_vector() == std::vector<float>{1, 0, -1, -2});
  CHECK((a / 2.0f).to_vector() == std::vector<float>{0.5f, 1, 1.5f, 2});
}

TEST_CASE("broadcasting aligns shapes from the right", "[autodiff][elementwise][broadcast]") {
  SECTION("row vector against a matrix") {
    const Tensor m = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    const Tensor row = from_vector({10, 20, 30}, {3});
    CHECK((m + row).to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
  }
  SECTION("column against row gives an outer sum") {
    const Tensor column = from_vector({1, 2}, {2, 1});
    const Tensor row = from_vector({10, 20, 30}, {1, 3});
    const Tensor sum_table = column + row;
    CHECK(sum_table.shape() == Shape{2, 3});
    CHECK(sum_table.to_vector() == std::vector<float>{11, 21, 31, 12, 22, 32});
  }
  SECTION("scalar against anything") {
    CHECK((scalar(1.0f) + zeros({2, 2})).shape() == Shape{2, 2});
  }
  SECTION("broadcast_shapes rules") {
    CHECK(broadcast_shapes({4, 1, 3}, {2, 1}, "test") == Shape{4, 2, 3});
    CHECK(broadcast_shapes({}, {5}, "test") == Shape{5});
    CHECK(broadcast_shapes({0, 1}, {1, 3}, "test") == Shape{0, 3});
  }
  SECTION("incompatible shapes name both and the dimension") {
    CHECK_THROWS_WITH(zeros({2, 3}) + zeros({4}),
                      Catch::Contains("add: shapes [2, 3] and [4] cannot be broadcast: dimension 1 "
                                      "has sizes 3 and 4"));
  }
}

TEST_CASE("unary ops compute values", "[autodiff][elementwise]") {
  const Tensor x = from_vector({-2.0f, 0.0f, 3.0f}, {3});
  CHECK(neg(x).to_vector() == std::vector<float>{2.0f, -0.0f, -3.0f});
  CHECK(relu(x).to_vector() == std::vector<float>{0, 0, 3});
  CHECK(abs(x).to_vector() == std::vector<float>{2, 0, 3});
  CHECK(clamp(x, -1.0f, 1.0f).to_vector() == std::vector<float>{-1, 0, 1});
  CHECK(exp(x).at({1}) == 1.0f);
  CHECK(sigmoid(x).at({1}) == 0.5f);
  CHECK(tanh(x).at({1}) == 0.0f);
  CHECK(softplus(x).at({1}) == Approx(std::log(2.0f)));
  CHECK(sqrt(from_vector({4.0f, 9.0f}, {2})).to_vector() == std::vector<float>{2, 3});
  CHECK(log(from_vector({1.0f, 0.0f}, {2})).at({1}) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("activations stay finite for large inputs", "[autodiff][elementwise][numerics]") {
  const Tensor x = from_vector({-1000.0f, 1000.0f}, {2});
  CHECK(sigmoid(x).to_vector() == std::vector<float>{0.0f, 1.0f});
  CHECK(softplus(x).to_vector() == std::vector<float>{0.0f, 1000.0f});
  CHECK(tanh(x).to_vector() == std::vector<float>{-1.0f, 1.0f});
}

TEST_CASE("elementwise gradients match finite differences", "[autodiff][elementwise][gradcheck]") {
  const Tensor a = random_tensor({3, 4}, 1);
  const Tensor b = random_tensor({3, 4}, 2);
  const Tensor positive = random_tensor({3, 4}, 3, 0.5f, 2.0f);
  const Tensor away_from_zero = from_vector({-1.5f, -0.7f, 0.4f, 1.2f, 2.0f, -0.3f}, {2, 3}).set_requires_grad(true);

  SECTION("add") { require_gradients_match([](const auto& in) { return in[0] + in[1]; }, {a, b}); }
  SECTION("sub") { require_gradients_match([](const auto& in) { return in[0] - in[1]; }, {a, b}); }
  SECTION("mul") { require_gradients_match([](const auto& in) { return in[0] * in[1]; }, {a, b}); }
  SECTION("div") { require_gradients_match([](const auto& in) { return in[0] / in[1]; }, {a, positive}); }
  SECTION("pow tensor exponent") { require_gradients_match([](const auto& in) { return pow(in[0], in[1]); }, {positive, b}); }
  SECTION("pow scalar exponent") { require_gradients_match([](const auto& in) { return pow(in[0], 3.0f); }, {a}); }
  SECTION("maximum") { require_gradients_match([](const auto& in) { return maximum(in[0], in[1]); }, {a, b}); }
  SECTION("minimum") { require_gradients_match([](const auto& in) { return minimum(in[0], in[1]); }, {a, b}); }
  SECTION("neg") { require_gradients_match([](const auto& in) { return neg(in[0]); }, {a}); }
  SECTION("exp") { require_gradients_match([](const auto& in) { return exp(in[0]); }, {a}); }
  SECTION("log") { require_gradients_match([](const auto& in) { return log(in[0]); }, {positive}); }
  SECTION("sqrt") { require_gradients_match([](const auto& in) { return sqrt(in[0]); }, {positive}); }
  SECTION("abs") { require_gradients_match([](const auto& in) { return abs(in[0]); }, {away_from_zero}); }
  SECTION("relu") { require_gradients_match([](const auto& in) { return relu(in[0]); }, {away_from_zero}); }
  SECTION("sigmoid") { require_gradients_match([](const auto& in) { return sigmoid(in[0]); }, {a}); }
  SECTION("tanh") { require_gradients_match([](const auto& in) { return tanh(in[0]); }, {a}); }
  SECTION("softplus") { require_gradients_match([](const auto& in) { return softplus(in[0]); }, {a}); }
  SECTION("clamp") { require_gradients_match([](const auto& in) { return clamp(in[0], -1.0f, 1.0f); }, {away_from_zero}); }
  SECTION("where") {
    const Tensor mask = from_vector({1, 0, 1, 0}, {4});
    require_gradients_match([mask](const auto& in) { return where(mask, in[0], in[1]); },
                            {random_tensor({3, 4}, 5), random_tensor({1, 4}, 6)});
  }
}

TEST_CASE("broadcast gradients sum back to each shape", "[autodiff][elementwise][broadcast][gradcheck]") {
  SECTION("matrix plus row") {
    require_gradients_match([](const auto& in) { return in[0] * in[1]; },
                            {random_tensor({3, 4}, 1), random_tensor({4}, 2)});
  }
  SECTION("column times row") {
    require_gradients_match([](const auto& in) { return in[0] * in[1] + in[0]; },
                            {random_tensor({3, 1}, 3), random_tensor({1, 5}, 4)});
  }
  SECTION("scalar tensor against a batch") {
    require_gradients_match([](const auto& in) { return in[0] / (in[1] + 3.0f); },
                            {random_tensor({2, 3, 2}, 5), random_tensor({}, 6)});
  }
  SECTION("row gradient by hand") {
    // y = m + row, sum over 2 rows: d/d row = 2 for each column.
    Tensor m = zeros({2, 3});
    Tensor row = zeros({3}).set_requires_grad(true);
    sum(m + row).backward();
    CHECK(row.grad().shape() == Shape{3});
    CHECK(row.grad().to_vector() == std::vector<float>{2, 2, 2});
  }
}

// Returns the flat index of the element of shape `in` that broadcasting reads
// for output element i of shape `out`, computed from the multi-index. The
// ops' faster walks must agree with this definition.
int64_t broadcast_source(const Shape& in, const Shape& out, int64_t i) {
  int64_t source = 0;
  int64_t in_stride = 1;
  const size_t skipped = out.size() - in.size();
  for (size_t d = out.size(); d-- > 0;) {
    const int64_t index = i % out[d];
    i /= out[d];
    if (d >= skipped) {
      const int64_t size = in[d - skipped];
      source += (size == 1 ? 0 : index) * in_stride;
      in_stride *= size;
    }
  }
  return source;
}

TEST_CASE("broadcasting matches the index definition", "[autodiff][elementwise][broadcast]") {
  // Row walks (bias over the last dimension, a scale over channels, a
  // scalar, an outer product) and the index-table fallback (a broadcast
  // dimension between kept ones), with size-1 and empty output dimensions.
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 4}, {4}},          {{2, 3, 4, 5}, {3, 1, 1}}, {{2, 3}, {}},
      {{3, 1}, {1, 5}},          {{2, 3, 4}, {2, 1, 4}},    {{1, 4, 1, 5}, {2, 1, 3, 1}},
      {{2, 1, 3}, {2, 1, 3}},    {{1, 1}, {1}},             {{2, 0, 3}, {3}},
      {{4, 1, 6}, {4, 1, 1}},    {{5}, {1, 5}},             {{2, 3, 1, 4}, {3, 1, 1}},
  };
  for (const auto& [shape_a, shape_b] : cases) {
    INFO("shapes " << shape_to_string(shape_a) << " and " << shape_to_string(shape_b));
    Tensor a = random_tensor(shape_a, 11);
    Tensor b = random_tensor(shape_b, 12);
    const Tensor y = a * b + b;
    const Shape out = y.shape();
    Tensor probe = random_tensor(out, 13);
    sum(y * probe).backward();

    const std::vector<float> as = a.to_vector();
    const std::vector<float> bs = b.to_vector();
    const std::vector<float> ps = probe.to_vector();
    const std::vector<float> ys = y.to_vector();
    std::vector<double> grad_a(as.size(), 0.0);
    std::vector<double> grad_b(bs.size(), 0.0);
    for (int64_t i = 0; i < shape_numel(out); ++i) {
      const auto ia = static_cast<size_t>(broadcast_source(shape_a, out, i));
      const auto ib = static_cast<size_t>(broadcast_source(shape_b, out, i));
      CHECK(ys[static_cast<size_t>(i)] == as[ia] * bs[ib] + bs[ib]);
      grad_a[ia] += static_cast<double>(ps[static_cast<size_t>(i)]) * bs[ib];
      grad_b[ib] += static_cast<double>(ps[static_cast<size_t>(i)]) * (as[ia] + 1.0);
    }
    const std::vector<float> got_a = a.grad().to_vector();
    const std::vector<float> got_b = b.grad().to_vector();
    for (size_t k = 0; k < got_a.size(); ++k) {
      CHECK(got_a[k] == Approx(grad_a[k]).margin(1e-5));
    }
    for (size_t k = 0; k < got_b.size(); ++k) {
      CHECK(got_b[k] == Approx(grad_b[k]).margin(1e-5));
    }
  }
}

TEST_CASE("ties split the gradient of maximum", "[autodiff][elementwise][ties]") {
  Tensor a = from_vector({1.0f, 2.0f}, {2}).set_requires_grad(true);
  Tensor b = from_vector({1.0f, 3.0f}, {2}).set_requires_grad(true);
  sum(maximum(a, b)).backward();
  CHECK(a.grad().to_vector() == std::vector<float>{0.5f, 0.0f});
  CHECK(b.grad().to_vector() == std::vector<float>{0.5f, 1.0f});
}

TEST_CASE("clamp rejects an inverted range", "[autodiff][elementwise][errors]") {
  CHECK_THROWS_WITH(clamp(zeros({1}), 1.0f, 0.0f), Catch::Contains("low 1 is greater than high 0"));
}
