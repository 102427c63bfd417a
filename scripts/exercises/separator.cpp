// Exercise `separator`: the separator transform.
//
// Write separator_transform so that a separator follows every symbol of the
// target: with a = 0, c = 2, t = 19 and `_` = 26, {2, 0, 19} becomes
// {2, 26, 0, 26, 19, 26}, the indices of `c_a_t_`. A target of T symbols
// gives 2T; an empty target gives an empty result.
//
// Where it runs: build_lattice (ebm/alignment/topology.cpp) calls it to lay
// out the states of the separator topology, so ember train with
// --topology separator aligns every word through your code.
//
// Tests: the separator-topology lattice and the transform itself ([topology]).
#include "ebm/alignment/alphabet.h"

#include <stdexcept>

namespace ember::alignment {

std::vector<int64_t> separator_transform([[maybe_unused]] const std::vector<int64_t>& target,
                                         [[maybe_unused]] int64_t separator) {
  // Hint: reserve 2 * target.size() entries, then push each symbol and a
  // separator. Remove [[maybe_unused]] once you use a parameter.
  throw std::logic_error("exercise separator: separator_transform is not written yet");
}

}  // namespace ember::alignment
