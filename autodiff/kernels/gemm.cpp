// gemm's entry point. For now it forwards to the scalar reference; the
// blocked SIMD GEMM replaces this body.
#include "autodiff/kernels/gemm.h"

namespace ember::kernels {

void gemm(Transpose transpose_a, Transpose transpose_b, int64_t M, int64_t N, int64_t K,
          float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
          float* C, int64_t ldc) {
  gemm_reference(transpose_a, transpose_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace ember::kernels
