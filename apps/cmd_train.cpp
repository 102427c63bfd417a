// ember train and ember pretrain: train a sliding-window recognizer on
// rendered words, MNIST digit strings or a labelled folder, then report its
// error on the test set and write checkpoints, metrics and pictures to a
// run folder.
//
// pretrain is train with single characters in 18 px cells and the
// window cross-entropy loss, the homework's pretraining step.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/data/image_io.h"
#include "apps/data/progress.h"
#include "apps/options.h"
#include "apps/recognition/inference.h"
#include "apps/recognition/pictures.h"
#include "apps/recognition/sources.h"
#include "apps/recognition/trainer.h"
#include "ebm/alignment/losses.h"

namespace ember::apps {

namespace {

struct TrainCommand {
  recognition::DataOptions data;
  recognition::TrainOptions train;
  std::string model = "tiny";
  std::string topology = "separator";
  std::string init;  // checkpoint to start from
  std::string decode = "viterbi";
  bool model_given = false;     // --model was on the command line
  bool topology_given = false;  // --topology was on the command line
  bool pretrain = false;
  CommonOptions common;
};

std::string default_run_dir(const std::string& command) {
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return fmt::format("runs/{}-{}", command, seconds);
}

// Rejects option combinations that cannot train, before any data is made.
void check_options(const TrainCommand& options) {
  if (options.pretrain && (options.data.source != "fonts" || options.data.cell_width != 18)) {
    throw UserError(fmt::format(
        "pretrain renders single characters in 18 px cells, one window each, so it needs "
        "--source fonts and --cell-width 18 (got --source {} and --cell-width {})",
        options.data.source, options.data.cell_width));
  }
  if (options.train.loss == recognition::kAsg && options.decode == "beam") {
    throw UserError(
        "--decode beam cannot use the transitions that --loss asg learns, so the test report "
        "would fail after training; use --decode viterbi (or greedy) with --loss asg");
  }
  recognition::check_run_folder(options.train.run_dir);
  check_output_folder(options.train.run_dir, "--run-dir");
}

// The --init checkpoint, loaded before the data so that a missing or
// contradicting checkpoint fails first; nullptr without --init.
std::unique_ptr<recognition::Recognizer> load_initial(const TrainCommand& options) {
  if (options.init.empty()) {
    return nullptr;
  }
  auto recognizer = std::make_unique<recognition::Recognizer>(recognition::load_recognizer(options.init));
  if (options.model_given && recognizer->spec().model != options.model) {
    throw UserError(fmt::format("--model {} contradicts the --init checkpoint '{}', which contains a {} model; "
                                "drop --model or pick another checkpoint",
                                options.model, options.init, recognizer->spec().model));
  }
  const alignment::TopologyKind topology = alignment::parse_topology(options.topology);
  if (options.topology_given && recognizer->spec().topology != topology) {
    throw UserError(fmt::format(
        "--topology {} contradicts the --init checkpoint '{}', which decodes with the {} topology; "
        "drop --topology or pick another checkpoint",
        options.topology, options.init, alignment::topology_name(recognizer->spec().topology)));
  }
  return recognizer;
}

// The --init recognizer when its symbols are the data's, or a new one.
std::unique_ptr<recognition::Recognizer> make_recognizer(const TrainCommand& options,
                                                         std::unique_ptr<recognition::Recognizer> initial,
                                                         const std::string& symbols) {
  if (initial) {
    if (initial->spec().symbols != symbols) {
      throw UserError(fmt::format("--init checkpoint '{}' scores symbols '{}' but this data uses '{}'; "
                                  "pick a checkpoint trained on the same source",
                                  options.init, initial->spec().symbols, symbols));
    }
    return initial;
  }
  recognition::RecognizerSpec spec;
  spec.model = options.model;
  spec.symbols = symbols;
  spec.separator = static_cast<int64_t>(symbols.size()) - 1;
  spec.topology = alignment::parse_topology(options.topology);
  return std::make_unique<recognition::Recognizer>(spec, options.common.seed);
}

void print_configuration(const TrainCommand& options, const std::string& name,
                         recognition::Recognizer& recognizer, const recognition::DataSets& sets) {
  fmt::print(stderr,
             "ember {}: model {} ({} parameters), loss {}, topology {}, {} train / {} validation / "
             "{} test images, {} epochs of batch {}, lr {}, run folder {}\n",
             name, recognizer.spec().model, recognizer.model().parameter_count(), options.train.loss,
             alignment::topology_name(recognizer.spec().topology), sets.train.size(),
             sets.validation.size(), sets.test.size(), options.train.epochs, options.train.batch_size,
             options.train.learning_rate, options.train.run_dir);
}

// Scores the best checkpoint on the test set, draws its energies for the
// first test image and the training curves, and writes result.json.
void report_test(const TrainCommand& options, const std::string& name, const recognition::DataSets& sets,
                 const recognition::TrainResult& result) {
  const std::string& dir = options.train.run_dir;
  recognition::Recognizer best = recognition::Recognizer::load(dir + "/best.safetensors");
  nlohmann::json report = {{"command", name},
                           {"model", best.spec().model},
                           {"loss", options.train.loss},
                           {"best_epoch", result.best_epoch},
                           {"best_validation_cer", sets.validation.empty()
                                                       ? nlohmann::json(nullptr)
                                                       : nlohmann::json(result.best_validation_cer)},
                           {"test_set", sets.test_name},
                           {"test_samples", sets.test.size()}};
  if (!sets.test.empty()) {
    const auto method = recognition::parse_decode_method(options.decode);
    const recognition::Evaluation test = recognition::evaluate(best, sets.test, method);
    report["test_cer"] = test.cer;
    report["test_word_accuracy"] = test.word_accuracy;
    report["decoding"] = options.decode;
    fmt::print("{}: test CER {:.2f}%, word accuracy {:.2f}% on {} ({} images, {} decoding)\n",
               name, 100.0 * test.cer, 100.0 * test.word_accuracy, sets.test_name, sets.test.size(),
               options.decode);

    recognition::plot_energies(best, sets.test[0], sets.test[0].text, dir + "/energies.png");
    if (best.windows(sets.test[0].image.width) >= 1) {
      recognition::plot_path_matrix(best, sets.test[0], sets.test[0].text, dir + "/path-matrix.png",
                                    dir + "/viterbi-table.png");
    }
  }
  recognition::plot_metrics(dir + "/metrics.jsonl", dir + "/curves.png");
  const std::string text = report.dump(2) + "\n";
  data::write_file_atomically(dir + "/result.json",
                              std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

void run_train(TrainCommand& options, const std::string& name) {
  apply_common_options(options.common);
  options.train.seed = options.common.seed;
  options.train.quiet = options.common.quiet;
  options.train.progress_bar = data::is_terminal(2);
  options.data.seed = options.common.seed;
  if (options.train.run_dir.empty()) {
    options.train.run_dir = default_run_dir(name);
  }
  check_options(options);
  std::unique_ptr<recognition::Recognizer> initial = load_initial(options);

  const recognition::DataSets sets = recognition::load_data(options.data);
  const std::unique_ptr<recognition::Recognizer> recognizer =
      make_recognizer(options, std::move(initial), sets.symbols);
  // Notes warn about the data (unsuitable fonts, skipped images), so --quiet keeps them.
  for (const std::string& note : sets.notes) {
    fmt::print(stderr, "ember {}: {}\n", name, note);
  }
  if (!options.common.quiet) {
    print_configuration(options, name, *recognizer, sets);
  }

  const recognition::TrainResult result =
      recognition::train(*recognizer, sets.train, sets.validation, options.train, std::cerr);
  report_test(options, name, sets, result);
  if (!options.common.quiet) {
    fmt::print(stderr, "ember {}: checkpoints, metrics.jsonl, result.json and PNG plots are in {}\n",
               name, options.train.run_dir);
  }
}

// The network: which model, which target topology, and where it starts.
void add_model_options(CLI::App& command, TrainCommand& options) {
  command.add_option("--model", options.model, "Network: tiny (726 parameters) or cnn (157,659)")
      ->check(CLI::IsMember({"tiny", "cnn"}))
      ->capture_default_str()
      ->each([&options](const std::string&) { options.model_given = true; });
  command.add_option("--topology", options.topology, "Target topology: separator or ctc")
      ->check(CLI::IsMember({"separator", "ctc"}))
      ->capture_default_str()
      ->each([&options](const std::string&) { options.topology_given = true; });
  command.add_option("--init", options.init, "Checkpoint to start from (e.g. a pretrained net)");
}

// How long and with which steps the optimizer runs.
void add_optimizer_options(CLI::App& command, TrainCommand& options) {
  command.add_option("--epochs", options.train.epochs, "Passes over the training set")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command.add_option("--batch-size", options.train.batch_size, "Images per step")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  command.add_option("--learning-rate,--lr", options.train.learning_rate, "Adam's step size")
      ->check(CLI::Range(1e-7, 1.0))
      ->capture_default_str();
  command.add_option("--lr-schedule", options.train.lr_schedule,
                     "constant, or cosine: anneal the step size to 1% of --lr over all epochs")
      ->check(CLI::IsMember({"constant", "cosine"}))
      ->capture_default_str();
  command.add_option("--clip-norm", options.train.clip_norm,
                     "Clip gradients to this global norm, with --loss asg the transitions' "
                     "too; 0 = off")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  command.add_option("--curriculum-start", options.train.curriculum_start,
                     "Epoch e uses labels of at most this + e - 1 symbols; 0 = off")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  command.add_option("--patience", options.train.patience,
                     "Stop after this many epochs without a better validation CER; 0 = never")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
}

// The settings of the alignment losses.
void add_loss_settings(CLI::App& command, TrainCommand& options) {
  command.add_option("--beta", options.train.beta, "Inverse temperature of free energies and softmin")
      ->check(CLI::Range(1e-3, 1e3))
      ->capture_default_str();
  command.add_option("--margin", options.train.margin, "Margin of the hinge loss")
      ->check(CLI::Range(0.0, 1e3))
      ->capture_default_str();
  command.add_option("--zero-infinity", options.train.zero_infinity,
                     "Give samples with no valid alignment zero loss instead of stopping (true/false)")
      ->capture_default_str();
}

void add_training_options(CLI::App& command, TrainCommand& options) {
  add_data_options(command, options.data);
  add_model_options(command, options);
  add_optimizer_options(command, options);
  add_loss_settings(command, options);
  command.add_option("--decode", options.decode, "Decoding for the test report: greedy, viterbi or beam")
      ->check(CLI::IsMember({"greedy", "viterbi", "beam"}))
      ->capture_default_str();
  command.add_option("--run-dir", options.train.run_dir,
                     "Folder for checkpoints, metrics and plots; default runs/<command>-<time>");
  add_common_options(command, options.common);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainCommand>();
  CLI::App* command = app.add_subcommand(
      "train", "Train a sliding-window recognizer on words, digit strings or a labelled folder");
  std::string losses = "window-ce, asg";
  for (const auto& [name, loss] : alignment::alignment_losses()) {
    losses += ", " + name;
  }
  std::vector<std::string> loss_names = {recognition::kWindowCrossEntropy, recognition::kAsg};
  for (const auto& [name, loss] : alignment::alignment_losses()) {
    loss_names.push_back(name);
  }
  command->add_option("--loss", options->train.loss, "Training loss: " + losses)
      ->check(CLI::IsMember(loss_names))
      ->capture_default_str();
  // One-letter words in 18 px cells give the tiny net one window, too few
  // for the separator topology's two states, so train starts at two letters.
  options->data.min_length = 2;
  add_training_options(*command, *options);
  command->callback([options] { run_train(*options, "train"); });
}

void add_pretrain_command(CLI::App& app) {
  auto options = std::make_shared<TrainCommand>();
  options->train.loss = recognition::kWindowCrossEntropy;
  options->data.min_length = 1;
  options->data.max_length = 1;
  options->data.cell_width = 18;
  options->train.epochs = 5;
  options->decode = "greedy";
  options->pretrain = true;
  CLI::App* command = app.add_subcommand(
      "pretrain", "Pretrain on single characters in 18 px cells with cross-entropy (one window each)");
  add_training_options(*command, *options);
  command->callback([options] { run_train(*options, "pretrain"); });
}

}  // namespace ember::apps
