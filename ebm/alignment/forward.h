// The forward algorithm as differentiable ops: free energies of alignment
// sets at inverse temperature beta.
//
//   F(y) = -(1/beta) log sum over alignments z of y of exp(-beta E(z))
//
// where E(z) = sum_t E[t, label of z_t] is the energy of one alignment. F is
// a soft minimum over alignments; it tends to the Viterbi energy as beta
// grows. dF/dE[t, c] is the posterior probability, under the Gibbs
// distribution over alignments, that window t is aligned to symbol c.
//
// A sample with no valid alignment (too few windows for its target, or every
// alignment crossing an energy of +inf) has F = +inf and a zero gradient:
// nothing in forward or backward becomes NaN. Windows past a sample's input
// length and target entries past its target length are never read.
// Energies must not be NaN or -inf (both would make every free energy NaN).
//
// Shapes: B batch, L windows, C symbols, T target length.
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/tensor.h"
#include "ebm/alignment/topology.h"

namespace ember::alignment {

// Free energy of each sample's target under the topology: E [B, L, C] -> [B].
// For the ctc topology with E = -log p this is the CTC loss -log p(y | x).
Tensor free_energy(const Tensor& energies, const AlignmentBatch& batch, const Topology& topology,
                   float beta = 1.0f);

// Free energy of the homework's chain over a path matrix pm [B, L, S] (moves
// stay / advance, from column 0 to column S_b - 1): the soft-min version of
// viterbi_path_matrix. column_lengths (empty = all S) gives each S_b.
Tensor free_energy_path_matrix(const Tensor& path_matrix,
                               const std::vector<int64_t>& input_lengths = {},
                               const std::vector<int64_t>& column_lengths = {},
                               float beta = 1.0f);

// Free energy over every label sequence and every alignment of it: the
// normaliser of the discriminative forward (NLL) loss. E [B, L, C] -> [B].
// For ctc every window sequence is an alignment of exactly one label
// sequence, so this is sum_t softmin_beta(E[t, :]). For the separator
// topology the windows must read symbol runs each followed by a separator
// run, starting on a symbol and ending on a separator.
Tensor free_energy_all(const Tensor& energies, const std::vector<int64_t>& input_lengths,
                       const Topology& topology, float beta = 1.0f);

}  // namespace ember::alignment
