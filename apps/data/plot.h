// Plots as RgbImage, ready for save_png. A heatmap shows a matrix with a
// colorbar, labels and an optional path drawn over it, such as an energy
// matrix with its Viterbi path. Line plots show series such as loss and error
// curves, and an image grid shows samples of a dataset.
//
// Small inputs are scaled up so that people can read them: heatmap cells are
// at least 4 and up to 36 pixels, and text is drawn at twice the bitmap
// font's size. Interactive output, vector formats and 3-D plots are left out.
#pragma once

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "apps/data/canvas.h"
#include "apps/data/image.h"

namespace ember::data {

struct HeatmapOptions {
  std::string title;
  std::string row_title;  // e.g. "window", drawn above the row labels
  std::string col_title;  // e.g. "symbol", drawn below the matrix
  std::vector<std::string> row_labels;  // empty, or one per row
  std::vector<std::string> col_labels;  // empty, or one per column
  // Cells (row, col) joined by a line through their centers, in order.
  std::vector<std::pair<int, int>> path;
  // Pixels per cell; 0 picks 560 / max(rows, cols), clamped to [4, 36].
  int cell_size = 0;
  bool colorbar = true;
};

// Draws a rows x cols matrix (row-major `values`) with `colormap`: the
// smallest finite value is dark, the largest pale. NaN and infinite cells are
// gray and do not affect the color range. Labels that would overlap are
// thinned to every k-th one.
RgbImage plot_heatmap(std::span<const float> values, int rows, int cols,
                      const HeatmapOptions& options = {});

struct Series {
  std::string name;
  std::vector<double> y;
  std::vector<double> x;  // empty means 0, 1, 2, ...
};

struct LinePlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 800;
  int height = 500;
  bool log_y = false;  // plot log10(y); points with y <= 0 are dropped
};

// Draws each series as a polyline with axes, grid, tick labels and a legend.
// Points that are not finite break the line.
RgbImage plot_lines(std::span<const Series> series, const LinePlotOptions& options = {});

// Lays images out left to right, top to bottom, `columns` per row, each pixel
// drawn as a scale x scale block on a gray background, with an optional
// caption under each image (captions empty, or one per image).
RgbImage image_grid(std::span<const GrayImage> images, int columns, int scale = 2,
                    std::span<const std::string> captions = {});

}  // namespace ember::data
