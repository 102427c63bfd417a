// im2col and col2im for one image; see im2col.h for the layout. A batch is a
// loop over images in the caller. Both walk the output row by row, so the
// innermost loop is a contiguous copy whenever the stride is 1, and the
// padding bounds are worked out once per kernel column, not per element.
#include "autodiff/kernels/im2col.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ember::kernels {

void check_geometry(const char* operation, const Conv2dGeometry& g) {
  const auto text = [](int64_t a, int64_t b) {
    std::string pair = "[";
    pair += std::to_string(a);
    pair += ", ";
    pair += std::to_string(b);
    pair += "]";
    return pair;
  };
  if (g.channels <= 0 || g.height <= 0 || g.width <= 0 || g.kernel_h <= 0 || g.kernel_w <= 0 ||
      g.stride_h <= 0 || g.stride_w <= 0 || g.pad_h < 0 || g.pad_w < 0) {
    throw std::invalid_argument(
        std::string(operation) + ": channels " + std::to_string(g.channels) + ", image " +
        text(g.height, g.width) + ", kernel " + text(g.kernel_h, g.kernel_w) + ", stride " +
        text(g.stride_h, g.stride_w) + " must be positive and padding " +
        text(g.pad_h, g.pad_w) + " non-negative");
  }
  if (g.height + 2 * g.pad_h < g.kernel_h || g.width + 2 * g.pad_w < g.kernel_w) {
    throw std::invalid_argument(std::string(operation) + ": kernel " +
                                text(g.kernel_h, g.kernel_w) + " is larger than the image " +
                                text(g.height, g.width) + " with padding " +
                                text(g.pad_h, g.pad_w));
  }
}

namespace {

// The output columns [begin, end) of kernel column j whose input column
// ow SW - PW + j lies inside [0, W). The others read padding. It is computed
// once per kernel column, so the copy loops need no bounds test per element.
struct ValidRange {
  int64_t begin;
  int64_t end;
};

ValidRange valid_columns(const Conv2dGeometry& g, int64_t j, int64_t out_w) {
  // Smallest ow with ow SW - PW + j >= 0, and one past the largest with
  // ow SW - PW + j < W.
  const int64_t first = g.pad_w - j;
  int64_t begin = first <= 0 ? 0 : (first + g.stride_w - 1) / g.stride_w;
  const int64_t last = g.width + g.pad_w - j;
  int64_t end = last <= 0 ? 0 : (last - 1) / g.stride_w + 1;
  begin = std::min(begin, out_w);
  end = std::clamp(end, begin, out_w);
  return {begin, end};
}

}  // namespace

void im2col(const Conv2dGeometry& g, const float* image, float* columns, int64_t ld) {
  check_geometry("im2col", g);
  const int64_t out_h = g.out_h();
  const int64_t out_w = g.out_w();
  const int64_t stride = ld > 0 ? ld : out_h * out_w;

  int64_t column_row = 0;
  for (int64_t c = 0; c < g.channels; ++c) {
    const float* plane = image + c * g.height * g.width;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const ValidRange valid = valid_columns(g, j, out_w);
        const int64_t shift = j - g.pad_w;
        float* out = columns + column_row++ * stride;
        for (int64_t oh = 0; oh < out_h; ++oh, out += out_w) {
          const int64_t h = oh * g.stride_h - g.pad_h + i;
          if (h < 0 || h >= g.height) {
            std::fill(out, out + out_w, 0.0f);
            continue;
          }
          // Plain loops, not std::copy: rows are often only 9-45 floats, too
          // short for a library call to pay off.
          const float* row = plane + h * g.width + shift;
          std::fill(out, out + valid.begin, 0.0f);
          if (g.stride_w == 1) {  // unit stride: a loop the compiler vectorizes
            for (int64_t ow = valid.begin; ow < valid.end; ++ow) {
              out[ow] = row[ow];
            }
          } else {
            for (int64_t ow = valid.begin; ow < valid.end; ++ow) {
              out[ow] = row[ow * g.stride_w];
            }
          }
          std::fill(out + valid.end, out + out_w, 0.0f);
        }
      }
    }
  }
}

void col2im(const Conv2dGeometry& g, const float* columns, float* image, int64_t ld) {
  check_geometry("col2im", g);
  const int64_t out_h = g.out_h();
  const int64_t out_w = g.out_w();
  const int64_t stride = ld > 0 ? ld : out_h * out_w;

  int64_t column_row = 0;
  for (int64_t c = 0; c < g.channels; ++c) {
    float* plane = image + c * g.height * g.width;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        const ValidRange valid = valid_columns(g, j, out_w);
        const int64_t shift = j - g.pad_w;
        const float* in = columns + column_row++ * stride;
        for (int64_t oh = 0; oh < out_h; ++oh, in += out_w) {
          const int64_t h = oh * g.stride_h - g.pad_h + i;
          if (h < 0 || h >= g.height) {
            continue;
          }
          float* row = plane + h * g.width;
          if (g.stride_w == 1) {  // unit stride: a loop the compiler vectorizes
            for (int64_t ow = valid.begin; ow < valid.end; ++ow) {
              row[ow + shift] += in[ow];
            }
          } else {
            for (int64_t ow = valid.begin; ow < valid.end; ++ow) {
              row[ow * g.stride_w + shift] += in[ow];
            }
          }
        }
      }
    }
  }
}

}  // namespace ember::kernels
