// Greedy, Viterbi, two-best and beam decoding over the all-sequences graph.
// collapse, which greedy decoding ends with, is in collapse.cpp so exercise
// mode can replace it.
// These run once per sample in scalar code: O(L C^2) for Viterbi, O(L C^2 T)
// for the two-best search and O(L C W) for a beam of width W.
#include "ebm/alignment/decode.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "ebm/alignment/log_space.h"

namespace ember::alignment {

namespace {

// The all-sequences graph of a topology over C symbol states.
struct SymbolGraph {
  Topology topology;
  int64_t symbols = 0;

  bool separator() const { return topology.kind == TopologyKind::separator; }

  bool can_start(int64_t q) const { return !separator() || q != topology.blank; }
  bool can_end(int64_t q) const { return !separator() || q == topology.blank; }

  bool allowed(int64_t p, int64_t q) const {
    return !separator() || p == q || p == topology.blank || q == topology.blank;
  }

  // The symbol emitted by moving from p to q (p = -1 at the start), or -1.
  int64_t emitted(int64_t p, int64_t q) const {
    if (q == topology.blank || q == p) {
      return -1;
    }
    return q;
  }
};

SymbolGraph make_graph(const Topology& topology, int64_t symbols, const char* op) {
  if (topology.blank < 0 || topology.blank >= symbols) {
    throw std::invalid_argument(fmt::format("{}: blank / separator index {} is outside [0, C = {})",
                                            op, topology.blank, symbols));
  }
  return {topology, symbols};
}

// The emitted labels along a path of symbol states.
std::vector<int64_t> labels_of_path(const SymbolGraph& graph, const std::vector<int64_t>& path) {
  std::vector<int64_t> labels;
  int64_t previous = -1;
  for (const int64_t q : path) {
    const int64_t symbol = graph.emitted(previous, q);
    if (symbol >= 0) {
      labels.push_back(symbol);
    }
    previous = q;
  }
  return labels;
}

// Viterbi over the all-sequences graph for one sample, E [L, C].
Decoding viterbi_one(const SymbolGraph& graph, const float* energies, int64_t windows) {
  Decoding decoding;
  if (windows == 0) {
    return decoding;  // the empty sequence, by the empty alignment
  }
  const int64_t symbols = graph.symbols;
  std::vector<float> score(windows * symbols, kInf);
  std::vector<int64_t> back(windows * symbols, -1);
  for (int64_t q = 0; q < symbols; ++q) {
    score[q] = graph.can_start(q) ? energies[q] : kInf;
  }
  for (int64_t t = 1; t < windows; ++t) {
    for (int64_t q = 0; q < symbols; ++q) {
      float best = kInf;
      int64_t from = -1;
      for (int64_t p = 0; p < symbols; ++p) {
        if (graph.allowed(p, q) && score[(t - 1) * symbols + p] < best) {
          best = score[(t - 1) * symbols + p];
          from = p;
        }
      }
      score[t * symbols + q] = energies[t * symbols + q] + best;
      back[t * symbols + q] = from;
    }
  }

  int64_t final_state = -1;
  decoding.energy = kInf;
  for (int64_t q = 0; q < symbols; ++q) {
    if (graph.can_end(q) && score[(windows - 1) * symbols + q] < decoding.energy) {
      decoding.energy = score[(windows - 1) * symbols + q];
      final_state = q;
    }
  }
  if (final_state < 0) {
    return decoding;
  }
  decoding.path.assign(windows, -1);
  int64_t q = final_state;
  for (int64_t t = windows - 1; t >= 0; --t) {
    decoding.path[t] = q;
    q = back[t * symbols + q];
  }
  decoding.labels = labels_of_path(graph, decoding.path);
  return decoding;
}

}  // namespace

std::vector<std::vector<int64_t>> greedy_decode(const Tensor& energies,
                                                const std::vector<int64_t>& input_lengths,
                                                const Topology& topology) {
  const CheckedBatch checked = check_energies(energies, input_lengths, "greedy_decode");
  const float* data = energies.data();
  std::vector<std::vector<int64_t>> decoded;
  for (int64_t b = 0; b < checked.batch; ++b) {
    std::vector<int64_t> window_symbols;
    for (int64_t t = 0; t < checked.input_lengths[b]; ++t) {
      const float* row = data + (b * checked.windows + t) * checked.symbols;
      window_symbols.push_back(std::min_element(row, row + checked.symbols) - row);
    }
    decoded.push_back(collapse(window_symbols, topology));
  }
  return decoded;
}

std::vector<Decoding> viterbi_decode(const Tensor& energies,
                                     const std::vector<int64_t>& input_lengths,
                                     const Topology& topology) {
  const CheckedBatch checked = check_energies(energies, input_lengths, "viterbi_decode");
  const SymbolGraph graph = make_graph(topology, checked.symbols, "viterbi_decode");
  std::vector<Decoding> decoded;
  for (int64_t b = 0; b < checked.batch; ++b) {
    decoded.push_back(viterbi_one(graph, energies.data() + b * checked.windows * checked.symbols,
                                  checked.input_lengths[b]));
  }
  return decoded;
}

std::optional<Decoding> most_offending_incorrect(const float* energies, int64_t windows,
                                                 int64_t symbols,
                                                 const std::vector<int64_t>& target,
                                                 const Topology& topology) {
  const SymbolGraph graph = make_graph(topology, symbols, "most_offending_incorrect");
  Decoding best = viterbi_one(graph, energies, windows);
  if (best.energy == kInf) {
    return std::nullopt;
  }
  if (best.labels != target) {
    return best;
  }
  if (windows == 0) {
    return std::nullopt;  // the empty alignment reads only the empty sequence
  }

  // Two-best search: Viterbi over (symbol state q, progress k), where k <= T
  // counts the target symbols emitted so far while the output still matches
  // the target, and k = T + 1 means it has diverged. A path reads a sequence
  // other than the target iff it ends diverged or with k < T.
  const auto length = static_cast<int64_t>(target.size());
  const int64_t diverged = length + 1;
  const int64_t progress = length + 2;
  auto advance = [&](int64_t k, int64_t symbol) {
    if (symbol < 0 || k == diverged) {
      return k;
    }
    return k < length && symbol == target[k] ? k + 1 : diverged;
  };
  auto cell = [&](int64_t t, int64_t q, int64_t k) { return (t * symbols + q) * progress + k; };

  std::vector<float> score(windows * symbols * progress, kInf);
  std::vector<int64_t> back(score.size(), -1);
  for (int64_t q = 0; q < symbols; ++q) {
    if (graph.can_start(q)) {
      score[cell(0, q, advance(0, graph.emitted(-1, q)))] = energies[q];
    }
  }
  for (int64_t t = 1; t < windows; ++t) {
    for (int64_t p = 0; p < symbols; ++p) {
      for (int64_t k = 0; k < progress; ++k) {
        const float from = score[cell(t - 1, p, k)];
        if (from == kInf) {
          continue;
        }
        for (int64_t q = 0; q < symbols; ++q) {
          if (!graph.allowed(p, q)) {
            continue;
          }
          const int64_t to = cell(t, q, advance(k, graph.emitted(p, q)));
          const float candidate = from + energies[t * symbols + q];
          if (candidate < score[to]) {
            score[to] = candidate;
            back[to] = cell(t - 1, p, k);
          }
        }
      }
    }
  }

  int64_t final_cell = -1;
  float final_score = kInf;
  for (int64_t q = 0; q < symbols; ++q) {
    for (int64_t k = 0; k < progress; ++k) {
      const bool incorrect = k == diverged || k < length;
      const int64_t here = cell(windows - 1, q, k);
      if (graph.can_end(q) && incorrect && score[here] < final_score) {
        final_score = score[here];
        final_cell = here;
      }
    }
  }
  if (final_cell < 0) {
    return std::nullopt;
  }

  Decoding second;
  second.energy = final_score;
  second.path.assign(windows, -1);
  for (int64_t t = windows - 1, at = final_cell; t >= 0; --t) {
    second.path[t] = (at / progress) % symbols;
    at = back[at];
  }
  second.labels = labels_of_path(graph, second.path);
  return second;
}

// ------------------------------------------------------------ lexicon and beam

Lexicon::Lexicon(const std::vector<std::vector<int64_t>>& words) : nodes_(1) {
  for (const auto& word : words) {
    int64_t node = 0;
    for (const int64_t symbol : word) {
      int64_t next = child(node, symbol);
      if (next < 0) {
        next = static_cast<int64_t>(nodes_.size());
        nodes_[node].children.emplace_back(symbol, next);
        nodes_.emplace_back();
      }
      node = next;
    }
    if (!nodes_[node].is_word) {
      nodes_[node].is_word = true;
      ++words_;
    }
  }
}

Lexicon Lexicon::load(const std::string& path, const Alphabet& alphabet) {
  std::ifstream in(path);
  if (!in) {
    throw std::invalid_argument(fmt::format("Lexicon::load: cannot open word list \"{}\"", path));
  }
  std::vector<std::vector<int64_t>> words;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.pop_back();
    }
    if (line.empty()) {
      continue;
    }
    try {
      words.push_back(alphabet.encode(line));
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(fmt::format("Lexicon::load: {}:{}: {}", path, number, error.what()));
    }
  }
  return Lexicon(words);
}

int64_t Lexicon::child(int64_t node, int64_t symbol) const {
  for (const auto& [label, next] : nodes_[node].children) {
    if (label == symbol) {
      return next;
    }
  }
  return -1;
}

namespace {

struct Hypothesis {
  std::vector<int64_t> labels;
  int64_t state = -1;  // symbol state of the last window
  int64_t node = 0;    // lexicon trie node of labels
  float energy = 0.0f;
  std::vector<int64_t> path;
};

Decoding beam_one(const SymbolGraph& graph, const float* energies, int64_t windows,
                  const BeamOptions& options) {
  const Lexicon* lexicon = options.lexicon;
  std::vector<Hypothesis> beam(1);
  for (int64_t t = 0; t < windows; ++t) {
    // Expand every hypothesis to every allowed state; equal (labels, state)
    // pairs merge, keeping the lower energy.
    std::map<std::pair<std::vector<int64_t>, int64_t>, Hypothesis> expanded;
    for (const Hypothesis& hypothesis : beam) {
      for (int64_t q = 0; q < graph.symbols; ++q) {
        const bool open = t == 0 ? graph.can_start(q) : graph.allowed(hypothesis.state, q);
        if (!open) {
          continue;
        }
        Hypothesis next = hypothesis;
        next.state = q;
        next.energy += energies[t * graph.symbols + q];
        next.path.push_back(q);
        const int64_t symbol = graph.emitted(hypothesis.state, q);
        if (symbol >= 0) {
          next.labels.push_back(symbol);
          if (lexicon != nullptr) {
            next.node = lexicon->child(hypothesis.node, symbol);
          }
        }
        if (next.node < 0 || next.energy == kInf) {
          continue;
        }
        auto key = std::make_pair(next.labels, q);
        auto found = expanded.find(key);
        if (found == expanded.end() || next.energy < found->second.energy) {
          expanded[key] = std::move(next);
        }
      }
    }

    beam.clear();
    for (auto& entry : expanded) {
      beam.push_back(std::move(entry.second));
    }
    std::stable_sort(beam.begin(), beam.end(), [](const Hypothesis& a, const Hypothesis& b) {
      return a.energy < b.energy;
    });
    if (static_cast<int64_t>(beam.size()) > options.width) {
      beam.resize(options.width);
    }
  }

  Decoding decoding;
  decoding.energy = kInf;
  for (const Hypothesis& hypothesis : beam) {
    const bool ends = windows == 0 || graph.can_end(hypothesis.state);
    const bool word = lexicon == nullptr || lexicon->is_word(hypothesis.node);
    if (ends && word && hypothesis.energy < decoding.energy) {
      decoding = {hypothesis.labels, hypothesis.energy, hypothesis.path};
    }
  }
  return decoding;
}

}  // namespace

std::vector<Decoding> beam_decode(const Tensor& energies, const std::vector<int64_t>& input_lengths,
                                  const Topology& topology, const BeamOptions& options) {
  const CheckedBatch checked = check_energies(energies, input_lengths, "beam_decode");
  const SymbolGraph graph = make_graph(topology, checked.symbols, "beam_decode");
  if (options.width < 1) {
    throw std::invalid_argument(
        fmt::format("beam_decode: beam width {} must be at least 1", options.width));
  }
  std::vector<Decoding> decoded;
  for (int64_t b = 0; b < checked.batch; ++b) {
    decoded.push_back(beam_one(graph, energies.data() + b * checked.windows * checked.symbols,
                               checked.input_lengths[b], options));
  }
  return decoded;
}

}  // namespace ember::alignment
