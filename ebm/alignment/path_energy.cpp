// path_energy, declared in path.h: a custom op with its backward.
// Exercise `path-energy` replaces this file: see docs/exercises.md.
#include "ebm/alignment/path.h"

#include <cmath>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/ops.h"
#include "autodiff/tape.h"

namespace ember::alignment {

Tensor path_energy(const Tensor& path_matrix, const Tensor& path) {
  if (path_matrix.dim() == 2 && path.dim() == 1) {
    const Tensor batched =
        path_energy(reshape(path_matrix, {1, path_matrix.size(0), path_matrix.size(1)}),
                    reshape(path, {1, path.size(0)}));
    return reshape(batched, {});
  }
  if (path_matrix.dim() != 3 || path.dim() != 2 || path.size(0) != path_matrix.size(0) ||
      path.size(1) != path_matrix.size(1)) {
    throw std::invalid_argument(fmt::format(
        "path_energy: expected a path matrix [B, L, T] and a path [B, L] (or [L, T] and [L]), "
        "got {} and {}",
        shape_to_string(path_matrix.shape()), shape_to_string(path.shape())));
  }
  const int64_t batch = path_matrix.size(0);
  const int64_t windows = path_matrix.size(1);
  const int64_t columns = path_matrix.size(2);

  // Flat index of each visited cell, or -1 for a padded window.
  auto cells = std::make_shared<std::vector<int64_t>>(batch * windows, -1);
  const float* z = path.data();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < windows; ++i) {
      const float column = z[b * windows + i];
      if (column == -1.0f) {
        continue;
      }
      if (!(column >= 0.0f && column < static_cast<float>(columns)) ||
          column != std::floor(column)) {
        throw std::invalid_argument(fmt::format(
            "path_energy: path entry {} at [{}, {}] is neither -1 nor a column in [0, T = {})",
            column, b, i, columns));
      }
      (*cells)[b * windows + i] = (b * windows + i) * columns + static_cast<int64_t>(column);
    }
  }

  Tensor energy = zeros({batch});
  float* out = energy.mutable_data();
  const float* pm = path_matrix.data();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < windows; ++i) {
      const int64_t cell = (*cells)[b * windows + i];
      out[b] += cell >= 0 ? pm[cell] : 0.0f;
    }
  }

  if (needs_grad({&path_matrix})) {
    // d energy[b] / d pm[b, i, z[b, i]] = 1.
    Tape::current().record("path_energy", {path_matrix}, energy,
                           [path_matrix, cells, batch, windows](const Tensor& grad_energy) {
                             float* grad = grad_buffer(path_matrix);
                             const float* g = grad_energy.data();
                             for (int64_t b = 0; b < batch; ++b) {
                               for (int64_t i = 0; i < windows; ++i) {
                                 const int64_t cell = (*cells)[b * windows + i];
                                 if (cell >= 0) {
                                   grad[cell] += g[b];
                                 }
                               }
                             }
                           });
  }
  return energy;
}

}  // namespace ember::alignment
