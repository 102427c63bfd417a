// conv2d, max_pool2d and avg_pool2d: forward and backward side by side.
//
// conv2d runs one GEMM per image on the im2col columns. Backward recomputes
// the columns instead of keeping them: a copy is cheap, while keeping them
// would cost memory that grows with the batch. The im2col, col2im and pooling loops are the
// scalar reference; faster versions belong in autodiff/kernels/.
#include "autodiff/ops_conv.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "autodiff/kernels/gemm.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"

namespace ember {

using kernels::Transpose;

namespace {

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

// Geometry of a pooling window grid over an [H, W] plane.
ConvGeometry pool_geometry(const Tensor& x, const Pool2dOptions& options, const char* op) {
  ConvGeometry geometry;
  geometry.channels = x.size(1);
  geometry.height = x.size(2);
  geometry.width = x.size(3);
  geometry.kernel = options.kernel;
  geometry.stride = options.stride;
  geometry.padding = options.padding;
  geometry.out_height = pool_output_size(geometry.height, options.kernel[0], options.stride[0],
                                         options.padding[0], options.ceil_mode, op, "height");
  geometry.out_width = pool_output_size(geometry.width, options.kernel[1], options.stride[1],
                                        options.padding[1], options.ceil_mode, op, "width");
  return geometry;
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

// The output columns [begin, end) whose input column j s - p + q lies inside
// [0, width); the others read padding. Computed once per kernel column so the
// copy loops need no bounds test per element.
struct ValidRange {
  int64_t begin;
  int64_t end;
};

ValidRange valid_outputs(int64_t q, int64_t stride, int64_t padding, int64_t width,
                         int64_t out_width) {
  // Smallest j with j s - p + q >= 0, and one past the largest with j s - p + q < width.
  const int64_t first = padding - q;
  int64_t begin = first <= 0 ? 0 : (first + stride - 1) / stride;
  int64_t end = width + padding - q <= 0 ? 0 : (width + padding - q - 1) / stride + 1;
  begin = std::min(begin, out_width);
  end = std::clamp(end, begin, out_width);
  return {begin, end};
}

}  // namespace

void im2col(const float* image, const ConvGeometry& g, float* columns) {
  const int64_t positions = g.out_height * g.out_width;
  for (int64_t c = 0; c < g.channels; ++c) {
    for (int64_t p = 0; p < g.kernel[0]; ++p) {
      for (int64_t q = 0; q < g.kernel[1]; ++q) {
        float* row = columns + ((c * g.kernel[0] + p) * g.kernel[1] + q) * positions;
        const ValidRange valid = valid_outputs(q, g.stride[1], g.padding[1], g.width, g.out_width);
        for (int64_t i = 0; i < g.out_height; ++i) {
          float* out = row + i * g.out_width;
          const int64_t h = i * g.stride[0] - g.padding[0] + p;
          if (h < 0 || h >= g.height) {
            std::fill(out, out + g.out_width, 0.0f);
            continue;
          }
          const float* in = image + (c * g.height + h) * g.width;
          const int64_t shift = q - g.padding[1];
          std::fill(out, out + valid.begin, 0.0f);
          for (int64_t j = valid.begin; j < valid.end; ++j) {
            out[j] = in[j * g.stride[1] + shift];
          }
          std::fill(out + valid.end, out + g.out_width, 0.0f);
        }
      }
    }
  }
}

void col2im(const float* columns, const ConvGeometry& g, float* image) {
  const int64_t positions = g.out_height * g.out_width;
  for (int64_t c = 0; c < g.channels; ++c) {
    for (int64_t p = 0; p < g.kernel[0]; ++p) {
      for (int64_t q = 0; q < g.kernel[1]; ++q) {
        const float* row = columns + ((c * g.kernel[0] + p) * g.kernel[1] + q) * positions;
        const ValidRange valid = valid_outputs(q, g.stride[1], g.padding[1], g.width, g.out_width);
        for (int64_t i = 0; i < g.out_height; ++i) {
          const int64_t h = i * g.stride[0] - g.padding[0] + p;
          if (h < 0 || h >= g.height) {
            continue;
          }
          const float* in = row + i * g.out_width;
          float* out = image + (c * g.height + h) * g.width;
          const int64_t shift = q - g.padding[1];
          for (int64_t j = valid.begin; j < valid.end; ++j) {
            out[j * g.stride[1] + shift] += in[j];
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------ conv2d

namespace {

ConvGeometry conv_geometry(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Conv2dOptions& options) {
  require_image_batch(x, "conv2d");
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

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  const ConvGeometry g = conv_geometry(x, weight, bias, options);
  const int64_t batch = x.size(0);
  const int64_t out_channels = weight.size(0);
  const int64_t rows = g.channels * g.kernel[0] * g.kernel[1];  // C_in KH KW
  const int64_t positions = g.out_height * g.out_width;         // H_out W_out
  const int64_t image_size = g.channels * g.height * g.width;
  const bool identity_columns = columns_are_image(g);

  // y_b [C_out, H_out W_out] = weight [C_out, C_in KH KW] columns_b [C_in KH KW, H_out W_out].
  Tensor y = zeros({batch, out_channels, g.out_height, g.out_width});
  std::vector<float> scratch(identity_columns ? 0 : static_cast<size_t>(rows * positions));
  const float* xs = x.data();
  const float* ws = weight.data();
  float* ys = y.mutable_data();
  for (int64_t b = 0; b < batch; ++b) {
    const float* columns = xs + b * image_size;
    if (!identity_columns) {
      im2col(columns, g, scratch.data());
      columns = scratch.data();
    }
    float* y_b = ys + b * out_channels * positions;
    kernels::gemm(Transpose::No, Transpose::No, out_channels, positions, rows, 1.0f, ws, rows,
                  columns, positions, 0.0f, y_b, positions);
    if (bias.defined()) {
      for (int64_t o = 0; o < out_channels; ++o) {
        const float shift = bias.data()[o];
        for (int64_t k = 0; k < positions; ++k) {
          y_b[o * positions + k] += shift;
        }
      }
    }
  }

  if (needs_grad({&x, &weight, &bias})) {
    std::vector<Tensor> inputs = {x, weight};
    if (bias.defined()) {
      inputs.push_back(bias);
    }
    Tape::current().record("conv2d", inputs, y, [x, weight, bias, g, batch, out_channels, rows,
                                                  positions, image_size,
                                                  identity_columns](const Tensor& grad_y) {
      // With y_b = weight columns_b + bias:
      //   grad_weight [C_out, rows]  += grad_y_b [C_out, positions] columns_b^T [positions, rows]
      //   grad_columns [rows, positions] = weight^T [rows, C_out] grad_y_b [C_out, positions],
      //     scattered into grad_x_b by col2im (the adjoint of im2col)
      //   grad_bias [C_out] += sum over positions of grad_y_b
      float* grad_x = grad_buffer(x);
      float* grad_w = grad_buffer(weight);
      float* grad_bias = bias.defined() ? grad_buffer(bias) : nullptr;
      std::vector<float> columns(identity_columns ? 0 : static_cast<size_t>(rows * positions));
      std::vector<float> grad_columns(grad_x == nullptr ? 0
                                                        : static_cast<size_t>(rows * positions));
      const float* xs = x.data();
      const float* ws = weight.data();
      const float* g_y = grad_y.data();
      for (int64_t b = 0; b < batch; ++b) {
        const float* grad_y_b = g_y + b * out_channels * positions;
        if (grad_w != nullptr) {
          const float* columns_b = xs + b * image_size;
          if (!identity_columns) {
            im2col(columns_b, g, columns.data());
            columns_b = columns.data();
          }
          kernels::gemm(Transpose::No, Transpose::Yes, out_channels, rows, positions, 1.0f,
                        grad_y_b, positions, columns_b, positions, 1.0f, grad_w, rows);
        }
        if (grad_x != nullptr) {
          float* grad_x_b = grad_x + b * image_size;
          // The identity layout lets the GEMM accumulate straight into grad_x.
          float* target = identity_columns ? grad_x_b : grad_columns.data();
          const float beta = identity_columns ? 1.0f : 0.0f;
          kernels::gemm(Transpose::Yes, Transpose::No, rows, positions, out_channels, 1.0f, ws,
                        rows, grad_y_b, positions, beta, target, positions);
          if (!identity_columns) {
            col2im(grad_columns.data(), g, grad_x_b);
          }
        }
        if (grad_bias != nullptr) {
          for (int64_t o = 0; o < out_channels; ++o) {
            double total = 0.0;
            for (int64_t k = 0; k < positions; ++k) {
              total += grad_y_b[o * positions + k];
            }
            grad_bias[o] += static_cast<float>(total);
          }
        }
      }
    });
  }
  return y;
}

// ------------------------------------------------------------ max_pool2d

MaxPoolResult max_pool2d_with_argmax(const Tensor& x, const Pool2dOptions& options) {
  require_image_batch(x, "max_pool2d");
  const Pool2dOptions resolved = resolve_pool_options(options, "max_pool2d");
  const ConvGeometry g = pool_geometry(x, resolved, "max_pool2d");
  const int64_t planes = x.size(0) * g.channels;  // B C
  const int64_t plane_size = g.height * g.width;
  const int64_t out_plane_size = g.out_height * g.out_width;

  MaxPoolResult result;
  result.output = zeros({x.size(0), g.channels, g.out_height, g.out_width});
  result.argmax = zeros(result.output.shape());
  // Positions picked, as integers, for backward; argmax is their float copy.
  std::vector<int64_t> picked(static_cast<size_t>(planes * out_plane_size));

  const float* xs = x.data();
  float* ys = result.output.mutable_data();
  float* arg = result.argmax.mutable_data();
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* image = xs + plane * plane_size;
    for (int64_t i = 0; i < g.out_height; ++i) {
      // The window clipped to the input: padding can never be the maximum.
      const int64_t h0 = std::max<int64_t>(i * g.stride[0] - g.padding[0], 0);
      const int64_t h1 = std::min(i * g.stride[0] - g.padding[0] + g.kernel[0], g.height);
      for (int64_t j = 0; j < g.out_width; ++j) {
        const int64_t w0 = std::max<int64_t>(j * g.stride[1] - g.padding[1], 0);
        const int64_t w1 = std::min(j * g.stride[1] - g.padding[1] + g.kernel[1], g.width);
        int64_t best = -1;
        for (int64_t h = h0; h < h1; ++h) {
          for (int64_t w = w0; w < w1; ++w) {
            const float value = image[h * g.width + w];
            const bool first = best < 0;
            // Once a NaN is chosen nothing replaces it, since no comparison with NaN is true.
            if (first || value > image[best] || (std::isnan(value) && !std::isnan(image[best]))) {
              best = h * g.width + w;
            }
          }
        }
        const int64_t out = plane * out_plane_size + i * g.out_width + j;
        ys[out] = image[best];
        arg[out] = static_cast<float>(best);
        picked[out] = plane * plane_size + best;
      }
    }
  }

  if (needs_grad({&x})) {
    Tape::current().record("max_pool2d", {x}, result.output,
                           [x, picked = std::move(picked)](const Tensor& grad_y) {
                             // d y/d x = 1 at the window's argmax, 0 elsewhere.
                             float* grad_x = grad_buffer(x);
                             const float* g_y = grad_y.data();
                             for (size_t k = 0; k < picked.size(); ++k) {
                               grad_x[picked[k]] += g_y[k];
                             }
                           });
  }
  return result;
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options) {
  return max_pool2d_with_argmax(x, options).output;
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
