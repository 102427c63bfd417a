// Drawing on RgbImage: filled rectangles, thick lines, a colormap and text
// in the stb_easy_font bitmap font (about 6 x 7 pixels per character at
// scale 1, printable ASCII only). The plots in plot.h are built from these. There is
// no anti-aliasing and no alpha blending: every primitive paints solid color.
#pragma once

#include <cstdint>
#include <string_view>

#include "apps/data/image.h"

namespace ember::data {

struct Color {
  std::uint8_t red = 0;
  std::uint8_t green = 0;
  std::uint8_t blue = 0;
};

inline constexpr Color kBlack{0, 0, 0};
inline constexpr Color kWhite{255, 255, 255};
inline constexpr Color kGray{128, 128, 128};
inline constexpr Color kLightGray{225, 225, 225};

// Maps t in [0, 1] (clamped) to a color running from dark blue through
// purple, red and orange to pale yellow, with lightness rising steadily so
// that the order of values survives a gray printout.
Color colormap(double t);

// The i-th color of a fixed palette of 8 distinct colors for plot series
// (wraps around).
Color series_color(std::size_t i);

// Paints the rectangle [left, left + width) x [top, top + height), clipped
// to the image.
void fill_rect(RgbImage& image, int left, int top, int width, int height, Color color);

// Paints a line from (x0, y0) to (x1, y1) with a square brush `thickness`
// pixels wide, clipped to the image.
void draw_line(RgbImage& image, double x0, double y0, double x1, double y1, Color color,
               int thickness = 1);

// Draws text with its top-left corner at (left, top); every font pixel
// becomes a scale x scale block. Bytes outside ASCII 32-126 are drawn as
// '?'. Newlines start a new line.
void draw_text(RgbImage& image, int left, int top, std::string_view text, Color color,
               int scale = 1);
// Size of the text as draw_text would paint it.
int text_width(std::string_view text, int scale = 1);
int text_height(std::string_view text, int scale = 1);

}  // namespace ember::data
