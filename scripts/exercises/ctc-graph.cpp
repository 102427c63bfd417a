// Exercise `ctc-graph`: the CTC target graph of a label sequence.
//
// Write ctc_graph (declared in ebm/graph/builders.h): an acceptor whose paths
// read exactly the per-window symbol sequences that collapse to labels under
// CTC (merge repeats, then drop blanks). For labels {c, a} and blank `_` it
// accepts `ca`, `_c_a_`, `cc__aaa`, and so on.
//
// Contract (the tests count paths and compare scores with brute force):
// - Every arc reads one symbol and has weight 0; use graph.add_state(start,
//   accept) and graph.add_arc(from, to, symbol) (ebm/graph/graph.h).
// - One start state with no symbol of its own. Then, for T labels, 2T + 1
//   states: a blank state before each label, each label, and a final blank.
//   Every arc into a state reads that state's symbol.
// - Each state loops on itself and moves to the next one. A label state may
//   also jump over the following blank to the next label, but only if the two
//   labels differ, because otherwise `aa` would read as one `a`.
// - Accepting states: the last label and the final blank. An empty label
//   sequence accepts the empty path (the start state accepts) and blanks.
// - Reject a negative label or blank with std::invalid_argument naming
//   ctc_graph: check_labels(labels, "ctc_graph") and
//   check_labels({blank}, "ctc_graph (blank)") do that.
//
// Where it runs: the graph layer's ctc loss (ebm/graph/losses.cpp) builds
// its target graphs with it. Tests: [hw-p2-ctc] and the graph builders
// ([builders]).
#include "ebm/graph/builders.h"

#include <stdexcept>

#include "ebm/graph/builders_detail.h"

namespace ember::graph {

using detail::as_label;
using detail::check_labels;

Graph ctc_graph([[maybe_unused]] const std::vector<int64_t>& labels,
                [[maybe_unused]] int64_t blank) {
  // Hint: number the states 0 (start), 1, 2, ..., 2T + 1 so that odd states
  // are blanks and state 2t + 2 reads labels[t]; one helper that returns the
  // symbol of a state then makes every arc a one-liner.
  throw std::logic_error("exercise ctc-graph: ctc_graph is not written yet");
}

}  // namespace ember::graph
