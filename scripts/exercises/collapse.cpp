// Exercise `collapse`: from per-window symbols to a label sequence.
//
// Write collapse (declared in ebm/alignment/decode.h). window_symbols contains
// the symbol of each window (for greedy decoding, each window's argmin);
// topology.blank is the separator or blank index.
//
// Separator topology (topology.kind == TopologyKind::separator): split at
// separators, keep the most common symbol of each maximal run without a
// separator (on a tie, the one that reached the top count first), and drop
// the separators. {c, c, a, c, _, a, _} -> {c, a}.
//
// ctc (TopologyKind::ctc): merge runs of the same symbol, then drop blanks.
// {c, c, _, a, a, _, a} -> {c, a, a}.
//
// An empty input gives an empty output under both.
//
// Where it runs: greedy_decode calls it, and ember train --decode greedy uses
// that for its test report. Tests: the decoders ([alignment][decode]).
#include "ebm/alignment/decode.h"

#include <map>
#include <stdexcept>

namespace ember::alignment {

std::vector<int64_t> collapse([[maybe_unused]] const std::vector<int64_t>& window_symbols,
                              [[maybe_unused]] const Topology& topology) {
  // Hint: for the separator topology, walk the runs with two indices and
  // count symbols in a std::map. Replace the best symbol only when a count
  // beats the best count strictly, so ties keep the earlier symbol.
  throw std::logic_error("exercise collapse: collapse is not written yet");
}

}  // namespace ember::alignment
