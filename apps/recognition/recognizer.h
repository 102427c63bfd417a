// A sliding-window recognizer: a network that maps images [B, 1, 32, W] to
// energies [B, L, C], with the alphabet and topology that give the columns
// and the alignment their meaning, saved and loaded as one checkpoint.
//
// The checkpoint is a .safetensors file whose metadata names the model kind,
// the alphabet and the topology, so `ember decode` can rebuild the network
// from the file alone.
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

  // Decodes each sample of a batch, using only its real windows.
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
};

}  // namespace ember::recognition
