// ArcOrigins: how an operation's output arcs are made of its input arcs, and
// the one tape node that turns that record into gradients.
//
// Every graph operation in Ember keeps each accepting path's energy. An
// output arc's energy is the sum of the energies of the input arcs it
// stands for. That is one arc for union or projection, one from each side
// for an intersection, a whole epsilon run for epsilon removal, and none
// for a new zero-energy arc. The operation lists those origins while it
// builds the output. tie_derived_energies computes the output energies
// from them and records the backward
//     dE_out[a] / dE_in[k] = number of times arc k appears in a's origins.
// Used by the operations in functions.h; a graph user never needs it.
#pragma once

#include <cstdint>
#include <vector>

#include "ebm/graph/graph.h"

namespace ember::graph {

// Origins of each output arc as compressed rows: output arc a is the sum of
// input arcs arcs[offsets[a] .. offsets[a + 1]) of inputs inputs[...].
struct ArcOrigins {
  std::vector<int32_t> offsets{0};  // [A_out + 1]
  std::vector<int32_t> inputs;      // which input graph
  std::vector<int32_t> arcs;        // arc index in that input graph

  // Adds arc `arc` of input `input` to the output arc being described.
  void add(int input, int64_t arc) {
    inputs.push_back(input);
    arcs.push_back(static_cast<int32_t>(arc));
  }
  // Closes the current output arc's list.
  void end_arc() { offsets.push_back(static_cast<int32_t>(arcs.size())); }
  int64_t num_output_arcs() const { return static_cast<int64_t>(offsets.size()) - 1; }
};

// Computes output's arc energies from the origins in inputs and ties them
// to output. Records one tape node named op if any input's energies require
// grad. output must have exactly origins.num_output_arcs() arcs.
void tie_derived_energies(Graph& output, const std::vector<const Graph*>& inputs,
                          ArcOrigins origins, const char* op);

// The linear graph of one path of graph (states 0 .. n, arc i copying
// graph's arc path[i]), with energies tied to the copied arcs. An empty path
// gives one state that is both start and accept.
Graph path_graph(const Graph& graph, const std::vector<int32_t>& path, const char* op);

}  // namespace ember::graph
