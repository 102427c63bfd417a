// The blocked GEMM: argument checks, packing of op(A) and op(B) into
// contiguous panels, cache blocking, and the split of work across threads.
// The register-tiled micro-kernels it calls are in vector_kernels.h (SIMD)
// and reference.cpp (scalar); gemm_reference.cpp is the plain triple loop
// that defines the result.
//
// Loop order, from outside in (C is [M, N], K is the inner size):
//   pc: K in blocks of kc         (each C element sums its k blocks in order)
//   ic: M in blocks of mc         op(A) block [mc, kc] packed once, in L3
//   jc: N in blocks of nc         op(B) block [kc, nc] packed once, in L2
//   ir: rows in steps of mr       one A micro-panel [mr, kc] stays in L1
//   jr: columns in steps of nr    B micro-panels stream from L2
// kc and nc come with the micro-kernel (dispatch.h) because the best blocks
// depend on the tile. Threads share the packing of each A block. Then each
// thread takes a range of columns and packs its own B blocks. When there are
// too few column panels for that, the threads share each packed B block and
// take row tiles instead. Every C element is accumulated in the same order
// whatever the thread count, so results are bit-identical across thread
// counts and runs. A small op(A) that is not transposed is not packed at
// all: the micro-kernel reads its rows in place (see use_a_in_place).
#include "autodiff/kernels/gemm.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/threads.h"

namespace ember::kernels {
namespace {

// Rows of op(A) per packed A block. The block takes up to 3 MiB at kc = 256
// and 6 MiB at kc = 512, and stays in L3 while every B block of the k block
// passes it. mc is rounded down to whole row tiles and nc to whole panels,
// so only the last block of a matrix has a ragged edge.
constexpr int64_t kMc = 3072;

// Below about 2 * 96^3 flops the wake-up of a second thread costs more than
// it saves.
constexpr int64_t kMinParallelVolume = 96 * 96 * 96;

// Threads split the columns of C only when each gets at least this many B
// panels of nr columns, because with fewer the edge panels take a large share.
constexpr int64_t kMinPanelsPerThread = 4;

// The widest B panel: the most registers per tile row, of 16 lanes at most.
constexpr int64_t kMaxPanelColumns = GemmMicroKernel::kMaxVectors * 16;

// A read-only view of op(X) for X stored row-major: stored row r starts at
// data + r ld, or at data + row_offsets[r] when row_offsets is set.
struct Operand {
  const float* data;
  int64_t ld;
  bool transposed;
  const int64_t* row_offsets = nullptr;

  const float* row(int64_t r) const {
    return data + (row_offsets != nullptr ? row_offsets[r] : r * ld);
  }
};

int64_t round_up(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// A 64-byte-aligned slice of a growable buffer.
float* aligned_scratch(std::vector<float>& buffer, int64_t floats) {
  const std::size_t needed = static_cast<std::size_t>(floats) + 16;
  if (buffer.size() < needed) {
    buffer.resize(needed);
  }
  const auto address = reinterpret_cast<std::uintptr_t>(buffer.data());
  const std::uintptr_t aligned = (address + 63) & ~static_cast<std::uintptr_t>(63);
  return buffer.data() + (aligned - address) / sizeof(float);
}

// Packs op(A)[row0 : row0 + rows, k0 : k0 + kc] into panels of mr rows:
// panel p stores element (p * mr + i, k) at p * mr * kc + k * mr + i. Rows
// past the end are zero, so the micro-kernel never branches on them.
void pack_a(const KernelTable& table, const Operand& a, int64_t row0, int64_t rows, int64_t k0,
            int64_t kc, int64_t mr, float* packed) {
  for (int64_t p = 0; p < rows; p += mr) {
    float* panel = packed + p * kc;
    const int64_t valid = std::min(mr, rows - p);
    const int64_t first_row = row0 + p;
    // Each loop order reads op(A) along its stored rows, so memory is walked
    // contiguously whether or not A is transposed.
    if (!a.transposed) {
      const float* rows[GemmMicroKernel::kMaxRows];
      for (int64_t i = 0; i < valid; ++i) {
        rows[i] = a.row(first_row + i) + k0;
      }
      table.transpose(valid, kc, rows, panel, mr);
    } else {
      // A loop, not std::copy_n: a library call per mr floats cost more
      // than the copy (the Winograd path's small GEMMs pack this way).
      const float* source = a.data + k0 * a.ld + first_row;
      for (int64_t k = 0; k < kc; ++k) {
        for (int64_t i = 0; i < valid; ++i) {
          panel[k * mr + i] = source[k * a.ld + i];
        }
      }
    }
    if (valid < mr) {
      for (int64_t k = 0; k < kc; ++k) {
        std::fill(panel + k * mr + valid, panel + (k + 1) * mr, 0.0f);
      }
    }
  }
}

// The maximum number of values of an A that the micro-kernel reads in
// place (64 KiB).
// Model B's steps, whose in-place operands take at most 47 KiB, ran 3-11%
// faster on AVX-512, and products of n = 64 and 128 about 25% faster.
// Whole products of n = 512 to 2048 measured the same either way, within
// noise, so large operands stay packed: read in place, a row tile's rows
// are streams lda apart, and with a power-of-two lda they share L1 sets.
constexpr int64_t kMaxInPlaceA = 16384;

// True when the micro-kernel reads op(A) in place instead of packed panels:
// when A is not transposed, so packing it would transpose it, when it is
// small (kMaxInPlaceA), and when the variant has such kernels.
bool use_a_in_place(const GemmMicroKernel& micro, const Operand& a, int64_t M, int64_t K) {
  return !a.transposed && a.row_offsets == nullptr && M * K <= kMaxInPlaceA &&
         micro.by_size_in_place_a[0][0] != nullptr;
}

// Rows of op(B) copied per pass over the panels when B is not transposed.
constexpr int64_t kPackRows = 16;

// Packs panels [first, last) of nr columns of op(B)[k0 : k0 + kc, col0 :
// col0 + cols]. Panel p stores element (k, p nr + j) at p nr kc + k nr + j,
// and columns past `cols` are zero.
void pack_b_panels(const KernelTable& table, const Operand& b, int64_t k0, int64_t kc,
                   int64_t col0, int64_t cols, int64_t nr, int64_t first, int64_t last,
                   float* packed) {
  if (!b.transposed) {
    // A few rows at a time across all the panels, so each stored row of B is
    // read front to back while its lines are in L1, not one short piece per
    // row and panel.
    const float* rows[kPackRows];
    for (int64_t k = 0; k < kc; k += kPackRows) {
      const int64_t count = std::min(kPackRows, kc - k);
      for (int64_t p = first; p < last; ++p) {
        for (int64_t r = 0; r < count; ++r) {
          rows[r] = b.row(k0 + k + r) + col0 + p * nr;
        }
        table.copy_rows(count, std::min(nr, cols - p * nr), rows, packed + p * nr * kc + k * nr,
                        nr);  // zeroes the columns past the valid ones
      }
    }
    return;
  }
  // Column j of op(B) is stored row j of B, so each panel is a transpose.
  const float* rows[kMaxPanelColumns];
  for (int64_t p = first; p < last; ++p) {
    float* panel = packed + p * nr * kc;
    const int64_t valid = std::min(nr, cols - p * nr);
    for (int64_t j = 0; j < valid; ++j) {
      rows[j] = b.row(col0 + p * nr + j) + k0;
    }
    table.transpose(valid, kc, rows, panel, nr);
    if (valid < nr) {
      for (int64_t k = 0; k < kc; ++k) {
        std::fill(panel + k * nr + valid, panel + (k + 1) * nr, 0.0f);
      }
    }
  }
}

// C = beta * C for the whole [M, N] output (used when K = 0 or alpha = 0).
void scale_output(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + N, 0.0f);
    } else {
      for (int64_t j = 0; j < N; ++j) {
        row[j] *= beta;
      }
    }
  }
}

std::string shape_text(int64_t rows, int64_t cols) {
  return "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
}

// Throws std::invalid_argument naming the operand, its stored shape and the
// row stride, when the stride is shorter than a stored row. An empty operand
// is never read, so any stride is accepted for it.
void check_stride(const char* name, int64_t rows, int64_t cols, int64_t ld) {
  if (rows > 0 && cols > 0 && ld < cols) {
    throw std::invalid_argument(std::string("gemm: ") + name + " is stored as " +
                                shape_text(rows, cols) + " with row stride " +
                                std::to_string(ld) + "; the stride must be at least " +
                                std::to_string(cols));
  }
}

void check_arguments(Transpose transpose_a, Transpose transpose_b, int64_t M, int64_t N,
                     int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                     const int64_t* b_row_offsets, const float* C, int64_t ldc) {
  if (M < 0 || N < 0 || K < 0) {
    throw std::invalid_argument("gemm: sizes M=" + std::to_string(M) + ", N=" +
                                std::to_string(N) + ", K=" + std::to_string(K) +
                                " must not be negative");
  }
  const bool a_transposed = transpose_a == Transpose::Yes;
  const bool b_transposed = transpose_b == Transpose::Yes;
  check_stride("A", a_transposed ? K : M, a_transposed ? M : K, lda);
  if (b_row_offsets == nullptr) {  // rows at offsets have no common stride
    check_stride("B", b_transposed ? N : K, b_transposed ? K : N, ldb);
  }
  check_stride("C", M, N, ldc);

  const bool has_output = M > 0 && N > 0;
  if ((has_output && C == nullptr) || (has_output && K > 0 && (A == nullptr || B == nullptr))) {
    throw std::invalid_argument("gemm: a null buffer was passed for a non-empty " +
                                shape_text(M, K) + " x " + shape_text(K, N) + " product");
  }
}

// Products with at most this many rows of C, or this many terms per element
// (K), skip packing. With B untransposed each C row is a sum of B's rows, one
// axpy per k. With B transposed each C element is the dot product of two
// stored rows. Packing would copy all of B to compute one or two rows, and
// that cost model A's 1-channel convolution about half its training step.
constexpr int64_t kMaxUnpackedRows = 2;

// C = alpha * op(A) B + beta * C by rows: C[i, :] += alpha A(i, k) B[k, :].
void gemm_by_axpy(const KernelTable& table, bool a_transposed, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, const Operand& b, float beta,
                  float* C, int64_t ldc) {
  scale_output(M, N, beta, C, ldc);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t k = 0; k < K; ++k) {
      const float a_ik = a_transposed ? A[k * lda + i] : A[i * lda + k];
      table.axpy(N, alpha * a_ik, b.row(k), C + i * ldc);
    }
  }
}

// C = alpha * op(A) B^T + beta * C by dot products: C[i, j] is row i of
// op(A) (copied out when A is transposed) dotted with stored row j of B.
void gemm_by_dot(const KernelTable& table, bool a_transposed, int64_t M, int64_t N, int64_t K,
                 float alpha, const float* A, int64_t lda, const Operand& b, float beta,
                 float* C, int64_t ldc) {
  std::vector<float> a_row(a_transposed ? static_cast<size_t>(K) : 0);
  for (int64_t i = 0; i < M; ++i) {
    const float* row = A + i * lda;
    if (a_transposed) {
      for (int64_t k = 0; k < K; ++k) {
        a_row[static_cast<size_t>(k)] = A[k * lda + i];
      }
      row = a_row.data();
    }
    float* c_row = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) {
      const float product = alpha * table.dot(K, row, b.row(j));
      // beta = 0 overwrites without reading C, which may hold NaN.
      c_row[j] = beta == 0.0f ? product : beta * c_row[j] + product;
    }
  }
}

// One packed A block of one k block, and where its products go: rows
// [row0, row0 + rows) of C from terms [k0, k0 + kc) of K.
struct PackedA {
  const float* panels;  // [row_tiles * mr, kc], one [mr, kc] panel per row tile
  int64_t row0;
  int64_t rows;
  int64_t row_tiles;
  int64_t k0;
  int64_t kc;
  // op(A) read in place instead of the panels (see use_a_in_place), with
  // row r at in_place + r lda. Null when A is packed.
  const float* in_place = nullptr;
  int64_t lda = 0;
};

// Computes the C tiles in row tiles [first_tile, last_tile) of the A block
// and column panels [first_panel, last_panel) of the B block at b_packed,
// which holds op(B)[k0 : k0 + kc, col0 : col0 + cols]. beta is the caller's
// for the first k block and 1 for the later ones.
void multiply_tiles(const GemmMicroKernel& micro, const PackedA& a, const float* b_packed,
                    int64_t col0, int64_t cols, int64_t first_tile, int64_t last_tile,
                    int64_t first_panel, int64_t last_panel, float alpha, float beta, float* C,
                    int64_t ldc) {
  const int64_t mr = micro.mr;
  const int64_t nr = micro.nr;
  for (int64_t tile = first_tile; tile < last_tile; ++tile) {
    const int64_t ir = tile * mr;
    float* c_rows = C + (a.row0 + ir) * ldc + col0;
    const int64_t rows = std::min(mr, a.rows - ir);
    if (a.in_place != nullptr) {
      const float* a_rows = a.in_place + (a.row0 + ir) * a.lda + a.k0;
      for (int64_t panel = first_panel; panel < last_panel; ++panel) {
        const int64_t jr = panel * nr;
        const int64_t tile_cols = std::min(nr, cols - jr);
        micro.for_tile_in_place_a(rows, tile_cols)(a.kc, a_rows, a.lda, b_packed + jr * a.kc,
                                                   c_rows + jr, ldc, rows, tile_cols, alpha,
                                                   beta);
      }
      continue;
    }
    const float* a_panel = a.panels + ir * a.kc;
    for (int64_t panel = first_panel; panel < last_panel; ++panel) {
      const int64_t jr = panel * nr;
      const int64_t tile_cols = std::min(nr, cols - jr);
      micro.for_tile(rows, tile_cols)(a.kc, a_panel, b_packed + jr * a.kc, c_rows + jr, ldc,
                                      rows, tile_cols, alpha, beta);
    }
  }
}

// Multiplies the A block by all of op(B)'s columns, each thread taking a
// range of whole panels and packing its own B blocks of up to nc_max
// columns. The threads meet only when all are done.
void multiply_by_column_ranges(const KernelTable& table, const PackedA& a, const Operand& b,
                               int64_t N, int64_t nc_max, float alpha, float beta, float* C,
                               int64_t ldc) {
  const int64_t nr = table.gemm.nr;
  const int64_t block_panels = nc_max / nr;
  parallel_for((N + nr - 1) / nr, [&](int64_t first, int64_t last) {
    // A chunk runs on one thread at a time, so a per-thread buffer is its own.
    thread_local std::vector<float> b_buffer;
    float* b_packed = aligned_scratch(b_buffer, a.kc * std::min(last - first, block_panels) * nr);
    for (int64_t p0 = first; p0 < last; p0 += block_panels) {
      const int64_t count = std::min(block_panels, last - p0);
      const int64_t col0 = p0 * nr;
      const int64_t cols = std::min(N, (p0 + count) * nr) - col0;
      pack_b_panels(table, b, a.k0, a.kc, col0, cols, nr, 0, count, b_packed);
      multiply_tiles(table.gemm, a, b_packed, col0, cols, 0, a.row_tiles, 0, count, alpha, beta,
                     C, ldc);
    }
  });
}

// Returns op(B)[k0 :, 0 : nr] when it is stored as one packed panel
// already: not transposed, exactly nr columns, rows nr apart. Packing would
// copy it unchanged. Else null. The Winograd path's weight gradient on 32
// input channels has such a B (V [tiles, C], with nr = 32 on AVX-512).
const float* b_as_panel(const Operand& b, int64_t N, int64_t nr, int64_t k0) {
  if (b.transposed || b.row_offsets != nullptr || N != nr || b.ld != nr) {
    return nullptr;
  }
  return b.data + k0 * nr;
}

// Multiplies the A block by op(B) one B block of up to nc_max columns at a
// time. With `parallel`, the threads share the packing of each B block and
// then take ranges of row tiles.
void multiply_by_b_blocks(const KernelTable& table, const PackedA& a, const Operand& b,
                          int64_t N, int64_t nc_max, bool parallel, float alpha, float beta,
                          float* C, int64_t ldc) {
  const int64_t nr = table.gemm.nr;
  const auto split = [parallel](int64_t count, const auto& body) {
    if (parallel) {
      parallel_for(count, body);
    } else {
      body(0, count);
    }
  };
  if (const float* panel = b_as_panel(b, N, nr, a.k0)) {
    split(a.row_tiles, [&](int64_t first, int64_t last) {
      multiply_tiles(table.gemm, a, panel, 0, N, first, last, 0, 1, alpha, beta, C, ldc);
    });
    return;
  }

  thread_local std::vector<float> b_buffer;
  float* b_packed = aligned_scratch(b_buffer, a.kc * round_up(std::min(N, nc_max), nr));
  for (int64_t col0 = 0; col0 < N; col0 += nc_max) {
    const int64_t cols = std::min(nc_max, N - col0);
    const int64_t b_panels = (cols + nr - 1) / nr;
    split(b_panels, [&](int64_t first, int64_t last) {
      pack_b_panels(table, b, a.k0, a.kc, col0, cols, nr, first, last, b_packed);
    });
    split(a.row_tiles, [&](int64_t first, int64_t last) {
      multiply_tiles(table.gemm, a, b_packed, col0, cols, first, last, 0, b_panels, alpha, beta,
                     C, ldc);
    });
  }
}

void gemm_blocked(const KernelTable& table, Transpose transpose_a, Transpose transpose_b,
                  int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, const int64_t* b_row_offsets, float beta,
                  float* C, int64_t ldc) {
  check_arguments(transpose_a, transpose_b, M, N, K, A, lda, B, ldb, b_row_offsets, C, ldc);
  if (M == 0 || N == 0) {
    return;
  }
  if (K == 0 || alpha == 0.0f) {
    scale_output(M, N, beta, C, ldc);
    return;
  }
  const bool a_transposed = transpose_a == Transpose::Yes;
  const Operand b{B, ldb, transpose_b == Transpose::Yes, b_row_offsets};
  if (!b.transposed && (M <= kMaxUnpackedRows || K <= kMaxUnpackedRows)) {
    gemm_by_axpy(table, a_transposed, M, N, K, alpha, A, lda, b, beta, C, ldc);
    return;
  }
  if (b.transposed && M <= kMaxUnpackedRows) {
    gemm_by_dot(table, a_transposed, M, N, K, alpha, A, lda, b, beta, C, ldc);
    return;
  }

  const GemmMicroKernel& micro = table.gemm;
  const int64_t mr = micro.mr;
  const int64_t nr = micro.nr;
  const Operand a{A, lda, a_transposed};
  const int64_t nc_max = std::max(nr, micro.nc / nr * nr);
  const int64_t mc_max = std::max(mr, kMc / mr * mr);
  const bool parallel = M * N * K >= kMinParallelVolume && !parallel_for_runs_inline();
  const int64_t panels = (N + nr - 1) / nr;
  const bool split_columns = parallel && panels >= kMinPanelsPerThread * num_threads();

  const bool in_place_a = use_a_in_place(micro, a, M, K);
  thread_local std::vector<float> a_buffer;
  float* a_packed =
      in_place_a ? nullptr
                 : aligned_scratch(a_buffer, round_up(std::min(M, mc_max), mr) * micro.kc);

  for (int64_t k0 = 0; k0 < K; k0 += micro.kc) {
    const int64_t kc = std::min(micro.kc, K - k0);
    // The first k block applies the caller's beta; later ones accumulate.
    const float block_beta = k0 == 0 ? beta : 1.0f;

    for (int64_t row0 = 0; row0 < M; row0 += mc_max) {
      const int64_t mc = std::min(mc_max, M - row0);
      PackedA block{a_packed, row0, mc, (mc + mr - 1) / mr, k0, kc};
      if (in_place_a) {
        block.in_place = a.data;
        block.lda = a.ld;
      } else {
        const auto pack = [&](int64_t first, int64_t last) {
          const int64_t rows = std::min(mc, last * mr) - first * mr;
          pack_a(table, a, row0 + first * mr, rows, k0, kc, mr, a_packed + first * mr * kc);
        };
        if (parallel) {
          parallel_for(block.row_tiles, pack);
        } else {
          pack(0, block.row_tiles);
        }
      }

      if (split_columns) {
        multiply_by_column_ranges(table, block, b, N, nc_max, alpha, block_beta, C, ldc);
      } else {
        multiply_by_b_blocks(table, block, b, N, nc_max, parallel, alpha, block_beta, C, ldc);
      }
    }
  }
}

}  // namespace

void gemm(Transpose transpose_a, Transpose transpose_b, int64_t M, int64_t N, int64_t K,
          float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
          float* C, int64_t ldc) {
  gemm_blocked(active_kernels(), transpose_a, transpose_b, M, N, K, alpha, A, lda, B, ldb,
               nullptr, beta, C, ldc);
}

void gemm_variant(Isa isa, Transpose transpose_a, Transpose transpose_b, int64_t M, int64_t N,
                  int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_blocked(kernel_table(isa), transpose_a, transpose_b, M, N, K, alpha, A, lda, B, ldb,
               nullptr, beta, C, ldc);
}

void gemm_offset_rows(Isa isa, Transpose transpose_a, Transpose transpose_b, int64_t M,
                      int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                      const float* B, const int64_t* b_row_offsets, float beta, float* C,
                      int64_t ldc) {
  if (b_row_offsets == nullptr && M > 0 && N > 0 && K > 0) {
    throw std::invalid_argument("gemm_offset_rows: the row offsets of B are missing; pass one "
                                "offset per stored row of B (" +
                                std::to_string(transpose_b == Transpose::Yes ? N : K) +
                                " here), or call gemm for a B with a common row stride");
  }
  gemm_blocked(isa == active_isa() ? active_kernels() : kernel_table(isa), transpose_a,
               transpose_b, M, N, K, alpha, A, lda, B, 0, b_row_offsets, beta, C, ldc);
}

}  // namespace ember::kernels
