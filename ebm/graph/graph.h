// Graph: a weighted finite-state transducer whose arc energies live in a
// tensor, so losses written with graphs are differentiable by backward().
//
// A graph has S states (any of them may be start or accept states) and A arcs.
// Arc a goes from source(a) to destination(a), reads input_label(a), writes
// output_label(a) and costs energy(a); lower energy is better. The label
// kEpsilon (-1) consumes nothing. An acceptor is a transducer whose input
// and output labels agree on every arc. The energy of a path is the sum of
// its arc energies. An accepting path runs from a start state to an accept
// state, and start and accept states add no energy of their own.
//
// Storage is compact: one contiguous array per arc field (structure of
// arrays), plus the arc energies as one float tensor [A]. That tensor is the
// graph's link to the tape: builders tie it to network outputs (the
// emissions graph is a view of E [L, C]), and every graph operation records
// one node that maps its inputs' energy tensors to its output's, so
// gradients reach the network and learned transition matrices through any
// chain of operations.
//
// Left out on purpose: final weights on accept states (an accepting path
// ends with zero extra energy), semirings other than the tropical (Viterbi)
// and log (free energy) ones, and symbol tables inside the graph (the text
// formats in io.h take symbol names separately).
//
// Legend: S states, A arcs, L windows, C symbols, T target length.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "autodiff/autodiff.h"

namespace ember::graph {

// The label that consumes (or writes) nothing.
inline constexpr int kEpsilon = -1;

class Graph {
 public:
  Graph() = default;

  // Adds a state and returns its index.
  int64_t add_state(bool start = false, bool accept = false);
  // Adds an acceptor arc (input and output label equal) and returns its index.
  int64_t add_arc(int64_t source, int64_t destination, int label, float energy = 0.0f);
  // Adds a transducer arc and returns its index. Inline, because graph
  // operations add every output arc through it.
  int64_t add_arc(int64_t source, int64_t destination, int input_label, int output_label,
                  float energy) {
    if (tied_ || source < 0 || source >= num_states() || destination < 0 ||
        destination >= num_states() || input_label < kEpsilon || output_label < kEpsilon) {
      throw_invalid_arc(source, destination, input_label, output_label);
    }
    sources_.push_back(static_cast<int32_t>(source));
    destinations_.push_back(static_cast<int32_t>(destination));
    input_labels_.push_back(input_label);
    output_labels_.push_back(output_label);
    pending_energies_.resize(sources_.size() - 1, 0.0f);  // arcs from add_arcs have energy 0
    pending_energies_.push_back(energy);
    if (energies_.defined()) {
      energies_ = Tensor();
    }
    return num_arcs() - 1;
  }
  // Adds acceptor arcs a = 0 .. n-1 from sources[a] to destinations[a]
  // reading labels[a], all of energy 0, checked in one pass; for builders
  // and operations that make many arcs at once.
  void add_arcs(std::span<const int32_t> sources, std::span<const int32_t> destinations,
                std::span<const int32_t> labels);
  // The same, but a graph with no arcs yet takes over the arrays instead of
  // copying them.
  void add_arcs(std::vector<int32_t>&& sources, std::vector<int32_t>&& destinations,
                std::vector<int32_t>&& labels);
  void make_start(int64_t state);
  void make_accept(int64_t state);

  int64_t num_states() const { return static_cast<int64_t>(start_flags_.size()); }
  int64_t num_arcs() const { return static_cast<int64_t>(sources_.size()); }
  bool is_start(int64_t state) const;
  bool is_accept(int64_t state) const;
  // Start and accept states in increasing order.
  std::vector<int64_t> start_states() const;
  std::vector<int64_t> accept_states() const;

  int64_t source(int64_t arc) const { return sources_[checked_arc(arc)]; }
  int64_t destination(int64_t arc) const { return destinations_[checked_arc(arc)]; }
  int input_label(int64_t arc) const { return input_labels_[checked_arc(arc)]; }
  int output_label(int64_t arc) const { return output_labels_[checked_arc(arc)]; }
  float energy(int64_t arc) const;
  // True if every arc's input and output labels agree.
  bool is_acceptor() const;

  // The arc energies, shape [A]. For a graph built by hand this is a leaf
  // tensor made from the energies given to add_arc.
  const Tensor& energies() const;
  // Marks the energies of a graph built by hand as parameters, so backward
  // fills energies().grad(); call it once every arc is added.
  Graph& set_requires_grad(bool requires_grad);
  // Ties the arc energies to a tensor [A] (for example a view of a network's
  // output), so gradients flow into it. Adding arcs afterwards throws.
  void tie_energies(const Tensor& energies);

  // The arc fields as contiguous arrays, each of length A.
  const std::vector<int32_t>& sources() const { return sources_; }
  const std::vector<int32_t>& destinations() const { return destinations_; }
  const std::vector<int32_t>& input_labels() const { return input_labels_; }
  const std::vector<int32_t>& output_labels() const { return output_labels_; }
  // One flag per state, 1 for start (accept) states.
  const std::vector<uint8_t>& start_flags() const { return start_flags_; }
  const std::vector<uint8_t>& accept_flags() const { return accept_flags_; }

  // Reserves room for states and arcs, for builders that know the sizes.
  void reserve(int64_t states, int64_t arcs);

 private:
  size_t checked_arc(int64_t arc) const {
    if (arc < 0 || arc >= num_arcs()) {
      throw_arc_out_of_range(arc);
    }
    return static_cast<size_t>(arc);
  }
  size_t checked_state(int64_t state, const char* op) const {
    if (state < 0 || state >= num_states()) {
      throw_state_out_of_range(state, op);
    }
    return static_cast<size_t>(state);
  }
  // Throws std::invalid_argument unless the arrays of add_arcs have one
  // entry per arc and describe valid arcs.
  void check_new_arcs(std::span<const int32_t> sources, std::span<const int32_t> destinations,
                      std::span<const int32_t> labels) const;
  [[noreturn]] void throw_arc_out_of_range(int64_t arc) const;
  [[noreturn]] void throw_state_out_of_range(int64_t state, const char* op) const;
  [[noreturn]] void throw_invalid_arc(int64_t source, int64_t destination, int input_label,
                                      int output_label) const;

  std::vector<uint8_t> start_flags_;
  std::vector<uint8_t> accept_flags_;
  std::vector<int32_t> sources_;
  std::vector<int32_t> destinations_;
  std::vector<int32_t> input_labels_;
  std::vector<int32_t> output_labels_;
  // Energies given to add_arc, until energies() wraps them in a tensor. Arcs
  // past its end (added by add_arcs) have energy 0.
  std::vector<float> pending_energies_;
  mutable Tensor energies_;
  bool tied_ = false;
};

// Out-going arcs of every state as compressed rows: the arcs leaving state s
// are arcs[offsets[s] .. offsets[s + 1]), in increasing arc order.
struct ArcIndex {
  std::vector<int32_t> offsets;  // [S + 1]
  std::vector<int32_t> arcs;     // [A]
};
// Builds the out-going (by source) or in-coming (by destination) arc index.
ArcIndex out_arcs(const Graph& graph);
ArcIndex in_arcs(const Graph& graph);

// States in topological order (every arc goes from an earlier state to a
// later one). Throws std::invalid_argument naming op and a state on a cycle
// if the graph is cyclic.
std::vector<int32_t> topological_order(const Graph& graph, const char* op);
// True if the graph has no cycle (self-loops count as cycles).
bool is_acyclic(const Graph& graph);

}  // namespace ember::graph
