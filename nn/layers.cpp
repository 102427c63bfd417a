// Layer modules: parameter creation and forward passes built from the
// autodiff ops.
#include "nn/layers.h"

#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/ops.h"
#include "nn/init.h"

namespace ember::nn {

// ------------------------------------------------------------ Linear

Linear::Linear(int64_t in_features, int64_t out_features, Generator& generator, bool bias)
    : in_features_(in_features) {
  if (in_features <= 0 || out_features <= 0) {
    throw std::invalid_argument(fmt::format(
        "Linear: in_features {} and out_features {} must be positive", in_features,
        out_features));
  }
  Tensor w = zeros({out_features, in_features});
  kaiming_uniform(w, generator);
  weight = register_parameter("weight", w);
  if (bias) {
    this->bias = register_parameter("bias", zeros({out_features}));
  }
}

Tensor Linear::forward(const Tensor& x) {
  if (x.dim() < 1 || x.size(-1) != in_features_) {
    throw std::invalid_argument(
        fmt::format("Linear: input {} must end in the layer's {} input features",
                    shape_to_string(x.shape()), in_features_));
  }

  // matmul wants at least 2-D operands, so a single vector [in] becomes [1, in].
  const bool vector_input = x.dim() == 1;
  const Tensor rows = vector_input ? reshape(x, {1, in_features_}) : x;
  Tensor y = matmul(rows, transpose(weight, 0, 1));
  if (bias.defined()) {
    y = y + bias;
  }
  return vector_input ? reshape(y, {weight.size(0)}) : y;
}

// ------------------------------------------------------------ Conv2d

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel, Generator& generator,
               const Conv2dOptions& options, bool bias)
    : options_(options) {
  if (in_channels <= 0 || out_channels <= 0 || kernel[0] <= 0 || kernel[1] <= 0) {
    throw std::invalid_argument(fmt::format(
        "Conv2d: channels {} -> {} and kernel {{{}, {}}} must be positive", in_channels,
        out_channels, kernel[0], kernel[1]));
  }
  Tensor w = zeros({out_channels, in_channels, kernel[0], kernel[1]});
  kaiming_uniform(w, generator);
  weight = register_parameter("weight", w);
  if (bias) {
    this->bias = register_parameter("bias", zeros({out_channels}));
  }
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, options_); }

// ------------------------------------------------------------ activations

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }

// ------------------------------------------------------------ Dropout

Dropout::Dropout(float p, uint64_t seed) : p_(p), generator_(seed) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument(
        fmt::format("Dropout: probability {} must be in [0, 1)", p));
  }
}

Tensor Dropout::forward(const Tensor& x) {
  if (!training() || p_ == 0.0f) {
    return x;
  }

  // The mask is a constant, so backward multiplies the gradient by it too.
  Tensor mask = zeros(x.shape());
  float* values = mask.mutable_data();
  const float keep_scale = 1.0f / (1.0f - p_);
  for (int64_t i = 0; i < mask.numel(); ++i) {
    values[i] = generator_.uniform(0.0f, 1.0f) < p_ ? 0.0f : keep_scale;
  }
  return x * mask;
}

// ------------------------------------------------------------ reshaping

Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim_); }

Tensor WindowFeatures::forward(const Tensor& x) {
  if (x.dim() != 4) {
    throw std::invalid_argument(
        fmt::format("WindowFeatures: input {} must be a feature map [B, C, H, L]",
                    shape_to_string(x.shape())));
  }
  const Tensor columns = reshape(x, {x.size(0), x.size(1) * x.size(2), x.size(3)});
  return permute(columns, {0, 2, 1});
}

}  // namespace ember::nn
