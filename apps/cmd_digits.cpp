// ember digits: trains a LeNet-5-style network on real handwritten digits.
//
// Reads the 10,000 MNIST digits that scripts/fetch-mnist.sh converts to IDX
// files (or any IDX image and label files) and splits them into a seeded,
// stratified 8,000 train / 2,000 test split. It trains with AdamW, a cosine
// learning-rate schedule and randomly warped and shifted training digits,
// and reports the test error after every epoch. After every epoch it writes
// a loss-curve PNG and a .safetensors checkpoint of the model with its
// optimizer state. Ctrl-C (SIGINT) or SIGTERM stops it at the next batch
// with an error that names the epoch whose files it kept.
//
// The network outputs one energy per digit (lower = better), so the loss is
// the cross-entropy of the negated energies and the prediction is the argmin.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/data/augment.h"
#include "apps/data/idx.h"
#include "apps/data/image_io.h"
#include "apps/data/interrupt.h"
#include "apps/data/plot.h"
#include "apps/data/progress.h"
#include "apps/data/random.h"
#include "autodiff/autodiff.h"
#include "nn/nn.h"

namespace {

using namespace ember;

constexpr int64_t kClasses = 10;
constexpr int64_t kSide = 28;  // MNIST images are 28 x 28

struct DigitsOptions {
  std::string images = "data/mnist/digits-images.idx3-ubyte";
  std::string labels = "data/mnist/digits-labels.idx1-ubyte";
  std::string output = "runs/digits";
  bool overwrite = false;
  int64_t test_count = 2000;
  int epochs = 20;
  int64_t batch_size = 32;
  float learning_rate = 2e-3f;
  float weight_decay = 1e-4f;
  bool augment = true;
  // Wider than LeNet-5's 6 and 16 channels: on 8,000 training digits the
  // original widths left the test error near 2% on some seeds.
  nn::LeNetWidths widths = {.conv1 = 16, .conv2 = 32};
  apps::CommonOptions common;
};

// The digits with their split, and the training pixels' mean and standard
// deviation, which normalize every batch so the first layer gets inputs
// centered on 0.
struct DigitData {
  std::vector<data::GrayImage> images;  // 28 x 28, ink = 1 on 0
  std::vector<int64_t> labels;
  std::vector<size_t> train;
  std::vector<size_t> test;
  float mean = 0.0f;
  float std = 1.0f;
};

DigitData load_digits(const DigitsOptions& options) {
  for (const std::string& file : {options.images, options.labels}) {
    if (!std::filesystem::exists(file)) {
      throw apps::UserError(fmt::format(
          "{} not found; run scripts/fetch-mnist.sh first, or pass --images and --labels", file));
    }
  }
  data::DigitSet set = data::load_digit_set(options.images, options.labels);
  if (set.images.empty() || set.images[0].height != kSide || set.images[0].width != kSide) {
    throw apps::UserError(fmt::format("{}: expected 28 x 28 digit images", options.images));
  }
  const int64_t count = static_cast<int64_t>(set.images.size());
  if (options.test_count <= 0 || options.test_count >= count) {
    throw apps::UserError(fmt::format("--test-count {} must be between 1 and {} (the digits)",
                                      options.test_count, count - 1));
  }

  DigitData digits;
  const data::Split split = data::stratified_split(
      set.labels, static_cast<size_t>(options.test_count), options.common.seed);
  digits.train = split.train;
  digits.test = split.test;
  digits.images = std::move(set.images);
  digits.labels.assign(set.labels.begin(), set.labels.end());

  double total = 0.0;
  double squares = 0.0;
  for (size_t index : digits.train) {
    for (float v : digits.images[index].pixels) {
      total += v;
      squares += static_cast<double>(v) * v;
    }
  }
  const double n = static_cast<double>(digits.train.size() * kSide * kSide);
  const double mean = total / n;
  digits.mean = static_cast<float>(mean);
  digits.std = static_cast<float>(std::sqrt(std::max(squares / n - mean * mean, 1e-12)));
  return digits;
}

// Random changes to a training digit that keep its label: a small affine
// warp (rotation, scale, slant) and then a whole-pixel shift.
struct Augmentation {
  bool enabled = false;
  data::AffineRange affine = {
      .max_slant = 0.2, .min_scale = 0.9, .max_scale = 1.1, .max_rotation = 0.15};
  int max_shift = 2;
};

// Moves an image by (dy, dx) whole pixels; background (0) fills in.
data::GrayImage shift_image(const data::GrayImage& image, int dy, int dx) {
  data::GrayImage shifted(image.height, image.width);
  for (int row = 0; row < image.height; ++row) {
    const int source_row = row - dy;
    for (int col = 0; col < image.width; ++col) {
      const int source_col = col - dx;
      const bool inside = source_row >= 0 && source_row < image.height && source_col >= 0 &&
                          source_col < image.width;
      if (inside) {
        shifted.at(row, col) = image.at(source_row, source_col);
      }
    }
  }
  return shifted;
}

// A normalized batch [B, 1, 28, 28] of the given digits, augmented when
// augmentation is enabled.
Tensor make_batch(const DigitData& digits, const std::vector<size_t>& indices,
                  const Augmentation& augmentation, data::Rng& rng) {
  const int64_t batch = static_cast<int64_t>(indices.size());
  Tensor x = zeros({batch, 1, kSide, kSide});
  float* xs = x.mutable_data();
  for (int64_t b = 0; b < batch; ++b) {
    data::GrayImage image = digits.images[indices[static_cast<size_t>(b)]];
    if (augmentation.enabled) {
      image = data::affine_warp(image, data::random_affine(augmentation.affine, rng));
      const int shift = augmentation.max_shift;
      const int dy = static_cast<int>(data::uniform_int(rng, -shift, shift));
      const int dx = static_cast<int>(data::uniform_int(rng, -shift, shift));
      image = shift_image(image, dy, dx);
    }
    for (int64_t k = 0; k < kSide * kSide; ++k) {
      xs[b * kSide * kSide + k] = (image.pixels[static_cast<size_t>(k)] - digits.mean) / digits.std;
    }
  }
  return x;
}

std::vector<int64_t> batch_labels(const DigitData& digits, const std::vector<size_t>& indices) {
  std::vector<int64_t> labels;
  for (size_t index : indices) {
    labels.push_back(digits.labels[index]);
  }
  return labels;
}

// Counts predictions (argmin of the energies [B, 10]) that differ from labels.
int64_t count_errors(const Tensor& energies, const std::vector<int64_t>& labels) {
  const std::vector<float> predicted = argmin(energies, /*dim=*/1).to_vector();
  int64_t errors = 0;
  for (size_t b = 0; b < labels.size(); ++b) {
    errors += static_cast<int64_t>(predicted[b]) != labels[b] ? 1 : 0;
  }
  return errors;
}

struct Evaluation {
  double loss = 0.0;
  double error = 0.0;  // fraction of test digits misclassified
};

Evaluation evaluate(nn::Module& model, const DigitData& digits) {
  NoGrad no_grad;
  model.eval();
  constexpr size_t kEvalBatch = 500;
  data::Rng unused(0);
  double loss_total = 0.0;
  int64_t errors = 0;
  for (size_t start = 0; start < digits.test.size(); start += kEvalBatch) {
    const size_t end = std::min(start + kEvalBatch, digits.test.size());
    const std::vector<size_t> indices(digits.test.begin() + static_cast<int64_t>(start),
                                      digits.test.begin() + static_cast<int64_t>(end));
    const std::vector<int64_t> labels = batch_labels(digits, indices);
    const Tensor energies = model.forward(make_batch(digits, indices, Augmentation{}, unused));
    loss_total += nn::cross_entropy_from_energies(energies, labels).item() *
                  static_cast<double>(indices.size());
    errors += count_errors(energies, labels);
  }
  model.train();
  const double n = static_cast<double>(digits.test.size());
  return {loss_total / n, static_cast<double>(errors) / n};
}


// Loss curves collected during training, for the PNG.
struct Curves {
  // The train curve plots the mean loss of each block of kBlock steps.
  static constexpr int64_t kBlock = 25;
  std::vector<double> train_x;  // in epochs
  std::vector<double> train_loss;
  std::vector<double> test_loss;  // one per epoch
  double block_sum = 0.0;
};

void write_loss_curve(const Curves& curves, const std::string& file) {
  std::vector<double> epochs(curves.test_loss.size());
  std::iota(epochs.begin(), epochs.end(), 1.0);
  const std::vector<data::Series> series = {
      {.name = "train loss (mean of 25 steps)", .y = curves.train_loss, .x = curves.train_x},
      {.name = "test loss", .y = curves.test_loss, .x = epochs}};
  const data::RgbImage plot = data::plot_lines(
      series, {.title = "LeNet-5-style net on MNIST digits", .x_label = "epoch",
               .y_label = "cross-entropy", .log_y = true});
  data::save_png(plot, file);
}

// The model, its optimizer and everything a training run advances.
struct Training {
  Training(const DigitsOptions& options, const DigitData& digits)
      : options(options),
        digits(digits),
        generator(options.common.seed),
        model(nn::make_lenet5(generator, kClasses, options.widths)),
        optimizer(model->named_parameters(),
                  {.learning_rate = options.learning_rate, .weight_decay = options.weight_decay}),
        schedule(options.learning_rate, steps_per_epoch() * options.epochs),
        augmentation{.enabled = options.augment},
        augmentation_rng(options.common.seed),
        order(digits.train) {}

  int64_t train_count() const { return static_cast<int64_t>(digits.train.size()); }
  int64_t steps_per_epoch() const {
    return (train_count() + options.batch_size - 1) / options.batch_size;
  }

  const DigitsOptions& options;
  const DigitData& digits;
  Generator generator;  // initialization and batch order
  std::shared_ptr<nn::Module> model;
  nn::AdamW optimizer;
  nn::Cosine schedule;
  Augmentation augmentation;
  // Augmentation draws from its own engine, so turning it off leaves the
  // initialization and the batch order unchanged.
  data::Rng augmentation_rng;
  std::vector<size_t> order;
  int64_t step = 0;
  Curves curves;
};

// One optimizer step on the given training digits; returns the batch's mean
// loss and adds its misclassified digits to errors.
double train_step(Training& training, const std::vector<size_t>& indices, int epoch,
                  int64_t& errors) {
  const std::vector<int64_t> labels = batch_labels(training.digits, indices);
  training.optimizer.set_learning_rate(training.schedule(training.step));
  training.optimizer.zero_grad();

  const Tensor x =
      make_batch(training.digits, indices, training.augmentation, training.augmentation_rng);
  const Tensor energies = training.model->forward(x);
  Tensor loss = nn::cross_entropy_from_energies(energies, labels);
  const float value = loss.item();
  if (!std::isfinite(value)) {
    throw apps::UserError(fmt::format(
        "the loss became {} at epoch {}, step {}; lower --learning-rate", value, epoch,
        training.step));
  }

  loss.backward();
  training.optimizer.step();
  ++training.step;
  errors += count_errors(energies, labels);
  return value;
}

// The error that ends a run stopped in `epoch` after `done` of its digits:
// the files of the last finished epoch stay in the output folder.
std::string interruption_message(const DigitsOptions& options, int epoch, int64_t done) {
  if (epoch == 1) {
    return fmt::format(
        "interrupted in epoch 1 after {} digits; no epoch finished, so this run wrote no checkpoint",
        done);
  }
  return fmt::format(
      "interrupted in epoch {} after {} digits; the loss curve and checkpoint of epoch {} are kept in {}",
      epoch, done, epoch - 1, options.output);
}

void train_epoch(Training& training, int epoch, data::ProgressReporter& progress,
                 const data::InterruptGuard& interrupt) {
  // Fisher-Yates shuffle with the seeded generator.
  std::vector<size_t>& order = training.order;
  for (size_t i = order.size() - 1; i > 0; --i) {
    const int64_t j = training.generator.randint(static_cast<int64_t>(i) + 1);
    std::swap(order[i], order[static_cast<size_t>(j)]);
  }

  const int64_t count = training.train_count();
  const int64_t batch_size = training.options.batch_size;
  progress.start_epoch(epoch, training.options.epochs, count);
  double loss_sum = 0.0;
  int64_t errors = 0;
  for (int64_t start = 0; start < count; start += batch_size) {
    if (interrupt.interrupted()) {
      throw std::runtime_error(interruption_message(training.options, epoch, start));
    }
    const int64_t end = std::min(start + batch_size, count);
    const std::vector<size_t> indices(order.begin() + start, order.begin() + end);
    const double loss = train_step(training, indices, epoch, errors);

    loss_sum += loss * static_cast<double>(end - start);
    progress.update(end, loss_sum / static_cast<double>(end),
                    static_cast<double>(errors) / static_cast<double>(end));
    Curves& curves = training.curves;
    curves.block_sum += loss;
    if (training.step % Curves::kBlock == 0) {
      curves.train_x.push_back(epoch - 1 + static_cast<double>(end) / static_cast<double>(count));
      curves.train_loss.push_back(curves.block_sum / Curves::kBlock);
      curves.block_sum = 0.0;
    }
  }
  progress.finish_epoch(loss_sum / static_cast<double>(count),
                        static_cast<double>(errors) / static_cast<double>(count));
}

// The files a run writes into its --output folder.
struct OutputFiles {
  std::string curve;
  std::string checkpoint;
};

OutputFiles output_files(const DigitsOptions& options) {
  const std::filesystem::path folder(options.output);
  return {(folder / "loss.png").string(), (folder / "lenet5.safetensors").string()};
}

// Checks that the --output folder can be written, before any training. Like a train run folder, a folder with an earlier run's files is
// rejected, unless --overwrite allows replacing them.
void check_output_files(const DigitsOptions& options) {
  const OutputFiles files = output_files(options);
  for (const std::string& file : {files.checkpoint, files.curve}) {
    if (std::filesystem::exists(file) && !options.overwrite) {
      throw apps::UserError(fmt::format(
          "--output folder '{}' already contains a run ({} exists); pick another --output, delete "
          "that folder, or pass --overwrite to replace its files",
          options.output, std::filesystem::path(file).filename().string()));
    }
  }
  apps::check_output_folder(options.output, "--output");
}

void print_configuration(const DigitsOptions& options, const Training& training,
                         data::ProgressReporter& progress) {
  progress.message(fmt::format(
      "ember digits: LeNet-5-style net with {} and {} channels ({} parameters); {} train / {} "
      "test digits (stratified, seed {}); {} epochs of batch {}; AdamW, lr {} with cosine "
      "decay, weight decay {}; augmentation {}",
      options.widths.conv1, options.widths.conv2, training.model->parameter_count(),
      training.digits.train.size(), training.digits.test.size(), options.common.seed,
      options.epochs, options.batch_size, options.learning_rate, options.weight_decay,
      options.augment ? "on" : "off"));
}

// Writes the loss curve and the checkpoint of the model and its optimizer.
// Each write replaces its file atomically, so an interrupted run keeps the
// files of its last finished epoch.
void write_outputs(const Training& training, const OutputFiles& files) {
  write_loss_curve(training.curves, files.curve);
  nn::save_checkpoint(files.checkpoint, *training.model, &training.optimizer);
}

void run(const DigitsOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  check_output_files(options);
  const DigitData digits = load_digits(options);
  Training training(options, digits);
  data::ProgressReporter progress(std::cout, {.quiet = options.common.quiet,
                                              .terminal = data::is_terminal(1)});
  const data::InterruptGuard interrupt;
  print_configuration(options, training, progress);
  std::filesystem::create_directories(options.output);

  const OutputFiles files = output_files(options);
  Evaluation last;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    train_epoch(training, epoch, progress, interrupt);
    last = evaluate(*training.model, digits);
    training.curves.test_loss.push_back(last.loss);
    progress.message(fmt::format("  test: loss {:.4f}, error {:.2f}% ({} of {} digits)",
                                 last.loss, 100.0 * last.error,
                                 std::llround(last.error * static_cast<double>(digits.test.size())),
                                 digits.test.size()));
    write_outputs(training, files);
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("test error {:.2f}% on {} digits after {} epochs in {:.1f} s; loss curve {}, "
             "checkpoint {}\n",
             100.0 * last.error, digits.test.size(), options.epochs, seconds, files.curve,
             files.checkpoint);
}

// Adds the options that name the digit files, the split and the output folder.
void add_files_options(CLI::App& command, DigitsOptions& options) {
  command.add_option("--images", options.images, "IDX image file (idx3-ubyte, 28 x 28)")
      ->capture_default_str();
  command.add_option("--labels", options.labels, "IDX label file (idx1-ubyte, digits 0-9)")
      ->capture_default_str();
  command.add_option("--output", options.output,
                     "Folder for loss.png and the lenet5.safetensors checkpoint")
      ->capture_default_str();
  command.add_flag("--overwrite", options.overwrite,
                   "Replace loss.png and lenet5.safetensors of an earlier run in --output");
  command.add_option("--test-count", options.test_count,
                     "Digits held out for testing, stratified by label")
      ->capture_default_str();
}

void add_optimizer_options(CLI::App& command, DigitsOptions& options) {
  command.add_option("--epochs", options.epochs, "Passes over the training digits")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  command.add_option("--batch-size", options.batch_size, "Digits per optimizer step")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command.add_option("--learning-rate", options.learning_rate,
                     "Initial AdamW learning rate, decayed to 0 by a cosine schedule")
      ->check(CLI::Range(1e-6f, 1.0f))
      ->capture_default_str();
  command.add_option("--weight-decay", options.weight_decay, "AdamW decoupled weight decay")
      ->check(CLI::Range(0.0f, 1.0f))
      ->capture_default_str();
  command.add_flag("!--no-augment", options.augment,
                   "Train on the digits as they are, without random warps and shifts");
}

void add_network_options(CLI::App& command, DigitsOptions& options) {
  command.add_option("--conv1", options.widths.conv1, "Channels of the first convolution")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  command.add_option("--conv2", options.widths.conv2, "Channels of the second convolution")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  command.add_option("--fc1", options.widths.fc1, "Units of the first fully connected layer")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command.add_option("--fc2", options.widths.fc2, "Units of the second fully connected layer")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
}

}  // namespace

namespace ember::apps {

void add_digits_command(CLI::App& app) {
  auto options = std::make_shared<DigitsOptions>();
  CLI::App* command = app.add_subcommand(
      "digits", "Train a LeNet-5-style network on the MNIST digits and report its test error");
  add_files_options(*command, *options);
  add_optimizer_options(*command, *options);
  add_network_options(*command, *options);
  add_common_options(*command, options->common);
  command->callback([options] {
    apply_common_options(options->common);
    run(*options);
  });
}

}  // namespace ember::apps
