// Running a trained recognizer on images it was not trained on: reading any
// image file as the 32 px tall gray strip a recognizer reads, scoring a
// transcription by its free energy, and finding how many windows the words
// of a lexicon need.
//
// The conversion is the same for `ember decode`, `ember eval --folder` and
// `ember plot`: decode with stb_image (apps/data/image_io.h), pick the ink
// polarity, scale to 32 px keeping the aspect ratio, and pad images too
// narrow for one window with background on both sides. Deskewing, line
// segmentation and multi-line pages are left out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/data/image.h"
#include "apps/data/image_io.h"
#include "apps/recognition/recognizer.h"
#include "ebm/alignment/decode.h"
#include "ebm/alignment/topology.h"

namespace ember::recognition {

// Height in pixels of every image a recognizer reads.
inline constexpr int kImageHeight = 32;

// Loads a checkpoint written by ember train or ember pretrain. Throws
// std::runtime_error naming the file when it is missing, is not a
// safetensors file, lacks the model metadata or does not fit its model.
Recognizer load_recognizer(const std::string& path);

// Smallest image width for which the recognizer produces one window.
int64_t minimum_width(const Recognizer& recognizer);

// Scales image to kImageHeight rows keeping its aspect ratio (area filter
// when shrinking, bilinear when enlarging), then pads it with background on
// both sides up to min_width when it is narrower.
data::GrayImage prepare_image(const data::GrayImage& image, int64_t min_width);

// Loads an image file with the given polarity rule and prepares it for the
// recognizer. Throws std::runtime_error naming the file when it is missing,
// unreadable, damaged or larger than data::kMaxImagePixels.
data::GrayImage load_image_for(const Recognizer& recognizer, const std::filesystem::path& file,
                               data::InkPolarity polarity = data::InkPolarity::detect);

// Free energy at inverse temperature 1 of each transcription's text given
// the energies E [B, L, C] of its image: -log sum over the text's
// alignments of exp(-energy). Lower means more confident; +inf when the text
// has no alignment in the image's windows.
std::vector<float> transcription_free_energies(Recognizer& recognizer, const Batch& batch,
                                               const std::vector<Transcription>& transcriptions);

// Returns the minimum number of windows L that an alignment of target uses
// under the topology: 2T for the separator topology, and for ctc T plus one
// blank between each pair of equal neighbours.
int64_t min_windows(const alignment::Topology& topology, const std::vector<int64_t>& target);

// A lexicon word and the minimum number of windows it needs.
struct ShortestWord {
  std::string text;
  int64_t windows = 0;
};

// Finds the lexicon word that needs the fewest windows under the
// recognizer's topology (ties: the first in symbol order). Beam search with
// this lexicon returns empty text for an image with fewer windows. A
// lexicon without words gives windows = INT64_MAX.
ShortestWord shortest_lexicon_word(const Recognizer& recognizer, const alignment::Lexicon& lexicon);

}  // namespace ember::recognition
