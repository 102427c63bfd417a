// TrueType fonts and text rendering with stb_truetype (Debian's libstb).
//
// Text is rendered white on black (ink = 1) into a GrayImage of a fixed
// height, either proportionally (the width follows the glyph advances and
// kerning) or in fixed cells (every character gets `cell_width` columns, the
// homework's setup: Anonymous Pro, 32 px tall, 18 px per character). Only one
// line is rendered, left to right: no shaping, ligatures or right-to-left text.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "apps/data/image.h"

namespace ember::data {

// The folders that Font::find searches by default, in order.
std::vector<std::filesystem::path> default_font_folders();

class Font {
 public:
  // Loads a .ttf or .otf file (the first face of a collection).
  static Font load(const std::filesystem::path& file);

  // Finds a font by family name under `folders` (recursively). A name matches
  // a file whose stem or whose family name (from the font's name table) equals
  // it, ignoring case, spaces, '-' and '_': "Anonymous Pro", "anonymous-pro",
  // "Humor Sans" and "dkg" all work. Among several matches an exact file stem
  // wins, then a face whose style is "Regular", then the first path in sorted
  // order. When nothing matches, the error lists the folders searched and the
  // families found there.
  static Font find(std::string_view family,
                   const std::vector<std::filesystem::path>& folders = default_font_folders());

  const std::filesystem::path& file() const;
  // Family and style names from the font's name table ("" when absent).
  std::string family_name() const;
  std::string style_name() const;

  bool has_glyph(char32_t codepoint) const;
  // The characters of `text` (UTF-8) that the font has no glyph for.
  std::u32string missing_glyphs(std::string_view text) const;

  // Reports whether a-z look lowercase. The outline of 'x' must be at most
  // 85% as tall as that of 'X', and at least three of b, d, h, k and l must
  // rise to 1.2 times the height of 'x' (ascenders). Some fonts map a-z to
  // capital letterforms, full size (Humor Sans, fonts-humor-sans) or as small
  // capitals (some faces of fonts-bwht), so the code points exist but the
  // letters do not look lowercase.
  bool has_lowercase_letterforms() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Font(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

enum class VerticalFit {
  // The font's ascent-to-descent band is font_px tall, centered in the image:
  // the designer's line metrics, the same scale for every text.
  line_metrics,
  // The box that contains every glyph of a-z, A-Z and 0-9 is scaled to the image
  // height, so fonts with loose line metrics still fill the height.
  letters,
};

struct RenderOptions {
  int height = 32;            // image height in pixels
  int font_px = 0;            // line-metrics height in pixels; 0 means `height`
  int cell_width = 0;         // > 0: fixed cells of this many columns; 0: proportional
  VerticalFit fit = VerticalFit::line_metrics;
  bool binarize = false;      // anti-aliased gray by default
  float threshold = 0.5f;     // ink when binarized: pixel >= threshold
};

// Renders one line of UTF-8 text. In cell mode the width is
// cell_width * characters and each glyph is centered in its cell (a glyph
// wider than its cell spills into its neighbours, clipped at the image edges).
// In proportional mode the width covers every advance and every glyph's ink.
// A character the font has no glyph for throws, naming it and the font.
GrayImage render_text(const Font& font, std::string_view text, const RenderOptions& options = {});

// Decodes UTF-8; an invalid byte sequence throws naming its byte offset.
std::u32string decode_utf8(std::string_view text);
// Encodes code points as UTF-8.
std::string encode_utf8(std::u32string_view text);

}  // namespace ember::data
