// gibbs and log_gibbs, declared in energy.h, composed from autodiff ops.
// Exercise `gibbs` replaces this file: see docs/exercises.md.
#include "ebm/energy.h"

#include "ebm/energy_detail.h"

namespace ember::ebm {

Tensor gibbs(const Tensor& energies, float beta, int64_t dim) {
  detail::check_beta("gibbs", beta, /*allow_zero=*/true);
  Tensor shift;
  return softmax(detail::scaled_shifted(energies, beta, dim, shift), dim);
}

Tensor log_gibbs(const Tensor& energies, float beta, int64_t dim) {
  detail::check_beta("log_gibbs", beta, /*allow_zero=*/true);
  Tensor shift;
  return log_softmax(detail::scaled_shifted(energies, beta, dim, shift), dim);
}

}  // namespace ember::ebm
