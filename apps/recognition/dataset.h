// Datasets for the handwriting commands: labelled images rendered from
// fonts, built from MNIST digits or read from a folder, and batches of them
// as tensors.
//
// Images are 32 px tall gray, white ink on black. A batch pads every image
// on the right with background up to the widest one and keeps each width,
// so a recognizer knows how many of its windows are real for each sample.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "apps/data/augment.h"
#include "apps/data/font.h"
#include "apps/data/image.h"
#include "autodiff/tensor.h"
#include "ebm/alignment/alphabet.h"

namespace ember::recognition {

using Samples = std::vector<data::LabelledImage>;

struct WordOptions {
  // Words are drawn uniformly from `words` when it is not empty; otherwise
  // they are random strings over `letters` with a length in [min_length, max_length].
  std::vector<std::string> words;
  std::string letters = "abcdefghijklmnopqrstuvwxyz";
  int min_length = 1;
  int max_length = 5;
  data::RenderOptions render;
  data::AugmentOptions augment;
};

// Renders count words, cycling through the fonts so each gets an equal share.
// The same seed gives the same samples.
Samples render_words(const std::vector<data::Font>& fonts, const WordOptions& options,
                     int64_t count, uint64_t seed);

// Draws one random word as WordOptions describes.
std::string random_word(const WordOptions& options, data::Rng& rng);

// A batch of samples as tensors.
struct Batch {
  Tensor images;                              // [B, 1, H, W], W = widest image
  std::vector<int64_t> widths;                // real width of each image
  std::vector<std::vector<int64_t>> targets;  // symbol indices of each label
  std::vector<std::string> texts;             // the labels
};

// Stacks samples[indices] into a batch. Throws std::invalid_argument naming
// the sample when heights differ or a label has a symbol outside the alphabet.
Batch make_batch(const Samples& samples, std::span<const size_t> indices,
                 const alignment::Alphabet& alphabet);

}  // namespace ember::recognition
