// Exercise `matmul`: the backward pass of matmul.
//
// The forward pass and its shape checks are written below; write the
// backward. For one batch element, with a [M, K], b [K, N] and y = a b [M, N]:
//
//   grad_a [M, K] += grad_y [M, N] b^T [N, K]
//   grad_b [K, N] += a^T [K, M] grad_y [M, N]
//
// Contract:
// - Batched inputs a [..., M, K] with b [..., K, N] run one product per batch
//   element. A 2-D b is shared by every element, so its gradient is the sum
//   over the batch (b_step is 0 then).
// - grad_buffer(x) is nullptr when x does not require a gradient: skip it.
// - Accumulate (+=), never assign: a tensor used twice, as in matmul(a, a),
//   must collect both gradients.
// - Call kernels::gemm (autodiff/kernels/gemm.h) rather than writing loops:
//   gemm(Transpose, Transpose, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
//   computes C = alpha op(A) op(B) + beta C, where op(X) is X or X^T and lda,
//   ldb, ldc are the row strides of A, B and C as stored. beta = 1 adds into C.
//
// Where it runs: every Linear layer (nn/layers.cpp) of every ember command.
// Tests: [matmul], including gradient checks.
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
  Tensor y = zeros(out_shape);

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
    Tape::current().record("matmul", {a, b}, y, [a, b, M, N, K, batch, b_step](
                                                      [[maybe_unused]] const Tensor& grad_y) {
      throw std::logic_error("exercise matmul: the backward of matmul is not written yet");
    });
  }
  return y;
}

}  // namespace ember
