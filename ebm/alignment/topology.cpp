// Building the state chains of the two topologies, and checking batches.
#include "ebm/alignment/topology.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "ebm/alignment/alphabet.h"

namespace ember::alignment {

std::string topology_name(TopologyKind kind) {
  return kind == TopologyKind::separator ? "separator" : "ctc";
}

TopologyKind parse_topology(const std::string& name) {
  if (name == "separator") {
    return TopologyKind::separator;
  }
  if (name == "ctc") {
    return TopologyKind::ctc;
  }
  throw std::invalid_argument(
      fmt::format("unknown alignment topology \"{}\"; expected \"separator\" or \"ctc\"", name));
}

Lattice build_lattice(const Topology& topology, const std::vector<int64_t>& target) {
  Lattice lattice;
  lattice.accepts_empty = target.empty();
  const auto blank = static_cast<int32_t>(topology.blank);
  for (const int64_t symbol : target) {
    if (symbol == topology.blank) {
      throw std::invalid_argument(fmt::format(
          "build_lattice: the target contains the {} symbol {}, which only the topology may "
          "insert",
          topology.kind == TopologyKind::ctc ? "blank" : "separator", symbol));
    }
  }

  if (topology.kind == TopologyKind::separator) {
    for (const int64_t symbol : separator_transform(target, topology.blank)) {
      lattice.labels.push_back(static_cast<int32_t>(symbol));
    }
    lattice.can_skip.assign(lattice.labels.size(), 0);
    return lattice;
  }

  lattice.labels.push_back(blank);
  lattice.can_skip.push_back(0);
  for (size_t j = 0; j < target.size(); ++j) {
    const bool repeated = j > 0 && target[j] == target[j - 1];
    lattice.labels.push_back(static_cast<int32_t>(target[j]));
    lattice.can_skip.push_back(repeated ? 0 : 1);
    lattice.labels.push_back(blank);
    lattice.can_skip.push_back(0);
  }
  // The first symbol's skip would come from state -1, which does not exist.
  if (lattice.can_skip.size() > 1) {
    lattice.can_skip[1] = 0;
  }
  lattice.start_states = target.empty() ? 1 : 2;
  lattice.end_states = target.empty() ? 1 : 2;
  return lattice;
}

Lattice chain_lattice(int64_t states) {
  Lattice lattice;
  lattice.accepts_empty = states == 0;
  for (int64_t j = 0; j < states; ++j) {
    lattice.labels.push_back(static_cast<int32_t>(j));
  }
  lattice.can_skip.assign(lattice.labels.size(), 0);
  return lattice;
}

AlignmentBatch make_alignment_batch(const std::vector<std::vector<int64_t>>& targets,
                                    std::vector<int64_t> input_lengths) {
  size_t max_length = 0;
  for (const auto& target : targets) {
    max_length = std::max(max_length, target.size());
  }

  const auto batch = static_cast<int64_t>(targets.size());
  const auto width = static_cast<int64_t>(max_length);
  std::vector<float> padded(targets.size() * max_length, 0.0f);
  std::vector<int64_t> target_lengths;
  for (int64_t b = 0; b < batch; ++b) {
    for (size_t j = 0; j < targets[b].size(); ++j) {
      padded[b * width + j] = static_cast<float>(targets[b][j]);
    }
    target_lengths.push_back(static_cast<int64_t>(targets[b].size()));
  }
  return {from_vector(padded, {batch, width}), std::move(input_lengths),
          std::move(target_lengths)};
}

CheckedBatch check_energies(const Tensor& energies, const std::vector<int64_t>& input_lengths,
                            const char* op) {
  if (energies.dim() != 3) {
    throw std::invalid_argument(fmt::format(
        "{}: energies must be [B, L, C], got {}", op, shape_to_string(energies.shape())));
  }
  CheckedBatch checked;
  checked.batch = energies.size(0);
  checked.windows = energies.size(1);
  checked.symbols = energies.size(2);

  if (input_lengths.empty()) {
    checked.input_lengths.assign(checked.batch, checked.windows);
    return checked;
  }
  if (static_cast<int64_t>(input_lengths.size()) != checked.batch) {
    throw std::invalid_argument(fmt::format("{}: {} input lengths for a batch of B = {}", op,
                                            input_lengths.size(), checked.batch));
  }
  for (int64_t b = 0; b < checked.batch; ++b) {
    if (input_lengths[b] < 0 || input_lengths[b] > checked.windows) {
      throw std::invalid_argument(fmt::format(
          "{}: input length {} of sample {} is outside [0, L = {}]", op, input_lengths[b], b,
          checked.windows));
    }
  }
  checked.input_lengths = input_lengths;
  return checked;
}

CheckedBatch check_batch(const Tensor& energies, const AlignmentBatch& batch, const char* op) {
  CheckedBatch checked = check_energies(energies, batch.input_lengths, op);
  const Tensor& targets = batch.targets;
  if (targets.dim() != 2 || targets.size(0) != checked.batch) {
    throw std::invalid_argument(fmt::format("{}: targets {} must be [B, T] with B = {}", op,
                                            shape_to_string(targets.shape()), checked.batch));
  }
  const int64_t width = targets.size(1);
  std::vector<int64_t> lengths = batch.target_lengths;
  if (lengths.empty()) {
    lengths.assign(checked.batch, width);
  }
  if (static_cast<int64_t>(lengths.size()) != checked.batch) {
    throw std::invalid_argument(fmt::format("{}: {} target lengths for a batch of B = {}", op,
                                            lengths.size(), checked.batch));
  }

  const float* values = targets.data();
  for (int64_t b = 0; b < checked.batch; ++b) {
    if (lengths[b] < 0 || lengths[b] > width) {
      throw std::invalid_argument(fmt::format(
          "{}: target length {} of sample {} is outside [0, T = {}]", op, lengths[b], b, width));
    }
    std::vector<int64_t> target;
    for (int64_t j = 0; j < lengths[b]; ++j) {
      const float value = values[b * width + j];
      if (!(value >= 0.0f && value < static_cast<float>(checked.symbols)) ||
          value != std::floor(value)) {
        throw std::invalid_argument(fmt::format(
            "{}: target symbol {} at [{}, {}] is not an index in [0, C = {})", op, value, b, j,
            checked.symbols));
      }
      target.push_back(static_cast<int64_t>(value));
    }
    checked.targets.push_back(std::move(target));
  }
  return checked;
}

}  // namespace ember::alignment
