// Energies and the quantities derived from them: the Gibbs distribution, the
// free energy (hard and soft minimum), and the most offending incorrect answer.
//
// Conventions: lower energy = better answer. A classifier's energies are
// [B, C] (B batch, C labels), one energy F(x, y) per sample and label;
// `beta` is the inverse temperature. Every function here is built from
// autodiff ops, so gradients flow back into whatever network produced the
// energies.
//
// Left out on purpose: energies over continuous y (discretize y on a grid
// and use these functions along the grid axis) and sampling from the Gibbs
// distribution. The losses built on these functions live in ebm/losses.h.
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/autodiff.h"

namespace ember::ebm {

// Gibbs (Boltzmann) distribution along `dim`:
//     p_k = exp(-beta E_k) / sum_j exp(-beta E_j),
// i.e. softmax(-beta E). The energies are shifted by their minimum before
// scaling, so p stays finite and sums to 1 even when beta * E overflows a
// float (energies of 1e37 with beta = 100). Requires 0 <= beta < inf;
// beta = 0 gives the uniform distribution.
// Example: gibbs([[0, ln 3]], 1) = [[0.75, 0.25]].
Tensor gibbs(const Tensor& energies, float beta, int64_t dim = -1);

// log p_k of the Gibbs distribution, computed without taking log of a
// probability that underflowed to 0.
Tensor log_gibbs(const Tensor& energies, float beta, int64_t dim = -1);

// Hard free energy: min_k E_k along `dim`. The gradient goes to the first
// position holding the minimum (the one argmin returns).
Tensor free_energy_min(const Tensor& energies, int64_t dim = -1, bool keepdim = false);

// Soft free energy (soft minimum) along `dim`:
//     F_beta = -(1/beta) log sum_k exp(-beta E_k).
// It satisfies min E - log(K)/beta <= F_beta <= min E for K entries, so it
// tends to the hard minimum as beta grows, and dF_beta/dE_k = p_k, the Gibbs
// probability. Requires 0 < beta < inf.
// Example: free_energy_soft([[0, 0]], 1) = [-ln 2].
Tensor free_energy_soft(const Tensor& energies, float beta, int64_t dim = -1,
                        bool keepdim = false);

// The most offending incorrect answer of each sample: the label with the
// lowest energy among all labels except the correct one. Ties go to the
// lowest label index. energies [B, C] with C >= 2, labels B integers in
// [0, C). Returns B label indices. Not differentiable (it is a choice).
// Example: energies [[1, 0, 0]], labels {1} -> {2}; labels {0} -> {1}.
std::vector<int64_t> most_offending_incorrect(const Tensor& energies,
                                              const std::vector<int64_t>& labels);

// energies[i, labels[i]] for each sample: [B, C] -> [B], differentiable.
Tensor energy_at(const Tensor& energies, const std::vector<int64_t>& labels);

// Checks that energies is [B, C] with C >= min_labels and that labels holds B
// integers in [0, C); throws std::invalid_argument naming op otherwise.
void check_energies_and_labels(const char* op, const Tensor& energies,
                               const std::vector<int64_t>& labels, int64_t min_labels = 1);

}  // namespace ember::ebm
