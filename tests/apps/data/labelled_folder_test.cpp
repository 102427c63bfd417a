// Tests of labelled folders: a written dataset reads back, every labels.tsv
// error names its line, and damaged images are skipped and counted.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "apps/data/labelled_folder.h"
#include "test_helpers.h"

using ember::data::GrayImage;
using ember::data::LabelledImage;

namespace {

std::vector<LabelledImage> two_samples() {
  GrayImage first(32, 40);
  first.at(10, 10) = 1.0f;
  GrayImage second(16, 8, 0.0f);
  second.at(2, 2) = 1.0f;
  return {{first, "cat"}, {second, "a b"}};
}

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("labelled folder round trip", "[data][folder]") {
  ember::data::testing::TempFolder folder("round");
  ember::data::write_labelled_folder(folder.path(), two_samples(), "word-");

  CHECK(std::filesystem::exists(folder / "word-000000.png"));
  CHECK(std::filesystem::exists(folder / "word-000001.png"));

  const auto read = ember::data::read_labelled_folder(folder.path());
  REQUIRE(read.samples.size() == 2);
  CHECK(read.skipped.empty());
  CHECK(read.files == std::vector<std::string>{"word-000000.png", "word-000001.png"});
  CHECK(read.samples[0].text == "cat");
  CHECK(read.samples[1].text == "a b");
  CHECK(read.samples[0].image.width == 40);
  CHECK(read.samples[1].image.height == 32);  // resized from 16 rows
  CHECK(read.samples[1].image.width == 16);

  SECTION("height 0 keeps the size") {
    ember::data::FolderReadOptions options;
    options.height = 0;
    CHECK(ember::data::read_labelled_folder(folder.path(), options).samples[1].image.height == 16);
  }
  SECTION("bad text is rejected before writing") {
    ember::data::testing::TempFolder other("badtext");
    const std::vector<LabelledImage> bad = {{GrayImage(2, 2), "a\tb"}};
    CHECK_THROWS_WITH(ember::data::write_labelled_folder(other.path(), bad),
                      Catch::Contains("sample 0") && Catch::Contains("without TAB"));
    CHECK_FALSE(std::filesystem::exists(other / "labels.tsv"));
  }
}

TEST_CASE("labels.tsv errors name the line", "[data][folder]") {
  ember::data::testing::TempFolder folder("labels");
  ember::data::write_labelled_folder(folder.path(), two_samples());
  const auto list = folder / "labels.tsv";
  ember::data::FolderReadOptions options;
  options.alphabet = "abcdefghijklmnopqrstuvwxyz ";

  SECTION("missing labels.tsv") {
    std::filesystem::remove(list);
    CHECK_THROWS_WITH(ember::data::read_labelled_folder(folder.path()),
                      Catch::Contains("labels.tsv") && Catch::Contains("is missing"));
  }
  SECTION("line without a TAB") {
    write_text(list, "# comment\n000000.png cat\n");
    CHECK_THROWS_WITH(ember::data::read_labelled_folder(folder.path()),
                      Catch::Contains("labels.tsv:2: expected file<TAB>text"));
  }
  SECTION("empty label") {
    write_text(list, "000000.png\tcat\n000001.png\t\n");
    CHECK_THROWS_WITH(ember::data::read_labelled_folder(folder.path()),
                      Catch::Contains("labels.tsv:2: the label of '000001.png' is empty"));
  }
  SECTION("symbol outside the alphabet") {
    write_text(list, "000000.png\tCat\n");
    CHECK_THROWS_WITH(ember::data::read_labelled_folder(folder.path(), options),
                      Catch::Contains("labels.tsv:1") && Catch::Contains("symbol 'C' outside"));
  }
  SECTION("missing image file") {
    write_text(list, "000000.png\tcat\nnowhere.png\tdog\n");
    CHECK_THROWS_WITH(ember::data::read_labelled_folder(folder.path()),
                      Catch::Contains("labels.tsv:2: image 'nowhere.png' is listed but missing"));
  }
  SECTION("duplicate file") {
    write_text(list, "000000.png\tcat\n000000.png\tdog\n");
    CHECK_THROWS_WITH(ember::data::read_labelled_folder(folder.path()),
                      Catch::Contains("labels.tsv:2: file '000000.png' is listed twice"));
  }
  SECTION("empty list") {
    write_text(list, "\n# nothing here\n");
    CHECK_THROWS_WITH(ember::data::read_labelled_folder(folder.path()),
                      Catch::Contains("no usable sample (0 listed"));
  }
  SECTION("Windows line endings are accepted") {
    write_text(list, "000000.png\tcat\r\n");
    CHECK(ember::data::read_labelled_folder(folder.path(), options).samples[0].text == "cat");
  }
}

TEST_CASE("labels.tsv paths stay inside the folder", "[data][folder]") {
  ember::data::testing::TempFolder temp("paths");
  const auto folder = temp / "set";
  ember::data::write_labelled_folder(folder, two_samples());
  ember::data::save_png(GrayImage(32, 40), temp / "outside.png");
  const auto list = folder / "labels.tsv";

  SECTION("paths outside the folder are rejected") {
    std::filesystem::create_directories(folder / "sub");
    // Each listed image exists, so only the path rule can reject it.
    const std::vector<std::pair<std::string, std::string>> paths_and_reasons = {
        {(temp / "outside.png").string(), "is absolute"},
        {"../outside.png", "points outside the folder"},
        {"sub/../../outside.png", "points outside the folder"},
        {"./../outside.png", "points outside the folder"}};
    for (const auto& [path, reason] : paths_and_reasons) {
      INFO("path " << path);
      write_text(list, "000000.png\tcat\n" + path + "\tdog\n");
      CHECK_THROWS_WITH(ember::data::read_labelled_folder(folder),
                        Catch::Contains("labels.tsv:2: image path '" + path + "' " + reason));
    }
  }
  SECTION("paths inside the folder are read") {
    std::filesystem::create_directories(folder / "sub");
    std::filesystem::rename(folder / "000001.png", folder / "sub" / "000001.png");
    write_text(list, "./000000.png\tcat\nsub/../sub/000001.png\tab\n");
    const auto read = ember::data::read_labelled_folder(folder);
    CHECK(read.files == std::vector<std::string>{"./000000.png", "sub/../sub/000001.png"});
  }
}

TEST_CASE("damaged images are skipped and counted", "[data][folder]") {
  ember::data::testing::TempFolder folder("damaged");
  ember::data::write_labelled_folder(folder.path(), two_samples());
  write_text(folder / "broken.png", "not a png");
  write_text(folder / "empty.png", "");
  write_text(folder / "labels.tsv",
             "000000.png\tcat\nbroken.png\tdog\n000001.png\tab\nempty.png\tem\n");

  const auto read = ember::data::read_labelled_folder(folder.path());
  CHECK(read.samples.size() == 2);
  REQUIRE(read.skipped.size() == 2);
  CHECK_THAT(read.skipped[0], Catch::Contains("broken.png"));
  CHECK_THAT(read.skipped[1], Catch::Contains("empty.png"));

  SECTION("only damaged images is an error") {
    write_text(folder / "labels.tsv", "broken.png\tdog\n");
    CHECK_THROWS_WITH(ember::data::read_labelled_folder(folder.path()),
                      Catch::Contains("no usable sample (1 listed in labels.tsv, 1 damaged)") &&
                          Catch::Contains("the first: ") && Catch::Contains("broken.png"));
  }
}
