// simple_loss, declared in losses.h.
// Exercise `simple` replaces this file: see docs/exercises.md.
#include "ebm/losses.h"

#include "ebm/losses_detail.h"

namespace ember::ebm {

using detail::ContrastivePair;
using detail::check_parameter;
using detail::contrastive_pair;

Tensor simple_loss(const Tensor& energies, const std::vector<int64_t>& labels, float margin,
                   Reduction reduction) {
  check_parameter("simple_loss", "margin", margin, /*allow_zero=*/true);
  const ContrastivePair pair = contrastive_pair("simple_loss", energies, labels);
  return reduce_loss(relu(pair.correct) + relu(margin - pair.offending), reduction);
}

}  // namespace ember::ebm
