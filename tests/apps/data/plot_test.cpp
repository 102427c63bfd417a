// Tests of the plots: output sizes from the documented layout, cell colors,
// the path overlay, and input checks. Legibility itself is checked by eye.
#include <catch2/catch.hpp>

#include <cmath>

#include "apps/data/image_io.h"
#include "apps/data/plot.h"
#include "test_helpers.h"

using ember::data::Color;
using ember::data::GrayImage;
using ember::data::RgbImage;

namespace {

bool has_color(const RgbImage& image, int row, int col, Color color) {
  const std::uint8_t* pixel = image.at(row, col);
  return pixel[0] == color.red && pixel[1] == color.green && pixel[2] == color.blue;
}

int count_color(const RgbImage& image, Color color) {
  int count = 0;
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) count += has_color(image, row, col, color);
  }
  return count;
}

}  // namespace

TEST_CASE("colormap runs dark to pale", "[data][plot]") {
  auto lightness = [](Color c) { return c.red + c.green + c.blue; };
  for (int i = 0; i < 10; ++i) {
    CHECK(lightness(ember::data::colormap(i / 10.0)) < lightness(ember::data::colormap((i + 1) / 10.0)));
  }
  CHECK(lightness(ember::data::colormap(std::nan(""))) == lightness(ember::data::colormap(0.0)));
}

TEST_CASE("heatmap layout and cell colors", "[data][plot]") {
  // 2 x 3 matrix, 10 px cells, no text and no colorbar: the matrix starts at
  // column 10 + 8 = 18 and row 10, with a 10 px margin right and below.
  const std::vector<float> values = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, NAN};
  ember::data::HeatmapOptions options;
  options.cell_size = 10;
  options.colorbar = false;

  const RgbImage image = ember::data::plot_heatmap(values, 2, 3, options);
  CHECK(image.height == 10 + 20 + 10);
  CHECK(image.width == 18 + 30 + 10);
  CHECK(has_color(image, 15, 23, ember::data::colormap(0.0)));   // cell (0, 0)
  CHECK(has_color(image, 25, 43, ember::data::kGray));           // NaN cell (1, 2)
  CHECK(has_color(image, 25, 33, ember::data::colormap(1.0)));   // max cell (1, 1)
  CHECK(has_color(image, 15, 33, ember::data::colormap(0.25)));  // cell (0, 1)

  SECTION("path is drawn through cell centers") {
    options.path = {{0, 0}, {1, 1}};
    const RgbImage with_path = ember::data::plot_heatmap(values, 2, 3, options);
    CHECK(has_color(with_path, 15, 23, ember::data::kWhite));
    CHECK(has_color(with_path, 25, 33, ember::data::kWhite));
    CHECK(has_color(with_path, 15, 43, ember::data::colormap(0.5)));  // off the path
  }
  SECTION("labels, title and colorbar widen the image") {
    options.title = "energies";
    options.row_labels = {"w0", "w1"};
    options.col_labels = {"a", "b", "c"};
    options.colorbar = true;
    const RgbImage labelled = ember::data::plot_heatmap(values, 2, 3, options);
    CHECK(labelled.width > image.width);
    CHECK(labelled.height > image.height);
    CHECK(count_color(labelled, ember::data::kBlack) > 50);  // text pixels
  }
}

TEST_CASE("heatmap scales up small matrices", "[data][plot]") {
  const std::vector<float> values(5 * 27, 0.5f);
  const RgbImage image = ember::data::plot_heatmap(values, 5, 27);
  // Default cell: 560 / 27 = 20 px, so the matrix alone is 540 x 100.
  CHECK(image.width > 540);
  CHECK(image.height > 100);
}

TEST_CASE("heatmap input checks", "[data][plot]") {
  const std::vector<float> values(6, 0.0f);
  CHECK_THROWS_WITH(ember::data::plot_heatmap(values, 2, 2),
                    Catch::Contains("2 x 2 matrix needs 4 values, found 6"));
  ember::data::HeatmapOptions options;
  options.row_labels = {"only one"};
  CHECK_THROWS_WITH(ember::data::plot_heatmap(values, 2, 3, options),
                    Catch::Contains("1 row labels for 2 rows"));
  options.row_labels.clear();
  options.path = {{2, 0}};
  CHECK_THROWS_WITH(ember::data::plot_heatmap(values, 2, 3, options),
                    Catch::Contains("path cell (2, 0) is outside the 2 x 3 matrix"));
}

TEST_CASE("line plot size and series colors", "[data][plot]") {
  std::vector<ember::data::Series> series = {{"train loss", {2.0, 1.0, 0.5, 0.3}, {}},
                                             {"test error", {0.9, 0.5, NAN, 0.2}, {1, 2, 3, 4}}};
  ember::data::LinePlotOptions options;
  options.title = "training";
  options.x_label = "epoch";
  options.width = 640;
  options.height = 400;

  const RgbImage image = ember::data::plot_lines(series, options);
  CHECK(image.width == 640);
  CHECK(image.height == 400);
  CHECK(count_color(image, ember::data::series_color(0)) > 100);
  CHECK(count_color(image, ember::data::series_color(1)) > 50);

  SECTION("log scale drops non-positive values") {
    options.log_y = true;
    series[0].y[3] = 0.0;
    const RgbImage log_image = ember::data::plot_lines(series, options);
    CHECK(count_color(log_image, ember::data::series_color(0)) > 50);
  }
  SECTION("mismatched x and y throw") {
    series[1].x.pop_back();
    CHECK_THROWS_WITH(ember::data::plot_lines(series, options),
                      Catch::Contains("'test error' has 3 x values and 4 y values"));
  }
}

TEST_CASE("image grid layout", "[data][plot]") {
  const std::vector<GrayImage> images = {GrayImage(4, 6, 1.0f), GrayImage(2, 3, 0.0f),
                                         GrayImage(4, 4, 0.5f)};
  // Cells of 12 x 8 at scale 2, 8 px gaps, 2 columns and 2 rows.
  const RgbImage grid = ember::data::image_grid(images, 2, 2);
  CHECK(grid.width == 8 + 2 * (12 + 8));
  CHECK(grid.height == 8 + 2 * (8 + 8));
  CHECK(has_color(grid, 8, 8, ember::data::kWhite));
  CHECK(has_color(grid, 8 + 16 + 1, 8 + 1, Color{128, 128, 128}));

  const std::vector<std::string> captions = {"a", "b"};
  CHECK_THROWS_WITH(ember::data::image_grid(images, 2, 2, captions),
                    Catch::Contains("2 captions for 3 images"));
}

TEST_CASE("plots save as PNG", "[data][plot]") {
  ember::data::testing::TempFolder folder("plots");
  const std::vector<float> values = {0.0f, 1.0f, 2.0f, 3.0f};
  ember::data::save_png(ember::data::plot_heatmap(values, 2, 2), folder / "heat.png");
  const GrayImage loaded = ember::data::load_gray_image(folder / "heat.png");
  CHECK(loaded.height > 2 * 36);
  CHECK(loaded.width > 2 * 36);
}

TEST_CASE("text draws every busy character", "[data][plot]") {
  // Each '8' needs more vertex buffer than an average character.
  RgbImage one(40, 400);
  RgbImage many(40, 400);
  ember::data::draw_text(one, 0, 0, "8", ember::data::kBlack, 2);
  ember::data::draw_text(many, 0, 0, "88888888", ember::data::kBlack, 2);
  CHECK(count_color(many, ember::data::kBlack) == 8 * count_color(one, ember::data::kBlack));
  CHECK(ember::data::text_width("88", 2) == 2 * ember::data::text_width("8", 2));
}
