// Tests of ebm/energy.h: the Gibbs distribution, the hard and soft free
// energies, and the most offending incorrect answer, with hand-computed
// values and gradient checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>

#include "autodiff/autodiff.h"
#include "ebm/energy.h"

using namespace ember;

TEST_CASE("gibbs hand-computed values", "[ebm][gibbs][hw-1.2a][hw-1.1c]") {
  SECTION("equal energies give the uniform distribution") {
    const Tensor p = ebm::gibbs(from_vector({2, 2, 2, 2}, {1, 4}), 3.0f);
    for (int64_t k = 0; k < 4; ++k) {
      CHECK(p.at({0, k}) == Approx(0.25f));
    }
  }
  SECTION("energies 0 and ln 3 at beta 1 give 3/4 and 1/4") {
    const Tensor p = ebm::gibbs(from_vector({0.0f, std::log(3.0f)}, {1, 2}), 1.0f);
    CHECK(p.at({0, 0}) == Approx(0.75f));
    CHECK(p.at({0, 1}) == Approx(0.25f));
  }
  SECTION("beta scales the energy gap: gap ln 3 at beta 2 gives 9/10 and 1/10") {
    const Tensor p = ebm::gibbs(from_vector({1.0f, 1.0f + std::log(3.0f)}, {1, 2}), 2.0f);
    CHECK(p.at({0, 0}) == Approx(0.9f));
    CHECK(p.at({0, 1}) == Approx(0.1f));
  }
  SECTION("beta 0 gives the uniform distribution whatever the energies") {
    const Tensor p = ebm::gibbs(from_vector({-5, 0, 7}, {1, 3}), 0.0f);
    for (int64_t k = 0; k < 3; ++k) {
      CHECK(p.at({0, k}) == Approx(1.0f / 3.0f));
    }
  }
  SECTION("dim 0 normalizes each column") {
    const Tensor p = ebm::gibbs(from_vector({0, 5, 0, 5}, {2, 2}), 1.0f, /*dim=*/0);
    CHECK(p.at({0, 0}) == Approx(0.5f));
    CHECK(p.at({1, 0}) == Approx(0.5f));
    CHECK(p.at({0, 1}) == Approx(0.5f));
  }
}

TEST_CASE("gibbs finite for large energies and beta", "[ebm][gibbs][hw-1.2a]") {
  SECTION("energies near 1e4 at beta 100") {
    // beta E = 1e6 would overflow exp; the gaps 0, 0.01, 1 are what matter.
    const Tensor p = ebm::gibbs(from_vector({1e4f, 1e4f + 0.01f, 1e4f + 1.0f}, {1, 3}), 100.0f);
    // 1e4 + 0.01 rounds to 10000.009765625 in float32, so use the stored gap.
    const float small_gap = (1e4f + 0.01f) - 1e4f;
    const float e0 = 1.0f;
    const float e1 = std::exp(-100.0f * small_gap);
    const float e2 = std::exp(-100.0f);
    const float total = e0 + e1 + e2;
    CHECK(std::isfinite(p.at({0, 0})));
    CHECK(p.at({0, 0}) == Approx(e0 / total));
    CHECK(p.at({0, 1}) == Approx(e1 / total));
    CHECK(p.at({0, 2}) == Approx(e2 / total).margin(1e-30));
    CHECK(p.at({0, 0}) + p.at({0, 1}) + p.at({0, 2}) == Approx(1.0f));
  }
  SECTION("energies of 1e37 at beta 100, where beta E overflows float32") {
    const Tensor p = ebm::gibbs(from_vector({1e37f, 1e37f}, {1, 2}), 100.0f);
    CHECK(p.at({0, 0}) == Approx(0.5f));
    CHECK(p.at({0, 1}) == Approx(0.5f));
  }
  SECTION("huge gaps send all mass to the minimum without NaN") {
    const Tensor p = ebm::gibbs(from_vector({-1e30f, 1e30f}, {1, 2}), 100.0f);
    CHECK(p.at({0, 0}) == 1.0f);
    CHECK(p.at({0, 1}) == 0.0f);
  }
}

TEST_CASE("log_gibbs matches log of gibbs", "[ebm][gibbs][hw-1.2a]") {
  const Tensor energies = from_vector({0.5f, -1.0f, 2.0f, 3.0f, 3.0f, 0.0f}, {2, 3});
  const Tensor p = ebm::gibbs(energies, 1.5f);
  const Tensor log_p = ebm::log_gibbs(energies, 1.5f);
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t k = 0; k < 3; ++k) {
      CHECK(log_p.at({i, k}) == Approx(std::log(p.at({i, k}))));
    }
  }
  SECTION("a probability that underflows keeps a finite log") {
    const Tensor tiny = ebm::log_gibbs(from_vector({0.0f, 1000.0f}, {1, 2}), 1.0f);
    CHECK(tiny.at({0, 1}) == Approx(-1000.0f));
  }
}

TEST_CASE("gibbs gradient check", "[ebm][gibbs][gradcheck]") {
  Generator generator(3);
  const Tensor energies = normal({3, 4}, 0.0f, 1.0f, generator).set_requires_grad(true);
  const auto result = gradcheck(
      [](const std::vector<Tensor>& in) { return ebm::gibbs(in[0], 1.7f); }, {energies});
  INFO(result.report);
  REQUIRE(result.ok);
  const auto log_result = gradcheck(
      [](const std::vector<Tensor>& in) { return ebm::log_gibbs(in[0], 0.6f); }, {energies});
  INFO(log_result.report);
  REQUIRE(log_result.ok);
}

TEST_CASE("gibbs rejects an invalid beta", "[ebm][gibbs]") {
  const Tensor energies = zeros({1, 2});
  CHECK_THROWS_AS(ebm::gibbs(energies, -1.0f), std::invalid_argument);
  CHECK_THROWS_AS(ebm::gibbs(energies, INFINITY), std::invalid_argument);
  CHECK_THROWS_AS(ebm::gibbs(energies, NAN), std::invalid_argument);
}

TEST_CASE("hard free energy is the minimum", "[ebm][free-energy]") {
  Tensor energies = from_vector({3, 1, 1, 2, -4, 0}, {2, 3}).set_requires_grad(true);
  const Tensor free = ebm::free_energy_min(energies);
  CHECK(free.at({0}) == 1.0f);
  CHECK(free.at({1}) == -4.0f);

  SECTION("the gradient goes to the first minimum of each row") {
    sum(free).backward();
    const Tensor grad = energies.grad();
    CHECK(grad.at({0, 0}) == 0.0f);
    CHECK(grad.at({0, 1}) == 1.0f);
    CHECK(grad.at({0, 2}) == 0.0f);
    CHECK(grad.at({1, 1}) == 1.0f);
  }
}

TEST_CASE("soft free energy hand-computed values", "[ebm][free-energy]") {
  SECTION("two zero energies at beta 1 give -ln 2") {
    const Tensor free = ebm::free_energy_soft(zeros({1, 2}), 1.0f);
    CHECK(free.at({0}) == Approx(-std::log(2.0f)));
  }
  SECTION("energies 1 and 1 + ln 3 at beta 1 give 1 - ln(4/3)") {
    const Tensor free =
        ebm::free_energy_soft(from_vector({1.0f, 1.0f + std::log(3.0f)}, {1, 2}), 1.0f);
    CHECK(free.at({0}) == Approx(1.0f - std::log(4.0f / 3.0f)));
  }
  SECTION("keepdim keeps a dimension of size 1") {
    const Tensor free = ebm::free_energy_soft(zeros({2, 3}), 2.0f, /*dim=*/1, /*keepdim=*/true);
    REQUIRE(free.shape() == Shape{2, 1});
    CHECK(free.at({1, 0}) == Approx(-std::log(3.0f) / 2.0f));
  }
  SECTION("a latent axis in the middle: [B, Z, C] reduced over Z") {
    const Tensor energies = from_vector({0, 5, 0, 5}, {1, 2, 2});
    const Tensor free = ebm::free_energy_soft(energies, 1.0f, /*dim=*/1);
    REQUIRE(free.shape() == Shape{1, 2});
    CHECK(free.at({0, 0}) == Approx(-std::log(2.0f)));
    CHECK(free.at({0, 1}) == Approx(5.0f - std::log(2.0f)));
  }
  SECTION("large energies and beta stay finite") {
    const Tensor free = ebm::free_energy_soft(from_vector({1e4f, 1e4f}, {1, 2}), 100.0f);
    CHECK(free.at({0}) == Approx(1e4f - std::log(2.0f) / 100.0f));
  }
  SECTION("beta must be positive") {
    CHECK_THROWS_AS(ebm::free_energy_soft(zeros({1, 2}), 0.0f), std::invalid_argument);
  }
}

TEST_CASE("soft minimum tends to the hard minimum", "[ebm][free-energy][hw-1.2b]") {
  // min E - ln(K)/beta <= F_beta <= min E, so the gap closes like 1/beta.
  const Tensor energies = from_vector({0.3f, -0.7f, 1.2f, -0.7f, 2.0f}, {1, 5});
  const float hard = ebm::free_energy_min(energies).at({0});
  float previous_gap = INFINITY;
  for (const float beta : {0.5f, 1.0f, 4.0f, 16.0f, 64.0f, 256.0f}) {
    const float soft = ebm::free_energy_soft(energies, beta).at({0});
    const float gap = hard - soft;
    INFO("beta " << beta << " soft " << soft << " hard " << hard);
    CHECK(gap >= 0.0f);
    CHECK(gap <= std::log(5.0f) / beta + 1e-6f);
    CHECK(gap < previous_gap);
    previous_gap = gap;
  }
  // Two entries tie at the minimum, so the gap tends to ln(2)/beta.
  CHECK(hard - ebm::free_energy_soft(energies, 256.0f).at({0}) ==
        Approx(std::log(2.0f) / 256.0f).epsilon(1e-3));
}

TEST_CASE("soft free energy gradient is the gibbs distribution", "[ebm][free-energy][hw-1.2a]") {
  Tensor energies = from_vector({0.5f, -1.0f, 2.0f, 1.0f, 1.0f, 0.0f}, {2, 3});
  energies.set_requires_grad(true);
  sum(ebm::free_energy_soft(energies, 2.5f)).backward();
  const Tensor p = ebm::gibbs(energies.detach(), 2.5f);
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t k = 0; k < 3; ++k) {
      CHECK(energies.grad().at({i, k}) == Approx(p.at({i, k})));
    }
  }
}

TEST_CASE("soft free energy gradient check", "[ebm][free-energy][gradcheck]") {
  Generator generator(5);
  const Tensor energies = normal({2, 3, 4}, 0.0f, 1.0f, generator).set_requires_grad(true);
  for (const int64_t dim : {0, 1, 2}) {
    const auto result = gradcheck(
        [dim](const std::vector<Tensor>& in) { return ebm::free_energy_soft(in[0], 1.3f, dim); },
        {energies});
    INFO("dim " << dim << "\n" << result.report);
    REQUIRE(result.ok);
  }
}

TEST_CASE("most offending incorrect answer", "[ebm][most-offending]") {
  SECTION("the lowest energy other than the correct label") {
    const Tensor energies = from_vector({1, 0, 0.5f, 3, 2, 1, 4, 0}, {2, 4});
    CHECK(ebm::most_offending_incorrect(energies, {1, 3}) == std::vector<int64_t>{2, 1});
    CHECK(ebm::most_offending_incorrect(energies, {0, 0}) == std::vector<int64_t>{1, 3});
  }
  SECTION("ties go to the lowest label index") {
    const Tensor energies = from_vector({1, 0, 0}, {1, 3});
    CHECK(ebm::most_offending_incorrect(energies, {1}) == std::vector<int64_t>{2});
    CHECK(ebm::most_offending_incorrect(energies, {0}) == std::vector<int64_t>{1});
    const Tensor flat = from_vector({2, 2, 2, 2}, {1, 4});
    CHECK(ebm::most_offending_incorrect(flat, {0}) == std::vector<int64_t>{1});
    CHECK(ebm::most_offending_incorrect(flat, {2}) == std::vector<int64_t>{0});
  }
  SECTION("the correct label is skipped even when it has the lowest energy") {
    const Tensor energies = from_vector({-9, 5, 4}, {1, 3});
    CHECK(ebm::most_offending_incorrect(energies, {0}) == std::vector<int64_t>{2});
  }
}

TEST_CASE("energy_at picks one energy per sample", "[ebm][most-offending]") {
  Tensor energies = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad(true);
  const Tensor picked = ebm::energy_at(energies, {2, 0});
  CHECK(picked.at({0}) == 3.0f);
  CHECK(picked.at({1}) == 4.0f);
  sum(picked * 2.0f).backward();
  CHECK(energies.grad().at({0, 2}) == 2.0f);
  CHECK(energies.grad().at({1, 0}) == 2.0f);
  CHECK(energies.grad().at({0, 0}) == 0.0f);
}

TEST_CASE("energies and labels are validated", "[ebm][most-offending]") {
  SECTION("one label cannot have an incorrect answer") {
    CHECK_THROWS_AS(ebm::most_offending_incorrect(zeros({2, 1}), {0, 0}),
                    std::invalid_argument);
  }
  SECTION("label out of range") {
    CHECK_THROWS_AS(ebm::most_offending_incorrect(zeros({1, 3}), {3}), std::invalid_argument);
    CHECK_THROWS_AS(ebm::energy_at(zeros({1, 3}), {-1}), std::invalid_argument);
  }
  SECTION("label count differs from the batch") {
    CHECK_THROWS_AS(ebm::energy_at(zeros({2, 3}), {0}), std::invalid_argument);
  }
  SECTION("energies must be [B, C]") {
    CHECK_THROWS_AS(ebm::energy_at(zeros({3}), {0}), std::invalid_argument);
  }
}
