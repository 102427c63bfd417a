// Command-line options shared by the handwriting commands: where the data
// comes from (DataOptions) and how decode and eval turn energies into text
// (DecodingOptions), and a check for unsigned options such as --seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/recognition/dataset.h"
#include "apps/recognition/inference.h"
#include "apps/recognition/recognizer.h"
#include "apps/recognition/sources.h"
#include "ebm/alignment/decode.h"

namespace ember::apps {

// Makes a CLI11 check for an unsigned integer option that rejects a value
// with a minus sign. CLI11 2.1.2 converts unsigned values with
// std::strtoull, which turns "-1" into 2^64 - 1 without an error.
CLI::Validator non_negative_integer();

// Adds --source, --fonts, --holdout-fonts, --words, lengths, rendering and
// augmentation, --mnist-dir, --folder and set sizes to a subcommand.
void add_data_options(CLI::App& command, recognition::DataOptions& options);

// The decoding that decode and eval use, as given on the command line.
struct DecodingOptions {
  std::string method = "viterbi";  // greedy | viterbi | beam
  int64_t beam_width = 16;
  std::string lexicon;  // word list file; empty = any text
};

// Adds --decode, --beam-width and --lexicon to a subcommand.
void add_decoding_options(CLI::App& command, DecodingOptions& options);

// The decoding method, ready to run: a lexicon, when given, is loaded in the
// recognizer's alphabet and switches the method to beam search.
struct DecodingSetup {
  recognition::DecodeMethod method = recognition::DecodeMethod::viterbi;
  int64_t beam_width = 16;
  std::optional<alignment::Lexicon> lexicon;
  std::string lexicon_file;                // the --lexicon file; empty without a lexicon
  recognition::ShortestWord shortest_word;  // the lexicon word that needs the fewest windows
  std::string description;  // e.g. "viterbi" or "beam with lexicon", for logs

  const alignment::Lexicon* lexicon_or_null() const { return lexicon ? &*lexicon : nullptr; }
};

// Throws a UserError naming the lexicon file when it is missing, has no
// words, or has a word with a symbol outside the recognizer's alphabet.
DecodingSetup load_decoding(const DecodingOptions& options, const recognition::Recognizer& recognizer);

// Returns a one-line warning, "warning: no word of lexicon ...", when some
// samples have fewer windows than the lexicon's shortest word needs, so
// that their decoded text can only be empty. Returns std::nullopt without a
// lexicon or when every sample has enough windows.
std::optional<std::string> narrow_image_warning(const DecodingSetup& decoding,
                                                const recognition::Recognizer& recognizer,
                                                const recognition::Samples& samples);

}  // namespace ember::apps
