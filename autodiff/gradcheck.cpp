// The central-difference gradient checker; see gradcheck.h for the method.
#include "autodiff/gradcheck.h"

#include <cmath>

#include "autodiff/tape.h"

namespace ember {

namespace {

// L = sum_j w_j y_j in double.
double projected(const Tensor& y, const std::vector<double>& weights) {
  const float* ys = y.data();
  double total = 0.0;
  for (int64_t j = 0; j < y.numel(); ++j) {
    total += weights[static_cast<size_t>(j)] * ys[j];
  }
  return total;
}

}  // namespace

GradCheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradCheckOptions& options) {
  // Analytic gradients: one backward with upstream gradient w.
  for (const Tensor& input : inputs) {
    if (input.requires_grad()) {
      Tensor(input).zero_grad();
    }
  }
  const Tensor output = f(inputs);
  Generator generator(options.seed);
  std::vector<double> weights(static_cast<size_t>(output.numel()));
  std::vector<float> weights_float(weights.size());
  for (size_t j = 0; j < weights.size(); ++j) {
    weights_float[j] = generator.uniform(0.5f, 1.5f);
    weights[j] = weights_float[j];
  }
  output.backward(from_vector(weights_float, output.shape()));

  GradCheckResult result;
  for (size_t which = 0; which < inputs.size(); ++which) {
    Tensor input = inputs[which];
    if (!input.requires_grad()) {
      continue;
    }
    const Tensor analytic = input.grad();
    for (int64_t i = 0; i < input.numel(); ++i) {
      // Perturb one element in place, outside the tape, and restore it.
      float* values = input.impl()->storage->values.data() + input.impl()->offset;
      const float original = values[i];
      double numeric = 0.0;
      {
        NoGrad no_grad;
        values[i] = static_cast<float>(original + options.eps);
        const double plus = projected(f(inputs), weights);
        values[i] = static_cast<float>(original - options.eps);
        const double minus = projected(f(inputs), weights);
        values[i] = original;
        numeric = (plus - minus) / (2.0 * options.eps);
      }

      const double got = analytic.defined() ? analytic.data()[i] : 0.0;
      const double error = std::fabs(got - numeric);
      result.max_abs_error = std::max(result.max_abs_error, error);
      ++result.checked;
      if (!(error <= options.atol + options.rtol * std::fabs(numeric))) {
        result.ok = false;
        result.mismatches.push_back({static_cast<int64_t>(which), i, got, numeric});
        if (result.mismatches.size() <= 20) {
          result.report += fmt::format("input {} {} element {}: analytic {:.6g}, numeric {:.6g}\n",
                                       which, shape_to_string(input.shape()), i, got, numeric);
        }
      }
    }
  }
  if (result.ok) {
    result.report = fmt::format("all {} elements match (max abs error {:.3g})", result.checked,
                                result.max_abs_error);
  }
  return result;
}

}  // namespace ember
