// im2col and col2im: the layout changes that turn a 2-D convolution into one
// GEMM. For an image x of shape [C, H, W] and a kernel [KH, KW],
//   columns[(c * KH + i) * KW + j, oh * OW + ow] = x[c, oh * SH - PH + i, ow * SW - PW + j]
// (0 where that falls in the padding), so a weight matrix [F, C * KH * KW]
// times columns [C * KH * KW, OH * OW] is the convolution's output [F, OH, OW].
//
// These move data and do no arithmetic worth vectorising beyond what the
// compiler does, so they have one portable implementation (no SIMD variants).
// autodiff/ops_conv.cpp calls them for conv2d and its backward.
#pragma once

#include <cstdint>

namespace ember::kernels {

// The shape of one 2-D convolution or pooling window scan.
struct Conv2dGeometry {
  int64_t channels;
  int64_t height;
  int64_t width;
  int64_t kernel_h;
  int64_t kernel_w;
  int64_t stride_h = 1;
  int64_t stride_w = 1;
  int64_t pad_h = 0;
  int64_t pad_w = 0;
  // The output size when the caller fixes it (ceil-mode pooling keeps one
  // more, partial window); 0 means the floor-mode size below.
  int64_t fixed_out_h = 0;
  int64_t fixed_out_w = 0;

  // OH = (H + 2 PH - KH) / SH + 1, and likewise OW, unless fixed.
  int64_t out_h() const {
    return fixed_out_h > 0 ? fixed_out_h : (height + 2 * pad_h - kernel_h) / stride_h + 1;
  }
  int64_t out_w() const {
    return fixed_out_w > 0 ? fixed_out_w : (width + 2 * pad_w - kernel_w) / stride_w + 1;
  }
};

// Throws std::invalid_argument, naming `operation` and the offending values,
// unless sizes are positive, padding is non-negative and the padded image is
// at least as large as the kernel.
void check_geometry(const char* operation, const Conv2dGeometry& g);

// columns [C * KH * KW, OH * OW] = the windows of image [C, H, W]. Rows of
// columns are ld floats apart (ld = 0 means OH * OW), so the columns of
// several images can sit side by side in one wider matrix.
void im2col(const Conv2dGeometry& g, const float* image, float* columns, int64_t ld = 0);

// image [C, H, W] += the columns [C * KH * KW, OH * OW] summed back onto the
// pixels they were copied from (the adjoint of im2col, used by conv backward).
// ld is the row stride of columns, as for im2col.
void col2im(const Conv2dGeometry& g, const float* columns, float* image, int64_t ld = 0);

}  // namespace ember::kernels
