// Training losses for a sliding-window recognizer, built on the alignment
// ops, each selectable by name through alignment_losses():
//
//   viterbi-energy  V(y): the best alignment's energy alone. It only pushes
//                   energies down, so it collapses (every energy goes to
//                   -inf); kept as the cautionary example.
//   viterbi-ce      sum over windows of the cross-entropy of softmax(-beta E_t)
//                   against the symbol the best alignment puts at window t
//                   (the alignment is held fixed: no gradient through it).
//   nll             F(y) - F(all): the target's free energy minus the free
//                   energy over every label sequence (discriminative forward).
//   ctc             F_ctc(y) on locally normalised energies
//                   E'[t, c] = -(1/beta) log softmax(-beta E[t])_c, which is
//                   -log p(y | x) of the CTC model. The normalisation is part
//                   of the recorded graph, so unnormalised energies get their
//                   exact gradient (nothing is renormalised behind backward).
//   hinge           max(0, F(y) - F(ybar) + margin), ybar the most offending
//                   incorrect label sequence (see most_offending_incorrect).
//                   ybar is chosen by best-alignment energy (zero
//                   temperature) whatever beta is; F(ybar) then uses beta.
//
// Every loss averages its per-sample values over the batch. A sample whose
// target has no valid alignment is counted in `skipped`; its loss is +inf,
// or exactly 0 with a zero gradient when zero_infinity is set.
//
// Shapes: B batch, L windows, C symbols, T target length.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autodiff/tensor.h"
#include "ebm/alignment/topology.h"

namespace ember::alignment {

struct AlignmentLossOptions {
  // The topology of the target (ctc always uses the ctc topology, with this
  // blank index).
  Topology topology = Topology::separator();
  float beta = 1.0f;     // inverse temperature of the free energies and softmax
  float margin = 1.0f;   // hinge margin
  bool zero_infinity = false;
};

struct AlignmentLossResult {
  Tensor loss;          // [] mean of per_sample over the batch
  Tensor per_sample;    // [B]
  int64_t skipped = 0;  // samples whose target has no valid alignment
};

using AlignmentLoss = std::function<AlignmentLossResult(
    const Tensor& energies, const AlignmentBatch& batch, const AlignmentLossOptions& options)>;

// The losses by name: viterbi-energy, viterbi-ce, nll, ctc, hinge.
const std::map<std::string, AlignmentLoss>& alignment_losses();

// Looks a loss up by name and applies it; an unknown name throws
// std::invalid_argument listing the known ones.
AlignmentLossResult alignment_loss(const std::string& name, const Tensor& energies,
                                   const AlignmentBatch& batch,
                                   const AlignmentLossOptions& options = {});

AlignmentLossResult viterbi_energy_loss(const Tensor& energies, const AlignmentBatch& batch,
                                        const AlignmentLossOptions& options);
AlignmentLossResult viterbi_cross_entropy_loss(const Tensor& energies, const AlignmentBatch& batch,
                                               const AlignmentLossOptions& options);
AlignmentLossResult nll_loss(const Tensor& energies, const AlignmentBatch& batch,
                             const AlignmentLossOptions& options);
AlignmentLossResult ctc_loss(const Tensor& energies, const AlignmentBatch& batch,
                             const AlignmentLossOptions& options);
AlignmentLossResult hinge_loss(const Tensor& energies, const AlignmentBatch& batch,
                               const AlignmentLossOptions& options);

}  // namespace ember::alignment
