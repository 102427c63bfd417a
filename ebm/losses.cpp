// The contrastive losses, each composed from autodiff ops on the energy of
// the correct label and, for most, of the most offending incorrect answer.
// The formulas and their gradients are documented in ebm/losses.h; the
// gradients here come from the ops, and tests/ebm/test_theory.cpp checks
// them against the closed forms. The simple, hinge, square-square and NLL
// losses have a file each (losses_*.cpp) so exercise mode can replace them.
#include "ebm/losses.h"

#include <cmath>
#include <stdexcept>

#include "ebm/energy.h"
#include "ebm/losses_detail.h"

namespace ember::ebm {

namespace detail {

ContrastivePair contrastive_pair(const char* op, const Tensor& energies,
                                 const std::vector<int64_t>& labels) {
  check_energies_and_labels(op, energies, labels, /*min_labels=*/2);
  return {energy_at(energies, labels),
          energy_at(energies, most_offending_incorrect(energies, labels))};
}

void check_parameter(const char* op, const char* name, float value, bool allow_zero) {
  const bool valid = std::isfinite(value) && (allow_zero ? value >= 0.0f : value > 0.0f);
  if (!valid) {
    throw std::invalid_argument(fmt::format("{}: {} is {}; expected a finite value {} 0", op,
                                            name, value, allow_zero ? ">=" : ">"));
  }
}

}  // namespace detail

using detail::ContrastivePair;
using detail::check_parameter;
using detail::contrastive_pair;

Tensor reduce_loss(const Tensor& per_sample, Reduction reduction) {
  switch (reduction) {
    case Reduction::kMean:
      return mean(per_sample);
    case Reduction::kSum:
      return sum(per_sample);
    case Reduction::kNone:
      return per_sample;
  }
  throw std::invalid_argument("reduce_loss: unknown reduction");
}

Tensor energy_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                   Reduction reduction) {
  check_energies_and_labels("energy_loss", energies, labels);
  return reduce_loss(energy_at(energies, labels), reduction);
}

Tensor perceptron_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                       Reduction reduction) {
  const ContrastivePair pair = contrastive_pair("perceptron_loss", energies, labels);
  return reduce_loss(relu(pair.correct - pair.offending), reduction);
}

Tensor log_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                Reduction reduction) {
  const ContrastivePair pair = contrastive_pair("log_loss", energies, labels);

  // softplus is log(1 + exp(u)) without overflow for large u.
  return reduce_loss(softplus(pair.correct - pair.offending), reduction);
}

Tensor square_exponential_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                               float gamma, Reduction reduction) {
  check_parameter("square_exponential_loss", "gamma", gamma, /*allow_zero=*/false);
  const ContrastivePair pair = contrastive_pair("square_exponential_loss", energies, labels);
  return reduce_loss(pair.correct * pair.correct + gamma * exp(-pair.offending), reduction);
}

Tensor lvq2_loss(const Tensor& energies, const std::vector<int64_t>& labels, float delta,
                 Reduction reduction) {
  check_parameter("lvq2_loss", "delta", delta, /*allow_zero=*/false);
  const ContrastivePair pair = contrastive_pair("lvq2_loss", energies, labels);
  const float* offending = pair.offending.data();
  for (int64_t i = 0; i < pair.offending.numel(); ++i) {
    if (!(offending[i] > 0.0f)) {
      throw std::invalid_argument(fmt::format(
          "lvq2_loss: the most offending incorrect energy of sample {} is {}; LVQ2 divides by "
          "it, so energies must be positive (for example distances to prototypes)",
          i, offending[i]));
    }
  }

  // min(1, [r]+) written as 1 - [1 - [r]+]+, so both kinks use relu's
  // gradient 0 at 0.
  const Tensor ratio = (pair.correct - pair.offending) / (pair.offending * delta);
  return reduce_loss(1.0f - relu(1.0f - relu(ratio)), reduction);
}

Tensor mce_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                Reduction reduction) {
  const ContrastivePair pair = contrastive_pair("mce_loss", energies, labels);
  return reduce_loss(sigmoid(pair.correct - pair.offending), reduction);
}

}  // namespace ember::ebm
