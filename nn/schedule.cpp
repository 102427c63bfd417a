// Step, cosine and warm-up learning-rate schedules; formulas in schedule.h.
#include "nn/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include <fmt/format.h>

namespace ember::nn {

namespace {

void require_step(int64_t step, const char* schedule) {
  if (step < 0) {
    throw std::invalid_argument(fmt::format("{}: step {} must be >= 0", schedule, step));
  }
}

}  // namespace

StepDecay::StepDecay(float base, int64_t step_size, float gamma)
    : base_(base), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) {
    throw std::invalid_argument(fmt::format("StepDecay: step_size {} must be > 0", step_size));
  }
}

float StepDecay::operator()(int64_t step) const {
  require_step(step, "StepDecay");
  return base_ * std::pow(gamma_, static_cast<float>(step / step_size_));
}

Cosine::Cosine(float base, int64_t total_steps, float min)
    : base_(base), total_steps_(total_steps), min_(min) {
  if (total_steps <= 0) {
    throw std::invalid_argument(fmt::format("Cosine: total_steps {} must be > 0", total_steps));
  }
}

float Cosine::operator()(int64_t step) const {
  require_step(step, "Cosine");
  const double progress = static_cast<double>(std::min(step, total_steps_)) / total_steps_;
  const double factor = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return static_cast<float>(min_ + (base_ - min_) * factor);
}

Warmup::Warmup(int64_t warmup_steps, std::shared_ptr<const LearningRateSchedule> after)
    : warmup_steps_(warmup_steps), after_(std::move(after)) {
  if (warmup_steps < 0 || after_ == nullptr) {
    throw std::invalid_argument(fmt::format(
        "Warmup: warmup_steps {} must be >= 0 and the following schedule must be set",
        warmup_steps));
  }
}

float Warmup::operator()(int64_t step) const {
  require_step(step, "Warmup");
  if (step < warmup_steps_) {
    const float fraction = static_cast<float>(step + 1) / static_cast<float>(warmup_steps_);
    return fraction * (*after_)(0);
  }
  return (*after_)(step - warmup_steps_);
}

}  // namespace ember::nn
