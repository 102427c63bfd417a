// Learning-rate schedules: functions from the step number (0, 1, ...) to a
// learning rate, applied with optimizer.set_learning_rate(schedule(step)).
//
//   StepDecay  base gamma^floor(step / step_size)
//   Cosine     min + (base - min) (1 + cos(pi min(step, total) / total)) / 2
//   Warmup     base (step + 1) / warmup_steps for step < warmup_steps, then
//              the wrapped schedule at step - warmup_steps
#pragma once

#include <cstdint>
#include <memory>

namespace ember::nn {

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  virtual float operator()(int64_t step) const = 0;
};

class StepDecay : public LearningRateSchedule {
 public:
  StepDecay(float base, int64_t step_size, float gamma);
  float operator()(int64_t step) const override;

 private:
  float base_;
  int64_t step_size_;
  float gamma_;
};

// Cosine annealing from base down to min over total steps; it stays at min
// after that.
class Cosine : public LearningRateSchedule {
 public:
  Cosine(float base, int64_t total_steps, float min = 0.0f);
  float operator()(int64_t step) const override;

 private:
  float base_;
  int64_t total_steps_;
  float min_;
};

// Linear warm-up to the wrapped schedule's first value, then that schedule.
class Warmup : public LearningRateSchedule {
 public:
  Warmup(int64_t warmup_steps, std::shared_ptr<const LearningRateSchedule> after);
  float operator()(int64_t step) const override;

 private:
  int64_t warmup_steps_;
  std::shared_ptr<const LearningRateSchedule> after_;
};

}  // namespace ember::nn
