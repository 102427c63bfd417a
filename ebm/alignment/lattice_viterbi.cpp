// Viterbi with back-pointers over one state chain, declared in lattice_dp.h.
// Exercise `viterbi` replaces this file: see docs/exercises.md.
//
// The body is written like the forward algorithm in lattice_dp.cpp: shifted
// pointers into the previous row, pads for missing predecessors, selects in
// place of branches, and one compiled copy per instruction set.
//
// GCC keeps floating-point code that might raise an exception out of
// if-converted (branch-free) loops unless told that no code here traps; Ember
// never enables floating-point traps, and the results are the same IEEE ones.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "ebm/alignment/lattice_dp.h"

#include <algorithm>
#include <cassert>

#include "autodiff/kernels/dispatch.h"
#include "ebm/alignment/lattice_rows.h"
#include "ebm/alignment/log_space.h"

namespace ember::alignment {

namespace {

EMBER_ALWAYS_INLINE int64_t viterbi_body(const ChainProblem& problem, float* score,
                                         uint8_t* back) {
  const Lattice& lattice = *problem.lattice;
  const int64_t states = lattice.states();
  const int64_t lanes = padded_states(lattice);
  const int64_t width = lanes + kPad;
  if (problem.windows == 0 || states == 0) {
    return -1;
  }

  const std::vector<float> mask = skip_mask(lattice, kInf);
  std::vector<float> emission(lanes);

  float* first = score;
  first[0] = first[1] = kInf;
  gather_row(problem, 0, 1.0f, kInf, emission.data());
  for (int64_t s = 0; s < lanes; ++s) {
    first[kPad + s] = s < lattice.start_states ? emission[s] : kInf;
    back[s] = 0;
  }

  for (int64_t t = 1; t < problem.windows; ++t) {
    const float* previous = score + (t - 1) * width;
    float* current = score + t * width;
    current[0] = current[1] = kInf;
    gather_row(problem, t, 1.0f, kInf, emission.data());
    const float* stay = previous + kPad;
    const float* advance = previous + kPad - 1;
    const float* skip = previous;
    float* out = current + kPad;
    uint8_t* moves = back + t * lanes;
    for (int64_t s = 0; s < lanes; ++s) {
      // Ties go to the smaller move: each <= prefers advance over skip, then
      // stay over the better of the two. Selects, not ifs, keep it branch-free.
      const float a0 = stay[s];
      const float a1 = advance[s];
      const float a2 = skip[s] + mask[s];
      const bool advance_beats_skip = a1 <= a2;
      const float best_moved = advance_beats_skip ? a1 : a2;
      const bool take_stay = a0 <= best_moved;
      out[s] = emission[s] + (take_stay ? a0 : best_moved);
      const int move = take_stay ? 0 : (advance_beats_skip ? 1 : 2);
      moves[s] = static_cast<uint8_t>(move);
    }
  }

  // Among end states the later one wins ties.
  const float* last = score + (problem.windows - 1) * width + kPad;
  int64_t final_state = -1;
  float best = kInf;
  for (int64_t s = states - 1; s >= std::max<int64_t>(0, states - lattice.end_states); --s) {
    if (last[s] < best) {
      best = last[s];
      final_state = s;
    }
  }
  return final_state;
}

#if EMBER_ALIGNMENT_VARIANTS
EMBER_TARGET_AVX512 int64_t viterbi_avx512(const ChainProblem& problem, float* score,
                                           uint8_t* back) {
  return viterbi_body(problem, score, back);
}
EMBER_TARGET_AVX2 int64_t viterbi_avx2(const ChainProblem& problem, float* score,
                                       uint8_t* back) {
  return viterbi_body(problem, score, back);
}
#endif

}  // namespace

int64_t viterbi_scores(const ChainProblem& problem, float* score, uint8_t* back,
                       kernels::Isa isa) {
#if EMBER_ALIGNMENT_VARIANTS
  if (isa == kernels::Isa::avx512) {
    return viterbi_avx512(problem, score, back);
  }
  if (isa == kernels::Isa::avx2) {
    return viterbi_avx2(problem, score, back);
  }
#endif
  return viterbi_body(problem, score, back);
}

int64_t viterbi_scores(const ChainProblem& problem, float* score, uint8_t* back) {
  return viterbi_scores(problem, score, back, kernels::active_isa());
}

std::vector<int64_t> viterbi_backtrace(const ChainProblem& problem, const uint8_t* back,
                                       int64_t final_state) {
  std::vector<int64_t> path(problem.windows, -1);
  if (final_state < 0) {
    return path;
  }
  const int64_t lanes = padded_states(*problem.lattice);
  int64_t s = final_state;
  for (int64_t t = problem.windows - 1; t >= 0; --t) {
    path[t] = s;
    s -= back[t * lanes + s];
  }
  assert(path[0] < problem.lattice->start_states);
  return path;
}

}  // namespace ember::alignment
