// Shape ops: reshape, permute, narrow, concat, stack, pad, gather,
// index_select, one_hot.
//
// Most of these move elements without changing them, so backward is the
// reverse move: each output gradient element is added back to the input
// element it came from. Several ops compute that map once as a list of
// source offsets and use it in both directions.
#include <stdexcept>

#include "autodiff/ops.h"
#include "autodiff/tape.h"

namespace ember {

namespace {

// A new tensor sharing x's storage, starting `offset` elements further in.
Tensor make_view(const Tensor& x, const Shape& shape, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->offset = x.impl()->offset + offset;
  impl->shape = shape;
  return Tensor(std::move(impl));
}

// Records a node whose backward adds grad_y[i] into grad_x[sources[i]].
void record_moves(const char* op, const Tensor& x, Tensor& y, std::vector<int64_t> sources) {
  Tape::current().record(op, {x}, y, [x, sources = std::move(sources)](const Tensor& grad_y) {
    float* grad_x = grad_buffer(x);
    const float* g = grad_y.data();
    for (size_t i = 0; i < sources.size(); ++i) {
      grad_x[sources[i]] += g[i];
    }
  });
}

// y[i] = x[sources[i]] for a fresh y of the given shape, recorded if needed.
Tensor gather_by_offsets(const char* op, const Tensor& x, const Shape& shape,
                         std::vector<int64_t> sources) {
  Tensor y = empty(shape);  // every element is written below
  const float* xs = x.data();
  float* ys = y.mutable_data();
  for (size_t i = 0; i < sources.size(); ++i) {
    ys[i] = xs[sources[i]];
  }
  if (needs_grad({&x})) {
    record_moves(op, x, y, std::move(sources));
  }
  return y;
}

// Advances a multi-index over `shape` like an odometer; returns false after
// the last index.
bool next_index(std::vector<int64_t>& index, const Shape& shape) {
  for (size_t d = shape.size(); d-- > 0;) {
    if (++index[d] < shape[d]) {
      return true;
    }
    index[d] = 0;
  }
  return false;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  // Resolve a single -1 from the element count.
  Shape resolved = shape;
  int64_t known = 1;
  int64_t inferred = -1;
  for (size_t d = 0; d < resolved.size(); ++d) {
    if (resolved[d] == -1 && inferred < 0) {
      inferred = static_cast<int64_t>(d);
    } else if (resolved[d] < 0) {
      throw std::invalid_argument(fmt::format(
          "reshape: target shape {} has an invalid size; expected sizes >= 0 and at most one -1",
          shape_to_string(shape)));
    } else {
      known *= resolved[d];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || x.numel() % known != 0) {
      throw std::invalid_argument(
          fmt::format("reshape: cannot infer the -1 in {} for {} elements (shape {})",
                      shape_to_string(shape), x.numel(), shape_to_string(x.shape())));
    }
    resolved[static_cast<size_t>(inferred)] = x.numel() / known;
  }
  if (shape_numel(resolved) != x.numel()) {
    throw std::invalid_argument(fmt::format(
        "reshape: cannot reshape {} ({} elements) to {} ({} elements)",
        shape_to_string(x.shape()), x.numel(), shape_to_string(resolved), shape_numel(resolved)));
  }

  Tensor y = make_view(x, resolved, 0);
  if (needs_grad({&x})) {
    // Same elements in the same order: the gradient passes through unchanged.
    Tape::current().record("reshape", {x}, y,
                           [x](const Tensor& grad_y) { accumulate_grad(x, grad_y.data()); });
  }
  return y;
}

Tensor flatten(const Tensor& x, int64_t start_dim) {
  if (x.dim() == 0) {
    return reshape(x, {1});
  }
  const int64_t start = normalize_dim(start_dim, x.dim(), "flatten");
  Shape shape(x.shape().begin(), x.shape().begin() + start);
  shape.push_back(-1);
  if (x.numel() == 0) {
    int64_t rest = 1;
    for (int64_t d = start; d < x.dim(); ++d) {
      rest *= x.size(d);
    }
    shape.back() = rest;
  }
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& order) {
  const int64_t ndim = x.dim();
  if (static_cast<int64_t>(order.size()) != ndim) {
    throw std::invalid_argument(
        fmt::format("permute: order has {} entries for a tensor of shape {}; expected {}",
                    order.size(), shape_to_string(x.shape()), ndim));
  }
  std::vector<bool> seen(static_cast<size_t>(ndim), false);
  Shape out_shape(static_cast<size_t>(ndim));
  for (int64_t i = 0; i < ndim; ++i) {
    const int64_t d = normalize_dim(order[i], ndim, "permute");
    if (seen[d]) {
      throw std::invalid_argument(fmt::format(
          "permute: dimension {} appears twice in the order [{}]", d, fmt::join(order, ", ")));
    }
    seen[d] = true;
    out_shape[i] = x.shape()[d];
  }

  // Walk the output in order; its dimension d steps the input by the stride
  // of input dimension order[d].
  const std::vector<int64_t> in_strides = contiguous_strides(x.shape());
  std::vector<int64_t> steps(static_cast<size_t>(ndim));
  for (int64_t d = 0; d < ndim; ++d) {
    steps[d] = in_strides[normalize_dim(order[d], ndim, "permute")];
  }
  std::vector<int64_t> sources(static_cast<size_t>(x.numel()));
  std::vector<int64_t> index(static_cast<size_t>(ndim), 0);
  for (size_t i = 0; i < sources.size(); ++i) {
    int64_t offset = 0;
    for (int64_t d = 0; d < ndim; ++d) {
      offset += index[d] * steps[d];
    }
    sources[i] = offset;
    next_index(index, out_shape);
  }
  return gather_by_offsets("permute", x, out_shape, std::move(sources));
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  std::vector<int64_t> order(static_cast<size_t>(x.dim()));
  for (int64_t d = 0; d < x.dim(); ++d) {
    order[d] = d;
  }
  std::swap(order[normalize_dim(dim0, x.dim(), "transpose")],
            order[normalize_dim(dim1, x.dim(), "transpose")]);
  return permute(x, order);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  const int64_t d = normalize_dim(dim, x.dim(), "narrow");
  const int64_t size = x.size(d);
  if (start < 0 || length < 0 || start + length > size) {
    throw std::invalid_argument(fmt::format(
        "narrow: start {} and length {} do not fit in dimension {} of size {} (shape {})",
        start, length, d, size, shape_to_string(x.shape())));
  }
  int64_t outer = 1;
  int64_t inner = 1;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < d) {
      outer *= x.size(i);
    } else if (i > d) {
      inner *= x.size(i);
    }
  }
  Shape out_shape = x.shape();
  out_shape[d] = length;

  // With nothing before dim, the slice is one contiguous run: a view.
  if (outer == 1) {
    Tensor y = make_view(x, out_shape, start * inner);
    if (needs_grad({&x})) {
      Tape::current().record("narrow", {x}, y, [x, start, inner](const Tensor& grad_y) {
        float* grad_x = grad_buffer(x) + start * inner;
        const float* g = grad_y.data();
        const int64_t count = grad_y.numel();
        for (int64_t i = 0; i < count; ++i) {
          grad_x[i] += g[i];
        }
      });
    }
    return y;
  }

  std::vector<int64_t> sources;
  sources.reserve(static_cast<size_t>(outer * length * inner));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = start; k < start + length; ++k) {
      for (int64_t i = 0; i < inner; ++i) {
        sources.push_back((o * size + k) * inner + i);
      }
    }
  }
  return gather_by_offsets("narrow", x, out_shape, std::move(sources));
}

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) {
    throw std::invalid_argument("concat: the list of tensors is empty; expected at least one");
  }
  const Tensor& first = tensors.front();
  const int64_t d = normalize_dim(dim, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (size_t t = 0; t < tensors.size(); ++t) {
    Shape expected = first.shape();
    expected[d] = tensors[t].dim() == first.dim() ? tensors[t].size(d) : -1;
    if (tensors[t].shape() != expected) {
      throw std::invalid_argument(fmt::format(
          "concat: tensor {} has shape {} but tensor 0 has shape {}; all sizes except "
          "dimension {} must match",
          t, shape_to_string(tensors[t].shape()), shape_to_string(first.shape()), d));
    }
    out_shape[d] += tensors[t].size(d);
  }

  int64_t outer = 1;
  int64_t inner = 1;
  for (int64_t i = 0; i < first.dim(); ++i) {
    if (i < d) {
      outer *= out_shape[i];
    } else if (i > d) {
      inner *= out_shape[i];
    }
  }

  // Row o of the result is tensor 0's row o, then tensor 1's row o, and so on.
  Tensor y = zeros(out_shape);
  float* ys = y.mutable_data();
  const int64_t out_row = out_shape[d] * inner;
  int64_t column = 0;
  for (const Tensor& t : tensors) {
    const int64_t row = t.size(d) * inner;
    const float* ts = t.data();
    for (int64_t o = 0; o < outer; ++o) {
      std::copy(ts + o * row, ts + (o + 1) * row, ys + o * out_row + column);
    }
    column += row;
  }

  if (needs_grad(tensors)) {
    Tape::current().record("concat", tensors, y, [tensors, d, outer, inner, out_row](const Tensor& grad_y) {
      // Each input receives the block of the gradient where its values went.
      const float* g = grad_y.data();
      int64_t column = 0;
      for (const Tensor& t : tensors) {
        const int64_t row = t.size(d) * inner;
        float* grad_t = grad_buffer(t);
        for (int64_t o = 0; grad_t != nullptr && o < outer; ++o) {
          for (int64_t i = 0; i < row; ++i) {
            grad_t[o * row + i] += g[o * out_row + column + i];
          }
        }
        column += row;
      }
    });
  }
  return y;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) {
    throw std::invalid_argument("stack: the list of tensors is empty; expected at least one");
  }
  // stack inserts a new dimension of size 1 in each tensor, then concatenates.
  const int64_t d = normalize_dim(dim, tensors.front().dim() + 1, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (tensors[t].shape() != tensors.front().shape()) {
      throw std::invalid_argument(
          fmt::format("stack: tensor {} has shape {} but tensor 0 has shape {}; all must match",
                      t, shape_to_string(tensors[t].shape()),
                      shape_to_string(tensors.front().shape())));
    }
    Shape shape = tensors[t].shape();
    shape.insert(shape.begin() + d, 1);
    expanded.push_back(reshape(tensors[t], shape));
  }
  return concat(expanded, d);
}

Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& padding,
           float value) {
  if (static_cast<int64_t>(padding.size()) > x.dim()) {
    throw std::invalid_argument(fmt::format(
        "pad: {} padding pairs given for a tensor of shape {}; expected at most one per dimension",
        padding.size(), shape_to_string(x.shape())));
  }
  Shape out_shape = x.shape();
  for (size_t d = 0; d < padding.size(); ++d) {
    const auto [before, after] = padding[d];
    if (before < 0 || after < 0) {
      throw std::invalid_argument(fmt::format(
          "pad: padding ({}, {}) for dimension {} is negative; use narrow to crop", before,
          after, d));
    }
    out_shape[d] += before + after;
  }

  // Where each input element lands in the padded result.
  const std::vector<int64_t> out_strides = contiguous_strides(out_shape);
  std::vector<int64_t> targets(static_cast<size_t>(x.numel()));
  std::vector<int64_t> index(static_cast<size_t>(x.dim()), 0);
  for (size_t i = 0; i < targets.size(); ++i) {
    int64_t offset = 0;
    for (int64_t d = 0; d < x.dim(); ++d) {
      const int64_t before = d < static_cast<int64_t>(padding.size()) ? padding[d].first : 0;
      offset += (index[d] + before) * out_strides[d];
    }
    targets[i] = offset;
    next_index(index, x.shape());
  }

  Tensor y = full(out_shape, value);
  const float* xs = x.data();
  float* ys = y.mutable_data();
  for (size_t i = 0; i < targets.size(); ++i) {
    ys[targets[i]] = xs[i];
  }

  if (needs_grad({&x})) {
    Tape::current().record("pad", {x}, y, [x, targets = std::move(targets)](const Tensor& grad_y) {
      // Padding is constant, so only the interior carries gradient back.
      float* grad_x = grad_buffer(x);
      const float* g = grad_y.data();
      for (size_t i = 0; i < targets.size(); ++i) {
        grad_x[i] += g[targets[i]];
      }
    });
  }
  return y;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t d = normalize_dim(dim, x.dim(), "gather");
  if (index.dim() != x.dim()) {
    throw std::invalid_argument(fmt::format(
        "gather: index {} and input {} must have the same number of dimensions",
        shape_to_string(index.shape()), shape_to_string(x.shape())));
  }
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i != d && index.size(i) > x.size(i)) {
      throw std::invalid_argument(fmt::format(
          "gather: index {} is larger than input {} in dimension {} ({} > {})",
          shape_to_string(index.shape()), shape_to_string(x.shape()), i, index.size(i),
          x.size(i)));
    }
  }

  const std::vector<int64_t> x_strides = contiguous_strides(x.shape());
  const float* positions = index.data();
  std::vector<int64_t> sources(static_cast<size_t>(index.numel()));
  std::vector<int64_t> at(static_cast<size_t>(index.dim()), 0);
  for (size_t i = 0; i < sources.size(); ++i) {
    const float position = positions[i];
    const auto k = static_cast<int64_t>(position);
    if (static_cast<float>(k) != position || k < 0 || k >= x.size(d)) {
      throw std::out_of_range(fmt::format(
          "gather: index value {} at flat position {} is not an integer in [0, {}) for "
          "dimension {} of input {}",
          position, i, x.size(d), d, shape_to_string(x.shape())));
    }
    int64_t offset = 0;
    for (int64_t j = 0; j < x.dim(); ++j) {
      offset += (j == d ? k : at[j]) * x_strides[j];
    }
    sources[i] = offset;
    next_index(at, index.shape());
  }
  return gather_by_offsets("gather", x, index.shape(), std::move(sources));
}

Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& indices) {
  const int64_t d = normalize_dim(dim, x.dim(), "index_select");
  const int64_t size = x.size(d);
  int64_t outer = 1;
  int64_t inner = 1;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < d) {
      outer *= x.size(i);
    } else if (i > d) {
      inner *= x.size(i);
    }
  }
  for (size_t j = 0; j < indices.size(); ++j) {
    if (indices[j] < 0 || indices[j] >= size) {
      throw std::out_of_range(fmt::format(
          "index_select: index {} (entry {}) is out of range for dimension {} of size {}",
          indices[j], j, d, size));
    }
  }

  Shape out_shape = x.shape();
  out_shape[d] = static_cast<int64_t>(indices.size());
  std::vector<int64_t> sources;
  sources.reserve(static_cast<size_t>(shape_numel(out_shape)));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k : indices) {
      for (int64_t i = 0; i < inner; ++i) {
        sources.push_back((o * size + k) * inner + i);
      }
    }
  }
  return gather_by_offsets("index_select", x, out_shape, std::move(sources));
}

Tensor one_hot(const std::vector<int64_t>& labels, int64_t num_classes) {
  if (num_classes <= 0) {
    throw std::invalid_argument(
        fmt::format("one_hot: num_classes is {}; expected at least 1", num_classes));
  }
  Tensor y = zeros({static_cast<int64_t>(labels.size()), num_classes});
  float* ys = y.mutable_data();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      throw std::out_of_range(fmt::format("one_hot: label {} (entry {}) is not in [0, {})",
                                          labels[i], i, num_classes));
    }
    ys[static_cast<int64_t>(i) * num_classes + labels[i]] = 1.0f;
  }
  return y;
}

}  // namespace ember
