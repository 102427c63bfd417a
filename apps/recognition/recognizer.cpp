// Building, running, decoding and checkpointing a sliding-window recognizer.
#include "apps/recognition/recognizer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "ebm/graph/builders.h"
#include "ebm/graph/functions.h"
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

// The checkpoint name of an ASG model's transitions.
constexpr const char* kTransitionsName = "asg.transitions";

// Named tensors as a module, because nn::save_checkpoint and
// nn::load_checkpoint take one: "conv.weight" becomes parameter "weight" of
// a child module "conv". The tensors are handles, so loading writes into
// the tensors added.
class TensorTree : public nn::Module {
 public:
  void add(const std::string& dotted_name, const Tensor& tensor) {
    const size_t dot = dotted_name.find('.');
    if (dot == std::string::npos) {
      register_parameter(dotted_name, tensor);
      return;
    }
    child(dotted_name.substr(0, dot)).add(dotted_name.substr(dot + 1), tensor);
  }

  Tensor forward(const Tensor&) override {
    throw std::logic_error("TensorTree: a checkpoint view has no forward pass");
  }

 private:
  TensorTree& child(const std::string& name) {
    for (const auto& [child_name, module] : subtrees_) {
      if (child_name == name) {
        return *module;
      }
    }
    subtrees_.emplace_back(name, register_module(name, std::make_shared<TensorTree>()));
    return *subtrees_.back().second;
  }

  std::vector<std::pair<std::string, std::shared_ptr<TensorTree>>> subtrees_;
};

// The tensors a recognizer checkpoint holds: the network's parameters under
// their own names, plus the transitions of an ASG model.
std::unique_ptr<TensorTree> checkpoint_tensors(const nn::Module& network, const Tensor& transitions) {
  auto tree = std::make_unique<TensorTree>();
  for (const auto& [name, parameter] : network.named_parameters()) {
    tree->add(name, parameter);
  }
  if (transitions.defined()) {
    tree->add(kTransitionsName, transitions);
  }
  return tree;
}

// Throws if any value of tensor (named name in the checkpoint) is NaN or
// infinite: a diverged run's weights would only produce NaN energies.
void require_finite(const Tensor& tensor, const std::string& name, const std::string& path) {
  const float* values = tensor.data();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    if (!std::isfinite(values[i])) {
      throw std::runtime_error(fmt::format(
          "checkpoint '{}' has a non-finite value in '{}' (element {}), so it comes from a "
          "diverged run; use another checkpoint",
          path, name, i));
    }
  }
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
  const nn::SafetensorsContents contents = nn::read_safetensors(path);
  const std::map<std::string, std::string>& metadata = contents.metadata;
  RecognizerSpec spec;
  spec.model = metadata_value(metadata, "model", path);
  spec.symbols = metadata_value(metadata, "symbols", path);
  spec.separator = std::stoll(metadata_value(metadata, "separator", path));
  spec.topology = alignment::parse_topology(metadata_value(metadata, "topology", path));

  // A checkpoint with transitions is an ASG model. load_checkpoint checks
  // their shape against [C, C] like any parameter's.
  Recognizer recognizer(spec, /*seed=*/0);
  for (const nn::NamedTensor& tensor : contents.tensors) {
    if (tensor.first == kTransitionsName) {
      const auto symbols = static_cast<int64_t>(spec.symbols.size());
      recognizer.transitions_ = zeros({symbols, symbols});
    }
  }
  nn::load_checkpoint(path, *checkpoint_tensors(*recognizer.model_, recognizer.transitions_));

  for (const auto& [name, parameter] : recognizer.model_->named_parameters()) {
    require_finite(parameter, name, path);
  }
  if (recognizer.transitions_.defined()) {
    require_finite(recognizer.transitions_, kTransitionsName, path);
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
  nn::save_checkpoint(path, *checkpoint_tensors(*model_, transitions_), optimizer, all);
}

void Recognizer::load_optimizer_state(const std::string& path, nn::Optimizer& optimizer) {
  nn::load_checkpoint(path, *checkpoint_tensors(*model_, transitions_), &optimizer);
}

void Recognizer::set_transitions(const Tensor& transitions) {
  const auto symbols = static_cast<int64_t>(spec_.symbols.size());
  if (transitions.defined() && transitions.shape() != Shape{symbols, symbols}) {
    throw std::invalid_argument(fmt::format(
        "Recognizer::set_transitions: transitions have shape {}; expected [C, C] with C = {} "
        "symbols",
        shape_to_string(transitions.shape()), symbols));
  }
  transitions_ = transitions;
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
  if (transitions_.defined() && method == DecodeMethod::beam) {
    throw std::invalid_argument(
        "beam decoding does not use the learned transitions of this ASG model, so its best path "
        "would be wrong; decode with viterbi (or greedy) instead");
  }
  if (transitions_.defined()) {
    decodings = asg_viterbi_decode(energy, lengths, transitions_, spec_.separator);
  } else if (method == DecodeMethod::viterbi) {
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

std::vector<alignment::Decoding> asg_viterbi_decode(const Tensor& energies,
                                                    const std::vector<int64_t>& input_lengths,
                                                    const Tensor& transitions, int64_t separator) {
  const int64_t batch = energies.size(0);
  const int64_t windows = energies.size(1);
  const int64_t symbols = energies.size(2);
  if (static_cast<int64_t>(input_lengths.size()) != batch) {
    throw std::invalid_argument(fmt::format("asg_viterbi_decode: {} input lengths for a batch of {}",
                                            input_lengths.size(), batch));
  }

  // The bigram graph scores each pair of consecutive windows. Its
  // intersection with a sample's emissions graph scores each window
  // sequence by E + transitions, so its best path is the ASG alignment.
  NoGrad no_grad;
  const graph::Graph bigrams = graph::transitions_graph(transitions);
  const Tensor rows = reshape(energies, {batch * windows, symbols});
  const alignment::Topology merge = alignment::Topology::ctc(separator);
  std::vector<alignment::Decoding> decodings(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t length = input_lengths[static_cast<size_t>(b)];
    if (length < 0 || length > windows) {
      throw std::invalid_argument(fmt::format(
          "asg_viterbi_decode: input length {} of sample {} is outside [0, L = {}]", length, b, windows));
    }
    const graph::Graph emissions = graph::emissions_graph(narrow(rows, 0, b * windows, length));
    const graph::Graph best = graph::viterbi_path(graph::intersect(emissions, bigrams));
    alignment::Decoding& decoding = decodings[static_cast<size_t>(b)];
    if (best.num_states() == 0) {
      decoding.energy = std::numeric_limits<float>::infinity();
      continue;
    }
    const float* arc_energies = best.energies().data();
    for (int64_t arc = 0; arc < best.num_arcs(); ++arc) {
      decoding.path.push_back(best.input_label(arc));
      decoding.energy += arc_energies[arc];
    }
    decoding.labels = alignment::collapse(decoding.path, merge);
  }
  return decodings;
}

}  // namespace ember::recognition
