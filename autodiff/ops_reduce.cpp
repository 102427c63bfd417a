// Reductions along one axis or all axes, and softmax / log_softmax.
//
// A reduction over dimension d views x as [outer, n, inner], where n is the
// size of d, outer the product of the sizes before it and inner the product
// of the sizes after it; the result is [outer, inner]. Reducing over all
// elements is the case outer = inner = 1, n = numel.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "autodiff/kernels/rows.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"

namespace ember {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct ReduceLayout {
  int64_t outer = 1;
  int64_t n = 1;
  int64_t inner = 1;
  Shape out_shape;
  int64_t dim = -1;  // -1 when reducing over all elements
};

ReduceLayout make_layout(const Tensor& x, std::optional<int64_t> dim, bool keepdim,
                         const char* op) {
  ReduceLayout layout;
  const Shape& shape = x.shape();
  if (!dim.has_value()) {
    layout.n = x.numel();
    layout.out_shape = keepdim ? Shape(shape.size(), 1) : Shape{};
    return layout;
  }

  const int64_t d = normalize_dim(*dim, x.dim(), op);
  layout.dim = d;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < d) {
      layout.outer *= shape[i];
    } else if (i > d) {
      layout.inner *= shape[i];
    }
  }
  layout.n = shape[d];
  layout.out_shape = shape;
  if (keepdim) {
    layout.out_shape[d] = 1;
  } else {
    layout.out_shape.erase(layout.out_shape.begin() + d);
  }
  return layout;
}

void reject_empty(const Tensor& x, const ReduceLayout& layout, const char* op) {
  if (layout.n == 0 && layout.outer * layout.inner > 0) {
    throw std::invalid_argument(fmt::format(
        "{}: cannot reduce over an empty axis (dimension {} of shape {}) because {} has no "
        "identity value",
        op, layout.dim, shape_to_string(x.shape()), op));
  }
}

// Position (0 .. n-1) of the first extreme element in one slice. A NaN wins
// over any number, so NaN propagates instead of being silently skipped.
template <class Better>
int64_t find_extreme(const float* values, int64_t n, int64_t stride, Better better) {
  int64_t best = 0;
  for (int64_t k = 1; k < n; ++k) {
    const float candidate = values[k * stride];
    const float current = values[best * stride];
    if (std::isnan(current)) {
      break;
    }
    if (std::isnan(candidate) || better(candidate, current)) {
      best = k;
    }
  }
  return best;
}

// max and min: the value at the first extreme position, which also receives
// the whole gradient.
template <class Better>
Tensor extreme_op(const char* op, const Tensor& x, std::optional<int64_t> dim, bool keepdim,
                  Better better) {
  const ReduceLayout layout = make_layout(x, dim, keepdim, op);
  reject_empty(x, layout, op);

  Tensor y = zeros(layout.out_shape);
  std::vector<int64_t> positions(static_cast<size_t>(layout.outer * layout.inner));
  const float* xs = x.data();
  float* ys = y.mutable_data();
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t i = 0; i < layout.inner; ++i) {
      const float* slice = xs + o * layout.n * layout.inner + i;
      const int64_t k = find_extreme(slice, layout.n, layout.inner, better);
      positions[static_cast<size_t>(o * layout.inner + i)] = k;
      ys[o * layout.inner + i] = slice[k * layout.inner];
    }
  }

  if (needs_grad({&x})) {
    Tape::current().record(op, {x}, y,
                           [x, layout, positions = std::move(positions)](const Tensor& grad_y) {
                             // d max/d x_k = 1 at the chosen position k, 0 elsewhere
                             float* grad_x = grad_buffer(x);
                             const float* g = grad_y.data();
                             for (int64_t o = 0; o < layout.outer; ++o) {
                               for (int64_t i = 0; i < layout.inner; ++i) {
                                 const int64_t out = o * layout.inner + i;
                                 const int64_t k = positions[static_cast<size_t>(out)];
                                 grad_x[(o * layout.n + k) * layout.inner + i] += g[out];
                               }
                             }
                           });
  }
  return y;
}

template <class Better>
Tensor arg_extreme(const char* op, const Tensor& x, std::optional<int64_t> dim, bool keepdim,
                   Better better) {
  const ReduceLayout layout = make_layout(x, dim, keepdim, op);
  reject_empty(x, layout, op);

  Tensor y = zeros(layout.out_shape);
  const float* xs = x.data();
  float* ys = y.mutable_data();
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t i = 0; i < layout.inner; ++i) {
      const float* slice = xs + o * layout.n * layout.inner + i;
      ys[o * layout.inner + i] =
          static_cast<float>(find_extreme(slice, layout.n, layout.inner, better));
    }
  }
  return y;
}

// Per slice of x along the layout's axis: the max m and s = sum_k exp(x_k - m).
// Working relative to m keeps x_k - m exact-ish even when x is large, which
// computing x_k - logsumexp(x) directly would not be.
struct SliceScale {
  std::vector<float> max;
  std::vector<double> sum_exp;
};

SliceScale slice_scales(const Tensor& x, const ReduceLayout& layout) {
  SliceScale scales;
  scales.max.assign(static_cast<size_t>(layout.outer * layout.inner), -kInf);
  scales.sum_exp.assign(scales.max.size(), 0.0);
  const float* xs = x.data();
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t i = 0; i < layout.inner; ++i) {
      const size_t out = static_cast<size_t>(o * layout.inner + i);
      for (int64_t k = 0; k < layout.n; ++k) {
        // A NaN must win, as in the row kernels. std::max(-inf, NaN) keeps
        // -inf, which would treat a slice of NaN and -inf as all -inf.
        const float value = xs[(o * layout.n + k) * layout.inner + i];
        if (std::isnan(value) || value > scales.max[out]) {
          scales.max[out] = value;
        }
      }
      if (scales.max[out] == -kInf) {
        continue;  // all -inf: no distribution, callers return zeros / -inf
      }
      for (int64_t k = 0; k < layout.n; ++k) {
        scales.sum_exp[out] += std::exp(static_cast<double>(xs[(o * layout.n + k) * layout.inner + i]) - scales.max[out]);
      }
    }
  }
  return scales;
}

// A row kernel from kernels/rows.h: (rows, n, x, out) over contiguous rows.
using RowKernel = void (*)(int64_t, int64_t, const float*, float*);

// Computes softmax or log_softmax of x along the layout's axis, which differ
// only in the formula for one element. Contiguous rows (inner == 1) go to
// row_kernel, which computes the same values and handles the same edge cases.
// Strided slices call element(x_k, m, s) for each x_k, where m is the slice's
// max (-inf for an all -inf slice) and s = sum_k exp(x_k - m).
template <class Element>
Tensor normalize_slices(const Tensor& x, const ReduceLayout& layout, RowKernel row_kernel,
                        Element element) {
  Tensor y = zeros(x.shape());
  if (layout.inner == 1) {
    row_kernel(layout.outer, layout.n, x.data(), y.mutable_data());
    return y;
  }

  const SliceScale scales = slice_scales(x, layout);
  const float* xs = x.data();
  float* ys = y.mutable_data();
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t k = 0; k < layout.n; ++k) {
      for (int64_t i = 0; i < layout.inner; ++i) {
        const size_t out = static_cast<size_t>(o * layout.inner + i);
        const int64_t at = (o * layout.n + k) * layout.inner + i;
        ys[at] = element(xs[at], scales.max[out], scales.sum_exp[out]);
      }
    }
  }
  return y;
}

}  // namespace

Tensor sum(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  const ReduceLayout layout = make_layout(x, dim, keepdim, "sum");

  Tensor y = zeros(layout.out_shape);
  const float* xs = x.data();
  float* ys = y.mutable_data();
  for (int64_t o = 0; o < layout.outer; ++o) {
    for (int64_t i = 0; i < layout.inner; ++i) {
      // Accumulate in double so long sums do not lose small terms.
      double total = 0.0;
      for (int64_t k = 0; k < layout.n; ++k) {
        total += xs[(o * layout.n + k) * layout.inner + i];
      }
      ys[o * layout.inner + i] = static_cast<float>(total);
    }
  }

  if (needs_grad({&x})) {
    Tape::current().record("sum", {x}, y, [x, layout](const Tensor& grad_y) {
      // d sum/d x_k = 1 for every k
      float* grad_x = grad_buffer(x);
      const float* g = grad_y.data();
      for (int64_t o = 0; o < layout.outer; ++o) {
        for (int64_t k = 0; k < layout.n; ++k) {
          for (int64_t i = 0; i < layout.inner; ++i) {
            grad_x[(o * layout.n + k) * layout.inner + i] += g[o * layout.inner + i];
          }
        }
      }
    });
  }
  return y;
}

Tensor mean(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  const ReduceLayout layout = make_layout(x, dim, keepdim, "mean");
  reject_empty(x, layout, "mean");
  if (layout.n == 0) {
    return zeros(layout.out_shape);  // no slices at all, so nothing to average
  }
  return sum(x, dim, keepdim) * (1.0f / static_cast<float>(layout.n));
}

Tensor max(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return extreme_op("max", x, dim, keepdim, [](float a, float b) { return a > b; });
}

Tensor min(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return extreme_op("min", x, dim, keepdim, [](float a, float b) { return a < b; });
}

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme("argmax", x, dim, keepdim, [](float a, float b) { return a > b; });
}

Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme("argmin", x, dim, keepdim, [](float a, float b) { return a < b; });
}

Tensor logsumexp(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  const ReduceLayout layout = make_layout(x, dim, keepdim, "logsumexp");

  Tensor y = zeros(layout.out_shape);
  if (layout.inner == 1) {
    // Contiguous rows: the SIMD row kernel computes the same values and
    // handles the same edge cases.
    kernels::row_logsumexp(layout.outer, layout.n, x.data(), y.mutable_data());
  } else {
    const float* xs = x.data();
    float* ys = y.mutable_data();
    for (int64_t o = 0; o < layout.outer; ++o) {
      for (int64_t i = 0; i < layout.inner; ++i) {
        const float* slice = xs + o * layout.n * layout.inner + i;
        float m = -kInf;
        for (int64_t k = 0; k < layout.n; ++k) {
          const float v = slice[k * layout.inner];
          if (std::isnan(v)) {
            m = v;  // NaN propagates to the result
            break;
          }
          m = std::max(m, v);
        }
        // Subtracting the max keeps every exp in (0, 1]. An empty or all -inf
        // slice has sum 0, whose log is -inf, the identity of log-add.
        if (!std::isfinite(m)) {
          ys[o * layout.inner + i] = m;
          continue;
        }
        double total = 0.0;
        for (int64_t k = 0; k < layout.n; ++k) {
          total += std::exp(static_cast<double>(slice[k * layout.inner]) - m);
        }
        ys[o * layout.inner + i] = m + static_cast<float>(std::log(total));
      }
    }
  }

  if (needs_grad({&x})) {
    Tape::current().record("logsumexp", {x}, y, [x, y, layout](const Tensor& grad_y) {
      // d lse/d x_k = exp(x_k - lse) = softmax(x)_k. A slice whose lse is
      // -inf has no distribution, and one whose lse is +inf or NaN has no
      // finite softmax, so both get a zero gradient.
      float* grad_x = grad_buffer(x);
      const float* g = grad_y.data();
      const float* xs = x.data();
      const float* ys = y.data();
      for (int64_t o = 0; o < layout.outer; ++o) {
        for (int64_t i = 0; i < layout.inner; ++i) {
          const int64_t out = o * layout.inner + i;
          if (!std::isfinite(ys[out])) {
            continue;
          }
          for (int64_t k = 0; k < layout.n; ++k) {
            const int64_t at = (o * layout.n + k) * layout.inner + i;
            grad_x[at] += g[out] * std::exp(xs[at] - ys[out]);
          }
        }
      }
    });
  }
  return y;
}

Tensor softmax(const Tensor& x, int64_t dim) {
  const ReduceLayout layout = make_layout(x, dim, /*keepdim=*/true, "softmax");

  // y_k = exp(x_k - m) / s. A slice that is all -inf has no distribution;
  // its result is all zeros rather than NaN.
  Tensor y =
      normalize_slices(x, layout, kernels::row_softmax, [](float x_k, float m, double s) {
        return m == -kInf ? 0.0f : static_cast<float>(std::exp(static_cast<double>(x_k) - m) / s);
      });

  if (needs_grad({&x})) {
    Tape::current().record("softmax", {x}, y, [x, y, layout](const Tensor& grad_y) {
      // d y_k/d x_j = y_k (delta_kj - y_j), so grad_x_j = y_j (g_j - sum_k g_k y_k)
      float* grad_x = grad_buffer(x);
      const float* g = grad_y.data();
      const float* ys = y.data();
      for (int64_t o = 0; o < layout.outer; ++o) {
        for (int64_t i = 0; i < layout.inner; ++i) {
          double dot = 0.0;
          for (int64_t k = 0; k < layout.n; ++k) {
            const int64_t at = (o * layout.n + k) * layout.inner + i;
            dot += static_cast<double>(g[at]) * ys[at];
          }
          for (int64_t k = 0; k < layout.n; ++k) {
            const int64_t at = (o * layout.n + k) * layout.inner + i;
            grad_x[at] += ys[at] * (g[at] - static_cast<float>(dot));
          }
        }
      }
    });
  }
  return y;
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  const ReduceLayout layout = make_layout(x, dim, /*keepdim=*/true, "log_softmax");

  // y_k = (x_k - m) - log s. An all -inf slice gives -inf everywhere, not NaN.
  Tensor y =
      normalize_slices(x, layout, kernels::row_log_softmax, [](float x_k, float m, double s) {
        return m == -kInf ? -kInf
                          : static_cast<float>((static_cast<double>(x_k) - m) - std::log(s));
      });

  if (needs_grad({&x})) {
    Tape::current().record("log_softmax", {x}, y, [x, y, layout](const Tensor& grad_y) {
      // d y_k/d x_j = delta_kj - softmax_j, so grad_x_j = g_j - softmax_j sum_k g_k
      float* grad_x = grad_buffer(x);
      const float* g = grad_y.data();
      const float* ys = y.data();
      if (layout.inner == 1) {  // rows along the last dimension
        kernels::row_log_softmax_backward(layout.outer, layout.n, ys, g, grad_x);
        return;
      }
      for (int64_t o = 0; o < layout.outer; ++o) {
        for (int64_t i = 0; i < layout.inner; ++i) {
          double total = 0.0;
          for (int64_t k = 0; k < layout.n; ++k) {
            total += g[(o * layout.n + k) * layout.inner + i];
          }
          for (int64_t k = 0; k < layout.n; ++k) {
            const int64_t at = (o * layout.n + k) * layout.inner + i;
            if (ys[at] == -kInf) {
              continue;  // probability 0: no gradient flows through it
            }
            grad_x[at] += g[at] - std::exp(ys[at]) * static_cast<float>(total);
          }
        }
      }
    });
  }
  return y;
}

}  // namespace ember
