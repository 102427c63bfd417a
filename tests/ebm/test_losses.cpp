// Tests of ebm/losses.h: hand-computed values of every loss, the reductions,
// gradient checks against central differences, and input validation. The
// closed-form gradients through an energy network are in test_theory.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>

#include "autodiff/autodiff.h"
#include "ebm/energy.h"
#include "ebm/losses.h"

using namespace ember;

namespace {

// Two samples, three labels. Sample 0: y = 0, F(y) = 0.5, ybar = 2 with
// F(ybar) = 1. Sample 1: y = 2, F(y) = 0.5, ybar = 1 with F(ybar) = -1.
Tensor example_energies() { return from_vector({0.5f, 2.0f, 1.0f, 3.0f, -1.0f, 0.5f}, {2, 3}); }
const std::vector<int64_t> kExampleLabels = {0, 2};

// Per-sample values of a loss on the example, as a vector.
std::vector<float> per_sample(const Tensor& losses) {
  REQUIRE(losses.shape() == Shape{2});
  return losses.to_vector();
}

using LossFunction = std::function<Tensor(const Tensor&, const std::vector<int64_t>&)>;

struct NamedLoss {
  std::string name;
  LossFunction loss;
};

// Every loss with fixed hyperparameters and no reduction.
std::vector<NamedLoss> all_losses() {
  using ebm::Reduction;
  const Reduction none = Reduction::kNone;
  return {
      {"energy", [=](const Tensor& e, const auto& y) { return ebm::energy_loss(e, y, none); }},
      {"perceptron",
       [=](const Tensor& e, const auto& y) { return ebm::perceptron_loss(e, y, none); }},
      {"simple",
       [=](const Tensor& e, const auto& y) { return ebm::simple_loss(e, y, 1.0f, none); }},
      {"hinge", [=](const Tensor& e, const auto& y) { return ebm::hinge_loss(e, y, 1.0f, none); }},
      {"log", [=](const Tensor& e, const auto& y) { return ebm::log_loss(e, y, none); }},
      {"square-square",
       [=](const Tensor& e, const auto& y) { return ebm::square_square_loss(e, y, 1.0f, none); }},
      {"square-exponential",
       [=](const Tensor& e, const auto& y) {
         return ebm::square_exponential_loss(e, y, 2.0f, none);
       }},
      {"lvq2", [=](const Tensor& e, const auto& y) { return ebm::lvq2_loss(e, y, 4.0f, none); }},
      {"mce", [=](const Tensor& e, const auto& y) { return ebm::mce_loss(e, y, none); }},
      {"nll", [=](const Tensor& e, const auto& y) { return ebm::nll_loss(e, y, 1.5f, none); }},
  };
}

}  // namespace

TEST_CASE("loss values on a two-sample example", "[ebm][losses]") {
  const Tensor e = example_energies();
  const auto& y = kExampleLabels;
  const ebm::Reduction none = ebm::Reduction::kNone;

  SECTION("energy loss is F(x, y)") {
    CHECK(per_sample(ebm::energy_loss(e, y, none)) == std::vector<float>{0.5f, 0.5f});
  }
  SECTION("perceptron loss is F(x, y) - min F") {
    CHECK(per_sample(ebm::perceptron_loss(e, y, none)) == std::vector<float>{0.0f, 1.5f});
  }
  SECTION("simple loss with margin 1") {
    // [0.5]+ + [1 - 1]+ and [0.5]+ + [1 + 1]+
    CHECK(per_sample(ebm::simple_loss(e, y, 1.0f, none)) == std::vector<float>{0.5f, 2.5f});
  }
  SECTION("hinge loss with margin 1") {
    // [0.5 - 1 + 1]+ and [0.5 + 1 + 1]+
    CHECK(per_sample(ebm::hinge_loss(e, y, 1.0f, none)) == std::vector<float>{0.5f, 2.5f});
  }
  SECTION("log loss") {
    const auto values = per_sample(ebm::log_loss(e, y, none));
    CHECK(values[0] == Approx(std::log(1.0f + std::exp(-0.5f))));
    CHECK(values[1] == Approx(std::log(1.0f + std::exp(1.5f))));
  }
  SECTION("square-square loss with margin 1") {
    // 0.5^2 + [1 - 1]+^2 and 0.5^2 + [1 + 1]+^2
    CHECK(per_sample(ebm::square_square_loss(e, y, 1.0f, none)) ==
          std::vector<float>{0.25f, 4.25f});
  }
  SECTION("square-exponential loss with gamma 2") {
    const auto values = per_sample(ebm::square_exponential_loss(e, y, 2.0f, none));
    CHECK(values[0] == Approx(0.25f + 2.0f * std::exp(-1.0f)));
    CHECK(values[1] == Approx(0.25f + 2.0f * std::exp(1.0f)));
  }
  SECTION("mce loss") {
    const auto values = per_sample(ebm::mce_loss(e, y, none));
    CHECK(values[0] == Approx(1.0f / (1.0f + std::exp(0.5f))));
    CHECK(values[1] == Approx(1.0f / (1.0f + std::exp(-1.5f))));
  }
  SECTION("nll loss at beta 1") {
    const auto values = per_sample(ebm::nll_loss(e, y, 1.0f, none));
    CHECK(values[0] ==
          Approx(0.5f + std::log(std::exp(-0.5f) + std::exp(-2.0f) + std::exp(-1.0f))));
    CHECK(values[1] ==
          Approx(0.5f + std::log(std::exp(-3.0f) + std::exp(1.0f) + std::exp(-0.5f))));
  }
  SECTION("nll loss at beta 2 is scaled by 1/2") {
    const auto values = per_sample(ebm::nll_loss(e, y, 2.0f, none));
    CHECK(values[0] == Approx(0.5f + 0.5f * std::log(std::exp(-1.0f) + std::exp(-4.0f) +
                                                      std::exp(-2.0f))));
  }
}

TEST_CASE("lvq2 loss values", "[ebm][losses]") {
  // Positive energies. Row 0: labels 1, 2, 4; row 1: labels 3, 2, 5.
  const Tensor e = from_vector({1, 2, 4, 3, 2, 5}, {2, 3});
  const ebm::Reduction none = ebm::Reduction::kNone;
  SECTION("correct answers win: ratio below 0 gives 0, ratio 1/2 gives 1/2") {
    // row 0: (1 - 2) / 2 = -1/2; row 1: (3 - 2) / 2 = 1/2
    CHECK(per_sample(ebm::lvq2_loss(e, {0, 0}, 1.0f, none)) == std::vector<float>{0.0f, 0.5f});
  }
  SECTION("the ratio saturates at 1") {
    // row 0: (4 - 1) / 1 = 3; row 1: (5 - 2) / (0.5 * 2) = 3
    CHECK(per_sample(ebm::lvq2_loss(e, {2, 2}, 0.5f, none)) == std::vector<float>{1.0f, 1.0f});
  }
  SECTION("delta scales the ratio") {
    // row 1: (3 - 2) / (4 * 2) = 1/8
    CHECK(per_sample(ebm::lvq2_loss(e, {0, 0}, 4.0f, none))[1] == Approx(0.125f));
  }
}

TEST_CASE("loss reductions", "[ebm][losses]") {
  const Tensor e = example_energies();
  SECTION("mean averages over the batch") {
    const Tensor loss = ebm::hinge_loss(e, kExampleLabels, 1.0f);
    CHECK(loss.shape() == Shape{});
    CHECK(loss.item() == Approx(1.5f));
  }
  SECTION("sum adds over the batch") {
    const Tensor loss = ebm::hinge_loss(e, kExampleLabels, 1.0f, ebm::Reduction::kSum);
    CHECK(loss.shape() == Shape{});
    CHECK(loss.item() == Approx(3.0f));
  }
  SECTION("none keeps one loss per sample") {
    CHECK(ebm::hinge_loss(e, kExampleLabels, 1.0f, ebm::Reduction::kNone).shape() == Shape{2});
  }
}

TEST_CASE("every loss passes a gradient check", "[ebm][losses][gradcheck]") {
  // Positive, well separated energies: no sample sits at a kink or near a
  // change of ybar, where central differences straddle two pieces.
  const Tensor energies =
      from_vector({1.0f, 2.2f, 3.1f, 0.6f, 4.0f, 1.9f, 1.3f, 3.6f, 2.5f, 3.3f, 0.9f, 1.6f}, {3, 4})
          .set_requires_grad(true);
  const std::vector<int64_t> labels = {1, 3, 0};
  for (const NamedLoss& named : all_losses()) {
    const auto result = gradcheck(
        [&](const std::vector<Tensor>& in) { return named.loss(in[0], labels); }, {energies});
    INFO(named.name << "\n" << result.report);
    CHECK(result.ok);
  }
}

TEST_CASE("losses accumulate gradients over repeated use", "[ebm][losses]") {
  const Tensor values = example_energies();
  for (const NamedLoss& named : all_losses()) {
    if (named.name == "lvq2") {
      continue;  // needs positive energies; covered by the gradient check
    }
    Tensor once = values.clone().set_requires_grad(true);
    sum(named.loss(once, kExampleLabels)).backward();
    Tensor twice = values.clone().set_requires_grad(true);
    sum(named.loss(twice, kExampleLabels) + named.loss(twice, kExampleLabels)).backward();
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t k = 0; k < 3; ++k) {
        INFO(named.name << " at [" << i << ", " << k << "]");
        CHECK(twice.grad().at({i, k}) == Approx(2.0f * once.grad().at({i, k})));
      }
    }
  }
}

TEST_CASE("losses reject invalid inputs", "[ebm][losses]") {
  const Tensor e = example_energies();
  SECTION("margins must be finite and non-negative") {
    CHECK_THROWS_AS(ebm::hinge_loss(e, kExampleLabels, -1.0f), std::invalid_argument);
    CHECK_THROWS_AS(ebm::simple_loss(e, kExampleLabels, NAN), std::invalid_argument);
    CHECK_THROWS_AS(ebm::square_square_loss(e, kExampleLabels, INFINITY),
                    std::invalid_argument);
  }
  SECTION("gamma, delta and beta must be positive") {
    CHECK_THROWS_AS(ebm::square_exponential_loss(e, kExampleLabels, 0.0f),
                    std::invalid_argument);
    CHECK_THROWS_AS(ebm::lvq2_loss(from_vector({1, 2}, {1, 2}), {0}, 0.0f),
                    std::invalid_argument);
    CHECK_THROWS_AS(ebm::nll_loss(e, kExampleLabels, 0.0f), std::invalid_argument);
  }
  SECTION("lvq2 needs a positive offending energy") {
    CHECK_THROWS_AS(ebm::lvq2_loss(from_vector({1, 0}, {1, 2}), {0}, 1.0f),
                    std::invalid_argument);
  }
  SECTION("margin losses need two labels, energy and nll need one") {
    CHECK_THROWS_AS(ebm::hinge_loss(zeros({2, 1}), {0, 0}, 1.0f), std::invalid_argument);
    CHECK(ebm::energy_loss(zeros({2, 1}), {0, 0}).item() == 0.0f);
    CHECK(ebm::nll_loss(zeros({2, 1}), {0, 0}, 1.0f).item() == 0.0f);
  }
  SECTION("labels must match the batch and the label count") {
    CHECK_THROWS_AS(ebm::log_loss(e, {0}), std::invalid_argument);
    CHECK_THROWS_AS(ebm::mce_loss(e, {0, 3}), std::invalid_argument);
    CHECK_THROWS_AS(ebm::nll_loss(e, {0, 5}, 1.0f), std::invalid_argument);
  }
}
