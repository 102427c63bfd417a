// ember digits: trains a LeNet-5-style network on real handwritten digits.
//
// Reads the 10,000 MNIST digits that scripts/fetch-mnist.sh converts to IDX
// files (or any IDX image and label files), splits them into a seeded,
// stratified 8,000 train / 2,000 test split, trains with Adam and a cosine
// learning-rate schedule, and reports the test error after every epoch. It
// writes a loss-curve PNG and a .safetensors checkpoint of the model with
// its optimizer state.
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
#include <string>
#include <vector>

#include <fmt/format.h>

#include "apps/commands.h"
#include "apps/data/idx.h"
#include "apps/data/image_io.h"
#include "apps/data/plot.h"
#include "apps/data/progress.h"
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
  int64_t test_count = 2000;
  int epochs = 20;
  int64_t batch_size = 32;
  float learning_rate = 2e-3f;
  float weight_decay = 1e-4f;
  int shift = 2;
  apps::CommonOptions common;
};

// LeNet-5 with ReLU and max pooling:
//   [B, 1, 28, 28] conv 5x5 pad 2 -> [B, 6, 28, 28] -> pool -> [B, 6, 14, 14]
//   conv 5x5 -> [B, 16, 10, 10] -> pool -> [B, 16, 5, 5] -> flatten [B, 400]
//   400 -> 120 -> 84 -> 10 energies [B, 10].
std::shared_ptr<nn::Sequential> make_lenet5(Generator& generator) {
  auto model = std::make_shared<nn::Sequential>();
  const Pool2dOptions halve = {.kernel = {2, 2}};
  model->add("conv1", std::make_shared<nn::Conv2d>(1, 6, Size2{5, 5}, generator,
                                                   Conv2dOptions{.padding = {2, 2}}));
  model->add("relu1", std::make_shared<nn::ReLU>());
  model->add("pool1", std::make_shared<nn::MaxPool2d>(halve));
  model->add("conv2", std::make_shared<nn::Conv2d>(6, 16, Size2{5, 5}, generator));
  model->add("relu2", std::make_shared<nn::ReLU>());
  model->add("pool2", std::make_shared<nn::MaxPool2d>(halve));
  model->add("flatten", std::make_shared<nn::Flatten>());
  model->add("fc1", std::make_shared<nn::Linear>(16 * 5 * 5, 120, generator));
  model->add("relu3", std::make_shared<nn::ReLU>());
  model->add("fc2", std::make_shared<nn::Linear>(120, 84, generator));
  model->add("relu4", std::make_shared<nn::ReLU>());
  model->add("fc3", std::make_shared<nn::Linear>(84, kClasses, generator));
  return model;
}

// The digits, normalized with the training pixels' mean and standard
// deviation so the first layer sees inputs centered on 0.
struct DigitData {
  std::vector<float> pixels;  // [N, 28 * 28]
  std::vector<int64_t> labels;
  std::vector<size_t> train;
  std::vector<size_t> test;
  float background = 0.0f;  // the normalized value of a blank pixel
};

DigitData load_digits(const DigitsOptions& options) {
  for (const std::string& file : {options.images, options.labels}) {
    if (!std::filesystem::exists(file)) {
      throw apps::UserError(fmt::format(
          "{} not found; run scripts/fetch-mnist.sh first, or pass --images and --labels", file));
    }
  }
  const data::DigitSet set = data::load_digit_set(options.images, options.labels);
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
  for (size_t i = 0; i < set.images.size(); ++i) {
    digits.pixels.insert(digits.pixels.end(), set.images[i].pixels.begin(),
                         set.images[i].pixels.end());
    digits.labels.push_back(set.labels[i]);
  }

  double total = 0.0;
  double squares = 0.0;
  for (size_t index : digits.train) {
    for (int64_t k = 0; k < kSide * kSide; ++k) {
      const double v = digits.pixels[index * kSide * kSide + k];
      total += v;
      squares += v * v;
    }
  }
  const double n = static_cast<double>(digits.train.size() * kSide * kSide);
  const double mean = total / n;
  const double std = std::sqrt(std::max(squares / n - mean * mean, 1e-12));
  for (float& v : digits.pixels) {
    v = static_cast<float>((v - mean) / std);
  }
  digits.background = static_cast<float>(-mean / std);
  return digits;
}

// A batch [B, 1, 28, 28] of the given digits. With shift > 0 each image is
// moved by a random offset in [-shift, shift] on both axes (the background
// value fills in), a cheap augmentation that keeps the labels valid.
Tensor make_batch(const DigitData& digits, const std::vector<size_t>& indices, int shift,
                  Generator& generator) {
  const int64_t batch = static_cast<int64_t>(indices.size());
  Tensor x = full({batch, 1, kSide, kSide}, digits.background);
  float* xs = x.mutable_data();
  for (int64_t b = 0; b < batch; ++b) {
    const float* image = digits.pixels.data() + indices[static_cast<size_t>(b)] * kSide * kSide;
    const int64_t dy = shift > 0 ? generator.randint(2 * shift + 1) - shift : 0;
    const int64_t dx = shift > 0 ? generator.randint(2 * shift + 1) - shift : 0;
    for (int64_t row = 0; row < kSide; ++row) {
      const int64_t source_row = row - dy;
      if (source_row < 0 || source_row >= kSide) {
        continue;
      }
      for (int64_t col = 0; col < kSide; ++col) {
        const int64_t source_col = col - dx;
        if (source_col >= 0 && source_col < kSide) {
          xs[(b * kSide + row) * kSide + col] = image[source_row * kSide + source_col];
        }
      }
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
  Generator unused(0);
  double loss_total = 0.0;
  int64_t errors = 0;
  for (size_t start = 0; start < digits.test.size(); start += kEvalBatch) {
    const size_t end = std::min(start + kEvalBatch, digits.test.size());
    const std::vector<size_t> indices(digits.test.begin() + static_cast<int64_t>(start),
                                      digits.test.begin() + static_cast<int64_t>(end));
    const std::vector<int64_t> labels = batch_labels(digits, indices);
    const Tensor energies = model.forward(make_batch(digits, indices, 0, unused));
    loss_total += nn::cross_entropy_from_energies(energies, labels).item() *
                  static_cast<double>(indices.size());
    errors += count_errors(energies, labels);
  }
  model.train();
  const double n = static_cast<double>(digits.test.size());
  return {loss_total / n, static_cast<double>(errors) / n};
}

void write_loss_curve(const std::vector<double>& train_x, const std::vector<double>& train_loss,
                      const std::vector<double>& test_loss, const std::string& file) {
  std::vector<double> epochs(test_loss.size());
  std::iota(epochs.begin(), epochs.end(), 1.0);
  const std::vector<data::Series> series = {
      {.name = "train loss (running mean)", .y = train_loss, .x = train_x},
      {.name = "test loss", .y = test_loss, .x = epochs}};
  const data::RgbImage plot = data::plot_lines(
      series, {.title = "LeNet-5 on MNIST digits", .x_label = "epoch",
               .y_label = "cross-entropy", .log_y = true});
  data::save_png(plot, file);
}

void run(const DigitsOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  const DigitData digits = load_digits(options);
  Generator generator(options.common.seed);
  auto model = make_lenet5(generator);

  const int64_t train_count = static_cast<int64_t>(digits.train.size());
  const int64_t steps_per_epoch = (train_count + options.batch_size - 1) / options.batch_size;
  const int64_t total_steps = steps_per_epoch * options.epochs;
  nn::AdamW optimizer(model->named_parameters(), {.learning_rate = options.learning_rate,
                                                  .weight_decay = options.weight_decay});
  const nn::Cosine schedule(options.learning_rate, total_steps);

  data::ProgressReporter progress(std::cout, {.quiet = options.common.quiet,
                                              .terminal = data::is_terminal(1)});
  progress.message(fmt::format(
      "ember digits: LeNet-5 ({} parameters), {} train / {} test digits (stratified, seed {}), "
      "{} epochs of batch {}, AdamW lr {} with cosine decay, weight decay {}, shifts of up to {} "
      "px",
      model->parameter_count(), digits.train.size(), digits.test.size(), options.common.seed,
      options.epochs, options.batch_size, options.learning_rate, options.weight_decay,
      options.shift));

  std::filesystem::create_directories(options.output);
  std::vector<double> curve_x;
  std::vector<double> curve_train;
  std::vector<double> curve_test;
  Evaluation last;
  std::vector<size_t> order = digits.train;
  int64_t step = 0;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    // Fisher-Yates shuffle with the seeded generator.
    for (size_t i = order.size() - 1; i > 0; --i) {
      std::swap(order[i], order[static_cast<size_t>(generator.randint(static_cast<int64_t>(i) + 1))]);
    }
    progress.start_epoch(epoch, options.epochs, train_count);
    double loss_sum = 0.0;
    int64_t error_count = 0;
    int64_t done = 0;
    for (int64_t start = 0; start < train_count; start += options.batch_size) {
      const int64_t end = std::min(start + options.batch_size, train_count);
      const std::vector<size_t> indices(order.begin() + start, order.begin() + end);
      const std::vector<int64_t> labels = batch_labels(digits, indices);

      optimizer.set_learning_rate(schedule(step));
      optimizer.zero_grad();
      const Tensor energies = model->forward(make_batch(digits, indices, options.shift, generator));
      Tensor loss = nn::cross_entropy_from_energies(energies, labels);
      if (!std::isfinite(loss.item())) {
        throw apps::UserError(fmt::format("the loss became {} at epoch {}, step {}; lower "
                                          "--learning-rate", loss.item(), epoch, step));
      }
      loss.backward();
      optimizer.step();
      ++step;

      done += end - start;
      loss_sum += loss.item() * static_cast<double>(end - start);
      error_count += count_errors(energies, labels);
      const double running_loss = loss_sum / static_cast<double>(done);
      progress.update(done, running_loss, static_cast<double>(error_count) / done);
      if (step % 25 == 0 || end == train_count) {
        curve_x.push_back(epoch - 1 + static_cast<double>(done) / train_count);
        curve_train.push_back(running_loss);
      }
    }
    progress.finish_epoch(loss_sum / train_count, static_cast<double>(error_count) / train_count);

    last = evaluate(*model, digits);
    curve_test.push_back(last.loss);
    progress.message(fmt::format("  test: loss {:.4f}, error {:.2f}% ({} of {} digits)",
                                 last.loss, 100.0 * last.error,
                                 std::llround(last.error * digits.test.size()),
                                 digits.test.size()));
  }

  const std::string curve_file = (std::filesystem::path(options.output) / "loss.png").string();
  const std::string checkpoint_file =
      (std::filesystem::path(options.output) / "lenet5.safetensors").string();
  write_loss_curve(curve_x, curve_train, curve_test, curve_file);
  nn::save_checkpoint(checkpoint_file, *model, &optimizer);

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("test error {:.2f}% on {} digits after {} epochs in {:.1f} s; loss curve {}, "
             "checkpoint {}\n",
             100.0 * last.error, digits.test.size(), options.epochs, seconds, curve_file,
             checkpoint_file);
}

}  // namespace

namespace ember::apps {

void add_digits_command(CLI::App& app) {
  auto options = std::make_shared<DigitsOptions>();
  CLI::App* command = app.add_subcommand(
      "digits", "Train a LeNet-5-style network on the MNIST digits and report its test error");
  command->add_option("--images", options->images, "IDX image file (idx3-ubyte, 28 x 28)")
      ->capture_default_str();
  command->add_option("--labels", options->labels, "IDX label file (idx1-ubyte, digits 0-9)")
      ->capture_default_str();
  command->add_option("--output", options->output,
                      "Folder for loss.png and the lenet5.safetensors checkpoint")
      ->capture_default_str();
  command->add_option("--test-count", options->test_count,
                      "Digits held out for testing, stratified by label")
      ->capture_default_str();
  command->add_option("--epochs", options->epochs, "Passes over the training digits")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  command->add_option("--batch-size", options->batch_size, "Digits per optimizer step")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  command->add_option("--learning-rate", options->learning_rate,
                      "Initial AdamW learning rate, decayed to 0 by a cosine schedule")
      ->check(CLI::Range(1e-6f, 1.0f))
      ->capture_default_str();
  command->add_option("--weight-decay", options->weight_decay, "AdamW decoupled weight decay")
      ->check(CLI::Range(0.0f, 1.0f))
      ->capture_default_str();
  command->add_option("--shift", options->shift,
                      "Largest random shift of a training digit, in pixels (0 turns it off)")
      ->check(CLI::Range(0, 6))
      ->capture_default_str();
  add_common_options(*command, options->common);
  command->callback([options] {
    apply_common_options(options->common);
    run(*options);
  });
}

}  // namespace ember::apps
