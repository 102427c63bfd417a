// The public elementwise, row-wise and Adam kernels: each forwards to the
// variant of active_kernels(). Row-wise kernels over many rows are split
// across threads by rows, which does not change any row's result.
//
// The kernels themselves are in reference.cpp (scalar) and vector_kernels.h
// (SIMD).
#include "autodiff/kernels/adam.h"
#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/elementwise.h"
#include "autodiff/kernels/rows.h"
#include "autodiff/kernels/threads.h"
#include "autodiff/kernels/taps.h"
#include "autodiff/kernels/winograd.h"

namespace ember::kernels {

namespace {

// Below this many elements a row-wise kernel runs on one thread, because
// waking another costs about as much as the work. Kernels that take an exp
// or a log per element cost several times more per element, so they split
// from a smaller size: model A's CTC step normalises 416 rows of 27.
constexpr int64_t kMinParallelElements = 1 << 15;
constexpr int64_t kMinParallelExpElements = 1 << 12;

void for_row_chunks(int64_t rows, int64_t n, KernelTable::RowMap kernel, const float* x,
                    float* out, bool out_per_element,
                    int64_t min_elements = kMinParallelElements) {
  if (rows * n < min_elements) {
    kernel(rows, n, x, out);
    return;
  }
  const int64_t out_stride = out_per_element ? n : 1;
  parallel_for(rows, [&](int64_t first, int64_t last) {
    kernel(last - first, n, x + first * n, out + first * out_stride);
  });
}

}  // namespace

void add(int64_t n, const float* a, const float* b, float* out) {
  active_kernels().add(n, a, b, out);
}

void sub(int64_t n, const float* a, const float* b, float* out) {
  active_kernels().sub(n, a, b, out);
}

void mul(int64_t n, const float* a, const float* b, float* out) {
  active_kernels().mul(n, a, b, out);
}

void div(int64_t n, const float* a, const float* b, float* out) {
  active_kernels().div(n, a, b, out);
}

void add_scalar(int64_t n, const float* a, float s, float* out) {
  active_kernels().add_scalar(n, a, s, out);
}

void mul_scalar(int64_t n, const float* a, float s, float* out) {
  active_kernels().mul_scalar(n, a, s, out);
}

void div_scalar(int64_t n, const float* a, float s, float* out) {
  active_kernels().div_scalar(n, a, s, out);
}

void relu(int64_t n, const float* x, float* out) { active_kernels().relu(n, x, out); }

void sigmoid(int64_t n, const float* x, float* out) { active_kernels().sigmoid(n, x, out); }

void tanh(int64_t n, const float* x, float* out) { active_kernels().tanh(n, x, out); }

void exp(int64_t n, const float* x, float* out) { active_kernels().exp(n, x, out); }

void log(int64_t n, const float* x, float* out) { active_kernels().log(n, x, out); }

void relu_backward(int64_t n, const float* x, const float* grad_out, float* grad_x) {
  active_kernels().relu_backward(n, x, grad_out, grad_x);
}

void relu_mask(int64_t n, const float* x, const float* grad_out, float* out) {
  active_kernels().relu_mask(n, x, grad_out, out);
}

void shift_rows(int64_t rows, int64_t cols, const float* in, int64_t in_ld, float shift,
                bool relu, float* out, int64_t out_ld) {
  active_kernels().shift_rows(rows, cols, in, in_ld, shift, relu, out, out_ld);
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
  active_kernels().axpy(n, alpha, x, y);
}

float dot(int64_t n, const float* x, const float* y) { return active_kernels().dot(n, x, y); }

void correlate_taps(int64_t n, int64_t taps, const float* weights, const int64_t* offsets,
                    const float* x, float* y) {
  active_kernels().correlate_taps(n, taps, weights, offsets, x, y);
}

void correlate_taps_dots(int64_t n, int64_t taps, const int64_t* offsets, const float* g,
                         const float* x, float* out) {
  active_kernels().correlate_taps_dots(n, taps, offsets, g, x, out);
}

void row_sum(int64_t rows, int64_t n, const float* x, float* out) {
  for_row_chunks(rows, n, active_kernels().row_sum, x, out, /*out_per_element=*/false);
}

void row_max(int64_t rows, int64_t n, const float* x, float* out) {
  for_row_chunks(rows, n, active_kernels().row_max, x, out, /*out_per_element=*/false);
}

void row_logsumexp(int64_t rows, int64_t n, const float* x, float* out) {
  for_row_chunks(rows, n, active_kernels().row_logsumexp, x, out, /*out_per_element=*/false,
                 kMinParallelExpElements);
}

void row_softmax(int64_t rows, int64_t n, const float* x, float* out) {
  for_row_chunks(rows, n, active_kernels().row_softmax, x, out, /*out_per_element=*/true,
                 kMinParallelExpElements);
}

void row_log_softmax(int64_t rows, int64_t n, const float* x, float* out) {
  for_row_chunks(rows, n, active_kernels().row_log_softmax, x, out, /*out_per_element=*/true,
                 kMinParallelExpElements);
}

void row_log_softmax_backward(int64_t rows, int64_t n, const float* y, const float* grad_y,
                              float* grad_x) {
  const auto kernel = active_kernels().row_log_softmax_backward;
  if (rows * n < kMinParallelExpElements) {
    kernel(rows, n, y, grad_y, grad_x);
    return;
  }
  parallel_for(rows, [&](int64_t first, int64_t last) {
    kernel(last - first, n, y + first * n, grad_y + first * n, grad_x + first * n);
  });
}

void adam_update(int64_t n, float* param, const float* grad, float* m, float* v,
                 const AdamStep& step) {
  active_kernels().adam_update(n, param, grad, m, v, step);
}

void winograd_input_tiles(int64_t tiles, const float* in, int64_t row_ld, float* out,
                          int64_t point_ld) {
  active_kernels().winograd_input_tiles(tiles, in, row_ld, out, point_ld);
}

void winograd_input_tiles_channels_last(int64_t tiles, int64_t channels, const float* in,
                                        int64_t row_ld, float* out, int64_t point_ld) {
  active_kernels().winograd_input_tiles_channels_last(tiles, channels, in, row_ld, out, point_ld);
}

bool winograd_output_tiles(int64_t tiles, const float* m, int64_t point_ld, float bias,
                           bool relu, float* out, int64_t row_ld, int64_t rows, int64_t width) {
  return active_kernels().winograd_output_tiles(tiles, m, point_ld, bias, relu, out, row_ld,
                                                rows, width);
}

bool winograd_output_gradient_tiles(int64_t tiles, const float* grad, int64_t row_ld,
                                    float* out, int64_t point_ld) {
  return active_kernels().winograd_output_gradient_tiles(tiles, grad, row_ld, out, point_ld);
}

void winograd_input_gradient_tiles(int64_t tiles, const float* dv, int64_t point_ld,
                                   float* grad_in, int64_t row_ld) {
  active_kernels().winograd_input_gradient_tiles(tiles, dv, point_ld, grad_in, row_ld);
}

}  // namespace ember::kernels
