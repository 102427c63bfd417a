// Graph-route alignment losses: one small graph pipeline per sample.
#include "ebm/graph/losses.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "ebm/graph/builders.h"
#include "ebm/graph/functions.h"

namespace ember::graph {

namespace {

// Checks E [B, L, C], targets and lengths; returns each sample's length.
std::vector<int64_t> checked_lengths(const Tensor& energies,
                                     const std::vector<std::vector<int64_t>>& targets,
                                     const std::vector<int64_t>& input_lengths, const char* op) {
  if (energies.dim() != 3) {
    throw std::invalid_argument(fmt::format("{}: energies have shape {}; expected [B, L, C]", op,
                                            shape_to_string(energies.shape())));
  }
  const int64_t batch = energies.size(0);
  if (static_cast<int64_t>(targets.size()) != batch) {
    throw std::invalid_argument(fmt::format("{}: {} targets for a batch of {} (energies {})", op,
                                            targets.size(), batch, shape_to_string(energies.shape())));
  }
  std::vector<int64_t> lengths = input_lengths;
  if (lengths.empty()) {
    lengths.assign(static_cast<size_t>(batch), energies.size(1));
  }
  if (static_cast<int64_t>(lengths.size()) != batch) {
    throw std::invalid_argument(fmt::format("{}: {} input lengths for a batch of {}", op,
                                            lengths.size(), batch));
  }
  for (size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 0 || lengths[b] > energies.size(1)) {
      throw std::invalid_argument(fmt::format(
          "{}: input length {} of sample {} is outside [0, L = {}]", op, lengths[b], b, energies.size(1)));
    }
    for (int64_t label : targets[b]) {
      if (label < 0 || label >= energies.size(2)) {
        throw std::invalid_argument(fmt::format(
            "{}: label {} in target {} is out of range for C = {} symbols", op, label, b, energies.size(2)));
      }
    }
  }
  return lengths;
}

// The emissions graph of sample b's first `length` windows, from E viewed
// as rows [B * L, C]: one view per sample, so gradients land in E [B, L, C]
// through a single copy.
Graph sample_emissions(const Tensor& rows, int64_t windows, int64_t b, int64_t length) {
  return emissions_graph(narrow(rows, 0, b * windows, length));
}

// E [B, L, C] viewed as rows [B * L, C].
Tensor window_rows(const Tensor& energies) {
  return reshape(energies, {energies.size(0) * energies.size(1), energies.size(2)});
}

}  // namespace

Graph target_graph(const std::vector<int64_t>& target, const alignment::Topology& topology) {
  if (topology.kind == alignment::TopologyKind::ctc) {
    return ctc_graph(target, topology.blank);
  }
  return separator_graph(target, topology.blank);
}

Graph all_targets_graph(int64_t symbols, const alignment::Topology& topology) {
  Graph graph;
  if (topology.kind == alignment::TopologyKind::ctc) {
    graph.add_state(/*start=*/true, /*accept=*/true);
    for (int64_t c = 0; c < symbols; ++c) {
      graph.add_arc(0, 0, static_cast<int>(c));
    }
    return graph;
  }

  // State 0 starts, state 1 + c reads a run of symbol c, state 1 + C reads
  // a run of separators and accepts.
  const int64_t separator_state = 1 + symbols;
  graph.add_state(/*start=*/true, /*accept=*/false);
  for (int64_t c = 0; c < symbols; ++c) {
    graph.add_state();
  }
  graph.add_state(/*start=*/false, /*accept=*/true);
  const int separator = static_cast<int>(topology.blank);
  graph.add_arc(separator_state, separator_state, separator);
  for (int64_t c = 0; c < symbols; ++c) {
    if (c == topology.blank) {
      continue;
    }
    const int label = static_cast<int>(c);
    graph.add_arc(0, 1 + c, label);
    graph.add_arc(separator_state, 1 + c, label);
    graph.add_arc(1 + c, 1 + c, label);
    graph.add_arc(1 + c, separator_state, separator);
  }
  return graph;
}

Tensor target_free_energy(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                          const std::vector<int64_t>& input_lengths, const alignment::Topology& topology,
                          float beta) {
  const std::vector<int64_t> lengths =
      checked_lengths(energies, targets, input_lengths, "target_free_energy");
  const Tensor rows = window_rows(energies);
  std::vector<Tensor> values;
  for (size_t b = 0; b < targets.size(); ++b) {
    const Graph emissions = sample_emissions(rows, energies.size(1), static_cast<int64_t>(b), lengths[b]);
    values.push_back(free_energy(intersect(emissions, target_graph(targets[b], topology)), beta));
  }
  return stack(values, 0);
}

Tensor nll_loss(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                const std::vector<int64_t>& input_lengths, const alignment::Topology& topology,
                float beta) {
  const std::vector<int64_t> lengths = checked_lengths(energies, targets, input_lengths, "nll_loss");
  const Graph all = all_targets_graph(energies.size(2), topology);
  const Tensor rows = window_rows(energies);
  std::vector<Tensor> values;
  for (size_t b = 0; b < targets.size(); ++b) {
    const Graph emissions = sample_emissions(rows, energies.size(1), static_cast<int64_t>(b), lengths[b]);
    const Tensor target = free_energy(intersect(emissions, target_graph(targets[b], topology)), beta);
    values.push_back(target - free_energy(intersect(emissions, all), beta));
  }
  return stack(values, 0);
}

Tensor asg_loss(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                const std::vector<int64_t>& input_lengths, const Tensor& transitions,
                float beta) {
  const std::vector<int64_t> lengths = checked_lengths(energies, targets, input_lengths, "asg_loss");
  if (transitions.dim() != 2 || transitions.size(0) != energies.size(2) ||
      transitions.size(1) != energies.size(2)) {
    throw std::invalid_argument(fmt::format(
        "asg_loss: transitions have shape {}; expected [C, C] with C = {} from energies {}",
        shape_to_string(transitions.shape()), energies.size(2), shape_to_string(energies.shape())));
  }
  const Graph bigrams = transitions_graph(transitions);
  const Tensor rows = window_rows(energies);
  std::vector<Tensor> values;
  for (size_t b = 0; b < targets.size(); ++b) {
    const Graph emissions = sample_emissions(rows, energies.size(1), static_cast<int64_t>(b), lengths[b]);
    const Graph target = intersect(repeat_graph(targets[b]), bigrams);
    const Tensor numerator = free_energy(intersect(emissions, target), beta);
    values.push_back(numerator - free_energy(intersect(emissions, bigrams), beta));
  }
  return stack(values, 0);
}

alignment::AlignmentLossResult asg_alignment_loss(const Tensor& energies,
                                                  const alignment::AlignmentBatch& batch,
                                                  const alignment::AlignmentLossOptions& options,
                                                  const Tensor& transitions) {
  const alignment::CheckedBatch checked = alignment::check_batch(energies, batch, "asg_loss");
  const Tensor per_sample =
      asg_loss(energies, checked.targets, checked.input_lengths, transitions, options.beta);

  // where() selects without multiplying, so an infinite loss never reaches
  // the gradient of the samples kept.
  std::vector<float> feasible;
  alignment::AlignmentLossResult result;
  for (float value : per_sample.to_vector()) {
    feasible.push_back(std::isfinite(value) ? 1.0f : 0.0f);
    result.skipped += std::isfinite(value) ? 0 : 1;
  }
  const float fill = options.zero_infinity ? 0.0f : std::numeric_limits<float>::infinity();
  result.per_sample = where(from_vector(feasible, per_sample.shape()), per_sample,
                            full(per_sample.shape(), fill));
  result.loss = per_sample.numel() == 0 ? scalar(0.0f) : mean(result.per_sample);
  return result;
}

alignment::AlignmentLoss make_asg_loss(const Tensor& transitions) {
  return [transitions](const Tensor& energies, const alignment::AlignmentBatch& batch,
                       const alignment::AlignmentLossOptions& options) {
    return asg_alignment_loss(energies, batch, options, transitions);
  };
}

}  // namespace ember::graph
