// Tests for matmul: hand-computed products, batching, errors, gradients.
#include <catch2/catch.hpp>

#include "autodiff/autodiff.h"

using namespace ember;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Generator generator(seed);
  return uniform(shape, -1.0f, 1.0f, generator).set_requires_grad(true);
}

}  // namespace

TEST_CASE("matmul computes products", "[autodiff][matmul]") {
  SECTION("2-D by hand") {
    // [[1, 2],    [[5, 6],     [[19, 22],
    //  [3, 4]]  x  [7, 8]]  =   [43, 50]]
    const Tensor a = from_vector({1, 2, 3, 4}, {2, 2});
    const Tensor b = from_vector({5, 6, 7, 8}, {2, 2});
    CHECK(matmul(a, b).to_vector() == std::vector<float>{19, 22, 43, 50});
  }
  SECTION("non-square shapes") {
    const Tensor a = from_vector({1, 2, 3}, {1, 3});
    const Tensor b = from_vector({1, 0, 0, 1, 1, 1}, {3, 2});
    const Tensor y = matmul(a, b);
    CHECK(y.shape() == Shape{1, 2});
    CHECK(y.to_vector() == std::vector<float>{4, 5});
  }
  SECTION("batched with equal batch dims") {
    const Tensor a = from_vector({1, 0, 0, 1, 2, 0, 0, 2}, {2, 2, 2});
    const Tensor b = from_vector({1, 2, 3, 4, 1, 2, 3, 4}, {2, 2, 2});
    CHECK(matmul(a, b).to_vector() == std::vector<float>{1, 2, 3, 4, 2, 4, 6, 8});
  }
  SECTION("batched with a shared 2-D rhs") {
    const Tensor a = ones({3, 1, 2});
    const Tensor b = from_vector({1, 2, 3, 4}, {2, 2});
    const Tensor y = matmul(a, b);
    CHECK(y.shape() == Shape{3, 1, 2});
    CHECK(y.to_vector() == std::vector<float>{4, 6, 4, 6, 4, 6});
  }
  SECTION("empty inner dimension gives zeros") {
    CHECK(matmul(zeros({2, 0}), zeros({0, 3})).to_vector() == std::vector<float>(6, 0.0f));
  }
}

TEST_CASE("matmul rejects mismatched shapes", "[autodiff][matmul][errors]") {
  CHECK_THROWS_WITH(matmul(zeros({3, 4}), zeros({5, 2})),
                    Catch::Contains("matmul: lhs [3, 4] and rhs [5, 2] have inner sizes 4 and 5; they must match"));
  CHECK_THROWS_WITH(matmul(zeros({4}), zeros({4, 2})), Catch::Contains("at least 2 dimensions"));
  CHECK_THROWS_WITH(matmul(zeros({2, 3, 4}), zeros({3, 4, 5})), Catch::Contains("different batch dimensions"));
}

TEST_CASE("matmul gradients match finite differences", "[autodiff][matmul][gradcheck]") {
  SECTION("2-D") {
    const GradCheckResult result = gradcheck([](const auto& in) { return matmul(in[0], in[1]); },
                                             {random_tensor({3, 4}, 1), random_tensor({4, 5}, 2)});
    INFO(result.report);
    CHECK(result.ok);
  }
  SECTION("batched") {
    const GradCheckResult result = gradcheck([](const auto& in) { return matmul(in[0], in[1]); },
                                             {random_tensor({2, 3, 4}, 3), random_tensor({2, 4, 2}, 4)});
    INFO(result.report);
    CHECK(result.ok);
  }
  SECTION("shared rhs sums its gradient over the batch") {
    const GradCheckResult result = gradcheck([](const auto& in) { return matmul(in[0], in[1]); },
                                             {random_tensor({3, 2, 4}, 5), random_tensor({4, 3}, 6)});
    INFO(result.report);
    CHECK(result.ok);
  }
  SECTION("same tensor on both sides") {
    const GradCheckResult result = gradcheck([](const auto& in) { return matmul(in[0], in[0]); },
                                             {random_tensor({3, 3}, 7)});
    INFO(result.report);
    CHECK(result.ok);
  }
}
