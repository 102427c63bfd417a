// IDX reading and writing with full validation of the header against the
// file length, the conversion of IDX bytes to GrayImage digits, and the
// stratified train/test split.
#include "apps/data/idx.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "apps/data/image_io.h"
#include "apps/data/random.h"

namespace ember::data {

namespace {

std::uint32_t read_u32(const std::uint8_t* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

void append_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 24));
  out.push_back(static_cast<std::uint8_t>(value >> 16));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

// Validates the header of an unsigned-byte IDX file with `dims` dimensions
// and returns the sizes; the data starts right after the header.
std::vector<std::uint32_t> read_idx_header(const std::vector<std::uint8_t>& bytes,
                                           const std::filesystem::path& file,
                                           std::uint32_t expected_magic) {
  const int dims = static_cast<int>(expected_magic & 0xff);
  const std::size_t header_size = 4 + 4 * static_cast<std::size_t>(dims);
  auto check_length = [&](std::size_t needed) {
    if (bytes.size() < needed) {
      throw std::runtime_error(fmt::format(
          "IDX file '{}' is truncated: {} bytes, but its header alone needs {}", file.string(),
          bytes.size(), needed));
    }
  };

  // The magic number comes first, so that a labels file passed as images
  // is reported as such and not as a short header.
  check_length(4);
  const std::uint32_t magic = read_u32(bytes.data());
  if (magic != expected_magic) {
    throw std::runtime_error(fmt::format(
        "IDX file '{}' has magic number 0x{:08x} (type code 0x{:02x}, {} dimensions); expected "
        "0x{:08x} (unsigned bytes, {} dimensions): is it the {} file?",
        file.string(), magic, (magic >> 8) & 0xff, magic & 0xff, expected_magic, dims,
        dims == 1 ? "labels" : "images"));
  }
  check_length(header_size);

  std::vector<std::uint32_t> sizes(dims);
  std::uint64_t data_size = 1;
  for (int d = 0; d < dims; ++d) {
    sizes[d] = read_u32(bytes.data() + 4 + 4 * d);
    if (sizes[d] == 0 || sizes[d] > static_cast<std::uint32_t>(INT32_MAX)) {
      throw std::runtime_error(fmt::format(
          "IDX file '{}' has size {} in dimension {}; expected 1 to {}", file.string(), sizes[d],
          d, INT32_MAX));
    }
    data_size *= sizes[d];
  }

  const std::uint64_t expected = header_size + data_size;
  if (bytes.size() != expected) {
    const char* problem = bytes.size() < expected ? "is truncated" : "has trailing bytes";
    throw std::runtime_error(fmt::format(
        "IDX file '{}' {}: its header promises {} bytes in all, the file has {}", file.string(),
        problem, expected, bytes.size()));
  }
  return sizes;
}

}  // namespace

IdxImages read_idx_images(const std::filesystem::path& file) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(file);
  const std::vector<std::uint32_t> sizes = read_idx_header(bytes, file, kIdxImagesMagic);

  IdxImages images;
  images.count = static_cast<int>(sizes[0]);
  images.rows = static_cast<int>(sizes[1]);
  images.cols = static_cast<int>(sizes[2]);
  images.pixels.assign(bytes.begin() + 16, bytes.end());
  return images;
}

std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& file) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(file);
  read_idx_header(bytes, file, kIdxLabelsMagic);
  return {bytes.begin() + 8, bytes.end()};
}

void write_idx_images(const std::filesystem::path& file, const IdxImages& images) {
  const std::size_t expected = static_cast<std::size_t>(images.count) * images.rows * images.cols;
  if (images.count < 1 || images.rows < 1 || images.cols < 1 || images.pixels.size() != expected) {
    throw std::invalid_argument(fmt::format(
        "write_idx_images: '{}': {} images of {} x {} need {} pixels, found {}; sizes must be "
        ">= 1",
        file.string(), images.count, images.rows, images.cols, expected, images.pixels.size()));
  }

  std::vector<std::uint8_t> bytes;
  bytes.reserve(16 + images.pixels.size());
  append_u32(bytes, kIdxImagesMagic);
  append_u32(bytes, static_cast<std::uint32_t>(images.count));
  append_u32(bytes, static_cast<std::uint32_t>(images.rows));
  append_u32(bytes, static_cast<std::uint32_t>(images.cols));
  bytes.insert(bytes.end(), images.pixels.begin(), images.pixels.end());
  write_file_atomically(file, bytes);
}

void write_idx_labels(const std::filesystem::path& file, std::span<const std::uint8_t> labels) {
  if (labels.empty()) {
    throw std::invalid_argument(fmt::format(
        "write_idx_labels: '{}': no labels to write; IDX sizes must be >= 1", file.string()));
  }

  std::vector<std::uint8_t> bytes;
  bytes.reserve(8 + labels.size());
  append_u32(bytes, kIdxLabelsMagic);
  append_u32(bytes, static_cast<std::uint32_t>(labels.size()));
  bytes.insert(bytes.end(), labels.begin(), labels.end());
  write_file_atomically(file, bytes);
}

DigitSet load_digit_set(const std::filesystem::path& images_file,
                        const std::filesystem::path& labels_file) {
  const IdxImages idx = read_idx_images(images_file);
  const std::vector<std::uint8_t> labels = read_idx_labels(labels_file);
  if (labels.size() != static_cast<std::size_t>(idx.count)) {
    throw std::runtime_error(fmt::format(
        "IDX files '{}' and '{}' do not match: {} images but {} labels; use files from one set",
        images_file.string(), labels_file.string(), idx.count, labels.size()));
  }

  DigitSet set;
  const std::size_t image_size = static_cast<std::size_t>(idx.rows) * idx.cols;
  for (int i = 0; i < idx.count; ++i) {
    GrayImage image(idx.rows, idx.cols);
    for (std::size_t p = 0; p < image_size; ++p) {
      image.pixels[p] = idx.pixels[i * image_size + p] / 255.0f;
    }
    set.images.push_back(std::move(image));
    set.labels.push_back(labels[i]);
  }
  return set;
}

Split stratified_split(std::span<const int> labels, std::size_t test_count, std::uint64_t seed) {
  if (test_count > labels.size()) {
    throw std::invalid_argument(fmt::format(
        "stratified_split: test count {} exceeds the {} items; expected at most {}", test_count,
        labels.size(), labels.size()));
  }

  std::map<int, std::vector<std::size_t>> by_label;
  for (std::size_t i = 0; i < labels.size(); ++i) by_label[labels[i]].push_back(i);

  // Largest-remainder apportionment of test_count over the labels.
  std::map<int, std::size_t> quota;
  std::vector<std::pair<std::size_t, int>> remainders;  // (remainder numerator, label)
  std::size_t assigned = 0;
  for (const auto& [label, items] : by_label) {
    const std::size_t numerator = test_count * items.size();
    quota[label] = numerator / labels.size();
    assigned += quota[label];
    remainders.emplace_back(numerator % labels.size(), label);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t k = 0; assigned < test_count; ++k, ++assigned) ++quota[remainders[k].second];

  Split split;
  Rng rng(seed);
  for (auto& [label, items] : by_label) {
    shuffle(std::span<std::size_t>(items), rng);
    const std::size_t take = quota[label];
    split.test.insert(split.test.end(), items.begin(), items.begin() + static_cast<long>(take));
    split.train.insert(split.train.end(), items.begin() + static_cast<long>(take), items.end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.test.begin(), split.test.end());
  return split;
}

}  // namespace ember::data
