// Drawing primitives and bitmap text on RgbImage (see canvas.h). Text comes
// from stb_easy_font, which returns each character as axis-aligned quads;
// each quad is painted as a scaled rectangle.
#include "apps/data/canvas.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <stb/stb_easy_font.h>

namespace ember::data {

Color colormap(double t) {
  // Anchor colors at t = 0, 0.25, 0.5, 0.75, 1, linearly interpolated.
  static constexpr std::array<std::array<double, 3>, 5> kAnchors = {{
      {0.05, 0.03, 0.20},
      {0.33, 0.10, 0.50},
      {0.72, 0.21, 0.40},
      {0.96, 0.52, 0.15},
      {0.99, 0.96, 0.62},
  }};
  if (!(t >= 0.0)) t = 0.0;  // also maps NaN to the low end
  t = std::min(t, 1.0);

  const double position = t * (kAnchors.size() - 1);
  const std::size_t low = std::min(static_cast<std::size_t>(position), kAnchors.size() - 2);
  const double fraction = position - static_cast<double>(low);
  auto channel = [&](int c) {
    const double value = (1 - fraction) * kAnchors[low][c] + fraction * kAnchors[low + 1][c];
    return static_cast<std::uint8_t>(std::lround(255.0 * value));
  };
  return {channel(0), channel(1), channel(2)};
}

Color series_color(std::size_t i) {
  static constexpr std::array<Color, 8> kPalette = {{
      {31, 119, 180},
      {214, 39, 40},
      {44, 160, 44},
      {255, 127, 14},
      {148, 103, 189},
      {23, 190, 207},
      {140, 86, 75},
      {127, 127, 127},
  }};
  return kPalette[i % kPalette.size()];
}

void fill_rect(RgbImage& image, int left, int top, int width, int height, Color color) {
  const int x_begin = std::max(0, left);
  const int y_begin = std::max(0, top);
  const int x_end = std::min(image.width, left + width);
  const int y_end = std::min(image.height, top + height);
  for (int y = y_begin; y < y_end; ++y) {
    for (int x = x_begin; x < x_end; ++x) {
      std::uint8_t* pixel = image.at(y, x);
      pixel[0] = color.red;
      pixel[1] = color.green;
      pixel[2] = color.blue;
    }
  }
}

void draw_line(RgbImage& image, double x0, double y0, double x1, double y1, Color color,
               int thickness) {
  // One brush stamp per pixel step along the longer axis.
  const double steps = std::max({std::abs(x1 - x0), std::abs(y1 - y0), 1.0});
  const int half = thickness / 2;
  for (int i = 0; i <= static_cast<int>(std::ceil(steps)); ++i) {
    const double t = std::min(1.0, i / steps);
    const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
    const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
    fill_rect(image, x - half, y - half, thickness, thickness, color);
  }
}

namespace {

// Copies the text with every byte outside ASCII 32-126 (except '\n')
// replaced by '?': stb_easy_font indexes its glyph table by (byte - 32)
// without a range check, and it takes a mutable C string.
std::string printable_copy(std::string_view text) {
  std::string copy(text);
  for (char& c : copy) {
    const auto byte = static_cast<unsigned char>(c);
    if (c != '\n' && (byte < 32 || byte > 126)) c = '?';
  }
  return copy;
}

}  // namespace

void draw_text(RgbImage& image, int left, int top, std::string_view text, Color color, int scale) {
  std::string copy = printable_copy(text);
  // stb_easy_font needs about 270 bytes of vertex buffer per character on
  // average but more for busy digits such as '8', and it silently drops the
  // quads that do not fit. 32 quads of 64 bytes bound any one character.
  std::vector<char> vertices(32 * 64 * (copy.size() + 1));
  const int quads = stb_easy_font_print(0.0f, 0.0f, copy.data(), nullptr, vertices.data(),
                                        static_cast<int>(vertices.size()));

  // Each vertex is x, y, z as floats then 4 color bytes; a quad has 4 vertices.
  constexpr std::size_t kVertexSize = 16;
  for (int q = 0; q < quads; ++q) {
    float xs[4];
    float ys[4];
    for (int v = 0; v < 4; ++v) {
      const char* vertex = vertices.data() + (static_cast<std::size_t>(q) * 4 + v) * kVertexSize;
      std::copy_n(vertex, sizeof(float), reinterpret_cast<char*>(&xs[v]));
      std::copy_n(vertex + sizeof(float), sizeof(float), reinterpret_cast<char*>(&ys[v]));
    }
    const float x_min = *std::min_element(xs, xs + 4);
    const float x_max = *std::max_element(xs, xs + 4);
    const float y_min = *std::min_element(ys, ys + 4);
    const float y_max = *std::max_element(ys, ys + 4);
    fill_rect(image, left + static_cast<int>(std::lround(x_min * scale)),
              top + static_cast<int>(std::lround(y_min * scale)),
              static_cast<int>(std::lround((x_max - x_min) * scale)),
              static_cast<int>(std::lround((y_max - y_min) * scale)), color);
  }
}

int text_width(std::string_view text, int scale) {
  std::string copy = printable_copy(text);
  return stb_easy_font_width(copy.data()) * scale;
}

int text_height(std::string_view text, int scale) {
  std::string copy = printable_copy(text);
  return stb_easy_font_height(copy.data()) * scale;
}

}  // namespace ember::data
