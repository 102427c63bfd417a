// Reading and writing labelled image folders (images + labels.tsv).
#include "apps/data/labelled_folder.h"

#include <fstream>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "apps/data/font.h"

namespace ember::data {

namespace {

struct Entry {
  std::string file;
  std::string text;
};

// Throws naming the line when `file` could name an image outside the
// folder: an absolute path, or one whose '..' parts climb above the folder.
// The check is lexical, so a symbolic link inside the folder still counts
// as inside.
void check_inside_folder(const std::filesystem::path& list, int number, const std::string& file) {
  const std::filesystem::path path(file);
  if (path.is_absolute()) {
    throw std::runtime_error(fmt::format(
        "{}:{}: image path '{}' is absolute; write it relative to the folder of labels.tsv",
        list.string(), number, file));
  }
  const std::filesystem::path normal = path.lexically_normal();
  if (!normal.empty() && *normal.begin() == "..") {
    throw std::runtime_error(fmt::format(
        "{}:{}: image path '{}' points outside the folder; move the image into the folder of "
        "labels.tsv and list it relative to that folder",
        list.string(), number, file));
  }
}

std::vector<Entry> read_label_list(const std::filesystem::path& list, std::u32string_view alphabet) {
  std::ifstream in(list);
  if (!in) {
    const char* reason = std::filesystem::exists(list) ? "cannot be opened" : "is missing";
    throw std::runtime_error(fmt::format(
        "label list '{}' {}; a labelled folder needs labels.tsv with lines file<TAB>text",
        list.string(), reason));
  }

  std::vector<Entry> entries;
  std::set<std::string> seen;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // files saved on Windows
    if (line.empty() || line.front() == '#') continue;

    const std::size_t tab = line.find('\t');
    if (tab == std::string::npos || line.find('\t', tab + 1) != std::string::npos) {
      throw std::runtime_error(fmt::format(
          "{}:{}: expected file<TAB>text with exactly one TAB, found \"{}\"", list.string(),
          number, line));
    }
    Entry entry{line.substr(0, tab), line.substr(tab + 1)};
    if (entry.file.empty()) {
      throw std::runtime_error(fmt::format("{}:{}: the file name is empty", list.string(), number));
    }
    if (entry.text.empty()) {
      throw std::runtime_error(fmt::format(
          "{}:{}: the label of '{}' is empty; every image needs its text", list.string(), number,
          entry.file));
    }

    std::u32string text;
    try {
      text = decode_utf8(entry.text);
    } catch (const std::invalid_argument& error) {
      throw std::runtime_error(fmt::format("{}:{}: {}", list.string(), number, error.what()));
    }
    if (!alphabet.empty()) {
      for (char32_t symbol : text) {
        if (alphabet.find(symbol) == std::u32string_view::npos) {
          throw std::runtime_error(fmt::format(
              "{}:{}: label \"{}\" of '{}' has symbol '{}' outside the alphabet \"{}\"; fix or "
              "remove that line",
              list.string(), number, entry.text, entry.file, encode_utf8(std::u32string(1, symbol)),
              encode_utf8(alphabet)));
        }
      }
    }
    check_inside_folder(list, number, entry.file);
    if (!seen.insert(entry.file).second) {
      throw std::runtime_error(fmt::format("{}:{}: file '{}' is listed twice", list.string(),
                                           number, entry.file));
    }
    if (!std::filesystem::exists(list.parent_path() / entry.file)) {
      throw std::runtime_error(fmt::format(
          "{}:{}: image '{}' is listed but missing from the folder", list.string(), number,
          entry.file));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

LabelledFolder read_labelled_folder(const std::filesystem::path& folder,
                                    const FolderReadOptions& options) {
  const std::filesystem::path list = folder / "labels.tsv";
  const std::u32string alphabet = decode_utf8(options.alphabet);
  const std::vector<Entry> entries = read_label_list(list, alphabet);

  LabelledFolder result;
  for (const Entry& entry : entries) {
    GrayImage image;
    try {
      image = load_gray_image(folder / entry.file, options.load);
    } catch (const std::runtime_error& error) {
      result.skipped.push_back(error.what());
      continue;
    }
    if (options.height > 0) image = resize_to_height(image, options.height);
    result.samples.push_back({std::move(image), entry.text});
    result.files.push_back(entry.file);
  }

  if (result.samples.empty()) {
    const std::string first_damage =
        result.skipped.empty() ? "" : fmt::format("; the first: {}", result.skipped.front());
    throw std::runtime_error(fmt::format(
        "labelled folder '{}' has no usable sample ({} listed in labels.tsv, {} damaged); add "
        "images and their labels{}",
        folder.string(), entries.size(), result.skipped.size(), first_damage));
  }
  return result;
}

void write_labelled_folder(const std::filesystem::path& folder,
                           std::span<const LabelledImage> samples, std::string_view prefix) {
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::string& text = samples[i].text;
    if (text.empty() || text.find_first_of("\t\r\n") != std::string::npos) {
      throw std::invalid_argument(fmt::format(
          "write_labelled_folder: sample {} has text \"{}\"; labels.tsv needs a non-empty text "
          "without TAB or line breaks",
          i, text));
    }
  }

  std::filesystem::create_directories(folder);
  std::string list;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::string file = fmt::format("{}{:06}.png", prefix, i);
    save_png(samples[i].image, folder / file);
    list += fmt::format("{}\t{}\n", file, samples[i].text);
  }
  write_file_atomically(folder / "labels.tsv",
                        std::span(reinterpret_cast<const std::uint8_t*>(list.data()), list.size()));
}

}  // namespace ember::data
