// The k lowest-energy accepting paths of an acyclic graph.
//
// Dynamic programming in topological order: each state keeps its k best
// partial paths from a start state as (energy, last arc, rank of the partial
// path at the arc's source), so the paths are recovered by walking back.
// Cyclic graphs are rejected: with a cycle of energy 0 or less the k best
// paths may repeat it, and the lists would need a different algorithm.
#include <algorithm>
#include <stdexcept>

#include "ebm/graph/arc_origins.h"
#include "ebm/graph/functions.h"

namespace ember::graph {

namespace {

struct PartialPath {
  double energy;
  int32_t arc;          // last arc, -1 for the empty path at a start state
  int32_t source_rank;  // rank of the partial path at the arc's source
};

struct RankedEnd {
  double energy;
  int32_t state;
  int32_t rank;
};

// The k best partial paths into every state.
std::vector<std::vector<PartialPath>> best_partial_paths(const Graph& graph, size_t k) {
  const ArcIndex in = in_arcs(graph);
  const float* energies = graph.energies().data();
  std::vector<std::vector<PartialPath>> best(static_cast<size_t>(graph.num_states()));
  std::vector<PartialPath> candidates;

  for (int32_t s : topological_order(graph, "k_best_paths")) {
    const auto su = static_cast<size_t>(s);
    candidates.clear();
    if (graph.start_flags()[su] != 0) {
      candidates.push_back({0.0, -1, -1});
    }
    for (int32_t i = in.offsets[su]; i < in.offsets[su + 1]; ++i) {
      const int32_t arc = in.arcs[static_cast<size_t>(i)];
      const auto& from = best[static_cast<size_t>(graph.sources()[static_cast<size_t>(arc)])];
      for (size_t rank = 0; rank < from.size(); ++rank) {
        candidates.push_back({from[rank].energy + energies[arc], arc, static_cast<int32_t>(rank)});
      }
    }

    // Stable, so among equal energies the first found ranks first.
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const PartialPath& x, const PartialPath& y) { return x.energy < y.energy; });
    candidates.resize(std::min(candidates.size(), k));
    best[su] = candidates;
  }
  return best;
}

}  // namespace

std::vector<Graph> k_best_paths(const Graph& graph, int64_t k) {
  if (k < 0) {
    throw std::invalid_argument(fmt::format("k_best_paths: k is {}; expected k >= 0", k));
  }
  const auto count = static_cast<size_t>(k);
  const std::vector<std::vector<PartialPath>> best = best_partial_paths(graph, count);

  // The k best complete paths among all accept states.
  std::vector<RankedEnd> ends;
  for (int64_t s = 0; s < graph.num_states(); ++s) {
    if (!graph.is_accept(s)) {
      continue;
    }
    const auto& paths = best[static_cast<size_t>(s)];
    for (size_t rank = 0; rank < paths.size(); ++rank) {
      ends.push_back({paths[rank].energy, static_cast<int32_t>(s), static_cast<int32_t>(rank)});
    }
  }
  std::stable_sort(ends.begin(), ends.end(),
                   [](const RankedEnd& x, const RankedEnd& y) { return x.energy < y.energy; });
  ends.resize(std::min(ends.size(), count));

  std::vector<Graph> result;
  for (const RankedEnd& end : ends) {
    std::vector<int32_t> arcs;
    int32_t state = end.state;
    int32_t rank = end.rank;
    while (true) {
      const PartialPath& step = best[static_cast<size_t>(state)][static_cast<size_t>(rank)];
      if (step.arc < 0) {
        break;
      }
      arcs.push_back(step.arc);
      state = graph.sources()[static_cast<size_t>(step.arc)];
      rank = step.source_rank;
    }
    std::reverse(arcs.begin(), arcs.end());
    result.push_back(path_graph(graph, arcs, "k_best_paths"));
  }
  return result;
}

}  // namespace ember::graph
