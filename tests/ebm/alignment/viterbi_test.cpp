// Tests of the Viterbi ops against brute-force enumeration, the tie rule,
// edge cases, the homework's dynamic program and gradient checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "autodiff/autodiff.h"
#include "brute_force.h"
#include "ebm/alignment/path.h"
#include "ebm/alignment/viterbi.h"

using namespace ember;
using namespace ember::alignment;
using namespace ember::alignment::testing;

TEST_CASE("viterbi matches enumeration", "[alignment][viterbi][hw-p1-viterbi]") {
  Generator generator(21);
  sweep_small_cases(generator, [](const Topology& topology, int64_t windows,
                                  const std::vector<int64_t>& target,
                                  const std::vector<float>& energies) {
    INFO("L = " << windows << ", T = " << target.size());
    Tensor e = from_vector(energies, {1, windows, kSweepSymbols});
    e.set_requires_grad(true);
    const ViterbiResult best = viterbi(e, make_alignment_batch({target}), topology);

    double lowest = std::numeric_limits<double>::infinity();
    std::vector<int64_t> argmin;
    for (const auto& pi : alignments_of(target, windows, kSweepSymbols, topology)) {
      const double energy = window_energy(energies, kSweepSymbols, pi);
      if (energy < lowest) {
        lowest = energy;
        argmin = pi;
      }
    }
    if (!std::isfinite(lowest)) {
      CHECK(best.energy.item() == std::numeric_limits<float>::infinity());
      return;
    }
    CHECK(best.energy.item() == Approx(lowest).margin(1e-5));
    // Random energies have no ties, so the path is the unique argmin.
    CHECK(best.symbols[0] == argmin);
    CHECK(reads(best.symbols[0], target, topology));

    // The gradient is the indicator of the best path.
    best.energy.backward();
    const std::vector<float> grad = e.grad().to_vector();
    for (int64_t t = 0; t < windows; ++t) {
      for (int64_t c = 0; c < kSweepSymbols; ++c) {
        CHECK(grad[t * kSweepSymbols + c] == (argmin[t] == c ? 1.0f : 0.0f));
      }
    }
  });
}

TEST_CASE("viterbi ties advance early", "[alignment][viterbi]") {
  // All energies equal: every alignment ties.
  const Tensor e = zeros({1, 5, 3});
  SECTION("separator: reach the last state first, then stay") {
    // Read back from the end, staying wins each tie, so the path sits in
    // the last state as long as it can.
    const ViterbiResult best = viterbi(e, make_alignment_batch({{0, 1}}), Topology::separator(2));
    CHECK(best.states[0] == std::vector<int64_t>{0, 1, 2, 3, 3});
    CHECK(best.symbols[0] == std::vector<int64_t>{0, 2, 1, 2, 2});
  }
  SECTION("ctc: skip blanks, end on the trailing blank") {
    // States - 0 - 1 -: the later end state wins, then staying, then the
    // skip over the blank between 0 and 1 beats passing through it.
    const ViterbiResult best = viterbi(e, make_alignment_batch({{0, 1}}), Topology::ctc(2));
    CHECK(best.states[0] == std::vector<int64_t>{1, 3, 4, 4, 4});
    CHECK(best.symbols[0] == std::vector<int64_t>{0, 1, 2, 2, 2});
  }
}

TEST_CASE("viterbi edge cases", "[alignment][viterbi]") {
  const float inf = std::numeric_limits<float>::infinity();

  SECTION("too few windows gives +inf, a -1 path and no gradient") {
    Tensor e = zeros({1, 2, 3});
    e.set_requires_grad(true);
    const ViterbiResult best = viterbi(e, make_alignment_batch({{0, 0}}), Topology::ctc(2));
    CHECK(best.energy.item() == inf);
    CHECK(best.states[0] == std::vector<int64_t>{-1, -1});
    best.energy.backward();
    for (const float g : e.grad().to_vector()) {
      CHECK(g == 0.0f);
    }
  }
  SECTION("repeated symbols need a blank in ctc") {
    const Tensor e = zeros({1, 3, 3});
    const ViterbiResult best = viterbi(e, make_alignment_batch({{1, 1}}), Topology::ctc(2));
    CHECK(best.symbols[0] == std::vector<int64_t>{1, 2, 1});
  }
  SECTION("zero windows and empty targets") {
    const Tensor e = zeros({3, 0, 3});
    const ViterbiResult sep = viterbi(e, make_alignment_batch({{}, {0}, {}}), Topology::separator(2));
    CHECK(sep.energy.at({0}) == 0.0f);
    CHECK(sep.energy.at({1}) == inf);
    const Tensor blanks = from_vector({1, 2, 0.5f, 3, 4, 0.25f}, {1, 2, 3});
    const ViterbiResult ctc = viterbi(blanks, make_alignment_batch({{}}), Topology::ctc(2));
    CHECK(ctc.energy.item() == 0.75f);
    CHECK(ctc.symbols[0] == std::vector<int64_t>{2, 2});
  }
  SECTION("padded batch: windows past the length are ignored") {
    Tensor e = from_vector({1, 5, 0,  5, 1, 0,  9, 9, -9,  -9, -9, -9}, {1, 4, 3});
    e.set_requires_grad(true);
    // Only 2 windows: `a` aligns as a _; the -9 energies are padding.
    const ViterbiResult best =
        viterbi(e, make_alignment_batch({{0}}, {2}), Topology::separator(2));
    CHECK(best.energy.item() == 1.0f);
    CHECK(best.symbols[0] == std::vector<int64_t>{0, 2});
    best.energy.backward();
    CHECK(e.grad().to_vector() ==
          std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
  }
}

TEST_CASE("viterbi_path_matrix runs the homework program", "[alignment][viterbi][hw-p1-viterbi]") {
  // pm [L = 4, S = 3] for a target of three columns.
  //   window 0: 1 9 9
  //   window 1: 2 1 9
  //   window 2: 9 3 1
  //   window 3: 9 9 2
  // dp[i, j] = min(dp[i-1, j], dp[i-1, j-1]) + pm[i, j]:
  //   dp row 0: 1 inf inf; row 1: 3 2 inf; row 2: 12 5 3; row 3: 21 14 5
  // best path columns 0 1 2 2 with energy 5.
  Tensor pm = from_vector({1, 9, 9, 2, 1, 9, 9, 3, 1, 9, 9, 2}, {1, 4, 3});
  pm.set_requires_grad(true);
  const ViterbiResult best = viterbi_path_matrix(pm, {}, {}, /*keep_table=*/true);
  CHECK(best.energy.item() == 5.0f);
  CHECK(best.states[0] == std::vector<int64_t>{0, 1, 2, 2});
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(best.table.to_vector() ==
        std::vector<float>{1, inf, inf, 3, 2, inf, 12, 5, 3, 21, 14, 5});

  // The path's energy through path_energy agrees, and so do the gradients.
  const Tensor again = path_energy(pm, paths_to_tensor(best.states, 4));
  CHECK(again.item() == 5.0f);
  best.energy.backward();
  CHECK(pm.grad().to_vector() == std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1});
}

TEST_CASE("alignment viterbi gradient check", "[alignment][viterbi]") {
  Generator generator(23);
  Tensor e = uniform({2, 5, 3}, -1.0f, 1.0f, generator);
  e.set_requires_grad(true);
  const AlignmentBatch batch = make_alignment_batch({{0, 1}, {1}}, {5, 3});
  for (const Topology topology : {Topology::separator(2), Topology::ctc(2)}) {
    // Random energies keep the best path unique, so V is linear nearby.
    const auto result = gradcheck(
        [&](const std::vector<Tensor>& inputs) { return viterbi(inputs[0], batch, topology).energy; },
        {e});
    INFO(result.report);
    CHECK(result.ok);
  }
}

TEST_CASE("viterbi_path_matrix gradient check", "[alignment][viterbi]") {
  Generator generator(29);
  Tensor pm = uniform({2, 5, 3}, -1.0f, 1.0f, generator);
  pm.set_requires_grad(true);
  const auto result = gradcheck(
      [](const std::vector<Tensor>& inputs) {
        return viterbi_path_matrix(inputs[0], {5, 4}, {3, 2}).energy;
      },
      {pm});
  INFO(result.report);
  CHECK(result.ok);
}
