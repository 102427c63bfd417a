// Max pooling forward with argmax and backward; see pool.h for the contract.
// Planes are independent, so the forward splits them across threads.
#include "autodiff/kernels/pool.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/threads.h"

namespace ember::kernels {

namespace {

void check_pool_geometry(const char* operation, const Conv2dGeometry& g) {
  check_geometry(operation, g);
  if (2 * g.pad_h > g.kernel_h || 2 * g.pad_w > g.kernel_w) {
    throw std::invalid_argument(std::string(operation) + ": padding [" + std::to_string(g.pad_h) +
                                ", " + std::to_string(g.pad_w) + "] must be at most half of the "
                                "window [" + std::to_string(g.kernel_h) + ", " +
                                std::to_string(g.kernel_w) + "]");
  }
}

// The minimum number of windows per max_pool_windows call in
// pool_planes_inside. Planes with fewer windows go several to a call.
constexpr int64_t kWindowsPerCall = 256;

// Below this many output elements one thread is faster than waking another.
constexpr int64_t kMinParallelOutputs = 1 << 14;

// The max-pool update of one candidate: take value when it beats best, or
// when it is NaN and best is a number. A NaN best is never replaced. Written
// as selects, with no branch, because on real activations the branch is a
// coin flip that the CPU mispredicts half the time.
inline void take_larger(float value, int32_t index, float& best, int32_t& best_index) {
  const bool take = !(value <= best) && best == best;
  best = take ? value : best;
  best_index = take ? index : best_index;
}

// True when every window lies inside the image (no padding, no partial
// window at the end), so all windows have the same shape.
bool windows_inside(const Conv2dGeometry& g) {
  return g.pad_h == 0 && g.pad_w == 0 &&
         (g.out_h() - 1) * g.stride_h + g.kernel_h <= g.height &&
         (g.out_w() - 1) * g.stride_w + g.kernel_w <= g.width;
}

// pool_planes for windows_inside(g): one output row at a time, by the
// dispatched row kernel, which vectorizes across the windows of the row.
// Rows with fewer windows than a vector has lanes go to the windows kernel
// instead, and so do strides over 3, which the row kernel runs one window
// at a time. That kernel takes a whole plane's windows by their offsets.
void pool_planes_inside(const Conv2dGeometry& g, int64_t first, int64_t last,
                        const float* input, float* output, int32_t* argmax) {
  const KernelTable& table = active_kernels();
  const int64_t out_h = g.out_h();
  const int64_t out_w = g.out_w();
  if (out_w < table.gemm.lanes || g.stride_w > 3) {
    // One call takes the windows of several planes, as offsets from the
    // first, because a plane's windows (12 or 60, say) leave the last
    // vector part empty and a call per plane costs more than its work.
    // The argmax of plane b of a call is then b plane_size too large, and
    // is corrected after the call.
    const int64_t plane_size = g.height * g.width;
    const int64_t per_plane = out_h * out_w;
    const int64_t max_planes_by_offset = std::numeric_limits<int32_t>::max() / plane_size;
    const int64_t block = std::clamp<int64_t>((kWindowsPerCall + per_plane - 1) / per_plane, 1,
                                              std::max<int64_t>(1, max_planes_by_offset));
    std::vector<int32_t> bases;
    bases.reserve(static_cast<size_t>(block * per_plane));
    for (int64_t b = 0; b < block; ++b) {
      for (int64_t oh = 0; oh < out_h; ++oh) {
        for (int64_t ow = 0; ow < out_w; ++ow) {
          bases.push_back(
              static_cast<int32_t>(b * plane_size + oh * g.stride_h * g.width + ow * g.stride_w));
        }
      }
    }
    for (int64_t plane_index = first; plane_index < last; plane_index += block) {
      const int64_t planes = std::min(block, last - plane_index);
      int32_t* plane_argmax = argmax + plane_index * per_plane;
      table.max_pool_windows(input + plane_index * plane_size, g.width, g.kernel_h, g.kernel_w,
                             planes * per_plane, bases.data(), output + plane_index * per_plane,
                             plane_argmax);
      for (int64_t b = 1; b < planes; ++b) {
        const auto shift = static_cast<int32_t>(b * plane_size);
        for (int64_t t = b * per_plane; t < (b + 1) * per_plane; ++t) {
          plane_argmax[t] -= shift;
        }
      }
    }
    return;
  }
  for (int64_t plane_index = first; plane_index < last; ++plane_index) {
    const float* plane = input + plane_index * g.height * g.width;
    for (int64_t oh = 0; oh < out_h; ++oh) {
      const int64_t row = (plane_index * out_h + oh) * out_w;
      const int64_t top = oh * g.stride_h * g.width;
      // Every later plane of the buffer may be read too.
      const int64_t readable = (g.channels - plane_index) * g.height * g.width - top;
      table.max_pool_row(plane + top, g.width, g.kernel_h, g.kernel_w, g.stride_w, out_w,
                         readable, top, output + row, argmax + row);
    }
  }
}

void pool_planes(const Conv2dGeometry& g, int64_t first, int64_t last, const float* input,
                 float* output, int32_t* argmax) {
  if (windows_inside(g)) {
    pool_planes_inside(g, first, last, input, output, argmax);
    return;
  }
  const int64_t out_h = g.out_h();
  const int64_t out_w = g.out_w();
  for (int64_t p = first; p < last; ++p) {
    const float* plane = input + p * g.height * g.width;
    for (int64_t oh = 0; oh < out_h; ++oh) {
      const int64_t h_begin = std::max<int64_t>(0, oh * g.stride_h - g.pad_h);
      const int64_t h_end = std::min(g.height, oh * g.stride_h - g.pad_h + g.kernel_h);
      for (int64_t ow = 0; ow < out_w; ++ow) {
        const int64_t w_begin = std::max<int64_t>(0, ow * g.stride_w - g.pad_w);
        const int64_t w_end = std::min(g.width, ow * g.stride_w - g.pad_w + g.kernel_w);

        auto best_index = static_cast<int32_t>(h_begin * g.width + w_begin);
        float best = plane[best_index];
        for (int64_t h = h_begin; h < h_end; ++h) {
          for (int64_t w = w_begin; w < w_end; ++w) {
            const auto index = static_cast<int32_t>(h * g.width + w);
            take_larger(plane[index], index, best, best_index);
          }
        }

        const int64_t out_index = (p * out_h + oh) * out_w + ow;
        output[out_index] = best;
        argmax[out_index] = best_index;
      }
    }
  }
}

}  // namespace

void max_pool2d(const Conv2dGeometry& g, const float* input, float* output, int32_t* argmax) {
  check_pool_geometry("max_pool2d", g);
  const int64_t outputs = g.channels * g.out_h() * g.out_w();
  if (outputs < kMinParallelOutputs) {
    pool_planes(g, 0, g.channels, input, output, argmax);
    return;
  }
  parallel_for(g.channels, [&](int64_t first, int64_t last) {
    pool_planes(g, first, last, input, output, argmax);
  });
}

namespace {

// The backward of planes [first, last), zeroing each plane first when asked.
void scatter_planes(const Conv2dGeometry& g, const float* grad_output, const int32_t* argmax,
                    float* grad_input, bool zero_first, int64_t first, int64_t last) {
  const int64_t out_w = g.out_w();
  const int64_t per_plane = g.out_h() * out_w;
  // With stride KH and no top padding, the windows of output row oh cover
  // only input rows oh KH .. oh KH + KH - 1. Each such band is then zeroed
  // right before its windows' gradients land in it, while it is in cache,
  // instead of in a pass over the whole plane first.
  const bool row_bands = zero_first && g.stride_h == g.kernel_h && g.pad_h == 0;
  for (int64_t p = first; p < last; ++p) {
    float* plane = grad_input + p * g.height * g.width;
    const float* plane_grad = grad_output + p * per_plane;
    const int32_t* plane_argmax = argmax + p * per_plane;
    if (!row_bands) {
      if (zero_first) {
        std::fill_n(plane, g.height * g.width, 0.0f);
      }
      for (int64_t o = 0; o < per_plane; ++o) {
        plane[plane_argmax[o]] += plane_grad[o];
      }
      continue;
    }
    int64_t zeroed_rows = 0;
    for (int64_t oh = 0; oh < g.out_h(); ++oh) {
      const int64_t band_end = std::min(g.height, (oh + 1) * g.kernel_h);
      std::fill(plane + zeroed_rows * g.width, plane + band_end * g.width, 0.0f);
      zeroed_rows = band_end;
      for (int64_t o = oh * out_w; o < (oh + 1) * out_w; ++o) {
        plane[plane_argmax[o]] += plane_grad[o];
      }
    }
    std::fill(plane + zeroed_rows * g.width, plane + g.height * g.width, 0.0f);
  }
}

// Planes are independent, so large backward passes split them across
// threads like the forward.
void scatter_all(const Conv2dGeometry& g, const float* grad_output, const int32_t* argmax,
                 float* grad_input, bool zero_first) {
  const auto body = [&](int64_t first, int64_t last) {
    scatter_planes(g, grad_output, argmax, grad_input, zero_first, first, last);
  };
  if (g.channels * g.out_h() * g.out_w() < kMinParallelOutputs) {
    body(0, g.channels);
  } else {
    parallel_for(g.channels, body);
  }
}

}  // namespace

void max_pool2d_backward(const Conv2dGeometry& g, const float* grad_output, const int32_t* argmax,
                         float* grad_input) {
  check_pool_geometry("max_pool2d_backward", g);
  scatter_all(g, grad_output, argmax, grad_input, /*zero_first=*/false);
}

void max_pool2d_backward_overwrite(const Conv2dGeometry& g, const float* grad_output,
                                   const int32_t* argmax, float* grad_input) {
  check_pool_geometry("max_pool2d_backward", g);
  scatter_all(g, grad_output, argmax, grad_input, /*zero_first=*/true);
}

}  // namespace ember::kernels
