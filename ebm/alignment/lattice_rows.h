// Row layout and helpers shared by the chain programs in lattice_dp.cpp and
// lattice_viterbi.cpp; internal to ebm/alignment (no public header includes it).
//
// A dynamic-program table has one row of W = kPad + padded_states floats per
// window: two pads that stand for "no predecessor", then the S states, then
// unreachable states up to a multiple of kLanes.
#pragma once

#include <cstdint>
#include <vector>

#include "ebm/alignment/lattice_dp.h"

#if defined(__GNUC__) && defined(__x86_64__)
#define EMBER_ALIGNMENT_VARIANTS 1
#define EMBER_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define EMBER_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma")))
#else
#define EMBER_ALIGNMENT_VARIANTS 0
#endif

namespace ember::alignment {

inline constexpr int64_t kPad = 2;
// Rows are padded to a multiple of the widest vector (16 floats), so the
// vectorised loops never fall back to a scalar remainder; padded states emit
// `blocked` (-inf weight, +inf energy) and so are never on a path.
inline constexpr int64_t kLanes = 16;

inline int64_t padded_states(const Lattice& lattice) {
  return (lattice.states() + kLanes - 1) / kLanes * kLanes;
}

// Writes row t's emissions scaled by factor, out[s] = factor * E[t, labels[s]],
// and `blocked` for the padded states.
inline void gather_row(const ChainProblem& problem, int64_t t, float factor, float blocked, float* out) {
  const float* row = problem.energies + t * problem.symbols;
  const int32_t* labels = problem.lattice->labels.data();
  const int64_t states = problem.lattice->states();
  for (int64_t s = 0; s < states; ++s) {
    out[s] = factor * row[labels[s]];
  }
  for (int64_t s = states; s < padded_states(*problem.lattice); ++s) {
    out[s] = blocked;
  }
}

// skip_mask[s] = 0 where s-2 -> s is allowed, else `blocked`, so adding it to
// a score removes the move. Padded to padded_states.
// The second form fills a caller's vector, so a reused one allocates nothing.
inline void skip_mask(const Lattice& lattice, float blocked, std::vector<float>& mask) {
  mask.assign(static_cast<size_t>(padded_states(lattice)), blocked);
  for (int64_t s = 0; s < lattice.states(); ++s) {
    mask[s] = lattice.can_skip[s] ? 0.0f : blocked;
  }
}

inline std::vector<float> skip_mask(const Lattice& lattice, float blocked) {
  std::vector<float> mask;
  skip_mask(lattice, blocked, mask);
  return mask;
}

}  // namespace ember::alignment
