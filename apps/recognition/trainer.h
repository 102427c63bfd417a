// The training loop for sliding-window recognizers: batches, an alignment
// loss chosen by name, Adam, validation every epoch, early stopping,
// checkpoints (best and last) and a JSON-lines metrics log.
//
// Nothing is lost when a run is killed: each checkpoint is written
// atomically after a completed epoch, and the metrics log is flushed line
// by line. A loss that becomes NaN or +inf (with zero_infinity off) stops
// the run with an error before the bad update touches any checkpoint.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "apps/recognition/dataset.h"
#include "apps/recognition/recognizer.h"

namespace ember::recognition {

// The single-character pretraining loss: cross-entropy of softmax(-E) of an
// image's one window against its one-symbol label.
inline constexpr const char* kWindowCrossEntropy = "window-ce";

// The ASG loss: learned [C, C] transitions, no blank, written with graphs.
// Decode ASG models with the ctc topology (merge repeats, drop separators).
inline constexpr const char* kAsg = "asg";

struct TrainOptions {
  // A name from alignment::alignment_losses(), kWindowCrossEntropy or kAsg.
  std::string loss = "viterbi-ce";
  int epochs = 10;
  int64_t batch_size = 32;
  float learning_rate = 1e-3f;
  // "constant", or "cosine": anneal from learning_rate down to 1% of it over
  // all epochs, which usually lowers the final error when training is long.
  std::string lr_schedule = "constant";
  float beta = 1.0f;
  float margin = 1.0f;
  bool zero_infinity = true;
  // Gradient clipping by the global norm of every trained tensor (ASG
  // transitions included); 0 turns it off.
  float clip_norm = 10.0f;
  // > 0: epoch e uses only labels of at most curriculum_start + e - 1 symbols.
  int curriculum_start = 0;
  int patience = 0;         // epochs without a better validation CER before stopping; 0 = never
  DecodeMethod validation_decoding = DecodeMethod::greedy;
  std::string run_dir;      // best.safetensors, last.safetensors, metrics.jsonl go here
  uint64_t seed = 1;
  bool quiet = false;
  bool progress_bar = false;  // redraw one bar (for a terminal) instead of writing lines
};

struct EpochSummary {
  int epoch = 0;
  double train_loss = 0.0;
  double train_seconds = 0.0;
  double samples_per_second = 0.0;
  int64_t skipped = 0;  // samples with no valid alignment this epoch
  double validation_cer = 0.0;
  double validation_word_accuracy = 0.0;
};

struct TrainResult {
  std::vector<EpochSummary> epochs;
  double best_validation_cer = 1.0;
  int best_epoch = 0;
  bool stopped_early = false;
};

// Evaluates CER and word accuracy of the recognizer on samples.
struct Evaluation {
  double cer = 0.0;
  double word_accuracy = 0.0;
  std::vector<std::string> hypotheses;
};
Evaluation evaluate(Recognizer& recognizer, const Samples& samples, DecodeMethod method,
                    int64_t batch_size = 64, const alignment::Lexicon* lexicon = nullptr);

// Throws std::invalid_argument naming the folder when run_dir already
// contains a checkpoint of another run. train() calls it first.
void check_run_folder(const std::string& run_dir);

// Trains recognizer on train, validating on validation after every epoch.
// Progress goes to log (a bar when log is a terminal, plain lines otherwise).
TrainResult train(Recognizer& recognizer, const Samples& train, const Samples& validation,
                  const TrainOptions& options, std::ostream& log);

}  // namespace ember::recognition
