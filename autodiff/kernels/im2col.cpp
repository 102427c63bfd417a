// im2col and col2im for one image; see im2col.h for the layout. A batch is a
// loop over images in the caller. Both walk the output row by row, so the
// innermost loop is a contiguous copy whenever the stride is 1.
#include "autodiff/kernels/im2col.h"

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

void im2col(const Conv2dGeometry& g, const float* image, float* columns) {
  check_geometry("im2col", g);
  const int64_t out_h = g.out_h();
  const int64_t out_w = g.out_w();

  float* out = columns;
  for (int64_t c = 0; c < g.channels; ++c) {
    const float* plane = image + c * g.height * g.width;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        for (int64_t oh = 0; oh < out_h; ++oh) {
          const int64_t h = oh * g.stride_h - g.pad_h + i;
          const bool row_inside = h >= 0 && h < g.height;
          for (int64_t ow = 0; ow < out_w; ++ow) {
            const int64_t w = ow * g.stride_w - g.pad_w + j;
            const bool inside = row_inside && w >= 0 && w < g.width;
            *out++ = inside ? plane[h * g.width + w] : 0.0f;
          }
        }
      }
    }
  }
}

void col2im(const Conv2dGeometry& g, const float* columns, float* image) {
  check_geometry("col2im", g);
  const int64_t out_h = g.out_h();
  const int64_t out_w = g.out_w();

  const float* in = columns;
  for (int64_t c = 0; c < g.channels; ++c) {
    float* plane = image + c * g.height * g.width;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      for (int64_t j = 0; j < g.kernel_w; ++j) {
        for (int64_t oh = 0; oh < out_h; ++oh) {
          const int64_t h = oh * g.stride_h - g.pad_h + i;
          const bool row_inside = h >= 0 && h < g.height;
          for (int64_t ow = 0; ow < out_w; ++ow, ++in) {
            const int64_t w = ow * g.stride_w - g.pad_w + j;
            if (row_inside && w >= 0 && w < g.width) {
              plane[h * g.width + w] += *in;
            }
          }
        }
      }
    }
  }
}

}  // namespace ember::kernels
