// Exercise `nll`: the negative log-likelihood loss and its gradient.
//
// Write nll_loss (declared in ebm/losses.h). For energies E [B, C] (B samples,
// C labels, lower = better) and B correct labels y, the per-sample loss is the
// negative log Gibbs probability of the correct label, scaled by 1/beta:
//
//   L_i = -(1/beta) log p(y_i | x_i)
//       = E[i, y_i] + (1/beta) log sum_k exp(-beta E[i, k])
//
// and dL_i / dE[i, k] = [k = y_i] - p(k | x_i).
//
// Contract:
// - check_energies_and_labels("nll_loss", energies, labels) validates the
//   shapes and labels; beta must be finite and > 0, else throw
//   std::invalid_argument naming nll_loss and beta.
// - Return reduce_loss(per_sample [B], reduction).
// - Stay finite for large beta * E (1e4 and more): never exp a large value.
//
// Two ways to write it, both checked by the same tests:
// 1. Compose autodiff ops (energy_at, logsumexp or free_energy_soft); the
//    gradient above then comes from the ops.
// 2. The full exercise: compute L with plain loops and record a backward that
//    adds g_i ([k = y_i] - p(k | x_i)) into grad_buffer(energies), as in
//    ebm/alignment/path_energy.cpp (Tape::current().record, needs_grad). Then
//    apply reduce_loss to your per-sample op's output.
//
// Where it runs: ember landscape --loss nll and every test that trains with
// the NLL loss. Tests: the tests named after nll and the loss table [losses].
#include "ebm/losses.h"

#include <cmath>
#include <stdexcept>

#include "autodiff/tape.h"
#include "ebm/energy.h"

namespace ember::ebm {

Tensor nll_loss([[maybe_unused]] const Tensor& energies,
                [[maybe_unused]] const std::vector<int64_t>& labels, [[maybe_unused]] float beta,
                [[maybe_unused]] Reduction reduction) {
  throw std::logic_error("exercise nll: nll_loss is not written yet");
}

}  // namespace ember::ebm
