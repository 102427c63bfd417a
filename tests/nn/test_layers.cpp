// Tests of Module bookkeeping, the layers' values and gradients, the
// initializers, and the cross-entropy loss.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <vector>

#include "autodiff/autodiff.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/loss.h"
#include "nn/module.h"

using namespace ember;
using namespace ember::nn;

namespace {

void require_values(const Tensor& actual, const std::vector<float>& expected) {
  const std::vector<float> values = actual.to_vector();
  REQUIRE(values.size() == expected.size());
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("element " << i);
    CHECK(values[i] == Approx(expected[i]).margin(1e-6));
  }
}

// Checks the gradient of a module's output with respect to its input and
// every parameter. gradcheck perturbs the inputs in place, and the
// parameters share storage with the module, so forward uses each change.
void require_module_gradients(Module& module, const Tensor& x) {
  std::vector<Tensor> inputs = {x};
  for (const Tensor& parameter : module.parameters()) {
    inputs.push_back(parameter);
  }
  auto f = [&module](const std::vector<Tensor>& in) { return module.forward(in[0]); };
  const GradCheckResult result = gradcheck(f, inputs);
  INFO(result.report);
  REQUIRE(result.ok);
}

// Two layers in a named container, for naming tests.
class TwoLayers : public Module {
 public:
  explicit TwoLayers(Generator& generator) {
    first = register_module("first", std::make_shared<Linear>(3, 4, generator));
    second = register_module("second", std::make_shared<Linear>(4, 2, generator, false));
    scale = register_parameter("scale", ones({2}));
  }
  Tensor forward(const Tensor& x) override { return second->forward(first->forward(x)) * scale; }

  std::shared_ptr<Linear> first;
  std::shared_ptr<Linear> second;
  Tensor scale;
};

}  // namespace

TEST_CASE("Module parameter names and counts", "[nn][module]") {
  Generator generator(1);
  TwoLayers model(generator);

  SECTION("own parameters first, then submodules, with dotted names") {
    std::vector<std::string> names;
    for (const NamedTensor& entry : model.named_parameters()) {
      names.push_back(entry.first);
    }
    CHECK(names == std::vector<std::string>{"scale", "first.weight", "first.bias", "second.weight"});
  }
  SECTION("parameter count sums every element") {
    CHECK(model.parameter_count() == 2 + 3 * 4 + 4 + 4 * 2);
  }
  SECTION("parameters share storage with the module") {
    model.parameters()[0].set({0}, 5.0f);
    CHECK(model.scale.at({0}) == 5.0f);
  }
  SECTION("Sequential names by position or by the given name") {
    Sequential sequential;
    sequential.add(std::make_shared<Linear>(2, 2, generator)).add("head", std::make_shared<Linear>(2, 1, generator));
    CHECK(sequential.named_parameters()[0].first == "0.weight");
    CHECK(sequential.named_parameters()[2].first == "head.weight");
    CHECK(sequential.size() == 2);
  }
  SECTION("duplicate and dotted names are rejected") {
    Sequential sequential;
    sequential.add("a", std::make_shared<ReLU>());
    CHECK_THROWS_WITH(sequential.add("a", std::make_shared<ReLU>()), Catch::Contains("'a' is already used"));
    CHECK_THROWS_WITH(sequential.add("a.b", std::make_shared<ReLU>()), Catch::Contains("contain no '.'"));
  }
}

TEST_CASE("Module train, eval and zero_grad", "[nn][module]") {
  Generator generator(2);
  TwoLayers model(generator);

  SECTION("mode reaches submodules") {
    model.eval();
    CHECK_FALSE(model.training());
    CHECK_FALSE(model.first->training());
    model.train();
    CHECK(model.second->training());
  }
  SECTION("zero_grad drops every gradient") {
    sum(model.forward(ones({1, 3}))).backward();
    REQUIRE(model.first->weight.grad().defined());
    model.zero_grad();
    for (const Tensor& parameter : model.parameters()) {
      CHECK_FALSE(parameter.grad().defined());
    }
  }
}

TEST_CASE("Linear values and gradient", "[nn][linear]") {
  Generator generator(3);
  Linear linear(2, 3, generator);
  constant_fill(linear.weight, 0.0f);
  linear.weight.set({0, 0}, 1.0f);
  linear.weight.set({1, 1}, 2.0f);
  linear.weight.set({2, 0}, -1.0f);
  linear.weight.set({2, 1}, 1.0f);
  linear.bias.set({2}, 0.5f);

  SECTION("y = x W^T + b on a batch") {
    // x = [3, 4]: y = [3, 8, -3 + 4 + 0.5].
    require_values(linear(from_vector({3, 4}, {1, 2})), {3, 8, 1.5f});
  }
  SECTION("a single vector and a [B, L, in] batch") {
    CHECK(linear(from_vector({3, 4}, {2})).shape() == Shape{3});
    CHECK(linear(zeros({2, 5, 2})).shape() == Shape{2, 5, 3});
  }
  SECTION("wrong feature count names both sizes") {
    CHECK_THROWS_WITH(linear(zeros({1, 3})), Catch::Contains("[1, 3]") && Catch::Contains("2 input features"));
  }
  SECTION("gradient") {
    require_module_gradients(linear, normal({4, 2}, 0.0f, 1.0f, generator).set_requires_grad(true));
  }
}

TEST_CASE("Conv2d layer shapes and gradient", "[nn][conv2d]") {
  Generator generator(4);

  SECTION("LeNet's first layer keeps 28x28 with padding 2") {
    Conv2d conv(1, 6, {5, 5}, generator, {.stride = {1, 1}, .padding = {2, 2}});
    CHECK(conv(zeros({2, 1, 28, 28})).shape() == Shape{2, 6, 28, 28});
    CHECK(conv.parameter_count() == 6 * 25 + 6);
  }
  SECTION("without bias") {
    Conv2d conv(2, 3, {3, 3}, generator, {}, /*bias=*/false);
    CHECK_FALSE(conv.bias.defined());
    CHECK(conv.parameter_count() == 3 * 2 * 9);
  }
  SECTION("narrow input is an error naming both sizes") {
    Conv2d conv(1, 1, {4, 8}, generator);
    CHECK_THROWS_WITH(conv(zeros({1, 1, 32, 6})), Catch::Contains("width 6") && Catch::Contains("kernel width 8"));
  }
  SECTION("gradient with stride and padding") {
    Conv2d conv(2, 3, {3, 2}, generator, {.stride = {2, 1}, .padding = {1, 1}});
    require_module_gradients(conv, normal({2, 2, 5, 4}, 0.0f, 1.0f, generator).set_requires_grad(true));
  }
}

TEST_CASE("pooling layers and activations", "[nn][layers]") {
  Generator generator(5);
  const Tensor x = normal({2, 2, 6, 6}, 0.0f, 1.0f, generator).set_requires_grad(true);

  SECTION("MaxPool2d gradient") {
    MaxPool2d pool({.kernel = {3, 3}, .stride = {2, 2}, .ceil_mode = true});
    CHECK(pool(x).shape() == Shape{2, 2, 3, 3});
    require_module_gradients(pool, x);
  }
  SECTION("AvgPool2d gradient") {
    AvgPool2d pool({.kernel = {2, 2}, .padding = {1, 1}});
    CHECK(pool(x).shape() == Shape{2, 2, 4, 4});
    require_module_gradients(pool, x);
  }
  SECTION("activation values") {
    const Tensor v = from_vector({-1, 0, 2}, {3});
    ReLU relu_layer;
    Tanh tanh_layer;
    Sigmoid sigmoid_layer;
    require_values(relu_layer(v), {0, 0, 2});
    require_values(tanh_layer(v), {std::tanh(-1.0f), 0, std::tanh(2.0f)});
    require_values(sigmoid_layer(v), {1 / (1 + std::exp(1.0f)), 0.5f, 1 / (1 + std::exp(-2.0f))});
  }
  SECTION("activation gradients") {
    Tanh tanh_layer;
    Sigmoid sigmoid_layer;
    require_module_gradients(tanh_layer, x);
    require_module_gradients(sigmoid_layer, x);
  }
  SECTION("ReLU gradient away from the kink") {
    // Values at least 0.1 from 0, so no finite difference straddles the kink.
    ReLU relu_layer;
    require_module_gradients(relu_layer,
                             from_vector({-1.5f, -0.1f, 0.1f, 0.7f, 2.0f, -0.4f}, {2, 3})
                                 .set_requires_grad(true));
  }
}

TEST_CASE("Dropout modes and seeding", "[nn][dropout]") {
  const Tensor x = ones({1000});

  SECTION("training zeroes about p and scales the rest") {
    Dropout dropout(0.25f, 7);
    const std::vector<float> y = dropout(x).to_vector();
    int zeros_seen = 0;
    for (float v : y) {
      CHECK((v == 0.0f || v == Approx(1.0f / 0.75f)));
      zeros_seen += v == 0.0f ? 1 : 0;
    }
    // 250 expected; 4 standard deviations of Binomial(1000, 0.25) is about 55.
    CHECK(zeros_seen > 195);
    CHECK(zeros_seen < 305);
  }
  SECTION("evaluation is the identity") {
    Dropout dropout(0.5f, 7);
    dropout.eval();
    require_values(dropout(from_vector({1, 2, 3}, {3})), {1, 2, 3});
  }
  SECTION("the same seed gives the same mask") {
    Dropout a(0.5f, 9);
    Dropout b(0.5f, 9);
    CHECK(a(x).to_vector() == b(x).to_vector());
  }
  SECTION("gradient flows through the kept elements only") {
    Dropout dropout(0.5f, 3);
    Tensor input = ones({8}).set_requires_grad(true);
    const Tensor y = dropout(input);
    sum(y).backward();
    CHECK(input.grad().to_vector() == y.to_vector());
  }
  SECTION("probability 1 is rejected") {
    CHECK_THROWS_WITH(Dropout(1.0f, 0), Catch::Contains("[0, 1)"));
  }
}

TEST_CASE("Flatten and WindowFeatures layouts", "[nn][layers]") {
  SECTION("Flatten keeps the batch") {
    Flatten flatten_layer;
    CHECK(flatten_layer(zeros({2, 3, 4, 5})).shape() == Shape{2, 60});
  }
  SECTION("gradients are the reverse moves") {
    Generator generator(9);
    const Tensor x = normal({2, 3, 2, 4}, 0.0f, 1.0f, generator).set_requires_grad(true);
    Flatten flatten_layer;
    WindowFeatures windows;
    require_module_gradients(flatten_layer, x);
    require_module_gradients(windows, x);
  }
  SECTION("WindowFeatures turns columns into windows") {
    // x [1, 1, 2, 3]: rows [0 1 2] and [3 4 5]; window l gets column l.
    WindowFeatures windows;
    const Tensor y = windows(reshape(arange(6), {1, 1, 2, 3}));
    REQUIRE(y.shape() == Shape{1, 3, 2});
    require_values(y, {0, 3, 1, 4, 2, 5});
  }
}

TEST_CASE("initializers follow their bounds", "[nn][init]") {
  Generator generator(6);

  SECTION("fans of a conv weight") {
    CHECK(compute_fans({16, 6, 5, 5}) == std::pair<int64_t, int64_t>{150, 400});
    CHECK(compute_fans({7}) == std::pair<int64_t, int64_t>{7, 7});
  }
  SECTION("uniform initializers stay inside their bound") {
    Tensor w = zeros({64, 150});
    kaiming_uniform(w, generator);
    const float kaiming_bound = std::sqrt(2.0f) * std::sqrt(3.0f / 150.0f);
    CHECK(max(abs(w)).item() <= kaiming_bound);
    CHECK(max(abs(w)).item() > 0.9f * kaiming_bound);
    xavier_uniform(w, generator);
    CHECK(max(abs(w)).item() <= std::sqrt(6.0f / 214.0f));
  }
  SECTION("normal initializers have the right spread") {
    Tensor w = zeros({200, 100});
    kaiming_normal(w, generator);
    const float kaiming_std = std::sqrt(2.0f / 100.0f);
    CHECK(std::sqrt(mean(w * w).item()) == Approx(kaiming_std).epsilon(0.03));
    xavier_normal(w, generator);
    CHECK(std::sqrt(mean(w * w).item()) == Approx(std::sqrt(2.0f / 300.0f)).epsilon(0.03));
  }
  SECTION("the same seed gives the same weights") {
    Generator a(42);
    Generator b(42);
    Tensor wa = zeros({3, 3});
    Tensor wb = zeros({3, 3});
    kaiming_uniform(wa, a);
    kaiming_uniform(wb, b);
    CHECK(wa.to_vector() == wb.to_vector());
  }
}

TEST_CASE("cross-entropy values and gradient", "[nn][loss]") {
  SECTION("uniform logits give log C") {
    CHECK(cross_entropy(zeros({2, 4}), {0, 3}).item() == Approx(std::log(4.0f)));
  }
  SECTION("energies are negated logits") {
    // Energies [0, ln 3]: softmax(-E) = [3/4, 1/4], so label 1 costs ln 4.
    const Tensor energies = from_vector({0.0f, std::log(3.0f)}, {1, 2});
    CHECK(cross_entropy_from_energies(energies, {1}).item() == Approx(std::log(4.0f)));
    CHECK(cross_entropy_from_energies(energies, {0}).item() == Approx(std::log(4.0f / 3.0f)));
  }
  SECTION("label out of range") {
    CHECK_THROWS_WITH(cross_entropy(zeros({1, 3}), {3}), Catch::Contains("label 3"));
  }
  SECTION("gradient") {
    Generator generator(8);
    const Tensor logits = normal({3, 5}, 0.0f, 1.0f, generator).set_requires_grad(true);
    auto f = [](const std::vector<Tensor>& in) { return cross_entropy(in[0], {4, 0, 2}); };
    const GradCheckResult result = gradcheck(f, {logits});
    INFO(result.report);
    REQUIRE(result.ok);
  }
}
