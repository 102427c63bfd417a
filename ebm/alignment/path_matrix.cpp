// path_matrix, declared in path.h: a gather of each window's target columns.
// Exercise `path-matrix` replaces this file: see docs/exercises.md.
#include "ebm/alignment/path.h"

#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/ops.h"

namespace ember::alignment {

Tensor path_matrix(const Tensor& energies, const Tensor& targets) {
  if (energies.dim() == 2 && targets.dim() == 1) {
    const Tensor batched = path_matrix(reshape(energies, {1, energies.size(0), energies.size(1)}),
                                       reshape(targets, {1, targets.size(0)}));
    return reshape(batched, {batched.size(1), batched.size(2)});
  }
  if (energies.dim() != 3 || targets.dim() != 2 || targets.size(0) != energies.size(0)) {
    throw std::invalid_argument(fmt::format(
        "path_matrix: expected energies [B, L, C] with targets [B, T] (or [L, C] with [T]), got "
        "{} and {}",
        shape_to_string(energies.shape()), shape_to_string(targets.shape())));
  }
  const int64_t batch = energies.size(0);
  const int64_t windows = energies.size(1);
  const int64_t symbols = energies.size(2);
  const int64_t length = targets.size(1);

  // index[b, i, j] = y[b, j] for every window i.
  const float* y = targets.data();
  std::vector<float> index(batch * windows * length);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t j = 0; j < length; ++j) {
      const float symbol = y[b * length + j];
      if (!(symbol >= 0.0f && symbol < static_cast<float>(symbols))) {
        throw std::invalid_argument(fmt::format(
            "path_matrix: target entry {} at [{}, {}] is not a symbol index in [0, C = {})",
            symbol, b, j, symbols));
      }
      for (int64_t i = 0; i < windows; ++i) {
        index[(b * windows + i) * length + j] = symbol;
      }
    }
  }
  return gather(energies, 2, from_vector(index, {batch, windows, length}));
}

}  // namespace ember::alignment
