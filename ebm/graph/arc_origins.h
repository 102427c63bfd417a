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
// Products (intersection, composition) use the leaner PairOrigins: at most
// one arc from each side, and no list at all for a side that needs no
// gradient. Used by the operations in functions.h; a graph user never
// needs them.
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

// Origins of a product's output arcs: output arc a stands for arc first[a]
// of the first input plus arc second[a] of the second, where -1 means that
// side did not move (an epsilon move of the other side).
struct PairOrigins {
  std::vector<int32_t> first;   // [A_out]
  std::vector<int32_t> second;  // [A_out]

  void add(int64_t first_arc, int64_t second_arc) {
    first.push_back(static_cast<int32_t>(first_arc));
    second.push_back(static_cast<int32_t>(second_arc));
  }
  void reserve(int64_t arcs) {
    first.reserve(static_cast<size_t>(arcs));
    second.reserve(static_cast<size_t>(arcs));
  }
};

// E_out[a] = E_first[first[a]] + E_second[second[a]] for every output arc,
// a side of -1 adding 0; out has room for one float per output arc.
void sum_pair_energies(const PairOrigins& origins, const float* first, const float* second,
                       float* out);

// grad[arcs[a]] += scale * grad_out[a] for every output arc a that has an
// origin there (arcs[a] >= 0): the backward of one side of a product.
void scatter_pair_gradient(const std::vector<int32_t>& arcs, const float* grad_out, float scale,
                           float* grad);

// tie_derived_energies for a product: E_out[a] = E_first[first[a]] +
// E_second[second[a]]. The tape node keeps only the lists of inputs whose
// energies require grad.
void tie_pair_energies(Graph& output, const Graph& first, const Graph& second,
                       PairOrigins origins, const char* op);

// The linear graph of one path of graph (states 0 .. n, arc i copying
// graph's arc path[i]), with energies tied to the copied arcs. An empty path
// gives one state that is both start and accept.
Graph path_graph(const Graph& graph, const std::vector<int32_t>& path, const char* op);

}  // namespace ember::graph
