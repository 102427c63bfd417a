// Reading images from disk into GrayImage and writing PNG files, with
// stb_image and stb_image_write (Debian's libstb).
//
// Loading accepts what stb_image decodes: PNG (1 to 16 bits, gray,
// gray+alpha, RGB, RGBA, palette), baseline and progressive JPEG, BMP, GIF
// (first frame), TGA, PSD and PNM. Every failure is a std::runtime_error
// whose one-line message names the file and the reason. Loading leaves out
// color: images become gray by Rec. 601 luma.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "apps/data/image.h"

namespace ember::data {

// Largest image that loading accepts, checked from the header before any
// pixel is decoded: each side at most 16,384 pixels and at most 2^26
// (67,108,864) pixels in all, so one decoded image stays under 256 MiB.
inline constexpr int kMaxImageSide = 16384;
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 26;

// The mapping from a file's gray levels to ink; Ember's convention is ink = 1.
enum class InkPolarity {
  // Decide per image: when the mean of the one-pixel border is above 0.5 the
  // paper is light, so the image is inverted (dark ink becomes 1).
  detect,
  // The file already has light ink on a dark background.
  keep,
  // The file has dark ink on light paper: always invert.
  invert,
};

struct LoadOptions {
  InkPolarity polarity = InkPolarity::detect;
};

// Loads an image file as gray in [0, 1] with ink = 1. Transparent pixels are
// composited over white paper before the polarity rule applies.
GrayImage load_gray_image(const std::filesystem::path& file, const LoadOptions& options = {});

// Decodes an image held in memory; `name` stands for the file in messages.
GrayImage decode_gray_image(std::span<const std::uint8_t> bytes, std::string_view name,
                            const LoadOptions& options = {});

// Encodes an 8-bit gray PNG (value = round(255 * pixel), clamped to [0, 1]).
std::vector<std::uint8_t> encode_png(const GrayImage& image);
// Encodes an 8-bit RGB PNG.
std::vector<std::uint8_t> encode_png(const RgbImage& image);

// Writes the image as PNG atomically: the bytes go to a temporary file in the
// same folder, which is flushed to disk and then renamed over `file`, so a
// crash never leaves a half-written PNG under the final name.
void save_png(const GrayImage& image, const std::filesystem::path& file);
void save_png(const RgbImage& image, const std::filesystem::path& file);

// Writes bytes to `file` with the same temporary-file-and-rename rule.
void write_file_atomically(const std::filesystem::path& file, std::span<const std::uint8_t> bytes);

// Reads a whole file; a missing or unreadable file throws naming it.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& file);

}  // namespace ember::data
