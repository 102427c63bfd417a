// ember demo: the autodiff core at work, with nothing but tensors and the tape.
//
// Fits a two-layer network y = W2 tanh(W1 x + b1) + b2 to samples of
// sin(3x) on [-1, 1] by plain gradient descent, printing the mean squared
// error as it falls. The nn layer (modules, optimizers) does the same with
// less code; this program shows what those pieces do underneath.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "apps/commands.h"
#include "autodiff/autodiff.h"

namespace {

constexpr int64_t kSamples = 64;
constexpr int64_t kHidden = 16;

void run(int steps, float learning_rate, const ember::apps::CommonOptions& common) {
  using namespace ember;
  Generator generator(common.seed);

  // Data: x [N, 1] evenly spaced on [-1, 1], target sin(3x).
  Tensor x = reshape(arange(-1.0f, 1.0f, 2.0f / kSamples), {kSamples, 1});
  Tensor target = zeros({kSamples, 1});
  for (int64_t i = 0; i < kSamples; ++i) {
    target.set({i, 0}, std::sin(3.0f * x.at({i, 0})));
  }

  // Parameters, scaled like Xavier initialisation.
  Tensor w1 = normal({1, kHidden}, 0.0f, 1.0f, generator).set_requires_grad(true);
  Tensor b1 = zeros({kHidden}).set_requires_grad(true);
  Tensor w2 = normal({kHidden, 1}, 0.0f, 0.35f, generator).set_requires_grad(true);
  Tensor b2 = zeros({1}).set_requires_grad(true);
  std::vector<Tensor*> parameters = {&w1, &b1, &w2, &b2};

  if (!common.quiet) {
    fmt::print("ember demo: fitting sin(3x) with a {}-unit tanh network, {} samples, "
               "{} steps of gradient descent (learning rate {})\n",
               kHidden, kSamples, steps, learning_rate);
  }
  for (int step = 0; step <= steps; ++step) {
    Tensor prediction = matmul(tanh(matmul(x, w1) + b1), w2) + b2;
    Tensor loss = mean(pow(prediction - target, 2.0f));
    if (!std::isfinite(loss.item())) {
      throw apps::UserError(fmt::format(
          "the loss became {} at step {}; lower --learning-rate", loss.item(), step));
    }
    const bool last = step == steps;
    if ((step % (steps / 10 > 0 ? steps / 10 : 1) == 0 && !common.quiet) || last) {
      fmt::print("step {:5d}  mse {:.6f}\n", step, loss.item());
    }
    if (last) {
      break;
    }

    for (Tensor* parameter : parameters) {
      parameter->zero_grad();
    }
    loss.backward();

    // Gradient descent: p <- p - learning_rate * dL/dp.
    for (Tensor* parameter : parameters) {
      float* values = parameter->mutable_data();
      const float* grad = parameter->grad().data();
      for (int64_t i = 0; i < parameter->numel(); ++i) {
        values[i] -= learning_rate * grad[i];
      }
    }
  }
}

}  // namespace

namespace ember::apps {

void add_demo_command(CLI::App& app) {
  struct Options {
    int steps = 2000;
    float learning_rate = 0.1f;
    CommonOptions common;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "demo", "Fit sin(3x) with a tiny tanh network using only tensors and the tape");
  command->add_option("--steps", options->steps, "Gradient-descent steps")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  command->add_option("--learning-rate", options->learning_rate, "Step size of gradient descent")
      ->check(CLI::Range(1e-6f, 10.0f))
      ->capture_default_str();
  add_common_options(*command, options->common);
  command->callback([options] {
    apply_common_options(options->common);
    run(options->steps, options->learning_rate, options->common);
  });
}

}  // namespace ember::apps
