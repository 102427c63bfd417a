// Helpers shared by energy.cpp and energy_gibbs.cpp; internal to ebm (no
// public header includes it).
#pragma once

#include <cstdint>

#include "autodiff/autodiff.h"

namespace ember::ebm::detail {

// Throws std::invalid_argument naming op unless beta is finite and > 0
// (>= 0 when allow_zero).
void check_beta(const char* op, float beta, bool allow_zero);

// -beta (E - min E) along dim, with the detached minimum stored in shift.
Tensor scaled_shifted(const Tensor& energies, float beta, int64_t dim, Tensor& shift);

}  // namespace ember::ebm::detail
