// Digit-string composition and the seeded generator declared in
// digit_strings.h.
#include "apps/data/digit_strings.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace ember::data {

namespace {

// The digit cut to its ink columns, or whole when it has no ink.
GrayImage ink_part(const GrayImage& digit) {
  const ColumnRange range = ink_columns(digit);
  if (range.last <= range.first) return digit;
  return crop(digit, 0, range.first, digit.height, range.last - range.first);
}

}  // namespace

LabelledImage compose_digit_string(const DigitSet& digits, std::span<const std::size_t> indices,
                                   std::span<const int> offsets, int height, int margin) {
  if (indices.empty() || offsets.size() + 1 != indices.size()) {
    throw std::invalid_argument(fmt::format(
        "compose_digit_string: {} digits need {} offsets, found {}", indices.size(),
        indices.empty() ? 0 : indices.size() - 1, offsets.size()));
  }
  if (height < 1 || margin < 0) {
    throw std::invalid_argument(fmt::format(
        "compose_digit_string: height {} or margin {} is invalid; expected height >= 1, margin "
        ">= 0",
        height, margin));
  }

  std::vector<GrayImage> parts;
  std::string text;
  for (std::size_t index : indices) {
    if (index >= digits.images.size()) {
      throw std::out_of_range(fmt::format(
          "compose_digit_string: digit index {} is out of range; the set has {} digits", index,
          digits.images.size()));
    }
    const int label = digits.labels[index];
    if (label < 0 || label > 9) {
      throw std::invalid_argument(fmt::format(
          "compose_digit_string: digit {} has label {}; expected 0-9", index, label));
    }
    parts.push_back(ink_part(digits.images[index]));
    text.push_back(static_cast<char>('0' + label));
  }

  // Left edge of each part on the strip.
  const int source_height = parts.front().height;
  std::vector<int> lefts = {margin};
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].height != source_height) {
      throw std::invalid_argument(fmt::format(
          "compose_digit_string: digit {} is {} px tall, digit {} is {} px; use one digit size",
          indices[i], parts[i].height, indices[0], source_height));
    }
    const int left = lefts.back() + parts[i - 1].width + offsets[i - 1];
    if (left < lefts.back()) {
      throw std::invalid_argument(fmt::format(
          "compose_digit_string: offset {} overlaps digit {} past its start (it is {} px wide)",
          offsets[i - 1], i - 1, parts[i - 1].width));
    }
    lefts.push_back(left);
  }
  int width = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) width = std::max(width, lefts[i] + parts[i].width);
  width += margin;

  GrayImage strip(source_height, width);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    for (int row = 0; row < source_height; ++row) {
      for (int col = 0; col < parts[i].width; ++col) {
        float& pixel = strip.at(row, lefts[i] + col);
        pixel = std::max(pixel, parts[i].at(row, col));
      }
    }
  }
  return {resize_to_height(strip, height, ResizeFilter::bilinear), text};
}

DigitStringGenerator::DigitStringGenerator(const DigitSet& digits, std::vector<std::size_t> pool,
                                           DigitStringOptions options)
    : digits_(digits), pool_(std::move(pool)), options_(options) {
  if (pool_.empty()) {
    throw std::invalid_argument("DigitStringGenerator: the pool of digit indices is empty");
  }
  const bool valid = options_.min_digits >= 1 && options_.max_digits >= options_.min_digits &&
                     options_.max_gap >= 0 && options_.max_overlap >= 0 && options_.margin >= 0 &&
                     options_.height >= 1;
  if (!valid) {
    throw std::invalid_argument(fmt::format(
        "DigitStringGenerator: options digits [{}, {}], gap {}, overlap {}, margin {}, height {} "
        "are invalid; expected 1 <= min <= max and the rest >= 0 (height >= 1)",
        options_.min_digits, options_.max_digits, options_.max_gap, options_.max_overlap,
        options_.margin, options_.height));
  }
  for (std::size_t index : pool_) {
    if (index >= digits_.images.size()) {
      throw std::out_of_range(fmt::format(
          "DigitStringGenerator: pool index {} is out of range; the set has {} digits", index,
          digits_.images.size()));
    }
  }
}

LabelledImage DigitStringGenerator::next(Rng& rng) const {
  const auto count = static_cast<std::size_t>(
      uniform_int(rng, options_.min_digits, options_.max_digits));
  std::vector<std::size_t> indices(count);
  for (std::size_t& index : indices) {
    index = pool_[static_cast<std::size_t>(uniform_int(rng, 0, static_cast<std::int64_t>(pool_.size()) - 1))];
  }

  std::vector<int> offsets(count - 1);
  for (std::size_t i = 0; i + 1 < count; ++i) {
    // A narrow digit such as a '1' may be thinner than the allowed overlap.
    const int widest_overlap = std::min(options_.max_overlap,
                                        ink_part(digits_.images[indices[i]]).width - 1);
    offsets[i] = static_cast<int>(uniform_int(rng, -widest_overlap, options_.max_gap));
  }
  return compose_digit_string(digits_, indices, offsets, options_.height, options_.margin);
}

}  // namespace ember::data
