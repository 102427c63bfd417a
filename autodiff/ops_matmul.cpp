// matmul: 2-D and batched matrix products, on top of kernels::gemm.
// Exercise `matmul` replaces this file: see docs/exercises.md.
//
// Shapes: a is [..., M, K] and b is [..., K, N] (or [K, N] shared by every
// batch element); the result is [..., M, N].
#include <stdexcept>

#include "autodiff/kernels/gemm.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"

namespace ember {

using kernels::Transpose;

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (a.dim() < 2 || b.dim() < 2) {
    throw std::invalid_argument(fmt::format(
        "matmul: lhs {} and rhs {} must both have at least 2 dimensions; reshape a vector "
        "to [1, K] or [K, 1]",
        shape_to_string(a.shape()), shape_to_string(b.shape())));
  }
  const int64_t M = a.size(-2);
  const int64_t K = a.size(-1);
  const int64_t N = b.size(-1);
  if (b.size(-2) != K) {
    throw std::invalid_argument(fmt::format(
        "matmul: lhs {} and rhs {} have inner sizes {} and {}; they must match",
        shape_to_string(a.shape()), shape_to_string(b.shape()), K, b.size(-2)));
  }
  const Shape batch_shape(a.shape().begin(), a.shape().end() - 2);
  const bool shared_b = b.dim() == 2;
  if (!shared_b && Shape(b.shape().begin(), b.shape().end() - 2) != batch_shape) {
    throw std::invalid_argument(fmt::format(
        "matmul: lhs {} and rhs {} have different batch dimensions; batched matmul needs "
        "equal batch dimensions or a 2-D rhs",
        shape_to_string(a.shape()), shape_to_string(b.shape())));
  }
  const int64_t batch = shape_numel(batch_shape);

  Shape out_shape = batch_shape;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor y = empty(out_shape);  // every element is written by a GEMM with beta = 0

  // One GEMM per batch element; a shared 2-D b is the same pointer each time.
  const int64_t b_step = shared_b ? 0 : K * N;
  const float* as = a.data();
  const float* bs = b.data();
  float* ys = y.mutable_data();
  for (int64_t i = 0; i < batch; ++i) {
    kernels::gemm(Transpose::No, Transpose::No, M, N, K, 1.0f, as + i * M * K, K,
                  bs + i * b_step, N, 0.0f, ys + i * M * N, N);
  }

  if (needs_grad({&a, &b})) {
    Tape::current().record("matmul", {a, b}, y, [a, b, M, N, K, batch, b_step](const Tensor& grad_y) {
      // y = a b, so grad_a [M, K] = grad_y [M, N] b^T [N, K]
      //          and grad_b [K, N] = a^T [K, M] grad_y [M, N].
      // beta = 1 accumulates straight into the gradient buffers; a shared b
      // sums its gradient over the batch the same way.
      float* grad_a = grad_buffer(a);
      float* grad_b = grad_buffer(b);
      const float* g = grad_y.data();
      const float* as = a.data();
      const float* bs = b.data();
      for (int64_t i = 0; i < batch; ++i) {
        if (grad_a != nullptr) {
          kernels::gemm(Transpose::No, Transpose::Yes, M, K, N, 1.0f, g + i * M * N, N,
                        bs + i * b_step, N, 1.0f, grad_a + i * M * K, K);
        }
        if (grad_b != nullptr) {
          kernels::gemm(Transpose::Yes, Transpose::No, K, N, M, 1.0f, as + i * M * K, K,
                        g + i * M * N, N, 1.0f, grad_b + i * b_step, N);
        }
      }
    });
  }
  return y;
}

}  // namespace ember
