// Rendering word datasets and stacking samples into padded batches.
#include "apps/recognition/dataset.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "apps/data/random.h"

namespace ember::recognition {

std::string random_word(const WordOptions& options, data::Rng& rng) {
  if (!options.words.empty()) {
    const auto pick = data::uniform_int(rng, 0, static_cast<int64_t>(options.words.size()) - 1);
    return options.words[static_cast<size_t>(pick)];
  }
  if (options.letters.empty() || options.min_length < 1 || options.max_length < options.min_length) {
    throw std::invalid_argument(fmt::format(
        "random_word: letters '{}' and lengths [{}, {}]; expected letters and 1 <= min <= max",
        options.letters, options.min_length, options.max_length));
  }
  const auto length = data::uniform_int(rng, options.min_length, options.max_length);
  std::string word;
  for (int64_t i = 0; i < length; ++i) {
    const auto pick = data::uniform_int(rng, 0, static_cast<int64_t>(options.letters.size()) - 1);
    word.push_back(options.letters[static_cast<size_t>(pick)]);
  }
  return word;
}

Samples render_words(const std::vector<data::Font>& fonts, const WordOptions& options,
                     int64_t count, uint64_t seed) {
  if (fonts.empty()) {
    throw std::invalid_argument("render_words: no fonts given; name at least one font");
  }
  data::Rng rng(seed);
  Samples samples;
  samples.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const data::Font& font = fonts[static_cast<size_t>(i) % fonts.size()];
    std::string word = random_word(options, rng);
    data::GrayImage image = data::render_text(font, word, options.render);
    image = data::augment(image, options.augment, rng);
    samples.push_back({std::move(image), std::move(word)});
  }
  return samples;
}

Batch make_batch(const Samples& samples, std::span<const size_t> indices,
                 const alignment::Alphabet& alphabet) {
  if (indices.empty()) {
    throw std::invalid_argument("make_batch: no samples selected; expected at least one index");
  }
  const int height = samples.at(indices[0]).image.height;
  int width = 0;
  for (size_t index : indices) {
    const data::GrayImage& image = samples.at(index).image;
    if (image.height != height) {
      throw std::invalid_argument(fmt::format(
          "make_batch: sample {} is {} px tall but sample {} is {} px; resize images to one height",
          index, image.height, indices[0], height));
    }
    width = std::max(width, image.width);
  }

  Batch batch;
  const auto count = static_cast<int64_t>(indices.size());
  batch.images = zeros({count, 1, height, width});
  float* pixels = batch.images.mutable_data();
  for (int64_t b = 0; b < count; ++b) {
    const data::LabelledImage& sample = samples[indices[static_cast<size_t>(b)]];
    for (int row = 0; row < height; ++row) {
      const float* source = sample.image.pixels.data() + static_cast<size_t>(row) * sample.image.width;
      std::copy(source, source + sample.image.width, pixels + (b * height + row) * width);
    }
    batch.widths.push_back(sample.image.width);
    try {
      batch.targets.push_back(alphabet.encode(sample.text));
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(fmt::format("make_batch: label '{}' of sample {}: {}", sample.text,
                                              indices[static_cast<size_t>(b)], error.what()));
    }
    batch.texts.push_back(sample.text);
  }
  return batch;
}

}  // namespace ember::recognition
