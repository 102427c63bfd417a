// Forward algorithm and posteriors over one state chain. Viterbi, written the
// same way, is in lattice_viterbi.cpp so exercise mode can replace it.
//
// Each window is one pass over the S states. The inner loops read the
// previous row through shifted pointers (s, s-1, s-2) with -inf / +inf pads
// in front, so they have no branches and the compiler vectorises them. The
// pads stand for "no such predecessor". The reference for every function
// here is the brute-force enumeration in the tests.
//
// Each body is compiled three times, for AVX-512, AVX2 with FMA and the
// x86-64 baseline, and kernels::active_isa() picks one (the widest the CPU
// runs, or the one EMBER_SIMD names). The code is the same C++ each time.
//
// GCC keeps floating-point code that might raise an exception out of
// if-converted (branch-free) loops unless told that no code here traps; Ember
// never enables floating-point traps, and the results are the same IEEE ones.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "ebm/alignment/lattice_dp.h"

#include <algorithm>
#include <vector>

#include "autodiff/kernels/dispatch.h"
#include "ebm/alignment/lattice_rows.h"
#include "ebm/alignment/log_space.h"

namespace ember::alignment {

int64_t dp_row_width(const Lattice& lattice) { return padded_states(lattice) + kPad; }

int64_t alpha_size(const ChainProblem& problem) {
  return problem.windows * dp_row_width(*problem.lattice);
}

namespace {

// Rows reused by every call on a thread, so the forward and posteriors of a
// batch do not allocate a handful of vectors per sample.
struct RowScratch {
  std::vector<float> mask;
  std::vector<float> emission;
  std::vector<float> next;
  std::vector<float> current;
  std::vector<float> gamma;
  std::vector<float> successor_mask;
};

RowScratch& row_scratch() {
  thread_local RowScratch scratch;
  return scratch;
}

EMBER_ALWAYS_INLINE float forward_body(const ChainProblem& problem, float beta, float* alpha) {
  const Lattice& lattice = *problem.lattice;
  const int64_t states = lattice.states();
  const int64_t lanes = padded_states(lattice);
  const int64_t width = lanes + kPad;
  if (problem.windows == 0) {
    return lattice.accepts_empty ? 0.0f : -kInf;
  }

  RowScratch& scratch = row_scratch();
  skip_mask(lattice, -kInf, scratch.mask);
  const std::vector<float>& mask = scratch.mask;
  std::vector<float>& emission = scratch.emission;
  emission.resize(static_cast<size_t>(lanes));

  // Window 0: only the start states are open.
  float* first = alpha;
  first[0] = first[1] = -kInf;
  gather_row(problem, 0, -beta, -kInf, emission.data());
  for (int64_t s = 0; s < lanes; ++s) {
    first[kPad + s] = s < lattice.start_states ? emission[s] : -kInf;
  }

  for (int64_t t = 1; t < problem.windows; ++t) {
    const float* previous = alpha + (t - 1) * width;
    float* current = alpha + t * width;
    current[0] = current[1] = -kInf;
    gather_row(problem, t, -beta, -kInf, emission.data());
    const float* stay = previous + kPad;
    const float* advance = previous + kPad - 1;
    const float* skip = previous;
    float* out = current + kPad;
    for (int64_t s = 0; s < lanes; ++s) {
      out[s] = emission[s] + log_add3(stay[s], advance[s], skip[s] + mask[s]);
    }
  }

  // log Z: log-add over the end states of the last window.
  const float* last = alpha + (problem.windows - 1) * width + kPad;
  float log_z = -kInf;
  for (int64_t s = std::max<int64_t>(0, states - lattice.end_states); s < states; ++s) {
    log_z = log_add(log_z, last[s]);
  }
  return log_z;
}

EMBER_ALWAYS_INLINE void posteriors_body(const ChainProblem& problem, float beta,
                                         const float* alpha, float log_z, float scale,
                                         float* grad) {
  if (log_z == -kInf || problem.windows == 0) {
    return;
  }
  const Lattice& lattice = *problem.lattice;
  const int64_t states = lattice.states();
  const int64_t lanes = padded_states(lattice);
  const int64_t width = lanes + kPad;
  const int32_t* labels = lattice.labels.data();

  // next[s] = beta_{t+1}(s) + w_{t+1}(s), with two trailing -inf pads; the
  // successors of s are s (stay), s+1 (advance) and s+2 (skip, if allowed).
  RowScratch& scratch = row_scratch();
  std::vector<float>& next = scratch.next;
  std::vector<float>& current = scratch.current;
  std::vector<float>& emission = scratch.emission;
  std::vector<float>& gamma = scratch.gamma;
  std::vector<float>& successor_mask = scratch.successor_mask;
  next.assign(static_cast<size_t>(width), -kInf);
  current.resize(static_cast<size_t>(lanes));
  emission.resize(static_cast<size_t>(lanes));
  gamma.resize(static_cast<size_t>(lanes));
  successor_mask.assign(static_cast<size_t>(lanes), -kInf);
  skip_mask(lattice, -kInf, scratch.mask);
  const std::vector<float>& mask = scratch.mask;
  for (int64_t s = 0; s + 2 < lanes; ++s) {
    successor_mask[s] = mask[s + 2];
  }

  // beta_{L-1}(s) = 0 on the end states: log of the one empty continuation.
  for (int64_t s = 0; s < lanes; ++s) {
    current[s] = s >= states - lattice.end_states && s < states ? 0.0f : -kInf;
  }

  for (int64_t t = problem.windows - 1; t >= 0; --t) {
    if (t < problem.windows - 1) {
      // beta_t(s) = log-add of next[s], next[s+1], next[s+2] (if s+2 may skip).
      const float* stay = next.data();
      const float* advance = next.data() + 1;
      const float* skip = next.data() + 2;
      const float* skip_mask_row = successor_mask.data();
      float* out = current.data();
      for (int64_t s = 0; s < lanes; ++s) {
        out[s] = log_add3(stay[s], advance[s], skip[s] + skip_mask_row[s]);
      }
    }

    // gamma_t(s) = exp(alpha + beta - log Z); dF/dE_t(s) = gamma_t(s).
    const float* row_alpha = alpha + t * width + kPad;
    for (int64_t s = 0; s < lanes; ++s) {
      gamma[s] = fast_exp(row_alpha[s] + current[s] - log_z);
    }
    float* row_grad = grad + t * problem.symbols;
    for (int64_t s = 0; s < states; ++s) {
      row_grad[labels[s]] += scale * gamma[s];
    }

    gather_row(problem, t, -beta, -kInf, emission.data());
    for (int64_t s = 0; s < lanes; ++s) {
      next[s] = current[s] + emission[s];
    }
  }
}

}  // namespace

int64_t back_size(const ChainProblem& problem) {
  return problem.windows * padded_states(*problem.lattice);
}

int64_t score_size(const ChainProblem& problem) {
  return problem.windows * dp_row_width(*problem.lattice);
}

namespace {

// One wrapper per instruction set around each body, and the dispatch.
#if EMBER_ALIGNMENT_VARIANTS
EMBER_TARGET_AVX512 float forward_avx512(const ChainProblem& problem, float beta, float* alpha) {
  return forward_body(problem, beta, alpha);
}
EMBER_TARGET_AVX2 float forward_avx2(const ChainProblem& problem, float beta, float* alpha) {
  return forward_body(problem, beta, alpha);
}
EMBER_TARGET_AVX512 void posteriors_avx512(const ChainProblem& problem, float beta,
                                           const float* alpha, float log_z, float scale,
                                           float* grad) {
  posteriors_body(problem, beta, alpha, log_z, scale, grad);
}
EMBER_TARGET_AVX2 void posteriors_avx2(const ChainProblem& problem, float beta,
                                       const float* alpha, float log_z, float scale,
                                       float* grad) {
  posteriors_body(problem, beta, alpha, log_z, scale, grad);
}
#endif

}  // namespace

float forward_log_partition(const ChainProblem& problem, float beta, float* alpha,
                            kernels::Isa isa) {
#if EMBER_ALIGNMENT_VARIANTS
  if (isa == kernels::Isa::avx512) {
    return forward_avx512(problem, beta, alpha);
  }
  if (isa == kernels::Isa::avx2) {
    return forward_avx2(problem, beta, alpha);
  }
#endif
  return forward_body(problem, beta, alpha);
}

float forward_log_partition(const ChainProblem& problem, float beta, float* alpha) {
  return forward_log_partition(problem, beta, alpha, kernels::active_isa());
}

void add_posteriors(const ChainProblem& problem, float beta, const float* alpha, float log_z,
                    float scale, float* grad, kernels::Isa isa) {
#if EMBER_ALIGNMENT_VARIANTS
  if (isa == kernels::Isa::avx512) {
    posteriors_avx512(problem, beta, alpha, log_z, scale, grad);
    return;
  }
  if (isa == kernels::Isa::avx2) {
    posteriors_avx2(problem, beta, alpha, log_z, scale, grad);
    return;
  }
#endif
  posteriors_body(problem, beta, alpha, log_z, scale, grad);
}

void add_posteriors(const ChainProblem& problem, float beta, const float* alpha, float log_z,
                    float scale, float* grad) {
  add_posteriors(problem, beta, alpha, log_z, scale, grad, kernels::active_isa());
}

}  // namespace ember::alignment
