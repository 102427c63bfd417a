// Run-time choice of the instruction set, and the table of kernel variants
// for each one.
//
// Every kernel has a scalar reference (reference.cpp) that is its
// specification, and AVX2+FMA and AVX-512 variants (kernels_avx2.cpp,
// kernels_avx512.cpp) built from the generic code in vector_kernels.h. The
// variant is chosen once, on first use: the widest one the CPU supports, or
// the one the EMBER_SIMD environment variable names (scalar, avx2, avx512).
// Callers use the dispatching functions in elementwise.h, rows.h, adam.h,
// taps.h, winograd.h and gemm.h; this table is for those wrappers and for tests
// that compare variants.
#pragma once

#include <cstdint>
#include <string_view>

namespace ember::kernels {

enum class Isa { scalar, avx2, avx512 };

// "scalar", "avx2" or "avx512".
const char* isa_name(Isa isa);

// True when this build contains the variant and the CPU and OS can run it.
bool isa_supported(Isa isa);

// Returns the variant named by `choice` (as EMBER_SIMD would be). Throws
// std::invalid_argument for an unknown name or an unsupported variant.
Isa parse_isa(std::string_view choice);

// The variant every dispatching kernel uses, fixed on first call: EMBER_SIMD
// when set (throwing as parse_isa does), else the widest supported one.
Isa active_isa();

// Options of one Adam step; see adam.h for the update they define.
struct AdamStep {
  float learning_rate;
  float beta1;
  float beta2;
  float epsilon;
  float bias_correction1;  // 1 - beta1^t at step t
  float bias_correction2;  // 1 - beta2^t at step t
  float weight_decay;      // decoupled (AdamW); 0 gives plain Adam
};

// The GEMM micro-kernels of one variant. Each computes one tile of C from
// packed panels: a_panel stores op(A)[i, k] at a_panel[k * mr + i] and
// b_panel stores op(B)[k, j] at b_panel[k * nr + j]. It writes
// C = alpha * panel product + beta * C for the top-left [rows, cols] of the
// tile only, and does not read C if beta = 0.
struct GemmMicroKernel {
  using Run = void (*)(int64_t kc, const float* a_panel, const float* b_panel, float* c,
                       int64_t ldc, int64_t rows, int64_t cols, float alpha, float beta);
  static constexpr int64_t kMaxRows = 16;
  static constexpr int64_t kMaxVectors = 8;

  int64_t mr;     // rows of a full tile
  int64_t nr;     // columns of a full tile
  int64_t lanes;  // floats per register
  // by_size[r - 1][v - 1] computes only r rows and v registers of columns,
  // so a thin edge tile costs what it computes.
  Run by_size[kMaxRows][kMaxVectors];

  // The same tiles with op(A) read in place instead of from a packed panel:
  // element (i, k) at a[i * lda + k], as a row-major A that is not
  // transposed stores it. Packing such an A transposes it, which took 9% of
  // model B's second layer on 32 x 90 images. Null where a variant has
  // none (the scalar one), and GEMM then packs A.
  using RunInPlaceA = void (*)(int64_t kc, const float* a, int64_t lda, const float* b_panel,
                               float* c, int64_t ldc, int64_t rows, int64_t cols, float alpha,
                               float beta);
  RunInPlaceA by_size_in_place_a[kMaxRows][kMaxVectors] = {};

  // Cache block sizes, chosen with the tile (gemm.cpp explains the loops):
  // kc terms of K per packed panel, and nc columns of op(B) per packed B
  // block, which stays in L2.
  int64_t kc = 256;
  int64_t nc = 256;

  // The cheapest kernel covering a [rows, cols] tile (1 <= rows <= mr,
  // 1 <= cols <= nr).
  Run for_tile(int64_t rows, int64_t cols) const {
    return by_size[rows - 1][(cols + lanes - 1) / lanes - 1];
  }
  RunInPlaceA for_tile_in_place_a(int64_t rows, int64_t cols) const {
    return by_size_in_place_a[rows - 1][(cols + lanes - 1) / lanes - 1];
  }
};

// One variant of every dispatched kernel. The meaning of each entry is
// documented on the public function of the same name.
struct KernelTable {
  using Binary = void (*)(int64_t n, const float* a, const float* b, float* out);
  using WithScalar = void (*)(int64_t n, const float* a, float s, float* out);
  using Unary = void (*)(int64_t n, const float* x, float* out);
  using RowReduce = void (*)(int64_t rows, int64_t n, const float* x, float* out);
  using RowMap = void (*)(int64_t rows, int64_t n, const float* x, float* out);

  Isa isa;

  Binary add;
  Binary sub;
  Binary mul;
  Binary div;
  WithScalar add_scalar;
  WithScalar mul_scalar;
  WithScalar div_scalar;

  Unary relu;
  Unary sigmoid;
  Unary tanh;
  Unary exp;
  Unary log;
  void (*relu_backward)(int64_t n, const float* x, const float* grad_out, float* grad_x);
  void (*relu_mask)(int64_t n, const float* x, const float* grad_out, float* out);
  // out[j * ld_out + i] = in_rows[i][j] for i < rows, j < cols (the GEMM's
  // packing of an operand whose K runs along its stored rows). Rows are
  // given by their starts, so they need no common stride.
  void (*transpose)(int64_t rows, int64_t cols, const float* const* in_rows, float* out,
                    int64_t ld_out);
  // out[i * ld_out + j] = in_rows[i][j] for i < rows, j < cols, and 0 for
  // cols <= j < ld_out (the GEMM's packing of an operand along its rows).
  void (*copy_rows)(int64_t rows, int64_t cols, const float* const* in_rows, float* out,
                    int64_t ld_out);
  // See shift_rows in elementwise.h.
  void (*shift_rows)(int64_t rows, int64_t cols, const float* in, int64_t in_ld, float shift,
                     bool relu, float* out, int64_t out_ld);
  void (*axpy)(int64_t n, float alpha, const float* x, float* y);
  float (*dot)(int64_t n, const float* x, const float* y);
  void (*correlate_taps)(int64_t n, int64_t taps, const float* weights, const int64_t* offsets,
                         const float* x, float* y);
  void (*correlate_taps_dots)(int64_t n, int64_t taps, const int64_t* offsets, const float* g,
                              const float* x, float* out);

  RowReduce row_sum;
  RowReduce row_max;
  RowReduce row_logsumexp;
  RowMap row_softmax;
  RowMap row_log_softmax;
  void (*row_log_softmax_backward)(int64_t rows, int64_t n, const float* y, const float* grad_y,
                                   float* grad_x);

  // One output row of a max pool whose windows lie inside the image (see
  // pool.cpp): for ow < out_w, out[ow] is the max of rows[p width + ow stride
  // + q] over the [kernel_h, kernel_w] window, and argmax[ow] is first_index
  // plus the winner's offset from rows. Ties and NaN resolve as in
  // max_pool2d. rows[0, readable) may be read, even past the last window.
  void (*max_pool_row)(const float* rows, int64_t width, int64_t kernel_h, int64_t kernel_w,
                       int64_t stride, int64_t out_w, int64_t readable, int64_t first_index,
                       float* out, int32_t* argmax);

  // Max pooling of `count` windows of one plane, for rows too short to fill
  // a vector: window t has its top-left pixel at plane[bases[t]], out[t] is
  // its max and argmax[t] = bases[t] + p width + q of the winner. Ties and
  // NaN resolve as in max_pool2d.
  void (*max_pool_windows)(const float* plane, int64_t width, int64_t kernel_h,
                           int64_t kernel_w, int64_t count, const int32_t* bases, float* out,
                           int32_t* argmax);

  void (*adam_update)(int64_t n, float* param, const float* grad, float* m, float* v,
                      const AdamStep& step);

  // The Winograd F(2x2, 3x3) tile transforms of winograd.h.
  void (*winograd_input_tiles)(int64_t tiles, const float* in, int64_t row_ld, float* out,
                               int64_t point_ld);
  void (*winograd_input_tiles_channels_last)(int64_t tiles, int64_t channels, const float* in,
                                             int64_t row_ld, float* out, int64_t point_ld);
  bool (*winograd_output_tiles)(int64_t tiles, const float* m, int64_t point_ld, float bias,
                                bool relu, float* out, int64_t row_ld, int64_t rows,
                                int64_t width);
  bool (*winograd_output_gradient_tiles)(int64_t tiles, const float* grad, int64_t row_ld,
                                         float* out, int64_t point_ld);
  void (*winograd_input_gradient_tiles)(int64_t tiles, const float* dv, int64_t point_ld,
                                        float* grad_in, int64_t row_ld);

  GemmMicroKernel gemm;
};

// The table of one variant. Throws std::invalid_argument if it is not supported.
const KernelTable& kernel_table(Isa isa);

// The table of active_isa().
const KernelTable& active_kernels();

namespace detail {
// Defined by reference.cpp, kernels_avx2.cpp and kernels_avx512.cpp.
const KernelTable& scalar_table();
const KernelTable& avx2_table();
const KernelTable& avx512_table();
}  // namespace detail

}  // namespace ember::kernels
