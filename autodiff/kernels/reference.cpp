// The scalar reference of every dispatched kernel: plain loops over floats
// that define each kernel's result. The SIMD variants (kernels_avx2.cpp,
// kernels_avx512.cpp) are tested against these. EMBER_SIMD=scalar runs them.
//
// Shapes: a row-wise kernel reads x as [rows, n], row-major and contiguous.
#include <algorithm>
#include <cmath>
#include <limits>

#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/pool_row.h"
#include "autodiff/kernels/winograd_tile.h"

namespace ember::kernels {

namespace {

void add(int64_t n, const float* a, const float* b, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = a[i] + b[i];
  }
}

void sub(int64_t n, const float* a, const float* b, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = a[i] - b[i];
  }
}

void mul(int64_t n, const float* a, const float* b, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = a[i] * b[i];
  }
}

void div(int64_t n, const float* a, const float* b, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = a[i] / b[i];
  }
}

void add_scalar(int64_t n, const float* a, float s, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = a[i] + s;
  }
}

void mul_scalar(int64_t n, const float* a, float s, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = a[i] * s;
  }
}

void div_scalar(int64_t n, const float* a, float s, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = a[i] / s;
  }
}

// relu(x) = x for x > 0, else +0; NaN gives 0 like the autodiff op's relu.
void relu(int64_t n, const float* x, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = x[i] > 0.0f ? x[i] : 0.0f;
  }
}

void sigmoid(int64_t n, const float* x, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = 1.0f / (1.0f + std::exp(-x[i]));
  }
}

void tanh(int64_t n, const float* x, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = std::tanh(x[i]);
  }
}

void exp(int64_t n, const float* x, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = std::exp(x[i]);
  }
}

void log(int64_t n, const float* x, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = std::log(x[i]);
  }
}

// grad_x += grad_out where x > 0: d relu(x) / dx is 1 there and 0 elsewhere.
void relu_backward(int64_t n, const float* x, const float* grad_out, float* grad_x) {
  for (int64_t i = 0; i < n; ++i) {
    grad_x[i] += x[i] > 0.0f ? grad_out[i] : 0.0f;
  }
}

// out = grad_out where x > 0, else 0: relu_backward into a fresh buffer.
void relu_mask(int64_t n, const float* x, const float* grad_out, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = x[i] > 0.0f ? grad_out[i] : 0.0f;
  }
}

void shift_rows(int64_t rows, int64_t cols, const float* in, int64_t in_ld, float shift,
                bool relu, float* out, int64_t out_ld) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const float value = in[i * in_ld + j] + shift;
      out[i * out_ld + j] = relu && !(value > 0.0f) ? 0.0f : value;
    }
  }
}

void transpose(int64_t rows, int64_t cols, const float* const* in_rows, float* out,
               int64_t ld_out) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      out[j * ld_out + i] = in_rows[i][j];
    }
  }
}

void max_pool_row(const float* rows, int64_t width, int64_t kernel_h, int64_t kernel_w,
                  int64_t stride, int64_t out_w, int64_t /*readable*/, int64_t first_index,
                  float* out, int32_t* argmax) {
  max_pool_row_scalar(rows, width, kernel_h, kernel_w, stride, 0, out_w, first_index, out,
                      argmax);
}

void copy_rows(int64_t rows, int64_t cols, const float* const* in_rows, float* out,
               int64_t ld_out) {
  for (int64_t i = 0; i < rows; ++i) {
    std::copy_n(in_rows[i], cols, out + i * ld_out);
    std::fill(out + i * ld_out + cols, out + (i + 1) * ld_out, 0.0f);
  }
}

void max_pool_windows(const float* plane, int64_t width, int64_t kernel_h, int64_t kernel_w,
                      int64_t count, const int32_t* bases, float* out, int32_t* argmax) {
  max_pool_windows_scalar(plane, width, kernel_h, kernel_w, 0, count, bases, out, argmax);
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    y[i] += alpha * x[i];
  }
}

float dot(int64_t n, const float* x, const float* y) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    sum += x[i] * y[i];
  }
  return sum;
}

void correlate_taps(int64_t n, int64_t taps, const float* weights, const int64_t* offsets,
                    const float* x, float* y) {
  for (int64_t k = 0; k < taps; ++k) {
    const float* source = x + offsets[k];
    for (int64_t i = 0; i < n; ++i) {
      y[i] = std::fma(weights[k], source[i], y[i]);
    }
  }
}

void correlate_taps_dots(int64_t n, int64_t taps, const int64_t* offsets, const float* g,
                         const float* x, float* out) {
  for (int64_t k = 0; k < taps; ++k) {
    const float* source = x + offsets[k];
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      sum = std::fma(g[i], source[i], sum);
    }
    out[k] += sum;
  }
}

void row_sum(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      sum += x[r * n + j];
    }
    out[r] = sum;
  }
}

// The max of an empty row is -inf, the identity of max. A NaN anywhere gives
// NaN, so it propagates instead of being skipped.
float max_of(int64_t n, const float* x) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    if (std::isnan(x[j])) {
      return x[j];
    }
    max = x[j] > max ? x[j] : max;
  }
  return max;
}

void row_max(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    out[r] = max_of(n, x + r * n);
  }
}

// log sum_j exp(x_j) = max + log sum_j exp(x_j - max): subtracting the max
// keeps every exp in (0, 1], so nothing overflows. A row of only -inf (or an
// empty row) gives -inf, the identity of log-add. A +inf entry gives +inf and
// a NaN entry NaN.
float sum_exp_shifted(int64_t n, const float* x, float shift) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    sum += std::exp(x[j] - shift);
  }
  return sum;
}

float logsumexp_of(int64_t n, const float* x) {
  const float max = max_of(n, x);
  if (!std::isfinite(max)) {
    return max;
  }
  return max + std::log(sum_exp_shifted(n, x, max));
}

void row_logsumexp(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    out[r] = logsumexp_of(n, x + r * n);
  }
}

// softmax(x)_j = exp(x_j - max) / sum_k exp(x_k - max); the max is
// subtracted so no exp overflows. A row of only -inf has no distribution and
// gives zeros rather than 0 / 0.
void row_softmax(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * n;
    float* out_row = out + r * n;
    const float max = max_of(n, row);
    if (max == -std::numeric_limits<float>::infinity()) {
      std::fill(out_row, out_row + n, 0.0f);
      continue;
    }

    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      out_row[j] = std::exp(row[j] - max);
      sum += out_row[j];
    }
    for (int64_t j = 0; j < n; ++j) {
      out_row[j] /= sum;
    }
  }
}

// log_softmax(x)_j = x_j - logsumexp(x), computed as (x_j - max) - log(sum)
// so a large max does not swallow the small differences. A row of only -inf
// gives -inf throughout rather than NaN.
void row_log_softmax(int64_t rows, int64_t n, const float* x, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * n;
    float* out_row = out + r * n;
    const float max = max_of(n, row);
    if (max == -std::numeric_limits<float>::infinity()) {
      std::fill(out_row, out_row + n, max);
      continue;
    }
    const float log_sum = std::log(sum_exp_shifted(n, row, max));
    for (int64_t j = 0; j < n; ++j) {
      out_row[j] = (row[j] - max) - log_sum;
    }
  }
}

void row_log_softmax_backward(int64_t rows, int64_t n, const float* y, const float* grad_y,
                              float* grad_x) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* y_row = y + r * n;
    const float* g_row = grad_y + r * n;
    float total = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      total += g_row[j];
    }
    for (int64_t j = 0; j < n; ++j) {
      if (y_row[j] != -std::numeric_limits<float>::infinity()) {
        grad_x[r * n + j] += g_row[j] - std::exp(y_row[j]) * total;
      }
    }
  }
}

void adam_update(int64_t n, float* param, const float* grad, float* m, float* v,
                 const AdamStep& step) {
  for (int64_t i = 0; i < n; ++i) {
    m[i] = step.beta1 * m[i] + (1.0f - step.beta1) * grad[i];
    v[i] = step.beta2 * v[i] + (1.0f - step.beta2) * grad[i] * grad[i];
    const float m_hat = m[i] / step.bias_correction1;
    const float v_hat = v[i] / step.bias_correction2;
    param[i] -= step.learning_rate * step.weight_decay * param[i];
    param[i] -= step.learning_rate * m_hat / (std::sqrt(v_hat) + step.epsilon);
  }
}

// The Winograd F(2x2, 3x3) tile transforms of winograd.h, one tile at a
// time. winograd_tile.h contains the arithmetic, shared with the SIMD variants.
void winograd_input_tiles(int64_t tiles, const float* in, int64_t row_ld, float* out,
                          int64_t point_ld) {
  for (int64_t t = 0; t < tiles; ++t) {
    float d[4][4];
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) {
        d[i][j] = in[i * row_ld + 2 * t + j];
      }
    }

    float v[4][4];
    winograd_tile::input(d, v);

    for (int xi = 0; xi < 16; ++xi) {
      out[xi * point_ld + t] = v[xi / 4][xi % 4];
    }
  }
}

void winograd_input_tiles_channels_last(int64_t tiles, int64_t channels, const float* in,
                                        int64_t row_ld, float* out, int64_t point_ld) {
  for (int64_t t = 0; t < tiles; ++t) {
    for (int64_t c = 0; c < channels; ++c) {
      float d[4][4];
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          d[i][j] = in[i * row_ld + (2 * t + j) * channels + c];
        }
      }

      float v[4][4];
      winograd_tile::input(d, v);

      for (int xi = 0; xi < 16; ++xi) {
        out[xi * point_ld + t * channels + c] = v[xi / 4][xi % 4];
      }
    }
  }
}

bool winograd_output_tiles(int64_t tiles, const float* m, int64_t point_ld, float bias,
                           bool relu, float* out, int64_t row_ld, int64_t rows, int64_t width) {
  bool finite = true;
  for (int64_t t = 0; t < tiles; ++t) {
    float products[4][4];
    for (int xi = 0; xi < 16; ++xi) {
      products[xi / 4][xi % 4] = m[xi * point_ld + t];
    }

    float y[2][2];
    winograd_tile::output(products, y);

    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        finite = finite && std::isfinite(y[i][j]);
        const float value = y[i][j] + bias;
        if (i < rows && 2 * t + j < width) {
          out[i * row_ld + 2 * t + j] = relu && !(value > 0.0f) ? 0.0f : value;
        }
      }
    }
  }
  return finite;
}

bool winograd_output_gradient_tiles(int64_t tiles, const float* grad, int64_t row_ld,
                                    float* out, int64_t point_ld) {
  bool finite = true;
  for (int64_t t = 0; t < tiles; ++t) {
    float dy[2][2];
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        dy[i][j] = grad[i * row_ld + 2 * t + j];
      }
    }

    float dm[4][4];
    winograd_tile::output_gradient(dy, dm);

    for (int xi = 0; xi < 16; ++xi) {
      out[xi * point_ld + t] = dm[xi / 4][xi % 4];
      finite = finite && std::isfinite(dm[xi / 4][xi % 4]);
    }
  }
  return finite;
}

void winograd_input_gradient_tiles(int64_t tiles, const float* dv, int64_t point_ld,
                                   float* grad_in, int64_t row_ld) {
  float previous[4][4] = {};  // dd of tile s - 1, zero before the first
  for (int64_t s = 0; s <= tiles; ++s) {
    float current[4][4] = {};  // dd of tile s, zero past the last
    if (s < tiles) {
      float gradients[4][4];
      for (int xi = 0; xi < 16; ++xi) {
        gradients[xi / 4][xi % 4] = dv[xi * point_ld + s];
      }
      winograd_tile::input_gradient(gradients, current);
    }

    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 2; ++j) {
        grad_in[i * row_ld + 2 * s + j] += current[i][j] + previous[i][2 + j];
      }
    }
    std::copy_n(&current[0][0], 16, &previous[0][0]);
  }
}

// The scalar micro-kernel: a [4, 4] tile accumulated in float in k order,
// the same order the SIMD micro-kernels use.
constexpr int64_t kScalarMr = 4;
constexpr int64_t kScalarNr = 4;

void gemm_micro_kernel(int64_t kc, const float* a_panel, const float* b_panel, float* c,
                       int64_t ldc, int64_t rows, int64_t cols, float alpha, float beta) {
  float tile[kScalarMr][kScalarNr] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int64_t i = 0; i < kScalarMr; ++i) {
      for (int64_t j = 0; j < kScalarNr; ++j) {
        tile[i][j] += a_panel[k * kScalarMr + i] * b_panel[k * kScalarNr + j];
      }
    }
  }

  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const float scaled = alpha * tile[i][j];
      // beta = 0 must not read C, which may hold NaN.
      c[i * ldc + j] = beta == 0.0f ? scaled : scaled + beta * c[i * ldc + j];
    }
  }
}

// The scalar kernel handles any tile size itself, so it fills every entry.
GemmMicroKernel scalar_gemm_micro_kernel() {
  GemmMicroKernel micro{kScalarMr, kScalarNr, /*lanes=*/1, {}};
  for (auto& row : micro.by_size) {
    for (auto& entry : row) {
      entry = gemm_micro_kernel;
    }
  }
  return micro;
}

}  // namespace

namespace detail {

const KernelTable& scalar_table() {
  static const KernelTable table = {
      .isa = Isa::scalar,
      .add = add,
      .sub = sub,
      .mul = mul,
      .div = div,
      .add_scalar = add_scalar,
      .mul_scalar = mul_scalar,
      .div_scalar = div_scalar,
      .relu = relu,
      .sigmoid = sigmoid,
      .tanh = tanh,
      .exp = exp,
      .log = log,
      .relu_backward = relu_backward,
      .relu_mask = relu_mask,
      .transpose = transpose,
      .copy_rows = copy_rows,
      .shift_rows = shift_rows,
      .axpy = axpy,
      .dot = dot,
      .correlate_taps = correlate_taps,
      .correlate_taps_dots = correlate_taps_dots,
      .row_sum = row_sum,
      .row_max = row_max,
      .row_logsumexp = row_logsumexp,
      .row_softmax = row_softmax,
      .row_log_softmax = row_log_softmax,
      .row_log_softmax_backward = row_log_softmax_backward,
      .max_pool_row = max_pool_row,
      .max_pool_windows = max_pool_windows,
      .adam_update = adam_update,
      .winograd_input_tiles = winograd_input_tiles,
      .winograd_input_tiles_channels_last = winograd_input_tiles_channels_last,
      .winograd_output_tiles = winograd_output_tiles,
      .winograd_output_gradient_tiles = winograd_output_gradient_tiles,
      .winograd_input_gradient_tiles = winograd_input_gradient_tiles,
      .gemm = scalar_gemm_micro_kernel(),
  };
  return table;
}

}  // namespace detail

}  // namespace ember::kernels
