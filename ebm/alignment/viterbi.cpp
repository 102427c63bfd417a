// The Viterbi op: per-sample min-sum programs over the threads, backtrace,
// and a backward pass that adds the upstream gradient along each best path.
#include "ebm/alignment/viterbi.h"

#include <memory>

#include "autodiff/tape.h"
#include "ebm/alignment/batch_lattices.h"
#include "ebm/alignment/lattice_dp.h"
#include "ebm/alignment/log_space.h"
#include "ebm/alignment/parallel.h"

namespace ember::alignment {

namespace {

constexpr int64_t kMinSamplesPerThread = 2;

ViterbiResult chain_viterbi(const Tensor& energies, const std::vector<Lattice>& lattices,
                            const std::vector<int64_t>& input_lengths, bool keep_table,
                            const char* op) {
  const int64_t batch = energies.size(0);
  const int64_t windows = energies.size(1);
  const int64_t symbols = energies.size(2);
  const float* data = energies.data();

  int64_t max_states = 0;
  for (const Lattice& lattice : lattices) {
    max_states = std::max(max_states, lattice.states());
  }

  ViterbiResult result;
  result.states.resize(batch);
  result.symbols.resize(batch);
  result.energy = zeros({batch});
  float* energy = result.energy.mutable_data();
  float* table = nullptr;
  if (keep_table) {
    result.table = full({batch, windows, max_states}, kInf);
    table = result.table.mutable_data();
  }

  parallel_for(batch, kMinSamplesPerThread, [&](int64_t begin, int64_t end) {
    std::vector<float> score;
    std::vector<uint8_t> back;
    for (int64_t b = begin; b < end; ++b) {
      const ChainProblem problem{data + b * windows * symbols, input_lengths[b], symbols,
                                 &lattices[b]};
      const int64_t states = lattices[b].states();
      score.resize(score_size(problem));
      back.resize(back_size(problem));
      const int64_t width = dp_row_width(lattices[b]);
      const int64_t final_state = viterbi_scores(problem, score.data(), back.data());

      // Zero windows: the empty path is the best alignment iff it is allowed.
      if (problem.windows == 0) {
        energy[b] = lattices[b].accepts_empty ? 0.0f : kInf;
      } else {
        const float* last = score.data() + (problem.windows - 1) * width + 2;
        energy[b] = final_state >= 0 ? last[final_state] : kInf;
      }

      result.states[b] = viterbi_backtrace(problem, back.data(), final_state);
      result.symbols[b].resize(problem.windows);
      for (int64_t t = 0; t < problem.windows; ++t) {
        const int64_t s = result.states[b][t];
        result.symbols[b][t] = s >= 0 ? lattices[b].labels[s] : -1;
      }

      for (int64_t t = 0; table != nullptr && t < problem.windows; ++t) {
        for (int64_t s = 0; s < states; ++s) {
          table[(b * windows + t) * max_states + s] = score[t * width + 2 + s];
        }
      }
    }
  });

  if (needs_grad({&energies})) {
    // dV[b]/dE[b, t, c] = 1 where c is the symbol of the best path at t.
    auto paths = std::make_shared<std::vector<std::vector<int64_t>>>(result.symbols);
    Tape::current().record(op, {energies}, result.energy,
                           [energies, paths](const Tensor& grad_energy) {
                             float* grad = grad_buffer(energies);
                             const float* g = grad_energy.data();
                             const int64_t windows = energies.size(1);
                             const int64_t symbols = energies.size(2);
                             for (size_t b = 0; b < paths->size(); ++b) {
                               const auto& path = (*paths)[b];
                               for (size_t t = 0; t < path.size(); ++t) {
                                 if (path[t] >= 0) {
                                   grad[(b * windows + t) * symbols + path[t]] += g[b];
                                 }
                               }
                             }
                           });
  }
  return result;
}

}  // namespace

ViterbiResult viterbi(const Tensor& energies, const AlignmentBatch& batch,
                      const Topology& topology, bool keep_table) {
  const CheckedBatch checked = check_batch(energies, batch, "viterbi");
  return chain_viterbi(energies, target_lattices(checked, topology), checked.input_lengths,
                       keep_table, "viterbi");
}

ViterbiResult viterbi_path_matrix(const Tensor& path_matrix,
                                  const std::vector<int64_t>& input_lengths,
                                  const std::vector<int64_t>& column_lengths, bool keep_table) {
  const CheckedBatch checked = check_energies(path_matrix, input_lengths, "viterbi_path_matrix");
  return chain_viterbi(path_matrix,
                       path_matrix_lattices(checked, column_lengths, "viterbi_path_matrix"),
                       checked.input_lengths, keep_table, "viterbi_path_matrix");
}

}  // namespace ember::alignment
