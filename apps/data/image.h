// Gray and RGB images as plain buffers, and the geometric operations that the
// data layer needs: crop, resize, horizontal concatenation and padding.
//
// Convention: a GrayImage stores row-major floats in [0, 1] with ink = 1
// (white) on background = 0 (black), the way a recognizer reads it. Files on
// disk are converted to this convention by image_io.h. Warps that move pixels
// by fractional amounts (affine, elastic) live in augment.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ember::data {

// A gray image of height x width pixels, row-major, values in [0, 1].
struct GrayImage {
  int height = 0;
  int width = 0;
  std::vector<float> pixels;  // [height * width]

  GrayImage() = default;
  // Makes a height x width image filled with `fill`; negative sizes throw.
  GrayImage(int height, int width, float fill = 0.0f);

  float& at(int row, int col) { return pixels[static_cast<std::size_t>(row) * width + col]; }
  float at(int row, int col) const { return pixels[static_cast<std::size_t>(row) * width + col]; }
  bool empty() const { return height == 0 || width == 0; }
};

// An 8-bit RGB image, row-major with interleaved channels, used by the plots.
struct RgbImage {
  int height = 0;
  int width = 0;
  std::vector<std::uint8_t> pixels;  // [height * width * 3]

  RgbImage() = default;
  // Makes a height x width image filled with one color.
  RgbImage(int height, int width, std::uint8_t red = 255, std::uint8_t green = 255,
           std::uint8_t blue = 255);

  std::uint8_t* at(int row, int col) {
    return &pixels[(static_cast<std::size_t>(row) * width + col) * 3];
  }
  const std::uint8_t* at(int row, int col) const {
    return &pixels[(static_cast<std::size_t>(row) * width + col) * 3];
  }
};

// An image with its transcription, as read from a labelled folder or made by
// a generator.
struct LabelledImage {
  GrayImage image;
  std::string text;
};

// Copies the height x width block whose top-left pixel is (top, left). The
// block must lie inside the image.
GrayImage crop(const GrayImage& image, int top, int left, int height, int width);

enum class ResizeFilter {
  // Samples the source at each output pixel's center (pixel centers aligned,
  // edges clamped). Good for enlarging.
  bilinear,
  // Averages the source over each output pixel's footprint, weighting
  // partially covered pixels by the covered fraction. Good for shrinking,
  // because every source pixel contributes.
  area,
};

// Resizes to exactly height x width (both >= 1).
GrayImage resize(const GrayImage& image, int height, int width, ResizeFilter filter);

// Resizes to `height` rows keeping the aspect ratio: the new width is
// round(width * height / old height), at least 1.
GrayImage resize_to_height(const GrayImage& image, int height,
                           ResizeFilter filter = ResizeFilter::area);

// Places images side by side, left to right, with `gap` background columns
// between neighbours. All images must have the same height.
GrayImage hconcat(std::span<const GrayImage> images, int gap = 0);

// Adds rows and columns of `fill` around the image; all amounts must be >= 0.
GrayImage pad(const GrayImage& image, int top, int bottom, int left, int right,
              float fill = 0.0f);

// Columns [first, last) that contain a pixel above `threshold`; first == last
// == 0 when the image has no ink.
struct ColumnRange {
  int first = 0;
  int last = 0;
};
ColumnRange ink_columns(const GrayImage& image, float threshold = 0.0f);

}  // namespace ember::data
