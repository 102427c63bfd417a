// 2-D max pooling with argmax, and its backward, on [P, H, W] buffers where
// P counts planes (batch times channels).
//
// Padding counts as -inf, so a padded position never wins. When every window
// lies inside the image, the forward runs a dispatched row kernel
// (KernelTable::max_pool_row, SIMD across windows for strides 1 to 3). Rows
// of fewer windows than a vector has lanes, and strides over 3, go to a
// kernel that gathers a whole plane's windows (KernelTable::max_pool_windows).
// Otherwise one portable loop clips each window to the image.
#pragma once

#include <cstdint>

#include "autodiff/kernels/im2col.h"

namespace ember::kernels {

// output [P, OH, OW] = the max of each window of input [P, H, W], with g
// giving H, W, the window, stride and padding (g.channels is the plane count
// P). argmax [P, OH, OW] receives the winner's index h * W + w within its
// plane. The first maximum in row-major window order wins ties, and a NaN in a
// window wins over every number, so it propagates. Padding must be at most
// half the window, so every window contains at least one pixel.
void max_pool2d(const Conv2dGeometry& g, const float* input, float* output, int32_t* argmax);

// grad_input [P, H, W] += grad_output [P, OH, OW] routed to each window's
// argmax: the max passes its gradient to the winning pixel only.
void max_pool2d_backward(const Conv2dGeometry& g, const float* grad_output, const int32_t* argmax,
                         float* grad_input);

// The same gradient written instead of added: grad_input is overwritten,
// zero wherever no window's max was. Each plane is zeroed just before its
// scatter, while it is in cache, instead of in a separate pass.
void max_pool2d_backward_overwrite(const Conv2dGeometry& g, const float* grad_output,
                                   const int32_t* argmax, float* grad_input);

}  // namespace ember::kernels
