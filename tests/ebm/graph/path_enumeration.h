// Brute-force references for graph tests: every accepting path of a small
// graph listed one by one, and scores computed from that list.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ebm/graph/graph.h"

namespace ember::graph::testing {

struct Path {
  double energy = 0.0;
  std::vector<int64_t> arcs;
  std::vector<int> input_labels;   // epsilons dropped
  std::vector<int> output_labels;  // epsilons dropped
};

// Every accepting path with at most max_arcs arcs (cycles are unrolled up to
// that length), found by depth-first search from each start state.
inline std::vector<Path> enumerate_paths(const Graph& graph, int64_t max_arcs = 64) {
  std::vector<Path> paths;
  Path current;
  const auto visit = [&](auto&& self, int64_t state) -> void {
    if (graph.is_accept(state)) {
      paths.push_back(current);
    }
    if (static_cast<int64_t>(current.arcs.size()) == max_arcs) {
      return;
    }
    for (int64_t a = 0; a < graph.num_arcs(); ++a) {
      if (graph.source(a) != state) {
        continue;
      }
      const Path saved = current;
      current.energy += graph.energy(a);
      current.arcs.push_back(a);
      if (graph.input_label(a) != kEpsilon) {
        current.input_labels.push_back(graph.input_label(a));
      }
      if (graph.output_label(a) != kEpsilon) {
        current.output_labels.push_back(graph.output_label(a));
      }
      self(self, graph.destination(a));
      current = saved;
    }
  };
  for (int64_t s : graph.start_states()) {
    visit(visit, s);
  }
  return paths;
}

// -(1/beta) log sum exp(-beta E) over the listed paths; +inf for none.
inline double free_energy_of(const std::vector<Path>& paths, double beta = 1.0) {
  if (paths.empty()) {
    return std::numeric_limits<double>::infinity();
  }
  double lowest = paths[0].energy;
  for (const Path& p : paths) {
    lowest = std::min(lowest, p.energy);
  }
  double sum = 0.0;
  for (const Path& p : paths) {
    sum += std::exp(-beta * (p.energy - lowest));
  }
  return lowest - std::log(sum) / beta;
}

}  // namespace ember::graph::testing
