// ctc_graph, declared in builders.h: the CTC target graph of a label sequence.
// Exercise `ctc-graph` replaces this file: see docs/exercises.md.
#include "ebm/graph/builders.h"

#include "ebm/graph/builders_detail.h"

namespace ember::graph {

using detail::as_label;
using detail::check_labels;

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

}  // namespace ember::graph
