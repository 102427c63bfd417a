// Building, running, decoding and checkpointing a sliding-window recognizer.
#include "apps/recognition/recognizer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/tape.h"
#include "nn/checkpoint.h"
#include "nn/recognizers.h"

namespace ember::recognition {

namespace {

std::shared_ptr<nn::Module> build_model(const RecognizerSpec& spec, uint64_t seed) {
  Generator generator(seed);
  const auto symbols = static_cast<int64_t>(spec.symbols.size());
  if (spec.model == "tiny") {
    return nn::make_tiny_recognizer(generator, symbols);
  }
  if (spec.model == "cnn") {
    return nn::make_cnn_recognizer(generator, symbols);
  }
  throw std::invalid_argument(
      fmt::format("unknown model '{}'; expected one of: {}", spec.model, fmt::join(recognizer_models(), ", ")));
}

std::string metadata_value(const std::map<std::string, std::string>& metadata, const std::string& key,
                           const std::string& path) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) {
    throw std::runtime_error(fmt::format(
        "checkpoint '{}' has no '{}' metadata, so it was not written by ember train; "
        "train a recognizer with ember train first",
        path, key));
  }
  return found->second;
}

}  // namespace

const std::vector<std::string>& recognizer_models() {
  static const std::vector<std::string> names = {"tiny", "cnn"};
  return names;
}

DecodeMethod parse_decode_method(const std::string& name) {
  if (name == "greedy") {
    return DecodeMethod::greedy;
  }
  if (name == "viterbi") {
    return DecodeMethod::viterbi;
  }
  if (name == "beam") {
    return DecodeMethod::beam;
  }
  throw std::invalid_argument(
      fmt::format("unknown decoding method '{}'; expected greedy, viterbi or beam", name));
}

Recognizer::Recognizer(const RecognizerSpec& spec, uint64_t seed)
    : spec_(spec), alphabet_(spec.symbols, spec.separator), model_(build_model(spec, seed)) {}

Recognizer Recognizer::load(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error(fmt::format(
        "checkpoint '{}' is not a file; pass a .safetensors file such as RUN_DIR/best.safetensors",
        path));
  }
  const std::map<std::string, std::string> metadata = nn::read_safetensors(path).metadata;
  RecognizerSpec spec;
  spec.model = metadata_value(metadata, "model", path);
  spec.symbols = metadata_value(metadata, "symbols", path);
  spec.separator = std::stoll(metadata_value(metadata, "separator", path));
  spec.topology = alignment::parse_topology(metadata_value(metadata, "topology", path));

  Recognizer recognizer(spec, /*seed=*/0);
  nn::load_checkpoint(path, *recognizer.model_);

  // A diverged run's weights would only produce NaN energies downstream.
  for (const auto& [name, parameter] : recognizer.model_->named_parameters()) {
    const float* values = parameter.data();
    for (int64_t i = 0; i < parameter.numel(); ++i) {
      if (!std::isfinite(values[i])) {
        throw std::runtime_error(fmt::format(
            "checkpoint '{}' has a non-finite value in '{}' (element {}), so it comes from a "
            "diverged run; use another checkpoint",
            path, name, i));
      }
    }
  }
  return recognizer;
}

void Recognizer::save(const std::string& path, const nn::Optimizer* optimizer,
                      const std::map<std::string, std::string>& metadata) const {
  std::map<std::string, std::string> all = metadata;
  all["model"] = spec_.model;
  all["symbols"] = spec_.symbols;
  all["separator"] = std::to_string(spec_.separator);
  all["topology"] = alignment::topology_name(spec_.topology);
  nn::save_checkpoint(path, *model_, optimizer, all);
}

void Recognizer::load_optimizer_state(const std::string& path, nn::Optimizer& optimizer) {
  nn::load_checkpoint(path, *model_, &optimizer);
}

alignment::Topology Recognizer::topology() const {
  return {spec_.topology, spec_.separator};
}

int64_t Recognizer::windows(int64_t width) const {
  return spec_.model == "cnn" ? nn::cnn_recognizer_windows(width)
                              : nn::tiny_recognizer_windows(width);
}

std::vector<int64_t> Recognizer::windows(const std::vector<int64_t>& widths) const {
  std::vector<int64_t> result;
  result.reserve(widths.size());
  for (int64_t width : widths) {
    result.push_back(windows(width));
  }
  return result;
}

Tensor Recognizer::energies(const Tensor& images) { return model_->forward(images); }

std::vector<Transcription> Recognizer::transcribe(const Batch& batch, DecodeMethod method,
                                                  const alignment::Lexicon* lexicon,
                                                  int64_t beam_width) {
  NoGrad no_grad;
  const Tensor energy = energies(batch.images);
  const std::vector<int64_t> lengths = windows(batch.widths);
  std::vector<Transcription> result(lengths.size());

  if (method == DecodeMethod::greedy) {
    const auto labels = alignment::greedy_decode(energy, lengths, topology());
    const int64_t L = energy.size(1);
    const int64_t C = energy.size(2);
    for (size_t b = 0; b < labels.size(); ++b) {
      result[b].text = alphabet_.decode(labels[b]);
      // Greedy confidence: the summed per-window minimum energies.
      const float* rows = energy.data() + static_cast<int64_t>(b) * L * C;
      for (int64_t i = 0; i < lengths[b]; ++i) {
        result[b].energy += *std::min_element(rows + i * C, rows + (i + 1) * C);
      }
    }
    return result;
  }

  std::vector<alignment::Decoding> decodings;
  if (method == DecodeMethod::viterbi) {
    decodings = alignment::viterbi_decode(energy, lengths, topology());
  } else {
    alignment::BeamOptions options;
    options.width = beam_width;
    options.lexicon = lexicon;
    decodings = alignment::beam_decode(energy, lengths, topology(), options);
  }
  for (size_t b = 0; b < decodings.size(); ++b) {
    result[b].text = alphabet_.decode(decodings[b].labels);
    result[b].energy = decodings[b].energy;
  }
  return result;
}

}  // namespace ember::recognition
