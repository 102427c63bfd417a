// Tests for shape ops: values on small cases, errors, and gradient checks.
#include <catch2/catch.hpp>

#include "autodiff/autodiff.h"

using namespace ember;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Generator generator(seed);
  return uniform(shape, -1.0f, 1.0f, generator).set_requires_grad(true);
}

void require_gradients_match(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                             const std::vector<Tensor>& inputs) {
  const GradCheckResult result = gradcheck(f, inputs);
  INFO(result.report);
  REQUIRE(result.ok);
}

// [[0, 1, 2],
//  [3, 4, 5]]
const Tensor kSix = from_vector({0, 1, 2, 3, 4, 5}, {2, 3});

}  // namespace

TEST_CASE("reshape and flatten", "[autodiff][shape]") {
  CHECK(reshape(kSix, {3, -1}).shape() == Shape{3, 2});
  CHECK(flatten(zeros({2, 3, 4}), 1).shape() == Shape{2, 12});
  CHECK(flatten(zeros({2, 0, 4}), 1).shape() == Shape{2, 0});
  CHECK_THROWS_WITH(reshape(kSix, {4, 2}), Catch::Contains("cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)"));
  CHECK_THROWS_WITH(reshape(kSix, {-1, -1}), Catch::Contains("at most one -1"));
  CHECK_THROWS_WITH(reshape(kSix, {4, -1}), Catch::Contains("cannot infer the -1"));
}

TEST_CASE("permute and transpose", "[autodiff][shape]") {
  const Tensor t = transpose(kSix, 0, 1);
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  const Tensor p = permute(reshape(arange(24), {2, 3, 4}), {2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({1, 1, 2}) == 21.0f);  // input [1, 2, 1] = 12 + 8 + 1
  CHECK_THROWS_WITH(permute(kSix, {0, 0}), Catch::Contains("dimension 0 appears twice"));
  CHECK_THROWS_WITH(permute(kSix, {0}), Catch::Contains("order has 1 entries"));
}

TEST_CASE("narrow, concat and stack", "[autodiff][shape]") {
  CHECK(narrow(kSix, 1, 1, 2).to_vector() == std::vector<float>{1, 2, 4, 5});
  CHECK(narrow(kSix, 0, 1, 1).to_vector() == std::vector<float>{3, 4, 5});
  CHECK(narrow(kSix, 1, 3, 0).numel() == 0);
  CHECK_THROWS_WITH(narrow(kSix, 1, 2, 2), Catch::Contains("start 2 and length 2 do not fit in dimension 1 of size 3"));

  const Tensor c = concat({kSix, narrow(kSix, 1, 0, 1)}, 1);
  CHECK(c.shape() == Shape{2, 4});
  CHECK(c.to_vector() == std::vector<float>{0, 1, 2, 0, 3, 4, 5, 3});
  CHECK_THROWS_WITH(concat({kSix, zeros({3, 3})}, 1), Catch::Contains("tensor 1 has shape [3, 3] but tensor 0 has shape [2, 3]"));
  CHECK_THROWS_WITH(concat({}, 0), Catch::Contains("the list of tensors is empty"));

  const Tensor s = stack({from_vector({1, 2}, {2}), from_vector({3, 4}, {2})}, 1);
  CHECK(s.shape() == Shape{2, 2});
  CHECK(s.to_vector() == std::vector<float>{1, 3, 2, 4});
}

TEST_CASE("pad with a constant", "[autodiff][shape]") {
  const Tensor p = pad(from_vector({1, 2}, {1, 2}), {{1, 0}, {0, 2}}, -1.0f);
  CHECK(p.shape() == Shape{2, 4});
  CHECK(p.to_vector() == std::vector<float>{-1, -1, -1, -1, 1, 2, -1, -1});
  CHECK_THROWS_WITH(pad(kSix, {{0, -1}}), Catch::Contains("is negative"));
  CHECK_THROWS_WITH(pad(kSix, {{0, 0}, {0, 0}, {1, 1}}), Catch::Contains("3 padding pairs"));
}

TEST_CASE("gather builds a path matrix", "[autodiff][shape][gather]") {
  // energies [L=2, C=3]; target symbols y = [2, 0]: pm[i, j] = E[i, y[j]]
  const Tensor energies = from_vector({0.1f, 0.2f, 0.3f, 1.1f, 1.2f, 1.3f}, {2, 3});
  const Tensor index = from_vector({2, 0, 2, 0}, {2, 2});
  const Tensor pm = gather(energies, 1, index);
  CHECK(pm.to_vector() == std::vector<float>{0.3f, 0.1f, 1.3f, 1.1f});
  CHECK_THROWS_WITH(gather(energies, 1, from_vector({3}, {1, 1})), Catch::Contains("index value 3"));
  CHECK_THROWS_WITH(gather(energies, 1, from_vector({0.5f}, {1, 1})), Catch::Contains("not an integer"));
  CHECK_THROWS_WITH(gather(energies, 1, zeros({3})), Catch::Contains("same number of dimensions"));
}

TEST_CASE("index_select and one_hot", "[autodiff][shape]") {
  CHECK(index_select(kSix, 1, {2, 2, 0}).to_vector() == std::vector<float>{2, 2, 0, 5, 5, 3});
  CHECK_THROWS_WITH(index_select(kSix, 0, {2}), Catch::Contains("index 2 (entry 0) is out of range for dimension 0 of size 2"));
  CHECK(one_hot({1, 0}, 3).to_vector() == std::vector<float>{0, 1, 0, 1, 0, 0});
  CHECK_THROWS_WITH(one_hot({3}, 3), Catch::Contains("label 3 (entry 0) is not in [0, 3)"));
}

TEST_CASE("shape gradients match finite differences", "[autodiff][shape][gradcheck]") {
  const Tensor x = random_tensor({2, 3, 4}, 21);
  SECTION("reshape") { require_gradients_match([](const auto& in) { return reshape(in[0], {6, 4}) * 2.0f; }, {x}); }
  SECTION("permute") { require_gradients_match([](const auto& in) { return permute(in[0], {1, 2, 0}); }, {x}); }
  SECTION("narrow dim 0 view") { require_gradients_match([](const auto& in) { return narrow(in[0], 0, 1, 1); }, {x}); }
  SECTION("narrow dim 2 copy") { require_gradients_match([](const auto& in) { return narrow(in[0], 2, 1, 2); }, {x}); }
  SECTION("concat") {
    require_gradients_match([](const auto& in) { return concat({in[0], in[1], in[0]}, 1); },
                            {x, random_tensor({2, 1, 4}, 22)});
  }
  SECTION("stack") { require_gradients_match([](const auto& in) { return stack({in[0], in[1]}, 0); }, {x, random_tensor({2, 3, 4}, 23)}); }
  SECTION("pad") { require_gradients_match([](const auto& in) { return pad(in[0], {{0, 1}, {2, 0}}); }, {x}); }
  SECTION("gather with repeats") {
    const Tensor index = from_vector({0, 0, 3, 1, 2, 2}, {1, 1, 6});
    require_gradients_match([index](const auto& in) { return gather(in[0], 2, index); }, {x});
  }
  SECTION("index_select with repeats") {
    require_gradients_match([](const auto& in) { return index_select(in[0], 1, {2, 0, 2}); }, {x});
  }
}
