// Building training, validation and test sets for each data source.
#include "apps/recognition/sources.h"

#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "apps/data/augment.h"
#include "apps/data/digit_strings.h"
#include "apps/data/idx.h"
#include "apps/data/labelled_folder.h"
#include "apps/data/random.h"

namespace ember::recognition {

namespace {

constexpr const char* kLetters = "abcdefghijklmnopqrstuvwxyz";
constexpr const char* kDigits = "0123456789";
// Test and validation seeds are offset so the three sets never share a stream.
constexpr uint64_t kValidationSeedOffset = 1'000'003;
constexpr uint64_t kTestSeedOffset = 2'000'003;

// Reads one word per line and checks each against the letters a-z, so a bad
// word list fails before training with its file and line.
std::vector<std::string> read_words(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error(fmt::format("cannot open word list '{}'", path));
  }
  std::vector<std::string> words;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty()) {
      continue;
    }
    const size_t bad = line.find_first_not_of(kLetters);
    if (bad != std::string::npos) {
      throw std::runtime_error(fmt::format(
          "{}:{}: word '{}' has '{}', which is not a lowercase letter a-z; fix or remove that line",
          path, number, line, line[bad]));
    }
    words.push_back(line);
  }
  if (words.empty()) {
    throw std::runtime_error(fmt::format("word list '{}' has no words", path));
  }
  return words;
}

}  // namespace

std::vector<data::Font> find_fonts(const std::vector<std::string>& names, std::vector<std::string>& notes) {
  std::vector<data::Font> fonts;
  for (const std::string& name : names) {
    const std::string extension = std::filesystem::path(name).extension().string();
    const bool is_file = name.find('/') != std::string::npos || extension == ".ttf" ||
                         extension == ".otf" || extension == ".TTF" || extension == ".OTF";
    if (is_file && !std::filesystem::is_regular_file(name)) {
      throw std::runtime_error(fmt::format("font file '{}' not found; pass an existing .ttf or .otf file", name));
    }
    data::Font font = is_file ? data::Font::load(name) : data::Font::find(name);
    if (!font.has_lowercase_letterforms()) {
      notes.push_back(fmt::format(
          "warning: font '{}' ({}) draws capital letterforms at the lowercase letters a-z, so its "
          "images do not look like lowercase text; pick another font for lowercase training",
          name, font.file().string()));
    }
    fonts.push_back(std::move(font));
  }
  return fonts;
}

WordOptions word_options(const DataOptions& options) {
  WordOptions words;
  words.letters = kLetters;
  words.min_length = options.min_length;
  words.max_length = options.max_length;
  if (!options.words_file.empty()) {
    words.words = read_words(options.words_file);
  }
  words.render.cell_width = options.cell_width;
  words.render.binarize = options.binarize;
  words.augment.max_jitter = options.max_jitter;
  words.augment.salt_fraction = options.salt;
  words.augment.affine = options.affine;
  words.augment.elastic = options.elastic;
  words.augment.stroke_probability = options.stroke;
  return words;
}

namespace {

DataSets load_fonts(const DataOptions& options) {
  if (options.fonts.empty()) {
    throw std::invalid_argument("no training fonts named; pass --fonts");
  }
  const WordOptions words = word_options(options);
  DataSets sets;
  const std::vector<data::Font> train_fonts = find_fonts(options.fonts, sets.notes);
  sets.symbols = std::string(kLetters) + "_";
  sets.train = render_words(train_fonts, words, options.train_count, options.seed);
  sets.validation = render_words(train_fonts, words, options.validation_count,
                                 options.seed + kValidationSeedOffset);
  if (options.holdout_fonts.empty()) {
    sets.test = render_words(train_fonts, words, options.test_count, options.seed + kTestSeedOffset);
    sets.test_name = fmt::format("new words in the training fonts ({})", fmt::join(options.fonts, ", "));
  } else {
    sets.test = render_words(find_fonts(options.holdout_fonts, sets.notes), words, options.test_count,
                             options.seed + kTestSeedOffset);
    sets.test_name = fmt::format("held-out fonts ({})", fmt::join(options.holdout_fonts, ", "));
  }
  return sets;
}

DataSets load_digits(const DataOptions& options) {
  const std::filesystem::path dir = options.mnist_dir;
  const auto images = dir / "digits-images.idx3-ubyte";
  const auto labels = dir / "digits-labels.idx1-ubyte";
  if (!std::filesystem::exists(images) || !std::filesystem::exists(labels)) {
    throw std::runtime_error(fmt::format(
        "MNIST digits not found in '{}'; run scripts/fetch-mnist.sh or pass --mnist-dir",
        dir.string()));
  }
  const data::DigitSet digits = data::load_digit_set(images, labels);
  const data::Split split = data::stratified_split(digits.labels, 2000, /*seed=*/12345);

  data::DigitStringOptions strings;
  strings.min_digits = options.min_digits;
  strings.max_digits = options.max_digits;
  const data::DigitStringGenerator train_strings(digits, split.train, strings);
  const data::DigitStringGenerator test_strings(digits, split.test, strings);

  // The augmentation flags distort the training strings only: validation
  // and test strings stay real handwriting, undistorted.
  data::AugmentOptions augment;
  augment.max_jitter = options.max_jitter;
  augment.salt_fraction = options.salt;
  augment.affine = options.affine;
  augment.elastic = options.elastic;
  augment.stroke_probability = options.stroke;

  DataSets sets;
  sets.symbols = std::string(kDigits) + "_";
  data::Rng train_rng(options.seed);
  data::Rng validation_rng(options.seed + kValidationSeedOffset);
  data::Rng test_rng(options.seed + kTestSeedOffset);
  for (int64_t i = 0; i < options.train_count; ++i) {
    data::LabelledImage sample = train_strings.next(train_rng);
    sample.image = data::augment(sample.image, augment, train_rng);
    sets.train.push_back(std::move(sample));
  }
  // Validation strings come from the training digits: model selection never
  // looks at the test digits.
  for (int64_t i = 0; i < options.validation_count; ++i) {
    sets.validation.push_back(train_strings.next(validation_rng));
  }
  for (int64_t i = 0; i < options.test_count; ++i) {
    sets.test.push_back(test_strings.next(test_rng));
  }
  sets.test_name = "strings of held-out MNIST digits";
  return sets;
}

DataSets load_folder(const DataOptions& options) {
  if (options.folder.empty()) {
    throw std::invalid_argument("--source folder needs --folder PATH");
  }
  data::FolderReadOptions read;
  read.alphabet = kLetters;
  read.alphabet += kDigits;
  data::LabelledFolder folder = data::read_labelled_folder(options.folder, read);
  if (folder.samples.empty()) {
    throw std::runtime_error(fmt::format("folder '{}' has no usable images", options.folder));
  }

  DataSets sets;
  // Letters when every label is letters, digits when every label is digits.
  bool letters = true;
  bool digits = true;
  for (const auto& sample : folder.samples) {
    for (char c : sample.text) {
      letters = letters && c >= 'a' && c <= 'z';
      digits = digits && c >= '0' && c <= '9';
    }
  }
  if (!letters && !digits) {
    throw std::runtime_error(fmt::format(
        "labels in '{}' mix letters and digits; Ember's alphabets are a-z or 0-9", options.folder));
  }
  sets.symbols = std::string(letters ? kLetters : kDigits) + "_";

  std::vector<size_t> order(folder.samples.size());
  std::iota(order.begin(), order.end(), size_t{0});
  data::Rng rng(options.seed);
  data::shuffle(std::span<size_t>(order), rng);
  const size_t test = std::min(order.size() / 5, static_cast<size_t>(options.test_count));
  const size_t validation = std::min((order.size() - test) / 5, static_cast<size_t>(options.validation_count));
  for (size_t i = 0; i < order.size(); ++i) {
    auto& sample = folder.samples[order[i]];
    if (i < test) {
      sets.test.push_back(std::move(sample));
    } else if (i < test + validation) {
      sets.validation.push_back(std::move(sample));
    } else {
      sets.train.push_back(std::move(sample));
    }
  }
  sets.test_name = fmt::format("a held-out fifth of '{}'", options.folder);
  for (const std::string& line : folder.skipped) {
    sets.notes.push_back("skipped " + line);
  }
  return sets;
}

// Pads each image to at least per_symbol pixels per label symbol.
void pad_to_label_width(Samples& samples, int per_symbol) {
  for (data::LabelledImage& sample : samples) {
    const int min_width = per_symbol * static_cast<int>(sample.text.size());
    if (sample.image.width < min_width) {
      const int extra = min_width - sample.image.width;
      sample.image = data::pad(sample.image, 0, 0, extra / 2, extra - extra / 2);
    }
  }
}

}  // namespace

std::string source_symbols(const DataOptions& options) {
  return std::string(options.source == "digits" ? kDigits : kLetters) + "_";
}

DataSets load_data(const DataOptions& options) {
  if (options.min_length > options.max_length) {
    throw std::invalid_argument(fmt::format("--min-length {} is greater than --max-length {}; swap them",
                                            options.min_length, options.max_length));
  }
  if (options.min_digits > options.max_digits) {
    throw std::invalid_argument(fmt::format("--min-digits {} is greater than --max-digits {}; swap them",
                                            options.min_digits, options.max_digits));
  }
  DataSets sets;
  if (options.source == "fonts") {
    sets = load_fonts(options);
  } else if (options.source == "digits") {
    sets = load_digits(options);
  } else if (options.source == "folder") {
    sets = load_folder(options);
  } else {
    throw std::invalid_argument(
        fmt::format("unknown data source '{}'; expected fonts, digits or folder", options.source));
  }
  for (Samples* set : {&sets.train, &sets.validation, &sets.test}) {
    pad_to_label_width(*set, options.min_width_per_symbol);
  }
  return sets;
}

}  // namespace ember::recognition
