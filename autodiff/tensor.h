// Tensor: a float32 n-dimensional array that can record its history on the
// tape, so reverse-mode autodiff can compute gradients with respect to it.
//
// Storage is always contiguous and row-major. Several tensors may share one
// storage (views made by reshape, narrow along dim 0, or detach); a storage
// carries a version counter that every write through mutable_data() bumps,
// so the tape can tell when a value that backward needs was changed in place.
//
// Left out on purpose: strided (non-contiguous) views, dtypes other than
// float32, and devices. transpose and permute therefore copy.
//
// Shapes are written [B, L, C] in comments and error messages.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autodiff/buffer_pool.h"

namespace ember {

using Shape = std::vector<int64_t>;

// Returns the number of elements of a shape (1 for the scalar shape []).
int64_t shape_numel(const Shape& shape);

// Formats a shape as "[2, 3]".
std::string shape_to_string(const Shape& shape);

// A seeded random number generator. Factories take one explicitly, so every
// random tensor in Ember can be reproduced from its seed. Uniform and normal
// samples are computed here from the raw 64-bit engine output, because the
// standard library's distributions differ between implementations.
class Generator {
 public:
  explicit Generator(uint64_t seed) : engine_(seed) {}

  // Returns a raw 64-bit sample.
  uint64_t next_u64() { return engine_(); }
  // Returns a sample of U[low, high).
  float uniform(float low, float high);
  // Returns a sample of N(mean, std^2) by the Box-Muller transform.
  float normal(float mean, float std);
  // Returns an integer in [0, n).
  int64_t randint(int64_t n);

 private:
  std::mt19937_64 engine_;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

// Memory shared by a tensor and its views.
struct Storage {
  // Allocated through the buffer pool (autodiff/buffer_pool.h).
  std::vector<float, PoolAllocator<float>> values;
  // Bumped by every write through Tensor::mutable_data().
  uint64_t version = 0;
};

// The state behind a Tensor handle. Tensors are cheap handles (a shared
// pointer), so copying a Tensor aliases the same data and gradient.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // index of element 0 in storage->values
  Shape shape;
  bool requires_grad = false;
  // Keeps this tensor's gradient after backward even if it is not a leaf.
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;
  // Position of the node that produced this tensor on its thread's tape, and
  // the tape's epoch at that time; node == -1 marks a leaf.
  int64_t node = -1;
  uint64_t tape_epoch = 0;
};

class Tensor {
 public:
  // An undefined tensor, the value of a missing gradient.
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  // Size of dimension d; negative d counts from the end.
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_numel(shape()); }

  // Read-only pointer to the first element.
  const float* data() const;
  // Writable pointer to the first element. Bumps the storage's version, so a
  // recorded op that saved this tensor will refuse to run backward.
  float* mutable_data();

  // The value of a one-element tensor.
  float item() const;
  // The element at a multi-index, e.g. t.at({1, 2}); checked in every build.
  float at(std::initializer_list<int64_t> index) const;
  // Writes the element at a multi-index (bumps the version like mutable_data).
  void set(std::initializer_list<int64_t> index, float value);
  std::vector<float> to_vector() const;

  bool requires_grad() const;
  // Marks a leaf tensor as a parameter whose gradient backward accumulates.
  Tensor& set_requires_grad(bool requires_grad);
  // Keeps this intermediate tensor's gradient after backward, for inspection.
  Tensor& retain_grad();
  // True for tensors not produced by a recorded op.
  bool is_leaf() const;

  // The accumulated gradient, or an undefined tensor before any backward.
  Tensor grad() const;
  // Drops the gradient, so the next backward starts from zero.
  void zero_grad();

  // A tensor sharing this one's storage, outside the tape: no grad, no history.
  Tensor detach() const;
  // A deep copy with no history.
  Tensor clone() const;

  // Reverse-mode differentiation from this scalar tensor; see Tape::backward.
  void backward(bool retain_tape = false) const;
  // Reverse-mode differentiation with an explicit upstream gradient of this
  // tensor's shape, for non-scalar outputs.
  void backward(const Tensor& upstream, bool retain_tape = false) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Factories. Each makes a fresh leaf tensor with requires_grad = false.
Tensor zeros(const Shape& shape);
// A tensor whose elements are not set, for ops that write every element
// before anything reads it; reading one first is a bug.
Tensor empty(const Shape& shape);
Tensor ones(const Shape& shape);
Tensor full(const Shape& shape, float value);
Tensor scalar(float value);  // shape []
// [0, 1, ..., n-1] as floats, shape [n]; start, stop, step like Python's range.
Tensor arange(int64_t n);
Tensor arange(float start, float stop, float step);
Tensor from_vector(const std::vector<float>& values, const Shape& shape);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor uniform(const Shape& shape, float low, float high, Generator& generator);
Tensor normal(const Shape& shape, float mean, float std, Generator& generator);

// Row-major strides of a contiguous shape, in elements.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// Normalises a possibly negative dimension index; throws naming op if out of range.
int64_t normalize_dim(int64_t d, int64_t ndim, const char* op);

}  // namespace ember

// Prints a tensor as "tensor([[1, 2], [3, 4]], shape=[2, 2])"; large tensors
// show their first and last elements of each row with "..." between.
template <>
struct fmt::formatter<ember::Tensor> {
  constexpr auto parse(fmt::format_parse_context& context) { return context.begin(); }
  fmt::format_context::iterator format(const ember::Tensor& tensor,
                                       fmt::format_context& context) const;
};
