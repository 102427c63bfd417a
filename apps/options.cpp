// Binding DataOptions and DecodingOptions to CLI11 options, and the check
// for unsigned options.
#include "apps/options.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "apps/commands.h"

namespace ember::apps {

CLI::Validator non_negative_integer() {
  const auto check = [](const std::string& value) -> std::string {
    // std::strtoull skips leading white space, so " -1" wraps too.
    const size_t first = value.find_first_not_of(" \t\n\v\f\r");
    if (first != std::string::npos && value[first] == '-') {
      return fmt::format("value '{}' is negative; pass 0 or a positive whole number", value);
    }
    return "";
  };
  return CLI::Validator(check, "NONNEGATIVE");
}

void add_data_options(CLI::App& command, recognition::DataOptions& options) {
  command.add_option("--source", options.source, "Where images come from")
      ->check(CLI::IsMember({"fonts", "digits", "folder"}))
      ->capture_default_str();
  command.add_option("--fonts", options.fonts,
                     "Training font families or files, comma separated (e.g. dkg,Breip)")
      ->delimiter(',')
      ->capture_default_str();
  command.add_option("--holdout-fonts", options.holdout_fonts,
                     "Fonts used only for the test set, comma separated")
      ->delimiter(',');
  command.add_option("--words", options.words_file, "Word list file, one word per line; default: random letters");
  command.add_option("--min-length", options.min_length, "Shortest random word, in letters")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  command.add_option("--max-length", options.max_length, "Longest random word, in letters")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  command.add_option("--cell-width", options.cell_width,
                     "Monospace cell width in pixels (18 for the homework setup); 0 = proportional")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  command.add_flag("--binarize", options.binarize, "Binarise rendered text (the homework's look)");
  command.add_option("--jitter", options.max_jitter, "Maximum random horizontal shift, in pixels")
      ->check(CLI::Range(0, 32))
      ->capture_default_str();
  command.add_option("--salt", options.salt, "Fraction of pixels set to ink at random (0.1 = 10%)")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  command.add_flag("--affine", options.affine, "Random slant, scale and rotation");
  command.add_flag("--elastic", options.elastic, "Random elastic distortion");
  command.add_option("--stroke", options.stroke, "Probability of thickening or thinning strokes")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command.add_option("--mnist-dir", options.mnist_dir, "Folder with the IDX digit files")
      ->capture_default_str();
  command.add_option("--min-digits", options.min_digits, "Fewest digits in a digit string")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  command.add_option("--max-digits", options.max_digits, "Most digits in a digit string")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  command.add_option("--folder", options.folder, "Folder of images with labels.tsv (--source folder)");
  command.add_option("--min-width-per-symbol", options.min_width_per_symbol,
                     "Pad images to at least this many pixels per label symbol")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  command.add_option("--train-samples", options.train_count, "Training images to make")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  command.add_option("--validation-samples", options.validation_count, "Validation images")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  command.add_option("--test-samples", options.test_count, "Test images")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
}

void add_decoding_options(CLI::App& command, DecodingOptions& options) {
  command.add_option("--decode", options.method,
                     "Decoding: greedy (per-window best symbol), viterbi (best alignment) or beam")
      ->check(CLI::IsMember({"greedy", "viterbi", "beam"}))
      ->capture_default_str();
  command.add_option("--beam-width", options.beam_width, "Hypotheses kept per window by beam decoding")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command.add_option("--lexicon", options.lexicon,
                     "Word list, one word per line: output only these words (implies --decode beam)");
}

DecodingSetup load_decoding(const DecodingOptions& options, const recognition::Recognizer& recognizer) {
  DecodingSetup decoding;
  decoding.method = recognition::parse_decode_method(options.method);
  decoding.beam_width = options.beam_width;
  decoding.description = options.method;
  if (!options.lexicon.empty()) {
    if (!std::filesystem::is_regular_file(options.lexicon)) {
      throw UserError(fmt::format("lexicon '{}' not found; pass a file with one word per line", options.lexicon));
    }
    try {
      decoding.lexicon = alignment::Lexicon::load(options.lexicon, recognizer.alphabet());
    } catch (const std::invalid_argument& error) {
      throw UserError(fmt::format("{}; fix or remove that word", error.what()));
    }
    if (decoding.lexicon->size() == 0) {
      throw UserError(fmt::format("lexicon '{}' has no words; pass a file with one word per line",
                                  options.lexicon));
    }
    decoding.lexicon_file = options.lexicon;
    decoding.shortest_word = recognition::shortest_lexicon_word(recognizer, *decoding.lexicon);
    decoding.method = recognition::DecodeMethod::beam;
    decoding.description = "beam with lexicon";
  }
  return decoding;
}

std::optional<std::string> narrow_image_warning(const DecodingSetup& decoding,
                                                const recognition::Recognizer& recognizer,
                                                const recognition::Samples& samples) {
  if (!decoding.lexicon) {
    return std::nullopt;
  }
  int64_t narrow = 0;
  int64_t max_windows = 0;  // of the widest narrow image
  for (const data::LabelledImage& sample : samples) {
    const int64_t windows = recognizer.windows(sample.image.width);
    if (windows < decoding.shortest_word.windows) {
      ++narrow;
      max_windows = std::max(max_windows, windows);
    }
  }
  if (narrow == 0) {
    return std::nullopt;
  }
  return fmt::format(
      "warning: no word of lexicon '{}' fits {} of {} images: the shortest, '{}', needs {} windows, but the "
      "widest of those images gives {}, so their decoded text is empty; use wider images or a lexicon with "
      "shorter words",
      decoding.lexicon_file, narrow, samples.size(), decoding.shortest_word.text, decoding.shortest_word.windows,
      max_windows);
}

}  // namespace ember::apps
