// Tests of gemm: every variant's blocked GEMM against gemm_reference at odd
// shapes, all four transpose combinations, beta 0 and 1, padded row strides,
// plus hand-computed products and argument errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "autodiff/kernels/gemm.h"
#include "kernel_test_util.h"

using namespace ember::kernels;
using namespace ember::kernels::testing;

namespace {

struct Shape {
  int64_t M;
  int64_t N;
  int64_t K;
};

// Odd sizes, tall-skinny and short-wide shapes, and shapes that cross the k
// blocks (256 and 512), the n block (about 256) and the m block (about
// 3072). M mod 12 takes every value from 0 to 11, so there are edge tiles of
// every height below the 12 and 4 rows of the SIMD tiles. The SIMD variants
// read an A that is not transposed in place when M K <= 16384 and pack it
// otherwise, so shapes lie on both sides, and {9, 40, 1300} reads it in
// place across three k blocks.
const Shape kShapes[] = {{1, 1, 1},     {7, 13, 5},    {1, 300, 1},   {300, 1, 7},
                         {1000, 3, 17}, {3, 1000, 17}, {37, 53, 300}, {129, 600, 70},
                         {250, 20, 10}, {33, 65, 513}, {8, 70, 9},    {11, 45, 12},
                         {3100, 7, 3},  {14, 40, 20},  {17, 97, 33},  {54, 1100, 31},
                         {9, 40, 1300}};

std::vector<Isa> all_isas() {
  std::vector<Isa> isas = {Isa::scalar};
  for (Isa isa : simd_isas()) {
    isas.push_back(isa);
  }
  return isas;
}

// Runs one product with every variant and compares with gemm_reference.
// The tolerance is the usual float dot-product bound, (K + 2) * 2^-24 times
// the sum of |a| |b| (and |beta c|), plus 2^-24 times that sum for the
// reference's own rounding to float. Without that term, K = 1 with alpha = 3
// failed by under one ulp although gemm was within (K + 2) of the exact sum.
void check_against_reference(Isa isa, Transpose ta, Transpose tb, const Shape& s, float alpha,
                             float beta, int64_t b_padding = 3) {
  const bool a_t = ta == Transpose::Yes;
  const bool b_t = tb == Transpose::Yes;
  // Stored shapes, with 3 floats of padding per row to test strides (B's
  // padding can be set).
  const int64_t a_rows = a_t ? s.K : s.M;
  const int64_t lda = (a_t ? s.M : s.K) + 3;
  const int64_t b_rows = b_t ? s.N : s.K;
  const int64_t ldb = (b_t ? s.K : s.N) + b_padding;
  const int64_t ldc = s.N + 3;

  const Buffer A = random_buffer(a_rows * lda, 21, -1.0f, 1.0f);
  const Buffer B = random_buffer(b_rows * ldb, 22, -1.0f, 1.0f);
  const Buffer C0 = random_buffer(s.M * ldc, 23, -1.0f, 1.0f);
  Buffer got(s.M * ldc);
  Buffer want = C0;
  if (beta == 0.0f) {
    // beta = 0 must not read C, so NaN there must not leak into the result.
    for (int64_t i = 0; i < s.M * ldc; ++i) {
      got[i] = std::numeric_limits<float>::quiet_NaN();
    }
  } else {
    got = C0;
  }

  gemm_variant(isa, ta, tb, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, got.data(),
               ldc);
  gemm_reference(ta, tb, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, want.data(),
                 ldc);

  Buffer abs_a = A;
  Buffer abs_b = B;
  Buffer bound = C0;
  for (int64_t i = 0; i < A.size(); ++i) abs_a[i] = std::fabs(A[i]);
  for (int64_t i = 0; i < B.size(); ++i) abs_b[i] = std::fabs(B[i]);
  for (int64_t i = 0; i < bound.size(); ++i) bound[i] = std::fabs(bound[i]);
  gemm_reference(ta, tb, s.M, s.N, s.K, std::fabs(alpha), abs_a.data(), lda, abs_b.data(), ldb,
                 std::fabs(beta), bound.data(), ldc);

  int64_t failures = 0;
  for (int64_t i = 0; i < s.M; ++i) {
    for (int64_t j = 0; j < s.N; ++j) {
      const float tolerance = static_cast<float>(s.K + 3) * 6.0e-8f * bound[i * ldc + j] + 1e-30f;
      const float error = std::fabs(got[i * ldc + j] - want[i * ldc + j]);
      if (!(error <= tolerance) && failures++ == 0) {
        INFO(isa_name(isa) << " ta=" << a_t << " tb=" << b_t << " [" << s.M << ", " << s.N
                           << ", " << s.K << "] alpha=" << alpha << " beta=" << beta << " at ("
                           << i << ", " << j << "): got " << got[i * ldc + j] << ", expected "
                           << want[i * ldc + j]);
        CHECK(error <= tolerance);
      }
    }
  }
  CHECK(failures == 0);
}

}  // namespace

TEST_CASE("gemm variants match reference", "[kernels][gemm]") {
  for (Isa isa : all_isas()) {
    for (const Shape& shape : kShapes) {
      for (Transpose ta : {Transpose::No, Transpose::Yes}) {
        for (Transpose tb : {Transpose::No, Transpose::Yes}) {
          check_against_reference(isa, ta, tb, shape, 1.0f, 0.0f);
          check_against_reference(isa, ta, tb, shape, 1.0f, 1.0f);
        }
      }
    }
  }
}

TEST_CASE("gemm scales by alpha and beta", "[kernels][gemm]") {
  for (Isa isa : all_isas()) {
    check_against_reference(isa, Transpose::No, Transpose::Yes, {19, 41, 23}, -0.5f, 2.0f);
    check_against_reference(isa, Transpose::Yes, Transpose::No, {19, 41, 23}, 3.0f, 0.0f);
  }
}

TEST_CASE("gemm 2x2 by hand", "[kernels][gemm]") {
  const float A[4] = {1, 2, 3, 4};  // [[1, 2], [3, 4]]
  const float B[4] = {5, 6, 7, 8};  // [[5, 6], [7, 8]]

  SECTION("A B overwrites NaN") {
    float C[4] = {NAN, NAN, NAN, NAN};
    gemm(Transpose::No, Transpose::No, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    CHECK(C[0] == 19.0f);
    CHECK(C[1] == 22.0f);
    CHECK(C[2] == 43.0f);
    CHECK(C[3] == 50.0f);
  }

  SECTION("A^T B^T accumulates") {
    // A^T = [[1, 3], [2, 4]], B^T = [[5, 7], [6, 8]]: product [[23, 31], [34, 46]].
    float C[4] = {1, 1, 1, 1};
    gemm(Transpose::Yes, Transpose::Yes, 2, 2, 2, 1.0f, A, 2, B, 2, 1.0f, C, 2);
    CHECK(C[0] == 24.0f);
    CHECK(C[1] == 32.0f);
    CHECK(C[2] == 35.0f);
    CHECK(C[3] == 47.0f);
  }

  SECTION("K = 0 scales C by beta") {
    float C[4] = {1, 2, 3, 4};
    gemm(Transpose::No, Transpose::No, 2, 2, 0, 1.0f, A, 1, B, 2, 2.0f, C, 2);
    CHECK(C[0] == 2.0f);
    CHECK(C[3] == 8.0f);
  }
}

TEST_CASE("gemm rejects bad arguments", "[kernels][gemm]") {
  const float A[4] = {};
  const float B[4] = {};
  float C[4] = {};
  CHECK_THROWS_WITH(gemm(Transpose::No, Transpose::No, -1, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2),
                    Catch::Contains("M=-1"));
  CHECK_THROWS_WITH(gemm(Transpose::No, Transpose::No, 2, 2, 3, 1.0f, A, 2, B, 2, 0.0f, C, 2),
                    Catch::Contains("A is stored as [2, 3] with row stride 2"));
  CHECK_THROWS_WITH(gemm(Transpose::No, Transpose::Yes, 2, 4, 2, 1.0f, A, 2, B, 1, 0.0f, C, 4),
                    Catch::Contains("B is stored as [4, 2] with row stride 1"));
  CHECK_THROWS_WITH(gemm(Transpose::No, Transpose::No, 2, 2, 2, 1.0f, nullptr, 2, B, 2, 0.0f, C, 2),
                    Catch::Contains("null"));
}

TEST_CASE("gemm unpacked paths match reference", "[kernels][gemm]") {
  // M <= 2 or K <= 2 skip packing (one axpy per k, or one dot per element
  // when B is transposed). Every transpose, alpha other than 1, beta 0 over
  // NaN, 1 and 2.5, and K beyond one k block (256).
  const Shape shapes[] = {{1, 37, 5},  {2, 37, 5},    {2, 300, 600}, {1, 1000, 3},
                          {2, 5, 2},   {500, 17, 2},  {500, 17, 1},  {7, 2, 1},
                          {2, 1, 700}, {3, 40, 2},    {1, 1, 1},     {2, 2, 2}};
  for (Isa isa : all_isas()) {
    for (const Shape& shape : shapes) {
      for (Transpose ta : {Transpose::No, Transpose::Yes}) {
        for (Transpose tb : {Transpose::No, Transpose::Yes}) {
          for (float alpha : {1.0f, -0.5f, 3.0f}) {
            for (float beta : {0.0f, 1.0f, 2.5f}) {
              check_against_reference(isa, ta, tb, shape, alpha, beta);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("gemm reads one-panel B in place", "[kernels][gemm]") {
  // A B that is not transposed, with exactly the micro-kernel's panel width
  // of columns and no padding, is already packed and is read in place. Its
  // buffer has exactly its size, so under AddressSanitizer a read past it
  // fails. K crosses k blocks, and M covers an in-place A (9 rows) and a
  // packed one, with a partial row tile.
  for (Isa isa : simd_isas()) {
    const int64_t nr = kernel_table(isa).gemm.nr;
    for (const Shape& shape : {Shape{9, nr, 600}, Shape{29, nr, 1300}, Shape{1, nr, 3}}) {
      for (Transpose ta : {Transpose::No, Transpose::Yes}) {
        check_against_reference(isa, ta, Transpose::No, shape, 1.0f, 0.0f, 0);
        check_against_reference(isa, ta, Transpose::No, shape, -0.5f, 1.0f, 0);
      }
    }
  }
}

TEST_CASE("gemm reads an in-place A only inside its rows", "[kernels][gemm]") {
  // A small untransposed A is read in place. Here A sits in a heap block of
  // exactly its size, with lda = K, so under AddressSanitizer a load past
  // its last row fails. M leaves a partial row tile, and N partial
  // registers of 8 and 16 lanes.
  for (Isa isa : simd_isas()) {
    for (const int64_t N : {5, 13, 37}) {
      const int64_t M = 14;
      const int64_t K = 20;
      std::vector<float> A(static_cast<size_t>(M * K));
      std::vector<float> B(static_cast<size_t>(K * N));
      for (size_t i = 0; i < A.size(); ++i) {
        A[i] = static_cast<float>(static_cast<int64_t>(i % 7) - 3);
      }
      for (size_t i = 0; i < B.size(); ++i) {
        B[i] = static_cast<float>(static_cast<int64_t>(i % 5) - 2);
      }
      std::vector<float> got(static_cast<size_t>(M * N));
      std::vector<float> want(static_cast<size_t>(M * N));
      gemm_variant(isa, Transpose::No, Transpose::No, M, N, K, 1.0f, A.data(), K, B.data(), N,
                   0.0f, got.data(), N);
      gemm_reference(Transpose::No, Transpose::No, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f,
                     want.data(), N);
      INFO(isa_name(isa) << ", N = " << N);
      // Small integers: every product and sum is exact in any order.
      CHECK(got == want);
    }
  }
}

TEST_CASE("gemm unpacked paths by hand", "[kernels][gemm]") {
  // op(A) = A^T with A [3, 2] = {1, 2; 3, 4; 5, 6}, so op(A) = {1, 3, 5; 2, 4, 6}.
  const float A[6] = {1, 2, 3, 4, 5, 6};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  SECTION("B transposed: dot products") {
    // op(B) = B^T with B [1, 3] = {1, 1, 1}: C = alpha * row sums = 2 * {9, 12}.
    const float B[3] = {1, 1, 1};
    float C[2] = {nan, nan};
    gemm(Transpose::Yes, Transpose::Yes, 2, 1, 3, 2.0f, A, 2, B, 3, 0.0f, C, 1);
    CHECK(C[0] == 18.0f);
    CHECK(C[1] == 24.0f);
  }
  SECTION("B not transposed: axpy rows") {
    // B [3, 2] = {1, 0; 0, 1; 1, 1}: op(A) B = {6, 8; 8, 10}, times -1, plus 2 C.
    const float B[6] = {1, 0, 0, 1, 1, 1};
    float C[4] = {1, 1, 1, 1};
    gemm(Transpose::Yes, Transpose::No, 2, 2, 3, -1.0f, A, 2, B, 2, 2.0f, C, 2);
    CHECK(C[0] == -4.0f);
    CHECK(C[1] == -6.0f);
    CHECK(C[2] == -6.0f);
    CHECK(C[3] == -8.0f);
  }
}

TEST_CASE("transpose kernel matches reference", "[kernels][gemm]") {
  // Sizes around the 8 x 8 and 4 x 8 blocks, with padded strides on both
  // sides; the padding of out must stay untouched.
  const int64_t sizes[] = {0, 1, 3, 4, 5, 7, 8, 9, 12, 16, 17, 33};
  const KernelTable& reference = kernel_table(Isa::scalar);
  for (Isa isa : simd_isas()) {
    for (int64_t rows : sizes) {
      for (int64_t cols : sizes) {
        const int64_t ld = cols + 3;
        const int64_t ld_out = rows + 2;
        const Buffer in = random_buffer(std::max<int64_t>(rows * ld, 1), 11, -1.0f, 1.0f);
        std::vector<const float*> starts;
        for (int64_t i = 0; i < rows; ++i) {
          starts.push_back(in.data() + i * ld);
        }

        // Both outputs start as -7 everywhere, so the comparison also covers
        // the padding between rows of out.
        const int64_t out_size = std::max<int64_t>(cols * ld_out, 1);
        Buffer got(out_size);
        for (int64_t i = 0; i < out_size; ++i) {
          got[i] = -7.0f;
        }
        Buffer want = got;

        kernel_table(isa).transpose(rows, cols, starts.data(), got.data(), ld_out);
        reference.transpose(rows, cols, starts.data(), want.data(), ld_out);
        INFO(isa_name(isa) << ", " << rows << " x " << cols);
        CHECK(first_bit_difference(got, want, out_size) == -1);
      }
    }
  }

  // The reference itself, on a 2 x 3 block.
  const float block[6] = {1, 2, 3, 4, 5, 6};
  float transposed[6] = {};
  const float* block_rows[2] = {block, block + 3};
  reference.transpose(2, 3, block_rows, transposed, 2);
  CHECK(transposed[0] == 1.0f);
  CHECK(transposed[1] == 4.0f);
  CHECK(transposed[2] == 2.0f);
  CHECK(transposed[5] == 6.0f);
}

TEST_CASE("gemm with B rows at offsets matches gemm", "[kernels][gemm]") {
  // The same product with B's rows moved to offsets (reversed, with gaps)
  // must give the same bits as with B stored densely: only the addressing
  // of B's rows differs.
  for (Isa isa : all_isas()) {
    for (const Shape& s : kShapes) {
      for (Transpose ta : {Transpose::No, Transpose::Yes}) {
        for (Transpose tb : {Transpose::No, Transpose::Yes}) {
          const bool b_t = tb == Transpose::Yes;
          const int64_t b_rows = b_t ? s.N : s.K;
          const int64_t b_cols = b_t ? s.K : s.N;
          const int64_t ld = b_cols + 1;
          const int64_t lda = ta == Transpose::Yes ? s.M : s.K;
          const Buffer A = random_buffer(s.M * s.K, 31, -1.0f, 1.0f);
          const Buffer dense = random_buffer(b_rows * ld, 32, -1.0f, 1.0f);

          // Row r of B goes to offset (b_rows - 1 - r) (b_cols + 5).
          const int64_t spacing = b_cols + 5;
          Buffer moved(b_rows * spacing);
          std::vector<int64_t> offsets(static_cast<size_t>(b_rows));
          for (int64_t r = 0; r < b_rows; ++r) {
            offsets[static_cast<size_t>(r)] = (b_rows - 1 - r) * spacing;
            for (int64_t c = 0; c < b_cols; ++c) {
              moved[offsets[static_cast<size_t>(r)] + c] = dense[r * ld + c];
            }
          }

          Buffer got(s.M * s.N);
          Buffer want(s.M * s.N);
          gemm_offset_rows(isa, ta, tb, s.M, s.N, s.K, 0.5f, A.data(), lda, moved.data(),
                           offsets.data(), 0.0f, got.data(), s.N);
          gemm_variant(isa, ta, tb, s.M, s.N, s.K, 0.5f, A.data(), lda, dense.data(), ld, 0.0f,
                       want.data(), s.N);
          INFO(isa_name(isa) << " " << s.M << "x" << s.N << "x" << s.K << " ta "
                             << (ta == Transpose::Yes) << " tb " << b_t);
          CHECK(first_bit_difference(got, want, s.M * s.N) == -1);
        }
      }
    }
  }
}

TEST_CASE("gemm with B rows at offsets needs offsets", "[kernels][gemm]") {
  const float a[4] = {1, 2, 3, 4};
  float c[4] = {};
  CHECK_THROWS_WITH(gemm_offset_rows(Isa::scalar, Transpose::No, Transpose::No, 2, 2, 2, 1.0f, a,
                                     2, a, nullptr, 0.0f, c, 2),
                    Catch::Contains("row offsets of B are missing"));
  CHECK_THROWS_WITH(gemm_offset_rows(Isa::scalar, Transpose::No, Transpose::No, 2, 2, 2, 1.0f, a,
                                     2, a, nullptr, 0.0f, c, 2),
                    Catch::Contains("one offset per stored row of B (2 here)"));
}

TEST_CASE("copy_rows kernel matches reference", "[kernels][gemm]") {
  // Row widths around one and several vectors; the rest of each output row
  // up to ld_out must become zero, and rows come from scattered starts.
  const KernelTable& reference = kernel_table(Isa::scalar);
  const Buffer in = random_buffer(40 * 70, 41, -1.0f, 1.0f);
  for (Isa isa : simd_isas()) {
    for (int64_t cols : {0, 1, 7, 8, 9, 16, 24, 33, 64}) {
      const int64_t rows = 5;
      const int64_t ld_out = cols + 3;
      std::vector<const float*> starts;
      for (int64_t i = 0; i < rows; ++i) {
        starts.push_back(in.data() + (rows - i) * 70 + i);
      }
      Buffer got(rows * ld_out);
      for (int64_t i = 0; i < rows * ld_out; ++i) {
        got[i] = -7.0f;
      }
      Buffer want = got;
      kernel_table(isa).copy_rows(rows, cols, starts.data(), got.data(), ld_out);
      reference.copy_rows(rows, cols, starts.data(), want.data(), ld_out);
      INFO(isa_name(isa) << ", " << cols << " columns");
      CHECK(first_bit_difference(got, want, rows * ld_out) == -1);
      CHECK(want[ld_out - 1] == 0.0f);
    }
  }
}
