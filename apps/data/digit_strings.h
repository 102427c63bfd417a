// Strings of handwritten digits made by placing single digit images (MNIST
// style, 28 x 28) side by side with random gaps and small overlaps, scaled to
// a fixed height and labelled with their digits.
//
// A generator draws only from the digit indices it is given, so strings for
// evaluation can be built from held-out digits alone (see stratified_split in
// idx.h). Vertical jitter and per-digit scaling are left out.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "apps/data/idx.h"
#include "apps/data/image.h"
#include "apps/data/random.h"

namespace ember::data {

struct DigitStringOptions {
  int min_digits = 4;
  int max_digits = 6;
  int height = 32;      // output height; the width follows the aspect ratio
  int max_gap = 4;      // background columns between neighbours, in source pixels
  int max_overlap = 3;  // columns two neighbours may share, in source pixels
  int margin = 2;       // background columns at both ends, in source pixels
};

// Places the digits `indices` of `digits` left to right. Each digit is cut to
// the columns that contain ink, and a digit without ink keeps all columns.
// `offsets[i]` is the number of background columns between digit i and i + 1.
// A negative offset makes the two overlap, and there the larger pixel wins.
// offsets.size() must be indices.size() - 1, and an overlap may not reach
// past the start of the previous digit. The strip is then resized to
// `height` rows keeping its aspect ratio (bilinear). The label is the digits
// as characters '0'-'9'.
LabelledImage compose_digit_string(const DigitSet& digits, std::span<const std::size_t> indices,
                                   std::span<const int> offsets, int height, int margin);

class DigitStringGenerator {
 public:
  // `digits` must outlive the generator. Every index in `pool` must be a
  // valid index of `digits` whose label is 0-9.
  DigitStringGenerator(const DigitSet& digits, std::vector<std::size_t> pool,
                       DigitStringOptions options = {});
  // A temporary set would be destroyed while the generator still refers to it.
  DigitStringGenerator(DigitSet&& digits, std::vector<std::size_t> pool,
                       DigitStringOptions options = {}) = delete;

  // Draws a length in [min_digits, max_digits], that many digits from the
  // pool (with replacement) and the offsets in [-max_overlap, max_gap]. An
  // overlap stays at least one column short of the previous digit's ink width.
  LabelledImage next(Rng& rng) const;

  const std::vector<std::size_t>& pool() const { return pool_; }

 private:
  const DigitSet& digits_;
  std::vector<std::size_t> pool_;
  DigitStringOptions options_;
};

}  // namespace ember::data
