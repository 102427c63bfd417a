// The training loop; see trainer.h for what it guarantees.
#include "apps/recognition/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/data/interrupt.h"
#include "apps/data/progress.h"
#include "apps/data/random.h"
#include "apps/recognition/metrics.h"
#include "autodiff/ops.h"
#include "autodiff/tape.h"
#include "ebm/alignment/losses.h"
#include "ebm/graph/losses.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/schedule.h"

namespace ember::recognition {

namespace {

// Batches of the samples whose label has at most max_length symbols, in a
// seeded random order; the same seed and epoch give the same batches.
std::vector<std::vector<size_t>> shuffled_batches(const Samples& samples, size_t max_length,
                                                  int64_t batch_size, uint64_t seed) {
  std::vector<size_t> order;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].text.size() <= max_length) {
      order.push_back(i);
    }
  }
  data::Rng rng(seed);
  data::shuffle(std::span<size_t>(order), rng);

  std::vector<std::vector<size_t>> batches;
  const size_t count = order.size();
  for (size_t start = 0; start < count; start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(count, start + static_cast<size_t>(batch_size));
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                         order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return batches;
}

// Cross-entropy of each image's single window against its one-symbol label:
// the homework's single-character pretraining. Energies [B, 1, C].
alignment::AlignmentLossResult window_cross_entropy(const Tensor& energies, const Batch& batch) {
  std::vector<int64_t> labels;
  for (size_t b = 0; b < batch.targets.size(); ++b) {
    if (batch.targets[b].size() != 1 || energies.size(1) != 1) {
      throw std::invalid_argument(fmt::format(
          "the {} loss needs one symbol in one window per image, but sample '{}' has {} symbols "
          "and the batch has {} windows; render single characters in 18 px cells",
          kWindowCrossEntropy, batch.texts[b], batch.targets[b].size(), energies.size(1)));
    }
    labels.push_back(batch.targets[b][0]);
  }
  const Tensor flat = reshape(energies, {energies.size(0), energies.size(2)});
  return {nn::cross_entropy_from_energies(flat, labels), Tensor(), 0};
}

bool all_finite(const Tensor& t) {
  const float* values = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (!std::isfinite(values[i])) {
      return false;
    }
  }
  return true;
}

std::string checkpoint_note(const std::string& run_dir) {
  if (std::filesystem::exists(run_dir + "/best.safetensors")) {
    return fmt::format("the checkpoints of earlier epochs are kept in {}", run_dir);
  }
  return "no epoch finished, so no checkpoint was written";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void check_run_folder(const std::string& run_dir) {
  // A run folder contains one run. Training into a folder with checkpoints
  // would replace a good checkpoint with an unrelated one and mix two runs'
  // metrics. A folder whose run never finished an epoch contains none, so a
  // failed start can be retried in place.
  for (const char* name : {"/best.safetensors", "/last.safetensors"}) {
    if (std::filesystem::exists(run_dir + name)) {
      throw std::invalid_argument(fmt::format(
          "run folder '{}' already contains a run ({} exists); choose another --run-dir or delete "
          "that folder",
          run_dir, name + 1));
    }
  }
}

Evaluation evaluate(Recognizer& recognizer, const Samples& samples, DecodeMethod method,
                    int64_t batch_size, const alignment::Lexicon* lexicon) {
  ErrorCounter counter;
  Evaluation evaluation;
  recognizer.model().eval();
  for (size_t start = 0; start < samples.size(); start += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(samples.size(), start + static_cast<size_t>(batch_size));
    std::vector<size_t> indices(end - start);
    std::iota(indices.begin(), indices.end(), start);
    const Batch batch = make_batch(samples, indices, recognizer.alphabet());
    const std::vector<Transcription> transcriptions = recognizer.transcribe(batch, method, lexicon);
    for (size_t b = 0; b < transcriptions.size(); ++b) {
      counter.add(batch.texts[b], transcriptions[b].text);
      evaluation.hypotheses.push_back(transcriptions[b].text);
    }
  }
  recognizer.model().train();
  evaluation.cer = counter.character_error_rate();
  evaluation.word_accuracy = counter.word_accuracy();
  return evaluation;
}

TrainResult train(Recognizer& recognizer, const Samples& train_set, const Samples& validation,
                  const TrainOptions& options, std::ostream& log) {
  if (train_set.empty()) {
    throw std::invalid_argument("train: the training set is empty; render or load samples first");
  }
  if (options.run_dir.empty()) {
    throw std::invalid_argument("train: no run folder given for checkpoints and metrics");
  }
  check_run_folder(options.run_dir);
  std::filesystem::create_directories(options.run_dir);
  std::filesystem::remove(options.run_dir + "/metrics.jsonl");
  const std::string best_path = options.run_dir + "/best.safetensors";
  const std::string last_path = options.run_dir + "/last.safetensors";
  std::unique_ptr<MetricsLog> metrics;  // opened when the first epoch ends

  // ASG learns a [C, C] transition matrix beside the network. The
  // recognizer owns it, so its checkpoints save it and its decoding uses it.
  // A model from --init keeps the transitions it has. Another loss drops
  // them, because the retrained emissions no longer match them.
  const bool asg = options.loss == kAsg;
  std::vector<nn::NamedTensor> parameters = recognizer.model().named_parameters();
  Tensor transitions;
  if (asg) {
    if (!recognizer.transitions().defined()) {
      const int64_t symbols = recognizer.alphabet().size();
      recognizer.set_transitions(zeros({symbols, symbols}));
    }
    transitions = recognizer.transitions();
    transitions.set_requires_grad(true);
    parameters.emplace_back("asg.transitions", transitions);
  } else {
    recognizer.set_transitions(Tensor());
  }
  nn::AdamOptions adam;
  adam.learning_rate = options.learning_rate;
  nn::Adam optimizer(parameters, adam);
  // Clipping covers every tensor the optimizer updates, the transitions
  // included, so that one global norm bounds the whole step.
  std::vector<Tensor> clipped;
  for (const auto& [name, parameter] : parameters) {
    clipped.push_back(parameter);
  }

  alignment::AlignmentLossOptions loss_options;
  loss_options.topology = recognizer.topology();
  loss_options.beta = options.beta;
  loss_options.margin = options.margin;
  loss_options.zero_infinity = options.zero_infinity;
  if (options.loss != kWindowCrossEntropy && !asg &&
      !alignment::alignment_losses().contains(options.loss)) {
    throw std::invalid_argument(fmt::format("unknown loss '{}'; expected {}, {} or an alignment loss",
                                            options.loss, kWindowCrossEntropy, kAsg));
  }

  data::ProgressOptions progress_options;
  progress_options.quiet = options.quiet;
  progress_options.terminal = options.progress_bar;
  data::ProgressReporter progress(log, progress_options);

  // On SIGINT or SIGTERM the loop stops at the next batch and reports where
  // the checkpoints of finished epochs are.
  const data::InterruptGuard interrupt_guard;
  TrainResult result;
  int epochs_without_improvement = 0;
  // The cosine schedule spans every epoch at the full training set's size.
  const auto steps_per_epoch =
      static_cast<int64_t>((train_set.size() + static_cast<size_t>(options.batch_size) - 1) /
                           static_cast<size_t>(options.batch_size));
  const nn::Cosine cosine(options.learning_rate, options.epochs * steps_per_epoch,
                          0.01f * options.learning_rate);
  const bool anneal = options.lr_schedule == "cosine";
  int64_t step = 0;
  recognizer.model().train();
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    // Curriculum: epoch e trains on labels of at most start + e - 1 symbols.
    const size_t max_length = options.curriculum_start > 0
                                  ? static_cast<size_t>(options.curriculum_start + epoch - 1)
                                  : std::numeric_limits<size_t>::max();
    const auto batches = shuffled_batches(train_set, max_length, options.batch_size,
                                          options.seed * 1000003u + static_cast<uint64_t>(epoch));
    int64_t epoch_size = 0;
    for (const auto& indices : batches) {
      epoch_size += static_cast<int64_t>(indices.size());
    }
    if (epoch_size == 0) {
      throw std::invalid_argument(fmt::format(
          "epoch {} has no samples with labels of at most {} symbols; raise --curriculum-start",
          epoch, max_length));
    }
    progress.start_epoch(epoch, options.epochs, epoch_size);

    double loss_sum = 0.0;
    int64_t done = 0;
    int64_t skipped = 0;
    for (const std::vector<size_t>& indices : batches) {
      if (interrupt_guard.interrupted()) {
        throw std::runtime_error(fmt::format("interrupted in epoch {} after {} samples; {}", epoch,
                                             done, checkpoint_note(options.run_dir)));
      }
      const Batch batch = make_batch(train_set, indices, recognizer.alphabet());
      const alignment::AlignmentBatch targets =
          alignment::make_alignment_batch(batch.targets, recognizer.windows(batch.widths));

      const Tensor energies = recognizer.energies(batch.images);
      alignment::AlignmentLossResult loss;
      if (options.loss == kWindowCrossEntropy) {
        loss = window_cross_entropy(energies, batch);
      } else if (asg) {
        loss = graph::asg_alignment_loss(energies, targets, loss_options, transitions);
      } else {
        loss = alignment::alignment_loss(options.loss, energies, targets, loss_options);
      }
      const float value = loss.loss.item();
      if (!all_finite(energies)) {
        Tape::current().release();
        throw std::runtime_error(fmt::format(
            "the network's energies became NaN or infinite in epoch {} after {} samples, so "
            "training diverged; {}. Lower --learning-rate or keep --clip-norm on",
            epoch, done, checkpoint_note(options.run_dir)));
      }
      if (!std::isfinite(value) && loss.skipped == 0) {
        Tape::current().release();
        throw std::runtime_error(fmt::format(
            "the {} loss became {} in epoch {} after {} samples, so training diverged; {}. "
            "Lower --learning-rate or keep --clip-norm on",
            options.loss, value, epoch, done, checkpoint_note(options.run_dir)));
      }
      if (!std::isfinite(value)) {
        Tape::current().release();
        throw std::runtime_error(fmt::format(
            "the {} loss is {} in epoch {} after {} samples because {} samples in the batch have "
            "no valid alignment (their images give too few windows for their labels); pass "
            "--zero-infinity true to skip them, or use longer images (--min-width-per-symbol) or "
            "shorter labels",
            options.loss, value, epoch, done, loss.skipped));
      }

      if (anneal) {
        optimizer.set_learning_rate(cosine(step));
      }
      ++step;
      optimizer.zero_grad();
      loss.loss.backward();
      if (options.clip_norm > 0.0f) {
        nn::clip_grad_norm(clipped, options.clip_norm);
      }
      optimizer.step();

      const auto size = static_cast<int64_t>(indices.size());
      loss_sum += static_cast<double>(value) * static_cast<double>(size);
      done += size;
      skipped += loss.skipped;
      // The error is measured on the validation set after the epoch, not here.
      progress.update(done, loss_sum / static_cast<double>(done), std::numeric_limits<double>::quiet_NaN());
    }

    EpochSummary summary;
    summary.epoch = epoch;
    summary.train_loss = loss_sum / static_cast<double>(done);
    summary.train_seconds = seconds_since(start);
    summary.samples_per_second = static_cast<double>(done) / summary.train_seconds;
    summary.skipped = skipped;
    if (!validation.empty()) {
      const Evaluation evaluation = evaluate(recognizer, validation, options.validation_decoding);
      summary.validation_cer = evaluation.cer;
      summary.validation_word_accuracy = evaluation.word_accuracy;
    }
    progress.finish_epoch(summary.train_loss, validation.empty() ? std::numeric_limits<double>::quiet_NaN()
                                                                 : summary.validation_cer);
    if (skipped > 0) {
      progress.message(fmt::format("epoch {}: {} samples had no valid alignment and were skipped "
                                   "(too few windows for their labels)",
                                   epoch, skipped));
    }

    const std::map<std::string, std::string> checkpoint_metadata = {
        {"epoch", std::to_string(epoch)},
        {"validation_cer", fmt::format("{:.6f}", summary.validation_cer)},
        {"loss", options.loss}};
    for (const auto& [name, parameter] : parameters) {
      if (!all_finite(parameter)) {
        throw std::runtime_error(fmt::format(
            "the weights became NaN or infinite in epoch {}, so training diverged and this epoch "
            "is not saved; {}. Lower --learning-rate or keep --clip-norm on",
            epoch, checkpoint_note(options.run_dir)));
      }
    }
    recognizer.save(last_path, &optimizer, checkpoint_metadata);
    // Without a validation set the latest epoch counts as the best.
    const bool improved = validation.empty() || result.best_epoch == 0 ||
                          summary.validation_cer < result.best_validation_cer;
    if (improved) {
      result.best_validation_cer = summary.validation_cer;
      result.best_epoch = epoch;
      recognizer.save(best_path, nullptr, checkpoint_metadata);
      epochs_without_improvement = 0;
    } else {
      ++epochs_without_improvement;
    }

    if (!metrics) {
      metrics = std::make_unique<MetricsLog>(options.run_dir + "/metrics.jsonl");
    }
    nlohmann::json validation_cer = nullptr;
    nlohmann::json validation_word_accuracy = nullptr;
    if (!validation.empty()) {
      validation_cer = summary.validation_cer;
      validation_word_accuracy = summary.validation_word_accuracy;
    }
    metrics->write({{"epoch", epoch},
                   {"train_loss", summary.train_loss},
                   {"validation_cer", validation_cer},
                   {"validation_word_accuracy", validation_word_accuracy},
                   {"skipped", skipped},
                   {"seconds", summary.train_seconds},
                   {"samples_per_second", summary.samples_per_second},
                   {"learning_rate", optimizer.learning_rate()}});
    result.epochs.push_back(summary);

    if (options.patience > 0 && epochs_without_improvement >= options.patience) {
      progress.message(fmt::format("stopping early: validation CER has not improved for {} epochs",
                                   options.patience));
      result.stopped_early = true;
      break;
    }
  }
  return result;
}

}  // namespace ember::recognition
