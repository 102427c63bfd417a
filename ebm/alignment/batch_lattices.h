// The lattices of a checked batch, one per sample, for the forward-algorithm
// ops (forward.cpp) and the Viterbi ops (viterbi.cpp). A sample's lattice is
// its target's chain under a topology, or the homework's chain over the
// columns of its path matrix.
//
// Shapes: B batch, L windows, C symbols, S path-matrix columns.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "ebm/alignment/topology.h"

namespace ember::alignment {

// The chain of each sample's target under the topology.
inline std::vector<Lattice> target_lattices(const CheckedBatch& checked,
                                            const Topology& topology) {
  std::vector<Lattice> lattices;
  for (const auto& target : checked.targets) {
    lattices.push_back(build_lattice(topology, target));
  }
  return lattices;
}

// The chain over the first S_b columns of each sample's path matrix
// pm [B, L, S], where column_lengths (empty = all S) gives each S_b. Throws
// std::invalid_argument, naming op, if column_lengths does not have B
// entries or an entry is outside [0, S].
inline std::vector<Lattice> path_matrix_lattices(const CheckedBatch& checked,
                                                 const std::vector<int64_t>& column_lengths,
                                                 const char* op) {
  if (!column_lengths.empty() && static_cast<int64_t>(column_lengths.size()) != checked.batch) {
    throw std::invalid_argument(fmt::format("{}: {} column lengths for a batch of B = {}", op,
                                            column_lengths.size(), checked.batch));
  }
  std::vector<Lattice> lattices;
  for (int64_t b = 0; b < checked.batch; ++b) {
    const int64_t columns = column_lengths.empty() ? checked.symbols : column_lengths[b];
    if (columns < 0 || columns > checked.symbols) {
      throw std::invalid_argument(
          fmt::format("{}: column length {} of sample {} is outside [0, S = {}]", op, columns, b,
                      checked.symbols));
    }
    lattices.push_back(chain_lattice(columns));
  }
  return lattices;
}

}  // namespace ember::alignment
