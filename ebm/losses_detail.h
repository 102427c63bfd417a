// Helpers shared by the loss files (losses.cpp and losses_*.cpp); internal to
// ebm (no public header includes it).
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/autodiff.h"

namespace ember::ebm::detail {

// The two energies a margin loss compares: F(x, y) and F(x, ybar), each [B].
struct ContrastivePair {
  Tensor correct;
  Tensor offending;
};

// Checks energies [B, C] (C >= 2) and labels, then picks F(x, y) and
// F(x, ybar) with ybar the most offending incorrect answer.
ContrastivePair contrastive_pair(const char* op, const Tensor& energies,
                                 const std::vector<int64_t>& labels);

// Throws std::invalid_argument naming op and the parameter unless value is
// finite and > 0 (>= 0 when allow_zero).
void check_parameter(const char* op, const char* name, float value, bool allow_zero);

}  // namespace ember::ebm::detail
