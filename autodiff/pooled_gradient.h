// The gradient of a max pool, as the output gradient of the convolution
// under it. conv2d with a fused max pool hands it to the Winograd and
// implicit backward paths, which route it straight into their own zeroed
// gradient planes instead of reading a full-size grad_y. For the other
// paths it routes the same way into a zeroed grad_y.
#pragma once

#include <bit>
#include <cstdint>

namespace ember {

// grad_y is zero except at each window's argmax, where the window's
// gradient is added. With relu, a window whose pooled value is not above 0
// passes nothing, as the relu's mask would.
struct PooledGradient {
  const float* pooled;       // the pool's output [B, K, pooled positions]
  const float* grad_pooled;  // its gradient, the same shape
  const int32_t* argmax;     // each window's maximum as an offset into its [Ho, Wo] plane
  int64_t positions;         // pooled positions per plane
  bool relu;
};

// Adds the windows of pooled plane `plane` (image b, filter k: b K + k) to
// target, where output o = oh Wo + ow of the plane sits at
// target[plane_offsets[o]].
inline void add_pooled_plane(const PooledGradient& grad, int64_t plane,
                             const int64_t* plane_offsets, float* target) {
  const int64_t first = plane * grad.positions;
  for (int64_t q = first; q < first + grad.positions; ++q) {
    // The mask as bits, not a branch: on real activations a branch on
    // pooled > 0 is a coin flip, and its mispredictions took 4% of a model
    // B step. A masked share is +0, as the relu's mask gives.
    const uint32_t keep = 0u - static_cast<uint32_t>(!grad.relu || grad.pooled[q] > 0.0f);
    target[plane_offsets[grad.argmax[q]]] +=
        std::bit_cast<float>(std::bit_cast<uint32_t>(grad.grad_pooled[q]) & keep);
  }
}

}  // namespace ember
