// Brute-force references for the alignment tests: enumerate every window
// sequence pi in C^L and decide from the topology's definition which label
// sequence it reads, independently of the lattices the library builds.
//
// Separator topology: pi reads y iff its run-length encoding (consecutive
// repeats merged) is exactly y's separator transform, y1 _ y2 _ ... yT _.
// ctc: pi reads collapse(pi) (merge repeats, drop blanks), always.
//
// It also defines the sweep of small cases that the enumeration tests of
// free_energy and viterbi share.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "autodiff/tensor.h"
#include "ebm/alignment/topology.h"

namespace ember::alignment::testing {

// Every sequence of `length` symbols from [0, symbols), in lexicographic order.
inline std::vector<std::vector<int64_t>> all_window_sequences(int64_t length, int64_t symbols) {
  std::vector<std::vector<int64_t>> sequences{{}};
  for (int64_t t = 0; t < length; ++t) {
    std::vector<std::vector<int64_t>> longer;
    for (const auto& prefix : sequences) {
      for (int64_t c = 0; c < symbols; ++c) {
        auto next = prefix;
        next.push_back(c);
        longer.push_back(next);
      }
    }
    sequences = longer;
  }
  return sequences;
}

inline std::vector<int64_t> run_length_symbols(const std::vector<int64_t>& pi) {
  std::vector<int64_t> runs;
  for (const int64_t c : pi) {
    if (runs.empty() || runs.back() != c) {
      runs.push_back(c);
    }
  }
  return runs;
}

// The label sequence pi reads under the topology, or nullopt if pi is not an
// alignment of any label sequence (separator topology only).
inline std::optional<std::vector<int64_t>> read_labels(const std::vector<int64_t>& pi,
                                                       const Topology& topology) {
  const std::vector<int64_t> runs = run_length_symbols(pi);
  std::vector<int64_t> labels;
  if (topology.kind == TopologyKind::ctc) {
    for (const int64_t c : runs) {
      if (c != topology.blank) {
        labels.push_back(c);
      }
    }
    return labels;
  }
  // Runs must alternate symbol, separator, symbol, separator, ...
  if (runs.size() % 2 != 0) {
    return std::nullopt;
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    const bool separator = runs[i] == topology.blank;
    if (separator != (i % 2 == 1)) {
      return std::nullopt;
    }
    if (!separator) {
      labels.push_back(runs[i]);
    }
  }
  return labels;
}

inline bool reads(const std::vector<int64_t>& pi, const std::vector<int64_t>& target,
                  const Topology& topology) {
  const auto labels = read_labels(pi, topology);
  return labels.has_value() && *labels == target;
}

// E(pi) = sum_t E[t, pi_t] for E [L, C] row-major, in double.
inline double window_energy(const std::vector<float>& energies, int64_t symbols,
                            const std::vector<int64_t>& pi) {
  double total = 0.0;
  for (size_t t = 0; t < pi.size(); ++t) {
    total += energies[t * symbols + pi[t]];
  }
  return total;
}

// Free energy -(1/beta) log sum exp(-beta E(pi)) over the given sequences and
// its gradient dF/dE [L, C] (the posterior of pi_t = c), in double.
struct BruteFree {
  double free = std::numeric_limits<double>::infinity();
  std::vector<double> grad;
};

inline BruteFree brute_free_energy(const std::vector<float>& energies, int64_t windows,
                                   int64_t symbols,
                                   const std::vector<std::vector<int64_t>>& sequences,
                                   double beta) {
  BruteFree result;
  result.grad.assign(windows * symbols, 0.0);
  double lowest = std::numeric_limits<double>::infinity();
  for (const auto& pi : sequences) {
    lowest = std::min(lowest, window_energy(energies, symbols, pi));
  }
  if (!std::isfinite(lowest)) {
    return result;
  }
  double total = 0.0;
  for (const auto& pi : sequences) {
    total += std::exp(-beta * (window_energy(energies, symbols, pi) - lowest));
  }
  result.free = lowest - std::log(total) / beta;
  for (const auto& pi : sequences) {
    const double weight = std::exp(-beta * (window_energy(energies, symbols, pi) - lowest)) / total;
    for (size_t t = 0; t < pi.size(); ++t) {
      result.grad[t * symbols + pi[t]] += weight;
    }
  }
  return result;
}

// The window sequences of length L that read target.
inline std::vector<std::vector<int64_t>> alignments_of(const std::vector<int64_t>& target,
                                                       int64_t windows, int64_t symbols,
                                                       const Topology& topology) {
  std::vector<std::vector<int64_t>> matching;
  for (const auto& pi : all_window_sequences(windows, symbols)) {
    if (reads(pi, target, topology)) {
      matching.push_back(pi);
    }
  }
  return matching;
}

// The window sequences of length L that read some label sequence.
inline std::vector<std::vector<int64_t>> all_alignments(int64_t windows, int64_t symbols,
                                                        const Topology& topology) {
  std::vector<std::vector<int64_t>> matching;
  for (const auto& pi : all_window_sequences(windows, symbols)) {
    if (read_labels(pi, topology).has_value()) {
      matching.push_back(pi);
    }
  }
  return matching;
}

// Draws count energies uniformly from [low, high).
inline std::vector<float> random_energies(int64_t count, Generator& generator,
                                          float low = -2.0f, float high = 2.0f) {
  std::vector<float> values;
  for (int64_t i = 0; i < count; ++i) {
    values.push_back(generator.uniform(low, high));
  }
  return values;
}

// C of the sweep below: symbols 0 and 1, and 2 as the separator or blank.
inline constexpr int64_t kSweepSymbols = 3;

// Runs check(topology, windows, target, energies) for each topology (one
// SECTION each), L = 0 .. 6 and six targets of length 0 to 3, with fresh
// random energies E [L, C] for every case.
template <class Check>
void sweep_small_cases(Generator& generator, Check check) {
  const std::vector<std::vector<int64_t>> targets = {{}, {0}, {1}, {0, 1}, {0, 0}, {1, 0, 1}};
  for (const TopologyKind kind : {TopologyKind::separator, TopologyKind::ctc}) {
    const Topology topology{kind, 2};
    SECTION(topology_name(kind)) {
      for (int64_t windows = 0; windows <= 6; ++windows) {
        for (const auto& target : targets) {
          check(topology, windows, target, random_energies(windows * kSweepSymbols, generator));
        }
      }
    }
  }
}

}  // namespace ember::alignment::testing
