// Model A (tiny) and Model B (CNN) sliding-window recognizers; their layer
// tables are in recognizers.h.
#include "nn/recognizers.h"

#include <stdexcept>

#include <fmt/format.h>

#include "nn/layers.h"

namespace ember::nn {

namespace {

void require_symbols(int64_t symbols, const char* model) {
  if (symbols <= 0) {
    throw std::invalid_argument(
        fmt::format("{}: number of symbols {} must be positive", model, symbols));
  }
}

// Checks the image shape once at the model's entry, so a wrong height is
// reported in the model's terms instead of deep inside a layer.
class RecognizerInput : public Module {
 public:
  RecognizerInput(const char* model, int64_t min_width) : model_(model), min_width_(min_width) {}

  Tensor forward(const Tensor& x) override {
    if (x.dim() != 4 || x.size(1) != 1 || x.size(2) != kRecognizerHeight ||
        x.size(3) < min_width_) {
      throw std::invalid_argument(fmt::format(
          "{}: input {} must be [B, 1, {}, W] with W >= {}", model_, shape_to_string(x.shape()),
          kRecognizerHeight, min_width_));
    }
    return x;
  }

 private:
  const char* model_;
  int64_t min_width_;
};

// The narrowest widths with one window: 7 + 6 for Model A, 18 for Model B.
constexpr int64_t kTinyMinWidth = 13;
constexpr int64_t kCnnMinWidth = 18;

}  // namespace

std::shared_ptr<Module> make_tiny_recognizer(Generator& generator, int64_t symbols) {
  require_symbols(symbols, "make_tiny_recognizer");
  auto model = std::make_shared<Sequential>();
  model->add("input", std::make_shared<RecognizerInput>("tiny recognizer", kTinyMinWidth));
  // Each ReLU that follows a convolution runs inside it (Conv2dOptions::relu).
  const Conv2dOptions conv_relu = {.relu = true};
  model->add("conv", std::make_shared<Conv2d>(1, 1, Size2{4, 8}, generator, conv_relu));
  model->add("pool", std::make_shared<MaxPool2d>(Pool2dOptions{.kernel = {3, 6}}));
  model->add("windows", std::make_shared<WindowFeatures>());
  model->add("fc1", std::make_shared<Linear>(9, 18, generator));
  model->add("relu2", std::make_shared<ReLU>());
  model->add("fc2", std::make_shared<Linear>(18, symbols, generator));
  return model;
}

std::shared_ptr<Module> make_cnn_recognizer(Generator& generator, int64_t symbols) {
  require_symbols(symbols, "make_cnn_recognizer");
  // Each ReLU and max pool that follow a convolution run inside it
  // (Conv2dOptions::relu and max_pool).
  const auto same_relu_pool = [](Size2 pool) {
    return Conv2dOptions{.stride = {1, 1},
                         .padding = {1, 1},
                         .relu = true,
                         .max_pool = Pool2dOptions{.kernel = pool}};
  };
  const Conv2dOptions valid_relu = {.relu = true};
  auto model = std::make_shared<Sequential>();
  model->add("input", std::make_shared<RecognizerInput>("CNN recognizer", kCnnMinWidth));
  model->add("conv1",
             std::make_shared<Conv2d>(1, 32, Size2{3, 3}, generator, same_relu_pool({2, 2})));
  model->add("conv2",
             std::make_shared<Conv2d>(32, 64, Size2{3, 3}, generator, same_relu_pool({2, 3})));
  model->add("conv3",
             std::make_shared<Conv2d>(64, 64, Size2{3, 3}, generator, same_relu_pool({2, 1})));
  model->add("conv4", std::make_shared<Conv2d>(64, 128, Size2{4, 3}, generator, valid_relu));
  model->add("conv5", std::make_shared<Conv2d>(128, symbols, Size2{1, 1}, generator));
  model->add("windows", std::make_shared<WindowFeatures>());
  return model;
}

int64_t tiny_recognizer_windows(int64_t width) {
  if (width < kTinyMinWidth) {
    throw std::invalid_argument(fmt::format(
        "tiny_recognizer_windows: width {} is narrower than one window ({} px)", width,
        kTinyMinWidth));
  }
  return (width - 7) / 6;
}

int64_t cnn_recognizer_windows(int64_t width) {
  if (width < kCnnMinWidth) {
    throw std::invalid_argument(fmt::format(
        "cnn_recognizer_windows: width {} is narrower than one window ({} px)", width,
        kCnnMinWidth));
  }
  return width / 2 / 3 - 2;
}

}  // namespace ember::nn
