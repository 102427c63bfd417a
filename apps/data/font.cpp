// Font loading, family lookup and one-line text rendering with stb_truetype.
// Glyphs are rasterized at their sub-pixel pen positions and combined with
// max(), so overlapping glyphs never add up past full ink.
#include "apps/data/font.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stb/stb_truetype.h>

#include "apps/data/image_io.h"

namespace ember::data {

struct Font::Impl {
  std::filesystem::path file;
  std::vector<std::uint8_t> bytes;  // stbtt_fontinfo points into these bytes
  stbtt_fontinfo info{};
};

namespace {

// Reads a name-table entry, preferring Windows Unicode English (UTF-16BE)
// and falling back to Macintosh Roman; non-ASCII characters become '?'.
std::string font_name(const stbtt_fontinfo& info, int name_id) {
  int length = 0;
  const char* windows = stbtt_GetFontNameString(&info, &length, STBTT_PLATFORM_ID_MICROSOFT,
                                                STBTT_MS_EID_UNICODE_BMP, STBTT_MS_LANG_ENGLISH,
                                                name_id);
  if (windows != nullptr) {
    std::string name;
    for (int i = 0; i + 1 < length; i += 2) {
      const int unit = (static_cast<unsigned char>(windows[i]) << 8) |
                       static_cast<unsigned char>(windows[i + 1]);
      name.push_back(unit < 128 ? static_cast<char>(unit) : '?');
    }
    return name;
  }
  const char* mac = stbtt_GetFontNameString(&info, &length, STBTT_PLATFORM_ID_MAC,
                                            STBTT_MAC_EID_ROMAN, STBTT_MAC_LANG_ENGLISH, name_id);
  return mac != nullptr ? std::string(mac, static_cast<std::size_t>(length)) : std::string();
}

// Lowercases and drops spaces, '-' and '_' so that "Humor Sans" == "humor-sans".
std::string normalize_family(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ' ' || c == '-' || c == '_') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool is_font_file(const std::filesystem::path& file) {
  const std::string extension = normalize_family(file.extension().string());
  return extension == ".ttf" || extension == ".otf";
}

std::string describe_codepoint(char32_t codepoint) {
  const std::string text = encode_utf8(std::u32string(1, codepoint));
  return fmt::format("'{}' (U+{:04X})", text, static_cast<std::uint32_t>(codepoint));
}

}  // namespace

std::vector<std::filesystem::path> default_font_folders() {
  std::vector<std::filesystem::path> folders = {"/usr/share/fonts", "/usr/local/share/fonts"};
  if (const char* home = std::getenv("HOME")) {
    folders.push_back(std::filesystem::path(home) / ".local/share/fonts");
  }
  return folders;
}

Font Font::load(const std::filesystem::path& file) {
  auto impl = std::make_shared<Impl>();
  impl->file = file;
  impl->bytes = read_file_bytes(file);

  const int offset = stbtt_GetFontOffsetForIndex(impl->bytes.data(), 0);
  if (impl->bytes.size() < 12 || offset < 0 ||
      !stbtt_InitFont(&impl->info, impl->bytes.data(), offset)) {
    throw std::runtime_error(fmt::format(
        "font '{}' is not a TrueType or OpenType font stb_truetype can read; pass a .ttf file",
        file.string()));
  }
  return Font(std::move(impl));
}

Font Font::find(std::string_view family, const std::vector<std::filesystem::path>& folders) {
  const std::string requested = normalize_family(family);

  std::vector<std::filesystem::path> files;
  for (const std::filesystem::path& folder : folders) {
    std::error_code error;
    if (!std::filesystem::is_directory(folder, error)) continue;
    auto options = std::filesystem::directory_options::skip_permission_denied;
    for (auto it = std::filesystem::recursive_directory_iterator(folder, options, error);
         !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
      if (it->is_regular_file(error) && is_font_file(it->path())) files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());

  // An exact file stem wins without reading any font.
  for (const std::filesystem::path& file : files) {
    if (normalize_family(file.stem().string()) == requested) return load(file);
  }

  // Otherwise rank name-table matches: 1 in Regular style, 2 in another style.
  std::set<std::string> families_seen;
  int best_rank = 3;
  std::filesystem::path best;
  for (const std::filesystem::path& file : files) {
    int rank = 3;
    try {
      const Font font = load(file);
      const std::string name = font.family_name();
      families_seen.insert(name);
      if (normalize_family(name) == requested) {
        rank = normalize_family(font.style_name()) == "regular" ? 1 : 2;
      }
    } catch (const std::runtime_error&) {
      continue;  // an unreadable file cannot match; other files may
    }
    if (rank < best_rank) {
      best_rank = rank;
      best = file;
    }
  }

  if (best_rank == 3) {
    std::vector<std::string> folder_names;
    for (const auto& folder : folders) folder_names.push_back(folder.string());
    throw std::runtime_error(fmt::format(
        "font family '{}' not found in {} font files under {}; families found: {}; install the "
        "font package (scripts/install-deps.sh --fonts) or pass a .ttf path",
        family, files.size(), fmt::join(folder_names, ", "),
        families_seen.empty() ? std::string("none") : fmt::format("{}", fmt::join(families_seen, ", "))));
  }
  return load(best);
}

const std::filesystem::path& Font::file() const { return impl_->file; }

std::string Font::family_name() const { return font_name(impl_->info, 1); }

std::string Font::style_name() const { return font_name(impl_->info, 2); }

bool Font::has_glyph(char32_t codepoint) const {
  return stbtt_FindGlyphIndex(&impl_->info, static_cast<int>(codepoint)) != 0;
}

std::u32string Font::missing_glyphs(std::string_view text) const {
  std::u32string missing;
  for (char32_t codepoint : decode_utf8(text)) {
    if (!has_glyph(codepoint) && missing.find(codepoint) == std::u32string::npos) {
      missing.push_back(codepoint);
    }
  }
  return missing;
}

bool Font::has_lowercase_letterforms() const {
  // Lowercase b, d, h, k and l have ascenders that rise above the x-height.
  // Capitals drawn at a-z, full size or as small capitals, have none, and
  // neither has a lowercase 'x' that is shorter than its 'X'.
  int x0 = 0, y0 = 0, x1 = 0, x_top = 0, capital_top = 0;
  if (!stbtt_GetCodepointBox(&impl_->info, 'x', &x0, &y0, &x1, &x_top)) return false;
  if (!stbtt_GetCodepointBox(&impl_->info, 'X', &x0, &y0, &x1, &capital_top)) return false;
  if (x_top <= 0 || x_top > 0.85 * capital_top) return false;

  int ascenders = 0;
  for (char letter : {'b', 'd', 'h', 'k', 'l'}) {
    int top = 0;
    if (stbtt_GetCodepointBox(&impl_->info, letter, &x0, &y0, &x1, &top) && top >= 1.2 * x_top) {
      ++ascenders;
    }
  }
  return ascenders >= 3;
}

namespace {

struct Layout {
  float scale = 0.0f;     // font units -> pixels
  float baseline = 0.0f;  // row of the baseline
};

Layout vertical_layout(const stbtt_fontinfo& info, const RenderOptions& options) {
  Layout layout;
  if (options.fit == VerticalFit::line_metrics) {
    const int font_px = options.font_px > 0 ? options.font_px : options.height;
    int ascent = 0, descent = 0, line_gap = 0;
    stbtt_GetFontVMetrics(&info, &ascent, &descent, &line_gap);
    layout.scale = stbtt_ScaleForPixelHeight(&info, static_cast<float>(font_px));
    layout.baseline = 0.5f * static_cast<float>(options.height - font_px) + ascent * layout.scale;
    return layout;
  }

  // Letters fit: the union of the outline boxes of a-z, A-Z and 0-9 fills the
  // height, leaving one pixel above and below for anti-aliasing.
  int top = 0, bottom = 0;
  const std::string_view letters =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (char c : letters) {
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    if (stbtt_GetCodepointBox(&info, c, &x0, &y0, &x1, &y1)) {
      top = std::max(top, y1);
      bottom = std::min(bottom, y0);
    }
  }
  const float usable = static_cast<float>(std::max(1, options.height - 2));
  layout.scale = top > bottom ? usable / static_cast<float>(top - bottom) : 1.0f;
  layout.baseline = 1.0f + top * layout.scale;
  return layout;
}

struct PlacedGlyph {
  int glyph = 0;
  float x = 0.0f;  // pen position in pixels, before the canvas offset
};

void draw_glyph(const stbtt_fontinfo& info, const PlacedGlyph& placed, const Layout& layout,
                int offset, GrayImage& canvas) {
  const float pen = placed.x + static_cast<float>(offset);
  const float whole_x = std::floor(pen);
  const float whole_y = std::floor(layout.baseline);
  const float shift_x = pen - whole_x;
  const float shift_y = layout.baseline - whole_y;

  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  stbtt_GetGlyphBitmapBoxSubpixel(&info, placed.glyph, layout.scale, layout.scale, shift_x,
                                  shift_y, &x0, &y0, &x1, &y1);
  const int width = x1 - x0;
  const int height = y1 - y0;
  if (width <= 0 || height <= 0) return;  // a space or another empty glyph

  std::vector<std::uint8_t> bitmap(static_cast<std::size_t>(width) * height);
  stbtt_MakeGlyphBitmapSubpixel(&info, bitmap.data(), width, height, width, layout.scale,
                                layout.scale, shift_x, shift_y, placed.glyph);

  const int left = static_cast<int>(whole_x) + x0;
  const int top = static_cast<int>(whole_y) + y0;
  for (int row = 0; row < height; ++row) {
    const int y = top + row;
    if (y < 0 || y >= canvas.height) continue;
    for (int col = 0; col < width; ++col) {
      const int x = left + col;
      if (x < 0 || x >= canvas.width) continue;
      const float value = bitmap[static_cast<std::size_t>(row) * width + col] / 255.0f;
      canvas.at(y, x) = std::max(canvas.at(y, x), value);
    }
  }
}

}  // namespace

GrayImage render_text(const Font& font, std::string_view text, const RenderOptions& options) {
  if (options.height < 1 || options.cell_width < 0 || options.font_px < 0) {
    throw std::invalid_argument(fmt::format(
        "render_text: height {}, cell width {}, font size {} px are invalid; expected height "
        ">= 1 and the others >= 0",
        options.height, options.cell_width, options.font_px));
  }
  const std::u32string codepoints = decode_utf8(text);
  if (codepoints.empty()) {
    throw std::invalid_argument("render_text: the text is empty; expected at least one character");
  }

  const stbtt_fontinfo& info = font.impl().info;
  std::vector<PlacedGlyph> glyphs;
  for (char32_t codepoint : codepoints) {
    const int glyph = stbtt_FindGlyphIndex(&info, static_cast<int>(codepoint));
    if (glyph == 0) {
      throw std::runtime_error(fmt::format(
          "render_text: font '{}' has no glyph for {} in \"{}\"; pick another font or drop the "
          "character",
          font.file().string(), describe_codepoint(codepoint), text));
    }
    glyphs.push_back({glyph, 0.0f});
  }

  const Layout layout = vertical_layout(info, options);
  int width = 0;
  int offset = 0;
  if (options.cell_width > 0) {
    for (std::size_t i = 0; i < glyphs.size(); ++i) {
      int advance = 0, bearing = 0;
      stbtt_GetGlyphHMetrics(&info, glyphs[i].glyph, &advance, &bearing);
      const float cell_left = static_cast<float>(i) * static_cast<float>(options.cell_width);
      glyphs[i].x = cell_left + 0.5f * (static_cast<float>(options.cell_width) - advance * layout.scale);
    }
    width = options.cell_width * static_cast<int>(glyphs.size());
  } else {
    float pen = 0.0f;
    float ink_left = 0.0f;
    float ink_right = 0.0f;
    for (std::size_t i = 0; i < glyphs.size(); ++i) {
      if (i > 0) pen += stbtt_GetGlyphKernAdvance(&info, glyphs[i - 1].glyph, glyphs[i].glyph) * layout.scale;
      glyphs[i].x = pen;
      int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
      stbtt_GetGlyphBitmapBox(&info, glyphs[i].glyph, layout.scale, layout.scale, &x0, &y0, &x1, &y1);
      if (x1 > x0) {
        ink_left = std::min(ink_left, pen + static_cast<float>(x0));
        ink_right = std::max(ink_right, pen + static_cast<float>(x1) + 1.0f);
      }
      int advance = 0, bearing = 0;
      stbtt_GetGlyphHMetrics(&info, glyphs[i].glyph, &advance, &bearing);
      pen += advance * layout.scale;
    }
    // Ink that starts left of the first pen position shifts everything right.
    offset = static_cast<int>(std::ceil(-ink_left));
    width = std::max(1, static_cast<int>(std::ceil(std::max(pen, ink_right))) + offset);
  }

  GrayImage canvas(options.height, width);
  for (const PlacedGlyph& placed : glyphs) draw_glyph(info, placed, layout, offset, canvas);

  if (options.binarize) {
    for (float& pixel : canvas.pixels) pixel = pixel >= options.threshold ? 1.0f : 0.0f;
  }
  return canvas;
}

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    int length = 0;
    char32_t codepoint = 0;
    if (lead < 0x80) {
      length = 1;
      codepoint = lead;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2;
      codepoint = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      codepoint = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      codepoint = lead & 0x07;
    }

    bool valid = length > 0 && i + static_cast<std::size_t>(length) <= text.size();
    for (int k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xc0) == 0x80;
      codepoint = (codepoint << 6) | (next & 0x3f);
    }
    if (!valid) {
      throw std::invalid_argument(fmt::format(
          "decode_utf8: invalid UTF-8 at byte {} of a {}-byte text; save the text as UTF-8", i,
          text.size()));
    }
    out.push_back(codepoint);
    i += static_cast<std::size_t>(length);
  }
  return out;
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

}  // namespace ember::data
