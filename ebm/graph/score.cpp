// Scores of a graph: the free energy (log-semiring forward algorithm) and the
// Viterbi score and path (tropical semiring), with their backward passes.
//
// Scores are accumulated in double: a lattice sums thousands of float
// energies, and the free-energy gradient subtracts totals of that size.
// exp and log see only scaled values (exp of a number <= 0, log of a sum in
// [1, A]), where float precision (about 1e-7 relative) is ample.
//
// free_energy is a thin tape wrapper around log_partition (passes.h), which
// the batched losses also call.
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "ebm/alignment/log_space.h"
#include "ebm/graph/arc_origins.h"
#include "ebm/graph/functions.h"
#include "ebm/graph/passes.h"

namespace ember::graph {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The forward pass of free_energy.
struct ForwardState {
  std::vector<int32_t> order;  // topological order [S]
  std::vector<double> alpha;   // [S] log of the summed path weight exp(-beta E) into each state
  double log_total = -kInf;    // log Z over accepting paths
};

// log(exp(x) + exp(y)); -inf is its identity, and factoring out the larger
// term keeps exp from overflowing.
double log_add(double x, double y) {
  if (x == -kInf) {
    return y;
  }
  if (y == -kInf) {
    return x;
  }
  return x > y ? x + std::log1p(std::exp(y - x)) : y + std::log1p(std::exp(x - y));
}

// Forward: alpha[d] = log(start(d) + sum over arcs s -> d of
// exp(alpha[s] - beta E)), pushed along out-arcs in topological order.
// Pushing shares the posterior pass's arc index. A pull would need a second
// index, by destination, whose counting sort took about a fifth of the
// pass on the CTC lattices of bench/bench_graph.cpp (docs/graphs.md).
// Each state keeps the largest term pushed into it so far, m, and the sum of
// exp(term - m) (an online log-sum-exp). A new largest term rescales the sum
// by exp(m_old - m_new), so every argument of exp is <= 0 and nothing
// overflows. When the pass reaches d, all its in-arcs have pushed, so
// alpha[d] = m + log(sum). The sums lie in [1, A], where float exp and log
// are accurate enough.
void run_forward(const Graph& graph, const ArcIndex& out, const float* energies, double beta,
                 ForwardState& state) {
  const auto num_states = static_cast<size_t>(graph.num_states());
  const int32_t* destinations = graph.destinations().data();
  std::vector<double> largest(num_states, -kInf);
  std::vector<float> sum(num_states, 0.0f);
  for (size_t s = 0; s < num_states; ++s) {
    if (graph.start_flags()[s] != 0) {
      largest[s] = 0.0;  // the empty path into a start state: exp(0) = 1
      sum[s] = 1.0f;
    }
  }

  state.alpha.assign(num_states, -kInf);
  for (int32_t s : state.order) {
    const auto su = static_cast<size_t>(s);
    if (largest[su] == -kInf) {
      continue;  // unreachable: alpha stays -inf and pushes nothing
    }
    const double alpha = largest[su] + std::log(sum[su]);
    state.alpha[su] = alpha;
    for (int32_t k = out.offsets[su]; k < out.offsets[su + 1]; ++k) {
      const int32_t arc = out.arcs[static_cast<size_t>(k)];
      const auto d = static_cast<size_t>(destinations[arc]);
      const double term = alpha - beta * energies[arc];
      if (term == -kInf) {
        continue;  // an arc of energy +inf adds nothing
      }
      if (largest[d] == -kInf) {
        largest[d] = term;  // the first term into d needs no exp
        sum[d] = 1.0f;
        continue;
      }
      const double high = std::max(largest[d], term);
      const double low = std::min(largest[d], term);
      const float scaled = std::exp(static_cast<float>(low - high));
      sum[d] = term > largest[d] ? sum[d] * scaled + 1.0f : sum[d] + scaled;
      largest[d] = high;
    }
  }

  for (size_t s = 0; s < num_states; ++s) {
    if (graph.accept_flags()[s] != 0) {
      state.log_total = log_add(state.log_total, state.alpha[s]);
    }
  }
}

// The arc posteriors dF/dE[a] = exp(alpha[src] - beta E[a] + gamma[dst] -
// log Z) [A], where gamma[s] is the log of the summed weight of paths from
// s to an accept state. Both come from one pull over out-arcs in reverse
// topological order, factored like the forward pass: with m the largest
// term of gamma[s], the posterior is exp(alpha[s] + m - log Z) *
// exp(term - m), so each arc but the largest costs one exp.
void arc_posteriors(const Graph& graph, const ArcIndex& out, const float* energies, double beta,
                    const ForwardState& state, float* posteriors) {
  std::fill(posteriors, posteriors + graph.num_arcs(), 0.0f);
  if (state.log_total == -kInf) {
    return;  // no accepting path: F = +inf is constant, the gradient is zero
  }
  const int32_t* destinations = graph.destinations().data();
  std::vector<double> gamma(static_cast<size_t>(graph.num_states()), -kInf);
  for (size_t i = state.order.size(); i-- > 0;) {
    const auto s = static_cast<size_t>(state.order[i]);
    const int32_t begin = out.offsets[s];
    const int32_t end = out.offsets[s + 1];
    const bool accept = graph.accept_flags()[s] != 0;
    const auto term = [&](int32_t arc) {
      return gamma[static_cast<size_t>(destinations[arc])] - beta * energies[arc];
    };

    // The largest term and its arc; -1 stands for the accept state's own term 0.
    double largest = accept ? 0.0 : -kInf;
    int32_t largest_arc = -1;
    for (int32_t k = begin; k < end; ++k) {
      const int32_t arc = out.arcs[static_cast<size_t>(k)];
      if (term(arc) > largest) {
        largest = term(arc);
        largest_arc = arc;
      }
    }
    if (largest == -kInf) {
      continue;  // a dead end: no accepting path leaves s
    }
    // alpha[s] + largest <= log Z, so this exp also takes only arguments <= 0.
    const float scale = state.alpha[s] == -kInf
                            ? 0.0f
                            : std::exp(static_cast<float>(state.alpha[s] + largest - state.log_total));
    float rest = accept && largest_arc >= 0 ? std::exp(static_cast<float>(-largest)) : 0.0f;
    for (int32_t k = begin; k < end; ++k) {
      const int32_t arc = out.arcs[static_cast<size_t>(k)];
      float scaled = 1.0f;
      if (arc != largest_arc) {
        scaled = std::exp(static_cast<float>(term(arc) - largest));
        rest += scaled;
      }
      posteriors[arc] = scale * scaled;
    }
    gamma[s] = largest + std::log(1.0f + rest);
  }
}

}  // namespace

double log_partition(const Graph& graph, const float* energies, double beta, float* posteriors,
                     const char* op) {
  ForwardState state;
  state.order = topological_order(graph, op);
  const ArcIndex out = out_arcs(graph);
  run_forward(graph, out, energies, beta, state);
  if (posteriors != nullptr) {
    arc_posteriors(graph, out, energies, beta, state, posteriors);
  }
  return state.log_total;
}

Tensor free_energy(const Graph& graph, float beta) {
  if (!(beta > 0.0f) || !std::isfinite(beta)) {
    throw std::invalid_argument(
        fmt::format("free_energy: beta is {}; expected a finite value > 0", beta));
  }
  const Tensor energies = graph.energies();
  const bool grad = needs_grad({&energies});

  // The posteriors are computed now, while the graph is still in cache, so
  // the node keeps one float per arc instead of a copy of the graph.
  std::vector<float> posteriors(grad ? static_cast<size_t>(graph.num_arcs()) : 0);
  const double log_total =
      log_partition(graph, energies.data(), beta, grad ? posteriors.data() : nullptr, "free_energy");

  // F = -(1/beta) log Z, and +inf when Z = 0.
  const double value = log_total == -kInf ? kInf : -log_total / beta;
  Tensor result = scalar(static_cast<float>(value));

  if (grad) {
    Tape::current().record(
        "free_energy", {energies}, result,
        [energies, posteriors = std::move(posteriors)](const Tensor& grad_result) {
          // dF/dE[a] = the posterior of arc a
          float* grad = grad_buffer(energies);
          const float g = grad_result.item();
          for (size_t a = 0; a < posteriors.size(); ++a) {
            grad[a] += g * posteriors[a];
          }
        });
  }
  return result;
}

namespace {

// Arcs of a minimum-energy accepting path, or nothing if no accepting path
// exists. Acyclic graphs use one pass in topological order; cyclic ones use
// Bellman-Ford relaxation.
std::optional<std::vector<int32_t>> best_path_arcs(const Graph& graph, const char* op) {
  const auto num_states = static_cast<size_t>(graph.num_states());
  const float* energies = graph.energies().data();
  std::vector<double> distance(num_states, kInf);
  std::vector<int32_t> back(num_states, -1);  // arc that last improved the state, -1 = path start
  for (size_t s = 0; s < num_states; ++s) {
    if (graph.start_flags()[s] != 0) {
      distance[s] = 0.0;
    }
  }

  // relax(arc) improves the destination through arc; strict < keeps the
  // first arc found among ties.
  const auto relax = [&](int32_t arc) {
    const auto a = static_cast<size_t>(arc);
    const double candidate = distance[static_cast<size_t>(graph.sources()[a])] + energies[arc];
    const auto d = static_cast<size_t>(graph.destinations()[a]);
    if (candidate < distance[d]) {
      distance[d] = candidate;
      back[d] = arc;
      return true;
    }
    return false;
  };

  if (is_acyclic(graph)) {
    const ArcIndex out = out_arcs(graph);
    for (int32_t s : topological_order(graph, op)) {
      for (int32_t k = out.offsets[static_cast<size_t>(s)]; k < out.offsets[static_cast<size_t>(s) + 1]; ++k) {
        relax(out.arcs[static_cast<size_t>(k)]);
      }
    }
  } else {
    bool changed = true;
    for (size_t round = 0; changed; ++round) {
      if (round == num_states) {
        throw std::invalid_argument(fmt::format(
            "{}: a cycle of negative total energy is reachable from a start state, so no "
            "minimum-energy path exists",
            op));
      }
      changed = false;
      for (int64_t a = 0; a < graph.num_arcs(); ++a) {
        changed = relax(static_cast<int32_t>(a)) || changed;
      }
    }
  }

  // The best accept state, then the path back to its start.
  std::optional<size_t> best;
  for (size_t s = 0; s < num_states; ++s) {
    if (graph.accept_flags()[s] != 0 && distance[s] < kInf &&
        (!best || distance[s] < distance[*best])) {
      best = s;
    }
  }
  if (!best) {
    return std::nullopt;
  }
  std::vector<int32_t> path;
  for (int32_t arc = back[*best]; arc >= 0; arc = back[static_cast<size_t>(graph.sources()[static_cast<size_t>(arc)])]) {
    path.push_back(arc);
  }
  std::reverse(path.begin(), path.end());
  return path;
}

}  // namespace

Tensor viterbi_score(const Graph& graph) {
  const std::optional<std::vector<int32_t>> path = best_path_arcs(graph, "viterbi_score");
  const Tensor energies = graph.energies();
  if (!path) {
    return scalar(std::numeric_limits<float>::infinity());
  }

  double total = 0.0;
  for (int32_t arc : *path) {
    total += energies.data()[arc];
  }
  Tensor result = scalar(static_cast<float>(total));

  if (needs_grad({&energies})) {
    Tape::current().record("viterbi_score", {energies}, result,
                           [energies, path = *path](const Tensor& grad_result) {
                             // d(sum of path energies)/dE[a] = 1 for each arc on the path
                             float* grad = grad_buffer(energies);
                             const float g = grad_result.item();
                             for (int32_t arc : path) {
                               grad[arc] += g;
                             }
                           });
  }
  return result;
}

Graph viterbi_path(const Graph& graph) {
  const std::optional<std::vector<int32_t>> path = best_path_arcs(graph, "viterbi_path");
  if (!path) {
    return Graph();
  }
  return path_graph(graph, *path, "viterbi_path");
}

std::vector<int> viterbi_labels(const Graph& graph, bool output) {
  const std::optional<std::vector<int32_t>> path = best_path_arcs(graph, "viterbi_labels");
  std::vector<int> labels;
  if (!path) {
    return labels;
  }
  for (int32_t arc : *path) {
    const int label = output ? graph.output_label(arc) : graph.input_label(arc);
    if (label != kEpsilon) {
      labels.push_back(label);
    }
  }
  return labels;
}

}  // namespace ember::graph
