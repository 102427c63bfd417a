// Graph-route alignment losses: per sample, the emissions graph intersected
// with a target graph, then its free energy.
//
// The samples run on the thread pool with the passes of passes.h, and each
// loss records one tape node per batch. The tests check that
// free_energy(intersect(emissions_graph(E_b), target)), one sample at a
// time, gives the same values and gradients.
#include "ebm/graph/losses.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>

#include "ebm/alignment/parallel.h"
#include "ebm/graph/builders.h"
#include "ebm/graph/functions.h"
#include "ebm/graph/passes.h"

namespace ember::graph {

namespace {

// Checks E [B, L, C], targets and lengths; returns each sample's length.
std::vector<int64_t> checked_lengths(const Tensor& energies,
                                     const std::vector<std::vector<int64_t>>& targets,
                                     const std::vector<int64_t>& input_lengths, const char* op) {
  if (energies.dim() != 3) {
    throw std::invalid_argument(fmt::format("{}: energies have shape {}; expected [B, L, C]", op,
                                            shape_to_string(energies.shape())));
  }
  const int64_t batch = energies.size(0);
  if (static_cast<int64_t>(targets.size()) != batch) {
    throw std::invalid_argument(fmt::format("{}: {} targets for a batch of {} (energies {})", op,
                                            targets.size(), batch, shape_to_string(energies.shape())));
  }
  std::vector<int64_t> lengths = input_lengths;
  if (lengths.empty()) {
    lengths.assign(static_cast<size_t>(batch), energies.size(1));
  }
  if (static_cast<int64_t>(lengths.size()) != batch) {
    throw std::invalid_argument(fmt::format("{}: {} input lengths for a batch of {}", op,
                                            lengths.size(), batch));
  }
  for (size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 0 || lengths[b] > energies.size(1)) {
      throw std::invalid_argument(fmt::format(
          "{}: input length {} of sample {} is outside [0, L = {}]", op, lengths[b], b, energies.size(1)));
    }
    for (int64_t label : targets[b]) {
      if (label < 0 || label >= energies.size(2)) {
        throw std::invalid_argument(fmt::format(
            "{}: label {} in target {} is out of range for C = {} symbols", op, label, b, energies.size(2)));
      }
    }
  }
  return lengths;
}

void check_beta(float beta, const char* op) {
  if (!(beta > 0.0f) || !std::isfinite(beta)) {
    throw std::invalid_argument(fmt::format("{}: beta is {}; expected a finite value > 0", op, beta));
  }
}

// Samples per thread below which waking the pool costs more than it saves.
constexpr int64_t kMinSamplesPerThread = 2;

// Everything the batch node's backward reads: dF_b/dE[b, i, c] for the
// whole batch, and dF_b/dE_second[k] for each sample whose second graph's
// energies require grad (empty for the others).
struct BatchPosteriors {
  Tensor energies;                         // E [B, L, C]
  int64_t row = 0;                         // L * C, one sample's share of E
  std::vector<float> emissions;            // [B * L * C], empty if E needs no grad
  std::vector<Tensor> second_energies;     // [B], each [A of seconds[b]]
  std::vector<std::vector<float>> second;  // [B], each [A of seconds[b]] or empty
};

// Scores one sample: log Z of chain ∩ second, with chain's arc energies
// emissions (E[b] as [L * C]) and second's second_energies. When the
// gradient outputs are not null, adds dF/dE_chain to emissions_grad [L * C]
// and dF/dE_second to second_grad [A of second]. arc_energies and
// posteriors are scratch space that a worker reuses across samples.
double score_sample(const Graph& chain, const Graph& second, const float* emissions,
                    const float* second_energies, float beta, const char* op,
                    float* emissions_grad, float* second_grad, std::vector<float>& arc_energies,
                    std::vector<float>& posteriors) {
  const Product product = intersect_product(chain, second);
  const auto num_arcs = static_cast<size_t>(product.graph.num_arcs());
  arc_energies.resize(num_arcs);
  sum_pair_energies(product.origins, emissions, second_energies, arc_energies.data());

  const bool want_posteriors = emissions_grad != nullptr || second_grad != nullptr;
  posteriors.resize(want_posteriors ? num_arcs : 0);
  const double log_z = log_partition(product.graph, arc_energies.data(), beta,
                                     want_posteriors ? posteriors.data() : nullptr, op);

  // dF/dE_side[k] = sum of the posteriors of the product arcs made from arc k.
  if (emissions_grad != nullptr) {
    scatter_pair_gradient(product.origins.first, posteriors.data(), 1.0f, emissions_grad);
  }
  if (second_grad != nullptr) {
    scatter_pair_gradient(product.origins.second, posteriors.data(), 1.0f, second_grad);
  }
  return log_z;
}

// The batch node's backward: dL/dE[b, i, c] += dL/dF_b * dF_b/dE[b, i, c],
// and the same for each second graph that needs grad. Samples that share a
// second graph add into it one after another, in order of b.
void backward_batch(const BatchPosteriors& saved, const Tensor& grad_free) {
  const float* g = grad_free.data();
  float* grad = grad_buffer(saved.energies);
  for (size_t b = 0; b < saved.second.size(); ++b) {
    if (grad != nullptr) {
      const float* posterior = saved.emissions.data() + static_cast<int64_t>(b) * saved.row;
      float* grad_row = grad + static_cast<int64_t>(b) * saved.row;
      for (int64_t k = 0; k < saved.row; ++k) {
        grad_row[k] += g[b] * posterior[k];
      }
    }
    const std::vector<float>& second = saved.second[b];
    if (!second.empty()) {
      float* grad_second = grad_buffer(saved.second_energies[b]);
      for (size_t k = 0; k < second.size(); ++k) {
        grad_second[k] += g[b] * second[k];
      }
    }
  }
}

// F_b = F_beta(emissions of sample b's first lengths[b] windows intersected
// with seconds[b]) [B], with one tape node for the batch.
//
// Each sample's intersection and forward-backward pass run on the thread
// pool (intersect_product and log_partition). The arc posteriors of the
// product are the gradient of F_b, and each product arc is one emissions arc
// plus one arc of seconds[b], so scattering the posteriors through the arc
// origins gives dF_b/dE[b] and dF_b/dE_second right away. Backward then
// scales them by the upstream gradient. Each sample writes only its own
// rows, so the result does not depend on the thread count.
Tensor batch_free_energy(const Tensor& energies, const std::vector<int64_t>& lengths,
                         const std::vector<const Graph*>& seconds, float beta, const char* op) {
  const int64_t batch = energies.size(0);
  const int64_t symbols = energies.size(2);

  // One emissions chain per distinct length. Arc i * C + c of a chain is
  // E[b, i, c] of each sample it serves.
  std::map<int64_t, Graph> chains;
  for (int64_t length : lengths) {
    if (!chains.contains(length)) {
      chains.emplace(length, emissions_chain(length, symbols));
    }
  }

  // energies() may create a tensor, so it runs here and not in the workers.
  auto saved = std::make_shared<BatchPosteriors>();
  saved->energies = energies;
  saved->row = energies.size(1) * symbols;
  const bool emissions_grad = needs_grad({&energies});
  if (emissions_grad) {
    saved->emissions.assign(static_cast<size_t>(batch * saved->row), 0.0f);
  }
  saved->second.resize(static_cast<size_t>(batch));
  for (size_t b = 0; b < seconds.size(); ++b) {
    saved->second_energies.push_back(seconds[b]->energies());
    if (needs_grad({&saved->second_energies[b]})) {
      saved->second[b].assign(static_cast<size_t>(saved->second_energies[b].numel()), 0.0f);
    }
  }

  std::vector<double> log_z(static_cast<size_t>(batch));
  const float* data = energies.data();
  alignment::parallel_for(batch, kMinSamplesPerThread, [&](int64_t begin, int64_t end) {
    std::vector<float> arc_energies;
    std::vector<float> posteriors;
    for (int64_t b = begin; b < end; ++b) {
      const auto bu = static_cast<size_t>(b);
      float* emissions_row = emissions_grad ? saved->emissions.data() + b * saved->row : nullptr;
      float* second_row = saved->second[bu].empty() ? nullptr : saved->second[bu].data();
      log_z[bu] = score_sample(chains.at(lengths[bu]), *seconds[bu], data + b * saved->row,
                               saved->second_energies[bu].data(), beta, op, emissions_row,
                               second_row, arc_energies, posteriors);
    }
  });

  // F = -(1/beta) log Z, and +inf when no accepting path exists.
  Tensor free = zeros({batch});
  float* out = free.mutable_data();
  for (size_t b = 0; b < log_z.size(); ++b) {
    out[b] = log_z[b] == -std::numeric_limits<double>::infinity()
                 ? std::numeric_limits<float>::infinity()
                 : static_cast<float>(-log_z[b] / beta);
  }

  // The node's inputs: E and each distinct second graph that needs grad.
  std::vector<Tensor> inputs{energies};
  std::vector<const Graph*> listed;
  for (size_t b = 0; b < seconds.size(); ++b) {
    if (!saved->second[b].empty() &&
        std::find(listed.begin(), listed.end(), seconds[b]) == listed.end()) {
      listed.push_back(seconds[b]);
      inputs.push_back(saved->second_energies[b]);
    }
  }
  if (needs_grad(inputs)) {
    Tape::current().record(op, inputs, free,
                           [saved](const Tensor& grad_free) { backward_batch(*saved, grad_free); });
  }
  return free;
}

// The same graph for every sample of a batch.
std::vector<const Graph*> repeated(const Graph& graph, int64_t batch) {
  return std::vector<const Graph*>(static_cast<size_t>(batch), &graph);
}

// Pointers to each graph of a list.
std::vector<const Graph*> pointers(const std::vector<Graph>& graphs) {
  std::vector<const Graph*> result;
  for (const Graph& graph : graphs) {
    result.push_back(&graph);
  }
  return result;
}

// The target graph of each sample.
std::vector<Graph> target_graphs(const std::vector<std::vector<int64_t>>& targets,
                                 const alignment::Topology& topology) {
  std::vector<Graph> graphs;
  for (const std::vector<int64_t>& target : targets) {
    graphs.push_back(target_graph(target, topology));
  }
  return graphs;
}

}  // namespace

Graph target_graph(const std::vector<int64_t>& target, const alignment::Topology& topology) {
  if (topology.kind == alignment::TopologyKind::ctc) {
    return ctc_graph(target, topology.blank);
  }
  return separator_graph(target, topology.blank);
}

Graph all_targets_graph(int64_t symbols, const alignment::Topology& topology) {
  Graph graph;
  if (topology.kind == alignment::TopologyKind::ctc) {
    graph.add_state(/*start=*/true, /*accept=*/true);
    for (int64_t c = 0; c < symbols; ++c) {
      graph.add_arc(0, 0, static_cast<int>(c));
    }
    return graph;
  }

  // State 0 starts, state 1 + c reads a run of symbol c, state 1 + C reads
  // a run of separators and accepts.
  const int64_t separator_state = 1 + symbols;
  graph.add_state(/*start=*/true, /*accept=*/false);
  for (int64_t c = 0; c < symbols; ++c) {
    graph.add_state();
  }
  graph.add_state(/*start=*/false, /*accept=*/true);
  const int separator = static_cast<int>(topology.blank);
  graph.add_arc(separator_state, separator_state, separator);
  for (int64_t c = 0; c < symbols; ++c) {
    if (c == topology.blank) {
      continue;
    }
    const int label = static_cast<int>(c);
    graph.add_arc(0, 1 + c, label);
    graph.add_arc(separator_state, 1 + c, label);
    graph.add_arc(1 + c, 1 + c, label);
    graph.add_arc(1 + c, separator_state, separator);
  }
  return graph;
}

Tensor target_free_energy(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                          const std::vector<int64_t>& input_lengths, const alignment::Topology& topology,
                          float beta) {
  check_beta(beta, "target_free_energy");
  const std::vector<int64_t> lengths =
      checked_lengths(energies, targets, input_lengths, "target_free_energy");
  const std::vector<Graph> graphs = target_graphs(targets, topology);
  return batch_free_energy(energies, lengths, pointers(graphs), beta, "target_free_energy");
}

Tensor nll_loss(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                const std::vector<int64_t>& input_lengths, const alignment::Topology& topology,
                float beta) {
  check_beta(beta, "nll_loss");
  const std::vector<int64_t> lengths = checked_lengths(energies, targets, input_lengths, "nll_loss");
  const std::vector<Graph> graphs = target_graphs(targets, topology);
  const Graph all = all_targets_graph(energies.size(2), topology);
  const Tensor target = batch_free_energy(energies, lengths, pointers(graphs), beta, "nll_loss");
  return target - batch_free_energy(energies, lengths, repeated(all, energies.size(0)), beta, "nll_loss");
}

Tensor asg_loss(const Tensor& energies, const std::vector<std::vector<int64_t>>& targets,
                const std::vector<int64_t>& input_lengths, const Tensor& transitions,
                float beta) {
  check_beta(beta, "asg_loss");
  const std::vector<int64_t> lengths = checked_lengths(energies, targets, input_lengths, "asg_loss");
  if (transitions.dim() != 2 || transitions.size(0) != energies.size(2) ||
      transitions.size(1) != energies.size(2)) {
    throw std::invalid_argument(fmt::format(
        "asg_loss: transitions have shape {}; expected [C, C] with C = {} from energies {}",
        shape_to_string(transitions.shape()), energies.size(2), shape_to_string(energies.shape())));
  }

  // Each target graph is intersected with the bigrams here, on this thread's
  // tape, so the batch node's gradient for it reaches the transitions.
  const Graph bigrams = transitions_graph(transitions);
  std::vector<Graph> graphs;
  for (const std::vector<int64_t>& target : targets) {
    graphs.push_back(intersect(repeat_graph(target), bigrams));
  }
  const Tensor numerator = batch_free_energy(energies, lengths, pointers(graphs), beta, "asg_loss");
  return numerator - batch_free_energy(energies, lengths, repeated(bigrams, energies.size(0)), beta, "asg_loss");
}

alignment::AlignmentLossResult asg_alignment_loss(const Tensor& energies,
                                                  const alignment::AlignmentBatch& batch,
                                                  const alignment::AlignmentLossOptions& options,
                                                  const Tensor& transitions) {
  const alignment::CheckedBatch checked = alignment::check_batch(energies, batch, "asg_loss");
  const Tensor per_sample =
      asg_loss(energies, checked.targets, checked.input_lengths, transitions, options.beta);

  // where() selects without multiplying, so an infinite loss never reaches
  // the gradient of the samples kept.
  std::vector<float> feasible;
  alignment::AlignmentLossResult result;
  for (float value : per_sample.to_vector()) {
    feasible.push_back(std::isfinite(value) ? 1.0f : 0.0f);
    result.skipped += std::isfinite(value) ? 0 : 1;
  }
  const float fill = options.zero_infinity ? 0.0f : std::numeric_limits<float>::infinity();
  result.per_sample = where(from_vector(feasible, per_sample.shape()), per_sample,
                            full(per_sample.shape(), fill));
  result.loss = per_sample.numel() == 0 ? scalar(0.0f) : mean(result.per_sample);
  return result;
}

alignment::AlignmentLoss make_asg_loss(const Tensor& transitions) {
  return [transitions](const Tensor& energies, const alignment::AlignmentBatch& batch,
                       const alignment::AlignmentLossOptions& options) {
    return asg_alignment_loss(energies, batch, options, transitions);
  };
}

}  // namespace ember::graph
