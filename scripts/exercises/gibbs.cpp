// Exercise `gibbs`: the Gibbs distribution over labels.
//
// Write gibbs and log_gibbs (declared in ebm/energy.h), along dim of the
// energies (for a classifier, E [B, C] with dim = -1, the labels):
//
//   p_k     = exp(-beta E_k) / sum_j exp(-beta E_j)
//   log p_k = -beta E_k - log sum_j exp(-beta E_j)
//
// Contract:
// - beta must be finite and >= 0 (beta = 0 gives the uniform distribution);
//   otherwise throw std::invalid_argument naming the function and beta.
//   detail::check_beta(op, beta, /*allow_zero=*/true) does that.
// - Stay finite where the naive formula overflows: energies of 1e37 with
//   beta = 100 must still give probabilities that sum to 1, and log_gibbs
//   must not take the log of a probability that underflowed to 0.
// - Both are differentiable: build them from autodiff ops (softmax,
//   log_softmax, min, arithmetic) and the gradient comes with them.
//
// Hint: p does not change when every E_k moves by the same constant. Which
// constant makes the largest exponent exactly 0? Should its gradient flow?
// (detail::scaled_shifted in ebm/energy_detail.h is the reference's answer;
// try it without.)
//
// Where it runs: the tests only; the NLL loss of ember landscape uses the free
// energy, whose gradient is this distribution. Tests: [gibbs].
#include "ebm/energy.h"

#include <stdexcept>

#include "ebm/energy_detail.h"

namespace ember::ebm {

Tensor gibbs([[maybe_unused]] const Tensor& energies, [[maybe_unused]] float beta,
             [[maybe_unused]] int64_t dim) {
  throw std::logic_error("exercise gibbs: gibbs is not written yet");
}

Tensor log_gibbs([[maybe_unused]] const Tensor& energies, [[maybe_unused]] float beta,
                 [[maybe_unused]] int64_t dim) {
  throw std::logic_error("exercise gibbs: log_gibbs is not written yet");
}

}  // namespace ember::ebm
