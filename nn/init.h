// Seeded weight initializers: Kaiming (He) and Xavier (Glorot), uniform and
// normal, filling a tensor in place from an explicit Generator.
//
// Fans follow the usual convention for a weight [out, in, ...]: with r the
// product of the trailing (kernel) sizes, fan_in = in r and fan_out = out r.
// A 1-D tensor has fan_in = fan_out = its length.
//
//   kaiming_uniform  U(-b, b), b = gain sqrt(3 / fan_in)
//   kaiming_normal   N(0, s^2), s = gain / sqrt(fan_in)
//   xavier_uniform   U(-b, b), b = gain sqrt(6 / (fan_in + fan_out))
//   xavier_normal    N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out))
//
// Kaiming's default gain sqrt(2) keeps activations' variance steady through
// ReLU layers; Xavier's default gain 1 suits tanh and linear layers.
#pragma once

#include <cstdint>
#include <utility>

#include "autodiff/tensor.h"

namespace ember::nn {

// {fan_in, fan_out} of a weight shape; throws for a 0-D shape.
std::pair<int64_t, int64_t> compute_fans(const Shape& shape);

inline constexpr float kReluGain = 1.41421356f;  // sqrt(2)

void kaiming_uniform(Tensor& weight, Generator& generator, float gain = kReluGain);
void kaiming_normal(Tensor& weight, Generator& generator, float gain = kReluGain);
void xavier_uniform(Tensor& weight, Generator& generator, float gain = 1.0f);
void xavier_normal(Tensor& weight, Generator& generator, float gain = 1.0f);

// Fills with U(low, high) or a constant.
void uniform_fill(Tensor& tensor, float low, float high, Generator& generator);
void constant_fill(Tensor& tensor, float value);

}  // namespace ember::nn
