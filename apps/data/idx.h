// IDX files (the format of MNIST and EMNIST) and the digit set built on them.
//
// An IDX file is a 4-byte magic number (two zero bytes, a type code, the
// number of dimensions), one big-endian 32-bit size per dimension, then the
// values in row-major order. Only unsigned-byte files (type 0x08) are read
// and written: images as 3 dimensions [N, rows, cols] (magic 0x00000803) and
// labels as 1 dimension [N] (magic 0x00000801). Other element types (int16,
// float) are rejected with a message that names the type code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "apps/data/image.h"

namespace ember::data {

inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;

// Images as stored in an IDX file: count x rows x cols bytes, 0 = background.
struct IdxImages {
  int count = 0;
  int rows = 0;
  int cols = 0;
  std::vector<std::uint8_t> pixels;  // [count * rows * cols]
};

// Reads and validates an image file: magic number, non-zero sizes and a file
// length that matches the header exactly. Errors name the file, the expected
// and the found values.
IdxImages read_idx_images(const std::filesystem::path& file);
// Reads and validates a label file the same way.
std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& file);

// Writes IDX files atomically (temporary file + rename).
void write_idx_images(const std::filesystem::path& file, const IdxImages& images);
void write_idx_labels(const std::filesystem::path& file, std::span<const std::uint8_t> labels);

// Labelled digit images in Ember's gray convention (ink = 1).
struct DigitSet {
  std::vector<GrayImage> images;
  std::vector<int> labels;
};

// Loads an image file and its label file; their counts must match.
DigitSet load_digit_set(const std::filesystem::path& images_file,
                        const std::filesystem::path& labels_file);

// Indices of a train/test split.
struct Split {
  std::vector<std::size_t> train;
  std::vector<std::size_t> test;
};

// Splits indices 0..labels.size()-1 so that each label keeps its share in
// the test part. Exactly `test_count` indices go to the test part: each label
// gets floor(test_count * its share), and the indices left over go to the
// labels with the largest remainders (ties to the smaller label). Which items
// of a label are chosen depends only on `seed`. Both parts come out sorted.
Split stratified_split(std::span<const int> labels, std::size_t test_count, std::uint64_t seed);

}  // namespace ember::data
