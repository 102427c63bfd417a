// Emissions, label-sequence, target-topology and transition graphs. The CTC
// graph is in builders_ctc.cpp so exercise mode can replace it.
#include "ebm/graph/builders.h"

#include <stdexcept>
#include <utility>

#include "ebm/graph/builders_detail.h"
#include "ebm/graph/passes.h"

namespace ember::graph {

using detail::as_label;
using detail::check_labels;

Graph emissions_chain(int64_t windows, int64_t symbols) {
  Graph graph;
  graph.reserve(windows + 1, windows * symbols);
  for (int64_t s = 0; s <= windows; ++s) {
    graph.add_state(/*start=*/s == 0, /*accept=*/s == windows);
  }
  std::vector<int32_t> sources;
  std::vector<int32_t> labels;
  sources.reserve(static_cast<size_t>(windows * symbols));
  labels.reserve(static_cast<size_t>(windows * symbols));
  for (int64_t i = 0; i < windows; ++i) {
    for (int64_t c = 0; c < symbols; ++c) {
      sources.push_back(static_cast<int32_t>(i));
      labels.push_back(as_label(c));
    }
  }
  std::vector<int32_t> destinations = sources;
  for (int32_t& d : destinations) {
    ++d;
  }
  graph.add_arcs(std::move(sources), std::move(destinations), std::move(labels));
  return graph;
}

Graph emissions_graph(const Tensor& energies) {
  if (energies.dim() != 2) {
    throw std::invalid_argument(fmt::format(
        "emissions_graph: energies have shape {}; expected [L, C]", shape_to_string(energies.shape())));
  }
  const int64_t windows = energies.size(0);
  const int64_t symbols = energies.size(1);
  Graph graph = emissions_chain(windows, symbols);
  graph.tie_energies(reshape(energies, {windows * symbols}));
  return graph;
}

Graph label_graph(const std::vector<int64_t>& labels) {
  check_labels(labels, "label_graph");
  Graph graph;
  graph.add_state(/*start=*/true, /*accept=*/labels.empty());
  for (size_t t = 0; t < labels.size(); ++t) {
    const int64_t next = graph.add_state(false, t + 1 == labels.size());
    graph.add_arc(next - 1, next, as_label(labels[t]));
  }
  return graph;
}

Graph repeat_graph(const std::vector<int64_t>& labels) {
  check_labels(labels, "repeat_graph");
  Graph graph;
  graph.add_state(/*start=*/true, /*accept=*/labels.empty());
  for (size_t t = 0; t < labels.size(); ++t) {
    const int64_t next = graph.add_state(false, t + 1 == labels.size());
    graph.add_arc(next - 1, next, as_label(labels[t]));
    graph.add_arc(next, next, as_label(labels[t]));
  }
  return graph;
}

Graph separator_graph(const std::vector<int64_t>& labels, int64_t separator) {
  check_labels(labels, "separator_graph");
  check_labels({separator}, "separator_graph (separator)");
  std::vector<int64_t> with_separators;
  for (int64_t label : labels) {
    with_separators.push_back(label);
    with_separators.push_back(separator);
  }
  return repeat_graph(with_separators);
}

Graph transitions_graph(const Tensor& transitions, std::optional<int64_t> blank) {
  if (transitions.dim() != 2 || transitions.size(0) != transitions.size(1)) {
    throw std::invalid_argument(fmt::format(
        "transitions_graph: transitions have shape {}; expected a square [C, C]",
        shape_to_string(transitions.shape())));
  }
  const int64_t symbols = transitions.size(0);
  if (blank && (*blank < 0 || *blank >= symbols)) {
    throw std::invalid_argument(fmt::format(
        "transitions_graph: blank {} is out of range for {} symbols", *blank, symbols));
  }
  const auto is_blank = [&blank](int64_t c) { return blank && *blank == c; };

  // Arc energies: zeros for the start arcs and blank loops, then
  // transitions[p, c] gathered for each bigram arc in the order added.
  Graph graph;
  graph.add_state(/*start=*/true, /*accept=*/true);
  for (int64_t c = 0; c < symbols; ++c) {
    graph.add_state(/*start=*/false, /*accept=*/true);
  }
  int64_t untied = 0;
  for (int64_t c = 0; c < symbols; ++c) {
    graph.add_arc(0, is_blank(c) ? 0 : 1 + c, as_label(c));
    ++untied;
  }
  if (blank) {
    for (int64_t p = 0; p < symbols; ++p) {
      if (!is_blank(p)) {
        graph.add_arc(1 + p, 1 + p, as_label(*blank));
        ++untied;
      }
    }
  }
  std::vector<int64_t> bigrams;
  for (int64_t p = 0; p < symbols; ++p) {
    for (int64_t c = 0; c < symbols; ++c) {
      if (!is_blank(p) && !is_blank(c)) {
        graph.add_arc(1 + p, 1 + c, as_label(c));
        bigrams.push_back(p * symbols + c);
      }
    }
  }
  const Tensor flat = reshape(transitions, {symbols * symbols});
  graph.tie_energies(concat({zeros({untied}), index_select(flat, 0, bigrams)}, 0));
  return graph;
}

}  // namespace ember::graph
