// Image decoding with stb_image, PNG encoding with stb_image_write, and the
// atomic file write shared by everything the data layer saves. The header is
// checked (size limits, zero size) before any pixel is decoded.
#include "apps/data/image_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

namespace ember::data {

namespace {

std::uint32_t read_big_endian_u32(const std::uint8_t* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

// Rejects zero-size and oversized images from the header's dimensions.
void check_dimensions(std::string_view name, std::int64_t width, std::int64_t height) {
  if (width == 0 || height == 0) {
    throw std::runtime_error(fmt::format(
        "image '{}' has zero size ({} x {} pixels); re-export it with at least one pixel", name,
        width, height));
  }
  if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels) {
    throw std::runtime_error(fmt::format(
        "image '{}' is too large ({} x {} pixels); the limit is {} pixels per side and {} in "
        "all, so shrink it first",
        name, width, height, kMaxImageSide, kMaxImagePixels));
  }
}

// Reads a PNG's size straight from its IHDR chunk. stb_image itself rejects
// a zero-size PNG with a terse reason, so this gives the clearer message.
void check_png_header(std::span<const std::uint8_t> bytes, std::string_view name) {
  static constexpr std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 24 || !std::equal(kSignature, kSignature + 8, bytes.begin())) return;
  if (std::memcmp(bytes.data() + 12, "IHDR", 4) != 0) return;
  check_dimensions(name, read_big_endian_u32(bytes.data() + 16),
                   read_big_endian_u32(bytes.data() + 20));
}

// Converts one decoded pixel of `channels` samples (each in [0, 1]) to gray,
// compositing any alpha over white paper.
float to_gray(const float* samples, int channels) {
  const bool has_color = channels >= 3;
  const float luma = has_color ? 0.299f * samples[0] + 0.587f * samples[1] + 0.114f * samples[2]
                               : samples[0];
  const bool has_alpha = channels == 2 || channels == 4;
  if (!has_alpha) return luma;
  const float alpha = samples[channels - 1];
  return alpha * luma + (1.0f - alpha);
}

float border_mean(const GrayImage& image) {
  double sum = 0.0;
  int count = 0;
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) {
      const bool on_border =
          row == 0 || col == 0 || row == image.height - 1 || col == image.width - 1;
      if (on_border) {
        sum += image.at(row, col);
        ++count;
      }
    }
  }
  return static_cast<float>(sum / count);
}

// Names the container format from the file's first bytes, for messages.
std::string_view format_name(std::span<const std::uint8_t> bytes) {
  auto starts_with = [&](std::string_view magic) {
    return bytes.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), bytes.begin(),
                      [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
  };
  if (starts_with("\x89PNG")) return "PNG";
  if (starts_with("\xff\xd8")) return "JPEG";
  if (starts_with("GIF8")) return "GIF";
  if (starts_with("BM")) return "BMP";
  if (starts_with("8BPS")) return "PSD";
  return "image";
}

struct StbFree {
  void operator()(void* pixels) const { stbi_image_free(pixels); }
};

}  // namespace

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const char* reason = std::filesystem::exists(file) ? "cannot be opened" : "does not exist";
    throw std::runtime_error(
        fmt::format("file '{}' {}; check the path and its permissions", file.string(), reason));
  }
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (in.bad()) {
    throw std::runtime_error(fmt::format("reading '{}' failed: {}", file.string(),
                                         std::strerror(errno)));
  }
  return bytes;
}

GrayImage decode_gray_image(std::span<const std::uint8_t> bytes, std::string_view name,
                            const LoadOptions& options) {
  if (bytes.empty()) {
    throw std::runtime_error(
        fmt::format("image '{}' is an empty file (0 bytes); expected a PNG or JPEG image", name));
  }
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    throw std::runtime_error(fmt::format(
        "image '{}' is {} bytes; stb_image reads at most {} bytes", name, bytes.size(), INT_MAX));
  }
  const int size = static_cast<int>(bytes.size());
  check_png_header(bytes, name);

  int width = 0;
  int height = 0;
  int channels = 0;
  if (!stbi_info_from_memory(bytes.data(), size, &width, &height, &channels)) {
    throw std::runtime_error(fmt::format(
        "image '{}' has no readable header ({}); expected a PNG, JPEG, BMP, GIF, TGA or PNM file",
        name, stbi_failure_reason()));
  }
  check_dimensions(name, width, height);

  // 16-bit PNGs keep their precision; everything else decodes to 8 bits.
  // The 16-bit probe runs only on PNGs because on other formats it leaves a
  // stale "bad png sig" failure reason behind.
  const std::string_view format = format_name(bytes);
  const bool sixteen_bit =
      format == "PNG" && stbi_is_16_bit_from_memory(bytes.data(), size) != 0;
  const float max_value = sixteen_bit ? 65535.0f : 255.0f;
  std::unique_ptr<void, StbFree> decoded(
      sixteen_bit ? static_cast<void*>(stbi_load_16_from_memory(bytes.data(), size, &width,
                                                                &height, &channels, 0))
                  : static_cast<void*>(
                        stbi_load_from_memory(bytes.data(), size, &width, &height, &channels, 0)));
  if (!decoded) {
    // NOTE: stb_image probes for PNG before it decodes other formats, and
    // some JPEG failures set no reason, so a non-PNG file can report the
    // probe's stale "bad png sig". That reason is dropped as meaningless.
    std::string reason = stbi_failure_reason() != nullptr ? stbi_failure_reason() : "";
    if (format != "PNG" && reason.find("png") != std::string::npos) reason = "no detail";
    throw std::runtime_error(fmt::format(
        "image '{}' is a corrupt or truncated {} file (stb_image: {}); re-export or re-download "
        "it",
        name, format, reason));
  }

  GrayImage image(height, width);
  float samples[4] = {};
  for (std::size_t i = 0; i < image.pixels.size(); ++i) {
    for (int c = 0; c < channels; ++c) {
      const std::size_t index = i * channels + c;
      const float raw = sixteen_bit ? static_cast<const std::uint16_t*>(decoded.get())[index]
                                    : static_cast<const std::uint8_t*>(decoded.get())[index];
      samples[c] = raw / max_value;
    }
    image.pixels[i] = to_gray(samples, channels);
  }

  const bool invert = options.polarity == InkPolarity::invert ||
                      (options.polarity == InkPolarity::detect && border_mean(image) > 0.5f);
  if (invert) {
    for (float& pixel : image.pixels) pixel = 1.0f - pixel;
  }
  return image;
}

GrayImage load_gray_image(const std::filesystem::path& file, const LoadOptions& options) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(file);
  return decode_gray_image(bytes, file.string(), options);
}

namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  const auto* begin = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), begin, begin + size);
}

std::vector<std::uint8_t> encode_png_samples(const std::uint8_t* samples, int height, int width,
                                             int channels, const char* what) {
  if (height < 1 || width < 1) {
    throw std::invalid_argument(fmt::format(
        "encode_png: {} image of size {} x {} is empty; PNG needs at least one pixel", what,
        height, width));
  }
  std::vector<std::uint8_t> png;
  if (!stbi_write_png_to_func(append_bytes, &png, width, height, channels, samples,
                              width * channels)) {
    throw std::runtime_error(
        fmt::format("encode_png: stb_image_write failed on a {} x {} {} image", height, width,
                    what));
  }
  return png;
}

}  // namespace

std::vector<std::uint8_t> encode_png(const GrayImage& image) {
  std::vector<std::uint8_t> samples(image.pixels.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const float value = std::clamp(image.pixels[i], 0.0f, 1.0f);
    samples[i] = static_cast<std::uint8_t>(std::lround(value * 255.0f));
  }
  return encode_png_samples(samples.data(), image.height, image.width, 1, "gray");
}

std::vector<std::uint8_t> encode_png(const RgbImage& image) {
  return encode_png_samples(image.pixels.data(), image.height, image.width, 3, "RGB");
}

void write_file_atomically(const std::filesystem::path& file, std::span<const std::uint8_t> bytes) {
  std::filesystem::path temporary = file;
  temporary += fmt::format(".tmp-{}", ::getpid());

  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("writing '{}' failed: cannot create '{}': {}",
                                         file.string(), temporary.string(),
                                         std::strerror(errno)));
  }

  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  const bool synced = written == bytes.size() && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ::close(fd);

  if (!synced || std::rename(temporary.c_str(), file.c_str()) != 0) {
    const int error = synced ? errno : saved_errno;
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw std::runtime_error(fmt::format("writing '{}' failed: {}; check free space and permissions",
                                         file.string(), std::strerror(error)));
  }
}

void save_png(const GrayImage& image, const std::filesystem::path& file) {
  write_file_atomically(file, encode_png(image));
}

void save_png(const RgbImage& image, const std::filesystem::path& file) {
  write_file_atomically(file, encode_png(image));
}

}  // namespace ember::data
