// Tests of the optimizers' update rules against values computed by hand,
// optimizer state round trips, gradient clipping and learning-rate schedules.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "autodiff/autodiff.h"
#include "nn/optim.h"
#include "nn/schedule.h"

using namespace ember;
using namespace ember::nn;

namespace {

// A one-element parameter starting at 1.
Tensor make_parameter() { return from_vector({1.0f}, {1}).set_requires_grad(true); }

// Runs steps of optimizer on loss(p) and returns p after each step.
template <class Loss>
std::vector<float> run(Optimizer& optimizer, Tensor p, int steps, Loss loss) {
  std::vector<float> values;
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    sum(loss(p)).backward();
    optimizer.step();
    values.push_back(p.item());
  }
  return values;
}

Tensor linear_loss(const Tensor& p) { return p * 2.0f; }  // gradient 2
Tensor square_loss(const Tensor& p) { return p * p; }     // gradient 2p

void require_sequence(const std::vector<float>& actual, const std::vector<float>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    INFO("step " << i + 1);
    CHECK(actual[i] == Approx(expected[i]).epsilon(1e-5));
  }
}

}  // namespace

TEST_CASE("SGD update rules", "[nn][optim]") {
  Tensor p = make_parameter();

  SECTION("plain: p <- p - lr g") {
    Sgd sgd({{"p", p}}, {.learning_rate = 0.1f});
    require_sequence(run(sgd, p, 2, linear_loss), {0.8f, 0.6f});
  }
  SECTION("momentum: v <- 0.9 v + g, p <- p - lr v") {
    // v = 2, p = 0.8; then v = 0.9 * 2 + 2 = 3.8, p = 0.8 - 0.38.
    Sgd sgd({{"p", p}}, {.learning_rate = 0.1f, .momentum = 0.9f});
    require_sequence(run(sgd, p, 2, linear_loss), {0.8f, 0.42f});
  }
  SECTION("Nesterov: p <- p - lr (g + 0.9 v)") {
    // v = 2, step 2 + 1.8 = 3.8; then v = 3.8, step 2 + 3.42 = 5.42.
    Sgd sgd({{"p", p}}, {.learning_rate = 0.1f, .momentum = 0.9f, .nesterov = true});
    require_sequence(run(sgd, p, 2, linear_loss), {0.62f, 0.078f});
  }
  SECTION("weight decay adds wd p to the gradient") {
    // g = 2 + 0.5 * 1 = 2.5 -> 0.75; g = 2 + 0.375 = 2.375 -> 0.5125.
    Sgd sgd({{"p", p}}, {.learning_rate = 0.1f, .weight_decay = 0.5f});
    require_sequence(run(sgd, p, 2, linear_loss), {0.75f, 0.5125f});
  }
  SECTION("Nesterov without momentum is rejected") {
    CHECK_THROWS_WITH(Sgd({{"p", p}}, {.nesterov = true}), Catch::Contains("momentum > 0"));
  }
}

TEST_CASE("Adam and AdamW update rules", "[nn][optim]") {
  Tensor p = make_parameter();

  SECTION("Adam, bias-corrected, on p^2") {
    // Step 1 moves by lr exactly, since m_hat / sqrt(s_hat) = g / |g|.
    // Step 2: g = 1.8, m = 0.36, s = 0.007236; m_hat = 1.894737,
    // s_hat = 3.619810, so p = 0.9 - 0.1 * 1.894737 / 1.902580.
    Adam adam({{"p", p}}, {.learning_rate = 0.1f});
    require_sequence(run(adam, p, 3, square_loss), {0.9f, 0.8004122f, 0.7015863f});
  }
  SECTION("Adam weight decay enters the gradient") {
    // Loss -2p, so g = -2 + 0.5 p: the decay changes the step's size.
    Adam adam({{"p", p}}, {.learning_rate = 0.1f, .weight_decay = 0.5f});
    require_sequence(run(adam, p, 3, [](const Tensor& x) { return x * -2.0f; }),
                     {1.1f, 1.1998973f, 1.2996185f});
  }
  SECTION("AdamW decays p directly") {
    // p <- p (1 - 0.1 * 0.5) before each Adam step of size 0.1.
    AdamW adamw({{"p", p}}, {.learning_rate = 0.1f, .weight_decay = 0.5f});
    require_sequence(run(adamw, p, 3, [](const Tensor& x) { return x * -2.0f; }),
                     {1.05f, 1.0975f, 1.142625f});
  }
  SECTION("invalid betas are rejected") {
    CHECK_THROWS_WITH(Adam({{"p", p}}, {.beta1 = 1.0f}), Catch::Contains("beta1 1"));
  }
}

TEST_CASE("optimizer skips parameters without gradient", "[nn][optim]") {
  Tensor used = make_parameter();
  Tensor unused = make_parameter();
  Sgd sgd({{"used", used}, {"unused", unused}}, {.learning_rate = 0.1f});
  sum(used * 2.0f).backward();
  sgd.step();
  CHECK(used.item() == Approx(0.8f));
  CHECK(unused.item() == 1.0f);
}

TEST_CASE("optimizer state round trip", "[nn][optim]") {
  // Two Adam runs: one straight through, one restored from state mid-way.
  Tensor p = make_parameter();
  Adam adam({{"p", p}}, {.learning_rate = 0.1f});
  run(adam, p, 2, square_loss);

  Tensor q = from_vector({p.item()}, {1}).set_requires_grad(true);
  Adam resumed({{"p", q}}, {.learning_rate = 0.5f});
  resumed.load_state(adam.state(), adam.state_metadata());

  SECTION("restores step count and learning rate") {
    CHECK(resumed.step_count() == 2);
    CHECK(resumed.learning_rate() == 0.1f);
  }
  SECTION("continues exactly like the original") {
    const std::vector<float> expected = run(adam, p, 2, square_loss);
    const std::vector<float> actual = run(resumed, q, 2, square_loss);
    CHECK(actual == expected);
  }
  SECTION("rejects a state of another kind") {
    Sgd sgd({{"p", q}}, {.momentum = 0.9f});
    CHECK_THROWS_WITH(sgd.load_state(adam.state(), adam.state_metadata()),
                      Catch::Contains("'adam', expected 'sgd'"));
  }
  SECTION("rejects a missing slot") {
    std::vector<NamedTensor> partial = adam.state();
    partial.pop_back();
    CHECK_THROWS_WITH(resumed.load_state(partial, adam.state_metadata()),
                      Catch::Contains("'p.exp_avg_sq' is missing"));
  }
}

TEST_CASE("clip_grad_norm scales to the max norm", "[nn][optim]") {
  Tensor a = from_vector({0.0f}, {1}).set_requires_grad(true);
  Tensor b = from_vector({0.0f}, {1}).set_requires_grad(true);
  // Gradients 3 and 4: global norm 5.
  sum(a * 3.0f + b * 4.0f).backward();

  SECTION("above the limit") {
    CHECK(clip_grad_norm({a, b}, 1.0f) == Approx(5.0f));
    CHECK(a.grad().item() == Approx(0.6f));
    CHECK(b.grad().item() == Approx(0.8f));
  }
  SECTION("below the limit nothing changes") {
    CHECK(clip_grad_norm({a, b}, 10.0f) == Approx(5.0f));
    CHECK(a.grad().item() == 3.0f);
    CHECK(b.grad().item() == 4.0f);
  }
}

TEST_CASE("learning-rate schedules", "[nn][schedule]") {
  SECTION("step decay halves every 10 steps") {
    StepDecay schedule(0.1f, 10, 0.5f);
    CHECK(schedule(0) == Approx(0.1f));
    CHECK(schedule(9) == Approx(0.1f));
    CHECK(schedule(10) == Approx(0.05f));
    CHECK(schedule(25) == Approx(0.025f));
  }
  SECTION("cosine from base to min") {
    Cosine schedule(1.0f, 4, 0.2f);
    CHECK(schedule(0) == Approx(1.0f));
    CHECK(schedule(2) == Approx(0.6f));  // halfway: the mean of base and min
    CHECK(schedule(4) == Approx(0.2f));
    CHECK(schedule(100) == Approx(0.2f));
  }
  SECTION("linear warm-up, then the wrapped schedule") {
    Warmup schedule(4, std::make_shared<Cosine>(1.0f, 10));
    CHECK(schedule(0) == Approx(0.25f));
    CHECK(schedule(3) == Approx(1.0f));
    CHECK(schedule(4) == Approx(1.0f));
    CHECK(schedule(9) == Approx(0.5f));
  }
  SECTION("negative step is rejected") {
    CHECK_THROWS_WITH(StepDecay(0.1f, 10, 0.5f)(-1), Catch::Contains("step -1"));
  }
}
