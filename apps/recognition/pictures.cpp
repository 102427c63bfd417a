// Drawing energies, path matrices, DP tables and curves with the data
// layer's plot functions.
#include "apps/recognition/pictures.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/data/image_io.h"
#include "apps/data/plot.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "ebm/alignment/path.h"
#include "ebm/alignment/topology.h"
#include "ebm/alignment/viterbi.h"

namespace ember::recognition {

namespace {

Batch single_batch(const Recognizer& recognizer, const data::LabelledImage& sample,
                   const std::string& target) {
  Samples samples = {{sample.image, target}};
  const std::vector<size_t> index = {0};
  return make_batch(samples, index, recognizer.alphabet());
}

// Infinite cells (unreachable DP states) are drawn at the largest finite value.
std::vector<float> finite_copy(const float* values, size_t count) {
  float largest = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < count; ++i) {
    if (std::isfinite(values[i])) {
      largest = std::max(largest, values[i]);
    }
  }
  std::vector<float> result(values, values + count);
  for (float& v : result) {
    if (!std::isfinite(v)) {
      v = std::isfinite(largest) ? largest : 0.0f;
    }
  }
  return result;
}

std::vector<std::string> window_labels(int64_t windows) {
  std::vector<std::string> labels;
  for (int64_t i = 0; i < windows; ++i) {
    labels.push_back(std::to_string(i));
  }
  return labels;
}

}  // namespace

void plot_energies(Recognizer& recognizer, const data::LabelledImage& sample,
                   const std::string& target, const std::string& path) {
  NoGrad no_grad;
  const Batch batch = single_batch(recognizer, sample, target);
  const Tensor energies = recognizer.energies(batch.images);  // [1, L, C]
  const int64_t L = recognizer.windows(batch.widths[0]);
  const int64_t C = energies.size(2);

  // Transpose to [C, L] so symbols run down and windows across.
  std::vector<float> grid(static_cast<size_t>(C * L));
  for (int64_t i = 0; i < L; ++i) {
    for (int64_t c = 0; c < C; ++c) {
      grid[static_cast<size_t>(c * L + i)] = energies.data()[i * C + c];
    }
  }

  data::HeatmapOptions options;
  options.row_title = "symbol";
  options.col_title = "window";
  for (char symbol : recognizer.alphabet().symbols()) {
    options.row_labels.emplace_back(1, symbol);
  }
  options.col_labels = window_labels(L);
  // The target's best alignment when it has one, else each window's argmin.
  bool aligned = false;
  // Images read from a file have no label text, so the title leaves it out.
  const std::string energies_of =
      sample.text.empty() ? std::string("energies") : fmt::format("energies of '{}'", sample.text);
  if (!target.empty()) {
    const alignment::AlignmentBatch alignment_batch =
        alignment::make_alignment_batch(batch.targets, {L});
    const alignment::ViterbiResult best =
        alignment::viterbi(narrow(energies, 1, 0, L), alignment_batch, recognizer.topology());
    aligned = !best.symbols[0].empty() && best.symbols[0][0] >= 0;
    for (int64_t i = 0; aligned && i < L; ++i) {
      options.path.emplace_back(static_cast<int>(best.symbols[0][i]), static_cast<int>(i));
    }
    options.title = fmt::format("{} with the best alignment of '{}'", energies_of, target);
  }
  if (!aligned) {
    for (int64_t i = 0; i < L; ++i) {
      const float* row = energies.data() + i * C;
      options.path.emplace_back(static_cast<int>(std::min_element(row, row + C) - row), static_cast<int>(i));
    }
    options.title = fmt::format("{} with each window's lowest-energy symbol", energies_of);
  }
  data::save_png(data::plot_heatmap(grid, static_cast<int>(C), static_cast<int>(L), options), path);
}

void plot_path_matrix(Recognizer& recognizer, const data::LabelledImage& sample,
                      const std::string& target, const std::string& path,
                      const std::string& path_dp) {
  NoGrad no_grad;
  const Batch batch = single_batch(recognizer, sample, target);
  const int64_t L = recognizer.windows(batch.widths[0]);
  const Tensor energies = narrow(recognizer.energies(batch.images), 1, 0, L);
  const alignment::AlignmentBatch alignment_batch = alignment::make_alignment_batch(batch.targets, {L});
  const alignment::ViterbiResult best =
      alignment::viterbi(energies, alignment_batch, recognizer.topology(), /*keep_table=*/true);

  // The lattice's states (the separated target, or the CTC states) are the
  // path matrix's columns.
  const alignment::Lattice lattice = alignment::build_lattice(recognizer.topology(), batch.targets[0]);
  const std::vector<int32_t>& states = lattice.labels;
  const auto S = static_cast<int64_t>(states.size());
  const Tensor pm = alignment::path_matrix(
      energies, from_vector(std::vector<float>(states.begin(), states.end()), {1, S}));

  data::HeatmapOptions options;
  options.row_title = "window";
  options.col_title = "target position";
  options.row_labels = window_labels(L);
  for (int64_t s : states) {
    options.col_labels.emplace_back(1, recognizer.alphabet().symbol(s));
  }
  for (int64_t i = 0; i < L && !best.states[0].empty() && best.states[0][0] >= 0; ++i) {
    options.path.emplace_back(static_cast<int>(i), static_cast<int>(best.states[0][i]));
  }
  options.title = fmt::format("path matrix of '{}' with the Viterbi path", target);
  data::save_png(data::plot_heatmap(finite_copy(pm.data(), static_cast<size_t>(pm.numel())),
                                    static_cast<int>(L), static_cast<int>(S), options),
                 path);

  if (best.table.defined() && best.table.size(2) == S) {
    options.title = fmt::format("Viterbi table of '{}': best partial-path energy", target);
    data::save_png(data::plot_heatmap(finite_copy(best.table.data(), static_cast<size_t>(best.table.numel())),
                                      static_cast<int>(L), static_cast<int>(S), options),
                   path_dp);
  }
}

void plot_metrics(const std::string& metrics_path, const std::string& path) {
  std::ifstream in(metrics_path);
  if (!in) {
    throw std::runtime_error(fmt::format("cannot open metrics file '{}'", metrics_path));
  }
  data::Series loss{"training loss", {}, {}};
  data::Series cer{"validation CER", {}, {}};
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) {
      continue;
    }
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& error) {
      throw std::runtime_error(fmt::format("metrics file '{}' line {} is not JSON: {}", metrics_path, number, error.what()));
    }
    const double epoch = record.value("epoch", static_cast<double>(number));
    loss.x.push_back(epoch);
    loss.y.push_back(record.value("train_loss", 0.0));
    // Runs without a validation set store null; they have no CER curve.
    if (record.contains("validation_cer") && record["validation_cer"].is_number()) {
      cer.x.push_back(epoch);
      cer.y.push_back(record["validation_cer"].get<double>());
    }
  }
  if (loss.y.empty()) {
    throw std::runtime_error(fmt::format("metrics file '{}' has no records", metrics_path));
  }
  data::LinePlotOptions options;
  options.title = "training";
  options.x_label = "epoch";
  options.y_label = "value (log scale)";
  options.log_y = true;
  std::vector<data::Series> series = {loss};
  if (!cer.y.empty()) {
    series.push_back(cer);
  }
  data::save_png(data::plot_lines(series, options), path);
}

}  // namespace ember::recognition
