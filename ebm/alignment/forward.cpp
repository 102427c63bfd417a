// The forward-algorithm ops. free_energy and free_energy_path_matrix run the
// chain dynamic program of lattice_dp.cpp per sample over the threads, keep
// alpha for backward, and compute the posteriors in backward.
// free_energy_all runs a small dynamic program over C symbol states per
// window in scalar code (O(L C) per sample).
#include "ebm/alignment/forward.h"

#include <cmath>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/tape.h"
#include "ebm/alignment/batch_lattices.h"
#include "ebm/alignment/lattice_dp.h"
#include "ebm/alignment/log_space.h"
#include "ebm/alignment/parallel.h"

namespace ember::alignment {

namespace {

void check_beta(float beta, const char* op) {
  if (!(beta > 0.0f) || std::isinf(beta)) {
    throw std::invalid_argument(
        fmt::format("{}: beta = {} must be a finite inverse temperature > 0", op, beta));
  }
}

// Everything backward needs from one forward pass over the chains.
struct ChainForwardState {
  std::vector<Lattice> lattices;
  std::vector<int64_t> input_lengths;
  std::vector<int64_t> alpha_offsets;  // [B + 1] where each sample's alpha starts
  std::vector<float> alpha;
  std::vector<float> log_z;            // [B]
};

// Samples per thread below which starting a thread does not pay off.
constexpr int64_t kMinSamplesPerThread = 2;

// The shared body of free_energy and free_energy_path_matrix: E [B, L, C],
// one lattice per sample -> F [B].
Tensor chain_free_energy(const Tensor& energies, std::vector<Lattice> lattices,
                         std::vector<int64_t> input_lengths, float beta, const char* op) {
  const int64_t batch = energies.size(0);
  const int64_t windows = energies.size(1);
  const int64_t symbols = energies.size(2);

  auto state = std::make_shared<ChainForwardState>();
  state->lattices = std::move(lattices);
  state->input_lengths = std::move(input_lengths);
  state->alpha_offsets.assign(batch + 1, 0);
  const float* data = energies.data();
  auto problem = [&, data](int64_t b) {
    return ChainProblem{data + b * windows * symbols, state->input_lengths[b], symbols,
                        &state->lattices[b]};
  };
  for (int64_t b = 0; b < batch; ++b) {
    state->alpha_offsets[b + 1] = state->alpha_offsets[b] + alpha_size(problem(b));
  }
  state->alpha.resize(state->alpha_offsets[batch]);
  state->log_z.assign(batch, 0.0f);

  parallel_for(batch, kMinSamplesPerThread, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      state->log_z[b] =
          forward_log_partition(problem(b), beta, state->alpha.data() + state->alpha_offsets[b]);
    }
  });

  // F = -log Z / beta; log Z = -inf gives +inf.
  Tensor free = zeros({batch});
  float* out = free.mutable_data();
  for (int64_t b = 0; b < batch; ++b) {
    out[b] = -state->log_z[b] / beta;
  }

  if (needs_grad({&energies})) {
    // dF[b]/dE[b, t, c] = sum of the posteriors gamma_t(s) of states s emitting c.
    Tape::current().record(op, {energies}, free, [energies, state, beta](const Tensor& grad_free) {
      float* grad = grad_buffer(energies);
      const float* g = grad_free.data();
      const float* data = energies.data();
      const int64_t batch = energies.size(0);
      const int64_t windows = energies.size(1);
      const int64_t symbols = energies.size(2);
      parallel_for(batch, kMinSamplesPerThread, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          if (g[b] == 0.0f) {
            continue;
          }
          const ChainProblem problem{data + b * windows * symbols, state->input_lengths[b],
                                     symbols, &state->lattices[b]};
          add_posteriors(problem, beta, state->alpha.data() + state->alpha_offsets[b],
                         state->log_z[b], g[b], grad + b * windows * symbols);
        }
      });
    });
  }
  return free;
}

}  // namespace

Tensor free_energy(const Tensor& energies, const AlignmentBatch& batch, const Topology& topology,
                   float beta) {
  check_beta(beta, "free_energy");
  const CheckedBatch checked = check_batch(energies, batch, "free_energy");
  return chain_free_energy(energies, target_lattices(checked, topology), checked.input_lengths,
                           beta, "free_energy");
}

Tensor free_energy_path_matrix(const Tensor& path_matrix, const std::vector<int64_t>& input_lengths,
                               const std::vector<int64_t>& column_lengths, float beta) {
  check_beta(beta, "free_energy_path_matrix");
  const CheckedBatch checked =
      check_energies(path_matrix, input_lengths, "free_energy_path_matrix");
  return chain_free_energy(
      path_matrix, path_matrix_lattices(checked, column_lengths, "free_energy_path_matrix"),
      checked.input_lengths, beta, "free_energy_path_matrix");
}

// ------------------------------------------------------------ all label sequences

namespace {

// log-add over a row of n values.
float log_sum_row(const float* values, int64_t n) {
  float m = -kInf;
  for (int64_t c = 0; c < n; ++c) {
    m = std::max(m, values[c]);
  }
  if (m == -kInf) {
    return -kInf;
  }
  float total = 0.0f;
  for (int64_t c = 0; c < n; ++c) {
    total += std::exp(values[c] - m);
  }
  return m + std::log(total);
}

// log-add over every symbol state except the separator.
float log_sum_symbols(const float* values, int64_t n, int64_t separator) {
  float m = -kInf;
  for (int64_t c = 0; c < n; ++c) {
    m = c == separator ? m : std::max(m, values[c]);
  }
  if (m == -kInf) {
    return -kInf;
  }
  float total = 0.0f;
  for (int64_t c = 0; c < n; ++c) {
    total += c == separator ? 0.0f : std::exp(values[c] - m);
  }
  return m + std::log(total);
}

// One step of the separator topology's all-sequences graph, whose states are
// the C symbols: a symbol state is entered from itself or the separator, the
// separator from itself or any symbol. out[q] = w[q] + log-add of in[p] over
// the predecessors p of q. Used forward (alpha, w = this window's weights)
// and backward (in = beta + w of the next window, w = 0), because the graph
// is its own reverse.
void separator_step(const float* in, const float* w, int64_t symbols, int64_t separator,
                    float* out) {
  const float from_symbols = log_sum_symbols(in, symbols, separator);
  for (int64_t q = 0; q < symbols; ++q) {
    const float weight = w == nullptr ? 0.0f : w[q];
    const float other = q == separator ? from_symbols : in[separator];
    out[q] = weight + log_add(in[q], other);
  }
}

// log Z over all label sequences of one sample, and optionally the gradient
// scale * dF/dE added to grad. E is [L, C].
float all_sequences(const float* energies, int64_t windows, int64_t symbols,
                    const Topology& topology, float beta, float scale, float* grad) {
  if (windows == 0) {
    return 0.0f;  // the empty label sequence, aligned by the empty path
  }
  std::vector<float> w(windows * symbols);
  for (int64_t i = 0; i < windows * symbols; ++i) {
    w[i] = -beta * energies[i];
  }

  if (topology.kind == TopologyKind::ctc) {
    // log Z = sum_t log-add_c w[t, c]; dF/dE[t, c] = softmax(w[t])_c.
    float log_z = 0.0f;
    for (int64_t t = 0; t < windows; ++t) {
      const float row = log_sum_row(&w[t * symbols], symbols);
      log_z += row;
      if (grad != nullptr && row != -kInf) {
        for (int64_t c = 0; c < symbols; ++c) {
          grad[t * symbols + c] += scale * std::exp(w[t * symbols + c] - row);
        }
      }
    }
    return log_z;
  }

  // Separator topology: start on a symbol, end on the separator.
  const int64_t separator = topology.blank;
  std::vector<float> alpha(windows * symbols);
  for (int64_t q = 0; q < symbols; ++q) {
    alpha[q] = q == separator ? -kInf : w[q];
  }
  for (int64_t t = 1; t < windows; ++t) {
    separator_step(&alpha[(t - 1) * symbols], &w[t * symbols], symbols, separator,
                   &alpha[t * symbols]);
  }
  const float log_z = alpha[(windows - 1) * symbols + separator];
  if (grad == nullptr || log_z == -kInf) {
    return log_z;
  }

  // beta_t(q) = log-add over successors r of beta_{t+1}(r) + w_{t+1}(r);
  // gamma_t(q) = exp(alpha_t(q) + beta_t(q) - log Z) = dF/dE[t, q].
  std::vector<float> beta_row(symbols, -kInf);
  std::vector<float> next(symbols);
  beta_row[separator] = 0.0f;
  for (int64_t t = windows - 1; t >= 0; --t) {
    for (int64_t q = 0; q < symbols; ++q) {
      grad[t * symbols + q] +=
          scale * std::exp(alpha[t * symbols + q] + beta_row[q] - log_z);
    }
    if (t > 0) {
      for (int64_t q = 0; q < symbols; ++q) {
        next[q] = beta_row[q] + w[t * symbols + q];
      }
      separator_step(next.data(), nullptr, symbols, separator, beta_row.data());
    }
  }
  return log_z;
}

}  // namespace

Tensor free_energy_all(const Tensor& energies, const std::vector<int64_t>& input_lengths,
                       const Topology& topology, float beta) {
  check_beta(beta, "free_energy_all");
  const CheckedBatch checked = check_energies(energies, input_lengths, "free_energy_all");
  const int64_t windows = checked.windows;
  const int64_t symbols = checked.symbols;
  if (topology.blank < 0 || topology.blank >= symbols) {
    throw std::invalid_argument(fmt::format(
        "free_energy_all: blank / separator index {} is outside [0, C = {})", topology.blank,
        symbols));
  }

  Tensor free = zeros({checked.batch});
  float* out = free.mutable_data();
  const float* data = energies.data();
  for (int64_t b = 0; b < checked.batch; ++b) {
    out[b] = -all_sequences(data + b * windows * symbols, checked.input_lengths[b], symbols,
                            topology, beta, 0.0f, nullptr) /
             beta;
  }

  if (needs_grad({&energies})) {
    Tape::current().record(
        "free_energy_all", {energies}, free,
        [energies, lengths = checked.input_lengths, topology, beta](const Tensor& grad_free) {
          float* grad = grad_buffer(energies);
          const float* g = grad_free.data();
          const int64_t windows = energies.size(1);
          const int64_t symbols = energies.size(2);
          for (int64_t b = 0; b < energies.size(0); ++b) {
            if (g[b] == 0.0f) {
              continue;
            }
            all_sequences(energies.data() + b * windows * symbols, lengths[b], symbols, topology,
                          beta, g[b], grad + b * windows * symbols);
          }
        });
  }
  return free;
}

}  // namespace ember::alignment
