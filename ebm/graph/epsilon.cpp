// Epsilon removal that keeps every accepting path and its energy.
//
// Weighted epsilon removal usually merges the epsilon paths between two
// states into one weight, which needs a semiring (min for Viterbi, log-add
// for the free energy). Folding each epsilon run into a neighbouring
// labelled arc instead keeps paths one to one, so both scores and their
// gradients stay exact, at the price of one arc per epsilon run.
//
// For a path  x ~> p -a-> r ~> q  (~> a run of epsilon arcs, maybe empty):
//   - an arc x -> r with a's labels stands for the run x ~> p plus a;
//   - if r ~> q is a non-empty run ending in an accept state q, an arc
//     x -> F (a new accept state) stands for x ~> p, a and r ~> q.
#include <functional>
#include <stdexcept>

#include "ebm/graph/arc_origins.h"
#include "ebm/graph/functions.h"

namespace ember::graph {

namespace {

bool is_epsilon_arc(const Graph& graph, int64_t arc) {
  return graph.input_label(arc) == kEpsilon && graph.output_label(arc) == kEpsilon;
}

// The epsilon-only subgraph, with its arcs mapped back to graph's arcs.
struct EpsilonArcs {
  Graph graph;
  std::vector<int32_t> original;  // arc of the input graph for each arc here
};

EpsilonArcs epsilon_subgraph(const Graph& graph) {
  EpsilonArcs result;
  for (int64_t s = 0; s < graph.num_states(); ++s) {
    result.graph.add_state();
  }
  for (int64_t a = 0; a < graph.num_arcs(); ++a) {
    if (is_epsilon_arc(graph, a)) {
      result.graph.add_arc(graph.source(a), graph.destination(a), kEpsilon);
      result.original.push_back(static_cast<int32_t>(a));
    }
  }
  return result;
}

using PathVisitor = std::function<void(int32_t end, const std::vector<int32_t>& path)>;

// Calls visit for every epsilon run starting at `from`, the empty one first.
// path contains the run's arc indices in the input graph.
void for_each_epsilon_run(const EpsilonArcs& epsilons, const ArcIndex& out, int32_t from,
                          std::vector<int32_t>& path, const PathVisitor& visit) {
  visit(from, path);
  const auto s = static_cast<size_t>(from);
  for (int32_t k = out.offsets[s]; k < out.offsets[s + 1]; ++k) {
    const int32_t arc = out.arcs[static_cast<size_t>(k)];
    path.push_back(epsilons.original[static_cast<size_t>(arc)]);
    for_each_epsilon_run(epsilons, out, epsilons.graph.destinations()[static_cast<size_t>(arc)],
                         path, visit);
    path.pop_back();
  }
}

struct NewArc {
  int32_t source;
  int32_t destination;  // -1 stands for the new accept state
  int32_t input_label;
  int32_t output_label;
  std::vector<int32_t> origins;
};

}  // namespace

Graph remove_epsilon(const Graph& graph) {
  const EpsilonArcs epsilons = epsilon_subgraph(graph);
  topological_order(epsilons.graph, "remove_epsilon (epsilon arcs only)");
  const ArcIndex epsilon_out = out_arcs(epsilons.graph);
  const ArcIndex out = out_arcs(graph);

  // Non-empty epsilon runs from each state to an accept state.
  std::vector<std::vector<std::vector<int32_t>>> tails(static_cast<size_t>(graph.num_states()));
  std::vector<int32_t> path;
  for (int32_t r = 0; r < graph.num_states(); ++r) {
    for_each_epsilon_run(epsilons, epsilon_out, r, path,
                         [&](int32_t end, const std::vector<int32_t>& run) {
                           if (!run.empty() && graph.is_accept(end)) {
                             tails[static_cast<size_t>(r)].push_back(run);
                           }
                         });
  }

  std::vector<NewArc> arcs;
  for (int32_t x = 0; x < graph.num_states(); ++x) {
    for_each_epsilon_run(epsilons, epsilon_out, x, path,
                         [&](int32_t p, const std::vector<int32_t>& run) {
      if (!run.empty() && graph.is_start(x) && graph.is_accept(p)) {
        arcs.push_back({x, -1, kEpsilon, kEpsilon, run});
      }
      for (int32_t k = out.offsets[static_cast<size_t>(p)]; k < out.offsets[static_cast<size_t>(p) + 1]; ++k) {
        const int32_t a = out.arcs[static_cast<size_t>(k)];
        if (is_epsilon_arc(graph, a)) {
          continue;
        }
        std::vector<int32_t> origins = run;
        origins.push_back(a);
        const int32_t r = static_cast<int32_t>(graph.destination(a));
        for (const std::vector<int32_t>& tail : tails[static_cast<size_t>(r)]) {
          std::vector<int32_t> folded = origins;
          folded.insert(folded.end(), tail.begin(), tail.end());
          arcs.push_back({x, -1, graph.input_label(a), graph.output_label(a), std::move(folded)});
        }
        arcs.push_back({x, r, graph.input_label(a), graph.output_label(a), std::move(origins)});
      }
    });
  }

  // Emit the states (plus the new accept state if any arc needs it) and arcs.
  Graph result;
  for (int64_t s = 0; s < graph.num_states(); ++s) {
    result.add_state(graph.is_start(s), graph.is_accept(s));
  }
  int64_t final_state = -1;
  ArcOrigins origins;
  for (const NewArc& arc : arcs) {
    if (arc.destination < 0 && final_state < 0) {
      final_state = result.add_state(/*start=*/false, /*accept=*/true);
    }
    result.add_arc(arc.source, arc.destination < 0 ? final_state : arc.destination,
                   arc.input_label, arc.output_label, 0.0f);
    for (int32_t a : arc.origins) {
      origins.add(0, a);
    }
    origins.end_arc();
  }
  tie_derived_energies(result, {&graph}, std::move(origins), "remove_epsilon");
  return result;
}

}  // namespace ember::graph
