// Tests for Tensor: factories, element access, views, the generator and printing.
#include <catch2/catch.hpp>
#include <cmath>

#include "autodiff/autodiff.h"

using namespace ember;

TEST_CASE("factories fill shape and values", "[autodiff][tensor]") {
  SECTION("zeros, ones and full") {
    const Tensor z = zeros({2, 3});
    CHECK(z.shape() == Shape{2, 3});
    CHECK(z.numel() == 6);
    CHECK(z.to_vector() == std::vector<float>(6, 0.0f));
    CHECK(ones({4}).to_vector() == std::vector<float>(4, 1.0f));
    CHECK(full({2, 2}, 2.5f).at({1, 1}) == 2.5f);
  }
  SECTION("scalar has the empty shape and one element") {
    const Tensor s = scalar(3.0f);
    CHECK(s.dim() == 0);
    CHECK(s.numel() == 1);
    CHECK(s.item() == 3.0f);
  }
  SECTION("arange counts like Python's range") {
    CHECK(arange(4).to_vector() == std::vector<float>{0, 1, 2, 3});
    CHECK(arange(1.0f, 2.0f, 0.25f).to_vector() == std::vector<float>{1.0f, 1.25f, 1.5f, 1.75f});
    CHECK(arange(3.0f, 0.0f, -1.0f).to_vector() == std::vector<float>{3, 2, 1});
    CHECK(arange(0).numel() == 0);
  }
  SECTION("from_vector keeps row-major order") {
    const Tensor t = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(t.at({0, 2}) == 3.0f);
    CHECK(t.at({1, 0}) == 4.0f);
  }
  SECTION("empty tensors have zero elements") {
    const Tensor e = zeros({3, 0});
    CHECK(e.numel() == 0);
    CHECK(e.to_vector().empty());
  }
}

TEST_CASE("factories reject invalid arguments", "[autodiff][tensor][errors]") {
  CHECK_THROWS_WITH(from_vector({1, 2, 3}, {2, 2}),
                    Catch::Contains("3 values given for shape [2, 2], which has 4 elements"));
  CHECK_THROWS_WITH(zeros({2, -1}), Catch::Contains("shape [2, -1] has a negative size"));
  CHECK_THROWS_WITH(arange(0.0f, 1.0f, 0.0f), Catch::Contains("non-zero step"));
  Generator generator(1);
  CHECK_THROWS_WITH(normal({2}, 0.0f, -1.0f, generator), Catch::Contains("std is -1"));
  CHECK_THROWS_WITH(uniform({2}, 1.0f, 0.0f, generator), Catch::Contains("low 1 > high 0"));
}

TEST_CASE("element access checks indices", "[autodiff][tensor][errors]") {
  Tensor t = zeros({2, 3});
  t.set({1, 2}, 7.0f);
  CHECK(t.at({1, 2}) == 7.0f);
  CHECK_THROWS_WITH(t.at({2, 0}), Catch::Contains("index 2 is out of range for dimension 0 of size 2"));
  CHECK_THROWS_WITH(t.at({0}), Catch::Contains("1 indices given for a tensor of shape [2, 3]"));
  CHECK_THROWS_WITH(t.item(), Catch::Contains("has 6 elements; expected exactly 1"));
  CHECK_THROWS_WITH(t.size(2), Catch::Contains("dimension 2 is out of range"));
  CHECK(t.size(-1) == 3);
}

TEST_CASE("views share storage", "[autodiff][tensor]") {
  Tensor t = from_vector({1, 2, 3, 4}, {2, 2});
  SECTION("detach shares values but not history") {
    Tensor d = t.detach();
    d.set({0, 0}, 9.0f);
    CHECK(t.at({0, 0}) == 9.0f);
    CHECK_FALSE(d.requires_grad());
  }
  SECTION("reshape shares values") {
    Tensor r = reshape(t, {4});
    r.set({3}, -1.0f);
    CHECK(t.at({1, 1}) == -1.0f);
  }
  SECTION("narrow along dim 0 is a view") {
    Tensor row = narrow(t, 0, 1, 1);
    row.set({0, 0}, 5.0f);
    CHECK(t.at({1, 0}) == 5.0f);
  }
  SECTION("clone copies") {
    Tensor c = t.clone();
    c.set({0, 0}, 42.0f);
    CHECK(t.at({0, 0}) == 1.0f);
  }
}

TEST_CASE("generator is reproducible from its seed", "[autodiff][tensor][random]") {
  Generator a(42);
  Generator b(42);
  Generator c(43);
  const Tensor x = normal({100}, 0.0f, 1.0f, a);
  const Tensor y = normal({100}, 0.0f, 1.0f, b);
  const Tensor z = normal({100}, 0.0f, 1.0f, c);
  CHECK(x.to_vector() == y.to_vector());
  CHECK(x.to_vector() != z.to_vector());

  SECTION("normal samples have roughly the requested moments") {
    Generator generator(7);
    const Tensor samples = normal({20000}, 2.0f, 3.0f, generator);
    const double sample_mean = mean(samples).item();
    const double sample_std = std::sqrt(mean(pow(samples - 2.0f, 2.0f)).item());
    // Standard error of the mean is 3 / sqrt(20000) = 0.021.
    CHECK(sample_mean == Approx(2.0).margin(0.1));
    CHECK(sample_std == Approx(3.0).margin(0.1));
  }
  SECTION("uniform samples stay in [low, high)") {
    Generator generator(7);
    const Tensor samples = uniform({10000}, -1.0f, 2.0f, generator);
    CHECK(min(samples).item() >= -1.0f);
    CHECK(max(samples).item() < 2.0f);
    CHECK(mean(samples).item() == Approx(0.5).margin(0.05));
  }
}

TEST_CASE("tensors print through fmt", "[autodiff][tensor][format]") {
  CHECK(fmt::format("{}", from_vector({1, 2, 3, 4}, {2, 2})) ==
        "tensor([[1, 2], [3, 4]], shape=[2, 2])");
  CHECK(fmt::format("{}", scalar(0.5f)) == "tensor(0.5, shape=[])");
  CHECK(fmt::format("{}", arange(10)) == "tensor([0, 1, 2, ..., 7, 8, 9], shape=[10])");
  CHECK(fmt::format("{}", Tensor()) == "tensor(undefined)");
  Tensor p = zeros({1}).set_requires_grad(true);
  CHECK(fmt::format("{}", p) == "tensor([0], shape=[1], requires_grad)");
}
