// collapse, declared in decode.h: per-window symbols to a label sequence.
// Exercise `collapse` replaces this file: see docs/exercises.md.
#include "ebm/alignment/decode.h"

#include <map>

namespace ember::alignment {

std::vector<int64_t> collapse(const std::vector<int64_t>& window_symbols, const Topology& topology) {
  std::vector<int64_t> labels;
  if (topology.kind == TopologyKind::ctc) {
    int64_t previous = -1;
    for (const int64_t symbol : window_symbols) {
      if (symbol != previous && symbol != topology.blank) {
        labels.push_back(symbol);
      }
      previous = symbol;
    }
    return labels;
  }

  // Separator topology: the majority symbol of each run between separators.
  size_t start = 0;
  while (start < window_symbols.size()) {
    if (window_symbols[start] == topology.blank) {
      ++start;
      continue;
    }
    size_t end = start;
    std::map<int64_t, int64_t> counts;
    int64_t best = window_symbols[start];
    while (end < window_symbols.size() && window_symbols[end] != topology.blank) {
      const int64_t count = ++counts[window_symbols[end]];
      if (count > counts[best]) {
        best = window_symbols[end];
      }
      ++end;
    }
    labels.push_back(best);
    start = end;
  }
  return labels;
}

}  // namespace ember::alignment
