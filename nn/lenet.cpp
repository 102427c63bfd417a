// LeNet-5 as a Sequential of Ember layers; the layer table is in lenet.h.
#include "nn/lenet.h"

#include <stdexcept>

#include <fmt/format.h>

#include "nn/layers.h"

namespace ember::nn {

std::shared_ptr<Module> make_lenet5(Generator& generator, int64_t classes,
                                    const LeNetWidths& widths) {
  const bool positive = widths.conv1 > 0 && widths.conv2 > 0 && widths.fc1 > 0 && widths.fc2 > 0;
  if (!positive) {
    throw std::invalid_argument(fmt::format("make_lenet5: widths {}, {}, {}, {} must be positive",
                                            widths.conv1, widths.conv2, widths.fc1, widths.fc2));
  }
  if (classes <= 0) {
    throw std::invalid_argument(
        fmt::format("make_lenet5: number of classes {} must be positive", classes));
  }
  const Pool2dOptions halve = {.kernel = {2, 2}};
  auto model = std::make_shared<Sequential>();
  model->add("conv1", std::make_shared<Conv2d>(1, widths.conv1, Size2{5, 5}, generator,
                                               Conv2dOptions{.padding = {2, 2}}));
  model->add("relu1", std::make_shared<ReLU>());
  model->add("pool1", std::make_shared<MaxPool2d>(halve));
  model->add("conv2", std::make_shared<Conv2d>(widths.conv1, widths.conv2, Size2{5, 5}, generator));
  model->add("relu2", std::make_shared<ReLU>());
  model->add("pool2", std::make_shared<MaxPool2d>(halve));
  model->add("flatten", std::make_shared<Flatten>());
  model->add("fc1", std::make_shared<Linear>(widths.conv2 * 5 * 5, widths.fc1, generator));
  model->add("relu3", std::make_shared<ReLU>());
  model->add("fc2", std::make_shared<Linear>(widths.fc1, widths.fc2, generator));
  model->add("relu4", std::make_shared<ReLU>());
  model->add("fc3", std::make_shared<Linear>(widths.fc2, classes, generator));
  return model;
}

}  // namespace ember::nn
