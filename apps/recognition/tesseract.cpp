// Preparing images for Tesseract and running it over a file list.
#include "apps/recognition/tesseract.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "apps/data/image_io.h"

namespace ember::recognition {

namespace {

constexpr float kInk = 0.5f;
constexpr int kBorder = 8;

// A temporary folder removed, with its files, when the object goes away.
class TemporaryFolder {
 public:
  TemporaryFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ember-tesseract-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error(fmt::format("tesseract: cannot create a temporary folder from '{}': {}",
                                           pattern, std::strerror(errno)));
    }
    path_ = pattern;
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs the executable with arguments and OMP_THREAD_LIMIT=1, so Tesseract
// uses one OpenMP thread, sending stdout and stderr to log. Returns the
// exit status, or -1 when the process could not start.
int run_process(const std::vector<std::string>& arguments, const std::filesystem::path& log) {
  std::vector<char*> argv;
  for (const std::string& argument : arguments) {
    argv.push_back(const_cast<char*>(argument.c_str()));
  }
  argv.push_back(nullptr);

  const pid_t child = fork();
  if (child < 0) {
    return -1;
  }
  if (child == 0) {
    FILE* out = std::freopen(log.c_str(), "w", stdout);
    if (out != nullptr) {
      dup2(fileno(out), STDERR_FILENO);
    }
    setenv("OMP_THREAD_LIMIT", "1", /*overwrite=*/1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(child, &status, 0) < 0) {
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string first_line(const std::string& text) {
  const size_t end = text.find('\n');
  return text.substr(0, end);
}

std::string normalise(const std::string& text) {
  std::string result;
  for (unsigned char c : text) {
    if (!std::isspace(c)) {
      result += static_cast<char>(std::tolower(c));
    }
  }
  return result;
}

}  // namespace

std::string find_tesseract() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) {
    return "";
  }
  std::istringstream folders(path);
  std::string folder;
  while (std::getline(folders, folder, ':')) {
    const std::filesystem::path candidate = std::filesystem::path(folder.empty() ? "." : folder) / "tesseract";
    if (access(candidate.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(candidate)) {
      return candidate.string();
    }
  }
  return "";
}

bool looks_noisy(const data::GrayImage& image) {
  int64_t isolated = 0;
  for (int r = 0; r < image.height; ++r) {
    for (int c = 0; c < image.width; ++c) {
      if (image.at(r, c) < kInk) {
        continue;
      }
      bool alone = true;
      for (int dr = -1; dr <= 1 && alone; ++dr) {
        for (int dc = -1; dc <= 1 && alone; ++dc) {
          const int rr = r + dr;
          const int cc = c + dc;
          const bool inside = rr >= 0 && rr < image.height && cc >= 0 && cc < image.width;
          alone = (dr == 0 && dc == 0) || !inside || image.at(rr, cc) < kInk;
        }
      }
      isolated += alone ? 1 : 0;
    }
  }
  return isolated * 200 > static_cast<int64_t>(image.height) * image.width;
}

data::GrayImage median_filter(const data::GrayImage& image) {
  data::GrayImage result(image.height, image.width);
  std::array<float, 9> window{};
  for (int r = 0; r < image.height; ++r) {
    for (int c = 0; c < image.width; ++c) {
      size_t n = 0;
      for (int dr = -1; dr <= 1; ++dr) {
        for (int dc = -1; dc <= 1; ++dc) {
          const int rr = std::clamp(r + dr, 0, image.height - 1);
          const int cc = std::clamp(c + dc, 0, image.width - 1);
          window[n++] = image.at(rr, cc);
        }
      }
      std::nth_element(window.begin(), window.begin() + 4, window.end());
      result.at(r, c) = window[4];
    }
  }
  return result;
}

data::GrayImage prepare_for_tesseract(const data::GrayImage& image) {
  data::GrayImage clean = looks_noisy(image) ? median_filter(image) : image;

  // Crop to the rows and columns that hold ink; an image without ink stays whole.
  int top = clean.height;
  int bottom = 0;
  int left = clean.width;
  int right = 0;
  for (int r = 0; r < clean.height; ++r) {
    for (int c = 0; c < clean.width; ++c) {
      if (clean.at(r, c) >= kInk) {
        top = std::min(top, r);
        bottom = std::max(bottom, r + 1);
        left = std::min(left, c);
        right = std::max(right, c + 1);
      }
    }
  }
  if (top < bottom) {
    clean = data::crop(clean, top, left, bottom - top, right - left);
  }

  for (float& pixel : clean.pixels) {
    pixel = 1.0f - pixel;
  }
  return data::pad(clean, kBorder, kBorder, kBorder, kBorder, /*fill=*/1.0f);
}

std::vector<std::string> run_tesseract(const std::vector<data::GrayImage>& images,
                                       const TesseractOptions& options) {
  if (images.empty()) {
    return {};
  }
  const TemporaryFolder folder;
  std::string list;
  for (size_t i = 0; i < images.size(); ++i) {
    const std::filesystem::path file = folder.path() / fmt::format("{:06}.png", i);
    data::save_png(prepare_for_tesseract(images[i]), file);
    list += file.string() + "\n";
  }
  const std::filesystem::path list_file = folder.path() / "images.txt";
  std::ofstream(list_file) << list;

  const std::filesystem::path output = folder.path() / "output";
  std::vector<std::string> arguments = {options.executable, list_file.string(), output.string(),
                                        "--psm", "8", "-l", "eng"};
  if (!options.whitelist.empty()) {
    arguments.push_back("-c");
    arguments.push_back("tessedit_char_whitelist=" + options.whitelist);
  }
  const std::filesystem::path log = folder.path() / "log.txt";
  const int status = run_process(arguments, log);
  if (status != 0) {
    throw std::runtime_error(fmt::format("tesseract '{}' failed with status {}: {}", options.executable,
                                         status, first_line(read_text(log))));
  }

  // With a file list, Tesseract writes every page's text into one file,
  // each page ended by a form feed.
  const std::string text = read_text(output.string() + ".txt");
  std::vector<std::string> pages;
  std::istringstream split(text);
  std::string page;
  while (std::getline(split, page, '\f')) {
    pages.push_back(normalise(page));
  }
  if (pages.size() < images.size()) {
    throw std::runtime_error(fmt::format("tesseract returned {} transcriptions for {} images; expected one each",
                                         pages.size(), images.size()));
  }
  pages.resize(images.size());
  return pages;
}

}  // namespace ember::recognition
