// Alignment losses written as graphs: an emissions graph from the network's
// energies, a target graph, their intersection, and its free energy.
//
// These compute the same values as the dense dynamic programs of the
// alignment module; the graph route is slower but composes with anything
// else written as a graph, such as the learned transitions of ASG.
//
// Every function takes energies E [B, L, C] (lower = better), one target
// per sample, and input_lengths [B] (empty = every sample uses all L
// windows), and returns per-sample values [B]; take mean() for a batch loss.
//
// Legend: B batch, L windows, C symbols, T target length.
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/autodiff.h"
#include "ebm/graph/graph.h"

namespace ember::graph {

enum class TargetTopology {
  separator,  // "cat" -> c+ _+ a+ _+ t+ _+ with the separator symbol
  ctc,        // optional blanks, a blank needed between repeated labels
};

struct TopologyChoice {
  TargetTopology kind = TargetTopology::separator;
  int64_t blank = 26;  // separator or blank symbol
};

// The target graph of one label sequence under a topology.
Graph target_graph(const std::vector<int64_t>& target, const TopologyChoice& topology);

// The acceptor of every window sequence that some target aligns to: for ctc
// any sequence of symbols, for the separator topology runs of one
// non-separator symbol each followed by a run of separators.
Graph all_targets_graph(int64_t symbols, const TopologyChoice& topology);

// F_beta(emissions of sample b intersected with its target graph) [B]. With
// E = -log p and the ctc topology this is the CTC loss -log p(y | x).
Tensor target_free_energy(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                          const std::vector<int64_t>& input_lengths, const TopologyChoice& topology,
                          float beta = 1.0f);

// The discriminative forward (NLL) loss [B]: the target's free energy minus
// the free energy over all_targets_graph, i.e. -(1/beta) log p(y | x) under
// the Gibbs distribution over every alignment of every label sequence.
Tensor nll_loss(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                const std::vector<int64_t>& input_lengths, const TopologyChoice& topology,
                float beta = 1.0f);

// The ASG loss [B] with learned transitions [C, C]: no blank, each label
// repeated one or more times (repeat_graph), every path also paying
// transitions[p, c] for each pair of consecutive windows (p, c),
//   loss = F(E ∩ target ∩ T) - F(E ∩ T),
// so the normaliser runs over every label sequence. Gradients reach both E
// and transitions.
Tensor asg_loss(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                const std::vector<int64_t>& input_lengths, const Tensor& transitions,
                float beta = 1.0f);

}  // namespace ember::graph
