// conv2d, max_pool2d and avg_pool2d: forward and backward side by side.
//
// conv2d has five paths, each with the images of a batch split across
// threads. A kernel the size of the image, without padding, runs the dense
// path (one GEMM, as a fully connected layer). Stride-1 convolutions with one
// or two filters run the direct path (multi-tap correlations straight from
// the image). 3x3 ones with many channels run Winograd's F(2x2, 3x3)
// (conv_winograd.cpp) where it saves enough multiply-adds. Other stride-1 ones
// run the implicit path (a GEMM that packs its columns from a padded copy
// of the images). The rest run a GEMM on the im2col columns of
// each image (or of a few small images side by side), and forward keeps those
// columns for backward when the whole batch's fit in 2 MiB. im2col, col2im
// and max pooling are raw-pointer loops in autodiff/kernels/ (im2col.h,
// pool.h); this file adds the tensors, the checks and the tape. avg_pool2d
// keeps its plain loops here. conv2d with Conv2dOptions::max_pool runs any of
// the paths on a few images at a time and pools their output right away (see
// "fused max pool" below).
#include "autodiff/ops_conv.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "autodiff/conv_winograd.h"
#include "autodiff/kernels/elementwise.h"
#include "autodiff/kernels/gemm.h"
#include "autodiff/kernels/pool.h"
#include "autodiff/kernels/rows.h"
#include "autodiff/kernels/taps.h"
#include "autodiff/kernels/threads.h"
#include "autodiff/ops.h"
#include "autodiff/pooled_gradient.h"
#include "autodiff/short_rows.h"
#include "autodiff/tape.h"

namespace ember {

using kernels::Transpose;

namespace {

using short_rows::add_row;
using short_rows::copy_row;

void require_image_batch(const Tensor& x, const char* op) {
  if (x.dim() != 4) {
    throw std::invalid_argument(fmt::format(
        "{}: input {} must be an image batch [B, C, H, W]; reshape a single image [C, H, W] "
        "to [1, C, H, W]",
        op, shape_to_string(x.shape())));
  }
}

void require_positive(const Size2& size, const char* op, const char* what) {
  if (size[0] <= 0 || size[1] <= 0) {
    throw std::invalid_argument(fmt::format("{}: {} {{{}, {}}} must be positive", op, what,
                                            size[0], size[1]));
  }
}

void require_non_negative(const Size2& size, const char* op, const char* what) {
  if (size[0] < 0 || size[1] < 0) {
    throw std::invalid_argument(fmt::format("{}: {} {{{}, {}}} must not be negative", op, what,
                                            size[0], size[1]));
  }
}

// The pooling options with a {0, 0} stride replaced by the kernel, checked.
Pool2dOptions resolve_pool_options(const Pool2dOptions& options, const char* op) {
  Pool2dOptions resolved = options;
  if (resolved.stride == Size2{0, 0}) {
    resolved.stride = resolved.kernel;
  }
  require_positive(resolved.kernel, op, "kernel");
  require_positive(resolved.stride, op, "stride");
  require_non_negative(resolved.padding, op, "padding");
  for (int axis = 0; axis < 2; ++axis) {
    if (2 * resolved.padding[axis] > resolved.kernel[axis]) {
      throw std::invalid_argument(fmt::format(
          "{}: padding {{{}, {}}} is more than half the kernel {{{}, {}}}; a window could then "
          "hold only padding",
          op, resolved.padding[0], resolved.padding[1], resolved.kernel[0], resolved.kernel[1]));
    }
  }
  return resolved;
}

// Geometry of a pooling window grid over `channels` planes [H, W].
ConvGeometry pool_geometry(int64_t channels, int64_t height, int64_t width,
                           const Pool2dOptions& options, const char* op) {
  ConvGeometry geometry;
  geometry.channels = channels;
  geometry.height = height;
  geometry.width = width;
  geometry.kernel = options.kernel;
  geometry.stride = options.stride;
  geometry.padding = options.padding;
  geometry.out_height = pool_output_size(height, options.kernel[0], options.stride[0],
                                         options.padding[0], options.ceil_mode, op, "height");
  geometry.out_width = pool_output_size(width, options.kernel[1], options.stride[1],
                                        options.padding[1], options.ceil_mode, op, "width");
  return geometry;
}

ConvGeometry pool_geometry(const Tensor& x, const Pool2dOptions& options, const char* op) {
  return pool_geometry(x.size(1), x.size(2), x.size(3), options, op);
}

// Max pooling's argmax stores positions within a plane as int32.
using Argmax = std::vector<int32_t, PoolAllocator<int32_t>>;

void require_int32_planes(const ConvGeometry& g, const char* op) {
  if (g.height * g.width > std::numeric_limits<int32_t>::max()) {
    throw std::invalid_argument(fmt::format(
        "{}: input planes of {} x {} pixels are too large; at most 2^31 - 1 per plane", op,
        g.height, g.width));
  }
}

}  // namespace

// ------------------------------------------------------------ output sizes

int64_t conv_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t padding,
                         const char* op, const char* axis) {
  const int64_t padded = input + 2 * padding;
  if (padded < kernel) {
    throw std::invalid_argument(fmt::format(
        "{}: input {} {} (with padding {} on each side: {}) is smaller than the kernel {} {}; "
        "the padded input must be at least as large as the kernel",
        op, axis, input, padding, padded, axis, kernel));
  }
  return (padded - kernel) / stride + 1;
}

int64_t pool_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t padding,
                         bool ceil_mode, const char* op, const char* axis) {
  const int64_t floor_size = conv_output_size(input, kernel, stride, padding, op, axis);
  if (!ceil_mode) {
    return floor_size;
  }

  const int64_t span = input + 2 * padding - kernel;
  int64_t size = (span + stride - 1) / stride + 1;
  // The last window must start inside the input or its leading padding;
  // one that would start in the trailing padding is dropped.
  if ((size - 1) * stride >= input + padding) {
    --size;
  }
  return size;
}

// ------------------------------------------------------------ im2col

namespace {

// The same geometry in the form the raw kernels take.
kernels::Conv2dGeometry kernel_geometry(const ConvGeometry& g) {
  kernels::Conv2dGeometry k;
  k.channels = g.channels;
  k.height = g.height;
  k.width = g.width;
  k.kernel_h = g.kernel[0];
  k.kernel_w = g.kernel[1];
  k.stride_h = g.stride[0];
  k.stride_w = g.stride[1];
  k.pad_h = g.padding[0];
  k.pad_w = g.padding[1];
  k.fixed_out_h = g.out_height;
  k.fixed_out_w = g.out_width;
  return k;
}

}  // namespace

void im2col(const float* image, const ConvGeometry& g, float* columns) {
  kernels::im2col(kernel_geometry(g), image, columns);
}

void col2im(const float* columns, const ConvGeometry& g, float* image) {
  kernels::col2im(kernel_geometry(g), columns, image);
}

// ------------------------------------------------------------ conv2d

namespace {

ConvGeometry conv_geometry(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Conv2dOptions& options) {
  require_image_batch(x, "conv2d");
  if (x.size(1) == 0) {
    throw std::invalid_argument(fmt::format(
        "conv2d: input {} has no channels; a convolution needs at least one input channel",
        shape_to_string(x.shape())));
  }
  // Padding alone could give an empty plane a non-empty output, but im2col
  // rejects empty planes, so every path rejects them here alike.
  if (x.size(2) == 0 || x.size(3) == 0) {
    throw std::invalid_argument(fmt::format(
        "conv2d: input {} has an empty image plane; height and width must be positive",
        shape_to_string(x.shape())));
  }
  if (weight.dim() != 4 || weight.size(1) != x.size(1)) {
    throw std::invalid_argument(fmt::format(
        "conv2d: weight {} does not fit input {}; expected [C_out, {}, KH, KW]",
        shape_to_string(weight.shape()), shape_to_string(x.shape()), x.size(1)));
  }
  if (bias.defined() && bias.shape() != Shape{weight.size(0)}) {
    throw std::invalid_argument(
        fmt::format("conv2d: bias {} does not fit weight {}; expected [{}]",
                    shape_to_string(bias.shape()), shape_to_string(weight.shape()),
                    weight.size(0)));
  }
  require_positive(options.stride, "conv2d", "stride");
  require_non_negative(options.padding, "conv2d", "padding");

  ConvGeometry g;
  g.channels = x.size(1);
  g.height = x.size(2);
  g.width = x.size(3);
  g.kernel = {weight.size(2), weight.size(3)};
  g.stride = options.stride;
  g.padding = options.padding;
  g.out_height =
      conv_output_size(g.height, g.kernel[0], g.stride[0], g.padding[0], "conv2d", "height");
  g.out_width =
      conv_output_size(g.width, g.kernel[1], g.stride[1], g.padding[1], "conv2d", "width");
  return g;
}

// A 1x1 kernel with stride 1 and no padding makes im2col the identity, so
// the image itself serves as its column matrix.
bool columns_are_image(const ConvGeometry& g) {
  return g.kernel == Size2{1, 1} && g.stride == Size2{1, 1} && g.padding == Size2{0, 0};
}

// Scratch memory for column matrices, from the buffer pool and not zeroed.
using Scratch = std::vector<float, PoolAllocator<float>>;

// A GEMM with few columns spends its time packing the weight rather than
// multiplying, so images whose outputs have fewer positions than this share
// one GEMM: their column matrices sit side by side, [rows, n positions].
constexpr int64_t kMinGemmColumns = 512;

int64_t images_per_gemm(int64_t positions) {
  return std::max<int64_t>(1, (kMinGemmColumns + positions - 1) / positions);
}

// Calls body(first, last) over images [0, batch). Several images are split
// across threads, each thread running whole images with one-thread GEMMs. A
// single image leaves the threads to its GEMM instead, and so does
// whole_batch for a path whose GEMMs span the batch (the dense path).
void for_image_chunks(int64_t batch, bool whole_batch,
                      const std::function<void(int64_t, int64_t)>& body) {
  if (batch > 1 && !whole_batch && kernels::num_threads() > 1) {
    kernels::parallel_for(batch, body);
  } else {
    body(0, batch);
  }
}

// The sizes of one conv2d call, shared by its forward and backward.
struct ConvSizes {
  ConvGeometry g;
  int64_t batch;
  int64_t out_channels;
  int64_t rows;        // C_in KH KW
  int64_t positions;   // H_out W_out
  int64_t image_size;  // C_in H W
  bool identity_columns;
  bool relu;  // fused relu on the output
  // False for a backward whose x or weight contains NaN or inf, which then
  // runs the GEMM path; see all_finite.
  bool wide_grids = true;
  // False once a forward on the Winograd path met a non-finite value and
  // recomputed images on the implicit path. The backward then avoids the
  // Winograd path too, because the transforms of x or the weight that it
  // would reuse may have overflowed although x and the weight are finite.
  bool winograd_transforms_finite = true;
  // U of the Winograd path (see use_winograd_path), else null.
  const winograd::Weights* winograd_weights = nullptr;
  // Where the Winograd backward sums dU over several calls (see
  // winograd::backward), or null for each call to add G^T dU G itself.
  float* winograd_du_sum = nullptr;
  // True when grad_x is a fresh buffer that a backward must write rather
  // than add to, its first gradient; see run_conv_backward.
  bool overwrite_grad_x = false;
};

// group [C, n positions] <-> n images' [C, positions] blocks of a [B, C, positions]
// tensor, starting at image b0. gather copies into the group, scatter back out.
// Given relu_output (same layout as images), gather keeps only the elements
// where it is > 0, which applies a fused relu's derivative on the way.
void gather_group(const float* images, const float* relu_output, int64_t b0, int64_t n,
                  int64_t channels, int64_t positions, float* group) {
  const int64_t ld = n * positions;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t image = (b0 + j) * channels * positions;
    for (int64_t c = 0; c < channels; ++c) {
      const float* source = images + image + c * positions;
      float* target = group + c * ld + j * positions;
      if (relu_output == nullptr) {
        std::copy_n(source, positions, target);
        continue;
      }
      // The branch-free kernel: a plain loop compiled to a jump per element,
      // mispredicted on about half of them, took 13% of a model B step.
      kernels::relu_mask(positions, relu_output + image + c * positions, source, target);
    }
  }
}

void scatter_group(const float* group, int64_t b0, int64_t n, int64_t channels,
                   int64_t positions, float* images) {
  const int64_t ld = n * positions;
  for (int64_t j = 0; j < n; ++j) {
    float* image = images + (b0 + j) * channels * positions;
    for (int64_t c = 0; c < channels; ++c) {
      std::copy_n(group + c * ld + j * positions, positions, image + c * positions);
    }
  }
}

// The column matrix of images [b0, b0 + n): [rows, n positions], image j's
// columns at column j positions. One image with identity columns is the
// input itself; otherwise the columns are built in target.
const float* load_columns(const ConvSizes& s, const float* xs, int64_t b0, int64_t n,
                          float* target) {
  if (s.identity_columns && n == 1) {
    return xs + b0 * s.image_size;
  }
  const kernels::Conv2dGeometry geometry = kernel_geometry(s.g);
  const int64_t ld = n * s.positions;
  for (int64_t j = 0; j < n; ++j) {
    kernels::im2col(geometry, xs + (b0 + j) * s.image_size, target + j * s.positions, ld);
  }
  return target;
}

// Backward needs the column matrices again. They are rebuilt there, unless
// the whole batch's columns take at most this many bytes: then forward keeps
// them. That spares small images a second im2col, which was half of model A's
// step on 32 x 18 images, and costs at most this much memory per convolution.
constexpr int64_t kKeepColumnsBytes = int64_t{2} << 20;

// Column matrices kept from forward: the group of n images starting at image
// b0 is at values + b0 rows positions, and group_at[b0] = n.
struct KeptColumns {
  Scratch values;
  std::vector<int64_t> group_at;
};

// y_b [C_out, positions] += bias, broadcast over positions.
void add_bias(const float* bias, int64_t out_channels, int64_t positions, float* y_b) {
  for (int64_t o = 0; o < out_channels; ++o) {
    float* row = y_b + o * positions;
    const float shift = bias[o];
    for (int64_t k = 0; k < positions; ++k) {
      row[k] += shift;
    }
  }
}

// Adds the bias (when given) to one image's output y_b [C_out, positions],
// then applies the fused relu, while y_b is still in cache.
void finish_output(const ConvSizes& s, const float* bias, float* y_b) {
  if (bias != nullptr) {
    add_bias(bias, s.out_channels, s.positions, y_b);
  }
  if (s.relu) {
    kernels::relu(s.out_channels * s.positions, y_b, y_b);
  }
}

// grad_bias [C_out] += the row sums of grad_y [C_out, positions], summed by
// the vectorized row_sum kernel: a scalar loop's chain of dependent adds
// took about 4% of a model B step.
void accumulate_bias_grad(const float* grad_y_b, int64_t out_channels, int64_t positions,
                          float* grad_bias) {
  Scratch sums(static_cast<size_t>(out_channels));
  kernels::row_sum(out_channels, positions, grad_y_b, sums.data());
  for (int64_t o = 0; o < out_channels; ++o) {
    grad_bias[o] += sums[static_cast<size_t>(o)];
  }
}

// ---- stride 1: padded buffers and wide grids
//
// With stride 1, the im2col column row of kernel element (c, i, j) is input
// plane c read from offset i W + j, so two paths below skip the columns.
// Both copy images side by side into one zero-padded buffer
// [C_in, H + 2 PH, width]. Image j's pixel (h, w) is at row PH + h, column
// PW + j (W + PW) + w. So neighbours share one gap of PW zero columns: the
// right padding of one image and the left padding of the next. Kernel
// element (c, i, j) reads the buffer from offset c plane + i width + j on,
// and the output is computed on a grid as wide as the buffer. Grid position
// oh width + x is output (oh, ow) of image x / (W + PW), with
// ow = x % (W + PW), when ow < W_out. The other columns (KW - 1 - PW per
// image) contain sums that wrap across images or rows, and are dropped.

// The padded buffer of a group of images and its grid.
struct PaddedGroup {
  int64_t images;
  int64_t pitch;   // W + PW: columns from one image to the next
  int64_t height;  // H + 2 PH
  int64_t width;   // PW + images pitch
  int64_t grid;    // (H_out - 1) width + (images - 1) pitch + W_out
  std::vector<int64_t> offsets;  // of each kernel element (c, i, j), in weight row order
  // The same offsets over C_out planes, for the input gradient of a "same"
  // convolution (see conv_backward_implicit); empty otherwise.
  std::vector<int64_t> output_offsets;

  int64_t plane() const { return height * width; }
  // Returns the grid position of output (oh, 0) of image j.
  int64_t output_row(int64_t j, int64_t oh) const { return oh * width + j * pitch; }
  // Returns the offset of image j's pixel (0, 0) in the buffer.
  int64_t image_start(const ConvSizes& s, int64_t j) const {
    return s.g.padding[0] * width + s.g.padding[1] + j * pitch;
  }
};

// True for a "same" convolution, KH = 2 PH + 1 and KW = 2 PW + 1, whose
// output has the input's size (model B's 3x3 layers with padding 1).
bool keeps_size(const ConvSizes& s) {
  return s.g.kernel[0] == 2 * s.g.padding[0] + 1 && s.g.kernel[1] == 2 * s.g.padding[1] + 1;
}

PaddedGroup padded_group(const ConvSizes& s, int64_t images) {
  PaddedGroup group;
  group.images = images;
  group.pitch = s.g.width + s.g.padding[1];
  group.height = s.g.height + 2 * s.g.padding[0];
  group.width = s.g.padding[1] + images * group.pitch;
  group.grid = (s.g.out_height - 1) * group.width + (images - 1) * group.pitch + s.g.out_width;
  const auto kernel_offsets = [&](int64_t channels) {
    std::vector<int64_t> offsets;
    offsets.reserve(static_cast<size_t>(channels * s.g.kernel[0] * s.g.kernel[1]));
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t i = 0; i < s.g.kernel[0]; ++i) {
        for (int64_t j = 0; j < s.g.kernel[1]; ++j) {
          offsets.push_back(c * group.plane() + i * group.width + j);
        }
      }
    }
    return offsets;
  };
  group.offsets = kernel_offsets(s.g.channels);
  if (keeps_size(s)) {
    group.output_offsets = kernel_offsets(s.out_channels);
  }
  return group;
}

// Fills buffer [C_in, height, width] with images [b0, b0 + images) of xs,
// zero around them.
void fill_padded_buffer(const ConvSizes& s, const PaddedGroup& group, const float* xs,
                        int64_t b0, float* buffer) {
  std::fill_n(buffer, s.g.channels * group.plane(), 0.0f);
  for (int64_t j = 0; j < group.images; ++j) {
    const float* image = xs + (b0 + j) * s.image_size;
    float* start = buffer + group.image_start(s, j);
    for (int64_t c = 0; c < s.g.channels; ++c) {
      for (int64_t h = 0; h < s.g.height; ++h) {
        copy_row(s.g.width, image + (c * s.g.height + h) * s.g.width,
                 start + c * group.plane() + h * group.width);
      }
    }
  }
}

// Copies the output rows of the group's images from grid [C_out, grid] into
// ys [B, C_out, H_out, W_out], adding the bias and applying the fused relu on
// the way: one pass over the output instead of three. The arithmetic is
// add_bias's and the relu kernel's, max(v, 0) with NaN giving 0.
void scatter_grid_output(const ConvSizes& s, const PaddedGroup& group, const float* grid,
                         const float* bias, int64_t b0, float* ys) {
  for (int64_t j = 0; j < group.images; ++j) {
    float* y_b = ys + (b0 + j) * s.out_channels * s.positions;
    for (int64_t o = 0; o < s.out_channels; ++o) {
      // A shift of -0 leaves the values as they are without a bias.
      const float shift = bias != nullptr ? bias[o] : -0.0f;
      kernels::shift_rows(s.g.out_height, s.g.out_width, grid + o * group.grid +
                          group.output_row(j, 0), group.width, shift, s.relu,
                          y_b + o * s.positions, s.g.out_width);
    }
  }
}

// Writes grad_y of the group's images onto a zeroed grid whose row o starts
// at grad_grid + o ld, masked by y > 0 with the fused relu. The dropped
// columns stay zero, so they add nothing to the products of backward.
void gather_grid_gradient(const ConvSizes& s, const PaddedGroup& group, const float* ys,
                          const float* g_y, int64_t b0, float* grad_grid, int64_t ld) {
  for (int64_t j = 0; j < group.images; ++j) {
    const int64_t image = (b0 + j) * s.out_channels * s.positions;
    for (int64_t o = 0; o < s.out_channels; ++o) {
      for (int64_t oh = 0; oh < s.g.out_height; ++oh) {
        const int64_t row = image + (o * s.g.out_height + oh) * s.g.out_width;
        float* target = grad_grid + o * ld + group.output_row(j, oh);
        if (s.relu) {
          kernels::relu_mask(s.g.out_width, ys + row, g_y + row, target);
        } else {
          copy_row(s.g.out_width, g_y + row, target);
        }
      }
    }
  }
}

// Writes a max pool's gradient onto the zeroed grid of gather_grid_gradient,
// each window's share at its argmax, instead of copying a dense grad_y
// there row by row. That spares a zeroed full-size grad_y too.
void route_onto_grid(const ConvSizes& s, const PaddedGroup& group, const PooledGradient& grad,
                     int64_t b0, float* grad_grid, int64_t ld,
                     std::vector<int64_t>& plane_offsets) {
  plane_offsets.resize(static_cast<size_t>(s.positions));
  for (int64_t oh = 0; oh < s.g.out_height; ++oh) {
    for (int64_t ow = 0; ow < s.g.out_width; ++ow) {
      plane_offsets[static_cast<size_t>(oh * s.g.out_width + ow)] = group.output_row(0, oh) + ow;
    }
  }
  for (int64_t j = 0; j < group.images; ++j) {
    for (int64_t o = 0; o < s.out_channels; ++o) {
      add_pooled_plane(grad, (b0 + j) * s.out_channels + o, plane_offsets.data(),
                       grad_grid + o * ld + j * group.pitch);
    }
  }
}

// Adds the input gradient of the group's images into grad_x. Pixel (h, w) of
// image j is at source + c ld + h width + j pitch + w, which fits both a grid
// [C_in, grid] (ld = grid) and a padded buffer seen from image 0's pixel
// (0, 0) (ld = plane).
void add_image_gradients(const ConvSizes& s, const PaddedGroup& group, const float* source,
                         int64_t ld, int64_t b0, float* grad_x) {
  for (int64_t j = 0; j < group.images; ++j) {
    float* grad_image = grad_x + (b0 + j) * s.image_size;
    for (int64_t c = 0; c < s.g.channels; ++c) {
      for (int64_t h = 0; h < s.g.height; ++h) {
        float* target = grad_image + (c * s.g.height + h) * s.g.width;
        const float* row = source + c * ld + h * group.width + j * group.pitch;
        add_row(s.g.width, row, target);
      }
    }
  }
}

// grad_bias [C_out] += the sums of the grid rows, row o at grad_grid + o ld.
void accumulate_grid_bias_grad(const ConvSizes& s, const PaddedGroup& group,
                               const float* grad_grid, int64_t ld, float* grad_bias) {
  for (int64_t o = 0; o < s.out_channels; ++o) {
    float sum = 0.0f;
    kernels::row_sum(1, group.grid, grad_grid + o * ld, &sum);
    grad_bias[o] += sum;
  }
}

// ---- dense path: a kernel the size of the image
//
// With no padding and a kernel as large as the image, the output is one
// position and im2col copies the image as it is, so the convolution is a
// fully connected layer: y [n, C_out] = x [n, rows] W^T. One GEMM for the
// batch replaces an im2col copy per image and the scatter of a grouped
// product. Model B's last two layers on 32 x 18 images are such. Its fourth
// layer (a 4 x 3 kernel over 4 x 3 inputs) took 0.21 ms per batch forward
// and backward where the implicit path took 0.52 (one thread). The batch is
// not split into chunks of images across threads: the GEMM splits itself,
// and the backward then needs no weight gradient per chunk to add up. On two
// threads the fourth layer's forward and backward went from 0.28 to 0.25 ms.

bool use_dense_path(const ConvSizes& s) {
  return s.g.padding == Size2{0, 0} && s.g.kernel == Size2{s.g.height, s.g.width};
}

void conv_forward_dense(const ConvSizes& s, const float* xs, const float* ws,
                        const float* bias, float* ys, int64_t first, int64_t last) {
  const int64_t n = last - first;
  float* y = ys + first * s.out_channels;
  kernels::gemm(Transpose::No, Transpose::Yes, n, s.out_channels, s.rows, 1.0f,
                xs + first * s.image_size, s.rows, ws, s.rows, 0.0f, y, s.out_channels);

  for (int64_t b = 0; b < n; ++b) {
    finish_output(s, bias, y + b * s.out_channels);
  }
}

// Computes the dense path's backward for images [first, last), with the
// same contract as conv_backward_images:
//   grad_weight [C_out, rows] += g^T [C_out, n] x [n, rows]
//   grad_x [n, rows] += g [n, C_out] W [C_out, rows]
//   grad_bias += the column sums of g
// where g = grad_y [n, C_out], masked by y > 0 with the fused relu.
void conv_backward_dense(const ConvSizes& s, const float* xs, const float* ws, const float* ys,
                         const float* g_y, float* grad_x, float* grad_w, float* grad_bias,
                         int64_t first, int64_t last) {
  const int64_t n = last - first;
  const int64_t filters = s.out_channels;
  const float* g = g_y + first * filters;
  Scratch masked;
  if (s.relu) {
    masked.resize(static_cast<size_t>(n * filters));
    kernels::relu_mask(n * filters, ys + first * filters, g, masked.data());
    g = masked.data();
  }

  if (grad_w != nullptr) {
    kernels::gemm(Transpose::Yes, Transpose::No, filters, s.rows, n, 1.0f, g, filters,
                  xs + first * s.image_size, s.rows, 1.0f, grad_w, s.rows);
  }

  if (grad_x != nullptr) {
    kernels::gemm(Transpose::No, Transpose::No, n, s.rows, filters, 1.0f, g, filters, ws, s.rows,
                  1.0f, grad_x + first * s.image_size, s.rows);
  }

  if (grad_bias != nullptr) {
    for (int64_t b = 0; b < n; ++b) {
      kernels::add(filters, grad_bias, g + b * filters, grad_bias);
    }
  }
}

// ---- direct path: stride 1, one or two filters
//
// With one or two filters the GEMM below would run as one axpy per column
// row anyway (see gemm_by_axpy), and building the columns costs more than
// the products: im2col was 40% of model A's step. So each image is its own
// group, and every kernel element costs one axpy (forward, input gradient)
// or one dot (weight gradient) over the grid, straight from the image.

constexpr int64_t kMaxDirectFilters = 2;

bool use_direct_path(const ConvSizes& s) {
  return s.wide_grids && s.out_channels <= kMaxDirectFilters && s.g.stride == Size2{1, 1} &&
         !s.identity_columns;
}

// Returns image b as the grid reads it: the input itself when there is no
// padding, else a padded copy in buffer.
const float* direct_image(const ConvSizes& s, const PaddedGroup& group, const float* xs,
                          int64_t b, Scratch& buffer) {
  if (s.g.padding == Size2{0, 0}) {
    return xs + b * s.image_size;
  }
  buffer.resize(static_cast<size_t>(s.g.channels * group.plane()));
  fill_padded_buffer(s, group, xs, b, buffer.data());
  return buffer.data();
}

void conv_forward_direct(const ConvSizes& s, const float* xs, const float* ws,
                         const float* bias, float* ys, int64_t first, int64_t last) {
  const PaddedGroup group = padded_group(s, 1);
  Scratch buffer;
  Scratch product(static_cast<size_t>(s.out_channels * group.grid));
  for (int64_t b = first; b < last; ++b) {
    const float* image = direct_image(s, group, xs, b, buffer);
    // Summed from zero in the weight's row order, then the bias.
    std::fill(product.begin(), product.end(), 0.0f);
    for (int64_t o = 0; o < s.out_channels; ++o) {
      kernels::correlate_taps(group.grid, s.rows, ws + o * s.rows, group.offsets.data(), image,
                              product.data() + o * group.grid);
    }
    scatter_grid_output(s, group, product.data(), bias, b, ys);
  }
}

// Computes the direct path's backward for images [first, last), with the
// same contract as conv_backward_images.
void conv_backward_direct(const ConvSizes& s, const float* xs, const float* ws,
                          const float* ys, const float* g_y, float* grad_x, float* grad_w,
                          float* grad_bias, int64_t first, int64_t last) {
  const PaddedGroup group = padded_group(s, 1);
  Scratch buffer;
  Scratch grad_padded;
  // The input gradient of a plane is a correlation of the upstream grid with
  // the flipped kernel: pixel p gets sum_k w_k grad[p - offset_k]. The grid
  // sits `reach` zeros into a buffer with `reach` zeros after it as well,
  // so every p of the plane reads inside it (grid + reach = plane).
  const int64_t taps = s.g.kernel[0] * s.g.kernel[1];
  const int64_t reach = (s.g.kernel[0] - 1) * group.width + s.g.kernel[1] - 1;
  std::vector<int64_t> flipped(static_cast<size_t>(taps));
  for (int64_t k = 0; k < taps; ++k) {
    flipped[static_cast<size_t>(k)] = reach - group.offsets[static_cast<size_t>(k)];
  }
  // grad_y of one image on the grid, zero in the dropped columns and around.
  const int64_t grid_ld = group.grid + 2 * reach;
  Scratch grad_grid(static_cast<size_t>(s.out_channels * grid_ld), 0.0f);
  for (int64_t b = first; b < last; ++b) {
    gather_grid_gradient(s, group, ys, g_y, b, grad_grid.data() + reach, grid_ld);

    if (grad_w != nullptr) {
      const float* image = direct_image(s, group, xs, b, buffer);
      for (int64_t o = 0; o < s.out_channels; ++o) {
        kernels::correlate_taps_dots(group.grid, s.rows, group.offsets.data(),
                                     grad_grid.data() + o * grid_ld + reach, image,
                                     grad_w + o * s.rows);
      }
    }
    if (grad_x != nullptr) {
      // Accumulated straight into grad_x without padding, else into a zeroed
      // padded buffer whose image part is then added (the padding's is dropped).
      const bool padded = s.g.padding != Size2{0, 0};
      float* target = grad_x + b * s.image_size;
      if (padded) {
        grad_padded.assign(static_cast<size_t>(s.g.channels * group.plane()), 0.0f);
        target = grad_padded.data();
      }
      for (int64_t o = 0; o < s.out_channels; ++o) {
        for (int64_t c = 0; c < s.g.channels; ++c) {
          kernels::correlate_taps(group.plane(), taps, ws + o * s.rows + c * taps, flipped.data(),
                                  grad_grid.data() + o * grid_ld, target + c * group.plane());
        }
      }
      if (padded) {
        add_image_gradients(s, group, grad_padded.data() + group.image_start(s, 0),
                            group.plane(), b, grad_x);
      }
    }
    if (grad_bias != nullptr) {
      accumulate_grid_bias_grad(s, group, grad_grid.data() + reach, grid_ld, grad_bias);
    }
  }
}

// ---- implicit path: stride 1, more than two filters
//
// The images of a group share one padded buffer, and a GEMM packs its B
// operand straight from it (gemm_offset_rows, with the kernel elements'
// offsets as B's rows) instead of from an im2col copy.

// The shared buffer needs W_out <= W + PW, which is true when PW < KW.
bool use_implicit_path(const ConvSizes& s) {
  return s.wide_grids && s.g.stride == Size2{1, 1} && !s.identity_columns &&
         s.out_channels > kMaxDirectFilters && s.g.padding[1] < s.g.kernel[1];
}

// The implicit path's GEMMs take twice the GEMM path's columns. Their
// images share one padded buffer instead of im2col columns, so the extra
// memory is small. Model B's step on 18-pixel images (144 and 24 outputs
// in its second and third layers) then ran 1% to 3% faster.
constexpr int64_t kMinImplicitColumns = 2 * kMinGemmColumns;

int64_t images_per_implicit_gemm(int64_t positions) {
  return std::max<int64_t>(1, (kMinImplicitColumns + positions - 1) / positions);
}

// Calls body(b0, group) for the groups of images [first, last), which share
// one GEMM when their outputs are small.
template <class Body>
void for_padded_groups(const ConvSizes& s, int64_t first, int64_t last, const Body& body) {
  const int64_t per_group = std::min(images_per_implicit_gemm(s.positions), last - first);
  PaddedGroup group = padded_group(s, per_group);
  for (int64_t b0 = first; b0 < last; b0 += per_group) {
    const int64_t n = std::min(per_group, last - b0);
    if (n != group.images) {
      group = padded_group(s, n);
    }
    body(b0, group);
  }
}

void conv_forward_implicit(const ConvSizes& s, const float* xs, const float* ws,
                           const float* bias, float* ys, int64_t first, int64_t last) {
  Scratch buffer;
  Scratch product;
  for_padded_groups(s, first, last, [&](int64_t b0, const PaddedGroup& group) {
    buffer.resize(static_cast<size_t>(s.g.channels * group.plane()));
    product.resize(static_cast<size_t>(s.out_channels * group.grid));
    fill_padded_buffer(s, group, xs, b0, buffer.data());

    // product [C_out, grid] = weight [C_out, rows] B [rows, grid]
    kernels::gemm_offset_rows(kernels::active_isa(), Transpose::No, Transpose::No,
                              s.out_channels, group.grid, s.rows, 1.0f, ws, s.rows,
                              buffer.data(), group.offsets.data(), 0.0f, product.data(),
                              group.grid);
    scatter_grid_output(s, group, product.data(), bias, b0, ys);
  });
}

// Weights with at most this many values per filter (C_in KH KW) get their
// gradient as dot products, one per filter and kernel element, instead of a
// GEMM whose column panels they would fill only in part. Model B's first
// layer has 9 (one input channel, 3x3).
constexpr int64_t kMaxDotRows = 16;

// Computes the implicit path's backward for images [first, last), with the
// same contract as conv_backward_images. grad_grid is grad_y (masked by the
// fused relu) on the grid, zero in the dropped columns, or with `pooled` a
// fused max pool's gradient routed onto the grid (ys and g_y are then not
// read), and
//   grad_weight += grad_grid [C_out, grid] B^T, B read from the buffer again
//   grad_bias += the row sums of grad_grid
// For a "same" convolution the input gradient is itself a stride-1
// convolution: grad_x[c, h, w] = sum over o, i, j of
// W[o, c, KH-1-i, KW-1-j] grad_y_padded[o, h + i, w + j], with grad_y padded
// like x. grad_y is therefore laid out in a buffer shaped like x's (C_out
// planes), where the grid above is a window of it, and one GEMM with the
// flipped weight [C_in, C_out KH KW] gives grad_x on the same grid. Other
// shapes multiply grad_B [rows, grid] = weight^T grad_grid and add each row
// into a zeroed buffer at its kernel element's offset.
void conv_backward_implicit(const ConvSizes& s, const float* xs, const float* ws,
                            const float* ys, const float* g_y, float* grad_x, float* grad_w,
                            float* grad_bias, int64_t first, int64_t last,
                            const PooledGradient* pooled = nullptr) {
  if (first >= last) {
    // The Winograd backward calls this with an empty range when it finished
    // every image itself, and the flipped weight would be built for nothing.
    return;
  }
  const bool same = keeps_size(s);
  const int64_t kernel_size = s.g.kernel[0] * s.g.kernel[1];
  Scratch flipped;  // [C_in, C_out KH KW]
  if (same && grad_x != nullptr) {
    flipped.resize(static_cast<size_t>(s.g.channels * s.out_channels * kernel_size));
    for (int64_t o = 0; o < s.out_channels; ++o) {
      for (int64_t c = 0; c < s.g.channels; ++c) {
        for (int64_t k = 0; k < kernel_size; ++k) {
          flipped[static_cast<size_t>((c * s.out_channels + o) * kernel_size + k)] =
              ws[(o * s.g.channels + c) * kernel_size + kernel_size - 1 - k];
        }
      }
    }
  }

  Scratch buffer;
  Scratch grad_buffer;  // grad_grid, or the padded grad_y it is a window of
  Scratch grad_b;
  std::vector<int64_t> plane_offsets;  // route_onto_grid's table
  for_padded_groups(s, first, last, [&](int64_t b0, const PaddedGroup& group) {
    // grad_grid row o starts at o grad_ld; within it, output (oh, 0) of
    // image j is at group.output_row(j, oh).
    const int64_t grad_ld = same ? group.plane() : group.grid;
    const int64_t grad_start = same ? group.image_start(s, 0) : 0;
    grad_buffer.assign(static_cast<size_t>(s.out_channels * grad_ld), 0.0f);
    float* grad_grid = grad_buffer.data() + grad_start;
    if (pooled != nullptr) {
      route_onto_grid(s, group, *pooled, b0, grad_grid, grad_ld, plane_offsets);
    } else {
      gather_grid_gradient(s, group, ys, g_y, b0, grad_grid, grad_ld);
    }

    const auto buffer_size = static_cast<size_t>(s.g.channels * group.plane());
    if (grad_w != nullptr) {
      buffer.resize(buffer_size);
      fill_padded_buffer(s, group, xs, b0, buffer.data());
      if (s.rows <= kMaxDotRows) {
        for (int64_t o = 0; o < s.out_channels; ++o) {
          kernels::correlate_taps_dots(group.grid, s.rows, group.offsets.data(),
                                       grad_grid + o * grad_ld, buffer.data(), grad_w + o * s.rows);
        }
      } else {
        kernels::gemm_offset_rows(kernels::active_isa(), Transpose::No, Transpose::Yes,
                                  s.out_channels, s.rows, group.grid, 1.0f, grad_grid, grad_ld,
                                  buffer.data(), group.offsets.data(), 1.0f, grad_w, s.rows);
      }
    }
    if (grad_x != nullptr) {
      // The input gradient of the group on the grid, [C_in, grid], or the
      // padded buffer it is a window of.
      const float* grad_image_grid = nullptr;
      int64_t image_ld = 0;
      if (same) {
        grad_b.resize(static_cast<size_t>(s.g.channels * group.grid));
        kernels::gemm_offset_rows(kernels::active_isa(), Transpose::No, Transpose::No,
                                  s.g.channels, group.grid, s.out_channels * kernel_size, 1.0f,
                                  flipped.data(), s.out_channels * kernel_size,
                                  grad_buffer.data(), group.output_offsets.data(), 0.0f,
                                  grad_b.data(), group.grid);
        grad_image_grid = grad_b.data();
        image_ld = group.grid;
      } else {
        grad_b.resize(static_cast<size_t>(s.rows * group.grid));
        kernels::gemm(Transpose::Yes, Transpose::No, s.rows, group.grid, s.out_channels, 1.0f,
                      ws, s.rows, grad_grid, grad_ld, 0.0f, grad_b.data(), group.grid);
        buffer.assign(buffer_size, 0.0f);
        for (int64_t k = 0; k < s.rows; ++k) {
          float* target = buffer.data() + group.offsets[static_cast<size_t>(k)];
          kernels::add(group.grid, target, grad_b.data() + k * group.grid, target);
        }
        grad_image_grid = buffer.data() + group.image_start(s, 0);
        image_ld = group.plane();
      }
      add_image_gradients(s, group, grad_image_grid, image_ld, b0, grad_x);
    }
    if (grad_bias != nullptr) {
      accumulate_grid_bias_grad(s, group, grad_grid, grad_ld, grad_bias);
    }
  });
}

// ---- Winograd path: 3x3 kernels, stride 1, many channels
//
// F(2x2, 3x3) (conv_winograd.cpp) needs 16 multiply-adds per 2x2 outputs
// where the implicit path needs 36, but its transforms cost a few adds per
// value, which pays only when many channels share them. Model B's 3x3 layers
// with 32 and 64 input channels take it; its first layer, with one, does not.
// Its tiles also compute outputs that are dropped: an output 3 wide or high
// takes tiles 4 wide or high. So the path runs only where its GEMMs take at
// most kMaxWinogradShare of the implicit path's multiply-adds. On 32 x 18
// images, model B's second and third layers (16 x 9 and 8 x 3 outputs) take
// it, both at a share of 0.44. When each image still added a tile that
// straddled it and the next, their shares were 0.51 and 0.65. The second
// then ran about 15% faster than on the implicit path. The third kept the
// implicit path, whose forward was 15% faster there.
// Any non-finite value sends the images back to the implicit path too,
// which pairs only what the definition pairs (see winograd::forward). The
// backward of such a call then avoids the Winograd path as well (see
// ConvSizes::winograd_transforms_finite).

constexpr int64_t kMinWinogradChannels = 16;
constexpr double kMaxWinogradShare = 0.6;

winograd::Conv3x3 winograd_sizes(const ConvSizes& s) {
  return {.channels = s.g.channels,
          .height = s.g.height,
          .width = s.g.width,
          .out_channels = s.out_channels,
          .pad_h = s.g.padding[0],
          .pad_w = s.g.padding[1],
          .out_height = s.g.out_height,
          .out_width = s.g.out_width,
          .relu = s.relu};
}

// True when Winograd's GEMMs take at most kMaxWinogradShare of the implicit
// path's multiply-adds: 16 per tile against 9 per grid column, for each
// channel and filter, where an image spans H_out (W + PW) grid columns.
// NOTE: the tiles per image depend on the group size, which follows the
// GEMM's panel width, so a shape near the line can take different paths,
// with different rounding, under different EMBER_SIMD variants.
bool winograd_pays(const ConvSizes& s) {
  const double implicit_columns =
      static_cast<double>(s.g.out_height * (s.g.width + s.g.padding[1]));
  return 16.0 * winograd::tiles_per_image(winograd_sizes(s)) <=
         kMaxWinogradShare * 9.0 * implicit_columns;
}

bool use_winograd_path(const ConvSizes& s) {
  return s.wide_grids && s.winograd_transforms_finite && s.g.kernel == Size2{3, 3} &&
         s.g.stride == Size2{1, 1} && s.g.padding[0] <= 2 && s.g.padding[1] <= 2 &&
         s.g.channels >= kMinWinogradChannels && s.out_channels >= kMinWinogradChannels &&
         winograd_pays(s);
}

// ---- GEMM path

// Forward of images [first, last): y [B, C_out, positions] for those images.
// With kept_columns, the columns are built in (and recorded by) it. Returns
// false if the Winograd path met a non-finite value and left these images
// to the implicit path.
bool conv_forward_images(const ConvSizes& s, const float* xs, const float* ws,
                         const float* bias, float* ys, KeptColumns* kept_columns,
                         int64_t first,
                         int64_t last) {
  if (use_winograd_path(s)) {
    if (!winograd::forward(winograd_sizes(s), *s.winograd_weights, xs, bias, ys, first, last)) {
      conv_forward_implicit(s, xs, ws, bias, ys, first, last);
      return false;
    }
    return true;
  }
  if (use_dense_path(s)) {
    conv_forward_dense(s, xs, ws, bias, ys, first, last);
    return true;
  }
  if (use_direct_path(s)) {
    conv_forward_direct(s, xs, ws, bias, ys, first, last);
    return true;
  }
  if (use_implicit_path(s)) {
    conv_forward_implicit(s, xs, ws, bias, ys, first, last);
    return true;
  }
  const int64_t group = std::min(images_per_gemm(s.positions), last - first);
  Scratch columns(kept_columns != nullptr ? 0
                                          : static_cast<size_t>(s.rows * group * s.positions));
  Scratch product(group == 1 ? 0 : static_cast<size_t>(s.out_channels * group * s.positions));
  for (int64_t b0 = first; b0 < last; b0 += group) {
    const int64_t n = std::min(group, last - b0);
    const int64_t ld = n * s.positions;
    float* target = columns.data();
    if (kept_columns != nullptr) {
      target = kept_columns->values.data() + b0 * s.rows * s.positions;
      kept_columns->group_at[static_cast<size_t>(b0)] = n;
    }
    const float* columns_group = load_columns(s, xs, b0, n, target);

    // y_group [C_out, n positions] = weight [C_out, rows] columns_group [rows, n positions]
    float* y_group = n == 1 ? ys + b0 * s.out_channels * s.positions : product.data();
    kernels::gemm(Transpose::No, Transpose::No, s.out_channels, ld, s.rows, 1.0f, ws, s.rows,
                  columns_group, ld, 0.0f, y_group, ld);
    if (n > 1) {
      scatter_group(y_group, b0, n, s.out_channels, s.positions, ys);
    }
    for (int64_t b = b0; b < b0 + n; ++b) {
      finish_output(s, bias, ys + b * s.out_channels * s.positions);
    }
  }
  return true;
}

// Backward of images [first, last), given grad_y [B, C_out, positions]
// (masked by y > 0 first with the fused relu):
//   grad_weight [C_out, rows]  += grad_y_group [C_out, n positions] columns_group^T
//   grad_columns [rows, n positions] = weight^T [rows, C_out] grad_y_group,
//     scattered into each image's grad_x by col2im (the adjoint of im2col)
//   grad_bias [C_out] += sum over n positions of grad_y_group
// Any of grad_x, grad_w, grad_bias may be null when not wanted.
void conv_backward_images(const ConvSizes& s, const float* xs, const float* ws,
                          const float* ys, const KeptColumns* kept_columns, const float* g_y,
                          float* grad_x, float* grad_w, float* grad_bias, int64_t first,
                          int64_t last) {
  if (use_winograd_path(s)) {
    const int64_t rest = winograd::backward(winograd_sizes(s), *s.winograd_weights, xs, ys, g_y,
                                            grad_x, grad_w, grad_bias, first, last,
                                            s.winograd_du_sum, s.overwrite_grad_x);
    if (s.overwrite_grad_x && grad_x != nullptr) {
      // The implicit path adds, so the images left to it start from zero.
      std::fill(grad_x + rest * s.image_size, grad_x + last * s.image_size, 0.0f);
    }
    conv_backward_implicit(s, xs, ws, ys, g_y, grad_x, grad_w, grad_bias, rest, last);
    return;
  }
  if (use_dense_path(s)) {
    conv_backward_dense(s, xs, ws, ys, g_y, grad_x, grad_w, grad_bias, first, last);
    return;
  }
  if (use_direct_path(s)) {
    conv_backward_direct(s, xs, ws, ys, g_y, grad_x, grad_w, grad_bias, first, last);
    return;
  }
  if (use_implicit_path(s)) {
    conv_backward_implicit(s, xs, ws, ys, g_y, grad_x, grad_w, grad_bias, first, last);
    return;
  }
  const int64_t group = std::min(images_per_gemm(s.positions), last - first);
  const auto group_size = static_cast<size_t>(group * s.positions);
  const bool copy_grad_y = group > 1 || s.relu;
  Scratch columns(grad_w != nullptr ? static_cast<size_t>(s.rows) * group_size : 0);
  Scratch grad_columns(grad_x != nullptr ? static_cast<size_t>(s.rows) * group_size : 0);
  Scratch grad_y_scratch(copy_grad_y ? static_cast<size_t>(s.out_channels) * group_size : 0);
  const kernels::Conv2dGeometry geometry = kernel_geometry(s.g);
  for (int64_t b0 = first; b0 < last; b0 += group) {
    const int64_t n = std::min(group, last - b0);
    const int64_t ld = n * s.positions;
    const float* grad_y_group = g_y + b0 * s.out_channels * s.positions;
    if (copy_grad_y) {
      gather_group(g_y, s.relu ? ys : nullptr, b0, n, s.out_channels, s.positions,
                   grad_y_scratch.data());
      grad_y_group = grad_y_scratch.data();
    }

    if (grad_w != nullptr) {
      // Forward's columns when it kept this very group, else rebuilt.
      const bool was_kept = kept_columns != nullptr &&
                            kept_columns->group_at[static_cast<size_t>(b0)] == n;
      const float* columns_group =
          was_kept ? kept_columns->values.data() + b0 * s.rows * s.positions
                   : load_columns(s, xs, b0, n, columns.data());
      kernels::gemm(Transpose::No, Transpose::Yes, s.out_channels, s.rows, ld, 1.0f,
                    grad_y_group, ld, columns_group, ld, 1.0f, grad_w, s.rows);
    }
    if (grad_x != nullptr) {
      if (s.identity_columns && n == 1) {
        // The identity layout lets the GEMM accumulate straight into grad_x.
        kernels::gemm(Transpose::Yes, Transpose::No, s.rows, ld, s.out_channels, 1.0f, ws,
                      s.rows, grad_y_group, ld, 1.0f, grad_x + b0 * s.image_size, ld);
      } else {
        kernels::gemm(Transpose::Yes, Transpose::No, s.rows, ld, s.out_channels, 1.0f, ws,
                      s.rows, grad_y_group, ld, 0.0f, grad_columns.data(), ld);
        for (int64_t j = 0; j < n; ++j) {
          kernels::col2im(geometry, grad_columns.data() + j * s.positions,
                          grad_x + (b0 + j) * s.image_size, ld);
        }
      }
    }
    if (grad_bias != nullptr) {
      accumulate_bias_grad(grad_y_group, s.out_channels, ld, grad_bias);
    }
  }
}

// True when no element of t is NaN or inf. The backward of the direct and
// implicit paths multiplies the zero gradients of the dropped grid columns
// by pixels (for grad_weight) or weights (for grad_x) that the definition
// never pairs them with, and 0 * inf is NaN. So a backward with a non-finite
// x or weight runs the GEMM path, whose im2col columns pair only what the
// definition pairs. The test reads exponent bits (all ones for NaN and inf)
// because an integer max vectorizes and a std::isfinite loop does not. On
// model A's [32, 1, 32, 90] input it took about 0.03 ms, and the isfinite
// loop 0.06 to 0.1 ms (Zen 3, one thread, beside a 0.7 to 1.3 ms backward).
// Large tensors are split across threads: the scan runs before the chunks
// of the backward, so one thread would leave the others idle.
bool all_finite(const Tensor& t) {
  constexpr uint32_t kExponentBits = 0x7f800000u;
  constexpr int64_t kMinParallelValues = int64_t{1} << 16;
  const float* values = t.data();
  const int64_t n = t.numel();
  const auto scan = [values](int64_t begin, int64_t end) {
    uint32_t max_exponent = 0;
    for (int64_t i = begin; i < end; ++i) {
      max_exponent = std::max(max_exponent, std::bit_cast<uint32_t>(values[i]) & kExponentBits);
    }
    return max_exponent != kExponentBits;
  };
  if (n < kMinParallelValues || kernels::num_threads() == 1) {
    return scan(0, n);
  }
  std::atomic<bool> finite = true;
  kernels::parallel_for(n, [&](int64_t begin, int64_t end) {
    if (!scan(begin, end)) {
      finite = false;
    }
  });
  return finite;
}

ConvSizes conv_sizes(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Conv2dOptions& options) {
  ConvSizes s;
  s.g = conv_geometry(x, weight, bias, options);
  s.batch = x.size(0);
  s.out_channels = weight.size(0);
  s.rows = s.g.channels * s.g.kernel[0] * s.g.kernel[1];
  s.positions = s.g.out_height * s.g.out_width;
  s.image_size = s.g.channels * s.g.height * s.g.width;
  s.identity_columns = columns_are_image(s.g);
  s.relu = options.relu;
  return s;
}

// U of the Winograd path for the weight when s takes that path, else null;
// s.winograd_weights is set to it.
std::shared_ptr<const winograd::Weights> prepare_winograd(ConvSizes& s, const Tensor& weight) {
  if (!use_winograd_path(s)) {
    return nullptr;
  }
  auto weights = std::make_shared<const winograd::Weights>(
      winograd::transform_weights(winograd_sizes(s), weight.data()));
  s.winograd_weights = weights.get();
  return weights;
}

// The body of a conv2d backward: fetches the gradient buffers, splits the
// images into chunks across threads, and calls
// body(sizes, first, last, grad_x, grad_w, grad_bias) for each chunk, where
// sizes is s with wide_grids set for this backward. Any of the gradient
// pointers is null when not wanted.
template <class Body>
void run_conv_backward(const ConvSizes& s, const Tensor& x, const Tensor& weight,
                       const Tensor& bias, const Body& body) {
  // The Winograd path can write the first gradient of x instead of adding
  // it to zeros: that spares a fill of x's size (model B's second and third
  // layers). Every image of x is written, since the chunks cover the batch.
  bool fresh = false;
  float* grad_x = use_winograd_path(s) ? grad_buffer_to_overwrite(x, fresh) : grad_buffer(x);
  float* grad_w = grad_buffer(weight);
  float* grad_bias = bias.defined() ? grad_buffer(bias) : nullptr;
  const int64_t weight_size = s.out_channels * s.rows;
  ConvSizes backward_sizes = s;
  backward_sizes.overwrite_grad_x = fresh;
  // A Winograd forward whose outputs were all finite proves x and the
  // weight finite: an infinite input makes its transforms, and through
  // them the outputs, infinite or NaN. The scan of x (a full pass over
  // model B's largest inputs) is then skipped.
  // The dense path computes no dropped grid columns, so it needs no scan
  // either. The scan had taken a fifth of model B's fourth layer on
  // 32 x 18 images.
  if (!use_winograd_path(s) && !use_dense_path(s)) {
    backward_sizes.wide_grids =
        (grad_w == nullptr || all_finite(x)) && (grad_x == nullptr || all_finite(weight));
  }

  // Each chunk of images but the first sums its weight and bias gradients
  // in a buffer of its own, [C_out rows + C_out]. These are added in chunk
  // order at the end, so a fixed thread count always gives the same bits.
  std::vector<Scratch> partials(static_cast<size_t>(s.batch));
  for_image_chunks(s.batch, use_dense_path(s), [&](int64_t first, int64_t last) {
    float* chunk_grad_w = grad_w;
    float* chunk_grad_bias = grad_bias;
    if (first > 0) {
      Scratch& partial = partials[static_cast<size_t>(first)];
      partial.assign(static_cast<size_t>(weight_size + s.out_channels), 0.0f);
      chunk_grad_w = grad_w != nullptr ? partial.data() : nullptr;
      chunk_grad_bias = grad_bias != nullptr ? partial.data() + weight_size : nullptr;
    }
    body(backward_sizes, first, last, grad_x, chunk_grad_w, chunk_grad_bias);
  });

  for (const Scratch& partial : partials) {
    if (partial.empty()) {
      continue;
    }
    if (grad_w != nullptr) {
      kernels::axpy(weight_size, 1.0f, partial.data(), grad_w);
    }
    if (grad_bias != nullptr) {
      kernels::axpy(s.out_channels, 1.0f, partial.data() + weight_size, grad_bias);
    }
  }
}

// The inputs a conv2d node records: x, the weight and the bias if any.
std::vector<Tensor> conv_inputs(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  std::vector<Tensor> inputs = {x, weight};
  if (bias.defined()) {
    inputs.push_back(bias);
  }
  return inputs;
}

// ---- fused max pool
//
// With Conv2dOptions::max_pool, a few images at a time are convolved into a
// scratch buffer and pooled from it while it is in cache. The Winograd and
// implicit backward paths take the pooled gradient itself and route it
// into their own zeroed planes, group by group. The other paths get it
// routed into a zeroed buffer of the same few images and run the
// convolution's backward on that. So neither the convolution's output nor a
// gradient of its size is ever stored whole, and the passes over them are
// gone: for model B's first layer each is [B, 32, 32, W].
// The fused relu's mask y > 0 is applied on the way as pooled > 0, because
// the pooled value is y at the window's argmax, the one position that its
// gradient reaches.

// Images per pooled batch: a multiple of the images that the convolution's
// path takes per GEMM, as many as keep the output near this many values, so
// it stays in cache between the convolution and the pool (and, on the dense,
// direct and GEMM paths, between the routing and the backward).
constexpr int64_t kPooledBatchValues = int64_t{1} << 16;

int64_t images_per_pooled_batch(const ConvSizes& s) {
  int64_t group = images_per_gemm(s.positions);
  if (use_winograd_path(s)) {
    group = winograd::images_per_group(winograd_sizes(s));
  } else if (use_implicit_path(s)) {
    group = images_per_implicit_gemm(s.positions);
  }
  const int64_t group_values = group * s.out_channels * s.positions;
  return group * std::max<int64_t>(1, kPooledBatchValues / group_values);
}

// grad_y [n K, Ho, Wo] = each pooled gradient of grad_pooled [n K, PH, PW]
// routed to its window's argmax, where grad_y was zeroed first, and masked
// by pooled > 0 with the fused relu. Windows that share an argmax add up,
// as max_pool2d's backward adds them.
void route_pooled_gradient(const ConvSizes& s, const kernels::Conv2dGeometry& planes,
                           const float* pooled, const float* grad_pooled, const int32_t* argmax,
                           float* grad_y) {
  const PooledGradient grad{pooled, grad_pooled, argmax, planes.out_h() * planes.out_w(), s.relu};
  std::vector<int64_t> identity(static_cast<size_t>(s.positions));
  std::iota(identity.begin(), identity.end(), int64_t{0});
  std::fill_n(grad_y, planes.channels * s.positions, 0.0f);
  for (int64_t p = 0; p < planes.channels; ++p) {
    add_pooled_plane(grad, p, identity.data(), grad_y + p * s.positions);
  }
}

Tensor conv2d_max_pooled(const Tensor& x, const Tensor& weight, const Tensor& bias,
                         ConvSizes s, const Pool2dOptions& options) {
  // The pool's errors name it, because its kernel, stride and input (the
  // convolution's output) are not the convolution's own.
  const char* op = "conv2d (max_pool over its output)";
  const Pool2dOptions resolved = resolve_pool_options(options, op);
  const ConvGeometry pool =
      pool_geometry(s.out_channels, s.g.out_height, s.g.out_width, resolved, op);
  require_int32_planes(pool, op);
  const int64_t pooled_size = s.out_channels * pool.out_height * pool.out_width;
  const int64_t per_batch = images_per_pooled_batch(s);

  Tensor y = empty({s.batch, s.out_channels, pool.out_height, pool.out_width});
  auto argmax = std::make_shared<Argmax>(static_cast<size_t>(y.numel()));
  const float* xs = x.data();
  const float* ws = weight.data();
  const float* bias_values = bias.defined() ? bias.data() : nullptr;
  float* ys = y.mutable_data();
  const std::shared_ptr<const winograd::Weights> winograd_weights = prepare_winograd(s, weight);
  std::atomic<bool> left_winograd = false;
  for_image_chunks(s.batch, use_dense_path(s), [&](int64_t first, int64_t last) {
    Scratch conv_output(static_cast<size_t>(per_batch * s.out_channels * s.positions));
    for (int64_t b = first; b < last; b += per_batch) {
      const int64_t n = std::min(per_batch, last - b);
      if (!conv_forward_images(s, xs + b * s.image_size, ws, bias_values, conv_output.data(),
                               nullptr, 0, n)) {
        left_winograd = true;
      }
      kernels::Conv2dGeometry planes = kernel_geometry(pool);
      planes.channels = n * s.out_channels;
      kernels::max_pool2d(planes, conv_output.data(), ys + b * pooled_size,
                          argmax->data() + b * pooled_size);
    }
  });
  s.winograd_transforms_finite = !left_winograd;

  if (needs_grad({&x, &weight, &bias})) {
    Tape::current().record(
        "conv2d", conv_inputs(x, weight, bias), y,
        [x, weight, bias, s, y, argmax, winograd_weights, pool, pooled_size,
         per_batch](const Tensor& grad_y) {
          run_conv_backward(s, x, weight, bias, [&](const ConvSizes& sizes, int64_t first,
                                                    int64_t last, float* grad_x, float* grad_w,
                                                    float* grad_bias) {
            // The routing applies the relu's mask, so the backward must not.
            ConvSizes unmasked = sizes;
            unmasked.relu = false;
            // The Winograd path's dU [16, C_out, C_in] is summed over the
            // chunk and transformed once at its end.
            Scratch du_sum;
            if (use_winograd_path(sizes) && grad_w != nullptr) {
              du_sum.assign(static_cast<size_t>(16 * s.out_channels * s.g.channels), 0.0f);
              unmasked.winograd_du_sum = du_sum.data();
            }
            // The Winograd and implicit paths take the pool's gradient as it
            // is and route it into their own zeroed planes. Images that the
            // Winograd path leaves (a non-finite gradient) go to the implicit
            // path, as in conv_backward_images. The other paths read a dense
            // grad_conv.
            const PooledGradient routed{y.data(), grad_y.data(), argmax->data(),
                                        pool.out_height * pool.out_width, s.relu};
            if (use_winograd_path(unmasked) || use_implicit_path(unmasked)) {
              int64_t rest = first;
              if (use_winograd_path(unmasked)) {
                rest = winograd::backward_pooled(winograd_sizes(unmasked),
                                                 *unmasked.winograd_weights, x.data(), routed,
                                                 grad_x, grad_w, grad_bias, first, last,
                                                 unmasked.winograd_du_sum,
                                                 unmasked.overwrite_grad_x);
                if (unmasked.overwrite_grad_x && grad_x != nullptr) {
                  // The implicit path adds, so the images left to it start from zero.
                  std::fill(grad_x + rest * s.image_size, grad_x + last * s.image_size, 0.0f);
                }
              }
              conv_backward_implicit(unmasked, x.data(), weight.data(), nullptr, nullptr, grad_x,
                                     grad_w, grad_bias, rest, last, &routed);
            } else {
              Scratch grad_conv(static_cast<size_t>(per_batch * s.out_channels * s.positions));
              for (int64_t b = first; b < last; b += per_batch) {
                const int64_t n = std::min(per_batch, last - b);
                kernels::Conv2dGeometry planes = kernel_geometry(pool);
                planes.channels = n * s.out_channels;
                route_pooled_gradient(s, planes, y.data() + b * pooled_size,
                                      grad_y.data() + b * pooled_size,
                                      argmax->data() + b * pooled_size, grad_conv.data());
                conv_backward_images(unmasked, x.data() + b * s.image_size, weight.data(),
                                     nullptr, nullptr, grad_conv.data(),
                                     grad_x != nullptr ? grad_x + b * s.image_size : nullptr,
                                     grad_w, grad_bias, 0, n);
              }
            }
            if (!du_sum.empty()) {
              winograd::add_weight_gradient(winograd_sizes(sizes), du_sum.data(), grad_w);
            }
          });
        });
  }
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  ConvSizes s = conv_sizes(x, weight, bias, options);
  if (options.max_pool.has_value()) {
    return conv2d_max_pooled(x, weight, bias, s, *options.max_pool);
  }

  Tensor y = empty({s.batch, s.out_channels, s.g.out_height, s.g.out_width});
  const float* xs = x.data();
  const float* ws = weight.data();
  const float* bias_values = bias.defined() ? bias.data() : nullptr;
  float* ys = y.mutable_data();
  const bool record = needs_grad({&x, &weight, &bias});
  const std::shared_ptr<const winograd::Weights> winograd_weights = prepare_winograd(s, weight);
  std::shared_ptr<KeptColumns> kept_columns;
  const int64_t columns_bytes = s.batch * s.rows * s.positions * int64_t{sizeof(float)};
  if (record && weight.requires_grad() && !s.identity_columns && !use_dense_path(s) &&
      !use_direct_path(s) &&
      !use_implicit_path(s) &&
      columns_bytes <= kKeepColumnsBytes) {
    kept_columns = std::make_shared<KeptColumns>();
    kept_columns->values.resize(static_cast<size_t>(s.batch * s.rows * s.positions));
    kept_columns->group_at.assign(static_cast<size_t>(s.batch), 0);
  }
  std::atomic<bool> left_winograd = false;
  for_image_chunks(s.batch, use_dense_path(s), [&](int64_t first, int64_t last) {
    if (!conv_forward_images(s, xs, ws, bias_values, ys, kept_columns.get(), first, last)) {
      left_winograd = true;
    }
  });
  s.winograd_transforms_finite = !left_winograd;

  if (record) {
    Tape::current().record("conv2d", conv_inputs(x, weight, bias), y,
                           [x, weight, bias, s, y, kept_columns,
                            winograd_weights](const Tensor& grad_y) {
      // With the fused relu, the gradient reaching the convolution is grad_y
      // where y > 0 and 0 elsewhere (y > 0 exactly where its input was > 0).
      // conv_backward_images applies that mask image by image.
      run_conv_backward(s, x, weight, bias, [&](const ConvSizes& sizes, int64_t first,
                                                int64_t last, float* grad_x, float* grad_w,
                                                float* grad_bias) {
        conv_backward_images(sizes, x.data(), weight.data(), y.data(), kept_columns.get(),
                             grad_y.data(), grad_x, grad_w, grad_bias, first, last);
      });
    });
  }
  return y;
}

// ------------------------------------------------------------ max_pool2d

namespace {

// Max-pools x [B, C, H, W] and records the backward; argmax receives each
// window's winner as its index h W + w within the plane.
Tensor max_pool_forward(const Tensor& x, const Pool2dOptions& options, Argmax& argmax) {
  require_image_batch(x, "max_pool2d");
  const Pool2dOptions resolved = resolve_pool_options(options, "max_pool2d");
  const ConvGeometry g = pool_geometry(x, resolved, "max_pool2d");
  require_int32_planes(g, "max_pool2d");
  kernels::Conv2dGeometry planes = kernel_geometry(g);
  planes.channels = x.size(0) * g.channels;  // every [H, W] plane of the batch, B C

  Tensor y = empty({x.size(0), g.channels, g.out_height, g.out_width});
  argmax.resize(static_cast<size_t>(y.numel()));
  // The kernels reject zero planes, while an empty batch is a valid input
  // whose output is empty too.
  const bool has_planes = planes.channels > 0;
  if (has_planes) {
    kernels::max_pool2d(planes, x.data(), y.mutable_data(), argmax.data());
  }

  if (needs_grad({&x})) {
    Tape::current().record("max_pool2d", {x}, y,
                           [x, planes, argmax, has_planes](const Tensor& grad_y) {
                             // d y/d x = 1 at the window's argmax, 0 elsewhere.
                             // A first gradient for x is written, not added.
                             bool fresh = false;
                             float* grad_x = grad_buffer_to_overwrite(x, fresh);
                             if (!has_planes) {
                               if (fresh) {
                                 std::fill_n(grad_x, x.numel(), 0.0f);
                               }
                             } else if (fresh) {
                               kernels::max_pool2d_backward_overwrite(planes, grad_y.data(),
                                                                      argmax.data(), grad_x);
                             } else {
                               kernels::max_pool2d_backward(planes, grad_y.data(), argmax.data(),
                                                            grad_x);
                             }
                           });
  }
  return y;
}

}  // namespace

MaxPoolResult max_pool2d_with_argmax(const Tensor& x, const Pool2dOptions& options) {
  Argmax argmax;
  MaxPoolResult result;
  result.output = max_pool_forward(x, options, argmax);
  result.argmax = empty(result.output.shape());
  std::copy(argmax.begin(), argmax.end(), result.argmax.mutable_data());
  return result;
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options) {
  Argmax argmax;
  return max_pool_forward(x, options, argmax);
}

// ------------------------------------------------------------ avg_pool2d

namespace {

// One pooling window: its rows [h0, h1) and columns [w0, w1) clipped to the
// input, and the divisor of its mean.
struct AverageWindow {
  int64_t h0, h1, w0, w1;
  float divisor;
};

AverageWindow average_window(const ConvGeometry& g, bool count_include_pad, int64_t i,
                             int64_t j) {
  // Bounds first clipped to the padded input, which count_include_pad counts,
  // then to the input itself, which is what gets summed.
  const int64_t top = i * g.stride[0] - g.padding[0];
  const int64_t left = j * g.stride[1] - g.padding[1];
  const int64_t bottom = std::min(top + g.kernel[0], g.height + g.padding[0]);
  const int64_t right = std::min(left + g.kernel[1], g.width + g.padding[1]);
  const int64_t padded_count = (bottom - top) * (right - left);

  AverageWindow window;
  window.h0 = std::max<int64_t>(top, 0);
  window.h1 = std::min(bottom, g.height);
  window.w0 = std::max<int64_t>(left, 0);
  window.w1 = std::min(right, g.width);
  const int64_t inside_count = (window.h1 - window.h0) * (window.w1 - window.w0);
  window.divisor = static_cast<float>(count_include_pad ? padded_count : inside_count);
  return window;
}

}  // namespace

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options) {
  require_image_batch(x, "avg_pool2d");
  const Pool2dOptions resolved = resolve_pool_options(options, "avg_pool2d");
  const ConvGeometry g = pool_geometry(x, resolved, "avg_pool2d");
  const int64_t planes = x.size(0) * g.channels;  // B C
  const int64_t plane_size = g.height * g.width;
  const int64_t out_plane_size = g.out_height * g.out_width;
  const bool count_include_pad = resolved.count_include_pad;

  Tensor y = zeros({x.size(0), g.channels, g.out_height, g.out_width});
  const float* xs = x.data();
  float* ys = y.mutable_data();
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* image = xs + plane * plane_size;
    for (int64_t i = 0; i < g.out_height; ++i) {
      for (int64_t j = 0; j < g.out_width; ++j) {
        const AverageWindow window = average_window(g, count_include_pad, i, j);
        double total = 0.0;
        for (int64_t h = window.h0; h < window.h1; ++h) {
          for (int64_t w = window.w0; w < window.w1; ++w) {
            total += image[h * g.width + w];
          }
        }
        ys[plane * out_plane_size + i * g.out_width + j] =
            static_cast<float>(total / window.divisor);
      }
    }
  }

  if (needs_grad({&x})) {
    Tape::current().record("avg_pool2d", {x}, y, [x, g, planes, count_include_pad](
                                                     const Tensor& grad_y) {
      // d y/d x = 1 / divisor for every input element inside the window.
      float* grad_x = grad_buffer(x);
      const float* g_y = grad_y.data();
      const int64_t plane_size = g.height * g.width;
      const int64_t out_plane_size = g.out_height * g.out_width;
      for (int64_t plane = 0; plane < planes; ++plane) {
        float* grad_image = grad_x + plane * plane_size;
        for (int64_t i = 0; i < g.out_height; ++i) {
          for (int64_t j = 0; j < g.out_width; ++j) {
            const AverageWindow window = average_window(g, count_include_pad, i, j);
            const float share =
                g_y[plane * out_plane_size + i * g.out_width + j] / window.divisor;
            for (int64_t h = window.h0; h < window.h1; ++h) {
              for (int64_t w = window.w0; w < window.w1; ++w) {
                grad_image[h * g.width + w] += share;
              }
            }
          }
        }
      }
    });
  }
  return y;
}

}  // namespace ember
