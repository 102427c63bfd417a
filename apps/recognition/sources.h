// Where the handwriting commands get their labelled images: words rendered
// from fonts, strings of real MNIST digits, or a folder with labels.tsv.
//
// Each source gives disjoint training, validation and test sets:
//  - fonts: training and validation words are rendered in the training
//    fonts with different seeds; the test set uses the held-out fonts when
//    any are named (otherwise new words in the training fonts);
//  - digits: a fixed, seeded, stratified split of the 10,000 digits into
//    8,000 for training strings and 2,000 for test strings, so test strings
//    never reuse a training digit's image;
//  - folder: the folder is split by a seeded shuffle.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/data/font.h"
#include "apps/recognition/dataset.h"

namespace ember::recognition {

struct DataOptions {
  std::string source = "fonts";  // fonts | digits | folder

  // fonts
  std::vector<std::string> fonts = {"Anonymous Pro"};
  std::vector<std::string> holdout_fonts;
  std::string words_file;  // one word per line; empty = random strings
  int min_length = 1;
  int max_length = 5;
  int cell_width = 18;  // > 0: monospace cells of this many pixels; 0: proportional
  bool binarize = false;
  int max_jitter = 0;
  double salt = 0.0;
  bool affine = false;
  bool elastic = false;
  double stroke = 0.0;

  // digits
  std::string mnist_dir = "data/mnist";
  int min_digits = 4;
  int max_digits = 6;

  // folder
  std::string folder;

  // Images narrower than this many pixels per label symbol are padded with
  // background on both sides, so a label always has enough windows (the
  // homework's monospace setup has exactly 18 px per character).
  int min_width_per_symbol = 18;

  int64_t train_count = 4000;
  int64_t validation_count = 500;
  int64_t test_count = 500;
  uint64_t seed = 1;
};

struct DataSets {
  Samples train;
  Samples validation;
  Samples test;
  std::string symbols;     // the alphabet's symbols, separator last
  std::string test_name;   // what the test set is, for reports
  std::vector<std::string> notes;  // e.g. unsuitable fonts, damaged images skipped while reading
};

// Builds the three sets. Throws std::invalid_argument or std::runtime_error
// with a one-line message naming the missing font, file or bad value.
DataSets load_data(const DataOptions& options);

// Loads each named font: a name with a path separator or a font file
// extension as a file, anything else as a family under the system font
// folders. Appends a warning to notes for each font that draws capital
// letterforms at a-z (see data::Font::has_lowercase_letterforms). Throws
// std::runtime_error naming a font that is not found.
std::vector<data::Font> find_fonts(const std::vector<std::string>& names, std::vector<std::string>& notes);

// How the fonts source renders words: lengths, word list, cell width,
// binarisation and augmentations. Reads the word list file when one is named.
WordOptions word_options(const DataOptions& options);

// The symbols (separator last) a source's labels use.
std::string source_symbols(const DataOptions& options);

}  // namespace ember::recognition
