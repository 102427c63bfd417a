// ember plot: pictures of what a recognizer computes and how training went.
//
//   plot energies CHECKPOINT IMAGE   energy matrix (symbols by windows) with
//                                    the target's best alignment, or each
//                                    window's lowest-energy symbol
//   plot path CHECKPOINT IMAGE       path matrix of --target with its Viterbi
//                                    path, and the dynamic program's table
//   plot metrics METRICS.jsonl       training loss and validation CER curves
//   plot graph FILE                  a graph file (AT&T or Ember text)
//                                    drawn by Graphviz's dot
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/recognition/inference.h"
#include "apps/recognition/pictures.h"
#include "ebm/graph/io.h"

namespace ember::apps {

namespace {

struct PlotCommand {
  std::string checkpoint;
  std::string input;
  std::string target;
  std::string out;
  std::string table_out;
  std::string dot_out;
  bool acceptor = false;
  CommonOptions common;
};

void require_file(const std::string& path, const std::string& kind) {
  if (!std::filesystem::is_regular_file(path)) {
    throw UserError(fmt::format("{} '{}' not found; check the path", kind, path));
  }
}

// Loads the checkpoint and the image, checking the target against the
// checkpoint's alphabet.
data::LabelledImage load_sample(const PlotCommand& options, recognition::Recognizer& recognizer) {
  require_file(options.input, "image");
  if (!options.target.empty()) {
    try {
      recognizer.alphabet().encode(options.target);
    } catch (const std::invalid_argument&) {
      throw UserError(fmt::format("--target '{}' has a symbol outside the checkpoint's alphabet '{}'",
                                  options.target, recognizer.alphabet().symbols()));
    }
  }
  return {recognition::load_image_for(recognizer, options.input), options.target};
}

void report_written(const PlotCommand& options, const std::string& written) {
  if (!options.common.quiet) {
    fmt::print(stderr, "ember plot: wrote {}\n", written);
  }
}

void plot_energies(const PlotCommand& options) {
  apply_common_options(options.common);
  recognition::Recognizer recognizer = recognition::load_recognizer(options.checkpoint);
  recognizer.model().eval();
  const data::LabelledImage sample = load_sample(options, recognizer);
  recognition::plot_energies(recognizer, sample, options.target, options.out);
  report_written(options, options.out);
}

void plot_path(const PlotCommand& options) {
  apply_common_options(options.common);
  recognition::Recognizer recognizer = recognition::load_recognizer(options.checkpoint);
  recognizer.model().eval();
  const data::LabelledImage sample = load_sample(options, recognizer);
  recognition::plot_path_matrix(recognizer, sample, options.target, options.out, options.table_out);
  report_written(options, fmt::format("{} and {}", options.out, options.table_out));
}

void plot_metrics(const PlotCommand& options) {
  apply_common_options(options.common);
  require_file(options.input, "metrics file");
  recognition::plot_metrics(options.input, options.out);
  report_written(options, options.out);
}

void plot_graph(const PlotCommand& options) {
  apply_common_options(options.common);
  require_file(options.input, "graph file");
  std::ifstream in(options.input);
  std::ostringstream text;
  text << in.rdbuf();

  // Ember's format starts with its magic line; anything else is AT&T text.
  graph::Graph parsed;
  try {
    parsed = text.str().rfind("ember-graph", 0) == 0 ? graph::read_ember(text.str())
                                                      : graph::read_att(text.str(), options.acceptor);
  } catch (const std::invalid_argument& error) {
    throw UserError(fmt::format("graph file '{}' is not valid AT&T or Ember text: {}", options.input, error.what()));
  }

  if (!options.dot_out.empty()) {
    std::ofstream(options.dot_out) << graph::to_dot(parsed);
    report_written(options, options.dot_out);
  }
  if (!graph::graphviz_available()) {
    throw UserError(fmt::format("Graphviz's dot is not on PATH, so {} cannot be drawn; install graphviz, "
                                "or pass --dot FILE to write DOT text instead",
                                options.out));
  }
  graph::render_png(parsed, options.out);
  report_written(options, options.out);
}

// Adds CHECKPOINT, IMAGE and --target to an energies or path subcommand.
void add_model_arguments(CLI::App& command, PlotCommand& options, bool target_required) {
  command.add_option("checkpoint", options.checkpoint, "Checkpoint written by ember train (.safetensors)")
      ->required();
  command.add_option("image", options.input, "Image file of one word or digit string; scaled to 32 px tall")
      ->required();
  CLI::Option* target = command.add_option(
      "--target", options.target, "Text whose best alignment is drawn (symbols of the checkpoint's alphabet)");
  if (target_required) {
    target->required();
  }
}

}  // namespace

void add_plot_command(CLI::App& app) {
  CLI::App* plot = app.add_subcommand("plot", "Write PNG pictures: energies, path matrices, curves, graphs");
  plot->require_subcommand(1);

  // Each subcommand has its own options, so each keeps its own defaults.
  auto energies = std::make_shared<PlotCommand>();
  energies->out = "energies.png";
  CLI::App* energies_command = plot->add_subcommand(
      "energies", "Energy matrix of an image (symbols by windows) with the best alignment drawn on");
  add_model_arguments(*energies_command, *energies, /*target_required=*/false);
  energies_command->add_option("--out,-o", energies->out, "PNG file to write")->capture_default_str();
  add_common_options(*energies_command, energies->common);
  energies_command->callback([energies] { plot_energies(*energies); });

  auto path = std::make_shared<PlotCommand>();
  path->out = "path-matrix.png";
  path->table_out = "viterbi-table.png";
  CLI::App* path_command = plot->add_subcommand(
      "path", "Path matrix of --target (windows by target positions) with its Viterbi path, and the DP table");
  add_model_arguments(*path_command, *path, /*target_required=*/true);
  path_command->add_option("--out,-o", path->out, "PNG file for the path matrix")->capture_default_str();
  path_command->add_option("--table-out", path->table_out, "PNG file for the dynamic program's table")
      ->capture_default_str();
  add_common_options(*path_command, path->common);
  path_command->callback([path] { plot_path(*path); });

  auto metrics = std::make_shared<PlotCommand>();
  metrics->out = "curves.png";
  CLI::App* metrics_command = plot->add_subcommand("metrics", "Training loss and validation CER per epoch");
  metrics_command->add_option("metrics", metrics->input, "metrics.jsonl of an ember train run folder")
      ->required();
  metrics_command->add_option("--out,-o", metrics->out, "PNG file to write")->capture_default_str();
  add_common_options(*metrics_command, metrics->common);
  metrics_command->callback([metrics] { plot_metrics(*metrics); });

  auto graph = std::make_shared<PlotCommand>();
  graph->out = "graph.png";
  CLI::App* graph_command =
      plot->add_subcommand("graph", "Draw a graph file (AT&T/OpenFST or Ember text) with Graphviz");
  graph_command->add_option("file", graph->input, "Graph in AT&T text or Ember's text format (ember-graph 1)")
      ->required();
  graph_command->add_option("--out,-o", graph->out, "PNG file to write")->capture_default_str();
  graph_command->add_option("--dot", graph->dot_out, "Also write the DOT text to this file");
  graph_command->add_flag("--acceptor", graph->acceptor,
                          "Read 4-field AT&T lines as source destination label weight");
  add_common_options(*graph_command, graph->common);
  graph_command->callback([graph] { plot_graph(*graph); });
}

}  // namespace ember::apps
