// Exercise `path-energy`: the energy of a given path, as a differentiable op.
//
// Write path_energy (declared in ebm/alignment/path.h):
//
//   energy[b] = sum over windows i of pm[b, i, z[b, i]]
//   pm [B, L, T], z [B, L] -> energy [B]
//
// z[b, i] is the path-matrix column that window i sits in, or -1 for a window
// past the sample's input length (it adds nothing). Shapes: B batch,
// L windows, T columns.
//
// Contract:
// - Also accept pm [L, T] with z [L], giving a scalar (shape []).
// - Throw std::invalid_argument naming path_energy and both shapes unless
//   pm is [B, L, T] and z is [B, L] (same B and L).
// - Throw std::invalid_argument when an entry of z is neither -1 nor an
//   integer column in [0, T), naming the entry and its position.
// - Do not check that the path is a valid alignment: sum whatever you get.
// - Backward: d energy[b] / d pm[b, i, z[b, i]] = 1, every other entry 0.
//   Add (+=) the upstream gradient, never assign: a path matrix used twice
//   must collect both gradients.
//
// Hints: compute the flat index of each visited cell once and capture it in
// the backward closure (a std::shared_ptr keeps it alive). The pattern:
//   if (needs_grad({&pm})) {
//     Tape::current().record("path_energy", {pm}, energy,
//                            [pm, ...](const Tensor& grad_energy) {
//                              float* grad = grad_buffer(pm);  // accumulate here
//                            });
//   }
//
// Tests: [hw-p1-path-energy], including a gradient check.
#include "ebm/alignment/path.h"

#include <cmath>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/ops.h"
#include "autodiff/tape.h"

namespace ember::alignment {

Tensor path_energy([[maybe_unused]] const Tensor& path_matrix,
                   [[maybe_unused]] const Tensor& path) {
  throw std::logic_error("exercise path-energy: path_energy is not written yet");
}

}  // namespace ember::alignment
