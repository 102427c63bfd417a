// Layers: Linear, Conv2d, MaxPool2d, AvgPool2d, ReLU, Tanh, Sigmoid,
// Dropout, Flatten, and WindowFeatures (image columns to per-window vectors).
//
// Each layer is a thin Module around the differentiable ops of autodiff/;
// the math and its backward live there (conv and pooling in
// autodiff/ops_conv.cpp). Parameter layouts match the common convention, so
// checkpoints exchange weights with other tools directly: Linear.weight is
// [out, in] and Conv2d.weight is [C_out, C_in, KH, KW].
//
// Default initialization: weights Kaiming-uniform with the ReLU gain, biases
// zero. Call the initializers in nn/init.h to change it.
#pragma once

#include <cstdint>

#include "autodiff/ops_conv.h"
#include "autodiff/tensor.h"
#include "nn/module.h"

namespace ember::nn {

// y = x weight^T + bias for x [..., in]; the result is [..., out].
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& generator, bool bias = true);
  Tensor forward(const Tensor& x) override;

  Tensor weight;  // [out, in]
  Tensor bias;    // [out], undefined without bias

 private:
  int64_t in_features_;
};

// 2-D convolution of x [B, C_in, H, W]; see conv2d in autodiff/ops_conv.h.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel, Generator& generator,
         const Conv2dOptions& options = {}, bool bias = true);
  Tensor forward(const Tensor& x) override;

  Tensor weight;  // [C_out, C_in, KH, KW]
  Tensor bias;    // [C_out], undefined without bias

 private:
  Conv2dOptions options_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& options) : options_(options) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, options_); }

 private:
  Pool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& options) : options_(options) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, options_); }

 private:
  Pool2dOptions options_;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// Inverted dropout: in training mode each element is zeroed with probability
// p and the survivors are scaled by 1 / (1 - p), so evaluation mode is the
// identity. The mask comes from the layer's own seeded generator.
class Dropout : public Module {
 public:
  Dropout(float p, uint64_t seed);
  Tensor forward(const Tensor& x) override;

 private:
  float p_;
  Generator generator_;
};

// Merges dimensions start_dim .. end into one: [B, C, H, W] -> [B, C H W]
// with the default start_dim = 1.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1) : start_dim_(start_dim) {}
  Tensor forward(const Tensor& x) override;

 private:
  int64_t start_dim_;
};

// Turns the columns of a feature map into one feature vector per window:
// [B, C, H, L] -> [B, L, C H]. Column l of every channel and row becomes the
// features of window l, the layout a sliding-window recognizer's linear
// layers and its [B, L, C] energies need.
class WindowFeatures : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

}  // namespace ember::nn
