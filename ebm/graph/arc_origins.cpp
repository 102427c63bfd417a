// The tape node shared by all graph operations; see arc_origins.h.
#include "ebm/graph/arc_origins.h"

#include <memory>
#include <stdexcept>

namespace ember::graph {

void tie_derived_energies(Graph& output, const std::vector<const Graph*>& inputs,
                          ArcOrigins origins, const char* op) {
  if (origins.num_output_arcs() != output.num_arcs()) {
    throw std::logic_error(fmt::format("{}: {} arc origin lists for {} output arcs", op,
                                       origins.num_output_arcs(), output.num_arcs()));
  }

  // Forward: E_out[a] = sum of the origin energies (0 for a new arc).
  std::vector<Tensor> input_energies;
  std::vector<const float*> values;
  for (const Graph* input : inputs) {
    input_energies.push_back(input->energies());
    values.push_back(input_energies.back().data());
  }
  Tensor energies = zeros({output.num_arcs()});
  float* out = energies.mutable_data();
  for (int64_t a = 0; a < output.num_arcs(); ++a) {
    float total = 0.0f;
    for (int32_t k = origins.offsets[static_cast<size_t>(a)];
         k < origins.offsets[static_cast<size_t>(a) + 1]; ++k) {
      total += values[static_cast<size_t>(origins.inputs[static_cast<size_t>(k)])]
                     [origins.arcs[static_cast<size_t>(k)]];
    }
    out[a] = total;
  }

  // Backward: each origin arc receives the output arc's gradient once per
  // appearance, because dE_out[a] / dE_in[k] counts those appearances.
  if (needs_grad(input_energies)) {
    Tape::current().record(
        op, input_energies, energies,
        [input_energies, origins = std::move(origins)](const Tensor& grad_out) {
          std::vector<float*> grads;
          for (const Tensor& input : input_energies) {
            grads.push_back(grad_buffer(input));
          }
          const float* g = grad_out.data();
          const int64_t num_arcs = origins.num_output_arcs();
          for (int64_t a = 0; a < num_arcs; ++a) {
            for (int32_t k = origins.offsets[static_cast<size_t>(a)];
                 k < origins.offsets[static_cast<size_t>(a) + 1]; ++k) {
              float* grad = grads[static_cast<size_t>(origins.inputs[static_cast<size_t>(k)])];
              if (grad != nullptr) {
                grad[origins.arcs[static_cast<size_t>(k)]] += g[a];
              }
            }
          }
        });
  }
  output.tie_energies(energies);
}

void sum_pair_energies(const PairOrigins& origins, const float* first, const float* second,
                       float* out) {
  for (size_t a = 0; a < origins.first.size(); ++a) {
    const int32_t k1 = origins.first[a];
    const int32_t k2 = origins.second[a];
    out[a] = (k1 >= 0 ? first[k1] : 0.0f) + (k2 >= 0 ? second[k2] : 0.0f);
  }
}

void scatter_pair_gradient(const std::vector<int32_t>& arcs, const float* grad_out, float scale,
                           float* grad) {
  for (size_t a = 0; a < arcs.size(); ++a) {
    if (arcs[a] >= 0) {
      grad[arcs[a]] += scale * grad_out[a];
    }
  }
}

void tie_pair_energies(Graph& output, const Graph& first, const Graph& second,
                       PairOrigins origins, const char* op) {
  const auto num_arcs = static_cast<size_t>(output.num_arcs());
  if (origins.first.size() != num_arcs || origins.second.size() != num_arcs) {
    throw std::logic_error(fmt::format("{}: {} and {} arc origins for {} output arcs", op,
                                       origins.first.size(), origins.second.size(), num_arcs));
  }

  // Forward: E_out[a] = E_first[first[a]] + E_second[second[a]], a missing
  // side adding 0.
  const Tensor first_energies = first.energies();
  const Tensor second_energies = second.energies();
  Tensor energies = zeros({output.num_arcs()});
  sum_pair_energies(origins, first_energies.data(), second_energies.data(), energies.mutable_data());

  // Backward: dE_out[a] / dE_first[first[a]] = dE_out[a] / dE_second[second[a]] = 1.
  // A side that needs no gradient drops its list now, so the node holds
  // only what backward reads.
  const bool first_grad = needs_grad({&first_energies});
  const bool second_grad = needs_grad({&second_energies});
  if (first_grad || second_grad) {
    if (!first_grad) {
      origins.first = {};
    }
    if (!second_grad) {
      origins.second = {};
    }
    Tape::current().record(
        op, {first_energies, second_energies}, energies,
        [first_energies, second_energies, origins = std::move(origins)](const Tensor& grad_out) {
          float* grad_first = grad_buffer(first_energies);
          float* grad_second = grad_buffer(second_energies);
          if (grad_first != nullptr) {
            scatter_pair_gradient(origins.first, grad_out.data(), 1.0f, grad_first);
          }
          if (grad_second != nullptr) {
            scatter_pair_gradient(origins.second, grad_out.data(), 1.0f, grad_second);
          }
        });
  }
  output.tie_energies(energies);
}

Graph path_graph(const Graph& graph, const std::vector<int32_t>& path, const char* op) {
  Graph result;
  result.reserve(static_cast<int64_t>(path.size()) + 1, static_cast<int64_t>(path.size()));
  ArcOrigins origins;
  result.add_state(/*start=*/true, /*accept=*/path.empty());
  for (size_t i = 0; i < path.size(); ++i) {
    const int64_t next = result.add_state(false, i + 1 == path.size());
    result.add_arc(next - 1, next, graph.input_label(path[i]), graph.output_label(path[i]), 0.0f);
    origins.add(0, path[i]);
    origins.end_arc();
  }
  tie_derived_energies(result, {&graph}, std::move(origins), op);
  return result;
}

}  // namespace ember::graph
