// Kaiming and Xavier initializers; the formulas are listed in init.h.
#include "nn/init.h"

#include <cmath>
#include <stdexcept>

namespace ember::nn {

std::pair<int64_t, int64_t> compute_fans(const Shape& shape) {
  if (shape.empty()) {
    throw std::invalid_argument("compute_fans: a scalar [] has no fan; expected a weight shape");
  }
  if (shape.size() == 1) {
    return {shape[0], shape[0]};
  }
  int64_t receptive = 1;
  for (size_t d = 2; d < shape.size(); ++d) {
    receptive *= shape[d];
  }
  return {shape[1] * receptive, shape[0] * receptive};
}

void uniform_fill(Tensor& tensor, float low, float high, Generator& generator) {
  float* values = tensor.mutable_data();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    values[i] = generator.uniform(low, high);
  }
}

void constant_fill(Tensor& tensor, float value) {
  float* values = tensor.mutable_data();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    values[i] = value;
  }
}

namespace {

void normal_fill(Tensor& tensor, float std, Generator& generator) {
  float* values = tensor.mutable_data();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    values[i] = generator.normal(0.0f, std);
  }
}

}  // namespace

void kaiming_uniform(Tensor& weight, Generator& generator, float gain) {
  const auto [fan_in, fan_out] = compute_fans(weight.shape());
  const float bound = gain * std::sqrt(3.0f / static_cast<float>(fan_in));
  uniform_fill(weight, -bound, bound, generator);
}

void kaiming_normal(Tensor& weight, Generator& generator, float gain) {
  const auto [fan_in, fan_out] = compute_fans(weight.shape());
  normal_fill(weight, gain / std::sqrt(static_cast<float>(fan_in)), generator);
}

void xavier_uniform(Tensor& weight, Generator& generator, float gain) {
  const auto [fan_in, fan_out] = compute_fans(weight.shape());
  const float bound = gain * std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
  uniform_fill(weight, -bound, bound, generator);
}

void xavier_normal(Tensor& weight, Generator& generator, float gain) {
  const auto [fan_in, fan_out] = compute_fans(weight.shape());
  normal_fill(weight, gain * std::sqrt(2.0f / static_cast<float>(fan_in + fan_out)), generator);
}

}  // namespace ember::nn
