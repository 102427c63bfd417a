// Free energies and the most offending incorrect answer, composed from
// autodiff ops (their gradients come from those ops). The Gibbs distribution
// is in energy_gibbs.cpp so exercise mode can replace it.
#include "ebm/energy.h"

#include <cmath>
#include <stdexcept>

#include "ebm/energy_detail.h"

namespace ember::ebm {

namespace detail {

void check_beta(const char* op, float beta, bool allow_zero) {
  const bool valid = std::isfinite(beta) && (allow_zero ? beta >= 0.0f : beta > 0.0f);
  if (!valid) {
    throw std::invalid_argument(fmt::format("{}: beta is {}; expected a finite value {} 0", op,
                                            beta, allow_zero ? ">=" : ">"));
  }
}

// -beta (E - min E) along dim. Subtracting the minimum changes neither the
// Gibbs distribution nor the soft minimum's gradient, and it keeps the
// largest scaled value at exactly 0, so no exp overflows and the sum is >= 1.
// The minimum is detached because the result is invariant to the shift.
Tensor scaled_shifted(const Tensor& energies, float beta, int64_t dim, Tensor& shift) {
  shift = min(energies.detach(), dim, /*keepdim=*/true);
  return (energies - shift) * (-beta);
}

}  // namespace detail

Tensor free_energy_min(const Tensor& energies, int64_t dim, bool keepdim) {
  return min(energies, dim, keepdim);
}

Tensor free_energy_soft(const Tensor& energies, float beta, int64_t dim, bool keepdim) {
  detail::check_beta("free_energy_soft", beta, /*allow_zero=*/false);

  // F = c - (1/beta) log sum_k exp(-beta (E_k - c)) for any constant c; with
  // c = min E every exponent is <= 0 and one is exactly 0.
  Tensor shift;
  const Tensor scaled = detail::scaled_shifted(energies, beta, dim, shift);
  const Tensor soft = logsumexp(scaled, dim, /*keepdim=*/true) * (-1.0f / beta);
  const Tensor result = shift + soft;
  if (keepdim) {
    return result;
  }
  Shape reduced = energies.shape();
  reduced.erase(reduced.begin() + normalize_dim(dim, energies.dim(), "free_energy_soft"));
  return reshape(result, reduced);
}

void check_energies_and_labels(const char* op, const Tensor& energies,
                               const std::vector<int64_t>& labels, int64_t min_labels) {
  if (energies.dim() != 2) {
    throw std::invalid_argument(fmt::format("{}: energies have shape {}; expected [B, C]", op,
                                            shape_to_string(energies.shape())));
  }
  const int64_t batch = energies.size(0);
  const int64_t classes = energies.size(1);
  if (classes < min_labels) {
    throw std::invalid_argument(
        fmt::format("{}: energies [B, C] = {} have C = {} labels; expected at least {}", op,
                    shape_to_string(energies.shape()), classes, min_labels));
  }
  if (static_cast<int64_t>(labels.size()) != batch) {
    throw std::invalid_argument(fmt::format(
        "{}: {} labels for energies [B, C] = {}; expected B = {} labels", op, labels.size(),
        shape_to_string(energies.shape()), batch));
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      throw std::invalid_argument(fmt::format("{}: label {} of sample {} is outside [0, C = {})",
                                              op, labels[i], i, classes));
    }
  }
}

std::vector<int64_t> most_offending_incorrect(const Tensor& energies,
                                              const std::vector<int64_t>& labels) {
  check_energies_and_labels("most_offending_incorrect", energies, labels, /*min_labels=*/2);
  const int64_t batch = energies.size(0);
  const int64_t classes = energies.size(1);
  const float* values = energies.data();

  // Scan labels in increasing order and replace only on a strictly lower
  // energy, so among equal energies the lowest index wins.
  std::vector<int64_t> offending(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) {
    const float* row = values + i * classes;
    const int64_t correct = labels[static_cast<size_t>(i)];
    int64_t best = -1;
    for (int64_t k = 0; k < classes; ++k) {
      if (k != correct && (best < 0 || row[k] < row[best])) {
        best = k;
      }
    }
    offending[static_cast<size_t>(i)] = best;
  }
  return offending;
}

Tensor energy_at(const Tensor& energies, const std::vector<int64_t>& labels) {
  check_energies_and_labels("energy_at", energies, labels);
  const int64_t batch = energies.size(0);

  // gather along dim 1 with an index [B, 1] picks one label per row.
  Tensor index = zeros({batch, 1});
  float* positions = index.mutable_data();
  for (int64_t i = 0; i < batch; ++i) {
    positions[i] = static_cast<float>(labels[static_cast<size_t>(i)]);
  }
  return reshape(gather(energies, 1, index), {batch});
}

}  // namespace ember::ebm
