// ember eval: measure a trained recognizer on a labelled folder or on a
// generated or held-out test set: character error rate, word accuracy and
// the most frequent per-character confusions, optionally next to
// Tesseract's character error rate on the same images.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/batched_decoding.h"
#include "apps/commands.h"
#include "apps/data/labelled_folder.h"
#include "apps/options.h"
#include "apps/recognition/inference.h"
#include "apps/recognition/metrics.h"
#include "apps/recognition/sources.h"
#include "apps/recognition/tesseract.h"

namespace ember::apps {

namespace {

struct EvalCommand {
  std::string checkpoint;
  recognition::DataOptions data;
  DecodingOptions decoding;
  int confusions = 10;
  std::string json;
  bool tesseract = false;
  int64_t batch_size = 64;
  CommonOptions common;
};

// The symbols a recognizer outputs, without its separator.
std::string output_symbols(const recognition::Recognizer& recognizer) {
  std::string symbols = recognizer.alphabet().symbols();
  symbols.erase(static_cast<size_t>(recognizer.alphabet().separator()), 1);
  return symbols;
}

// The images to evaluate on and a name for them. A folder is used whole; a
// generated source contributes its test set.
struct TestSet {
  recognition::Samples samples;
  std::string name;
  int64_t skipped = 0;
};

TestSet read_folder(const EvalCommand& options, const recognition::Recognizer& recognizer) {
  data::FolderReadOptions read;
  read.alphabet = output_symbols(recognizer);
  data::LabelledFolder folder = data::read_labelled_folder(options.data.folder, read);
  for (const std::string& line : folder.skipped) {
    fmt::print(stderr, "ember eval: skipped {}\n", line);
  }
  TestSet set;
  set.name = fmt::format("every image of '{}'", options.data.folder);
  set.skipped = static_cast<int64_t>(folder.skipped.size());
  const int64_t min_width = recognition::minimum_width(recognizer);
  for (auto& sample : folder.samples) {
    set.samples.push_back({recognition::prepare_image(sample.image, min_width), std::move(sample.text)});
  }
  return set;
}

TestSet make_test_set(const EvalCommand& options, const recognition::Recognizer& recognizer) {
  if (!options.data.folder.empty()) {
    return read_folder(options, recognizer);
  }
  if (options.data.source == "folder") {
    throw UserError("--source folder needs --folder PATH");
  }
  const std::string symbols = recognition::source_symbols(options.data);
  if (symbols != recognizer.alphabet().symbols()) {
    throw UserError(fmt::format("checkpoint '{}' reads the symbols '{}' but --source {} uses '{}'; "
                                "evaluate it on data of its own alphabet",
                                options.checkpoint, recognizer.alphabet().symbols(), options.data.source, symbols));
  }
  recognition::DataOptions data = options.data;
  data.train_count = 1;
  data.validation_count = 0;
  recognition::DataSets sets = recognition::load_data(data);
  for (const std::string& note : sets.notes) {
    fmt::print(stderr, "ember eval: {}\n", note);
  }
  return {std::move(sets.test), sets.test_name, 0};
}

recognition::ErrorCounter run_ember(const EvalCommand& options, const DecodingSetup& decoding,
                                    recognition::Recognizer& recognizer, const recognition::Samples& samples) {
  recognizer.model().eval();
  recognition::ErrorCounter counter;
  transcribe_in_batches(
      recognizer, samples, decoding, options.batch_size,
      [&counter](const recognition::Batch& batch, size_t /*start*/,
                 const std::vector<recognition::Transcription>& transcriptions) {
        for (size_t b = 0; b < transcriptions.size(); ++b) {
          counter.add(batch.texts[b], transcriptions[b].text);
        }
      });
  return counter;
}

// Tesseract's errors on the same images, or nothing when it is not installed.
std::optional<recognition::ErrorCounter> score_tesseract(const recognition::Samples& samples,
                                                       const recognition::Recognizer& recognizer) {
  recognition::TesseractOptions tesseract;
  tesseract.executable = recognition::find_tesseract();
  if (tesseract.executable.empty()) {
    fmt::print(stderr, "ember eval: tesseract is not on PATH, so its column is left out; "
                       "install tesseract-ocr and tesseract-ocr-eng to compare\n");
    return std::nullopt;
  }
  tesseract.whitelist = output_symbols(recognizer);
  std::vector<data::GrayImage> images;
  for (const auto& sample : samples) {
    images.push_back(sample.image);
  }
  const std::vector<std::string> texts = recognition::run_tesseract(images, tesseract);
  recognition::ErrorCounter counter;
  for (size_t i = 0; i < samples.size(); ++i) {
    counter.add(samples[i].text, texts[i]);
  }
  return counter;
}

std::string symbol_name(char symbol) {
  return symbol == '\0' ? "(none)" : std::string(1, symbol);
}

// The most frequent confusions, largest count first (ties by symbol).
std::vector<std::pair<std::pair<char, char>, int64_t>> top_confusions(const recognition::ErrorCounter& counter,
                                                                      int count) {
  std::vector<std::pair<std::pair<char, char>, int64_t>> sorted(counter.confusions().begin(),
                                                               counter.confusions().end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  sorted.resize(std::min(sorted.size(), static_cast<size_t>(count)));
  return sorted;
}

nlohmann::json counter_json(const recognition::ErrorCounter& counter, int confusions) {
  nlohmann::json result = {{"cer", counter.character_error_rate()},
                           {"word_accuracy", counter.word_accuracy()},
                           {"edits", counter.edits()},
                           {"reference_symbols", counter.reference_symbols()}};
  result["confusions"] = nlohmann::json::array();
  for (const auto& [pair, count] : top_confusions(counter, confusions)) {
    result["confusions"].push_back(
        {{"reference", symbol_name(pair.first)}, {"hypothesis", symbol_name(pair.second)}, {"count", count}});
  }
  return result;
}

void print_report(const EvalCommand& options, const TestSet& set, const recognition::ErrorCounter& ember,
                  const std::optional<recognition::ErrorCounter>& tesseract) {
  fmt::print("{} images: {}\n", set.samples.size(), set.name);
  fmt::print("{:<10} {:>8} {:>14}\n", "engine", "CER", "word accuracy");
  fmt::print("{:<10} {:>7.2f}% {:>13.2f}%\n", "ember", 100.0 * ember.character_error_rate(),
             100.0 * ember.word_accuracy());
  if (tesseract) {
    fmt::print("{:<10} {:>7.2f}% {:>13.2f}%\n", "tesseract", 100.0 * tesseract->character_error_rate(),
               100.0 * tesseract->word_accuracy());
  }
  const auto confusions = top_confusions(ember, options.confusions);
  if (!confusions.empty()) {
    fmt::print("ember's most frequent confusions (reference -> output, (none) = deleted or inserted):\n");
    for (const auto& [pair, count] : confusions) {
      fmt::print("  {} -> {}  {}\n", symbol_name(pair.first), symbol_name(pair.second), count);
    }
  }
  if (set.skipped > 0) {
    fmt::print("{} damaged images skipped\n", set.skipped);
  }
}

void run_eval(EvalCommand& options) {
  apply_common_options(options.common);
  options.data.seed = options.common.seed;
  if (!options.json.empty()) {
    prepare_output_file(options.json, "--json");
  }
  recognition::Recognizer recognizer = recognition::load_recognizer(options.checkpoint);
  const DecodingSetup decoding = load_decoding(options.decoding, recognizer);
  const TestSet set = make_test_set(options, recognizer);
  if (set.samples.empty()) {
    throw UserError("the test set is empty; raise --test-samples or add images to the folder");
  }
  if (!options.common.quiet) {
    fmt::print(stderr, "ember eval: {} model on {} images ({}), {} decoding\n", recognizer.spec().model,
               set.samples.size(), set.name, decoding.description);
  }
  // Warnings explain empty output, so --quiet keeps them.
  if (const auto warning = narrow_image_warning(decoding, recognizer, set.samples)) {
    fmt::print(stderr, "ember eval: {}\n", *warning);
  }

  const recognition::ErrorCounter ember = run_ember(options, decoding, recognizer, set.samples);
  std::optional<recognition::ErrorCounter> tesseract;
  if (options.tesseract) {
    tesseract = score_tesseract(set.samples, recognizer);
  }
  print_report(options, set, ember, tesseract);

  if (!options.json.empty()) {
    nlohmann::json report = {{"checkpoint", options.checkpoint}, {"test_set", set.name},
                             {"samples", set.samples.size()},     {"skipped", set.skipped},
                             {"decoding", decoding.description},        {"ember", counter_json(ember, options.confusions)}};
    if (options.tesseract) {
      report["tesseract"] = tesseract ? counter_json(*tesseract, options.confusions) : nlohmann::json(nullptr);
    }
    const std::string text = report.dump(2) + "\n";
    data::write_file_atomically(options.json,
                                std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalCommand>();
  CLI::App* command = app.add_subcommand(
      "eval", "Measure a checkpoint's character error rate, word accuracy and confusions on a test set");
  command->add_option("checkpoint", options->checkpoint, "Checkpoint written by ember train (.safetensors)")
      ->required();
  add_data_options(*command, options->data);
  add_decoding_options(*command, options->decoding);
  command->add_option("--confusions", options->confusions, "How many of the most frequent confusions to list")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  command->add_option("--json", options->json, "Also write the figures and confusions to this JSON file");
  command->add_flag("--tesseract", options->tesseract,
                    "Also run Tesseract (tesseract-ocr) on the same images and show its error rates");
  add_batch_size_option(*command, options->batch_size);
  add_common_options(*command, options->common);
  command->callback([options] { run_eval(*options); });
}

}  // namespace ember::apps
