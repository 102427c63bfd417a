// Tests for the batched graph losses (one tape node per batch, samples on
// the thread pool) against the same pipeline built from the public graph
// operations one sample at a time, and for their independence from the
// thread count.
#include <catch2/catch.hpp>

#include <vector>

#include "autodiff/kernels/threads.h"
#include "ebm/graph/builders.h"
#include "ebm/graph/functions.h"
#include "ebm/graph/losses.h"

using namespace ember;
using namespace ember::graph;

namespace {

using Targets = std::vector<std::vector<int64_t>>;

// Sample b's first length windows of E [B, L, C] as an emissions graph.
Graph sample_emissions(const Tensor& energies, int64_t b, int64_t length) {
  const int64_t windows = energies.size(1);
  const Tensor rows = reshape(energies, {energies.size(0) * windows, energies.size(2)});
  return emissions_graph(narrow(rows, 0, b * windows, length));
}

// free_energy(intersect(emissions, target)) per sample, stacked to [B].
Tensor per_sample_free_energy(const Tensor& energies, const Targets& targets,
                              const std::vector<int64_t>& lengths,
                              const alignment::Topology& topology, float beta) {
  std::vector<Tensor> values;
  for (size_t b = 0; b < targets.size(); ++b) {
    const Graph emissions = sample_emissions(energies, static_cast<int64_t>(b), lengths[b]);
    values.push_back(free_energy(intersect(emissions, target_graph(targets[b], topology)), beta));
  }
  return stack(values, 0);
}

// asg_loss written with the public operations, one sample at a time.
Tensor per_sample_asg(const Tensor& energies, const Targets& targets, const Tensor& transitions) {
  const Graph bigrams = transitions_graph(transitions);
  std::vector<Tensor> values;
  for (size_t b = 0; b < targets.size(); ++b) {
    const Graph emissions = sample_emissions(energies, static_cast<int64_t>(b), energies.size(1));
    const Graph target = intersect(repeat_graph(targets[b]), bigrams);
    values.push_back(free_energy(intersect(emissions, target)) -
                     free_energy(intersect(emissions, bigrams)));
  }
  return stack(values, 0);
}

void check_close(const std::vector<float>& got, const std::vector<float>& expected, const char* what) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(what << " element " << i << ": batched " << got[i] << ", per sample " << expected[i]);
    CHECK(got[i] == Approx(expected[i]).epsilon(1e-5).margin(1e-6));
  }
}

// Restores the kernels' thread count when a test ends.
struct ThreadCountGuard {
  int saved = kernels::num_threads();
  ~ThreadCountGuard() { kernels::set_num_threads(saved); }
};

}  // namespace

TEST_CASE("graph batched free energy matches per-sample graphs", "[graph][losses][batch]") {
  Generator generator(21);
  const Tensor energies = uniform({4, 7, 5}, -2.0f, 2.0f, generator);
  const Targets targets = {{0, 1}, {2, 2}, {}, {3, 1, 0}};
  const std::vector<int64_t> lengths = {7, 5, 3, 6};

  for (const alignment::Topology& topology :
       {alignment::Topology::ctc(4), alignment::Topology::separator(4)}) {
    SECTION(alignment::topology_name(topology.kind)) {
      Tensor batched_e = energies.clone().set_requires_grad(true);
      Tensor reference_e = energies.clone().set_requires_grad(true);
      const Tensor batched = target_free_energy(batched_e, targets, lengths, topology, 0.9f);
      const Tensor reference = per_sample_free_energy(reference_e, targets, lengths, topology, 0.9f);
      check_close(batched.to_vector(), reference.to_vector(), "free energy");

      // Weights 1, 2, 3, 4 show that each sample's upstream gradient reaches its own rows.
      const Tensor weights = from_vector({1.0f, 2.0f, 3.0f, 4.0f}, {4});
      // Both runs share this thread's tape, so the first backward keeps it.
      sum(batched * weights).backward(/*retain_tape=*/true);
      sum(reference * weights).backward();
      check_close(batched_e.grad().to_vector(), reference_e.grad().to_vector(), "dF/dE");
    }
  }
}

TEST_CASE("graph batched asg matches per-sample graphs", "[graph][losses][batch][asg]") {
  Generator generator(22);
  const Tensor energies = uniform({3, 6, 4}, -1.0f, 1.0f, generator);
  const Tensor transitions = uniform({4, 4}, -0.5f, 0.5f, generator);
  const Targets targets = {{0, 1}, {2}, {1, 1, 3}};

  Tensor batched_e = energies.clone().set_requires_grad(true);
  Tensor batched_t = transitions.clone().set_requires_grad(true);
  Tensor reference_e = energies.clone().set_requires_grad(true);
  Tensor reference_t = transitions.clone().set_requires_grad(true);
  const Tensor batched = asg_loss(batched_e, targets, {}, batched_t);
  const Tensor reference = per_sample_asg(reference_e, targets, reference_t);
  check_close(batched.to_vector(), reference.to_vector(), "asg loss");

  sum(batched).backward(/*retain_tape=*/true);
  sum(reference).backward();
  check_close(batched_e.grad().to_vector(), reference_e.grad().to_vector(), "dL/dE");
  check_close(batched_t.grad().to_vector(), reference_t.grad().to_vector(), "dL/dtransitions");
}

TEST_CASE("graph batched losses are identical across thread counts", "[graph][losses][batch]") {
  const ThreadCountGuard guard;
  Generator generator(23);
  const Tensor energies = uniform({9, 12, 6}, -2.0f, 2.0f, generator);
  const Tensor transitions = uniform({6, 6}, -0.5f, 0.5f, generator);
  Targets targets;
  for (int64_t b = 0; b < 9; ++b) {
    targets.push_back({b % 5, (b + 2) % 5, (b * 3) % 5});
  }
  const alignment::Topology ctc = alignment::Topology::ctc(5);

  struct Run {
    std::vector<float> values;
    std::vector<float> energies_grad;
    std::vector<float> transitions_grad;
  };
  const auto run = [&](int threads) {
    kernels::set_num_threads(threads);
    Tensor e = energies.clone().set_requires_grad(true);
    Tensor t = transitions.clone().set_requires_grad(true);
    const Tensor values = concat({target_free_energy(e, targets, {}, ctc),
                                  nll_loss(e, targets, {}, ctc), asg_loss(e, targets, {}, t)},
                                 0);
    sum(values).backward();
    return Run{values.to_vector(), e.grad().to_vector(), t.grad().to_vector()};
  };

  const Run one = run(1);
  for (const int threads : {2, 3, 4}) {
    INFO(threads << " threads");
    const Run many = run(threads);
    CHECK(many.values == one.values);
    CHECK(many.energies_grad == one.energies_grad);
    CHECK(many.transitions_grad == one.transitions_grad);
  }
}

TEST_CASE("graph batched free energy gradient accumulates", "[graph][losses][batch]") {
  Generator generator(24);
  Tensor e = uniform({2, 5, 4}, -1.0f, 1.0f, generator).set_requires_grad(true);
  const Targets targets = {{0, 1}, {2}};
  const alignment::Topology ctc = alignment::Topology::ctc(3);

  sum(target_free_energy(e, targets, {}, ctc)).backward();
  const std::vector<float> once = e.grad().to_vector();
  e.zero_grad();

  // E used by two losses: backward adds both shares.
  sum(target_free_energy(e, targets, {}, ctc) + target_free_energy(e, targets, {}, ctc)).backward();
  const std::vector<float> twice = e.grad().to_vector();
  REQUIRE(twice.size() == once.size());
  for (size_t i = 0; i < once.size(); ++i) {
    INFO("element " << i);
    CHECK(twice[i] == Approx(2.0f * once[i]));
  }
}
