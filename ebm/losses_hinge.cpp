// hinge_loss, declared in losses.h.
// Exercise `hinge` replaces this file: see docs/exercises.md.
#include "ebm/losses.h"

#include "ebm/losses_detail.h"

namespace ember::ebm {

using detail::ContrastivePair;
using detail::check_parameter;
using detail::contrastive_pair;

Tensor hinge_loss(const Tensor& energies, const std::vector<int64_t>& labels, float margin,
                  Reduction reduction) {
  check_parameter("hinge_loss", "margin", margin, /*allow_zero=*/true);
  const ContrastivePair pair = contrastive_pair("hinge_loss", energies, labels);
  return reduce_loss(relu(pair.correct - pair.offending + margin), reduction);
}

}  // namespace ember::ebm
