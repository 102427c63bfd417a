// Tests of the geometric image operations with hand-computed pixels.
#include <catch2/catch.hpp>

#include "apps/data/image.h"
#include "test_helpers.h"

using ember::data::GrayImage;
using ember::data::ResizeFilter;

namespace {

GrayImage from_rows(int height, int width, std::vector<float> values) {
  GrayImage image(height, width);
  image.pixels = std::move(values);
  return image;
}

}  // namespace

TEST_CASE("crop copies the block", "[data][image]") {
  const GrayImage image = ember::data::testing::ramp_image(3, 4);  // values i / 11

  SECTION("inner block") {
    const GrayImage block = ember::data::crop(image, 1, 2, 2, 2);
    REQUIRE(block.height == 2);
    REQUIRE(block.width == 2);
    CHECK(block.at(0, 0) == Approx(6.0 / 11));
    CHECK(block.at(0, 1) == Approx(7.0 / 11));
    CHECK(block.at(1, 0) == Approx(10.0 / 11));
    CHECK(block.at(1, 1) == Approx(1.0));
  }
  SECTION("block past the edge throws") {
    CHECK_THROWS_WITH(ember::data::crop(image, 2, 0, 2, 1),
                      Catch::Contains("not inside the 3 x 4 image"));
  }
}

TEST_CASE("resize with bilinear filter", "[data][image]") {
  SECTION("1 x 2 to 1 x 4 aligns pixel centers") {
    // Output centers map to source positions -0.25, 0.25, 0.75, 1.25 (clamped).
    const GrayImage out = ember::data::resize(from_rows(1, 2, {0.0f, 1.0f}), 1, 4,
                                              ResizeFilter::bilinear);
    REQUIRE(out.width == 4);
    CHECK(out.at(0, 0) == Approx(0.0));
    CHECK(out.at(0, 1) == Approx(0.25));
    CHECK(out.at(0, 2) == Approx(0.75));
    CHECK(out.at(0, 3) == Approx(1.0));
  }
  SECTION("same size is the identity") {
    const GrayImage image = ember::data::testing::ramp_image(3, 5);
    const GrayImage out = ember::data::resize(image, 3, 5, ResizeFilter::bilinear);
    for (std::size_t i = 0; i < image.pixels.size(); ++i) CHECK(out.pixels[i] == Approx(image.pixels[i]));
  }
}

TEST_CASE("resize with area filter", "[data][image]") {
  SECTION("2 x 2 to 1 x 1 is the mean") {
    const GrayImage out = ember::data::resize(from_rows(2, 2, {0.1f, 0.2f, 0.3f, 0.6f}), 1, 1,
                                              ResizeFilter::area);
    CHECK(out.at(0, 0) == Approx(0.3));
  }
  SECTION("1 x 3 to 1 x 2 weights partial pixels") {
    // Output 0 covers source [0, 1.5): (0.0 * 1 + 0.6 * 0.5) / 1.5 = 0.2.
    // Output 1 covers source [1.5, 3): (0.6 * 0.5 + 0.9 * 1) / 1.5 = 0.8.
    const GrayImage out = ember::data::resize(from_rows(1, 3, {0.0f, 0.6f, 0.9f}), 1, 2,
                                              ResizeFilter::area);
    CHECK(out.at(0, 0) == Approx(0.2));
    CHECK(out.at(0, 1) == Approx(0.8));
  }
  SECTION("zero target size throws") {
    CHECK_THROWS_WITH(ember::data::resize(GrayImage(2, 2), 0, 2, ResizeFilter::area),
                      Catch::Contains("target size 0 x 2 is invalid"));
  }
}

TEST_CASE("resize to height keeps aspect", "[data][image]") {
  const GrayImage digits(28, 70, 0.5f);
  const GrayImage out = ember::data::resize_to_height(digits, 32);
  CHECK(out.height == 32);
  CHECK(out.width == 80);  // round(70 * 32 / 28)
  CHECK(out.at(10, 40) == Approx(0.5));

  const GrayImage thin = ember::data::resize_to_height(GrayImage(100, 1, 1.0f), 10);
  CHECK(thin.width == 1);
}

TEST_CASE("hconcat places images side by side", "[data][image]") {
  const std::vector<GrayImage> parts = {GrayImage(2, 1, 0.25f), GrayImage(2, 2, 0.75f)};

  SECTION("with a gap") {
    const GrayImage out = ember::data::hconcat(parts, 1);
    REQUIRE(out.width == 4);
    CHECK(out.at(1, 0) == 0.25f);
    CHECK(out.at(1, 1) == 0.0f);
    CHECK(out.at(0, 2) == 0.75f);
    CHECK(out.at(1, 3) == 0.75f);
  }
  SECTION("different heights throw") {
    const std::vector<GrayImage> bad = {GrayImage(2, 1), GrayImage(3, 1)};
    CHECK_THROWS_WITH(ember::data::hconcat(bad), Catch::Contains("image 1 has height 3"));
  }
}

TEST_CASE("pad adds a border", "[data][image]") {
  const GrayImage out = ember::data::pad(GrayImage(1, 1, 1.0f), 1, 2, 3, 0, 0.5f);
  REQUIRE(out.height == 4);
  REQUIRE(out.width == 4);
  CHECK(out.at(1, 3) == 1.0f);
  CHECK(out.at(0, 0) == 0.5f);
  CHECK(out.at(3, 3) == 0.5f);
  CHECK_THROWS_WITH(ember::data::pad(out, -1, 0, 0, 0), Catch::Contains("negative"));
}

TEST_CASE("ink columns of an image", "[data][image]") {
  GrayImage image(2, 6);
  CHECK(ember::data::ink_columns(image).last == 0);
  image.at(0, 2) = 1.0f;
  image.at(1, 4) = 0.5f;
  const auto range = ember::data::ink_columns(image);
  CHECK(range.first == 2);
  CHECK(range.last == 5);
}
