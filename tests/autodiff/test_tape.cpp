// Tests for the tape: accumulation, release, in-place detection, NoGrad.
#include <catch2/catch.hpp>

#include "autodiff/autodiff.h"

using namespace ember;

TEST_CASE("backward accumulates over uses", "[autodiff][tape]") {
  SECTION("a tensor used twice gets both shares") {
    // y = x * x, dy/dx = 2x
    Tensor x = from_vector({3.0f}, {1}).set_requires_grad(true);
    sum(x * x).backward();
    CHECK(x.grad().item() == 6.0f);
  }
  SECTION("a second forward and backward adds to the gradient") {
    Tensor x = from_vector({2.0f}, {1}).set_requires_grad(true);
    sum(x * 3.0f).backward();
    sum(x * 3.0f).backward();
    CHECK(x.grad().item() == 6.0f);
    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
  }
  SECTION("a diamond graph sums both paths") {
    // y = exp(x) + x^2 at x = 0: dy/dx = 1 + 0
    Tensor x = zeros({1}).set_requires_grad(true);
    Tensor a = exp(x);
    Tensor b = x * x;
    sum(a + b).backward();
    CHECK(x.grad().item() == Approx(1.0f));
  }
}

TEST_CASE("backward releases the tape", "[autodiff][tape][errors]") {
  Tensor x = from_vector({1.0f, 2.0f}, {2}).set_requires_grad(true);
  SECTION("a second backward through the same graph throws") {
    Tensor loss = sum(x * x);
    loss.backward();
    CHECK(Tape::current().size() == 0);
    CHECK_THROWS_WITH(loss.backward(), Catch::Contains("released by an earlier backward"));
  }
  SECTION("retain_tape keeps the graph for a second backward") {
    Tensor loss = sum(x * x);
    loss.backward(/*retain_tape=*/true);
    loss.backward();
    CHECK(x.grad().to_vector() == std::vector<float>{4.0f, 8.0f});
  }
}

TEST_CASE("backward rejects in-place changes", "[autodiff][tape][errors]") {
  Tensor x = from_vector({1.0f, 2.0f}, {2}).set_requires_grad(true);
  Tensor y = exp(x);
  Tensor loss = sum(y * y);
  y.set({0}, 0.0f);
  CHECK_THROWS_WITH(loss.backward(), Catch::Contains("was modified in place after the op was recorded"));
  Tape::current().release();
}

TEST_CASE("backward needs a scalar or an upstream", "[autodiff][tape][errors]") {
  Tensor x = ones({2, 2}).set_requires_grad(true);
  Tensor y = x * 2.0f;
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("has shape [2, 2], not a scalar"));
  CHECK_THROWS_WITH(y.backward(ones({3})), Catch::Contains("upstream gradient has shape [3]"));

  y.backward(from_vector({1, 2, 3, 4}, {2, 2}));
  CHECK(x.grad().to_vector() == std::vector<float>{2, 4, 6, 8});
}

TEST_CASE("backward of untracked tensors throws", "[autodiff][tape][errors]") {
  Tensor x = ones({1});
  CHECK_THROWS_WITH(sum(x * 2.0f).backward(), Catch::Contains("does not require grad"));
}

TEST_CASE("NoGrad records nothing", "[autodiff][tape]") {
  Tensor x = ones({2}).set_requires_grad(true);
  Tensor y;
  {
    NoGrad no_grad;
    y = x * 2.0f;
  }
  CHECK(Tape::current().size() == 0);
  CHECK_FALSE(y.requires_grad());
  CHECK(y.is_leaf());
}

TEST_CASE("detach cuts the history", "[autodiff][tape]") {
  Tensor x = from_vector({2.0f}, {1}).set_requires_grad(true);
  Tensor y = x * x;
  Tensor z = y.detach() * x;  // d z/d x = y = 4, not 3 x^2 = 12
  sum(z).backward();
  CHECK(x.grad().item() == 4.0f);
}

TEST_CASE("leaf and intermediate gradients", "[autodiff][tape]") {
  Tensor x = from_vector({1.0f, -1.0f}, {2}).set_requires_grad(true);
  SECTION("backward of a leaf seeds its own gradient") {
    x.backward(from_vector({3.0f, 4.0f}, {2}));
    CHECK(x.grad().to_vector() == std::vector<float>{3.0f, 4.0f});
  }
  SECTION("intermediate gradients are dropped unless retained") {
    Tensor h = x * 3.0f;
    Tensor kept = relu(h).retain_grad();
    Tensor loss = sum(kept * 2.0f);
    loss.backward();
    CHECK_FALSE(h.grad().defined());
    CHECK(kept.grad().to_vector() == std::vector<float>{2.0f, 2.0f});
    CHECK(x.grad().to_vector() == std::vector<float>{6.0f, 0.0f});
  }
  SECTION("only leaves can change requires_grad") {
    Tensor h = x * 2.0f;
    CHECK_FALSE(h.is_leaf());
    CHECK_THROWS_WITH(h.set_requires_grad(false), Catch::Contains("only leaf tensors"));
    Tape::current().release();
  }
}
