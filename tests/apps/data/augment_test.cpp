// Tests of the portable random draws and the seeded augmentations.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "apps/data/augment.h"
#include "test_helpers.h"

using ember::data::GrayImage;
using ember::data::Rng;

namespace {

float ink_sum(const GrayImage& image) {
  float sum = 0.0f;
  for (float pixel : image.pixels) sum += pixel;
  return sum;
}

// A width-1 vertical bar in column `col` of a height x width image.
GrayImage vertical_bar(int height, int width, int col) {
  GrayImage image(height, width);
  for (int row = 0; row < height; ++row) image.at(row, col) = 1.0f;
  return image;
}

int ink_column_in_row(const GrayImage& image, int row) {
  int best = -1;
  float best_value = 0.0f;
  for (int col = 0; col < image.width; ++col) {
    if (image.at(row, col) > best_value) {
      best_value = image.at(row, col);
      best = col;
    }
  }
  return best;
}

}  // namespace

TEST_CASE("mt19937_64 output is the standard's", "[data][random]") {
  // The C++ standard fixes the 10000th output of a default-seeded mt19937_64.
  Rng rng;
  rng.discard(9999);
  CHECK(rng() == 9981545732273789042ULL);
}

TEST_CASE("portable uniform and normal draws", "[data][random]") {
  Rng rng(42);

  SECTION("uniform_int stays in range and hits every value") {
    std::set<std::int64_t> seen;
    for (int i = 0; i < 2000; ++i) {
      const std::int64_t value = ember::data::uniform_int(rng, -3, 4);
      REQUIRE(value >= -3);
      REQUIRE(value <= 4);
      seen.insert(value);
    }
    CHECK(seen.size() == 8);
    CHECK_THROWS_WITH(ember::data::uniform_int(rng, 2, 1), Catch::Contains("range [2, 1] is empty"));
  }
  SECTION("uniform01 and normal moments") {
    const int n = 20000;
    double uniform_sum = 0.0;
    double normal_sum = 0.0;
    double normal_squares = 0.0;
    for (int i = 0; i < n; ++i) {
      const double u = ember::data::uniform01(rng);
      REQUIRE(u >= 0.0);
      REQUIRE(u < 1.0);
      uniform_sum += u;
      const double z = ember::data::normal(rng);
      normal_sum += z;
      normal_squares += z * z;
    }
    // Tolerances are about 5 standard errors for n = 20000.
    CHECK(uniform_sum / n == Approx(0.5).margin(0.011));
    CHECK(normal_sum / n == Approx(0.0).margin(0.036));
    CHECK(normal_squares / n == Approx(1.0).margin(0.05));
  }
  SECTION("same seed, same sequence") {
    Rng a(7);
    Rng b(7);
    for (int i = 0; i < 10; ++i) CHECK(ember::data::uniform01(a) == ember::data::uniform01(b));
  }
}

TEST_CASE("shift horizontal moves columns", "[data][augment]") {
  GrayImage image(1, 4);
  image.pixels = {0.1f, 0.2f, 0.3f, 0.4f};
  CHECK(ember::data::shift_horizontal(image, 1).pixels == std::vector<float>{0.0f, 0.1f, 0.2f, 0.3f});
  CHECK(ember::data::shift_horizontal(image, -2).pixels == std::vector<float>{0.3f, 0.4f, 0.0f, 0.0f});
  CHECK(ember::data::shift_horizontal(image, 9).pixels == std::vector<float>(4, 0.0f));
}

TEST_CASE("jitter stays within bounds", "[data][augment]") {
  const GrayImage image = ember::data::testing::ramp_image(4, 20);
  Rng rng(1);
  std::set<int> shifts;
  for (int i = 0; i < 300; ++i) {
    int shift = -1;
    const GrayImage out = ember::data::jitter_horizontal(image, 7, rng, &shift);
    REQUIRE(shift >= 0);
    REQUIRE(shift <= 7);
    REQUIRE(out.pixels == ember::data::shift_horizontal(image, shift).pixels);
    shifts.insert(shift);
  }
  CHECK(shifts.size() == 8);
}

TEST_CASE("salt noise sets the fraction", "[data][augment]") {
  const GrayImage blank(100, 100);
  Rng rng(3);

  SECTION("10 percent within tolerance") {
    const GrayImage out = ember::data::salt_noise(blank, 0.1, rng);
    // 10,000 Bernoulli(0.1) pixels: standard deviation 0.003, tolerance 5 of them.
    CHECK(ink_sum(out) / 10000.0f == Approx(0.1).margin(0.015));
    for (float pixel : out.pixels) REQUIRE((pixel == 0.0f || pixel == 1.0f));
  }
  SECTION("zero and full fractions") {
    CHECK(ink_sum(ember::data::salt_noise(blank, 0.0, rng)) == 0.0f);
    CHECK(ink_sum(ember::data::salt_noise(blank, 1.0, rng)) == 10000.0f);
    CHECK_THROWS_WITH(ember::data::salt_noise(blank, 1.5, rng), Catch::Contains("outside [0, 1]"));
  }
}

TEST_CASE("affine warp geometry", "[data][augment]") {
  SECTION("identity keeps the image") {
    const GrayImage image = ember::data::testing::ramp_image(5, 7);
    const GrayImage out = ember::data::affine_warp(image, {});
    for (std::size_t i = 0; i < image.pixels.size(); ++i) CHECK(out.pixels[i] == Approx(image.pixels[i]));
  }
  SECTION("positive slant leans right") {
    const GrayImage out = ember::data::affine_warp(vertical_bar(21, 21, 10), {0.5, 1.0, 0.0});
    // Row 0 is 10 px above the center: the bar moves 0.5 * 10 = 5 px right.
    CHECK(ink_column_in_row(out, 0) == 15);
    CHECK(ink_column_in_row(out, 10) == 10);
    CHECK(ink_column_in_row(out, 20) == 5);
  }
  SECTION("scale 2 doubles distances from the center") {
    GrayImage dot(21, 21);
    dot.at(10, 12) = 1.0f;
    const GrayImage out = ember::data::affine_warp(dot, {0.0, 2.0, 0.0});
    CHECK(out.at(10, 14) == Approx(1.0));
  }
  SECTION("quarter turn counterclockwise") {
    GrayImage dot(21, 21);
    dot.at(10, 15) = 1.0f;  // 5 px right of the center
    const GrayImage out = ember::data::affine_warp(dot, {0.0, 1.0, std::acos(0.0)});
    CHECK(out.at(5, 10) == Approx(1.0).margin(1e-5));  // now 5 px above
  }
}

TEST_CASE("elastic distortion", "[data][augment]") {
  const GrayImage image = vertical_bar(32, 32, 16);
  Rng rng(11);

  SECTION("alpha zero is the identity") {
    const GrayImage out = ember::data::elastic_distortion(image, {0.0, 4.0}, rng);
    CHECK(out.pixels == image.pixels);
  }
  SECTION("moves ink but keeps most of it") {
    const GrayImage out = ember::data::elastic_distortion(image, {8.0, 4.0}, rng);
    CHECK(out.pixels != image.pixels);
    CHECK(ink_sum(out) == Approx(ink_sum(image)).epsilon(0.3));
  }
}

TEST_CASE("dilate and erode", "[data][augment]") {
  GrayImage dot(5, 5);
  dot.at(2, 2) = 1.0f;
  const GrayImage thick = ember::data::dilate(dot, 1);
  CHECK(ink_sum(thick) == 9.0f);
  CHECK(thick.at(1, 1) == 1.0f);
  CHECK(thick.at(0, 0) == 0.0f);

  const GrayImage thin = ember::data::erode(thick, 1);
  CHECK(thin.pixels == dot.pixels);
  CHECK_THROWS_WITH(ember::data::erode(dot, -1), Catch::Contains("radius -1 is negative"));
}

TEST_CASE("stroke change keeps thin strokes", "[data][augment]") {
  const GrayImage thin = vertical_bar(16, 16, 8);
  ember::data::AugmentOptions options;
  options.stroke_probability = 1.0;
  Rng rng(4);
  for (int i = 0; i < 20; ++i) {
    const GrayImage out = ember::data::augment(thin, options, rng);
    // Either dilated to 3 columns or left alone: erosion would erase the bar.
    const float ink = ink_sum(out);
    CHECK((ink == ink_sum(thin) || ink == 3 * ink_sum(thin)));
  }
}

TEST_CASE("augment is deterministic per seed", "[data][augment]") {
  const GrayImage image = vertical_bar(32, 40, 20);
  ember::data::AugmentOptions options;
  options.max_jitter = 7;
  options.salt_fraction = 0.1;
  options.affine = true;
  options.elastic = true;
  options.stroke_probability = 0.5;

  Rng first(99);
  Rng second(99);
  Rng other(100);
  const GrayImage a = ember::data::augment(image, options, first);
  CHECK(a.pixels == ember::data::augment(image, options, second).pixels);
  CHECK(a.pixels != ember::data::augment(image, options, other).pixels);

  SECTION("disabled steps draw nothing") {
    Rng fresh(5);
    Rng untouched(5);
    CHECK(ember::data::augment(image, {}, fresh).pixels == image.pixels);
    CHECK(fresh() == untouched());
  }
}
