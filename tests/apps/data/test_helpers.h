// Helpers shared by the data-layer tests: a fresh temporary folder per test
// and small image builders. Nothing here is tested itself.
#pragma once

#include <filesystem>
#include <random>
#include <string>

#include "apps/data/image.h"

namespace ember::data::testing {

// A new empty folder under the system temporary folder, removed on scope exit.
class TempFolder {
 public:
  explicit TempFolder(const std::string& tag) {
    std::random_device device;
    path_ = std::filesystem::temp_directory_path() /
            ("ember-data-" + tag + "-" + std::to_string(device()));
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A height x width image whose pixel (r, c) is (r * width + c) / (height * width - 1).
inline GrayImage ramp_image(int height, int width) {
  GrayImage image(height, width);
  const float last = static_cast<float>(height * width - 1);
  for (int i = 0; i < height * width; ++i) image.pixels[i] = last > 0 ? i / last : 0.0f;
  return image;
}

}  // namespace ember::data::testing
