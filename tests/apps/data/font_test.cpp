// Tests of font lookup and text rendering on the Debian font packages. A test
// whose font package is absent is skipped with a warning naming the package.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <optional>

#include "apps/data/font.h"
#include "test_helpers.h"

using ember::data::Font;
using ember::data::GrayImage;
using ember::data::RenderOptions;

namespace {

constexpr std::string_view kLowercase = "abcdefghijklmnopqrstuvwxyz";

// Returns the font, or nothing after a Catch WARN when its package is absent.
std::optional<Font> find_or_warn(std::string_view family, std::string_view package) {
  try {
    return Font::find(family);
  } catch (const std::runtime_error&) {
    WARN("font family '" << family << "' not installed (Debian package " << package
                         << "); skipping");
    return std::nullopt;
  }
}

bool only_zero_or_one(const GrayImage& image) {
  for (float pixel : image.pixels) {
    if (pixel != 0.0f && pixel != 1.0f) return false;
  }
  return true;
}

float column_block_ink(const GrayImage& image, int first, int last) {
  float sum = 0.0f;
  for (int row = 0; row < image.height; ++row) {
    for (int col = first; col < last; ++col) sum += image.at(row, col);
  }
  return sum;
}

}  // namespace

TEST_CASE("font find by family name", "[data][font]") {
  const auto font = find_or_warn("Anonymous Pro", "fonts-anonymous-pro");
  if (!font) return;

  CHECK(font->file().filename() == "Anonymous Pro.ttf");
  CHECK(font->family_name() == "Anonymous Pro");
  CHECK(font->style_name() == "Regular");

  SECTION("spelling variants match") {
    CHECK(Font::find("anonymous-pro").file() == font->file());
  }
  SECTION("family from the name table prefers Regular") {
    const auto klee = find_or_warn("Klee One", "fonts-klee");
    if (klee) CHECK(klee->file().filename() == "KleeOne-Regular.ttf");
  }
}

TEST_CASE("font find reports what it searched", "[data][font]") {
  ember::data::testing::TempFolder folder("fonts");
  CHECK_THROWS_WITH(Font::find("No Such Family", {folder.path()}),
                    Catch::Contains("'No Such Family' not found in 0 font files under") &&
                        Catch::Contains(folder.path().string()) &&
                        Catch::Contains("families found: none"));
}

TEST_CASE("font load rejects a non-font file", "[data][font]") {
  ember::data::testing::TempFolder folder("notfont");
  std::ofstream(folder / "fake.ttf") << "this is not a font file at all";
  CHECK_THROWS_WITH(Font::load(folder / "fake.ttf"),
                    Catch::Contains("fake.ttf") && Catch::Contains("not a TrueType"));
  CHECK_THROWS_WITH(Font::load(folder / "absent.ttf"), Catch::Contains("does not exist"));
}

TEST_CASE("monospace rendering has 18 px cells", "[data][font]") {
  const auto font = find_or_warn("Anonymous Pro", "fonts-anonymous-pro");
  if (!font) return;

  RenderOptions options;
  options.cell_width = 18;
  const GrayImage image = ember::data::render_text(*font, "hello", options);

  CHECK(image.height == 32);
  CHECK(image.width == 90);
  for (int cell = 0; cell < 5; ++cell) {
    INFO("cell " << cell);
    CHECK(column_block_ink(image, 18 * cell, 18 * cell + 18) > 5.0f);
  }
  for (int n = 1; n <= 7; ++n) {
    CHECK(ember::data::render_text(*font, std::string(n, 'w'), options).width == 18 * n);
  }
}

TEST_CASE("proportional width follows the text", "[data][font]") {
  const auto font = find_or_warn("Breip", "fonts-breip");
  if (!font) return;

  const GrayImage narrow = ember::data::render_text(*font, "iii");
  const GrayImage wide = ember::data::render_text(*font, "mmm");
  const GrayImage longer = ember::data::render_text(*font, "mmmmmm");
  CHECK(narrow.height == 32);
  CHECK(narrow.width < wide.width);
  CHECK(longer.width > wide.width + wide.width / 2);

  const auto ink = ember::data::ink_columns(wide, 0.0f);
  CHECK(ink.first >= 0);
  CHECK(ink.last <= wide.width);
  CHECK(ink.last - ink.first > wide.width / 2);
}

TEST_CASE("anti-aliased and binarized rendering", "[data][font]") {
  const auto font = find_or_warn("Anonymous Pro", "fonts-anonymous-pro");
  if (!font) return;

  RenderOptions options;
  const GrayImage gray = ember::data::render_text(*font, "sample", options);
  CHECK_FALSE(only_zero_or_one(gray));

  options.binarize = true;
  const GrayImage binary = ember::data::render_text(*font, "sample", options);
  CHECK(only_zero_or_one(binary));
  CHECK(column_block_ink(binary, 0, binary.width) > 20.0f);

  const GrayImage again = ember::data::render_text(*font, "sample", options);
  CHECK(again.pixels == binary.pixels);
}

TEST_CASE("letters fit fills the height", "[data][font]") {
  const auto font = find_or_warn("dkg", "fonts-dkg-handwriting");
  if (!font) return;

  RenderOptions options;
  options.fit = ember::data::VerticalFit::letters;
  const GrayImage image = ember::data::render_text(
      *font, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", options);
  int top = image.height;
  int bottom = 0;
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) {
      if (image.at(row, col) > 0.1f) {
        top = std::min(top, row);
        bottom = std::max(bottom, row);
      }
    }
  }
  CHECK(top <= 2);
  CHECK(bottom >= 29);
}

TEST_CASE("missing glyph is an error", "[data][font]") {
  const auto font = find_or_warn("Anonymous Pro", "fonts-anonymous-pro");
  if (!font) return;

  CHECK(font->missing_glyphs("abc\u6f22") == U"\u6f22");
  CHECK_THROWS_WITH(ember::data::render_text(*font, "a\u6f22"),
                    Catch::Contains("no glyph for") && Catch::Contains("U+6F22"));
  CHECK_THROWS_WITH(ember::data::render_text(*font, ""), Catch::Contains("text is empty"));
}

TEST_CASE("handwriting fonts have lowercase glyphs", "[data][font]") {
  const std::vector<std::pair<std::string, std::string>> fonts = {
      {"dkg", "fonts-dkg-handwriting"}, {"Breip", "fonts-breip"},
      {"femkeklaver", "fonts-femkeklaver"}, {"Rufscript", "fonts-rufscript"},
      {"Klee One", "fonts-klee"}, {"Anonymous Pro", "fonts-anonymous-pro"}};
  for (const auto& [family, package] : fonts) {
    const auto font = find_or_warn(family, package);
    if (!font) continue;
    INFO("font " << family);
    CHECK(font->missing_glyphs(kLowercase).empty());
    CHECK(font->has_lowercase_letterforms());
  }
}

TEST_CASE("humor sans lowercase looks like capitals", "[data][font]") {
  const auto font = find_or_warn("Humor Sans", "fonts-humor-sans");
  if (!font) return;

  CHECK(font->missing_glyphs(kLowercase).empty());
  CHECK_FALSE(font->has_lowercase_letterforms());
}

TEST_CASE("capital letterforms at a-z are detected", "[data][font]") {
  // fonts-bwht draws capitals at a-z: full size in some faces, small
  // capitals (shorter than 'X' but without ascenders) in others.
  const std::string folder = "/usr/share/fonts/opentype/bwht/";
  for (const char* face : {"BecauseWeBuild-Regular.otf", "BecauseWeConnect-Regular.otf",
                           "BecauseWeCreate-Regular.otf", "BecauseWeLearn-Regular.otf",
                           "BecauseWeMentor-Regular.otf", "BecauseWeOrganize-Regular.otf"}) {
    if (!std::filesystem::exists(folder + face)) {
      WARN(face << " not installed (Debian package fonts-bwht); skipping");
      continue;
    }
    INFO("font " << face);
    const Font font = Font::load(folder + face);
    CHECK(font.missing_glyphs(kLowercase).empty());
    CHECK_FALSE(font.has_lowercase_letterforms());
  }
}

TEST_CASE("UTF-8 decoding", "[data][font]") {
  CHECK(ember::data::decode_utf8("a\xc3\xa9") == U"a\u00e9");
  CHECK(ember::data::encode_utf8(U"a\u00e9\u6f22") == "a\xc3\xa9\xe6\xbc\xa2");
  CHECK_THROWS_WITH(ember::data::decode_utf8("ab\xc3"), Catch::Contains("invalid UTF-8 at byte 2"));
}
