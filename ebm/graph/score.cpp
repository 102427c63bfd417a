// Scores of a graph: the free energy (log-semiring forward algorithm) and the
// Viterbi score and path (tropical semiring), with their backward passes.
//
// Scores are accumulated in double: a lattice sums thousands of float
// energies, and the free-energy gradient subtracts totals of that size.
// exp and log see only scaled values (exp of a number <= 0, log of a sum in
// [1, A]), where float precision (about 1e-7 relative) is ample.
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "ebm/graph/arc_origins.h"
#include "ebm/graph/functions.h"

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

// Forward: alpha[s] = log(start(s) + sum over arcs p -> s of
// exp(alpha[p] - beta E)), by pulling over in-arcs in topological order.
// Each sum factors out its largest term, so exp cannot overflow. The scaled
// terms lie in [0, 1], where float exp is accurate enough and much faster.
void run_forward(const Graph& graph, const float* energies, double beta, ForwardState& state) {
  const ArcIndex in = in_arcs(graph);
  const int32_t* sources = graph.sources().data();
  state.alpha.assign(static_cast<size_t>(graph.num_states()), -kInf);
  for (int32_t s : state.order) {
    const auto su = static_cast<size_t>(s);
    const int32_t begin = in.offsets[su];
    const int32_t end = in.offsets[su + 1];
    const bool start = graph.start_flags()[su] != 0;

    double largest = start ? 0.0 : -kInf;
    for (int32_t k = begin; k < end; ++k) {
      const int32_t arc = in.arcs[static_cast<size_t>(k)];
      largest = std::max(largest, state.alpha[static_cast<size_t>(sources[arc])] - beta * energies[arc]);
    }
    if (largest == -kInf) {
      continue;
    }
    double sum = start ? std::exp(-largest) : 0.0;
    for (int32_t k = begin; k < end; ++k) {
      const int32_t arc = in.arcs[static_cast<size_t>(k)];
      const double term = state.alpha[static_cast<size_t>(sources[arc])] - beta * energies[arc];
      sum += std::exp(static_cast<float>(term - largest));
    }
    state.alpha[su] = largest + std::log(static_cast<float>(sum));
  }

  for (size_t s = 0; s < state.alpha.size(); ++s) {
    if (graph.accept_flags()[s] != 0) {
      state.log_total = log_add(state.log_total, state.alpha[s]);
    }
  }
}

// The arc posteriors dF/dE[a] = exp(alpha[src] - beta E[a] + gamma[dst] -
// log Z) [A], where gamma[s] is the log of the summed weight of paths from
// s to an accept state. Both come from one pull over out-arcs in reverse
// topological order: with m the largest term of gamma[s], the posterior is
// exp(alpha[s] + m - log Z) * exp(term - m), so each arc costs one exp.
std::vector<float> arc_posteriors(const Graph& graph, const float* energies, double beta,
                                  const ForwardState& state) {
  std::vector<float> posteriors(static_cast<size_t>(graph.num_arcs()), 0.0f);
  if (state.log_total == -kInf) {
    return posteriors;  // no accepting path: F = +inf is constant, the gradient is zero
  }
  const ArcIndex out = out_arcs(graph);
  const int32_t* destinations = graph.destinations().data();
  std::vector<double> gamma(static_cast<size_t>(graph.num_states()), -kInf);
  for (size_t i = state.order.size(); i-- > 0;) {
    const auto s = static_cast<size_t>(state.order[i]);
    const int32_t begin = out.offsets[s];
    const int32_t end = out.offsets[s + 1];
    const bool accept = graph.accept_flags()[s] != 0;

    double largest = accept ? 0.0 : -kInf;
    for (int32_t k = begin; k < end; ++k) {
      const int32_t arc = out.arcs[static_cast<size_t>(k)];
      largest = std::max(largest, gamma[static_cast<size_t>(destinations[arc])] - beta * energies[arc]);
    }
    if (largest == -kInf) {
      continue;  // a dead end: no accepting path leaves s
    }
    // alpha[s] + largest <= log Z, so this exp also takes only arguments <= 0.
    const double scale = state.alpha[s] == -kInf
                             ? 0.0
                             : std::exp(static_cast<float>(state.alpha[s] + largest - state.log_total));
    double sum = accept ? std::exp(-largest) : 0.0;
    for (int32_t k = begin; k < end; ++k) {
      const int32_t arc = out.arcs[static_cast<size_t>(k)];
      const double term = gamma[static_cast<size_t>(destinations[arc])] - beta * energies[arc];
      const double scaled = std::exp(static_cast<float>(term - largest));
      sum += scaled;
      posteriors[static_cast<size_t>(arc)] = static_cast<float>(scale * scaled);
    }
    gamma[s] = largest + std::log(static_cast<float>(sum));
  }
  return posteriors;
}

}  // namespace

Tensor free_energy(const Graph& graph, float beta) {
  if (!(beta > 0.0f) || !std::isfinite(beta)) {
    throw std::invalid_argument(
        fmt::format("free_energy: beta is {}; expected a finite value > 0", beta));
  }
  ForwardState state;
  state.order = topological_order(graph, "free_energy");
  const Tensor energies = graph.energies();
  run_forward(graph, energies.data(), beta, state);

  // F = -(1/beta) log Z, and +inf when Z = 0.
  const double value = state.log_total == -kInf ? kInf : -state.log_total / beta;
  Tensor result = scalar(static_cast<float>(value));

  // The posteriors are computed now, while the graph is still in cache, so
  // the node keeps one float per arc instead of a copy of the graph.
  if (needs_grad({&energies})) {
    Tape::current().record(
        "free_energy", {energies}, result,
        [energies, posteriors = arc_posteriors(graph, energies.data(), beta, state)](
            const Tensor& grad_result) {
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
