// nll_loss, the negative log-likelihood loss, declared in losses.h.
// Exercise `nll` replaces this file: see docs/exercises.md.
#include "ebm/losses.h"

#include "ebm/energy.h"

namespace ember::ebm {

Tensor nll_loss(const Tensor& energies, const std::vector<int64_t>& labels, float beta,
                Reduction reduction) {
  check_energies_and_labels("nll_loss", energies, labels);

  // -(1/beta) log p(y|x) = F(x, y) - F_beta(x), with F_beta the soft minimum
  // (free energy) over the labels, computed stably in ebm/energy.cpp.
  const Tensor per_sample =
      energy_at(energies, labels) - free_energy_soft(energies, beta, /*dim=*/1);
  return reduce_loss(per_sample, reduction);
}

}  // namespace ember::ebm
