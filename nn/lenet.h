// LeNet-5 for 28 x 28 digit images, with ReLU and max pooling in place of
// the original's scaled tanh and trainable subsampling:
//   [B, 1, 28, 28]  conv 1 -> 6, 5x5, padding 2, ReLU, max pool 2x2  [B, 6, 14, 14]
//                   conv 6 -> 16, 5x5, ReLU, max pool 2x2            [B, 16, 5, 5]
//   flatten [B, 400], Linear 400 -> 120, ReLU, 120 -> 84, ReLU, 84 -> C
// The output is C energies per image (lower = better); 61,706 parameters at
// C = 10 with the original widths (6, 16, 120, 84), which LeNetWidths changes.
#pragma once

#include <cstdint>
#include <memory>

#include "autodiff/tensor.h"
#include "nn/module.h"

namespace ember::nn {

// Layer widths; the defaults are LeNet-5's.
struct LeNetWidths {
  int64_t conv1 = 6;   // channels of the first convolution
  int64_t conv2 = 16;  // channels of the second convolution
  int64_t fc1 = 120;
  int64_t fc2 = 84;
};

std::shared_ptr<Module> make_lenet5(Generator& generator, int64_t classes = 10,
                                    const LeNetWidths& widths = {});

}  // namespace ember::nn
