// Label checks shared by builders.cpp and builders_ctc.cpp; internal to
// ebm/graph (no public header includes it).
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace ember::graph::detail {

inline void check_labels(const std::vector<int64_t>& labels, const char* op) {
  for (size_t t = 0; t < labels.size(); ++t) {
    if (labels[t] < 0 || labels[t] > std::numeric_limits<int32_t>::max()) {
      throw std::invalid_argument(fmt::format(
          "{}: label {} at position {} is invalid; expected a symbol index >= 0", op, labels[t], t));
    }
  }
}

inline int as_label(int64_t label) { return static_cast<int>(label); }

}  // namespace ember::graph::detail
