// Exercise `square-square`: square_square_loss, a contrastive loss.
//
// Write square_square_loss (declared in ebm/losses.h). For energies E [B, C] (B samples,
// C labels, lower = better), correct labels y and margin m >= 0, with
// F(x, y) the correct label's energy, F(x, ybar) that of the most offending
// incorrect answer (the lowest-energy label other than y) and [u]+ = max(u, 0):
//
//   L = [F(x, y)]+^2 + [m - F(x, ybar)]+^2
//
// Gradient, which the tests check in closed form:
//   dL/dF(x, y) = 2 [F(x, y)]+
//   dL/dF(x, ybar) = -2 [m - F(x, ybar)]+
//
// Contract:
// - check_parameter("square_square_loss", "margin", margin, /*allow_zero=*/true) rejects a
//   negative or non-finite margin with std::invalid_argument.
// - contrastive_pair("square_square_loss", energies, labels) validates E [B, C] (C >= 2) and
//   the labels and returns F(x, y) and F(x, ybar), each [B], differentiable.
// - Return reduce_loss(per_sample [B], reduction).
// - At a kink (u = 0 exactly) the gradient of [u]+ is 0: relu does that.
//
// Hint: one line of autodiff ops on pair.correct and pair.offending.
//
// Where it runs: ember landscape --loss square-square. Tests: [hw-1.3c] and the loss table [losses].
#include "ebm/losses.h"

#include <stdexcept>

#include "ebm/losses_detail.h"

namespace ember::ebm {

using detail::ContrastivePair;
using detail::check_parameter;
using detail::contrastive_pair;

Tensor square_square_loss([[maybe_unused]] const Tensor& energies,
           [[maybe_unused]] const std::vector<int64_t>& labels, [[maybe_unused]] float margin,
           [[maybe_unused]] Reduction reduction) {
  throw std::logic_error("exercise square-square: square_square_loss is not written yet");
}

}  // namespace ember::ebm
