// ember_demo: the autodiff core at work, with nothing but tensors and the tape.
//
// Fits a two-layer network y = W2 tanh(W1 x + b1) + b2 to samples of
// sin(3x) on [-1, 1] by plain gradient descent, printing the mean squared
// error as it falls. The nn layer (modules, optimizers) does the same with
// less code; this program shows what those pieces do underneath.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <fmt/format.h>

#include "autodiff/autodiff.h"

namespace {

constexpr int64_t kSamples = 64;
constexpr int64_t kHidden = 16;

int run(int steps, float learning_rate) {
  using namespace ember;
  Generator generator(7);

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

  fmt::print("ember_demo: fitting sin(3x) with a {}-unit tanh network, {} samples, "
             "{} steps of gradient descent (learning rate {})\n",
             kHidden, kSamples, steps, learning_rate);
  for (int step = 0; step <= steps; ++step) {
    Tensor prediction = matmul(tanh(matmul(x, w1) + b1), w2) + b2;
    Tensor loss = mean(pow(prediction - target, 2.0f));
    if (!std::isfinite(loss.item())) {
      fmt::print(stderr, "ember_demo: the loss became {} at step {}; lower --learning-rate\n",
                 loss.item(), step);
      return 1;
    }
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0) {
      fmt::print("step {:5d}  mse {:.6f}\n", step, loss.item());
    }
    if (step == steps) {
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
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 2000;
  float learning_rate = 0.1f;
  try {
    if (argc > 1) {
      steps = std::stoi(argv[1]);
    }
    if (argc > 2) {
      learning_rate = std::stof(argv[2]);
    }
  } catch (const std::exception&) {
    fmt::print(stderr, "usage: ember_demo [STEPS] [LEARNING_RATE], e.g. ember_demo 2000 0.1\n");
    return 2;
  }
  if (steps <= 0 || !(learning_rate > 0.0f)) {
    fmt::print(stderr, "ember_demo: STEPS must be > 0 and LEARNING_RATE > 0 (got {} and {})\n",
               steps, learning_rate);
    return 2;
  }
  try {
    return run(steps, learning_rate);
  } catch (const std::exception& error) {
    fmt::print(stderr, "ember_demo: {}\n", error.what());
    return 1;
  }
}
