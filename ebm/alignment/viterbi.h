// Viterbi as a differentiable op: the minimum-energy alignment of each
// sample's target (the free energy at zero temperature) and the path itself.
//
//   V(y) = min over alignments z of y of E(z),   E(z) = sum_t E[t, label of z_t]
//
// found by the min-sum dynamic program with back-pointers of lattice_dp.h.
// dV/dE is the indicator of the best path: 1 at E[t, label of z*_t], 0
// elsewhere. Ties are broken by one rule so the path and the gradient are
// deterministic: the smaller move wins (stay over advance over skip), and
// among end states the later one wins; read back from the end, that makes the
// path advance as early as it can.
//
// No valid alignment: V = +inf, the path is all -1, the gradient is zero.
//
// Shapes: B batch, L windows, C symbols, T target length, S states.
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/tensor.h"
#include "ebm/alignment/topology.h"

namespace ember::alignment {

struct ViterbiResult {
  // [B] energy of the best alignment; differentiable.
  Tensor energy;
  // B paths, one state (chain position) per window up to each input length;
  // -1 everywhere for a sample with no valid alignment.
  std::vector<std::vector<int64_t>> states;
  // The same paths as symbols (columns of E), -1 where states is -1.
  std::vector<std::vector<int64_t>> symbols;
  // [B, L, S] the dynamic program's table (best energy of a partial path
  // ending in each cell, +inf where unreachable or padded); only filled when
  // requested, otherwise undefined.
  Tensor table;
};

// Best alignment of each sample's target under the topology, E [B, L, C].
ViterbiResult viterbi(const Tensor& energies, const AlignmentBatch& batch,
                      const Topology& topology, bool keep_table = false);

// The homework's dynamic program on a path matrix pm [B, L, S]:
//     dp[i, j] = min(dp[i-1, j], dp[i-1, j-1]) + pm[i, j]
// from column 0 in window 0 to column S_b - 1 in the last window.
// column_lengths (empty = all S) gives each S_b. Paths are column indices.
ViterbiResult viterbi_path_matrix(const Tensor& path_matrix,
                                  const std::vector<int64_t>& input_lengths = {},
                                  const std::vector<int64_t>& column_lengths = {},
                                  bool keep_table = false);

}  // namespace ember::alignment
