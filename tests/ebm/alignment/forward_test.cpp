// Tests of the forward-algorithm ops against brute-force enumeration of every
// alignment, hand-computed CTC values, edge cases and gradient checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "autodiff/autodiff.h"
#include "brute_force.h"
#include "ebm/alignment/forward.h"
#include "ebm/alignment/viterbi.h"

using namespace ember;
using namespace ember::alignment;
using namespace ember::alignment::testing;

namespace {

// Checks free_energy on one sample E [L, C] against the enumeration.
void check_against_brute_force(const std::vector<float>& energies, int64_t windows,
                               int64_t symbols, const std::vector<int64_t>& target,
                               const Topology& topology, float beta) {
  Tensor e = from_vector(energies, {1, windows, symbols});
  e.set_requires_grad(true);
  const Tensor free = free_energy(e, make_alignment_batch({target}), topology, beta);
  const BruteFree expected = brute_free_energy(
      energies, windows, symbols, alignments_of(target, windows, symbols, topology), beta);

  INFO("L = " << windows << ", T = " << target.size() << ", beta = " << beta);
  if (!std::isfinite(expected.free)) {
    CHECK(free.item() == std::numeric_limits<float>::infinity());
    return;
  }
  CHECK(free.item() == Approx(expected.free).epsilon(1e-5).margin(1e-4));
  sum(free).backward();
  const std::vector<float> grad = e.grad().to_vector();
  for (size_t i = 0; i < grad.size(); ++i) {
    INFO("gradient element " << i);
    CHECK(grad[i] == Approx(expected.grad[i]).margin(1e-5));
  }
}

}  // namespace

TEST_CASE("free_energy matches enumeration", "[alignment][forward]") {
  Generator generator(7);
  sweep_small_cases(generator, [](const Topology& topology, int64_t windows,
                                  const std::vector<int64_t>& target,
                                  const std::vector<float>& energies) {
    check_against_brute_force(energies, windows, kSweepSymbols, target, topology, 1.0f);
    check_against_brute_force(energies, windows, kSweepSymbols, target, topology, 3.0f);
  });
}

TEST_CASE("free_energy of ctc by hand", "[alignment][forward][hw-p2-ctc]") {
  // Symbols a = 0 and the blank 1; E = -log p per window.
  const float pa0 = 0.6f, pb0 = 0.4f, pa1 = 0.7f, pb1 = 0.3f;
  const Topology ctc = Topology::ctc(1);

  SECTION("one window reading a") {
    const Tensor e = from_vector({-std::log(pa0), -std::log(pb0)}, {1, 1, 2});
    CHECK(free_energy(e, make_alignment_batch({{0}}), ctc).item() ==
          Approx(-std::log(0.6)).epsilon(1e-6));
  }
  SECTION("two windows reading a: paths aa, a-, -a") {
    const Tensor e = from_vector(
        {-std::log(pa0), -std::log(pb0), -std::log(pa1), -std::log(pb1)}, {1, 2, 2});
    // 0.6*0.7 + 0.6*0.3 + 0.4*0.7 = 0.88
    CHECK(free_energy(e, make_alignment_batch({{0}}), ctc).item() ==
          Approx(-std::log(0.88)).epsilon(1e-6));
  }
  SECTION("two windows cannot read aa, which needs a blank between") {
    const Tensor e = from_vector(
        {-std::log(pa0), -std::log(pb0), -std::log(pa1), -std::log(pb1)}, {1, 2, 2});
    CHECK(free_energy(e, make_alignment_batch({{0, 0}}), ctc).item() ==
          std::numeric_limits<float>::infinity());
  }
  SECTION("three windows read aa only as a-a") {
    const Tensor e = from_vector({-std::log(0.5f), -std::log(0.5f), -std::log(0.2f),
                                  -std::log(0.8f), -std::log(0.9f), -std::log(0.1f)},
                                 {1, 3, 2});
    // 0.5 * 0.8 * 0.9 = 0.36
    CHECK(free_energy(e, make_alignment_batch({{0, 0}}), ctc).item() ==
          Approx(-std::log(0.36)).epsilon(1e-6));
  }
  SECTION("empty target is the all-blank path") {
    const Tensor e = from_vector(
        {-std::log(pa0), -std::log(pb0), -std::log(pa1), -std::log(pb1)}, {1, 2, 2});
    // 0.4 * 0.3 = 0.12
    CHECK(free_energy(e, make_alignment_batch({{}}), ctc).item() ==
          Approx(-std::log(0.12)).epsilon(1e-6));
  }
  SECTION("gradient is the posterior, with no renormalisation") {
    // Unnormalised energies: the gradient sums to L over each sample
    // because every window is in exactly one state, whatever the scale.
    Tensor e = from_vector({1.0f, 3.0f, 2.0f, 0.5f}, {1, 2, 2});
    e.set_requires_grad(true);
    free_energy(e, make_alignment_batch({{0}}), ctc).backward();
    const std::vector<float> grad = e.grad().to_vector();
    // Paths aa (3), a- (1.5), -a (5): weights exp(-3), exp(-1.5), exp(-5).
    const double z = std::exp(-3.0) + std::exp(-1.5) + std::exp(-5.0);
    CHECK(grad[0] == Approx((std::exp(-3.0) + std::exp(-1.5)) / z).epsilon(1e-5));
    CHECK(grad[1] == Approx(std::exp(-5.0) / z).epsilon(1e-5));
    CHECK(grad[2] == Approx((std::exp(-3.0) + std::exp(-5.0)) / z).epsilon(1e-5));
    CHECK(grad[3] == Approx(std::exp(-1.5) / z).epsilon(1e-5));
  }
}

TEST_CASE("free_energy edge cases", "[alignment][forward]") {
  const float inf = std::numeric_limits<float>::infinity();
  const Topology separator = Topology::separator(2);

  SECTION("too few windows gives +inf and a zero gradient") {
    Tensor e = from_vector({0.5f, 1.0f, 2.0f, 0.1f, 0.2f, 0.3f}, {1, 2, 3});
    e.set_requires_grad(true);
    // `ab` needs the 4 states a _ b _, so at least 4 windows.
    const Tensor free = free_energy(e, make_alignment_batch({{0, 1}}), separator);
    CHECK(free.item() == inf);
    free.backward();
    for (const float g : e.grad().to_vector()) {
      CHECK(g == 0.0f);
    }
  }
  SECTION("every path through +inf energy gives +inf with no NaN") {
    // With 2 windows `a` aligns only as a _, and E[1, _] = +inf.
    Tensor e = from_vector({0.5f, 1.0f, 2.0f, 0.1f, 0.2f, inf}, {1, 2, 3});
    e.set_requires_grad(true);
    const Tensor free = free_energy(e, make_alignment_batch({{0}}), separator);
    CHECK(free.item() == inf);
    free.backward();
    for (const float g : e.grad().to_vector()) {
      CHECK(g == 0.0f);
    }
  }
  SECTION("an infinite energy off every path changes nothing") {
    Tensor e = from_vector({0.5f, inf, 2.0f, 0.1f, inf, 0.3f}, {1, 2, 3});
    e.set_requires_grad(true);
    const Tensor free = free_energy(e, make_alignment_batch({{0}}), separator);
    CHECK(free.item() == Approx(0.5f + 0.3f));
    free.backward();
    const std::vector<float> grad = e.grad().to_vector();
    CHECK(grad == std::vector<float>{1, 0, 0, 0, 0, 1});
  }
  SECTION("zero windows: 0 for an empty target, +inf otherwise") {
    const Tensor e = zeros({2, 0, 3});
    const Tensor free = free_energy(e, make_alignment_batch({{}, {0}}), separator);
    CHECK(free.at({0}) == 0.0f);
    CHECK(free.at({1}) == inf);
    const Tensor ctc = free_energy(e, make_alignment_batch({{}, {0}}), Topology::ctc(2));
    CHECK(ctc.at({0}) == 0.0f);
    CHECK(ctc.at({1}) == inf);
  }
  SECTION("separator topology: an empty target has no alignment of L > 0 windows") {
    const Tensor e = zeros({1, 2, 3});
    CHECK(free_energy(e, make_alignment_batch({{}}), separator).item() == inf);
  }
}

TEST_CASE("free_energy padded batch matches samples alone", "[alignment][forward]") {
  Generator generator(3);
  const Topology ctc = Topology::ctc(2);
  const std::vector<std::vector<int64_t>> targets = {{0, 1, 0}, {1}, {}};
  const std::vector<int64_t> lengths = {6, 3, 5};
  Tensor e = uniform({3, 6, 3}, -1.0f, 1.0f, generator);
  e.set_requires_grad(true);
  const Tensor free = free_energy(e, make_alignment_batch(targets, lengths), ctc);
  sum(free).backward();
  const std::vector<float> grad = e.grad().to_vector();

  for (int64_t b = 0; b < 3; ++b) {
    INFO("sample " << b);
    Tensor alone = narrow(narrow(e.detach(), 0, b, 1), 1, 0, lengths[b]).clone();
    alone.set_requires_grad(true);
    const Tensor expected = free_energy(alone, make_alignment_batch({targets[b]}), ctc);
    CHECK(free.at({b}) == Approx(expected.item()).epsilon(1e-6));
    expected.backward();
    const std::vector<float> alone_grad = alone.grad().to_vector();
    for (int64_t t = 0; t < 6; ++t) {
      for (int64_t c = 0; c < 3; ++c) {
        const float g = grad[(b * 6 + t) * 3 + c];
        // Windows past the input length get exactly zero gradient.
        const float want = t < lengths[b] ? alone_grad[t * 3 + c] : 0.0f;
        CHECK(g == Approx(want).margin(1e-6));
      }
    }
  }
}

TEST_CASE("free_energy tends to Viterbi", "[alignment][forward]") {
  Generator generator(11);
  const Tensor e = uniform({2, 8, 4}, -1.0f, 1.0f, generator);
  const AlignmentBatch batch = make_alignment_batch({{0, 1}, {2, 2, 0}});
  for (const Topology topology : {Topology::separator(3), Topology::ctc(3)}) {
    const Tensor best = viterbi(e, batch, topology).energy;
    const Tensor soft = free_energy(e, batch, topology, 1000.0f);
    for (int64_t b = 0; b < 2; ++b) {
      // F <= V always, and the gap is at most log(#alignments) / beta.
      CHECK(soft.at({b}) <= best.at({b}) + 1e-5f);
      CHECK(soft.at({b}) == Approx(best.at({b})).margin(0.02));
    }
  }
}

TEST_CASE("alignment free_energy gradient check", "[alignment][forward]") {
  Generator generator(5);
  Tensor e = uniform({2, 5, 3}, -1.0f, 1.0f, generator);
  e.set_requires_grad(true);
  const AlignmentBatch batch = make_alignment_batch({{0, 1}, {1}}, {5, 4});
  for (const Topology topology : {Topology::separator(2), Topology::ctc(2)}) {
    for (const float beta : {0.5f, 2.0f}) {
      const auto result = gradcheck(
          [&](const std::vector<Tensor>& inputs) {
            return free_energy(inputs[0], batch, topology, beta);
          },
          {e});
      INFO(result.report);
      CHECK(result.ok);
    }
  }
}

TEST_CASE("free_energy accumulates when used twice", "[alignment][forward]") {
  Tensor e = from_vector({0.5f, 1.0f, 2.0f, 0.1f, 0.2f, 0.3f}, {1, 2, 3});
  e.set_requires_grad(true);
  const AlignmentBatch batch = make_alignment_batch({{0}});
  const Tensor twice = free_energy(e, batch, Topology::separator(2)) +
                       free_energy(e, batch, Topology::separator(2));
  twice.backward();
  CHECK(e.grad().to_vector() == std::vector<float>{2, 0, 0, 0, 0, 2});
}

TEST_CASE("free_energy_path_matrix runs the homework chain", "[alignment][forward]") {
  // pm [L = 3, S = 2]: the chain paths are (0,0,1) and (0,1,1).
  Tensor pm = from_vector({1.0f, 5.0f, 2.0f, 3.0f, 4.0f, 0.5f}, {1, 3, 2});
  pm.set_requires_grad(true);
  const Tensor free = free_energy_path_matrix(pm);
  const double expected = -std::log(std::exp(-(1.0 + 2.0 + 0.5)) + std::exp(-(1.0 + 3.0 + 0.5)));
  CHECK(free.item() == Approx(expected).epsilon(1e-6));
  const auto result = gradcheck(
      [](const std::vector<Tensor>& inputs) { return free_energy_path_matrix(inputs[0]); }, {pm});
  INFO(result.report);
  CHECK(result.ok);
}

TEST_CASE("free_energy_all matches enumeration", "[alignment][forward]") {
  Generator generator(13);
  const int64_t symbols = 3;
  for (const TopologyKind kind : {TopologyKind::separator, TopologyKind::ctc}) {
    const Topology topology{kind, 2};
    SECTION(topology_name(kind)) {
      for (int64_t windows = 0; windows <= 5; ++windows) {
        INFO("L = " << windows);
        const auto energies = random_energies(windows * symbols, generator);
        Tensor e = from_vector(energies, {1, windows, symbols});
        e.set_requires_grad(true);
        const Tensor free = free_energy_all(e, {}, topology, 1.5f);
        const BruteFree expected = brute_free_energy(
            energies, windows, symbols, all_alignments(windows, symbols, topology), 1.5);
        if (!std::isfinite(expected.free)) {
          CHECK(free.item() == std::numeric_limits<float>::infinity());
          continue;
        }
        CHECK(free.item() == Approx(expected.free).epsilon(1e-5).margin(1e-5));
        free.backward();
        const std::vector<float> grad = e.grad().to_vector();
        for (size_t i = 0; i < grad.size(); ++i) {
          CHECK(grad[i] == Approx(expected.grad[i]).margin(1e-5));
        }
      }
    }
  }
}

TEST_CASE("free_energy_all gradient check", "[alignment][forward]") {
  Generator generator(17);
  Tensor e = uniform({2, 4, 3}, -1.0f, 1.0f, generator);
  e.set_requires_grad(true);
  for (const Topology topology : {Topology::separator(2), Topology::ctc(2)}) {
    const auto result = gradcheck(
        [&](const std::vector<Tensor>& inputs) {
          return free_energy_all(inputs[0], {4, 3}, topology, 1.0f);
        },
        {e});
    INFO(result.report);
    CHECK(result.ok);
  }
}

TEST_CASE("free_energy rejects bad batches", "[alignment][forward]") {
  const Tensor e = zeros({1, 2, 3});
  CHECK_THROWS_AS(free_energy(e, make_alignment_batch({{5}}), Topology::ctc(2)),
                  std::invalid_argument);
  CHECK_THROWS_AS(free_energy(e, make_alignment_batch({{2}}), Topology::ctc(2)),
                  std::invalid_argument);
  CHECK_THROWS_AS(free_energy(e, make_alignment_batch({{0}}, {3}), Topology::ctc(2)),
                  std::invalid_argument);
  CHECK_THROWS_AS(free_energy(e, make_alignment_batch({{0}}), Topology::ctc(2), 0.0f),
                  std::invalid_argument);
  CHECK_THROWS_AS(free_energy(zeros({2, 3}), make_alignment_batch({{0}}), Topology::ctc(2)),
                  std::invalid_argument);
}
