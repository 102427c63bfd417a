// The SIMD kernels, written once for any vector type V from a mapping header
// (simd_avx2.h, simd_avx512.h) and instantiated by kernels_avx2.cpp and
// kernels_avx512.cpp.
//
// Each kernel is a main loop over full registers plus one partial register
// for the tail. Everything here is a template on V, so each instruction set
// gets its own copy and no code compiled for one leaks into another. The
// specification of every kernel is its scalar twin in reference.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/pool_row.h"
#include "autodiff/kernels/simd_math.h"
#include "autodiff/kernels/vector_winograd.h"

namespace ember::kernels::vector_kernels {

// out[i] = op(a[i], b[i]). out may be a or b (in place).
template <class V, class Op>
void map_binary(int64_t n, const float* a, const float* b, float* out, Op op) {
  int64_t i = 0;
  for (; i + V::lanes <= n; i += V::lanes) {
    V::store(out + i, op(V::load(a + i), V::load(b + i)));
  }
  if (i < n) {
    const int64_t rest = n - i;
    V::store_partial(out + i, rest, op(V::load_partial(a + i, rest), V::load_partial(b + i, rest)));
  }
}

// out[i] = op(x[i]). out may be x (in place).
template <class V, class Op>
void map_unary(int64_t n, const float* x, float* out, Op op) {
  int64_t i = 0;
  for (; i + V::lanes <= n; i += V::lanes) {
    V::store(out + i, op(V::load(x + i)));
  }
  if (i < n) {
    const int64_t rest = n - i;
    V::store_partial(out + i, rest, op(V::load_partial(x + i, rest)));
  }
}

template <class V>
void add(int64_t n, const float* a, const float* b, float* out) {
  map_binary<V>(n, a, b, out, [](V x, V y) { return x + y; });
}

template <class V>
void sub(int64_t n, const float* a, const float* b, float* out) {
  map_binary<V>(n, a, b, out, [](V x, V y) { return x - y; });
}

template <class V>
void mul(int64_t n, const float* a, const float* b, float* out) {
  map_binary<V>(n, a, b, out, [](V x, V y) { return x * y; });
}

template <class V>
void div(int64_t n, const float* a, const float* b, float* out) {
  map_binary<V>(n, a, b, out, [](V x, V y) { return x / y; });
}

template <class V>
void add_scalar(int64_t n, const float* a, float s, float* out) {
  const V scalar = V::broadcast(s);
  map_unary<V>(n, a, out, [scalar](V x) { return x + scalar; });
}

template <class V>
void mul_scalar(int64_t n, const float* a, float s, float* out) {
  const V scalar = V::broadcast(s);
  map_unary<V>(n, a, out, [scalar](V x) { return x * scalar; });
}

template <class V>
void div_scalar(int64_t n, const float* a, float s, float* out) {
  const V scalar = V::broadcast(s);
  map_unary<V>(n, a, out, [scalar](V x) { return x / scalar; });
}

// max(x, 0) with 0 second, so NaN and -0 give +0 as in the reference.
template <class V>
void relu(int64_t n, const float* x, float* out) {
  map_unary<V>(n, x, out, [](V value) { return V::max(value, V::zero()); });
}

template <class V>
void sigmoid(int64_t n, const float* x, float* out) {
  map_unary<V>(n, x, out, [](V value) { return simd_math::sigmoid(value); });
}

template <class V>
void tanh(int64_t n, const float* x, float* out) {
  map_unary<V>(n, x, out, [](V value) { return simd_math::tanh(value); });
}

template <class V>
void exp(int64_t n, const float* x, float* out) {
  map_unary<V>(n, x, out, [](V value) { return simd_math::exp(value); });
}

template <class V>
void log(int64_t n, const float* x, float* out) {
  map_unary<V>(n, x, out, [](V value) { return simd_math::log(value); });
}

// grad_x += grad_out where x > 0.
template <class V>
void relu_backward(int64_t n, const float* x, const float* grad_out, float* grad_x) {
  const auto step = [](V input, V upstream, V accumulated) {
    return accumulated + V::select(V::greater(input, V::zero()), upstream, V::zero());
  };

  int64_t i = 0;
  for (; i + V::lanes <= n; i += V::lanes) {
    V::store(grad_x + i, step(V::load(x + i), V::load(grad_out + i), V::load(grad_x + i)));
  }
  if (i < n) {
    const int64_t rest = n - i;
    const V result = step(V::load_partial(x + i, rest), V::load_partial(grad_out + i, rest),
                          V::load_partial(grad_x + i, rest));
    V::store_partial(grad_x + i, rest, result);
  }
}

// out[j * ld_out + i] = in_rows[i][j] for i < rows, j < cols: blocks of
// 8 x 8, then of 4 x 8 (a GEMM panel of 4 rows), then single elements.
template <class V>
void transpose(int64_t rows, int64_t cols, const float* const* in_rows, float* out,
               int64_t ld_out) {
  const auto copy_rest = [&](int64_t row_begin, int64_t row_end, int64_t col_begin) {
    for (int64_t j = col_begin; j < cols; ++j) {
      for (int64_t i = row_begin; i < row_end; ++i) {
        out[j * ld_out + i] = in_rows[i][j];
      }
    }
  };
  // The rows [i, i + count) from column j.
  const float* block[8];
  const auto block_at = [&](int64_t i, int64_t count, int64_t j) {
    for (int64_t r = 0; r < count; ++r) {
      block[r] = in_rows[i + r] + j;
    }
    return block;
  };

  int64_t i = 0;
  for (; i + 8 <= rows; i += 8) {
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8) {
      V::transpose_8x8(block_at(i, 8, j), out + j * ld_out + i, ld_out);
    }
    copy_rest(i, i + 8, j);
  }
  if (i + 4 <= rows) {
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8) {
      V::transpose_4x8(block_at(i, 4, j), out + j * ld_out + i, ld_out);
    }
    copy_rest(i, i + 4, j);
    i += 4;
  }
  copy_rest(i, rows, 0);
}

// Copies rows of a few vectors each (a GEMM panel's width), then zeroes
// each output row's rest up to ld_out.
template <class V>
void copy_rows(int64_t rows, int64_t cols, const float* const* in_rows, float* out,
               int64_t ld_out) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* in = in_rows[i];
    float* row = out + i * ld_out;
    int64_t j = 0;
    for (; j + V::lanes <= cols; j += V::lanes) {
      V::store(row + j, V::load(in + j));
    }
    if (j < cols) {
      V::store_partial(row + j, cols - j, V::load_partial(in + j, cols - j));
    }
    for (j = cols; j < ld_out; ++j) {
      row[j] = 0.0f;
    }
  }
}

// Shifted rows with an optional relu (see shift_rows in elementwise.h). The
// relu is max(value, 0) with 0 second, so NaN and -0 give +0.
template <class V>
void shift_rows(int64_t rows, int64_t cols, const float* in, int64_t in_ld, float shift,
                bool relu, float* out, int64_t out_ld) {
  const V offset = V::broadcast(shift);
  const auto apply = [&](V value) {
    const V shifted = value + offset;
    return relu ? V::max(shifted, V::zero()) : shifted;
  };
  for (int64_t i = 0; i < rows; ++i) {
    const float* source = in + i * in_ld;
    float* target = out + i * out_ld;
    int64_t j = 0;
    for (; j + V::lanes <= cols; j += V::lanes) {
      V::store(target + j, apply(V::load(source + j)));
    }
    if (j < cols) {
      V::store_partial(target + j, cols - j, apply(V::load_partial(source + j, cols - j)));
    }
  }
}

// The max-pool update of each lane: a larger value wins, then a NaN value
// over a number, and a NaN best is kept. The scalar loop's rule, as one
// mapping op (V::takes) and two selects.
template <class V>
void take_larger(V value, float offset, V& best, V& best_offset) {
  const auto take = V::takes(value, best);
  best = V::select(take, value, best);
  best_offset = V::select(take, V::broadcast(offset), best_offset);
}

// One row of max pooling (see KernelTable::max_pool_row). Strides 1 to 3
// run 'lanes' windows at once, each window element a strided load, and keep
// each lane's winning offset p width + q as an exact float. A last partial
// block is redone as a full block ending at the last window. The scalar
// loop finishes the row only when that block would read past `readable`.
template <class V>
void max_pool_row(const float* rows, int64_t width, int64_t kernel_h, int64_t kernel_w,
                  int64_t stride, int64_t out_w, int64_t readable, int64_t first_index,
                  float* out, int32_t* argmax) {
  const int64_t last_offset = (kernel_h - 1) * width + kernel_w - 1;
  int64_t ow = 0;
  if (stride < 1 || stride > 3 || last_offset >= (int64_t{1} << 24)) {
    max_pool_row_scalar(rows, width, kernel_h, kernel_w, stride, 0, out_w, first_index, out,
                        argmax);
    return;
  }
  // A block's last load starts at its last window element and reads lanes
  // stride floats.
  const auto block_fits = [&](int64_t start) {
    return start + V::lanes <= out_w && last_offset + (start + V::lanes) * stride <= readable;
  };
  const auto run_block = [&](int64_t start) {
    const float* window = rows + start * stride;
    V best = V::load_strided(window, stride);
    V best_offset = V::zero();
    for (int64_t p = 0; p < kernel_h; ++p) {
      for (int64_t q = p == 0 ? 1 : 0; q < kernel_w; ++q) {
        const V value = V::load_strided(window + p * width + q, stride);
        take_larger(value, static_cast<float>(p * width + q), best, best_offset);
      }
    }
    V::store(out + start, best);
    V::store_indices(argmax + start, static_cast<int32_t>(first_index + start * stride),
                     static_cast<int32_t>(stride), best_offset);
  };

  for (; block_fits(ow); ow += V::lanes) {
    run_block(ow);
  }
  if (ow < out_w && out_w >= V::lanes && block_fits(out_w - V::lanes)) {
    run_block(out_w - V::lanes);  // recomputes some windows, with the same result
    return;
  }
  max_pool_row_scalar(rows, width, kernel_h, kernel_w, stride, ow, out_w, first_index, out,
                      argmax);
}

// Max pooling of windows at given bases (see KernelTable::max_pool_windows),
// 'lanes' windows at once, each window element a gather. A last partial
// block is redone as a full block ending at the last window.
template <class V>
void max_pool_windows(const float* plane, int64_t width, int64_t kernel_h, int64_t kernel_w,
                      int64_t count, const int32_t* bases, float* out, int32_t* argmax) {
  const int64_t last_offset = (kernel_h - 1) * width + kernel_w - 1;
  if (count < V::lanes || last_offset >= (int64_t{1} << 24)) {
    max_pool_windows_scalar(plane, width, kernel_h, kernel_w, 0, count, bases, out, argmax);
    return;
  }
  const auto run_block = [&](int64_t start) {
    V best = V::gather(plane, bases + start);
    V best_offset = V::zero();
    for (int64_t p = 0; p < kernel_h; ++p) {
      for (int64_t q = p == 0 ? 1 : 0; q < kernel_w; ++q) {
        const V value = V::gather(plane + p * width + q, bases + start);
        take_larger(value, static_cast<float>(p * width + q), best, best_offset);
      }
    }
    V::store(out + start, best);
    V::store_indices(argmax + start, bases + start, best_offset);
  };
  int64_t t = 0;
  for (; t + V::lanes <= count; t += V::lanes) {
    run_block(t);
  }
  if (t < count) {
    run_block(count - V::lanes);  // recomputes some windows, with the same result
  }
}

// out = grad_out where x > 0, else 0.
template <class V>
void relu_mask(int64_t n, const float* x, const float* grad_out, float* out) {
  map_binary<V>(n, x, grad_out, out, [](V input, V upstream) {
    return V::select(V::greater(input, V::zero()), upstream, V::zero());
  });
}

// y += alpha * x, as a multiply then an add like the reference (no fused
// multiply-add), so every variant gives the same bits.
template <class V>
void axpy(int64_t n, float alpha, const float* x, float* y) {
  const V scale = V::broadcast(alpha);
  map_binary<V>(n, x, y, y, [scale](V xs, V ys) { return ys + scale * xs; });
}

// Sum of one row; the lanes hold interleaved partial sums, so the order
// differs from the reference and results agree to rounding, not bits.
template <class V>
float sum_of(int64_t n, const float* x) {
  V sum = V::zero();
  int64_t j = 0;
  for (; j + V::lanes <= n; j += V::lanes) {
    sum = sum + V::load(x + j);
  }
  if (j < n) {
    sum = sum + V::load_partial(x + j, n - j);
  }
  return V::reduce_add(sum);
}

// The max of an empty row is -inf, and a NaN anywhere gives NaN.
template <class V>
float max_of(int64_t n, const float* x) {
  const float lowest = -__builtin_inff();
  // V::max(max, value) returns value when either is NaN, so a NaN enters the
  // running max, and the select keeps it there once it has.
  const auto step = [](V max, V value) {
    return V::select(V::is_nan(max), max, V::max(max, value));
  };

  V max = V::broadcast(lowest);
  int64_t j = 0;
  for (; j + V::lanes <= n; j += V::lanes) {
    max = step(max, V::load(x + j));
  }
  if (j < n) {
    max = step(max, V::load_partial(x + j, n - j, lowest));
  }

  // The sum of the NaN lanes (0 where none) is NaN exactly when one lane is.
  const float nan_lanes = V::reduce_add(V::select(V::is_nan(max), max, V::zero()));
  if (nan_lanes != nan_lanes) {
    return nan_lanes;
  }
  return V::reduce_max(max);
}

// sum_j exp(x_j - shift); the tail's missing lanes load as -inf, whose exp is 0.
template <class V>
float sum_exp_shifted(int64_t n, const float* x, float shift) {
  const V shift_v = V::broadcast(shift);
  V sum = V::zero();
  int64_t j = 0;
  for (; j + V::lanes <= n; j += V::lanes) {
    sum = sum + simd_math::exp(V::load(x + j) - shift_v);
  }
  if (j < n) {
    const V tail = V::load_partial(x + j, n - j, -__builtin_inff());
    sum = sum + simd_math::exp(tail - shift_v);
  }
  return V::reduce_add(sum);
}

// sum_i x_i y_i, with interleaved partial sums in the lanes like sum_of.
template <class V>
float dot(int64_t n, const float* x, const float* y) {
  V sum = V::zero();
  int64_t i = 0;
  for (; i + V::lanes <= n; i += V::lanes) {
    sum = sum + V::load(x + i) * V::load(y + i);
  }
  if (i < n) {
    sum = sum + V::load_partial(x + i, n - i) * V::load_partial(y + i, n - i);
  }
  return V::reduce_add(sum);
}

// Blocks of kOutputVectors registers of y take every tap before moving on,
// so each tap's weight is broadcast once per block and y is loaded and
// stored once instead of once per tap.
template <class V>
void correlate_taps(int64_t n, int64_t taps, const float* weights, const int64_t* offsets,
                    const float* x, float* y) {
  constexpr int kOutputVectors = 4;
  constexpr int64_t kBlock = kOutputVectors * V::lanes;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    V sums[kOutputVectors];
#pragma GCC unroll 4
    for (int u = 0; u < kOutputVectors; ++u) {
      sums[u] = V::load(y + i + u * V::lanes);
    }
    for (int64_t k = 0; k < taps; ++k) {
      const V weight = V::broadcast(weights[k]);
      const float* source = x + offsets[k] + i;
#pragma GCC unroll 4
      for (int u = 0; u < kOutputVectors; ++u) {
        sums[u] = V::fma(weight, V::load(source + u * V::lanes), sums[u]);
      }
    }
#pragma GCC unroll 4
    for (int u = 0; u < kOutputVectors; ++u) {
      V::store(y + i + u * V::lanes, sums[u]);
    }
  }
  // The rest one register at a time, the last one partial.
  for (; i < n; i += V::lanes) {
    const int64_t count = n - i < V::lanes ? n - i : V::lanes;
    V sum = V::load_partial(y + i, count);
    for (int64_t k = 0; k < taps; ++k) {
      sum = V::fma(V::broadcast(weights[k]), V::load_partial(x + offsets[k] + i, count), sum);
    }
    V::store_partial(y + i, count, sum);
  }
}

// Computes the sums of TAPS taps at once, so each register of g is loaded
// once for all of them. Every tap has its own chain of multiply-adds.
template <class V, int TAPS>
void correlate_tap_block(int64_t n, const int64_t* offsets, const float* g, const float* x,
                         float* out) {
  V sums[TAPS];
#pragma GCC unroll 8
  for (int t = 0; t < TAPS; ++t) {
    sums[t] = V::zero();
  }
  int64_t i = 0;
  for (; i + V::lanes <= n; i += V::lanes) {
    const V upstream = V::load(g + i);
#pragma GCC unroll 8
    for (int t = 0; t < TAPS; ++t) {
      sums[t] = V::fma(upstream, V::load(x + offsets[t] + i), sums[t]);
    }
  }
  if (i < n) {
    const V upstream = V::load_partial(g + i, n - i);
#pragma GCC unroll 8
    for (int t = 0; t < TAPS; ++t) {
      sums[t] = V::fma(upstream, V::load_partial(x + offsets[t] + i, n - i), sums[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < TAPS; ++t) {
    out[t] += V::reduce_add(sums[t]);
  }
}

template <class V>
void correlate_taps_dots(int64_t n, int64_t taps, const int64_t* offsets, const float* g,
                         const float* x, float* out) {
  constexpr int kTaps = 8;
  int64_t k = 0;
  for (; k + kTaps <= taps; k += kTaps) {
    correlate_tap_block<V, kTaps>(n, offsets + k, g, x, out + k);
  }
  for (; k < taps; ++k) {
    correlate_tap_block<V, 1>(n, offsets + k, g, x, out + k);
  }
}

template <class V>
void row_sum(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    out[r] = sum_of<V>(n, x + r * n);
  }
}

template <class V>
void row_max(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    out[r] = max_of<V>(n, x + r * n);
  }
}

// Same edge cases as the reference: -inf for an empty or all -inf row, +inf
// when the row contains +inf, NaN when it contains NaN.
template <class V>
void row_logsumexp(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * n;
    const float max = max_of<V>(n, row);
    if (!(max > -__builtin_inff() && max < __builtin_inff())) {
      out[r] = max;
      continue;
    }

    const float sum = sum_exp_shifted<V>(n, row, max);
    out[r] = max + V::first(simd_math::log(V::broadcast(sum)));
  }
}

// softmax(x)_j = exp(x_j - max) / sum_k exp(x_k - max); zeros for a row of
// only -inf.
template <class V>
void row_softmax(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * n;
    float* out_row = out + r * n;
    const float row_max = max_of<V>(n, row);
    if (row_max == -__builtin_inff()) {
      map_unary<V>(n, row, out_row, [](V) { return V::zero(); });
      continue;
    }

    const V max = V::broadcast(row_max);
    map_unary<V>(n, row, out_row, [max](V value) { return simd_math::exp(value - max); });
    const V sum = V::broadcast(sum_of<V>(n, out_row));
    map_unary<V>(n, out_row, out_row, [sum](V value) { return value / sum; });
  }
}

// log_softmax(x)_j = (x_j - max) - log sum_k exp(x_k - max); -inf throughout
// for a row of only -inf.
template <class V>
void row_log_softmax(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * n;
    const float max = max_of<V>(n, row);
    if (max == -__builtin_inff()) {
      const V lowest = V::broadcast(max);
      map_unary<V>(n, row, out + r * n, [lowest](V) { return lowest; });
      continue;
    }
    const float sum = sum_exp_shifted<V>(n, row, max);

    const V max_v = V::broadcast(max);
    const V log_sum = simd_math::log(V::broadcast(sum));
    map_unary<V>(n, row, out + r * n,
                 [max_v, log_sum](V value) { return (value - max_v) - log_sum; });
  }
}

// grad_x += grad_y - exp(y) sum(grad_y) per row, adding nothing where y = -inf.
template <class V>
void row_log_softmax_backward(int64_t rows, int64_t n, const float* y, const float* grad_y,
                              float* grad_x) {
  const V lowest = V::broadcast(-__builtin_inff());
  for (int64_t r = 0; r < rows; ++r) {
    const float* y_row = y + r * n;
    const float* g_row = grad_y + r * n;
    float* out = grad_x + r * n;
    const V total = V::broadcast(sum_of<V>(n, g_row));
    const auto step = [&](V value, V upstream, V accumulated) {
      const V term = upstream - simd_math::exp(value) * total;
      return accumulated + V::select(V::equal(value, lowest), V::zero(), term);
    };
    int64_t j = 0;
    for (; j + V::lanes <= n; j += V::lanes) {
      V::store(out + j, step(V::load(y_row + j), V::load(g_row + j), V::load(out + j)));
    }
    if (j < n) {
      const int64_t rest = n - j;
      V::store_partial(out + j, rest,
                       step(V::load_partial(y_row + j, rest), V::load_partial(g_row + j, rest),
                            V::load_partial(out + j, rest)));
    }
  }
}

// One Adam step, with the reference's operations in the reference's order
// (square root and division are correctly rounded in both), so every variant
// gives the same bits.
template <class V>
void adam_update(int64_t n, float* param, const float* grad, float* m, float* v,
                 const AdamStep& step) {
  const V beta1 = V::broadcast(step.beta1);
  const V beta2 = V::broadcast(step.beta2);
  const V one_minus_beta1 = V::broadcast(1.0f - step.beta1);
  const V one_minus_beta2 = V::broadcast(1.0f - step.beta2);
  const V correction1 = V::broadcast(step.bias_correction1);
  const V correction2 = V::broadcast(step.bias_correction2);
  const V learning_rate = V::broadcast(step.learning_rate);
  const V decay = V::broadcast(step.learning_rate * step.weight_decay);
  const V epsilon = V::broadcast(step.epsilon);

  const auto update = [&](int64_t i, int64_t count) {
    const bool full = count == V::lanes;
    const V g = full ? V::load(grad + i) : V::load_partial(grad + i, count);
    V m_i = full ? V::load(m + i) : V::load_partial(m + i, count);
    V v_i = full ? V::load(v + i) : V::load_partial(v + i, count);
    V p = full ? V::load(param + i) : V::load_partial(param + i, count);

    m_i = beta1 * m_i + one_minus_beta1 * g;
    v_i = beta2 * v_i + one_minus_beta2 * g * g;
    const V m_hat = m_i / correction1;
    const V v_hat = v_i / correction2;
    p = p - decay * p;
    p = p - learning_rate * m_hat / (V::sqrt(v_hat) + epsilon);

    if (full) {
      V::store(m + i, m_i);
      V::store(v + i, v_i);
      V::store(param + i, p);
    } else {
      V::store_partial(m + i, count, m_i);
      V::store_partial(v + i, count, v_i);
      V::store_partial(param + i, count, p);
    }
  };

  int64_t i = 0;
  for (; i + V::lanes <= n; i += V::lanes) {
    update(i, V::lanes);
  }
  if (i < n) {
    update(i, n - i);
  }
}

// How many steps k ahead a prefetching GEMM micro-kernel fetches its B and
// A panels. The B panels stream from L2. On the Sapphire Rapids machine of
// docs/benchmarks.md, prefetching B 8 steps ahead (1 KiB for a 32-column
// panel) raised the AVX-512 [12, 32] kernel from 165 to 178 GFLOP/s on
// panels held in L2. 4 or 16 steps did no better. The A panel is reused
// from L1, but each call also streams a whole B panel (64 KiB at kc = 512)
// through the 48 KiB L1, which can evict it. Prefetching A 16 steps ahead
// gained 1-2% in whole products there. The AVX2 [4, 24] kernel gained about
// 1% at n = 1024 and lost 7% at n = 64, so it does not prefetch.
constexpr int64_t kGemmPrefetchStepsB = 8;
constexpr int64_t kGemmPrefetchStepsA = 16;

// The GEMM micro-kernel for panels packed [MR, NV * lanes] wide: it computes
// the top-left [ROWS, VECTORS * lanes] of the tile (ROWS <= MR, VECTORS <= NV)
// in ROWS * VECTORS registers, so edge tiles and thin products skip the
// padding. Each step k loads VECTORS registers of one B panel row, broadcasts
// ROWS values of the A panel and issues ROWS * VECTORS fused multiply-adds.
// The loops have compile-time bounds, so the compiler unrolls them and keeps
// the tile in registers. PREFETCH adds the prefetches described above.
// With IN_PLACE_A, a is op(A) itself, row i at a + i lda, instead of a
// packed panel. The kernel then prefetches only B.
template <class V, int MR, int NV, bool PREFETCH, int ROWS, int VECTORS, bool IN_PLACE_A>
inline __attribute__((always_inline)) void gemm_tile(int64_t kc, const float* a, int64_t lda,
                                                     const float* b_panel, float* c, int64_t ldc,
                                                     int64_t rows, int64_t cols, float alpha,
                                                     float beta) {
  constexpr int64_t NR = NV * V::lanes;
  const float* a_panel = a;
  const float* a_rows[ROWS];
  if constexpr (IN_PLACE_A) {
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i) {
      a_rows[i] = a + i * lda;
    }
  }

  // The C tile is read and written only after the k loop; fetching it now
  // hides the cache misses of large outputs behind the multiply-adds.
  for (int64_t i = 0; i < rows; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < VECTORS; ++j) {
      __builtin_prefetch(c + i * ldc + j * V::lanes, /*rw=*/1);
    }
  }

  V tile[ROWS][VECTORS];
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < VECTORS; ++j) {
      tile[i][j] = V::zero();
    }
  }

  for (int64_t k = 0; k < kc; ++k) {
    // One prefetch per 64-byte line of a B panel row. Near the end of the
    // panel it fetches the start of the next one, which the next call reads.
    if constexpr (PREFETCH) {
#pragma GCC unroll 8
      for (int64_t j = 0; j < NR; j += 16) {
        __builtin_prefetch(b_panel + (k + kGemmPrefetchStepsB) * NR + j);
      }
      if constexpr (!IN_PLACE_A) {
        __builtin_prefetch(a_panel + (k + kGemmPrefetchStepsA) * MR);
      }
    }
    V b[VECTORS];
#pragma GCC unroll 8
    for (int j = 0; j < VECTORS; ++j) {
      b[j] = V::load(b_panel + k * NR + j * V::lanes);
    }
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i) {
      const V a_ik = V::broadcast(IN_PLACE_A ? a_rows[i][k] : a_panel[k * MR + i]);
#pragma GCC unroll 8
      for (int j = 0; j < VECTORS; ++j) {
        tile[i][j] = V::fma(a_ik, b[j], tile[i][j]);
      }
    }
  }

  // C = alpha * tile + beta * C; beta = 0 must not read C, which may hold NaN.
  // The row loop has a compile-time bound, as the loops inside the k loop
  // do, so the tile is read from registers. With `rows` as the bound, GCC
  // stored the whole tile to the stack and loaded it back.
  const V alpha_v = V::broadcast(alpha);
  const V beta_v = V::broadcast(beta);
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i) {
    if (i >= rows) {
      break;
    }
    float* c_row = c + i * ldc;
#pragma GCC unroll 8
    for (int j = 0; j < VECTORS; ++j) {
      const int64_t count = cols - j * V::lanes;
      if (count <= 0) {
        break;
      }
      const bool full = count >= V::lanes;
      V result = alpha_v * tile[i][j];
      if (beta != 0.0f) {
        const V previous = full ? V::load(c_row + j * V::lanes)
                                : V::load_partial(c_row + j * V::lanes, count);
        result = V::fma(beta_v, previous, result);
      }
      if (full) {
        V::store(c_row + j * V::lanes, result);
      } else {
        V::store_partial(c_row + j * V::lanes, count, result);
      }
    }
  }
}

template <class V, int MR, int NV, bool PREFETCH, int ROWS, int VECTORS>
void gemm_micro_kernel(int64_t kc, const float* a_panel, const float* b_panel, float* c,
                       int64_t ldc, int64_t rows, int64_t cols, float alpha, float beta) {
  gemm_tile<V, MR, NV, PREFETCH, ROWS, VECTORS, false>(kc, a_panel, 0, b_panel, c, ldc, rows,
                                                       cols, alpha, beta);
}

template <class V, int MR, int NV, bool PREFETCH, int ROWS, int VECTORS>
void gemm_micro_kernel_in_place_a(int64_t kc, const float* a, int64_t lda, const float* b_panel,
                                  float* c, int64_t ldc, int64_t rows, int64_t cols, float alpha,
                                  float beta) {
  gemm_tile<V, MR, NV, PREFETCH, ROWS, VECTORS, true>(kc, a, lda, b_panel, c, ldc, rows, cols,
                                                      alpha, beta);
}

// The GEMM entry: the micro-kernel for every tile size up to [MR, NV].
template <class V, int MR, int NV, bool PREFETCH, std::size_t... Index>
GemmMicroKernel make_gemm_micro_kernel(std::index_sequence<Index...>) {
  GemmMicroKernel micro{MR, NV * V::lanes, V::lanes, {}};
  ((micro.by_size[Index / NV][Index % NV] =
        gemm_micro_kernel<V, MR, NV, PREFETCH, static_cast<int>(Index / NV) + 1,
                          static_cast<int>(Index % NV) + 1>),
   ...);
  ((micro.by_size_in_place_a[Index / NV][Index % NV] =
        gemm_micro_kernel_in_place_a<V, MR, NV, PREFETCH, static_cast<int>(Index / NV) + 1,
                                     static_cast<int>(Index % NV) + 1>),
   ...);
  return micro;
}

// The table entry for the whole family of kernels above, with a GEMM tile
// of [MR, NV registers] that prefetches its panels when GEMM_PREFETCH is set.
template <class V, int MR, int NV, bool GEMM_PREFETCH>
KernelTable make_table(Isa isa) {
  static_assert(MR <= GemmMicroKernel::kMaxRows && NV <= GemmMicroKernel::kMaxVectors);
  return KernelTable{
      .isa = isa,
      .add = add<V>,
      .sub = sub<V>,
      .mul = mul<V>,
      .div = div<V>,
      .add_scalar = add_scalar<V>,
      .mul_scalar = mul_scalar<V>,
      .div_scalar = div_scalar<V>,
      .relu = relu<V>,
      .sigmoid = sigmoid<V>,
      .tanh = tanh<V>,
      .exp = exp<V>,
      .log = log<V>,
      .relu_backward = relu_backward<V>,
      .relu_mask = relu_mask<V>,
      .transpose = transpose<V>,
      .copy_rows = copy_rows<V>,
      .shift_rows = shift_rows<V>,
      .axpy = axpy<V>,
      .dot = dot<V>,
      .correlate_taps = correlate_taps<V>,
      .correlate_taps_dots = correlate_taps_dots<V>,
      .row_sum = row_sum<V>,
      .row_max = row_max<V>,
      .row_logsumexp = row_logsumexp<V>,
      .row_softmax = row_softmax<V>,
      .row_log_softmax = row_log_softmax<V>,
      .row_log_softmax_backward = row_log_softmax_backward<V>,
      .max_pool_row = max_pool_row<V>,
      .max_pool_windows = max_pool_windows<V>,
      .adam_update = adam_update<V>,
      .winograd_input_tiles = winograd_input_tiles<V>,
      .winograd_input_tiles_channels_last = winograd_input_tiles_channels_last<V>,
      .winograd_output_tiles = winograd_output_tiles<V>,
      .winograd_output_gradient_tiles = winograd_output_gradient_tiles<V>,
      .winograd_input_gradient_tiles = winograd_input_gradient_tiles<V>,
      .gemm = make_gemm_micro_kernel<V, MR, NV, GEMM_PREFETCH>(std::make_index_sequence<MR * NV>()),
  };
}

}  // namespace ember::kernels::vector_kernels
