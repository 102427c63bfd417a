// General matrix multiply on raw row-major float32 buffers.
//
// This is the kernel behind matmul, Linear and convolution. It takes
// transposed operands by flag, so backward passes never materialise A^T or B^T.
#pragma once

#include <cstdint>

#include "autodiff/kernels/dispatch.h"

namespace ember::kernels {

enum class Transpose : bool { No = false, Yes = true };

// Computes C = alpha * op(A) * op(B) + beta * C, where op(X) is X or X^T.
// op(A) is [M, K], op(B) is [K, N] and C is [M, N]; lda, ldb and ldc are the
// row strides of the stored (untransposed) A, B and C. beta = 1 accumulates
// into C, and beta = 0 overwrites C without reading it (so C may hold NaN).
// With alpha = 0 or K = 0, gemm only scales C by beta and does not read A or
// B, as BLAS does; gemm_reference still multiplies, so NaN there differs.
void gemm(Transpose transpose_a, Transpose transpose_b, int64_t M, int64_t N, int64_t K,
          float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
          float* C, int64_t ldc);

// gemm with the micro-kernel of a given variant instead of the active one,
// so tests and benchmarks can compare variants in one process. Throws
// std::invalid_argument if the variant is not supported.
void gemm_variant(Isa isa, Transpose transpose_a, Transpose transpose_b, int64_t M, int64_t N,
                  int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float beta, float* C, int64_t ldc);

// gemm where stored row r of B starts at B + b_row_offsets[r] instead of
// B + r ldb: row r of op(B) = B, or column r of op(B) = B^T. A stride-1
// convolution passes the offsets of its kernel elements in a padded image,
// so the GEMM packs its columns straight from the image, without im2col.
// isa picks the variant, as in gemm_variant; pass active_isa() for the
// active one.
void gemm_offset_rows(Isa isa, Transpose transpose_a, Transpose transpose_b, int64_t M,
                      int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                      const float* B, const int64_t* b_row_offsets, float beta, float* C,
                      int64_t ldc);

// The scalar reference that defines gemm's result; every faster variant is
// tested against it.
void gemm_reference(Transpose transpose_a, Transpose transpose_b, int64_t M, int64_t N,
                    int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                    int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace ember::kernels
