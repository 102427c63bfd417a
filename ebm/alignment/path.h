// The path matrix and the energy of one given path, as differentiable ops.
//
//   path_matrix(E, y)[b, i, j] = E[b, i, y[b, j]]    E [B, L, C], y [B, T] -> [B, L, T]
//   path_energy(pm, z)[b]      = sum_i pm[b, i, z[b, i]]          pm [B, L, T], z [B, L] -> [B]
//
// For the separator topology y is the transformed target (`cat` -> `c_a_t_`,
// see separator_transform), and a valid path z starts at column 0, ends at
// the last column and moves by 0 or +1 per window. path_energy does not check
// validity: it sums whatever path it is given.
//
// Both ops also accept one sample without the batch dimension: E [L, C] with
// y [T], and pm [L, T] with z [L] (giving a scalar).
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/tensor.h"

namespace ember::alignment {

// Gathers each window's energies of the target's symbols. Every entry of y,
// padding included, must be a symbol index in [0, C); columns past a
// sample's target length are simply never used by a valid path, so they
// receive no gradient. Built on gather, so dpm/dE routes each column's
// gradient back to E[b, i, y[b, j]].
Tensor path_matrix(const Tensor& energies, const Tensor& targets);

// Sums the path matrix along a path. z[b, i] is the column of window i, or
// -1 for a window past the sample's input length, which adds nothing.
// d(energy)/d pm[b, i, j] = 1 where j = z[b, i], else 0.
Tensor path_energy(const Tensor& path_matrix, const Tensor& path);

// Packs per-sample paths (column per window, possibly shorter than L) into a
// [B, L] tensor padded with -1.
Tensor paths_to_tensor(const std::vector<std::vector<int64_t>>& paths, int64_t windows);

}  // namespace ember::alignment
