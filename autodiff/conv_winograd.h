// The Winograd path of conv2d: 3x3 kernels with stride 1, computed with
// F(2x2, 3x3) (see autodiff/kernels/winograd.h for the transforms). A 3x3
// convolution spends 9 multiply-adds per output, input channel and filter.
// This path spends 4 (16 per 2x2 tile), plus transforms that cost a few adds
// per value. conv2d (ops_conv.cpp) picks it for layers wide enough that the
// multiply-adds dominate, such as model B's 3x3 layers with 32 and 64
// channels. Its results agree with the other paths to rounding, not bit for
// bit.
// NOTE: that rounding grows with the largest transformed products of a
// tile, even those of a weight that the definition multiplies only by zero
// padding, where the implicit path's products are exact zeros. With one
// output row, and one filter row of 1e4 that meets only padding against
// weights and pixels near 1, outputs differed from the definition by up to
// 5e-3, and by 0.5 with 1e6.
//
// Legend: B batch, C input channels, K filters (C_out), H x W input,
// Ho x Wo output, T tiles per image.
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/buffer_pool.h"
#include "autodiff/pooled_gradient.h"

namespace ember::winograd {

// One conv2d call the path can run: kernel [K, C, 3, 3], stride 1.
struct Conv3x3 {
  int64_t channels;      // C
  int64_t height;        // H
  int64_t width;         // W
  int64_t out_channels;  // K
  int64_t pad_h;
  int64_t pad_w;
  int64_t out_height;    // Ho = H + 2 pad_h - 2
  int64_t out_width;     // Wo = W + 2 pad_w - 2
  bool relu;             // fused max(y, 0) on the output
};

using Weights = std::vector<float, PoolAllocator<float>>;

// The images that forward and backward take per group (and per set of 16
// GEMMs). A caller that splits a batch itself does best with multiples.
int64_t images_per_group(const Conv3x3& s);

// The tiles per image in the groups of images_per_group, those that
// straddle two images included: the columns of the 16 GEMMs per image.
double tiles_per_image(const Conv3x3& s);

// U [16, K, C]: U[xi, k, c] = (G g G^T)[xi] for filter g = weight[k, c], xi
// = 4 i + j, followed by its transpose [16, C, K] for backward's GEMMs.
// weight is [K, C, 3, 3].
Weights transform_weights(const Conv3x3& s, const float* weight);

// y [B, K, Ho, Wo] for images [first, last) of x [B, C, H, W], plus the bias
// [K] when not null, then the fused relu. u is transform_weights' result.
// Returns false if an output before the bias was NaN or infinite: the
// transforms mix neighbouring pixels, so an infinite pixel can turn outputs
// that never see it into NaN. The caller then recomputes those images on a
// path that pairs only what the definition pairs.
bool forward(const Conv3x3& s, const Weights& u, const float* xs, const float* bias, float* ys,
             int64_t first, int64_t last);

// The backward of forward for images [first, last), given y and grad_y
// [B, K, Ho, Wo]; grad_y is masked by y > 0 first with the fused relu.
// Accumulates into grad_x [B, C, H, W], grad_weight [K, C, 3, 3] and
// grad_bias [K]; any of the three may be null when not wanted. Stops before
// the first group of images whose grad_y contains NaN or an infinity, or
// whose A grad_y A^T overflows. Returns that group's first image, or last
// when every image is done, and the caller runs the rest on another path.
// The transforms of x and the weight must be finite, as they are when
// forward returned true for every image.
//
// With du_sum (16 K C floats, zero before the first call), the calls for
// several slices of a batch add their transformed weight gradient dU there,
// and grad_w only selects whether to compute it. add_weight_gradient then
// transforms the sum into grad_w once, instead of once per call. With
// overwrite_grad_x, grad_x of the images done is written instead of added
// to, so it need not be zeroed first. Images from the returned one on keep
// their grad_x as it was.
int64_t backward(const Conv3x3& s, const Weights& u, const float* xs, const float* ys,
                 const float* g_y, float* grad_x, float* grad_w, float* grad_bias, int64_t first,
                 int64_t last, float* du_sum = nullptr, bool overwrite_grad_x = false);

// backward with grad_y given as a max pool's gradient, routed straight into
// the planes that backward builds from grad_y. That spares the caller a
// zeroed full-size grad_y, and backward a copy of it. s.relu must be false:
// the routing applies the mask. Returns as backward does, and the
// caller runs the images from the returned one on another path.
int64_t backward_pooled(const Conv3x3& s, const Weights& u, const float* xs,
                        const PooledGradient& grad, float* grad_x, float* grad_w,
                        float* grad_bias, int64_t first, int64_t last, float* du_sum = nullptr,
                        bool overwrite_grad_x = false);

// grad_w [K, C, 3, 3] += G^T dU G per filter, for a du_sum of backward.
void add_weight_gradient(const Conv3x3& s, const float* du_sum, float* grad_w);

}  // namespace ember::winograd
