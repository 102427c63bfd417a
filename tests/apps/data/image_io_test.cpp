// Tests of image loading and PNG saving: every supported pixel layout, the
// ink polarity rule, and each kind of bad file.
#include <catch2/catch.hpp>

#include <fstream>

#include <stb/stb_image_write.h>

#include "apps/data/image_io.h"
#include "test_helpers.h"

using ember::data::GrayImage;
using ember::data::InkPolarity;
using ember::data::LoadOptions;

namespace {

const std::filesystem::path kFixtures = "apps/data/fixtures";

void write_bytes(const std::filesystem::path& file, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Overwrites the width and height fields of a PNG's IHDR chunk. The chunk's
// CRC goes stale, but the size checks run before anything reads it.
std::vector<std::uint8_t> with_png_size(std::vector<std::uint8_t> png, std::uint32_t width,
                                        std::uint32_t height) {
  for (int k = 0; k < 4; ++k) {
    png[16 + k] = static_cast<std::uint8_t>(width >> (24 - 8 * k));
    png[20 + k] = static_cast<std::uint8_t>(height >> (24 - 8 * k));
  }
  return png;
}

GrayImage light_paper_with_dark_dot() {
  GrayImage image(4, 4, 1.0f);
  image.at(1, 2) = 0.0f;
  return image;
}

}  // namespace

TEST_CASE("PNG gray round trip", "[data][image_io]") {
  ember::data::testing::TempFolder folder("png");
  const GrayImage image = ember::data::testing::ramp_image(5, 7);
  const auto file = folder / "ramp.png";

  ember::data::save_png(image, file);
  const GrayImage loaded = ember::data::load_gray_image(file, {InkPolarity::keep});

  REQUIRE(loaded.height == 5);
  REQUIRE(loaded.width == 7);
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    CHECK(loaded.pixels[i] == Approx(image.pixels[i]).margin(0.501 / 255));
  }
}

TEST_CASE("PNG save is atomic", "[data][image_io]") {
  ember::data::testing::TempFolder folder("atomic");
  const auto file = folder / "out.png";

  ember::data::save_png(GrayImage(2, 2, 1.0f), file);
  ember::data::save_png(GrayImage(3, 1, 0.0f), file);

  SECTION("overwrites and leaves no temporary file") {
    const GrayImage loaded = ember::data::load_gray_image(file, {InkPolarity::keep});
    CHECK(loaded.height == 3);
    int entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder.path())) ++entries;
    CHECK(entries == 1);
  }
  SECTION("missing folder names the file") {
    CHECK_THROWS_WITH(ember::data::save_png(GrayImage(1, 1), folder / "no/such/x.png"),
                      Catch::Contains("x.png") && Catch::Contains("No such file"));
  }
  SECTION("empty image throws") {
    CHECK_THROWS_WITH(ember::data::save_png(GrayImage(0, 3), folder / "empty.png"),
                      Catch::Contains("is empty"));
  }
}

TEST_CASE("ink polarity rule", "[data][image_io]") {
  ember::data::testing::TempFolder folder("polarity");
  const auto file = folder / "paper.png";
  ember::data::save_png(light_paper_with_dark_dot(), file);

  SECTION("detect inverts light paper") {
    const GrayImage image = ember::data::load_gray_image(file);
    CHECK(image.at(1, 2) == Approx(1.0));
    CHECK(image.at(0, 0) == Approx(0.0));
  }
  SECTION("detect keeps dark paper") {
    GrayImage dark(4, 4, 0.0f);
    dark.at(2, 2) = 1.0f;
    ember::data::save_png(dark, folder / "dark.png");
    const GrayImage image = ember::data::load_gray_image(folder / "dark.png");
    CHECK(image.at(2, 2) == Approx(1.0));
  }
  SECTION("keep and invert are unconditional") {
    CHECK(ember::data::load_gray_image(file, {InkPolarity::keep}).at(0, 0) == Approx(1.0));
    CHECK(ember::data::load_gray_image(file, {InkPolarity::invert}).at(1, 2) == Approx(1.0));
  }
}

TEST_CASE("pixel layouts load as gray", "[data][image_io]") {
  SECTION("16-bit gray keeps precision") {
    const GrayImage image = ember::data::load_gray_image(kFixtures / "gray16.png");
    REQUIRE(image.height == 2);
    REQUIRE(image.width == 3);
    CHECK(image.at(0, 1) == Approx(1.0));
    CHECK(image.at(0, 0) == Approx(0.0));
    CHECK(image.at(1, 1) == Approx(1.0 - 32768.0 / 65535).margin(1e-6));
  }
  SECTION("palette") {
    const GrayImage image = ember::data::load_gray_image(kFixtures / "palette.png");
    CHECK(image.at(0, 1) == Approx(1.0));
    CHECK(image.at(1, 0) == Approx(0.0));
  }
  SECTION("gray with alpha composites over white") {
    const GrayImage image = ember::data::load_gray_image(kFixtures / "gray_alpha.png");
    CHECK(image.at(0, 1) == Approx(1.0));
    CHECK(image.at(0, 2) == Approx(0.0));
  }
  SECTION("RGB uses Rec. 601 luma") {
    ember::data::testing::TempFolder folder("rgb");
    ember::data::RgbImage rgb(1, 2, 0, 0, 0);
    rgb.at(0, 1)[0] = 255;  // pure red: luma 0.299
    ember::data::save_png(rgb, folder / "rgb.png");
    const GrayImage image = ember::data::load_gray_image(folder / "rgb.png", {InkPolarity::keep});
    CHECK(image.at(0, 0) == Approx(0.0));
    CHECK(image.at(0, 1) == Approx(0.299).margin(1e-3));
  }
  SECTION("JPEG") {
    ember::data::testing::TempFolder folder("jpeg");
    std::vector<std::uint8_t> gray(16 * 16, 255);
    const auto file = (folder / "paper.jpg").string();
    REQUIRE(stbi_write_jpg(file.c_str(), 16, 16, 1, gray.data(), 95) != 0);
    const GrayImage image = ember::data::load_gray_image(file);
    REQUIRE(image.width == 16);
    CHECK(image.at(8, 8) == Approx(0.0).margin(0.02));
  }
}

TEST_CASE("bad image files give one-line errors", "[data][image_io]") {
  ember::data::testing::TempFolder folder("bad");
  const std::vector<std::uint8_t> good =
      ember::data::encode_png(ember::data::testing::ramp_image(16, 16));

  SECTION("missing file") {
    CHECK_THROWS_WITH(ember::data::load_gray_image(folder / "absent.png"),
                      Catch::Contains("absent.png") && Catch::Contains("does not exist"));
  }
  SECTION("empty file") {
    write_bytes(folder / "empty.png", {});
    CHECK_THROWS_WITH(ember::data::load_gray_image(folder / "empty.png"),
                      Catch::Contains("empty.png") && Catch::Contains("empty file"));
  }
  SECTION("not an image") {
    const std::string text = "hello, this is text";
    write_bytes(folder / "text.png", std::vector<std::uint8_t>(text.begin(), text.end()));
    CHECK_THROWS_WITH(ember::data::load_gray_image(folder / "text.png"),
                      Catch::Contains("text.png") && Catch::Contains("no readable header"));
  }
  SECTION("truncated PNG") {
    write_bytes(folder / "cut.png", std::vector<std::uint8_t>(good.begin(), good.begin() + 40));
    CHECK_THROWS_WITH(ember::data::load_gray_image(folder / "cut.png"),
                      Catch::Contains("cut.png") &&
                          Catch::Contains("corrupt or truncated PNG file"));
  }
  SECTION("truncated JPEG") {
    std::vector<std::uint8_t> gray(64 * 64);
    for (std::size_t i = 0; i < gray.size(); ++i) gray[i] = static_cast<std::uint8_t>(i * 37);
    const auto file = folder / "whole.jpg";
    REQUIRE(stbi_write_jpg(file.string().c_str(), 64, 64, 1, gray.data(), 90) != 0);
    const std::vector<std::uint8_t> jpeg = ember::data::read_file_bytes(file);
    for (std::size_t cut : {std::size_t{200}, jpeg.size() / 2}) {
      INFO("cut at byte " << cut);
      write_bytes(folder / "cut.jpg", std::vector<std::uint8_t>(jpeg.begin(), jpeg.begin() + cut));
      CHECK_THROWS_WITH(ember::data::load_gray_image(folder / "cut.jpg"),
                        Catch::Contains("cut.jpg") &&
                            Catch::Contains("corrupt or truncated JPEG file") &&
                            !Catch::Contains("png"));
    }
  }
  SECTION("corrupt compressed data") {
    std::vector<std::uint8_t> bad = good;
    for (std::size_t i = 45; i < bad.size() - 12; ++i) bad[i] = static_cast<std::uint8_t>(i * 7);
    write_bytes(folder / "noise.png", bad);
    CHECK_THROWS_WITH(ember::data::load_gray_image(folder / "noise.png"),
                      Catch::Contains("noise.png") &&
                          Catch::Contains("corrupt or truncated PNG file"));
  }
  SECTION("zero width in the header") {
    write_bytes(folder / "zero.png", with_png_size(good, 0, 16));
    CHECK_THROWS_WITH(ember::data::load_gray_image(folder / "zero.png"),
                      Catch::Contains("zero.png") && Catch::Contains("zero size (0 x 16"));
  }
  SECTION("huge side in the header") {
    write_bytes(folder / "huge.png", with_png_size(good, 100000, 16));
    CHECK_THROWS_WITH(ember::data::load_gray_image(folder / "huge.png"),
                      Catch::Contains("huge.png") && Catch::Contains("too large (100000 x 16"));
  }
  SECTION("huge area in the header") {
    write_bytes(folder / "area.png", with_png_size(good, 10000, 10000));
    CHECK_THROWS_WITH(ember::data::load_gray_image(folder / "area.png"),
                      Catch::Contains("too large (10000 x 10000"));
  }
}
