// Classification losses for networks that output scores or energies.
//
// Energy-based classifiers output energies [B, C] (lower = better), so their
// cross-entropy is taken on the negated energies, the logits of the Gibbs
// distribution softmax(-E) at inverse temperature 1.
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/tensor.h"

namespace ember::nn {

// Mean over the batch of -log softmax(logits)[b, labels[b]] for logits [B, C].
Tensor cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels);

// cross_entropy(-energies, labels) for energies [B, C].
Tensor cross_entropy_from_energies(const Tensor& energies, const std::vector<int64_t>& labels);

}  // namespace ember::nn
