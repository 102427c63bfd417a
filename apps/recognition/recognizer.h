// A sliding-window recognizer: a network that maps images [B, 1, 32, W] to
// energies [B, L, C], with the alphabet and topology that give the columns
// and the alignment their meaning, saved and loaded as one checkpoint.
//
// The checkpoint is a .safetensors file whose metadata names the model kind,
// the alphabet and the topology, so `ember decode` can rebuild the network
// from the file alone. A model trained with the ASG loss also stores its
// learned transitions [C, C] there, under "asg.transitions".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "apps/recognition/dataset.h"
#include "ebm/alignment/alphabet.h"
#include "ebm/alignment/decode.h"
#include "ebm/alignment/topology.h"
#include "nn/module.h"
#include "nn/optim.h"

namespace ember::recognition {

struct RecognizerSpec {
  std::string model = "tiny";  // "tiny" (the homework's 726-parameter net) or "cnn"
  std::string symbols = "abcdefghijklmnopqrstuvwxyz_";
  int64_t separator = 26;  // index of the separator / blank in symbols
  alignment::TopologyKind topology = alignment::TopologyKind::separator;
};

// The names accepted for RecognizerSpec::model.
const std::vector<std::string>& recognizer_models();

enum class DecodeMethod { greedy, viterbi, beam };
DecodeMethod parse_decode_method(const std::string& name);

struct Transcription {
  std::string text;
  // Energy of the decoded sequence's best alignment (lower = more confident);
  // for greedy decoding, the sum of each window's minimum energy.
  float energy = 0.0f;
};

class Recognizer {
 public:
  // A new network with seeded initial weights.
  Recognizer(const RecognizerSpec& spec, uint64_t seed);
  // Rebuilds the network a checkpoint describes and loads its weights (and
  // the optimizer state into optimizer, when given).
  static Recognizer load(const std::string& path);

  const RecognizerSpec& spec() const { return spec_; }
  const alignment::Alphabet& alphabet() const { return alphabet_; }
  alignment::Topology topology() const;
  nn::Module& model() { return *model_; }

  // Windows L the network produces for an image of the given width; throws
  // when the image is too narrow for one window.
  int64_t windows(int64_t width) const;
  std::vector<int64_t> windows(const std::vector<int64_t>& widths) const;

  // Energies [B, L, C] for a batch of images [B, 1, 32, W].
  Tensor energies(const Tensor& images);

  // The learned transitions [C, C] of a model trained with the ASG loss, or
  // an undefined tensor for other models. Checkpoints save and load them,
  // and viterbi decoding adds transitions[p, c] for every pair of
  // consecutive windows (p, c).
  const Tensor& transitions() const { return transitions_; }
  // Makes this an ASG model with the given transitions [C, C], or an
  // ordinary one with an undefined tensor. Throws std::invalid_argument for
  // another shape.
  void set_transitions(const Tensor& transitions);

  // Decodes each sample of a batch, using only its real windows. A model
  // with transitions decodes as ASG: viterbi finds the best window labels
  // under energies plus transitions, then merges repeats and drops the
  // separator. greedy ignores the transitions (per-window argmin), and beam
  // throws std::invalid_argument, because the beam search has no
  // transitions.
  std::vector<Transcription> transcribe(const Batch& batch, DecodeMethod method,
                                        const alignment::Lexicon* lexicon = nullptr,
                                        int64_t beam_width = 16);

  // Saves weights, optimizer state (if given) and extra metadata atomically.
  void save(const std::string& path, const nn::Optimizer* optimizer,
            const std::map<std::string, std::string>& metadata = {}) const;
  // Loads the optimizer state saved with these weights, for exact resume.
  void load_optimizer_state(const std::string& path, nn::Optimizer& optimizer);

 private:
  RecognizerSpec spec_;
  alignment::Alphabet alphabet_;
  std::shared_ptr<nn::Module> model_;
  Tensor transitions_;  // [C, C] for an ASG model, else undefined
};

// The ASG decoding of each sample: the window labels of the minimum of
// sum_i E[b, i, s_i] + sum_i transitions[s_(i-1), s_i] over window label
// sequences s of the sample's first input_lengths[b] windows, with repeats
// merged and the separator dropped. The energy is that minimum: 0 for a
// sample of no windows, and +inf with no labels when every sequence has
// infinite energy. E [B, L, C], transitions [C, C].
std::vector<alignment::Decoding> asg_viterbi_decode(const Tensor& energies,
                                                    const std::vector<int64_t>& input_lengths,
                                                    const Tensor& transitions, int64_t separator);

}  // namespace ember::recognition
