// The alignment losses, composed from the alignment ops and autodiff ops, and
// the registry that maps names to them.
#include "ebm/alignment/losses.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "ebm/alignment/decode.h"
#include "ebm/alignment/forward.h"
#include "ebm/alignment/log_space.h"
#include "ebm/alignment/viterbi.h"

namespace ember::alignment {

namespace {

// 1 where the per-sample target value is finite, else 0: [B].
Tensor finite_mask(const Tensor& target_values) {
  std::vector<float> mask;
  for (const float value : target_values.to_vector()) {
    mask.push_back(std::isfinite(value) ? 1.0f : 0.0f);
  }
  return from_vector(mask, target_values.shape());
}

// Turns per-sample losses into the result: samples whose target is infeasible
// (mask 0) become +inf, or 0 with zero_infinity. where() selects without
// multiplying, so an infinite or NaN value in the unselected branch never
// reaches the result or the gradient.
AlignmentLossResult finish(const Tensor& per_sample, const Tensor& feasible,
                           const AlignmentLossOptions& options) {
  AlignmentLossResult result;
  const float fill = options.zero_infinity ? 0.0f : kInf;
  result.per_sample = where(feasible, per_sample, full(per_sample.shape(), fill));
  for (const float value : feasible.to_vector()) {
    result.skipped += value == 0.0f ? 1 : 0;
  }
  result.loss = per_sample.numel() == 0 ? scalar(0.0f) : mean(result.per_sample);
  return result;
}

}  // namespace

AlignmentLossResult viterbi_energy_loss(const Tensor& energies, const AlignmentBatch& batch,
                                        const AlignmentLossOptions& options) {
  const Tensor best = viterbi(energies, batch, options.topology).energy;
  return finish(best, finite_mask(best), options);
}

AlignmentLossResult viterbi_cross_entropy_loss(const Tensor& energies, const AlignmentBatch& batch,
                                               const AlignmentLossOptions& options) {
  ViterbiResult best;
  {
    NoGrad no_grad;
    best = viterbi(energies, batch, options.topology);
  }
  const int64_t size = energies.size(0);
  const int64_t windows = energies.size(1);

  // index[b, t, 0] = the best path's symbol at window t (0 where padded),
  // used[b, t, 0] = 1 on the path's windows.
  std::vector<float> index(size * windows, 0.0f);
  std::vector<float> used(size * windows, 0.0f);
  for (int64_t b = 0; b < size; ++b) {
    for (size_t t = 0; t < best.symbols[b].size(); ++t) {
      const int64_t symbol = best.symbols[b][t];
      index[b * windows + static_cast<int64_t>(t)] = symbol >= 0 ? static_cast<float>(symbol) : 0.0f;
      used[b * windows + static_cast<int64_t>(t)] = symbol >= 0 ? 1.0f : 0.0f;
    }
  }

  // -log softmax(-beta E_t)[symbol], summed over the path's windows.
  const Tensor log_probs = log_softmax(energies * (-options.beta), 2);
  const Tensor picked = gather(log_probs, 2, from_vector(index, {size, windows, 1}));
  const Tensor on_path =
      where(from_vector(used, {size, windows, 1}), picked, zeros({size, windows, 1}));
  const Tensor cross_entropy = -sum(reshape(on_path, {size, windows}), 1);
  return finish(cross_entropy, finite_mask(best.energy), options);
}

AlignmentLossResult nll_loss(const Tensor& energies, const AlignmentBatch& batch,
                             const AlignmentLossOptions& options) {
  const Tensor target = free_energy(energies, batch, options.topology, options.beta);
  const Tensor all = free_energy_all(energies, batch.input_lengths, options.topology, options.beta);
  return finish(target - all, finite_mask(target), options);
}

AlignmentLossResult ctc_loss(const Tensor& energies, const AlignmentBatch& batch,
                             const AlignmentLossOptions& options) {
  // CTC is the NLL of locally normalised windows: each window's energies
  // become -(1/beta) log softmax(-beta E). Without this step the free energy
  // of the target alone is unbounded below and training collapses. The
  // normalisation is an ordinary recorded op, so backward includes it exactly.
  const Tensor normalised = log_softmax(energies * (-options.beta), 2) * (-1.0f / options.beta);
  const Tensor target =
      free_energy(normalised, batch, Topology::ctc(options.topology.blank), options.beta);
  return finish(target, finite_mask(target), options);
}

AlignmentLossResult hinge_loss(const Tensor& energies, const AlignmentBatch& batch,
                               const AlignmentLossOptions& options) {
  const CheckedBatch checked = check_batch(energies, batch, "hinge_loss");
  const Tensor target = free_energy(energies, batch, options.topology, options.beta);

  // ybar per sample; a sample without one reuses its target as a placeholder
  // and is masked out below.
  std::vector<std::vector<int64_t>> offending;
  std::vector<float> has_offending;
  for (int64_t b = 0; b < checked.batch; ++b) {
    const std::optional<Decoding> found = most_offending_incorrect(
        energies.data() + b * checked.windows * checked.symbols, checked.input_lengths[b],
        checked.symbols, checked.targets[b], options.topology);
    offending.push_back(found ? found->labels : checked.targets[b]);
    has_offending.push_back(found ? 1.0f : 0.0f);
  }
  const AlignmentBatch offending_batch = make_alignment_batch(offending, checked.input_lengths);
  const Tensor incorrect = free_energy(energies, offending_batch, options.topology, options.beta);

  // With no incorrect sequence to contrast, the hinge is inactive (0).
  const Tensor hinge = relu(target - incorrect + options.margin);
  const Tensor contrasted = where(from_vector(has_offending, {checked.batch}), hinge,
                                  zeros({checked.batch}));
  return finish(contrasted, finite_mask(target), options);
}

const std::map<std::string, AlignmentLoss>& alignment_losses() {
  static const std::map<std::string, AlignmentLoss> losses = {
      {"viterbi-energy", viterbi_energy_loss}, {"viterbi-ce", viterbi_cross_entropy_loss},
      {"nll", nll_loss},                       {"ctc", ctc_loss},
      {"hinge", hinge_loss},
  };
  return losses;
}

AlignmentLossResult alignment_loss(const std::string& name, const Tensor& energies,
                                   const AlignmentBatch& batch,
                                   const AlignmentLossOptions& options) {
  const auto& losses = alignment_losses();
  const auto found = losses.find(name);
  if (found == losses.end()) {
    std::string known;
    for (const auto& entry : losses) {
      known += (known.empty() ? "" : ", ") + entry.first;
    }
    throw std::invalid_argument(
        fmt::format("unknown alignment loss \"{}\"; expected one of: {}", name, known));
  }
  return found->second(energies, batch, options);
}

}  // namespace ember::alignment
