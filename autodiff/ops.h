// Differentiable operations on tensors.
//
// Every op computes its result and, when an input requires grad and the tape
// is recording, records one node whose backward function sits right below the
// forward code in the same function. Backward functions accumulate into
// gradients (+=) and never assign.
//
// Elementwise binary ops broadcast like NumPy: shapes are aligned from the
// right, and each pair of sizes must match or one of them must be 1. The
// gradient of a broadcast input is summed back to that input's own shape.
//
// Where the ops live:
//   ops_elementwise.cpp  unary and binary elementwise ops, where, clamp
//   ops_reduce.cpp       sum, mean, max, min, argmax, argmin, logsumexp,
//                        softmax, log_softmax
//   ops_matmul.cpp       matmul (2-D and batched)
//   ops_shape.cpp        reshape, permute, transpose, narrow, concat, stack,
//                        pad, gather, index_select, one_hot
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "autodiff/tensor.h"

namespace ember {

// ------------------------------------------------------------ elementwise

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// a^b elementwise; the gradient with respect to b uses log(a), so b's
// gradient is only meaningful where a > 0.
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, float exponent);
// Elementwise maximum and minimum. At ties each input gets half the gradient.
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
// log(x); log(0) = -inf and log of a negative number is NaN, as in std::log.
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
// |x|; the gradient at 0 is 0.
Tensor abs(const Tensor& x);
// max(x, 0); the gradient at 0 is 0.
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// log(1 + exp(x)), computed without overflow for large x.
Tensor softplus(const Tensor& x);
// min(max(x, low), high); the gradient is 1 where low <= x <= high, else 0.
Tensor clamp(const Tensor& x, float low, float high);
// Elementwise choice: mask != 0 picks a, else b. All three broadcast; mask
// receives no gradient.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, float b);
Tensor operator-(const Tensor& a, float b);
Tensor operator*(const Tensor& a, float b);
Tensor operator/(const Tensor& a, float b);
Tensor operator+(float a, const Tensor& b);
Tensor operator-(float a, const Tensor& b);
Tensor operator*(float a, const Tensor& b);
Tensor operator/(float a, const Tensor& b);

// The shape two operands broadcast to; throws naming op if they cannot.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// ------------------------------------------------------------ reductions
//
// With dim = std::nullopt a reduction runs over all elements. keepdim keeps
// the reduced dimension with size 1. Over an empty axis, sum gives 0 and
// logsumexp gives -inf (their identities); mean, max, min, argmax and argmin
// throw, because they have no identity.
//
// max and min send the whole gradient to the FIRST position holding the
// extreme value, the same position argmax and argmin return.

Tensor sum(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor mean(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor max(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor min(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
// Indices as floats (exact below 2^24); not differentiable.
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
// log(sum(exp(x))), stable for large x. A slice that is all -inf gives -inf
// with a zero gradient.
Tensor logsumexp(const Tensor& x, std::optional<int64_t> dim = std::nullopt,
                 bool keepdim = false);
// exp(x_i) / sum_j exp(x_j) along dim; softmin(x) is softmax(-x).
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);

// ------------------------------------------------------------ matmul

// [M, K] x [K, N] -> [M, N]; batched: [..., M, K] x [..., K, N] with equal
// batch dimensions, or a 2-D right operand shared by every batch element.
Tensor matmul(const Tensor& a, const Tensor& b);

// ------------------------------------------------------------ shape

// A view with a new shape and the same elements; one size may be -1.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0);
// Reorders dimensions: result dim i is input dim order[i]. Copies.
Tensor permute(const Tensor& x, const std::vector<int64_t>& order);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
// Elements start .. start+length-1 along dim. Along dim 0 the result is a
// view; along other dims it is a copy.
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);
// Pads with a constant. padding[d] = {before, after} for each dimension d,
// starting from dimension 0; fewer entries leave the remaining dims unpadded.
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& padding,
           float value = 0.0f);
// result[i][j][k] = x[i][index[i][j][k]][k] for dim = 1, and likewise for
// other dims; index holds integers stored as floats and has the result's shape.
// Every dim other than dim must have index's size no larger than x's.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// The slices of x at the given positions along dim, in that order.
Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& indices);
// [N] integer labels -> [N, num_classes] rows of 0 and 1.
Tensor one_hot(const std::vector<int64_t>& labels, int64_t num_classes);

}  // namespace ember
