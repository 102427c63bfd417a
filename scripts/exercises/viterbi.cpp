// Exercise `viterbi`: the min-sum dynamic program with back-pointers.
//
// The homework's program runs on a path matrix pm [L, S] (L windows, S
// columns, one per symbol of the separated target):
//
//   dp[0, 0] = pm[0, 0]                      (a path starts in column 0)
//   dp[i, j] = min(dp[i-1, j], dp[i-1, j-1]) + pm[i, j]
//
// and the best path ends in column S - 1 of the last window. Ember runs the
// same program over a state chain (ebm/alignment/lattice_dp.h), which also
// covers the CTC topology. State s emits symbol lattice.labels[s], so its
// energy in window t is problem.energies[t * problem.symbols + labels[s]].
// It is reached by one of three moves from the previous window:
//
//   0 stay      from s
//   1 advance   from s - 1
//   2 skip      from s - 2, only where lattice.can_skip[s] is 1
//
// A path starts in a state < lattice.start_states and ends in one of the last
// lattice.end_states states. (For chain_lattice, the homework's case, both
// are 1 and can_skip is all 0, which is exactly the program above.)
//
// Write viterbi_scores and viterbi_backtrace:
//
// - Table layout. W = dp_row_width(lattice) floats per window; row t starts
//   at score + t * W with two pads, so state s sits at score[t * W + 2 + s].
//   Fill the pads and every unreachable cell with +inf (kInf, in
//   log_space.h). Back-pointers: back[t * P + s] = the move (0, 1 or 2) into
//   state s at window t, with P = W - 2 (row 0 can hold 0).
// - Return the end state with the lowest score, or -1 when every end state is
//   +inf, when problem.windows is 0, or when the lattice has no states.
// - Ties, which the tests check: the smaller move wins (stay over advance
//   over skip), and among end states the later one wins.
// - viterbi_backtrace returns the state of each window, reading the moves
//   back from final_state: state at t-1 = state at t - move at t. If
//   final_state is -1, return problem.windows entries of -1.
//
// Where it runs: viterbi() and viterbi_path_matrix() call these for every
// sample, and with them the viterbi-energy and viterbi-ce losses of
// ember train and its Viterbi plots. Tests: [alignment][viterbi] and the
// instruction-set comparison [lattice_dp] (every instruction set runs your
// code here, so that one compares your code with itself).
#include "ebm/alignment/lattice_dp.h"

#include <stdexcept>

#include "ebm/alignment/log_space.h"

namespace ember::alignment {

int64_t viterbi_scores([[maybe_unused]] const ChainProblem& problem,
                       [[maybe_unused]] float* score, [[maybe_unused]] uint8_t* back) {
  // Hint: window 0 first (start states get their energy, the rest +inf),
  // then for t >= 1 and each state take the best allowed predecessor of
  // row t - 1, add the energy and store the move.
  throw std::logic_error("exercise viterbi: viterbi_scores is not written yet");
}

std::vector<int64_t> viterbi_backtrace([[maybe_unused]] const ChainProblem& problem,
                                       [[maybe_unused]] const uint8_t* back,
                                       [[maybe_unused]] int64_t final_state) {
  throw std::logic_error("exercise viterbi: viterbi_backtrace is not written yet");
}

// Every instruction set runs the code above: nothing to write here.
int64_t viterbi_scores(const ChainProblem& problem, float* score, uint8_t* back,
                       kernels::Isa /*isa*/) {
  return viterbi_scores(problem, score, back);
}

}  // namespace ember::alignment
