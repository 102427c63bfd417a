// The graph-route losses against the dense dynamic programs of the
// alignment module. Values and gradients on random batches with mixed input
// and target lengths must agree within 1e-5 relative.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "ebm/alignment/forward.h"
#include "ebm/alignment/losses.h"
#include "ebm/graph/losses.h"

using namespace ember;

namespace {

struct RandomBatch {
  Tensor energies;  // [B, L, C]
  std::vector<std::vector<int64_t>> targets;
  std::vector<int64_t> input_lengths;
};

// Targets of length 1 .. 3 over the non-blank symbols, input lengths L - 3 .. L.
RandomBatch random_batch(uint64_t seed, int64_t batch, int64_t windows, int64_t symbols, int64_t blank) {
  Generator generator(seed);
  RandomBatch result;
  result.energies = uniform({batch, windows, symbols}, -2.0f, 2.0f, generator);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<int64_t> target;
    const int64_t length = 1 + generator.randint(3);
    while (static_cast<int64_t>(target.size()) < length) {
      const int64_t symbol = generator.randint(symbols);
      if (symbol != blank) {
        target.push_back(symbol);
      }
    }
    result.targets.push_back(target);
    result.input_lengths.push_back(windows - generator.randint(4));
  }
  return result;
}

// Runs both routes on fresh copies of E and compares values [B] and dL/dE
// for L = sum of the finite values.
void check_same(const RandomBatch& batch,
                const std::function<Tensor(const Tensor&)>& dense,
                const std::function<Tensor(const Tensor&)>& graph_route) {
  Tensor dense_e = batch.energies.clone().set_requires_grad(true);
  Tensor graph_e = batch.energies.clone().set_requires_grad(true);
  const Tensor dense_values = dense(dense_e);
  const Tensor graph_values = graph_route(graph_e);
  REQUIRE(dense_values.shape() == graph_values.shape());

  std::vector<float> finite(static_cast<size_t>(dense_values.numel()), 0.0f);
  for (int64_t b = 0; b < dense_values.numel(); ++b) {
    const float expected = dense_values.at({b});
    const float got = graph_values.at({b});
    INFO("sample " << b);
    if (std::isinf(expected)) {
      CHECK(std::isinf(got));
    } else {
      CHECK(got == Approx(expected).epsilon(1e-5));
      finite[static_cast<size_t>(b)] = 1.0f;
    }
  }

  const Tensor weights = from_vector(finite, dense_values.shape());
  sum(where(weights, dense_values, zeros(dense_values.shape()))).backward(/*retain_tape=*/true);
  sum(where(weights, graph_values, zeros(graph_values.shape()))).backward();
  const std::vector<float> dense_grad = dense_e.grad().to_vector();
  const std::vector<float> graph_grad = graph_e.grad().to_vector();
  for (size_t i = 0; i < dense_grad.size(); ++i) {
    INFO("gradient element " << i);
    // Gradients are arc posteriors in [0, 1] (differences of two for nll),
    // so 1e-5 of that scale is the absolute floor of the comparison.
    CHECK(graph_grad[i] == Approx(dense_grad[i]).epsilon(1e-5).margin(1e-5));
  }
}

}  // namespace

TEST_CASE("graph free energies match dense", "[graph][losses][dense]") {
  struct Case {
    alignment::Topology topology;
    float beta;
  };
  for (const uint64_t seed : {1u, 2u, 3u}) {
    const RandomBatch batch = random_batch(seed, 5, 9, 5, 4);
    const alignment::AlignmentBatch dense_batch =
        alignment::make_alignment_batch(batch.targets, batch.input_lengths);
    for (const Case& c : {Case{alignment::Topology::ctc(4), 0.7f},
                          Case{alignment::Topology::separator(4), 1.3f}}) {
      SECTION(alignment::topology_name(c.topology.kind) + ", seed " + std::to_string(seed)) {
        check_same(batch,
                   [&](const Tensor& e) {
                     return alignment::free_energy(e, dense_batch, c.topology, c.beta);
                   },
                   [&](const Tensor& e) {
                     return graph::target_free_energy(e, batch.targets, batch.input_lengths,
                                                      c.topology, c.beta);
                   });
      }
    }
  }
}

TEST_CASE("graph nll matches dense", "[graph][losses][dense]") {
  const RandomBatch batch = random_batch(7, 6, 10, 5, 4);
  const alignment::AlignmentBatch dense_batch =
      alignment::make_alignment_batch(batch.targets, batch.input_lengths);
  for (const alignment::Topology topology :
       {alignment::Topology::ctc(4), alignment::Topology::separator(4)}) {
    SECTION(alignment::topology_name(topology.kind)) {
      alignment::AlignmentLossOptions options;
      options.topology = topology;
      check_same(batch,
                 [&](const Tensor& e) { return alignment::nll_loss(e, dense_batch, options).per_sample; },
                 [&](const Tensor& e) {
                   return graph::nll_loss(e, batch.targets, batch.input_lengths, topology, 1.0f);
                 });
    }
  }
}

TEST_CASE("asg registry entry", "[graph][losses][asg]") {
  Generator generator(9);
  const Tensor energies = uniform({3, 6, 4}, -1.0f, 1.0f, generator);
  Tensor transitions = uniform({4, 4}, -0.5f, 0.5f, generator).set_requires_grad(true);
  const std::vector<std::vector<int64_t>> targets = {{0, 1}, {2}, {1, 2, 3, 0, 1, 2, 3}};
  const alignment::AlignmentBatch batch = alignment::make_alignment_batch(targets);
  const alignment::AlignmentLoss asg = graph::make_asg_loss(transitions);

  SECTION("matches asg_loss and counts infeasible samples") {
    alignment::AlignmentLossOptions options;
    const alignment::AlignmentLossResult result = asg(energies, batch, options);
    const Tensor direct = graph::asg_loss(energies, targets, {}, transitions);
    CHECK(result.per_sample.at({0}) == Approx(direct.at({0})));
    CHECK(result.per_sample.at({1}) == Approx(direct.at({1})));
    CHECK(std::isinf(result.per_sample.at({2})));  // 7 labels need 7 windows, 6 given
    CHECK(result.skipped == 1);
  }
  SECTION("zero_infinity keeps the gradient finite") {
    alignment::AlignmentLossOptions options;
    options.zero_infinity = true;
    const alignment::AlignmentLossResult result = asg(energies, batch, options);
    CHECK(result.per_sample.at({2}) == 0.0f);
    result.loss.backward();
    for (float g : transitions.grad().to_vector()) {
      CHECK(std::isfinite(g));
    }
  }
}
