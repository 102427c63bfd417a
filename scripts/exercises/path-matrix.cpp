// Exercise `path-matrix`: the path matrix.
//
// Write path_matrix (declared in ebm/alignment/path.h):
//
//   pm[b, i, j] = E[b, i, y[b, j]]      E [B, L, C], y [B, T] -> pm [B, L, T]
//
// Column j of the path matrix holds, for every window i, the energy of the
// j-th target symbol. Shapes: B batch, L windows, C symbols, T target length.
// Index tensors hold integers as floats.
//
// Contract:
// - Also accept one sample without the batch dimension: E [L, C] with y [T]
//   gives pm [L, T] (reshape to a batch of one and back).
// - Throw std::invalid_argument naming path_matrix and both shapes for any
//   other shape combination, or when B differs between E and y.
// - Throw std::invalid_argument when an entry of y is not a symbol index in
//   [0, C), naming the entry, its position and C.
// - The result is differentiable: the gradient of pm[b, i, j] goes to
//   E[b, i, y[b, j]], and repeated symbols add up.
//
// Hint: gather(E, /*dim=*/2, index) with index[b, i, j] = y[b, j] does all of
// it, gradient included (see gather in autodiff/ops.h).
//
// Where it runs: ember train plots it into path-matrix.png in its run folder,
// and the Viterbi exercise runs on it. Tests: [hw-p1-path-matrix].
#include "ebm/alignment/path.h"

#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/ops.h"

namespace ember::alignment {

Tensor path_matrix([[maybe_unused]] const Tensor& energies,
                   [[maybe_unused]] const Tensor& targets) {
  throw std::logic_error("exercise path-matrix: path_matrix is not written yet");
}

}  // namespace ember::alignment
