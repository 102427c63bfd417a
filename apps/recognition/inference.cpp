// Image preparation, free energies and lexicon word lengths for
// recognizing new images.
#include "apps/recognition/inference.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/tape.h"
#include "ebm/alignment/forward.h"

namespace ember::recognition {

namespace {

// Visits the trie below node, where word contains the symbols that lead to it,
// and records in best each word that needs fewer windows. Appending symbols
// never lowers the windows a word needs, so a branch that already needs
// best.windows is not searched further.
void search_shortest(const Recognizer& recognizer, const alignment::Lexicon& lexicon, int64_t node,
                     std::vector<int64_t>& word, ShortestWord& best) {
  const int64_t windows = min_windows(recognizer.topology(), word);
  if (windows >= best.windows) {
    return;
  }
  if (lexicon.is_word(node)) {
    best = {recognizer.alphabet().decode(word), windows};
  }
  for (int64_t symbol = 0; symbol < recognizer.alphabet().size(); ++symbol) {
    const int64_t child = lexicon.child(node, symbol);
    if (child >= 0) {
      word.push_back(symbol);
      search_shortest(recognizer, lexicon, child, word, best);
      word.pop_back();
    }
  }
}

}  // namespace

Recognizer load_recognizer(const std::string& path) {
  if (std::filesystem::is_directory(path)) {
    throw std::runtime_error(fmt::format(
        "checkpoint '{}' is a folder; pass a file in it, such as '{}'", path,
        (std::filesystem::path(path) / "best.safetensors").string()));
  }
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error(fmt::format(
        "checkpoint '{}' not found; pass the best.safetensors of an ember train run folder", path));
  }
  try {
    return Recognizer::load(path);
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(fmt::format(
        "cannot load checkpoint: {}; pass a .safetensors checkpoint written by ember train", error.what()));
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(fmt::format("cannot load checkpoint '{}': {}", path, error.what()));
  }
}

int64_t minimum_width(const Recognizer& recognizer) {
  // Both models need 18 px for one window. The search goes well past that,
  // so a new model with a wider window still works.
  constexpr int64_t kSearchLimit = 1024;
  for (int64_t width = 1; width <= kSearchLimit; ++width) {
    try {
      if (recognizer.windows(width) >= 1) {
        return width;
      }
    } catch (const std::invalid_argument&) {
      // Too narrow for this model: try the next width.
    }
  }
  throw std::logic_error(fmt::format("minimum_width: model '{}' has no window at widths up to {} px",
                                     recognizer.spec().model, kSearchLimit));
}

data::GrayImage prepare_image(const data::GrayImage& image, int64_t min_width) {
  if (image.empty()) {
    throw std::invalid_argument(
        fmt::format("prepare_image: image is {} x {} px; expected at least one pixel", image.height, image.width));
  }
  const data::ResizeFilter filter =
      image.height > kImageHeight ? data::ResizeFilter::area : data::ResizeFilter::bilinear;
  data::GrayImage scaled =
      image.height == kImageHeight ? image : data::resize_to_height(image, kImageHeight, filter);
  if (scaled.width >= min_width) {
    return scaled;
  }
  const int missing = static_cast<int>(min_width) - scaled.width;
  return data::pad(scaled, 0, 0, missing / 2, missing - missing / 2);
}

data::GrayImage load_image_for(const Recognizer& recognizer, const std::filesystem::path& file,
                               data::InkPolarity polarity) {
  data::LoadOptions options;
  options.polarity = polarity;
  return prepare_image(data::load_gray_image(file, options), minimum_width(recognizer));
}

std::vector<float> transcription_free_energies(Recognizer& recognizer, const Batch& batch,
                                               const std::vector<Transcription>& transcriptions) {
  NoGrad no_grad;
  std::vector<std::vector<int64_t>> targets;
  for (const Transcription& transcription : transcriptions) {
    targets.push_back(recognizer.alphabet().encode(transcription.text));
  }
  const Tensor energies = recognizer.energies(batch.images);  // [B, L, C]
  const alignment::AlignmentBatch alignment_batch =
      alignment::make_alignment_batch(targets, recognizer.windows(batch.widths));
  const Tensor free = alignment::free_energy(energies, alignment_batch, recognizer.topology());  // [B]
  return std::vector<float>(free.data(), free.data() + free.numel());
}

int64_t min_windows(const alignment::Topology& topology, const std::vector<int64_t>& target) {
  const alignment::Lattice lattice = alignment::build_lattice(topology, target);
  if (lattice.accepts_empty) {
    return 0;
  }
  // windows[s]: the minimum number of windows of a path that starts in a
  // start state and is in state s at its last window. A window stays, advances one state, or
  // skips one state where can_skip allows; staying never helps.
  const int64_t states = lattice.states();
  std::vector<int64_t> windows(static_cast<size_t>(states));
  for (int64_t s = 0; s < states; ++s) {
    if (s < lattice.start_states) {
      windows[s] = 1;
      continue;
    }
    windows[s] = windows[s - 1] + 1;
    if (s >= 2 && lattice.can_skip[s] != 0) {
      windows[s] = std::min(windows[s], windows[s - 2] + 1);
    }
  }
  return *std::min_element(windows.end() - lattice.end_states, windows.end());
}

ShortestWord shortest_lexicon_word(const Recognizer& recognizer, const alignment::Lexicon& lexicon) {
  ShortestWord best{"", std::numeric_limits<int64_t>::max()};
  std::vector<int64_t> word;
  search_shortest(recognizer, lexicon, /*node=*/0, word, best);
  return best;
}

}  // namespace ember::recognition
