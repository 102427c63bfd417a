// Gray and RGB image constructors and the geometric operations declared in
// image.h. Resizing is separable: a table of (source index, weight) pairs per
// output index is built once per axis and applied to rows, then to columns.
#include "apps/data/image.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace ember::data {

GrayImage::GrayImage(int height, int width, float fill) : height(height), width(width) {
  if (height < 0 || width < 0) {
    throw std::invalid_argument(
        fmt::format("GrayImage: size {} x {} is negative; expected height and width >= 0",
                    height, width));
  }
  pixels.assign(static_cast<std::size_t>(height) * width, fill);
}

RgbImage::RgbImage(int height, int width, std::uint8_t red, std::uint8_t green,
                   std::uint8_t blue)
    : height(height), width(width) {
  if (height < 0 || width < 0) {
    throw std::invalid_argument(
        fmt::format("RgbImage: size {} x {} is negative; expected height and width >= 0",
                    height, width));
  }
  pixels.resize(static_cast<std::size_t>(height) * width * 3);
  for (std::size_t i = 0; i < pixels.size(); i += 3) {
    pixels[i] = red;
    pixels[i + 1] = green;
    pixels[i + 2] = blue;
  }
}

GrayImage crop(const GrayImage& image, int top, int left, int height, int width) {
  const bool inside = top >= 0 && left >= 0 && height >= 0 && width >= 0 &&
                      top + height <= image.height && left + width <= image.width;
  if (!inside) {
    throw std::invalid_argument(fmt::format(
        "crop: block at row {}, column {} of size {} x {} is not inside the {} x {} image",
        top, left, height, width, image.height, image.width));
  }

  GrayImage out(height, width);
  for (int row = 0; row < height; ++row) {
    for (int col = 0; col < width; ++col) {
      out.at(row, col) = image.at(top + row, left + col);
    }
  }
  return out;
}

namespace {

// One output index's contributions: source indices and their weights.
struct Taps {
  std::vector<int> source;
  std::vector<float> weight;
};

std::vector<Taps> bilinear_taps(int in_size, int out_size) {
  std::vector<Taps> taps(out_size);
  const double scale = static_cast<double>(in_size) / out_size;
  for (int i = 0; i < out_size; ++i) {
    // Align pixel centers: output center i + 0.5 maps to (i + 0.5) * scale.
    const double position = std::clamp((i + 0.5) * scale - 0.5, 0.0, in_size - 1.0);
    const int low = static_cast<int>(std::floor(position));
    const int high = std::min(low + 1, in_size - 1);
    const float fraction = static_cast<float>(position - low);
    taps[i].source = {low, high};
    taps[i].weight = {1.0f - fraction, fraction};
  }
  return taps;
}

std::vector<Taps> area_taps(int in_size, int out_size) {
  std::vector<Taps> taps(out_size);
  const double scale = static_cast<double>(in_size) / out_size;
  for (int i = 0; i < out_size; ++i) {
    // Output pixel i covers the source interval [i * scale, (i + 1) * scale).
    const double begin = i * scale;
    const double end = (i + 1) * scale;
    const int first = static_cast<int>(std::floor(begin));
    const int last = std::min(static_cast<int>(std::ceil(end)), in_size);
    for (int s = first; s < last; ++s) {
      const double covered = std::min(end, s + 1.0) - std::max(begin, static_cast<double>(s));
      if (covered > 0.0) {
        taps[i].source.push_back(s);
        taps[i].weight.push_back(static_cast<float>(covered / scale));
      }
    }
  }
  return taps;
}

std::vector<Taps> make_taps(int in_size, int out_size, ResizeFilter filter) {
  return filter == ResizeFilter::bilinear ? bilinear_taps(in_size, out_size)
                                          : area_taps(in_size, out_size);
}

}  // namespace

GrayImage resize(const GrayImage& image, int height, int width, ResizeFilter filter) {
  if (height < 1 || width < 1) {
    throw std::invalid_argument(
        fmt::format("resize: target size {} x {} is invalid; expected both >= 1", height, width));
  }
  if (image.empty()) {
    throw std::invalid_argument(fmt::format(
        "resize: the source image is empty ({} x {}); nothing to resize", image.height,
        image.width));
  }

  const std::vector<Taps> column_taps = make_taps(image.width, width, filter);
  const std::vector<Taps> row_taps = make_taps(image.height, height, filter);

  // Horizontal pass: [in height, in width] -> [in height, width].
  GrayImage wide(image.height, width);
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < width; ++col) {
      const Taps& t = column_taps[col];
      float sum = 0.0f;
      for (std::size_t k = 0; k < t.source.size(); ++k) sum += t.weight[k] * image.at(row, t.source[k]);
      wide.at(row, col) = sum;
    }
  }

  // Vertical pass: [in height, width] -> [height, width].
  GrayImage out(height, width);
  for (int row = 0; row < height; ++row) {
    const Taps& t = row_taps[row];
    for (int col = 0; col < width; ++col) {
      float sum = 0.0f;
      for (std::size_t k = 0; k < t.source.size(); ++k) sum += t.weight[k] * wide.at(t.source[k], col);
      out.at(row, col) = std::clamp(sum, 0.0f, 1.0f);
    }
  }
  return out;
}

GrayImage resize_to_height(const GrayImage& image, int height, ResizeFilter filter) {
  if (image.empty()) {
    throw std::invalid_argument(fmt::format(
        "resize_to_height: the source image is empty ({} x {}); nothing to resize",
        image.height, image.width));
  }
  const double width = std::round(static_cast<double>(image.width) * height / image.height);
  return resize(image, height, std::max(1, static_cast<int>(width)), filter);
}

GrayImage hconcat(std::span<const GrayImage> images, int gap) {
  if (images.empty()) return {};
  if (gap < 0) {
    throw std::invalid_argument(fmt::format("hconcat: gap {} is negative; expected >= 0", gap));
  }

  const int height = images.front().height;
  int width = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (images[i].height != height) {
      throw std::invalid_argument(fmt::format(
          "hconcat: image {} has height {} but image 0 has height {}; resize them to one height",
          i, images[i].height, height));
    }
    width += images[i].width + (i > 0 ? gap : 0);
  }

  GrayImage out(height, width);
  int left = 0;
  for (const GrayImage& image : images) {
    for (int row = 0; row < height; ++row) {
      std::copy_n(&image.pixels[static_cast<std::size_t>(row) * image.width], image.width,
                  &out.at(row, left));
    }
    left += image.width + gap;
  }
  return out;
}

GrayImage pad(const GrayImage& image, int top, int bottom, int left, int right, float fill) {
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    throw std::invalid_argument(fmt::format(
        "pad: amounts top {}, bottom {}, left {}, right {} include a negative; expected >= 0",
        top, bottom, left, right));
  }

  GrayImage out(image.height + top + bottom, image.width + left + right, fill);
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) {
      out.at(row + top, col + left) = image.at(row, col);
    }
  }
  return out;
}

ColumnRange ink_columns(const GrayImage& image, float threshold) {
  int first = image.width;
  int last = 0;
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) {
      if (image.at(row, col) > threshold) {
        first = std::min(first, col);
        last = std::max(last, col + 1);
      }
    }
  }
  if (last == 0) return {};
  return {first, last};
}

}  // namespace ember::data
