// Tests of the two sliding-window recognizers (parameter counts, window
// counts, output shapes, gradients), LeNet-5, and a small training run.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "autodiff/autodiff.h"
#include "nn/layers.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/lenet.h"
#include "nn/recognizers.h"

using namespace ember;
using namespace ember::nn;

TEST_CASE("tiny recognizer shape and size", "[nn][recognizers]") {
  Generator generator(1);
  auto model = make_tiny_recognizer(generator);

  SECTION("726 parameters at 27 symbols") {
    // conv 4*8 + 1, fc1 9*18 + 18, fc2 18*27 + 27.
    CHECK(model->parameter_count() == 726);
  }
  SECTION("one window for 32x18, thirteen for 32x90") {
    CHECK(model->forward(zeros({2, 1, 32, 18})).shape() == Shape{2, 1, 27});
    CHECK(model->forward(zeros({1, 1, 32, 90})).shape() == Shape{1, 13, 27});
    CHECK(tiny_recognizer_windows(18) == 1);
    CHECK(tiny_recognizer_windows(90) == 13);
  }
  SECTION("configurable symbol count") {
    Generator other(2);
    auto digits = make_tiny_recognizer(other, 11);
    CHECK(digits->forward(zeros({1, 1, 32, 18})).shape() == Shape{1, 1, 11});
  }
  SECTION("wrong height or too narrow is rejected") {
    CHECK_THROWS_WITH(model->forward(zeros({1, 1, 28, 18})), Catch::Contains("[B, 1, 32, W]"));
    CHECK_THROWS_WITH(model->forward(zeros({1, 1, 32, 12})), Catch::Contains("W >= 13"));
  }
}

TEST_CASE("CNN recognizer shape and size", "[nn][recognizers]") {
  Generator generator(3);
  auto model = make_cnn_recognizer(generator);

  SECTION("157,659 parameters at 27 symbols") {
    CHECK(model->parameter_count() == 157'659);
  }
  SECTION("W / 6 - 2 windows") {
    CHECK(model->forward(zeros({1, 1, 32, 18})).shape() == Shape{1, 1, 27});
    CHECK(model->forward(zeros({2, 1, 32, 90})).shape() == Shape{2, 13, 27});
    CHECK(model->forward(zeros({1, 1, 32, 36})).shape() == Shape{1, 4, 27});
    CHECK(cnn_recognizer_windows(18) == 1);
    CHECK(cnn_recognizer_windows(90) == 13);
    CHECK(cnn_recognizer_windows(95) == 13);
  }
  SECTION("too narrow is rejected") {
    CHECK_THROWS_WITH(model->forward(zeros({1, 1, 32, 17})), Catch::Contains("W >= 18"));
    CHECK_THROWS(cnn_recognizer_windows(17));
  }
}

TEST_CASE("tiny recognizer gradient", "[nn][recognizers]") {
  Generator generator(4);
  auto model = make_tiny_recognizer(generator, 5);
  const Tensor x = uniform({2, 1, 32, 24}, 0.0f, 1.0f, generator);
  std::vector<Tensor> inputs = {x};
  for (const Tensor& parameter : model->parameters()) {
    inputs.push_back(parameter);
  }
  auto f = [&model](const std::vector<Tensor>& in) { return model->forward(in[0]); };
  const GradCheckResult result = gradcheck(f, inputs);
  INFO(result.report);
  REQUIRE(result.ok);
}

TEST_CASE("small conv net training reaches a low loss", "[nn][training]") {
  // Two classes of 6x6 images: a vertical or a horizontal bar at a random
  // position, plus noise. A conv net must separate them almost perfectly.
  Generator generator(5);
  const int64_t count = 64;
  Tensor images = normal({count, 1, 6, 6}, 0.0f, 0.1f, generator);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t label = i % 2;
    const int64_t position = generator.randint(6);
    for (int64_t k = 0; k < 6; ++k) {
      if (label == 0) {
        images.set({i, 0, k, position}, images.at({i, 0, k, position}) + 1.0f);
      } else {
        images.set({i, 0, position, k}, images.at({i, 0, position, k}) + 1.0f);
      }
    }
    labels.push_back(label);
  }

  Sequential model;
  model.add("conv", std::make_shared<Conv2d>(1, 4, Size2{3, 3}, generator,
                                             Conv2dOptions{.stride = {1, 1}, .padding = {1, 1}}))
      .add("relu", std::make_shared<ReLU>())
      .add("pool", std::make_shared<MaxPool2d>(Pool2dOptions{.kernel = {2, 2}}))
      .add("flatten", std::make_shared<Flatten>())
      .add("fc", std::make_shared<Linear>(4 * 3 * 3, 2, generator));
  Adam adam(model.named_parameters(), {.learning_rate = 0.02f});

  float first_loss = 0.0f;
  float last_loss = 0.0f;
  for (int step = 0; step < 60; ++step) {
    adam.zero_grad();
    Tensor loss = cross_entropy_from_energies(model.forward(images), labels);
    if (step == 0) {
      first_loss = loss.item();
    }
    last_loss = loss.item();
    loss.backward();
    adam.step();
  }
  INFO("first loss " << first_loss << ", last loss " << last_loss);
  CHECK(first_loss > 0.5f);
  CHECK(last_loss < 0.05f);
}

TEST_CASE("LeNet-5 shape and size", "[nn][lenet]") {
  Generator generator(6);
  auto model = make_lenet5(generator);

  SECTION("61,706 parameters for 10 classes") {
    // conv1 6*25 + 6, conv2 16*150 + 16, fc 400*120 + 120, 120*84 + 84, 84*10 + 10.
    CHECK(model->parameter_count() == 61'706);
  }
  SECTION("one energy per class") {
    CHECK(model->forward(zeros({3, 1, 28, 28})).shape() == Shape{3, 10});
  }
  SECTION("dotted parameter names") {
    CHECK(model->named_parameters()[0].first == "conv1.weight");
    CHECK(model->named_parameters().back().first == "fc3.bias");
  }
}
