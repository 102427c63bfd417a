// A central-difference gradient checker for any function of tensors.
//
// gradcheck(f, inputs) compares the gradient that backward computes for each
// input that requires grad with the numerical derivative
//     (L(x + eps e_i) - L(x - eps e_i)) / (2 eps),
// where L = sum_j w_j f(x)_j for fixed random weights w (so a non-scalar
// output is checked in every direction at once). L is accumulated in double.
//
// The result lists every mismatching element with its input, index, and
// both values, so a failing test shows where the gradient is wrong.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autodiff/tensor.h"

namespace ember {

struct GradCheckOptions {
  // Step of the central difference. float32 forwards limit how small it can be.
  double eps = 1e-3;
  // An element passes if |analytic - numeric| <= atol + rtol * |numeric|.
  double atol = 1e-3;
  double rtol = 1e-2;
  uint64_t seed = 0;  // seeds the projection weights w
};

struct GradMismatch {
  int64_t input = 0;  // which input
  int64_t index = 0;  // flat index within it
  double analytic = 0.0;
  double numeric = 0.0;
};

struct GradCheckResult {
  bool ok = true;
  int64_t checked = 0;  // number of elements compared
  std::vector<GradMismatch> mismatches;
  double max_abs_error = 0.0;
  // One line per mismatch (the first 20), ready for a test's INFO().
  std::string report;
};

// Checks the gradients of f at inputs. Inputs that do not require grad are
// held fixed. f must be deterministic and must not modify its inputs.
GradCheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradCheckOptions& options = {});

}  // namespace ember
