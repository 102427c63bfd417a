// Tensor handles, factories, the seeded generator and the fmt formatter.
// The ops that compute new tensors live in ops_*.cpp; the tape in tape.cpp.
#include "autodiff/tensor.h"

#include <cmath>
#include <numbers>
#include <optional>
#include <stdexcept>

#include "autodiff/tape.h"

namespace ember {

int64_t shape_numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t size : shape) {
    count *= size;
  }
  return count;
}

std::string shape_to_string(const Shape& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d) {
    strides[d] = strides[d + 1] * shape[d + 1];
  }
  return strides;
}

int64_t normalize_dim(int64_t d, int64_t ndim, const char* op) {
  const int64_t normalized = d < 0 ? d + ndim : d;
  if (normalized < 0 || normalized >= ndim) {
    throw std::invalid_argument(
        fmt::format("{}: dimension {} is out of range for a tensor with {} dimensions "
                    "(expected {} to {})",
                    op, d, ndim, -ndim, ndim - 1));
  }
  return normalized;
}

// ---------------------------------------------------------------- Generator

float Generator::uniform(float low, float high) {
  // The top 24 bits give every float in [0, 1) with a step of 2^-24.
  const float unit = static_cast<float>(engine_() >> 40) * 0x1.0p-24f;
  return low + (high - low) * unit;
}

float Generator::normal(float mean, float std) {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return mean + std * static_cast<float>(spare_normal_);
  }

  // Box-Muller: two uniforms give two independent standard normals.
  // u1 is in (0, 1] so log(u1) is finite.
  const double u1 = (static_cast<double>(engine_() >> 11) + 1.0) * 0x1.0p-53;
  const double u2 = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return mean + std * static_cast<float>(radius * std::cos(angle));
}

int64_t Generator::randint(int64_t n) {
  if (n <= 0) {
    throw std::invalid_argument(fmt::format("Generator::randint: n is {}; expected n > 0", n));
  }
  // Modulo bias is below 2^-40 for any n < 2^24 and irrelevant here.
  return static_cast<int64_t>(engine_() % static_cast<uint64_t>(n));
}

// ---------------------------------------------------------------- Tensor

namespace {

// A fresh tensor of the given shape, every element set to fill, or left
// unset when fill is empty.
Tensor make_tensor(const Shape& shape, std::optional<float> fill) {
  for (int64_t size : shape) {
    if (size < 0) {
      throw std::invalid_argument(
          fmt::format("tensor: shape {} has a negative size", shape_to_string(shape)));
    }
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>();
  const auto count = static_cast<size_t>(shape_numel(shape));
  if (fill.has_value()) {
    impl->storage->values.assign(count, *fill);
  } else {
    impl->storage->values.resize(count);
  }
  impl->shape = shape;
  return Tensor(std::move(impl));
}

const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl, const char* what) {
  if (!impl) {
    throw std::logic_error(fmt::format("Tensor::{}: the tensor is undefined", what));
  }
  return *impl;
}

int64_t flat_index(const Tensor& t, std::initializer_list<int64_t> index, const char* op) {
  if (static_cast<int64_t>(index.size()) != t.dim()) {
    throw std::out_of_range(fmt::format("Tensor::{}: {} indices given for a tensor of shape {}",
                                        op, index.size(), shape_to_string(t.shape())));
  }
  int64_t flat = 0;
  int64_t d = 0;
  for (int64_t i : index) {
    const int64_t size = t.shape()[d];
    if (i < 0 || i >= size) {
      throw std::out_of_range(fmt::format("Tensor::{}: index {} is out of range for dimension "
                                          "{} of size {} (shape {})",
                                          op, i, d, size, shape_to_string(t.shape())));
    }
    flat = flat * size + i;
    ++d;
  }
  return flat;
}

}  // namespace

const Shape& Tensor::shape() const { return checked(impl_, "shape").shape; }

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "Tensor::size")]; }

const float* Tensor::data() const {
  const TensorImpl& impl = checked(impl_, "data");
  return impl.storage->values.data() + impl.offset;
}

float* Tensor::mutable_data() {
  checked(impl_, "mutable_data");
  ++impl_->storage->version;
  return impl_->storage->values.data() + impl_->offset;
}

float Tensor::item() const {
  if (numel() != 1) {
    throw std::invalid_argument(fmt::format(
        "Tensor::item: tensor of shape {} has {} elements; expected exactly 1",
        shape_to_string(shape()), numel()));
  }
  return data()[0];
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  return data()[flat_index(*this, index, "at")];
}

void Tensor::set(std::initializer_list<int64_t> index, float value) {
  const int64_t flat = flat_index(*this, index, "set");
  mutable_data()[flat] = value;
}

std::vector<float> Tensor::to_vector() const { return {data(), data() + numel()}; }

bool Tensor::requires_grad() const { return checked(impl_, "requires_grad").requires_grad; }

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  checked(impl_, "set_requires_grad");
  if (!is_leaf()) {
    throw std::logic_error(
        "Tensor::set_requires_grad: only leaf tensors can change requires_grad; "
        "use detach() to get a leaf copy of an op's result");
  }
  impl_->requires_grad = requires_grad;
  return *this;
}

Tensor& Tensor::retain_grad() {
  checked(impl_, "retain_grad");
  impl_->retains_grad = true;
  return *this;
}

bool Tensor::is_leaf() const {
  const TensorImpl& impl = checked(impl_, "is_leaf");
  return impl.node < 0;
}

Tensor Tensor::grad() const {
  const TensorImpl& impl = checked(impl_, "grad");
  return impl.grad ? Tensor(impl.grad) : Tensor();
}

void Tensor::zero_grad() {
  checked(impl_, "zero_grad");
  impl_->grad.reset();
}

Tensor Tensor::detach() const {
  const TensorImpl& impl = checked(impl_, "detach");
  auto view = std::make_shared<TensorImpl>();
  view->storage = impl.storage;
  view->offset = impl.offset;
  view->shape = impl.shape;
  return Tensor(std::move(view));
}

Tensor Tensor::clone() const {
  Tensor copy = make_tensor(shape(), std::nullopt);
  std::copy(data(), data() + numel(), copy.mutable_data());
  return copy;
}

void Tensor::backward(bool retain_tape) const {
  if (numel() != 1) {
    throw std::invalid_argument(fmt::format(
        "backward: the tensor has shape {}, not a scalar; pass an upstream gradient of that "
        "shape, as in t.backward(upstream)",
        shape_to_string(shape())));
  }
  Tape::current().backward(*this, ones(shape()), retain_tape);
}

void Tensor::backward(const Tensor& upstream, bool retain_tape) const {
  if (upstream.shape() != shape()) {
    throw std::invalid_argument(
        fmt::format("backward: upstream gradient has shape {} but the tensor has shape {}",
                    shape_to_string(upstream.shape()), shape_to_string(shape())));
  }
  Tape::current().backward(*this, upstream, retain_tape);
}

// ---------------------------------------------------------------- factories

Tensor zeros(const Shape& shape) { return make_tensor(shape, 0.0f); }
Tensor empty(const Shape& shape) { return make_tensor(shape, std::nullopt); }
Tensor ones(const Shape& shape) { return make_tensor(shape, 1.0f); }
Tensor full(const Shape& shape, float value) { return make_tensor(shape, value); }
Tensor scalar(float value) { return make_tensor({}, value); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape()); }

Tensor arange(int64_t n) { return arange(0.0f, static_cast<float>(n), 1.0f); }

Tensor arange(float start, float stop, float step) {
  if (step == 0.0f || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    throw std::invalid_argument(fmt::format(
        "arange: start {}, stop {}, step {}; expected finite values and a non-zero step", start,
        stop, step));
  }
  const double count = std::ceil((static_cast<double>(stop) - start) / step);
  Tensor t = zeros({std::max<int64_t>(0, static_cast<int64_t>(count))});
  float* values = t.mutable_data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    values[i] = start + static_cast<float>(i) * step;
  }
  return t;
}

Tensor from_vector(const std::vector<float>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape)) {
    throw std::invalid_argument(fmt::format(
        "from_vector: {} values given for shape {}, which has {} elements", values.size(),
        shape_to_string(shape), shape_numel(shape)));
  }
  Tensor t = make_tensor(shape, std::nullopt);
  std::copy(values.begin(), values.end(), t.mutable_data());
  return t;
}

Tensor uniform(const Shape& shape, float low, float high, Generator& generator) {
  if (!(low <= high)) {
    throw std::invalid_argument(fmt::format("uniform: low {} > high {}", low, high));
  }
  Tensor t = make_tensor(shape, std::nullopt);
  float* values = t.mutable_data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    values[i] = generator.uniform(low, high);
  }
  return t;
}

Tensor normal(const Shape& shape, float mean, float std, Generator& generator) {
  if (!(std >= 0.0f)) {
    throw std::invalid_argument(fmt::format("normal: std is {}; expected std >= 0", std));
  }
  Tensor t = make_tensor(shape, std::nullopt);
  float* values = t.mutable_data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    values[i] = generator.normal(mean, std);
  }
  return t;
}

}  // namespace ember

// ---------------------------------------------------------------- printing

namespace {

// Rows longer than this print their first and last few elements only.
constexpr int64_t kPrintEdgeItems = 3;
constexpr int64_t kPrintMaxRow = 2 * kPrintEdgeItems + 1;

void format_block(fmt::memory_buffer& out, const float* values, const ember::Shape& shape,
                  size_t d, int64_t stride) {
  if (d == shape.size()) {
    fmt::format_to(std::back_inserter(out), "{:.5g}", *values);
    return;
  }
  const int64_t size = shape[d];
  const int64_t inner = stride / std::max<int64_t>(size, 1);
  out.push_back('[');
  for (int64_t i = 0; i < size; ++i) {
    if (size > kPrintMaxRow && i == kPrintEdgeItems) {
      fmt::format_to(std::back_inserter(out), "..., ");
      i = size - kPrintEdgeItems;
    }
    format_block(out, values + i * inner, shape, d + 1, inner);
    if (i + 1 < size) {
      fmt::format_to(std::back_inserter(out), ", ");
    }
  }
  out.push_back(']');
}

}  // namespace

fmt::format_context::iterator fmt::formatter<ember::Tensor>::format(
    const ember::Tensor& tensor, fmt::format_context& context) const {
  if (!tensor.defined()) {
    return fmt::format_to(context.out(), "tensor(undefined)");
  }
  fmt::memory_buffer body;
  format_block(body, tensor.data(), tensor.shape(), 0, tensor.numel());
  return fmt::format_to(context.out(), "tensor({}, shape={}{})", fmt::to_string(body),
                        ember::shape_to_string(tensor.shape()),
                        tensor.requires_grad() ? ", requires_grad" : "");
}
