// The two sliding-window recognizers used by the handwriting app and the
// benchmarks. Both map a batch of text-line images [B, 1, 32, W] to energies
// [B, L, C]: one C-vector per window (L windows), lower energy = better symbol.
//
// Model A, the tiny net (726 parameters at C = 27):
//   Conv2d 1 -> 1, kernel 4x8 (no padding)       [B, 1, 29, W - 7]
//   ReLU, MaxPool2d kernel 3x6, stride = kernel   [B, 1, 9, L], L = floor((W - 7) / 6)
//   the 9 rows of each column are its window's features  [B, L, 9]
//   Linear 9 -> 18, ReLU, Linear 18 -> C          [B, L, C]
// A 32x18 image gives 1 window; 32x90 gives 13.
//
// Model B, a stronger CNN (157,659 parameters at C = 27):
//   Conv 1 -> 32, 3x3, padding 1, ReLU, MaxPool 2x2      [B, 32, 16, W/2]
//   Conv 32 -> 64, 3x3, padding 1, ReLU, MaxPool (2, 3)  [B, 64, 8, W/6]
//   Conv 64 -> 64, 3x3, padding 1, ReLU, MaxPool (2, 1)  [B, 64, 4, W/6]
//   Conv 64 -> 128, kernel (4, 3), no padding, ReLU      [B, 128, 1, W/6 - 2]
//   Conv 128 -> C, 1x1                                   [B, C, 1, L]
// Windows are 6 px apart and each covers 36 px, so L = floor(floor(W / 2) / 3) - 2
// (W / 6 - 2 when W is a multiple of 6). A 32x18 image gives 1 window; 32x90 gives 13.
#pragma once

#include <cstdint>
#include <memory>

#include "autodiff/tensor.h"
#include "nn/module.h"

namespace ember::nn {

// Image height both recognizers expect.
inline constexpr int64_t kRecognizerHeight = 32;

// Builds Model A, the tiny recognizer, for the given number of symbols C.
std::shared_ptr<Module> make_tiny_recognizer(Generator& generator, int64_t symbols = 27);

// Builds Model B, the CNN recognizer, for the given number of symbols C.
std::shared_ptr<Module> make_cnn_recognizer(Generator& generator, int64_t symbols = 27);

// Number of windows L each model produces for an image of width W; throws
// when W is too narrow for even one window.
int64_t tiny_recognizer_windows(int64_t width);
int64_t cnn_recognizer_windows(int64_t width);

}  // namespace ember::nn
