// Tests of IDX reading and writing, the digit set, the stratified split and
// the digit strings. The tests on the real MNIST digits need
// scripts/fetch-mnist.sh to have run, and are skipped with a warning when
// data/mnist is absent.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "apps/data/digit_strings.h"
#include "apps/data/idx.h"
#include "apps/data/image_io.h"
#include "test_helpers.h"

using ember::data::DigitSet;
using ember::data::GrayImage;
using ember::data::IdxImages;

namespace {

IdxImages small_images() {
  IdxImages images;
  images.count = 2;
  images.rows = 2;
  images.cols = 3;
  images.pixels = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
  return images;
}

void write_bytes(const std::filesystem::path& file, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Ten synthetic 28 x 28 digits: digit d is a bar of width d + 1 at columns 10..10+d.
DigitSet bar_digits() {
  DigitSet set;
  for (int d = 0; d < 10; ++d) {
    GrayImage image(28, 28);
    for (int row = 4; row < 24; ++row) {
      for (int col = 10; col <= 10 + d; ++col) image.at(row, col) = 1.0f;
    }
    set.images.push_back(image);
    set.labels.push_back(d);
  }
  return set;
}

std::map<int, int> count_labels(const std::vector<int>& labels,
                                const std::vector<std::size_t>& indices) {
  std::map<int, int> counts;
  for (std::size_t i : indices) ++counts[labels[i]];
  return counts;
}

std::filesystem::path mnist_folder() {
  const char* configured = std::getenv("EMBER_MNIST_DIR");
  return configured != nullptr ? std::filesystem::path(configured)
                               : std::filesystem::path("../data/mnist");
}

}  // namespace

TEST_CASE("IDX round trip", "[data][idx]") {
  ember::data::testing::TempFolder folder("idx");
  const IdxImages images = small_images();
  const std::vector<std::uint8_t> labels = {7, 3};

  ember::data::write_idx_images(folder / "images.idx3-ubyte", images);
  ember::data::write_idx_labels(folder / "labels.idx1-ubyte", labels);

  const IdxImages read = ember::data::read_idx_images(folder / "images.idx3-ubyte");
  CHECK(read.count == 2);
  CHECK(read.rows == 2);
  CHECK(read.cols == 3);
  CHECK(read.pixels == images.pixels);
  CHECK(ember::data::read_idx_labels(folder / "labels.idx1-ubyte") == labels);
  CHECK(std::filesystem::file_size(folder / "images.idx3-ubyte") == 16 + 12);

  const DigitSet set =
      ember::data::load_digit_set(folder / "images.idx3-ubyte", folder / "labels.idx1-ubyte");
  REQUIRE(set.images.size() == 2);
  CHECK(set.labels == std::vector<int>{7, 3});
  CHECK(set.images[1].at(1, 2) == 1.0f);
  CHECK(set.images[0].at(0, 1) == Approx(1.0 / 255));
}

TEST_CASE("IDX validation errors", "[data][idx]") {
  ember::data::testing::TempFolder folder("idxbad");
  ember::data::write_idx_images(folder / "images", small_images());
  const std::vector<std::uint8_t> labels = {7, 3};
  ember::data::write_idx_labels(folder / "labels", labels);
  const std::vector<std::uint8_t> good = ember::data::read_file_bytes(folder / "images");

  SECTION("labels file read as images") {
    CHECK_THROWS_WITH(ember::data::read_idx_images(folder / "labels"),
                      Catch::Contains("magic number 0x00000801") &&
                          Catch::Contains("expected 0x00000803") &&
                          Catch::Contains("is it the images file?"));
  }
  SECTION("wrong element type") {
    std::vector<std::uint8_t> bad = good;
    bad[2] = 0x0d;  // float
    write_bytes(folder / "float", bad);
    CHECK_THROWS_WITH(ember::data::read_idx_images(folder / "float"),
                      Catch::Contains("type code 0x0d"));
  }
  SECTION("truncated data") {
    write_bytes(folder / "cut", std::vector<std::uint8_t>(good.begin(), good.end() - 5));
    CHECK_THROWS_WITH(ember::data::read_idx_images(folder / "cut"),
                      Catch::Contains("'") && Catch::Contains("is truncated") &&
                          Catch::Contains("promises 28 bytes in all, the file has 23"));
  }
  SECTION("truncated header") {
    write_bytes(folder / "short", std::vector<std::uint8_t>(good.begin(), good.begin() + 6));
    CHECK_THROWS_WITH(ember::data::read_idx_images(folder / "short"),
                      Catch::Contains("6 bytes, but its header alone needs 16"));
  }
  SECTION("trailing bytes") {
    std::vector<std::uint8_t> longer = good;
    longer.push_back(0);
    write_bytes(folder / "long", longer);
    CHECK_THROWS_WITH(ember::data::read_idx_images(folder / "long"),
                      Catch::Contains("has trailing bytes"));
  }
  SECTION("zero count") {
    std::vector<std::uint8_t> empty(good.begin(), good.begin() + 16);
    empty[7] = 0;
    write_bytes(folder / "zero", empty);
    CHECK_THROWS_WITH(ember::data::read_idx_images(folder / "zero"),
                      Catch::Contains("size 0 in dimension 0"));
  }
  SECTION("counts that do not match") {
    const std::vector<std::uint8_t> three = {1, 2, 3};
    ember::data::write_idx_labels(folder / "three", three);
    CHECK_THROWS_WITH(ember::data::load_digit_set(folder / "images", folder / "three"),
                      Catch::Contains("2 images but 3 labels"));
  }
  SECTION("missing file") {
    CHECK_THROWS_WITH(ember::data::read_idx_labels(folder / "absent"),
                      Catch::Contains("absent") && Catch::Contains("does not exist"));
  }
}

TEST_CASE("stratified split keeps label shares", "[data][idx]") {
  // 60 items of label 0, 30 of label 1, 10 of label 2.
  std::vector<int> labels;
  for (int i = 0; i < 100; ++i) labels.push_back(i < 60 ? 0 : (i < 90 ? 1 : 2));

  const ember::data::Split split = ember::data::stratified_split(labels, 20, 5);
  REQUIRE(split.test.size() == 20);
  REQUIRE(split.train.size() == 80);
  std::map<int, int> test_counts = count_labels(labels, split.test);
  CHECK(test_counts[0] == 12);
  CHECK(test_counts[1] == 6);
  CHECK(test_counts[2] == 2);

  SECTION("parts are disjoint and cover everything") {
    std::vector<int> seen(100, 0);
    for (std::size_t i : split.train) ++seen[i];
    for (std::size_t i : split.test) ++seen[i];
    CHECK(std::count(seen.begin(), seen.end(), 1) == 100);
  }
  SECTION("the seed decides") {
    CHECK(ember::data::stratified_split(labels, 20, 5).test == split.test);
    CHECK(ember::data::stratified_split(labels, 20, 6).test != split.test);
  }
  SECTION("largest remainders fill an uneven count") {
    // Shares of 7 test items: 4.2, 2.1, 0.7, so label 2 gets the leftover item.
    const auto uneven = ember::data::stratified_split(labels, 7, 1);
    std::map<int, int> counts = count_labels(labels, uneven.test);
    CHECK(counts[0] == 4);
    CHECK(counts[1] == 2);
    CHECK(counts[2] == 1);
  }
  SECTION("too many test items throws") {
    CHECK_THROWS_WITH(ember::data::stratified_split(labels, 101, 1),
                      Catch::Contains("test count 101 exceeds the 100 items"));
  }
}

TEST_CASE("digit string composition", "[data][digits]") {
  const DigitSet digits = bar_digits();
  const std::vector<std::size_t> indices = {1, 3, 0};

  SECTION("gaps and overlaps at source scale") {
    // Parts are 2, 4 and 1 columns wide. Offsets +2 and -1, margin 1:
    // lefts 1, 1 + 2 + 2 = 5, 5 + 4 - 1 = 8; width 8 + 1 + 1 = 10.
    const std::vector<int> offsets = {2, -1};
    const auto sample = ember::data::compose_digit_string(digits, indices, offsets, 28, 1);
    CHECK(sample.text == "130");
    REQUIRE(sample.image.width == 10);
    CHECK(sample.image.at(10, 0) == 0.0f);
    CHECK(sample.image.at(10, 1) == 1.0f);
    CHECK(sample.image.at(10, 3) == 0.0f);
    CHECK(sample.image.at(10, 5) == 1.0f);
    CHECK(sample.image.at(10, 8) == 1.0f);
    CHECK(sample.image.at(10, 9) == 0.0f);
  }
  SECTION("scaled to 32 px") {
    const std::vector<int> offsets = {0, 0};
    const auto sample = ember::data::compose_digit_string(digits, indices, offsets, 32, 2);
    CHECK(sample.image.height == 32);
    CHECK(sample.image.width == 13);  // round((2 + 2 + 4 + 1 + 2) * 32 / 28)
  }
  SECTION("bad offsets throw") {
    const std::vector<int> one = {0};
    CHECK_THROWS_WITH(ember::data::compose_digit_string(digits, indices, one, 32, 2),
                      Catch::Contains("3 digits need 2 offsets, found 1"));
    const std::vector<int> deep = {-5, 0};
    CHECK_THROWS_WITH(ember::data::compose_digit_string(digits, indices, deep, 32, 2),
                      Catch::Contains("overlaps digit 0 past its start"));
  }
}

TEST_CASE("digit string generator uses its pool", "[data][digits]") {
  const DigitSet digits = bar_digits();
  const ember::data::DigitStringGenerator generator(digits, {2, 5, 7});
  ember::data::Rng rng(8);

  for (int i = 0; i < 50; ++i) {
    const auto sample = generator.next(rng);
    REQUIRE(sample.text.size() >= 4);
    REQUIRE(sample.text.size() <= 6);
    REQUIRE(sample.text.find_first_not_of("257") == std::string::npos);
    REQUIRE(sample.image.height == 32);
  }

  ember::data::Rng first(3);
  ember::data::Rng second(3);
  CHECK(generator.next(first).image.pixels == generator.next(second).image.pixels);
  CHECK_THROWS_WITH(ember::data::DigitStringGenerator(digits, {}),
                    Catch::Contains("pool of digit indices is empty"));
  CHECK_THROWS_WITH(ember::data::DigitStringGenerator(digits, {10}),
                    Catch::Contains("pool index 10 is out of range"));
}

TEST_CASE("MNIST digits load and split", "[data][idx][mnist]") {
  const auto folder = mnist_folder();
  const auto images = folder / "digits-images.idx3-ubyte";
  const auto labels = folder / "digits-labels.idx1-ubyte";
  if (!std::filesystem::exists(images) || !std::filesystem::exists(labels)) {
    WARN("MNIST IDX files not found in " << folder.string()
                                         << "; run scripts/fetch-mnist.sh to test them");
    return;
  }

  const DigitSet digits = ember::data::load_digit_set(images, labels);
  REQUIRE(digits.images.size() == 10000);
  CHECK(digits.images[0].height == 28);
  CHECK(digits.images[0].width == 28);

  const ember::data::Split split = ember::data::stratified_split(digits.labels, 2000, 1);
  CHECK(split.train.size() == 8000);
  CHECK(split.test.size() == 2000);

  // Strings made from the test part contain only test digits' labels and
  // are 32 px tall.
  const ember::data::DigitStringGenerator generator(digits, split.test);
  ember::data::Rng rng(2);
  const auto sample = generator.next(rng);
  CHECK(sample.image.height == 32);
  CHECK(sample.text.size() >= 4);
}
