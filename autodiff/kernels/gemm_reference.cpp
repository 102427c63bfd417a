// The scalar reference GEMM: three loops and a double accumulator, written to
// be read, not to be fast. It is the specification the SIMD GEMM must match.
#include "autodiff/kernels/gemm.h"

namespace ember::kernels {

void gemm_reference(Transpose transpose_a, Transpose transpose_b, int64_t M, int64_t N,
                    int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                    int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double dot = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const float a = transpose_a == Transpose::Yes ? A[k * lda + i] : A[i * lda + k];
        const float b = transpose_b == Transpose::Yes ? B[j * ldb + k] : B[k * ldb + j];
        dot += static_cast<double>(a) * b;
      }

      // beta = 0 must not read C, so uninitialised or NaN output buffers are fine.
      const double previous = beta == 0.0f ? 0.0 : static_cast<double>(beta) * C[i * ldc + j];
      C[i * ldc + j] = static_cast<float>(alpha * dot + previous);
    }
  }
}

}  // namespace ember::kernels
