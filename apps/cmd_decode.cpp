// ember decode: read text from images with a trained recognizer.
//
// Each image (a file, or every image file of a folder) becomes a 32 px tall
// gray strip (apps/recognition/inference.h) and is decoded greedily, by
// Viterbi or by beam search with an optional lexicon. It prints one line per
// image: the file, the text, and the free energy of that text given the
// image. The free energy is a confidence: lower is more confident, and it
// grows with the image's width.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/batched_decoding.h"
#include "apps/commands.h"
#include "apps/options.h"
#include "apps/recognition/inference.h"

namespace ember::apps {

namespace {

struct DecodeCommand {
  std::string checkpoint;
  std::vector<std::string> inputs;
  DecodingOptions decoding;
  std::string polarity = "detect";
  int64_t batch_size = 32;
  CommonOptions common;
};

bool has_image_extension(const std::filesystem::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::vector<std::string> known = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga",
                                                 ".pgm", ".ppm", ".pnm", ".psd"};
  return std::find(known.begin(), known.end(), extension) != known.end();
}

// One image to decode and the file it came from.
struct Input {
  std::string file;
  data::GrayImage image;
};

// Loads the named files (any failure is fatal) and the image files of the
// named folders (a damaged one is reported and skipped).
std::vector<Input> load_inputs(const DecodeCommand& options, const recognition::Recognizer& recognizer,
                               data::InkPolarity polarity, int64_t& skipped) {
  std::vector<Input> inputs;
  for (const std::string& name : options.inputs) {
    if (!std::filesystem::is_directory(name)) {
      if (!std::filesystem::exists(name)) {
        throw UserError(fmt::format("image '{}' not found; check the path", name));
      }
      inputs.push_back({name, recognition::load_image_for(recognizer, name, polarity)});
      continue;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(name)) {
      if (entry.is_regular_file() && has_image_extension(entry.path())) {
        files.push_back(entry.path());
      }
    }
    if (files.empty()) {
      throw UserError(fmt::format("folder '{}' has no image files (.png, .jpg, .bmp, .gif, ...)", name));
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      try {
        inputs.push_back({file.string(), recognition::load_image_for(recognizer, file, polarity)});
      } catch (const std::runtime_error& error) {
        fmt::print(stderr, "ember decode: skipped {}\n", error.what());
        ++skipped;
      }
    }
  }
  return inputs;
}

data::InkPolarity parse_polarity(const std::string& name) {
  if (name == "keep") {
    return data::InkPolarity::keep;
  }
  if (name == "invert") {
    return data::InkPolarity::invert;
  }
  return data::InkPolarity::detect;
}

void run_decode(DecodeCommand& options) {
  apply_common_options(options.common);
  recognition::Recognizer recognizer = recognition::load_recognizer(options.checkpoint);
  recognizer.model().eval();

  const DecodingSetup decoding = load_decoding(options.decoding, recognizer);

  int64_t skipped = 0;
  const std::vector<Input> inputs = load_inputs(options, recognizer, parse_polarity(options.polarity), skipped);
  if (inputs.empty()) {
    throw UserError(fmt::format("no image could be read ({} skipped); see the messages above", skipped));
  }
  if (!options.common.quiet) {
    fmt::print(stderr, "ember decode: {} model over '{}', {} decoding, {} images\n", recognizer.spec().model,
               recognizer.alphabet().symbols(), decoding.description, inputs.size());
  }

  recognition::Samples samples;
  for (const Input& input : inputs) {
    samples.push_back({input.image, ""});
  }
  // Warnings explain empty output, so --quiet keeps them.
  if (const auto warning = narrow_image_warning(decoding, recognizer, samples)) {
    fmt::print(stderr, "ember decode: {}\n", *warning);
  }
  transcribe_in_batches(
      recognizer, samples, decoding, options.batch_size,
      [&](const recognition::Batch& batch, size_t start,
          const std::vector<recognition::Transcription>& transcriptions) {
        const std::vector<float> free =
            recognition::transcription_free_energies(recognizer, batch, transcriptions);
        for (size_t b = 0; b < transcriptions.size(); ++b) {
          fmt::print("{}\t{}\t{:.3f}\n", inputs[start + b].file, transcriptions[b].text, free[b]);
        }
      });
  if (skipped > 0) {
    fmt::print(stderr, "ember decode: {} damaged images skipped, {} decoded\n", skipped, inputs.size());
  }
}

}  // namespace

void add_decode_command(CLI::App& app) {
  auto options = std::make_shared<DecodeCommand>();
  CLI::App* command = app.add_subcommand(
      "decode",
      "Read the text of images with a trained checkpoint; prints file, text and free energy (lower = surer)");
  command->add_option("checkpoint", options->checkpoint, "Checkpoint written by ember train (.safetensors)")
      ->required();
  command->add_option("images", options->inputs,
                      "Image files (PNG, JPEG, BMP, GIF, ...) or folders of them; any size, scaled to 32 px tall")
      ->required();
  add_decoding_options(*command, options->decoding);
  command->add_option("--polarity", options->polarity,
                      "Ink polarity: detect (from the border), keep (light ink on dark) or invert (dark ink on light)")
      ->check(CLI::IsMember({"detect", "keep", "invert"}))
      ->capture_default_str();
  add_batch_size_option(*command, options->batch_size);
  add_common_options(*command, options->common);
  command->callback([options] { run_decode(*options); });
}

}  // namespace ember::apps
