// Alignment losses written as graphs: an emissions graph from the network's
// energies, a target graph, their intersection, and its free energy.
//
// These compute the same values as the dense dynamic programs of the
// alignment module. The graph route is slower, but it composes with anything
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
#include "ebm/alignment/losses.h"
#include "ebm/alignment/topology.h"
#include "ebm/graph/graph.h"

namespace ember::graph {

// The target graph of one label sequence under a topology.
Graph target_graph(const std::vector<int64_t>& target, const alignment::Topology& topology);

// The acceptor of every window sequence that some target aligns to: for ctc
// any sequence of symbols, for the separator topology runs of one
// non-separator symbol each followed by a run of separators.
Graph all_targets_graph(int64_t symbols, const alignment::Topology& topology);

// F_beta(emissions of sample b intersected with its target graph) [B]. With
// E = -log p and the ctc topology this is the CTC loss -log p(y | x).
Tensor target_free_energy(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                          const std::vector<int64_t>& input_lengths, const alignment::Topology& topology,
                          float beta = 1.0f);

// The discriminative forward (NLL) loss [B]: the target's free energy minus
// the free energy over all_targets_graph, i.e. -(1/beta) log p(y | x) under
// the Gibbs distribution over every alignment of every label sequence.
Tensor nll_loss(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                const std::vector<int64_t>& input_lengths, const alignment::Topology& topology,
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

// asg_loss in the form of the alignment loss registry (alignment_losses()):
// targets and lengths from batch, beta and zero_infinity from options (the
// topology is ignored, because ASG has its own). A sample with no valid
// alignment is +inf, or 0 with a zero gradient under zero_infinity.
alignment::AlignmentLossResult asg_alignment_loss(const Tensor& energies,
                                                  const alignment::AlignmentBatch& batch,
                                                  const alignment::AlignmentLossOptions& options,
                                                  const Tensor& transitions);

// An entry for the registry that trains the given transitions [C, C]
// (a parameter the caller owns and hands to its optimizer), e.g.
//   losses["asg"] = make_asg_loss(transitions);
alignment::AlignmentLoss make_asg_loss(const Tensor& transitions);

}  // namespace ember::graph
