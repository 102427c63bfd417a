// ember render: write a labelled dataset folder (PNG images plus
// labels.tsv) from any data source, so people can look at the images and
// reuse them with `--source folder --folder DIR`.
//
// The images are the ones training would see: one of the sets that
// load_data builds (training, validation or test), or, with --text, the
// given words rendered once in each training font with the same rendering
// and augmentation options. Nothing is written until every label has been
// checked against the source's alphabet.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/data/image_io.h"
#include "apps/data/plot.h"
#include "apps/data/progress.h"
#include "apps/options.h"
#include "apps/recognition/sources.h"

namespace ember::apps {

namespace {

struct RenderCommand {
  recognition::DataOptions data;
  std::string out;
  std::string set = "train";
  std::vector<std::string> texts;
  std::string preview;
  bool overwrite = false;
  CommonOptions common;
};

// Renders each word of texts (split at white space) once per training font.
recognition::Samples render_given_words(const RenderCommand& options, std::vector<std::string>& notes) {
  if (options.data.source != "fonts") {
    throw UserError(fmt::format("--text renders with fonts, but --source is '{}'; drop one of them",
                                options.data.source));
  }
  const std::vector<data::Font> fonts = recognition::find_fonts(options.data.fonts, notes);
  recognition::WordOptions words = recognition::word_options(options.data);

  recognition::Samples samples;
  uint64_t seed = options.data.seed;
  for (const std::string& text : options.texts) {
    std::istringstream split(text);
    std::string word;
    while (split >> word) {
      words.words = {word};
      for (auto& sample : recognition::render_words(fonts, words, static_cast<int64_t>(fonts.size()), seed++)) {
        samples.push_back(std::move(sample));
      }
    }
  }
  if (samples.empty()) {
    throw UserError("--text has no words; pass e.g. --text \"hello world\"");
  }
  return samples;
}

// Builds only the requested set: the other two are made as small as
// load_data allows.
recognition::Samples render_set(RenderCommand& options, std::vector<std::string>& notes) {
  recognition::DataOptions data = options.data;
  if (options.set != "train") {
    data.train_count = 1;
  }
  if (options.set != "validation") {
    data.validation_count = 0;
  }
  if (options.set != "test") {
    data.test_count = 0;
  }
  recognition::DataSets sets = recognition::load_data(data);
  notes = sets.notes;
  recognition::Samples* samples = &sets.test;
  if (options.set == "train") {
    samples = &sets.train;
  } else if (options.set == "validation") {
    samples = &sets.validation;
  }
  if (samples->empty()) {
    throw UserError(fmt::format("the {} set is empty; raise --{}-samples", options.set, options.set));
  }
  return std::move(*samples);
}

// Throws naming the first label with a symbol the source's alphabet lacks.
void check_labels(const recognition::Samples& samples, const recognition::DataOptions& data) {
  const std::string symbols = recognition::source_symbols(data);
  const std::string letters = symbols.substr(0, symbols.size() - 1);
  for (const auto& sample : samples) {
    const size_t bad = sample.text.find_first_not_of(letters);
    if (bad != std::string::npos) {
      // Show the whole UTF-8 character: its first byte and the continuation bytes 10xxxxxx.
      size_t end = bad + 1;
      while (end < sample.text.size() && (static_cast<unsigned char>(sample.text[end]) & 0xC0) == 0x80) {
        ++end;
      }
      throw UserError(fmt::format("label '{}' has the symbol '{}', which is outside the alphabet '{}'; "
                                  "use only those symbols",
                                  sample.text, sample.text.substr(bad, end - bad), letters));
    }
  }
}

// Writes the images one by one so long runs can show progress, then
// labels.tsv, which read_labelled_folder needs, last.
void write_folder(const recognition::Samples& samples, const std::filesystem::path& folder, bool quiet) {
  std::filesystem::create_directories(folder);
  const bool terminal = data::is_terminal(2);
  const data::Clock clock = data::steady_clock_seconds();
  const double start = clock();
  double last_report = start;
  std::string list;
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::string file = fmt::format("{:06}.png", i);
    data::save_png(samples[i].image, folder / file);
    list += fmt::format("{}\t{}\n", file, samples[i].text);

    const double now = clock();
    // Redraw a terminal line 10 times a second, print a plain line every 10 s.
    if (!quiet && now - last_report >= (terminal ? 0.1 : 10.0)) {
      last_report = now;
      const double rate = static_cast<double>(i + 1) / (now - start);
      const std::string status = fmt::format("ember render: {}/{} images written, {:.0f} images/s, ETA {}",
                                             i + 1, samples.size(), rate,
                                             data::format_duration(static_cast<double>(samples.size() - i - 1) / rate));
      fmt::print(stderr, "{}{}{}", terminal ? "\r" : "", status, terminal ? "" : "\n");
    }
  }
  if (!quiet && terminal && last_report > start) {
    fmt::print(stderr, "\n");
  }
  data::write_file_atomically(folder / "labels.tsv",
                              std::span(reinterpret_cast<const std::uint8_t*>(list.data()), list.size()));
}

void write_preview(const recognition::Samples& samples, const std::string& path) {
  constexpr size_t kPreviewImages = 48;
  std::vector<data::GrayImage> images;
  std::vector<std::string> captions;
  for (size_t i = 0; i < samples.size() && i < kPreviewImages; ++i) {
    images.push_back(samples[i].image);
    captions.push_back(samples[i].text);
  }
  data::save_png(data::image_grid(images, /*columns=*/6, /*scale=*/2, captions), path);
}

void run_render(RenderCommand& options) {
  apply_common_options(options.common);
  options.data.seed = options.common.seed;
  const std::filesystem::path folder = options.out;
  if (std::filesystem::exists(folder / "labels.tsv") && !options.overwrite) {
    throw UserError(fmt::format("'{}' already contains a dataset (labels.tsv); pick another --out or pass --overwrite",
                                options.out));
  }
  check_output_folder(folder, "--out");
  if (!options.preview.empty()) {
    prepare_output_file(options.preview, "--preview");
  }

  std::vector<std::string> notes;
  const recognition::Samples samples =
      options.texts.empty() ? render_set(options, notes) : render_given_words(options, notes);
  check_labels(samples, options.data);
  for (const std::string& note : notes) {
    fmt::print(stderr, "ember render: {}\n", note);
  }
  write_folder(samples, folder, options.common.quiet);
  if (!options.preview.empty()) {
    write_preview(samples, options.preview);
  }
  if (!options.common.quiet) {
    fmt::print(stderr, "ember render: wrote {} images and labels.tsv to {}\n", samples.size(), options.out);
  }
}

}  // namespace

void add_render_command(CLI::App& app) {
  auto options = std::make_shared<RenderCommand>();
  CLI::App* command = app.add_subcommand(
      "render", "Write a dataset folder (PNG images + labels.tsv) from fonts, MNIST digits or given words");
  add_data_options(*command, options->data);
  command->add_option("--out,-o", options->out, "Folder to write the images and labels.tsv to")->required();
  command->add_option("--set", options->set,
                      "Which set to write: train, validation or test (its size comes from --<set>-samples)")
      ->check(CLI::IsMember({"train", "validation", "test"}))
      ->capture_default_str();
  command->add_option("--text", options->texts,
                      "Render these words (split at spaces) once per font instead of a generated set");
  command->add_option("--preview", options->preview, "Also write a PNG grid of the first 48 images to this file");
  command->add_flag("--overwrite", options->overwrite, "Replace the images and labels.tsv of an existing dataset");
  add_common_options(*command, options->common);
  command->callback([options] { run_render(*options); });
}

}  // namespace ember::apps
