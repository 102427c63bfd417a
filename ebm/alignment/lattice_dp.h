// The dense dynamic programs over one sample's state chain, on raw arrays:
// the forward algorithm with its backward pass (posterior occupancy), and
// Viterbi with back-pointers. The autodiff ops in forward.cpp and viterbi.cpp
// call these per sample, spread over threads.
//
// Conventions: E is this sample's energies [L, C] (row stride C); a state s
// emits symbol labels[s], so its energy in window t is E[t, labels[s]].
// The forward algorithm works with log-weights w = -beta E in log space:
//     alpha_t(s) = w_t(s) + log-add over predecessors p of alpha_{t-1}(p)
//     log Z      = log-add over end states s of alpha_{L-1}(s)
// so the free energy is F = -log Z / beta. Viterbi works with energies and
// min: score_t(s) = E_t(s) + min over predecessors of score_{t-1}(p).
//
// Left out on purpose: lattices other than chains with stay / advance / skip
// moves (the graph layer handles general graphs).
#pragma once

#include <cstdint>
#include <vector>

#include "autodiff/kernels/dispatch.h"
#include "ebm/alignment/topology.h"

namespace ember::alignment {

// One sample's alignment problem.
struct ChainProblem {
  const float* energies = nullptr;  // [L, C], row stride C
  int64_t windows = 0;              // L, this sample's input length
  int64_t symbols = 0;              // C
  const Lattice* lattice = nullptr;
};

// Row width W of the tables below: two pads, then the S states padded with
// unreachable ones to a multiple of the vector width.
int64_t dp_row_width(const Lattice& lattice);

// Floats forward_log_partition needs for alpha: L rows of W.
int64_t alpha_size(const ChainProblem& problem);

// Runs the forward algorithm, storing log alpha in alpha ([L, W]: two
// leading -inf pads per row, then states 0 .. S-1, then -inf). Returns
// log Z = log sum over alignments z of exp(-beta E(z)); -inf if there is none.
float forward_log_partition(const ChainProblem& problem, float beta, float* alpha);

// Adds scale * gamma_t(s) to grad[t, labels[s]] for every cell, where
// gamma_t(s) = exp(alpha_t(s) + beta_t(s) - log Z) is the posterior
// probability that the alignment is in state s at window t. That is
// scale * dF/dE, because dF/dE_t(s) = gamma_t(s). Does nothing if log Z = -inf.
void add_posteriors(const ChainProblem& problem, float beta, const float* alpha, float log_z,
                    float scale, float* grad);

// Sizes viterbi_scores needs: L rows of W scores, and back_size back-pointers.
int64_t score_size(const ChainProblem& problem);
int64_t back_size(const ChainProblem& problem);

// Fills score ([L, W]: two leading +inf pads per row) with the minimum
// energy of a partial alignment ending in each cell, and back with the move
// (0 stay, 1 advance, 2 skip) that reached it. Returns the best final state,
// or -1 if no alignment has finite energy.
//
// Tie rule: the smaller move wins (stay over advance over skip), and among
// end states the later one wins. Read back from the end, that keeps the path
// in later states as long as it can, so it advances as early as it can. The
// rule makes the path, and so the gradient, deterministic.
int64_t viterbi_scores(const ChainProblem& problem, float* score, uint8_t* back);

// The state of each window along the best path, given viterbi_scores' output.
// The same three functions run on a given instruction-set variant instead of
// kernels::active_isa(), so tests can compare the variants. Isa::scalar is
// the x86-64 baseline build (which the compiler still vectorises with SSE2).
float forward_log_partition(const ChainProblem& problem, float beta, float* alpha,
                            kernels::Isa isa);
void add_posteriors(const ChainProblem& problem, float beta, const float* alpha, float log_z,
                    float scale, float* grad, kernels::Isa isa);
int64_t viterbi_scores(const ChainProblem& problem, float* score, uint8_t* back,
                       kernels::Isa isa);

std::vector<int64_t> viterbi_backtrace(const ChainProblem& problem, const uint8_t* back,
                                       int64_t final_state);

}  // namespace ember::alignment
