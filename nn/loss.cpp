// Cross-entropy built from log_softmax and gather, so backward comes from
// those ops: d loss / d logits = (softmax(logits) - one_hot(labels)) / B.
#include "nn/loss.h"

#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/ops.h"

namespace ember::nn {

Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels) {
  if (logits.dim() != 2 || logits.size(0) != static_cast<int64_t>(labels.size())) {
    throw std::invalid_argument(fmt::format(
        "cross_entropy: logits {} must be [B, C] with B = {}, the number of labels",
        shape_to_string(logits.shape()), labels.size()));
  }
  const int64_t classes = logits.size(1);
  std::vector<float> index(labels.size());
  for (size_t b = 0; b < labels.size(); ++b) {
    if (labels[b] < 0 || labels[b] >= classes) {
      throw std::out_of_range(fmt::format(
          "cross_entropy: label {} at position {} is outside [0, {})", labels[b], b, classes));
    }
    index[b] = static_cast<float>(labels[b]);
  }

  const Tensor log_probabilities = log_softmax(logits, /*dim=*/1);
  const Tensor picked = gather(log_probabilities, /*dim=*/1,
                               from_vector(index, {static_cast<int64_t>(labels.size()), 1}));
  return -mean(picked);
}

Tensor cross_entropy_from_energies(const Tensor& energies, const std::vector<int64_t>& labels) {
  return cross_entropy(-energies, labels);
}

}  // namespace ember::nn
