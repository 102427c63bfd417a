// Elementwise ops: unary functions, broadcasting binary arithmetic, where.
//
// Each op is one call to unary_op or binary_op with two small functions: the
// forward value, and the local derivative that backward multiplies with the
// upstream gradient. The loops here are plain scalar code, the readable
// reference; the SIMD kernels in autodiff/kernels/ speed up the same math.
#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "autodiff/kernels/elementwise.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"

namespace ember {

// ------------------------------------------------------------ broadcasting

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t ndim = std::max(a.size(), b.size());
  Shape out(ndim);
  for (size_t i = 0; i < ndim; ++i) {
    // Align from the right: missing leading dimensions count as size 1.
    const int64_t size_a = i < ndim - a.size() ? 1 : a[i - (ndim - a.size())];
    const int64_t size_b = i < ndim - b.size() ? 1 : b[i - (ndim - b.size())];
    if (size_a != size_b && size_a != 1 && size_b != 1) {
      throw std::invalid_argument(fmt::format(
          "{}: shapes {} and {} cannot be broadcast: dimension {} has sizes {} and {}; each "
          "pair of sizes must match or one must be 1",
          op, shape_to_string(a), shape_to_string(b), i, size_a, size_b));
    }
    out[i] = size_a == 1 ? size_b : size_a;
  }
  return out;
}

namespace {

// For each element of a tensor of shape `out`, the flat index of the element
// of a tensor of shape `in` that broadcasting maps to it. Empty when the
// shapes are equal, meaning the identity map.
std::vector<int64_t> broadcast_offsets(const Shape& in, const Shape& out) {
  if (in == out) {
    return {};
  }

  // Stride of each output dimension within the input; 0 where in is broadcast.
  const size_t ndim = out.size();
  const size_t skipped = ndim - in.size();
  const std::vector<int64_t> in_strides = contiguous_strides(in);
  std::vector<int64_t> strides(ndim, 0);
  for (size_t d = skipped; d < ndim; ++d) {
    strides[d] = in[d - skipped] == 1 ? 0 : in_strides[d - skipped];
  }

  // Walk the output like an odometer, carrying the input offset along.
  const int64_t count = shape_numel(out);
  std::vector<int64_t> offsets(static_cast<size_t>(count));
  std::vector<int64_t> index(ndim, 0);
  int64_t offset = 0;
  for (int64_t i = 0; i < count; ++i) {
    offsets[static_cast<size_t>(i)] = offset;
    for (size_t d = ndim; d-- > 0;) {
      ++index[d];
      offset += strides[d];
      if (index[d] < out[d]) {
        break;
      }
      offset -= strides[d] * index[d];
      index[d] = 0;
    }
  }
  return offsets;
}

// 1 / (1 + e^-v), branching on the sign so exp never overflows.
float stable_sigmoid(float v) {
  if (v >= 0.0f) {
    return 1.0f / (1.0f + std::exp(-v));
  }
  const float e = std::exp(v);
  return e / (1.0f + e);
}

int64_t mapped(const std::vector<int64_t>& offsets, int64_t i) {
  return offsets.empty() ? i : offsets[static_cast<size_t>(i)];
}

// The SIMD kernels that compute some forward functions in one call.
using UnaryKernel = void (*)(int64_t n, const float* x, float* out);
using BinaryKernel = void (*)(int64_t n, const float* a, const float* b, float* out);

// The SIMD kernel that does a whole backward in one call:
// grad_x[i] += grad_y[i] * df(x[i]).
using UnaryBackwardKernel = void (*)(int64_t n, const float* x, const float* grad_y,
                                     float* grad_x);

// y = f(x) elementwise. df(x, y) is dy/dx at one element; backward adds
// grad_y * df(x, y) into x's gradient. A `kernel` computing the same f, if
// given, replaces the forward loop, and a `backward_kernel` computing the
// same accumulation replaces the backward loop.
template <class Forward, class Derivative>
Tensor unary_op(const char* op, const Tensor& x, Forward f, Derivative df,
                UnaryKernel kernel = nullptr, UnaryBackwardKernel backward_kernel = nullptr) {
  Tensor y = empty(x.shape());
  const float* x_values = x.data();
  float* y_values = y.mutable_data();
  const int64_t count = x.numel();
  if (kernel != nullptr) {
    kernel(count, x_values, y_values);
  } else {
    for (int64_t i = 0; i < count; ++i) {
      y_values[i] = f(x_values[i]);
    }
  }

  if (needs_grad({&x})) {
    Tape::current().record(op, {x}, y, [x, y, df, count, backward_kernel](const Tensor& grad_y) {
      float* grad_x = grad_buffer(x);
      const float* g = grad_y.data();
      const float* xs = x.data();
      const float* ys = y.data();
      if (backward_kernel != nullptr) {
        backward_kernel(count, xs, g, grad_x);
        return;
      }
      for (int64_t i = 0; i < count; ++i) {
        grad_x[i] += g[i] * df(xs[i], ys[i]);
      }
    });
  }
  return y;
}

// ---- broadcasting by rows
//
// Most broadcasts keep one contiguous run of the output's dimensions and
// repeat it: a bias [C] over [B, L, C], a scale [C, 1, 1] over [B, C, H, W],
// a scalar over anything. Such an input is read along the output as rows of
// `inner` elements, each row either a contiguous slice of the input or one
// repeated value, so the loops below need no per-element index table. Other
// broadcasts ([B, 1, W] over [B, H, W], say) use the table of
// broadcast_offsets.

// The read pattern of one input when the output is walked as rows of
// `inner` elements: element j of row r is input element
// (r % row_period) * row_scale + j * step.
struct RowAccess {
  int64_t row_period = 1;
  int64_t row_scale = 0;
  int64_t step = 0;  // 1 for a slice of the input, 0 for one value per row

  int64_t row_offset(int64_t row) const { return row % row_period * row_scale; }
};

// An input of shape `in` seen along `out`: the input keeps the output's
// dimensions [first, last) and has size 1 elsewhere (dimensions of size 1
// in the output count as either).
struct KeptRun {
  bool contiguous = false;
  int64_t size = 1;    // the input's element count
  int64_t repeat = 1;  // the product of the output's sizes after the run

  // Returns the maximum stretch of output elements that read the input one
  // way: a slice of all `size` elements when repeat = 1, else one value
  // `repeat` times.
  int64_t run() const { return repeat == 1 ? size : repeat; }
};

KeptRun kept_run(const Shape& in, const Shape& out) {
  const size_t skipped = out.size() - in.size();
  KeptRun result;
  bool seen_kept = false;
  bool gap_after_kept = false;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 1) {
      continue;
    }
    const bool input_keeps = d >= skipped && in[d - skipped] != 1;
    if (input_keeps) {
      if (gap_after_kept) {
        return result;  // a broadcast dimension between two kept ones
      }
      seen_kept = true;
      result.size *= out[d];
      result.repeat = 1;
    } else {
      gap_after_kept = seen_kept;
      result.repeat *= out[d];
    }
  }
  result.contiguous = true;
  return result;
}

// Returns the read pattern of an input with kept run `run` along rows of
// `inner` elements, or nothing when the rows do not fit it. A slice input
// needs inner to divide its size, and a repeated one needs inner = repeat.
std::optional<RowAccess> row_access(const KeptRun& run, int64_t inner) {
  if (run.repeat == 1 && run.size % inner == 0) {
    return RowAccess{.row_period = run.size / inner, .row_scale = inner, .step = 1};
  }
  if (run.repeat == inner) {
    return RowAccess{.row_period = run.size, .row_scale = 1, .step = 0};
  }
  return std::nullopt;
}

// The walk binary_op takes over its output: by rows when both inputs allow
// it, else by the index tables of broadcast_offsets.
struct BroadcastPlan {
  bool by_rows = false;
  int64_t rows = 0;
  int64_t inner = 0;
  RowAccess a, b;
  std::vector<int64_t> a_offsets, b_offsets;  // used when !by_rows
};

BroadcastPlan plan_broadcast(const Shape& a, const Shape& b, const Shape& out) {
  BroadcastPlan plan;
  const int64_t count = shape_numel(out);
  const KeptRun run_a = kept_run(a, out);
  const KeptRun run_b = kept_run(b, out);
  if (count > 0 && run_a.contiguous && run_b.contiguous) {
    // Both runs are products of trailing output sizes, so the shorter one
    // divides the longer, and a repeated input's run is the shorter: the
    // dimensions after its kept run all come from the other input's run.
    const int64_t inner = std::min(run_a.run(), run_b.run());
    const std::optional<RowAccess> a_access = row_access(run_a, inner);
    const std::optional<RowAccess> b_access = row_access(run_b, inner);
    if (a_access && b_access) {
      plan.by_rows = true;
      plan.inner = inner;
      plan.rows = count / inner;
      plan.a = *a_access;
      plan.b = *b_access;
      return plan;
    }
  }
  plan.a_offsets = broadcast_offsets(a, out);
  plan.b_offsets = broadcast_offsets(b, out);
  return plan;
}

// Calls body(step_a, step_b) with the two steps as compile-time constants,
// so the row loops it contains vectorise for each combination.
template <class Body>
void with_steps(const BroadcastPlan& plan, const Body& body) {
  using Slice = std::integral_constant<int64_t, 1>;
  using Repeated = std::integral_constant<int64_t, 0>;
  if (plan.a.step == 1) {
    plan.b.step == 1 ? body(Slice{}, Slice{}) : body(Slice{}, Repeated{});
  } else {
    plan.b.step == 1 ? body(Repeated{}, Slice{}) : body(Repeated{}, Repeated{});
  }
}

// y = f(a, b) elementwise with broadcasting. df_da(a, b, y) and df_db(a, b, y)
// are the local partial derivatives; backward adds grad_y times each into the
// input element that broadcasting mapped, which sums a broadcast input's
// gradient back to its own shape, adding the terms in output order whichever
// way the output is walked. A `kernel` computing the same f, if given,
// replaces the forward loop over rows where both inputs are slices.
template <class Forward, class DerivativeA, class DerivativeB>
Tensor binary_op(const char* op, const Tensor& a, const Tensor& b, Forward f, DerivativeA df_da,
                 DerivativeB df_db, BinaryKernel kernel = nullptr) {
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), op);
  BroadcastPlan plan = plan_broadcast(a.shape(), b.shape(), out_shape);

  Tensor y = empty(out_shape);
  const float* a_values = a.data();
  const float* b_values = b.data();
  float* y_values = y.mutable_data();
  const int64_t count = y.numel();
  if (plan.by_rows) {
    with_steps(plan, [&](auto step_a, auto step_b) {
      for (int64_t r = 0; r < plan.rows; ++r) {
        const float* as = a_values + plan.a.row_offset(r);
        const float* bs = b_values + plan.b.row_offset(r);
        float* ys = y_values + r * plan.inner;
        if (kernel != nullptr && step_a == 1 && step_b == 1) {
          kernel(plan.inner, as, bs, ys);
          continue;
        }
        for (int64_t j = 0; j < plan.inner; ++j) {
          ys[j] = f(as[j * step_a], bs[j * step_b]);
        }
      }
    });
  } else {
    for (int64_t i = 0; i < count; ++i) {
      y_values[i] = f(a_values[mapped(plan.a_offsets, i)], b_values[mapped(plan.b_offsets, i)]);
    }
  }

  if (needs_grad({&a, &b})) {
    auto backward = [a, b, y, df_da, df_db, count,
                     plan = std::move(plan)](const Tensor& grad_y) {
      float* grad_a = grad_buffer(a);
      float* grad_b = grad_buffer(b);
      const float* g = grad_y.data();
      const float* as = a.data();
      const float* bs = b.data();
      const float* ys = y.data();
      // Adds the terms of output element i, which read input elements ia and ib.
      const auto accumulate = [&](int64_t i, int64_t ia, int64_t ib) {
        if (grad_a != nullptr) {
          grad_a[ia] += g[i] * df_da(as[ia], bs[ib], ys[i]);
        }
        if (grad_b != nullptr) {
          grad_b[ib] += g[i] * df_db(as[ia], bs[ib], ys[i]);
        }
      };
      if (!plan.by_rows) {
        for (int64_t i = 0; i < count; ++i) {
          accumulate(i, mapped(plan.a_offsets, i), mapped(plan.b_offsets, i));
        }
        return;
      }
      with_steps(plan, [&](auto step_a, auto step_b) {
        for (int64_t r = 0; r < plan.rows; ++r) {
          const int64_t row_a = plan.a.row_offset(r);
          const int64_t row_b = plan.b.row_offset(r);
          for (int64_t j = 0; j < plan.inner; ++j) {
            accumulate(r * plan.inner + j, row_a + j * step_a, row_b + j * step_b);
          }
        }
      });
    };
    Tape::current().record(op, {a, b}, y, std::move(backward));
  }
  return y;
}

}  // namespace

// ------------------------------------------------------------ binary ops

Tensor add(const Tensor& a, const Tensor& b) {
  // d(a + b)/da = 1, d(a + b)/db = 1
  return binary_op(
      "add", a, b, [](float x, float y) { return x + y; },
      [](float, float, float) { return 1.0f; }, [](float, float, float) { return 1.0f; },
      kernels::add);
}

Tensor sub(const Tensor& a, const Tensor& b) {
  // d(a - b)/da = 1, d(a - b)/db = -1
  return binary_op(
      "sub", a, b, [](float x, float y) { return x - y; },
      [](float, float, float) { return 1.0f; }, [](float, float, float) { return -1.0f; },
      kernels::sub);
}

Tensor mul(const Tensor& a, const Tensor& b) {
  // d(a * b)/da = b, d(a * b)/db = a
  return binary_op(
      "mul", a, b, [](float x, float y) { return x * y; },
      [](float, float y, float) { return y; }, [](float x, float, float) { return x; },
      kernels::mul);
}

Tensor div(const Tensor& a, const Tensor& b) {
  // d(a / b)/da = 1 / b, d(a / b)/db = -a / b^2
  return binary_op(
      "div", a, b, [](float x, float y) { return x / y; },
      [](float, float y, float) { return 1.0f / y; },
      [](float x, float y, float) { return -x / (y * y); }, kernels::div);
}

Tensor pow(const Tensor& a, const Tensor& b) {
  // d(a^b)/da = b * a^(b - 1), d(a^b)/db = a^b * log(a)
  return binary_op(
      "pow", a, b, [](float x, float y) { return std::pow(x, y); },
      [](float x, float y, float) { return y * std::pow(x, y - 1.0f); },
      [](float x, float, float out) { return out * std::log(x); });
}

Tensor pow(const Tensor& a, float exponent) {
  // d(a^p)/da = p * a^(p - 1)
  return unary_op(
      "pow", a, [exponent](float x) { return std::pow(x, exponent); },
      [exponent](float x, float) { return exponent * std::pow(x, exponent - 1.0f); });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  // The larger input gets the gradient; at a tie each gets half, so the
  // shares still sum to the upstream gradient.
  return binary_op(
      "maximum", a, b, [](float x, float y) { return x >= y ? x : y; },
      [](float x, float y, float) { return x > y ? 1.0f : (x == y ? 0.5f : 0.0f); },
      [](float x, float y, float) { return y > x ? 1.0f : (x == y ? 0.5f : 0.0f); });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  // Mirror of maximum, with the same half-and-half rule at ties.
  return binary_op(
      "minimum", a, b, [](float x, float y) { return x <= y ? x : y; },
      [](float x, float y, float) { return x < y ? 1.0f : (x == y ? 0.5f : 0.0f); },
      [](float x, float y, float) { return y < x ? 1.0f : (x == y ? 0.5f : 0.0f); });
}

// ------------------------------------------------------------ unary ops

Tensor neg(const Tensor& x) {
  // d(-x)/dx = -1
  return unary_op(
      "neg", x, [](float v) { return -v; }, [](float, float) { return -1.0f; });
}

Tensor exp(const Tensor& x) {
  // d exp(x)/dx = exp(x), the output itself
  return unary_op(
      "exp", x, [](float v) { return std::exp(v); }, [](float, float y) { return y; },
      kernels::exp);
}

Tensor log(const Tensor& x) {
  // d log(x)/dx = 1 / x
  return unary_op(
      "log", x, [](float v) { return std::log(v); }, [](float v, float) { return 1.0f / v; },
      kernels::log);
}

Tensor sqrt(const Tensor& x) {
  // d sqrt(x)/dx = 1 / (2 sqrt(x)); +inf at x = 0
  return unary_op(
      "sqrt", x, [](float v) { return std::sqrt(v); },
      [](float, float y) { return 0.5f / y; });
}

Tensor abs(const Tensor& x) {
  // d|x|/dx = sign(x), taken as 0 at x = 0
  return unary_op(
      "abs", x, [](float v) { return std::fabs(v); },
      [](float v, float) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); });
}

Tensor relu(const Tensor& x) {
  // d relu(x)/dx = 1 for x > 0, else 0 (including x = 0)
  return unary_op(
      "relu", x, [](float v) { return v > 0.0f ? v : 0.0f; },
      [](float v, float) { return v > 0.0f ? 1.0f : 0.0f; }, kernels::relu,
      kernels::relu_backward);
}

Tensor sigmoid(const Tensor& x) {
  // d sigmoid(x)/dx = y (1 - y)
  return unary_op(
      "sigmoid", x, [](float v) { return stable_sigmoid(v); },
      [](float, float y) { return y * (1.0f - y); }, kernels::sigmoid);
}

Tensor tanh(const Tensor& x) {
  // d tanh(x)/dx = 1 - y^2
  return unary_op(
      "tanh", x, [](float v) { return std::tanh(v); },
      [](float, float y) { return 1.0f - y * y; }, kernels::tanh);
}

Tensor softplus(const Tensor& x) {
  // d softplus(x)/dx = sigmoid(x)
  return unary_op(
      "softplus", x,
      // log(1 + e^v) = max(v, 0) + log1p(e^-|v|): no overflow for large |v|.
      [](float v) { return std::max(v, 0.0f) + std::log1p(std::exp(-std::fabs(v))); },
      [](float v, float) { return stable_sigmoid(v); });
}

Tensor clamp(const Tensor& x, float low, float high) {
  if (!(low <= high)) {
    throw std::invalid_argument(
        fmt::format("clamp: low {} is greater than high {}; expected low <= high", low, high));
  }
  // d clamp(x)/dx = 1 inside [low, high] (bounds included), 0 outside
  return unary_op(
      "clamp", x, [low, high](float v) { return std::min(std::max(v, low), high); },
      [low, high](float v, float) { return (v >= low && v <= high) ? 1.0f : 0.0f; });
}

Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
  const Shape ab_shape = broadcast_shapes(a.shape(), b.shape(), "where");
  const Shape out_shape = broadcast_shapes(mask.shape(), ab_shape, "where");
  std::vector<int64_t> mask_offsets = broadcast_offsets(mask.shape(), out_shape);
  std::vector<int64_t> a_offsets = broadcast_offsets(a.shape(), out_shape);
  std::vector<int64_t> b_offsets = broadcast_offsets(b.shape(), out_shape);

  Tensor y = empty(out_shape);
  const float* m = mask.data();
  const float* as = a.data();
  const float* bs = b.data();
  float* ys = y.mutable_data();
  const int64_t count = y.numel();
  for (int64_t i = 0; i < count; ++i) {
    const bool pick_a = m[mapped(mask_offsets, i)] != 0.0f;
    ys[i] = pick_a ? as[mapped(a_offsets, i)] : bs[mapped(b_offsets, i)];
  }

  if (needs_grad({&a, &b})) {
    // The chosen input's gradient is the upstream gradient; the other gets 0.
    auto backward = [mask, a, b, count, mask_offsets = std::move(mask_offsets),
                     a_offsets = std::move(a_offsets),
                     b_offsets = std::move(b_offsets)](const Tensor& grad_y) {
      float* grad_a = grad_buffer(a);
      float* grad_b = grad_buffer(b);
      const float* g = grad_y.data();
      const float* m = mask.data();
      for (int64_t i = 0; i < count; ++i) {
        const bool pick_a = m[mapped(mask_offsets, i)] != 0.0f;
        if (pick_a && grad_a != nullptr) {
          grad_a[mapped(a_offsets, i)] += g[i];
        } else if (!pick_a && grad_b != nullptr) {
          grad_b[mapped(b_offsets, i)] += g[i];
        }
      }
    };
    Tape::current().record("where", {mask, a, b}, y, std::move(backward));
  }
  return y;
}

// ------------------------------------------------------------ operators

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, float b) { return add(a, scalar(b)); }
Tensor operator-(const Tensor& a, float b) { return sub(a, scalar(b)); }
Tensor operator*(const Tensor& a, float b) { return mul(a, scalar(b)); }
Tensor operator/(const Tensor& a, float b) { return div(a, scalar(b)); }
Tensor operator+(float a, const Tensor& b) { return add(scalar(a), b); }
Tensor operator-(float a, const Tensor& b) { return sub(scalar(a), b); }
Tensor operator*(float a, const Tensor& b) { return mul(scalar(a), b); }
Tensor operator/(float a, const Tensor& b) { return div(scalar(a), b); }

}  // namespace ember
