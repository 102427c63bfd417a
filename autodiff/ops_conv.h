// Differentiable 2-D convolution and pooling on image batches.
//
// Shapes: an image batch is [B, C, H, W] (B batch, C channels, H height,
// W width, row-major); a convolution weight is [C_out, C_in, KH, KW].
// Sizes that come in pairs are written {height, width}.
//
// conv2d lowers each image to a column matrix (im2col) and multiplies it by
// the weight with kernels::gemm; backward uses the same GEMM with transposed
// operands and scatters the column gradient back (col2im). The im2col, col2im
// and max-pool loops themselves are in autodiff/kernels/ (im2col.h, pool.h).
//
// Left out on purpose: dilation, groups, and padding modes other than zeros.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "autodiff/tensor.h"

namespace ember {

// A pair of sizes, {height, width}.
using Size2 = std::array<int64_t, 2>;

struct Pool2dOptions {
  Size2 kernel = {2, 2};
  // {0, 0} means "equal to the kernel", so windows do not overlap.
  Size2 stride = {0, 0};
  // Implicit padding on each side; it must be at most half the kernel, so
  // every window contains at least one input element.
  Size2 padding = {0, 0};
  // Rounds the output size up instead of down, adding a last, partial window
  // as long as it starts inside the input or its left/top padding.
  bool ceil_mode = false;
  // avg_pool2d only: whether padding zeros count in the divisor. Positions
  // that ceil mode adds beyond the padded input never count.
  bool count_include_pad = true;
};

struct Conv2dOptions {
  Size2 stride = {1, 1};
  // Zeros added on each side: padding[0] rows above and below, padding[1]
  // columns left and right.
  Size2 padding = {0, 0};
  // Applies relu to the output in the same pass: conv2d(x, w, b, {.relu = true})
  // equals relu(conv2d(x, w, b)) with the same gradients, but keeps no
  // pre-activation tensor and makes no extra pass over the output. For the
  // CNN recognizer this saves 19 MiB of a training step's memory.
  bool relu = false;
  // Applies max_pool2d with these options to the (relu's) output in the same
  // op: conv2d(x, w, b, {.relu = true, .max_pool = pool}) equals
  // max_pool2d(relu(conv2d(x, w, b)), pool), with gradients equal up to the
  // rounding of sums taken in another order. It pools a few images at a time
  // while their outputs are in cache and never stores the convolution's
  // output or its gradient whole.
  std::optional<Pool2dOptions> max_pool = std::nullopt;
};

// Output length of a convolution along one axis:
// floor((input + 2 padding - kernel) / stride) + 1. Throws naming op if the
// padded input is shorter than the kernel.
int64_t conv_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t padding,
                         const char* op, const char* axis);

// Output length of a pooling along one axis, with the ceil-mode rule above.
int64_t pool_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t padding,
                         bool ceil_mode, const char* op, const char* axis);

// y[b, o, i, j] = bias[o] + sum_{c, p, q} w[o, c, p, q] x[b, c, i s0 - p0 + p, j s1 - p1 + q]
// for x [B, C_in, H, W], weight [C_out, C_in, KH, KW] and bias [C_out]; the
// result is [B, C_out, H_out, W_out]. An undefined bias (Tensor()) means no bias.
// Example: x [1, 1, 5, 5] with weight [1, 1, 3, 3], stride {2, 2} and
// padding {1, 1} gives [1, 1, 3, 3].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dOptions& options = {});

struct MaxPoolResult {
  Tensor output;  // [B, C, H_out, W_out]
  // For each output element, the flat position h * W + w of the chosen input
  // element within its [H, W] plane, stored as a float (exact below 2^24).
  Tensor argmax;
};

// Maximum over each window; padding never wins. Ties go to the first
// position in row-major order, and a NaN wins over any number. The gradient
// of an output goes to its argmax position only.
MaxPoolResult max_pool2d_with_argmax(const Tensor& x, const Pool2dOptions& options);
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options);

// Mean over each window, with the divisor rule of count_include_pad.
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options);

// The geometry of one convolution, shared by im2col and col2im.
struct ConvGeometry {
  int64_t channels = 0;  // C_in
  int64_t height = 0;    // H
  int64_t width = 0;     // W
  Size2 kernel = {1, 1};
  Size2 stride = {1, 1};
  Size2 padding = {0, 0};
  int64_t out_height = 0;  // H_out
  int64_t out_width = 0;   // W_out
};

// Copies one image [C_in, H, W] into columns [C_in KH KW, H_out W_out]: row
// (c KH + p) KW + q, column i W_out + j contains x[c, i s0 - p0 + p, j s1 - p1 + q],
// or 0 where that position lies in the padding.
void im2col(const float* image, const ConvGeometry& geometry, float* columns);

// The adjoint of im2col: adds every column entry back into the image element
// it was copied from (+=), skipping padding.
void col2im(const float* columns, const ConvGeometry& geometry, float* image);

}  // namespace ember
