// The separator transform (`cat` -> `c_a_t_`), declared in alphabet.h.
// Exercise `separator` replaces this file: see docs/exercises.md.
#include "ebm/alignment/alphabet.h"

namespace ember::alignment {

std::vector<int64_t> separator_transform(const std::vector<int64_t>& target, int64_t separator) {
  std::vector<int64_t> transformed;
  transformed.reserve(2 * target.size());
  for (const int64_t symbol : target) {
    transformed.push_back(symbol);
    transformed.push_back(separator);
  }
  return transformed;
}

}  // namespace ember::alignment
