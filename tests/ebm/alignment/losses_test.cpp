// Tests of the alignment losses: values from their definitions, zero_infinity,
// the registry, and a gradient check of every loss.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "autodiff/autodiff.h"
#include "ebm/alignment/decode.h"
#include "ebm/alignment/forward.h"
#include "ebm/alignment/losses.h"
#include "ebm/alignment/viterbi.h"

using namespace ember;
using namespace ember::alignment;

TEST_CASE("alignment loss registry", "[alignment][losses]") {
  std::vector<std::string> names;
  for (const auto& entry : alignment_losses()) {
    names.push_back(entry.first);
  }
  CHECK(names == std::vector<std::string>{"ctc", "hinge", "nll", "viterbi-ce", "viterbi-energy"});
  CHECK_THROWS_AS(alignment_loss("nope", zeros({1, 2, 3}), make_alignment_batch({{0}})),
                  std::invalid_argument);
}

TEST_CASE("alignment losses follow their definitions", "[alignment][losses]") {
  Generator generator(41);
  const Tensor e = uniform({2, 6, 4}, -1.0f, 1.0f, generator);
  const AlignmentBatch batch = make_alignment_batch({{0, 1}, {2}}, {6, 5});
  AlignmentLossOptions options;
  options.topology = Topology::separator(3);
  options.beta = 1.5f;

  SECTION("viterbi-energy is the mean best-path energy") {
    const auto result = alignment_loss("viterbi-energy", e, batch, options);
    const Tensor best = viterbi(e, batch, options.topology).energy;
    CHECK(result.loss.item() == Approx((best.at({0}) + best.at({1})) / 2));
  }
  SECTION("viterbi-ce sums cross-entropies along the best path") {
    const auto result = alignment_loss("viterbi-ce", e, batch, options);
    const ViterbiResult best = viterbi(e, batch, options.topology);
    double expected = 0.0;
    for (int64_t b = 0; b < 2; ++b) {
      for (size_t t = 0; t < best.symbols[b].size(); ++t) {
        double z = 0.0;
        for (int64_t c = 0; c < 4; ++c) {
          z += std::exp(-1.5 * e.at({b, static_cast<int64_t>(t), c}));
        }
        const double p =
            std::exp(-1.5 * e.at({b, static_cast<int64_t>(t), best.symbols[b][t]})) / z;
        expected -= std::log(p);
      }
    }
    CHECK(result.loss.item() == Approx(expected / 2).epsilon(1e-5));
  }
  SECTION("nll is target free energy minus all-sequences free energy") {
    const auto result = alignment_loss("nll", e, batch, options);
    const Tensor target = free_energy(e, batch, options.topology, 1.5f);
    const Tensor all = free_energy_all(e, batch.input_lengths, options.topology, 1.5f);
    const float expected =
        (target.at({0}) - all.at({0}) + target.at({1}) - all.at({1})) / 2;
    CHECK(result.loss.item() == Approx(expected).epsilon(1e-5));
    CHECK(result.loss.item() > 0.0f);
  }
  SECTION("ctc of normalised energies equals the ctc-topology nll") {
    const Tensor normalised = -log_softmax(-e, 2);
    options.beta = 1.0f;
    const auto ctc = alignment_loss("ctc", normalised, batch, options);
    options.topology = Topology::ctc(3);
    const auto nll = alignment_loss("nll", normalised, batch, options);
    CHECK(ctc.loss.item() == Approx(nll.loss.item()).epsilon(1e-5));
  }
  SECTION("hinge contrasts with the most offending incorrect sequence") {
    options.margin = 2.0f;
    const auto result = alignment_loss("hinge", e, batch, options);
    const Tensor target = free_energy(e, batch, options.topology, 1.5f);
    double expected = 0.0;
    for (int64_t b = 0; b < 2; ++b) {
      const int64_t windows = b == 0 ? 6 : 5;
      const auto ybar = most_offending_incorrect(e.data() + b * 24, windows, 4,
                                                 b == 0 ? std::vector<int64_t>{0, 1}
                                                        : std::vector<int64_t>{2},
                                                 options.topology);
      REQUIRE(ybar.has_value());
      const Tensor sample = narrow(narrow(e, 0, b, 1), 1, 0, windows).clone();
      const float incorrect =
          free_energy(sample, make_alignment_batch({ybar->labels}), options.topology, 1.5f)
              .item();
      expected += std::max(0.0, static_cast<double>(target.at({b})) - incorrect + 2.0);
    }
    CHECK(result.loss.item() == Approx(expected / 2).epsilon(1e-5));
  }
}

TEST_CASE("zero_infinity skips infeasible samples", "[alignment][losses]") {
  Generator generator(43);
  Tensor e = uniform({2, 3, 3}, -1.0f, 1.0f, generator);
  e.set_requires_grad(true);
  // Sample 1's target `aab` needs at least 6 windows in the separator topology.
  const AlignmentBatch batch = make_alignment_batch({{0}, {0, 0, 1}});
  for (const auto& [name, loss] : alignment_losses()) {
    INFO(name);
    AlignmentLossOptions options;
    options.topology = Topology::separator(2);

    const auto infinite = loss(e, batch, options);
    CHECK(infinite.skipped == 1);
    CHECK(infinite.loss.item() == std::numeric_limits<float>::infinity());

    options.zero_infinity = true;
    const auto skipped = loss(e, batch, options);
    CHECK(skipped.skipped == 1);
    CHECK(skipped.per_sample.at({1}) == 0.0f);
    CHECK(std::isfinite(skipped.loss.item()));
    skipped.loss.backward();
    const std::vector<float> grad = e.grad().to_vector();
    for (size_t i = 0; i < grad.size(); ++i) {
      CHECK_FALSE(std::isnan(grad[i]));
      if (i >= 9) {
        CHECK(grad[i] == 0.0f);
      }
    }
    e.zero_grad();
  }
}

TEST_CASE("alignment losses gradient check", "[alignment][losses]") {
  Generator generator(47);
  Tensor e = uniform({2, 5, 3}, -1.0f, 1.0f, generator);
  e.set_requires_grad(true);
  const AlignmentBatch batch = make_alignment_batch({{0, 1}, {1}}, {5, 4});
  for (const Topology topology : {Topology::separator(2), Topology::ctc(2)}) {
    for (const auto& [name, loss] : alignment_losses()) {
      INFO(name << " with the " << topology_name(topology.kind) << " topology");
      AlignmentLossOptions options;
      options.topology = topology;
      options.margin = 5.0f;  // keeps the hinge active
      const auto result = gradcheck(
          [&](const std::vector<Tensor>& inputs) { return loss(inputs[0], batch, options).loss; },
          {e});
      INFO(result.report);
      CHECK(result.ok);
    }
  }
}
