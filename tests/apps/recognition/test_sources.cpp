// Tests of the recognizer's data sources: which sets the augmentation
// options reach for digit strings.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>

#include "apps/data/idx.h"
#include "apps/data/test_helpers.h"
#include "apps/recognition/sources.h"

using namespace ember;

namespace {

// Writes 2,500 synthetic 28 x 28 "digits" (a bar whose position follows the
// label) as IDX files into folder, enough for the 2,000-digit test split.
void write_synthetic_digits(const std::filesystem::path& folder) {
  data::IdxImages images;
  images.count = 2500;
  images.rows = 28;
  images.cols = 28;
  images.pixels.assign(static_cast<size_t>(images.count * 28 * 28), 0);
  std::vector<std::uint8_t> labels;
  for (int i = 0; i < images.count; ++i) {
    const int label = i % 10;
    labels.push_back(static_cast<std::uint8_t>(label));
    for (int row = 4; row < 24; ++row) {
      for (int col = 4 + label; col < 8 + label + i % 3; ++col) {
        images.pixels[static_cast<size_t>((i * 28 + row) * 28 + col)] = 255;
      }
    }
  }
  data::write_idx_images(folder / "digits-images.idx3-ubyte", images);
  data::write_idx_labels(folder / "digits-labels.idx1-ubyte", labels);
}

bool same_images(const recognition::Samples& a, const recognition::Samples& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].text != b[i].text || a[i].image.pixels != b[i].image.pixels) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("digit strings augment only the training set", "[recognition][sources]") {
  data::testing::TempFolder folder("digit-sources");
  write_synthetic_digits(folder.path());

  recognition::DataOptions options;
  options.source = "digits";
  options.mnist_dir = folder.path().string();
  options.train_count = 20;
  options.validation_count = 10;
  options.test_count = 10;
  const recognition::DataSets plain = recognition::load_data(options);

  options.affine = true;
  options.elastic = true;
  const recognition::DataSets augmented = recognition::load_data(options);

  CHECK_FALSE(same_images(plain.train, augmented.train));
  CHECK(same_images(plain.validation, augmented.validation));
  CHECK(same_images(plain.test, augmented.test));
}
