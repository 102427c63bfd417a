// Optimizers (SGD, Adam, AdamW) and gradient clipping by global norm.
//
// An optimizer stores the named parameters it updates (handles sharing the
// module's storage) and its per-parameter state. step() reads each
// parameter's grad and updates its values in place; a parameter without a
// gradient is skipped, and its state is left as it was.
//
// Update rules, with g the gradient, p the parameter, lr the learning rate
// and t the step count starting at 1:
//
//   SGD      g <- g + wd p                       (weight decay as an L2 term)
//            v <- momentum v + g                 (v starts at 0)
//            p <- p - lr (g + momentum v)        with Nesterov
//            p <- p - lr v                       without
//   Adam     g <- g + wd p                       (coupled L2 weight decay)
//            m <- beta1 m + (1 - beta1) g
//            s <- beta2 s + (1 - beta2) g^2
//            p <- p - lr (m / (1 - beta1^t)) / (sqrt(s / (1 - beta2^t)) + eps)
//   AdamW    p <- p (1 - lr wd)                  (decoupled decay, before the Adam step)
//            then the Adam step without the L2 term.
//
// Left out on purpose: per-parameter-group options and sparse gradients.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autodiff/tensor.h"
#include "nn/module.h"

namespace ember::nn {

class Optimizer {
 public:
  Optimizer(std::vector<NamedTensor> parameters, float learning_rate);
  virtual ~Optimizer() = default;

  // Applies one update to every parameter that has a gradient.
  void step();
  // Drops every parameter's gradient.
  void zero_grad();

  float learning_rate() const { return learning_rate_; }
  void set_learning_rate(float learning_rate);
  // Number of step() calls so far.
  int64_t step_count() const { return step_count_; }

  // The optimizer's state as named tensors ("<parameter>.<slot>", e.g.
  // "conv1.weight.momentum") plus string metadata (kind, step count,
  // learning rate), for checkpoints.
  std::vector<NamedTensor> state() const;
  std::map<std::string, std::string> state_metadata() const;
  // Restores state saved by state() and state_metadata(); throws naming the
  // slot and both shapes when a tensor does not fit.
  void load_state(const std::vector<NamedTensor>& tensors,
                  const std::map<std::string, std::string>& metadata);

  // A short name stored in checkpoints ("sgd", "adam", "adamw").
  virtual std::string kind() const = 0;

 protected:
  // Updates one parameter given its gradient; slots are its state tensors,
  // in the order of slot_names().
  virtual void update(float* values, const float* grad, int64_t n, std::vector<Tensor>& slots) = 0;
  virtual std::vector<std::string> slot_names() const = 0;
  void init_slots();

  std::vector<NamedTensor> parameters_;
  // slots_[i][k]: slot k of parameter i, shaped like the parameter.
  std::vector<std::vector<Tensor>> slots_;
  float learning_rate_;
  int64_t step_count_ = 0;
};

struct SgdOptions {
  float learning_rate = 0.01f;
  float momentum = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<NamedTensor> parameters, const SgdOptions& options);
  std::string kind() const override { return "sgd"; }

 protected:
  void update(float* values, const float* grad, int64_t n, std::vector<Tensor>& slots) override;
  std::vector<std::string> slot_names() const override;

 private:
  SgdOptions options_;
};

struct AdamOptions {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  // Adam adds wd p to the gradient (an L2 penalty); AdamW decays p directly.
  float weight_decay = 0.0f;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<NamedTensor> parameters, const AdamOptions& options);
  std::string kind() const override { return decoupled_ ? "adamw" : "adam"; }

 protected:
  Adam(std::vector<NamedTensor> parameters, const AdamOptions& options, bool decoupled);
  void update(float* values, const float* grad, int64_t n, std::vector<Tensor>& slots) override;
  std::vector<std::string> slot_names() const override;

 private:
  AdamOptions options_;
  bool decoupled_;
};

// Adam with decoupled weight decay: options.weight_decay shrinks p by
// lr wd each step instead of entering the gradient.
class AdamW : public Adam {
 public:
  AdamW(std::vector<NamedTensor> parameters, const AdamOptions& options);
};

// Scales all gradients by max_norm / norm when their global L2 norm
// (over every element of every gradient) exceeds max_norm. Returns the norm
// before clipping. Parameters without a gradient are ignored.
float clip_grad_norm(const std::vector<Tensor>& parameters, float max_norm);

}  // namespace ember::nn
