// The --batch-size option and the batch loop that ember decode and ember
// eval share. Both transcribe their images a fixed number at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/options.h"
#include "apps/recognition/dataset.h"
#include "apps/recognition/recognizer.h"

namespace ember::apps {

// Adds --batch-size (images per forward pass, 1 to 4096) to a subcommand.
inline void add_batch_size_option(CLI::App& command, int64_t& batch_size) {
  command.add_option("--batch-size", batch_size, "Images run through the network at once")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
}

// Transcribes samples batch_size at a time with the decoding setup and calls
// on_batch(batch, start, transcriptions) after each batch, where start is
// the index in samples of the batch's first image.
template <class OnBatch>
void transcribe_in_batches(recognition::Recognizer& recognizer, const recognition::Samples& samples,
                           const DecodingSetup& decoding, int64_t batch_size, OnBatch on_batch) {
  const auto step = static_cast<size_t>(batch_size);
  for (size_t start = 0; start < samples.size(); start += step) {
    const size_t end = std::min(samples.size(), start + step);
    std::vector<size_t> indices(end - start);
    std::iota(indices.begin(), indices.end(), start);
    const recognition::Batch batch = recognition::make_batch(samples, indices, recognizer.alphabet());
    const std::vector<recognition::Transcription> transcriptions =
        recognizer.transcribe(batch, decoding.method, decoding.lexicon_or_null(), decoding.beam_width);
    on_batch(batch, start, transcriptions);
  }
}

}  // namespace ember::apps
