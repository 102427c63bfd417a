// Heatmaps, line plots and image grids on RgbImage (see plot.h). Each plot
// first computes its layout (margins from the sizes of its labels), then
// paints background, data, axes and text in that order.
#include "apps/data/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

namespace ember::data {

namespace {

constexpr int kTextScale = 2;  // the bitmap font is 6 x 7 px; doubled it reads easily

std::string format_number(double value) { return fmt::format("{:.4g}", value); }

// A tick spacing of 1, 2 or 5 times a power of ten giving about `count` ticks.
double nice_step(double range, int count) {
  const double raw = range / count;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double factor : {1.0, 2.0, 5.0}) {
    if (raw <= factor * power) return factor * power;
  }
  return 10.0 * power;
}

// Every k-th label is drawn, where k makes consecutive labels `needed` pixels apart.
int label_stride(int needed, int spacing) {
  return std::max(1, (needed + spacing - 1) / std::max(1, spacing));
}

int widest(const std::vector<std::string>& labels, int scale) {
  int width = 0;
  for (const std::string& label : labels) width = std::max(width, text_width(label, scale));
  return width;
}

// Makes [low, high] usable as an axis: [0, 1] when no finite point set it,
// and one unit wide around a single value.
void widen_range(double& low, double& high) {
  if (!(low <= high)) {
    low = 0.0;
    high = 1.0;
  } else if (high == low) {
    low -= 0.5;
    high += 0.5;
  }
}

void check_labels(const std::vector<std::string>& labels, int count, const char* axis) {
  if (!labels.empty() && static_cast<int>(labels.size()) != count) {
    throw std::invalid_argument(fmt::format(
        "plot_heatmap: {} {} labels for {} {}s; pass none or one per {}", labels.size(), axis,
        count, axis, axis));
  }
}

}  // namespace

RgbImage plot_heatmap(std::span<const float> values, int rows, int cols,
                      const HeatmapOptions& options) {
  if (rows < 1 || cols < 1 || values.size() != static_cast<std::size_t>(rows) * cols) {
    throw std::invalid_argument(fmt::format(
        "plot_heatmap: a {} x {} matrix needs {} values, found {}; rows and cols must be >= 1",
        rows, cols, static_cast<long long>(rows) * cols, values.size()));
  }
  check_labels(options.row_labels, rows, "row");
  check_labels(options.col_labels, cols, "column");
  for (const auto& [row, col] : options.path) {
    if (row < 0 || row >= rows || col < 0 || col >= cols) {
      throw std::invalid_argument(fmt::format(
          "plot_heatmap: path cell ({}, {}) is outside the {} x {} matrix", row, col, rows, cols));
    }
  }

  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  for (float value : values) {
    if (!std::isfinite(value)) continue;
    low = std::min(low, static_cast<double>(value));
    high = std::max(high, static_cast<double>(value));
  }
  if (!(low <= high)) low = high = 0.0;  // no finite value at all
  const double range = high > low ? high - low : 1.0;

  // Layout.
  const int cell = options.cell_size > 0 ? options.cell_size
                                         : std::clamp(560 / std::max(rows, cols), 4, 36);
  const int label_scale = cell >= 14 ? kTextScale : 1;
  const int line = text_height("0", kTextScale) + 6;
  const int label_line = text_height("0", label_scale) + 4;
  const int row_label_width = widest(options.row_labels, label_scale);
  const int col_label_width = widest(options.col_labels, label_scale);
  const int left = 10 + std::max(row_label_width + 8, text_width(options.row_title, kTextScale));
  const int top = 10 + (options.title.empty() ? 0 : line) + (options.row_title.empty() ? 0 : line) +
                  (options.col_labels.empty() ? 0 : label_line);
  const int matrix_width = cell * cols;
  const int matrix_height = cell * rows;
  const int bar_width = 20;
  const int bar_label_width = std::max({text_width(format_number(low), kTextScale),
                                        text_width(format_number(high), kTextScale),
                                        text_width(format_number(0.5 * (low + high)), kTextScale)});
  const int right = options.colorbar ? 20 + bar_width + 6 + bar_label_width + 10 : 10;
  const int bottom = 10 + (options.col_title.empty() ? 0 : line);
  const int bar_height = std::max(matrix_height, 3 * line);

  // Wide enough for the title as well as the matrix and colorbar.
  const int width = std::max(left + matrix_width + right, left + text_width(options.title, kTextScale) + 10);
  RgbImage image(top + std::max(matrix_height, options.colorbar ? bar_height : 0) + bottom, width);

  // Cells.
  for (int row = 0; row < rows; ++row) {
    for (int col = 0; col < cols; ++col) {
      const float value = values[static_cast<std::size_t>(row) * cols + col];
      const Color color = std::isfinite(value) ? colormap((value - low) / range) : kGray;
      fill_rect(image, left + col * cell, top + row * cell, cell, cell, color);
    }
  }

  // Path: a black line under a white one, so it shows on dark and pale cells.
  const int thickness = std::max(2, cell / 6);
  for (int pass = 0; pass < 2; ++pass) {
    const Color color = pass == 0 ? kBlack : kWhite;
    const int width = pass == 0 ? thickness + 2 : thickness;
    for (std::size_t i = 0; i < options.path.size(); ++i) {
      const double y = top + (options.path[i].first + 0.5) * cell;
      const double x = left + (options.path[i].second + 0.5) * cell;
      const auto& previous = options.path[i == 0 ? 0 : i - 1];
      draw_line(image, left + (previous.second + 0.5) * cell, top + (previous.first + 0.5) * cell,
                x, y, color, width);
      fill_rect(image, static_cast<int>(x) - width, static_cast<int>(y) - width, 2 * width,
                2 * width, color);
    }
  }

  // Text.
  int y = 10;
  if (!options.title.empty()) {
    draw_text(image, left, y, options.title, kBlack, kTextScale);
    y += line;
  }
  if (!options.row_title.empty()) {
    draw_text(image, 10, y, options.row_title, kBlack, kTextScale);
    y += line;
  }
  const int col_stride = label_stride(col_label_width + 4, cell);
  for (int col = 0; col < static_cast<int>(options.col_labels.size()); col += col_stride) {
    const std::string& label = options.col_labels[col];
    const int x = left + col * cell + (cell - text_width(label, label_scale)) / 2;
    draw_text(image, x, top - label_line, label, kBlack, label_scale);
  }
  const int row_stride = label_stride(label_line, cell);
  for (int row = 0; row < static_cast<int>(options.row_labels.size()); row += row_stride) {
    const std::string& label = options.row_labels[row];
    const int label_top = top + row * cell + (cell - text_height(label, label_scale)) / 2;
    draw_text(image, left - 8 - text_width(label, label_scale), label_top, label, kBlack,
              label_scale);
  }
  if (!options.col_title.empty()) {
    draw_text(image, left, top + matrix_height + 8, options.col_title, kBlack, kTextScale);
  }

  // Colorbar: high values at the top, with the extremes and the midpoint labelled.
  if (options.colorbar) {
    const int bar_left = left + matrix_width + 20;
    for (int i = 0; i < bar_height; ++i) {
      const double t = 1.0 - static_cast<double>(i) / std::max(1, bar_height - 1);
      fill_rect(image, bar_left, top + i, bar_width, 1, colormap(t));
    }
    const int text_left = bar_left + bar_width + 6;
    const int glyph = text_height("0", kTextScale);
    draw_text(image, text_left, top, format_number(high), kBlack, kTextScale);
    draw_text(image, text_left, top + (bar_height - glyph) / 2, format_number(0.5 * (low + high)),
              kBlack, kTextScale);
    draw_text(image, text_left, top + bar_height - glyph, format_number(low), kBlack, kTextScale);
  }
  return image;
}

RgbImage plot_lines(std::span<const Series> series, const LinePlotOptions& options) {
  if (options.width < 200 || options.height < 150) {
    throw std::invalid_argument(fmt::format(
        "plot_lines: size {} x {} is too small; expected at least 200 x 150", options.width,
        options.height));
  }
  for (const Series& s : series) {
    if (!s.x.empty() && s.x.size() != s.y.size()) {
      throw std::invalid_argument(fmt::format(
          "plot_lines: series '{}' has {} x values and {} y values; they must match", s.name,
          s.x.size(), s.y.size()));
    }
  }

  auto x_of = [](const Series& s, std::size_t i) { return s.x.empty() ? static_cast<double>(i) : s.x[i]; };
  auto y_of = [&](const Series& s, std::size_t i) {
    const double y = s.y[i];
    if (!options.log_y) return y;
    return y > 0.0 ? std::log10(y) : std::numeric_limits<double>::quiet_NaN();
  };

  double x_low = std::numeric_limits<double>::infinity();
  double x_high = -x_low;
  double y_low = x_low;
  double y_high = -x_low;
  for (const Series& s : series) {
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      const double x = x_of(s, i);
      const double y = y_of(s, i);
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x_low = std::min(x_low, x);
      x_high = std::max(x_high, x);
      y_low = std::min(y_low, y);
      y_high = std::max(y_high, y);
    }
  }
  widen_range(x_low, x_high);
  widen_range(y_low, y_high);

  // Round the y range out to whole ticks.
  const double y_step = nice_step(y_high - y_low, 6);
  y_low = std::floor(y_low / y_step) * y_step;
  y_high = std::ceil(y_high / y_step) * y_step;
  const double x_step = nice_step(x_high - x_low, 8);

  const int line = text_height("0", kTextScale) + 8;
  // The left margin fits the widest tick label as drawn (10^y on a log axis).
  int widest_label = 0;
  for (double y = y_low; y <= y_high + 0.5 * y_step; y += y_step) {
    const std::string label = format_number(options.log_y ? std::pow(10.0, y) : y);
    widest_label = std::max(widest_label, text_width(label, kTextScale));
  }
  const int plot_left = 20 + widest_label + 10;
  const int plot_top = 10 + (options.title.empty() ? 0 : line) + (options.y_label.empty() ? 0 : line);
  const int plot_right = options.width - 20;
  const int plot_bottom = options.height - 10 - line - (options.x_label.empty() ? 0 : line);
  auto to_px = [&](double x, double y) {
    return std::pair<double, double>{
        plot_left + (x - x_low) / (x_high - x_low) * (plot_right - plot_left),
        plot_bottom - (y - y_low) / (y_high - y_low) * (plot_bottom - plot_top)};
  };

  RgbImage image(options.height, options.width);

  // Grid and tick labels.
  for (double y = y_low; y <= y_high + 0.5 * y_step; y += y_step) {
    const int py = static_cast<int>(std::lround(to_px(x_low, y).second));
    fill_rect(image, plot_left, py, plot_right - plot_left, 1, kLightGray);
    const std::string label = format_number(options.log_y ? std::pow(10.0, y) : y);
    draw_text(image, plot_left - 8 - text_width(label, kTextScale), py - 6, label, kBlack, kTextScale);
  }
  for (double x = std::ceil(x_low / x_step) * x_step; x <= x_high + 1e-9 * x_step; x += x_step) {
    const int px = static_cast<int>(std::lround(to_px(x, y_low).first));
    fill_rect(image, px, plot_top, 1, plot_bottom - plot_top, kLightGray);
    const std::string label = format_number(x);
    draw_text(image, px - text_width(label, kTextScale) / 2, plot_bottom + 6, label, kBlack, kTextScale);
  }

  // Series.
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    bool has_previous = false;
    std::pair<double, double> previous;
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      const double x = x_of(s, i);
      const double y = y_of(s, i);
      if (!std::isfinite(x) || !std::isfinite(y)) {
        has_previous = false;
        continue;
      }
      const auto point = to_px(x, y);
      if (has_previous) {
        draw_line(image, previous.first, previous.second, point.first, point.second,
                  series_color(k), 2);
      } else {
        fill_rect(image, static_cast<int>(point.first) - 1, static_cast<int>(point.second) - 1, 3, 3,
                  series_color(k));
      }
      previous = point;
      has_previous = true;
    }
  }

  // Axes, titles and legend.
  fill_rect(image, plot_left, plot_top, 1, plot_bottom - plot_top + 1, kBlack);
  fill_rect(image, plot_left, plot_bottom, plot_right - plot_left + 1, 1, kBlack);
  int y = 10;
  if (!options.title.empty()) {
    draw_text(image, plot_left, y, options.title, kBlack, kTextScale);
    y += line;
  }
  if (!options.y_label.empty()) draw_text(image, 10, y, options.y_label, kBlack, kTextScale);
  if (!options.x_label.empty()) {
    draw_text(image, (plot_left + plot_right - text_width(options.x_label, kTextScale)) / 2,
              plot_bottom + line + 4, options.x_label, kBlack, kTextScale);
  }

  int legend_width = 0;
  for (const Series& s : series) legend_width = std::max(legend_width, text_width(s.name, kTextScale));
  if (!series.empty() && legend_width > 0) {
    const int box_width = legend_width + 50;
    const int box_left = plot_right - box_width - 10;
    const int box_top = plot_top + 10;
    const int box_height = static_cast<int>(series.size()) * line + 8;
    fill_rect(image, box_left - 1, box_top - 1, box_width + 2, box_height + 2, kGray);
    fill_rect(image, box_left, box_top, box_width, box_height, kWhite);
    for (std::size_t k = 0; k < series.size(); ++k) {
      const int row_y = box_top + 6 + static_cast<int>(k) * line;
      fill_rect(image, box_left + 8, row_y + 5, 28, 3, series_color(k));
      draw_text(image, box_left + 42, row_y, series[k].name, kBlack, kTextScale);
    }
  }
  return image;
}

RgbImage image_grid(std::span<const GrayImage> images, int columns, int scale,
                    std::span<const std::string> captions) {
  if (images.empty() || columns < 1 || scale < 1) {
    throw std::invalid_argument(fmt::format(
        "image_grid: {} images, {} columns, scale {}; expected at least one image, columns and "
        "scale >= 1",
        images.size(), columns, scale));
  }
  if (!captions.empty() && captions.size() != images.size()) {
    throw std::invalid_argument(fmt::format(
        "image_grid: {} captions for {} images; pass none or one per image", captions.size(),
        images.size()));
  }

  int cell_width = 0;
  int cell_height = 0;
  for (const GrayImage& image : images) {
    cell_width = std::max(cell_width, image.width * scale);
    cell_height = std::max(cell_height, image.height * scale);
  }
  for (const std::string& caption : captions) {
    cell_width = std::max(cell_width, text_width(caption, kTextScale));
  }
  const int caption_height = captions.empty() ? 0 : text_height("0", kTextScale) + 6;
  const int gap = 8;
  const int grid_columns = std::min(columns, static_cast<int>(images.size()));
  const int grid_rows = (static_cast<int>(images.size()) + columns - 1) / columns;

  RgbImage grid(gap + grid_rows * (cell_height + caption_height + gap),
                gap + grid_columns * (cell_width + gap), 96, 96, 96);
  for (std::size_t i = 0; i < images.size(); ++i) {
    const int left = gap + static_cast<int>(i % columns) * (cell_width + gap);
    const int top = gap + static_cast<int>(i / columns) * (cell_height + caption_height + gap);
    const GrayImage& image = images[i];
    for (int row = 0; row < image.height; ++row) {
      for (int col = 0; col < image.width; ++col) {
        const auto level = static_cast<std::uint8_t>(
            std::lround(255.0f * std::clamp(image.at(row, col), 0.0f, 1.0f)));
        fill_rect(grid, left + col * scale, top + row * scale, scale, scale, {level, level, level});
      }
    }
    if (!captions.empty()) {
      draw_text(grid, left, top + cell_height + 4, captions[i], kWhite, kTextScale);
    }
  }
  return grid;
}

}  // namespace ember::data
