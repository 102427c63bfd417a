// square_square_loss, declared in losses.h.
// Exercise `square-square` replaces this file: see docs/exercises.md.
#include "ebm/losses.h"

#include "ebm/losses_detail.h"

namespace ember::ebm {

using detail::ContrastivePair;
using detail::check_parameter;
using detail::contrastive_pair;

Tensor square_square_loss(const Tensor& energies, const std::vector<int64_t>& labels,
                          float margin, Reduction reduction) {
  check_parameter("square_square_loss", "margin", margin, /*allow_zero=*/true);
  const ContrastivePair pair = contrastive_pair("square_square_loss", energies, labels);
  const Tensor pull_down = relu(pair.correct);
  const Tensor push_up = relu(margin - pair.offending);
  return reduce_loss(pull_down * pull_down + push_up * push_up, reduction);
}

}  // namespace ember::ebm
