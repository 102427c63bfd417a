// Union, concatenation, closure and projection: operations that copy arcs
// and add zero-energy epsilon arcs, so each output arc has at most one origin.
#include <stdexcept>

#include "ebm/graph/arc_origins.h"
#include "ebm/graph/functions.h"

namespace ember::graph {

namespace {

// Copies graph's states (flags optional) and arcs into output with state
// indices shifted by the current state count of output; returns that shift.
int64_t append_copy(Graph& output, ArcOrigins& origins, const Graph& graph, int input,
                    bool keep_start, bool keep_accept) {
  const int64_t offset = output.num_states();
  for (int64_t s = 0; s < graph.num_states(); ++s) {
    output.add_state(keep_start && graph.is_start(s), keep_accept && graph.is_accept(s));
  }
  for (int64_t a = 0; a < graph.num_arcs(); ++a) {
    output.add_arc(offset + graph.source(a), offset + graph.destination(a), graph.input_label(a),
                   graph.output_label(a), 0.0f);
    origins.add(input, a);
    origins.end_arc();
  }
  return offset;
}

// Adds a zero-energy epsilon arc with no origin.
void add_epsilon_arc(Graph& output, ArcOrigins& origins, int64_t source, int64_t destination) {
  output.add_arc(source, destination, kEpsilon, kEpsilon, 0.0f);
  origins.end_arc();
}

std::vector<const Graph*> pointers(const std::vector<Graph>& graphs) {
  std::vector<const Graph*> result;
  for (const Graph& g : graphs) {
    result.push_back(&g);
  }
  return result;
}

Graph project(const Graph& graph, bool output_side, const char* op) {
  Graph result;
  result.reserve(graph.num_states(), graph.num_arcs());
  ArcOrigins origins;
  for (int64_t s = 0; s < graph.num_states(); ++s) {
    result.add_state(graph.is_start(s), graph.is_accept(s));
  }
  for (int64_t a = 0; a < graph.num_arcs(); ++a) {
    const int label = output_side ? graph.output_label(a) : graph.input_label(a);
    result.add_arc(graph.source(a), graph.destination(a), label, 0.0f);
    origins.add(0, a);
    origins.end_arc();
  }
  tie_derived_energies(result, {&graph}, std::move(origins), op);
  return result;
}

}  // namespace

Graph graph_union(const std::vector<Graph>& graphs) {
  Graph result;
  ArcOrigins origins;
  for (size_t i = 0; i < graphs.size(); ++i) {
    append_copy(result, origins, graphs[i], static_cast<int>(i), true, true);
  }
  tie_derived_energies(result, pointers(graphs), std::move(origins), "graph_union");
  return result;
}

Graph concat(const std::vector<Graph>& graphs) {
  Graph result;
  ArcOrigins origins;
  if (graphs.empty()) {
    result.add_state(/*start=*/true, /*accept=*/true);
    tie_derived_energies(result, {}, std::move(origins), "concat");
    return result;
  }

  // Only the first graph's start states and the last graph's accept states
  // stay; each junction gets an epsilon arc per (accept, start) pair.
  std::vector<int64_t> previous_accepts;
  for (size_t i = 0; i < graphs.size(); ++i) {
    const Graph& g = graphs[i];
    const int64_t offset =
        append_copy(result, origins, g, static_cast<int>(i), i == 0, i + 1 == graphs.size());
    if (i > 0) {
      for (int64_t accept : previous_accepts) {
        for (int64_t start : g.start_states()) {
          add_epsilon_arc(result, origins, accept, offset + start);
        }
      }
    }
    previous_accepts.clear();
    for (int64_t accept : g.accept_states()) {
      previous_accepts.push_back(offset + accept);
    }
  }
  tie_derived_energies(result, pointers(graphs), std::move(origins), "concat");
  return result;
}

Graph closure(const Graph& graph) {
  Graph result;
  ArcOrigins origins;
  const int64_t hub = result.add_state(/*start=*/true, /*accept=*/true);
  const int64_t offset = append_copy(result, origins, graph, 0, false, false);
  for (int64_t start : graph.start_states()) {
    add_epsilon_arc(result, origins, hub, offset + start);
  }
  for (int64_t accept : graph.accept_states()) {
    add_epsilon_arc(result, origins, offset + accept, hub);
  }
  tie_derived_energies(result, {&graph}, std::move(origins), "closure");
  return result;
}

Graph project_input(const Graph& graph) { return project(graph, false, "project_input"); }

Graph project_output(const Graph& graph) { return project(graph, true, "project_output"); }

}  // namespace ember::graph
