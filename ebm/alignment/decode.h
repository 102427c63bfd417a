// Decoding: turning energies E [B, L, C] into label sequences.
//
//   greedy        per-window argmin, then collapse: for the separator
//                 topology split at separators and keep each segment's most
//                 common symbol; for ctc merge repeats and drop blanks.
//   viterbi       the label sequence of the single best alignment over every
//                 label sequence (the all-sequences graph below).
//   most offending incorrect
//                 the best alignment whose label sequence differs from a
//                 given target: the Viterbi decoding if it already differs,
//                 else the second-best sequence (a two-best search).
//   beam          a beam search over the same graph, optionally restricted to
//                 the words of a lexicon.
//
// The all-sequences graph has one state per symbol. Separator topology: a
// path starts on a symbol, a symbol state is entered from itself or from the
// separator, the separator from itself or any symbol, and the path ends on
// the separator; entering a symbol from the separator (or at the start)
// emits it. ctc: any state may follow any state; entering a non-blank symbol
// from a different state emits it.
//
// Every decoder scores a sequence by its best alignment (Viterbi score), not
// by the sum over its alignments. Ties go to the lower symbol index.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autodiff/tensor.h"
#include "ebm/alignment/alphabet.h"
#include "ebm/alignment/topology.h"

namespace ember::alignment {

// A decoded label sequence with the energy of its best alignment and that
// alignment's symbol in each window.
struct Decoding {
  std::vector<int64_t> labels;
  float energy = 0.0f;
  std::vector<int64_t> path;
};

// Collapses per-window symbols into a label sequence under the topology.
// Separator: maximal runs without separators become their most common symbol
// (ties: the one seen first). ctc: repeats merge, then blanks are dropped.
std::vector<int64_t> collapse(const std::vector<int64_t>& window_symbols, const Topology& topology);

// Per-window argmin then collapse, for each sample. input_lengths empty = all L.
std::vector<std::vector<int64_t>> greedy_decode(const Tensor& energies,
                                                const std::vector<int64_t>& input_lengths,
                                                const Topology& topology);

// The best alignment over every label sequence, for each sample. A sample
// whose every alignment has infinite energy gets energy +inf and no labels.
std::vector<Decoding> viterbi_decode(const Tensor& energies,
                                     const std::vector<int64_t>& input_lengths,
                                     const Topology& topology);

// The most offending incorrect label sequence for one sample (E [L, C] as a
// raw row-major array): the best-scoring sequence that differs from target.
// std::nullopt if no alignment of any other sequence has finite energy.
std::optional<Decoding> most_offending_incorrect(const float* energies, int64_t windows,
                                                 int64_t symbols,
                                                 const std::vector<int64_t>& target,
                                                 const Topology& topology);

// A set of words stored as a trie over symbol indices.
class Lexicon {
 public:
  explicit Lexicon(const std::vector<std::vector<int64_t>>& words);
  // Reads one word per line (blank lines skipped); throws naming the file and
  // line on a word with a character outside the alphabet.
  static Lexicon load(const std::string& path, const Alphabet& alphabet);

  // The trie node reached from node by symbol, or -1. Node 0 is the root.
  int64_t child(int64_t node, int64_t symbol) const;
  bool is_word(int64_t node) const { return nodes_[node].is_word; }
  int64_t size() const { return words_; }

 private:
  struct Node {
    std::vector<std::pair<int64_t, int64_t>> children;  // (symbol, node)
    bool is_word = false;
  };
  std::vector<Node> nodes_;
  int64_t words_ = 0;
};

struct BeamOptions {
  int64_t width = 16;                 // hypotheses kept after each window
  const Lexicon* lexicon = nullptr;   // if set, only its words can be output
};

// Beam search over the all-sequences graph, for each sample. Without a
// lexicon and with a wide enough beam it returns the Viterbi decoding; a
// sample with no surviving hypothesis gets energy +inf and no labels.
std::vector<Decoding> beam_decode(const Tensor& energies, const std::vector<int64_t>& input_lengths,
                                  const Topology& topology, const BeamOptions& options = {});

}  // namespace ember::alignment
