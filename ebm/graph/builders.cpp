// Emissions, label-sequence, target-topology and transition graphs.
#include "ebm/graph/builders.h"

#include <stdexcept>

namespace ember::graph {

namespace {

void check_labels(const std::vector<int64_t>& labels, const char* op) {
  for (size_t t = 0; t < labels.size(); ++t) {
    if (labels[t] < 0 || labels[t] > std::numeric_limits<int32_t>::max()) {
      throw std::invalid_argument(fmt::format(
          "{}: label {} at position {} is invalid; expected a symbol index >= 0", op, labels[t], t));
    }
  }
}

int as_label(int64_t label) { return static_cast<int>(label); }

}  // namespace

Graph emissions_graph(const Tensor& energies) {
  if (energies.dim() != 2) {
    throw std::invalid_argument(fmt::format(
        "emissions_graph: energies have shape {}; expected [L, C]", shape_to_string(energies.shape())));
  }
  const int64_t windows = energies.size(0);
  const int64_t symbols = energies.size(1);

  Graph graph;
  graph.reserve(windows + 1, windows * symbols);
  graph.add_state(/*start=*/true, /*accept=*/windows == 0);
  for (int64_t i = 0; i < windows; ++i) {
    const int64_t next = graph.add_state(false, i + 1 == windows);
    for (int64_t c = 0; c < symbols; ++c) {
      graph.add_arc(i, next, as_label(c));
    }
  }
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

Graph ctc_graph(const std::vector<int64_t>& labels, int64_t blank) {
  check_labels(labels, "ctc_graph");
  check_labels({blank}, "ctc_graph (blank)");
  const auto target_length = static_cast<int64_t>(labels.size());
  const int64_t last = 2 * target_length + 1;

  // State 0 is the start. State 2t + 1 reads the blanks before label t
  // (2T + 1 those after the last label), and state 2t + 2 reads label t.
  // Every arc into a state reads that state's symbol.
  const auto symbol = [&](int64_t state) {
    return as_label(state % 2 == 1 ? blank : labels[static_cast<size_t>(state / 2 - 1)]);
  };
  Graph graph;
  graph.reserve(last + 1, 3 * last + 2);
  graph.add_state(/*start=*/true, /*accept=*/target_length == 0);
  for (int64_t s = 1; s <= last; ++s) {
    graph.add_state(false, s >= last - 1);
  }
  graph.add_arc(0, 1, symbol(1));
  if (target_length > 0) {
    graph.add_arc(0, 2, symbol(2));
  }
  for (int64_t s = 1; s <= last; ++s) {
    graph.add_arc(s, s, symbol(s));
    if (s < last) {
      graph.add_arc(s, s + 1, symbol(s + 1));
    }
    // A label state may skip the blank to the next label if they differ.
    if (s % 2 == 0 && s + 2 < last && symbol(s + 2) != symbol(s)) {
      graph.add_arc(s, s + 2, symbol(s + 2));
    }
  }
  return graph;
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
