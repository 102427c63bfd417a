// SGD, Adam and AdamW updates, optimizer state for checkpoints, and
// gradient clipping. The update rules are listed in optim.h.
#include "nn/optim.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "autodiff/kernels/adam.h"
#include "autodiff/kernels/threads.h"

namespace ember::nn {

// ------------------------------------------------------------ Optimizer

Optimizer::Optimizer(std::vector<NamedTensor> parameters, float learning_rate)
    : parameters_(std::move(parameters)), learning_rate_(learning_rate) {
  set_learning_rate(learning_rate);
  for (const NamedTensor& entry : parameters_) {
    if (!entry.second.defined() || !entry.second.requires_grad()) {
      throw std::invalid_argument(fmt::format(
          "Optimizer: parameter '{}' does not require grad, so it can never be updated",
          entry.first));
    }
  }
}

void Optimizer::set_learning_rate(float learning_rate) {
  if (!(learning_rate >= 0.0f) || !std::isfinite(learning_rate)) {
    throw std::invalid_argument(fmt::format(
        "Optimizer: learning rate {} must be a finite number >= 0", learning_rate));
  }
  learning_rate_ = learning_rate;
}

void Optimizer::init_slots() {
  const size_t slot_count = slot_names().size();
  for (const NamedTensor& entry : parameters_) {
    std::vector<Tensor> slots;
    for (size_t k = 0; k < slot_count; ++k) {
      slots.push_back(zeros(entry.second.shape()));
    }
    slots_.push_back(std::move(slots));
  }
}

void Optimizer::step() {
  ++step_count_;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& parameter = parameters_[i].second;
    const Tensor grad = parameter.grad();
    if (!grad.defined()) {
      continue;
    }
    update(parameter.mutable_data(), grad.data(), parameter.numel(), slots_[i]);
  }
}

void Optimizer::zero_grad() {
  for (NamedTensor& entry : parameters_) {
    entry.second.zero_grad();
  }
}

std::vector<NamedTensor> Optimizer::state() const {
  std::vector<NamedTensor> out;
  const std::vector<std::string> names = slot_names();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    for (size_t k = 0; k < names.size(); ++k) {
      out.emplace_back(parameters_[i].first + "." + names[k], slots_[i][k]);
    }
  }
  return out;
}

std::map<std::string, std::string> Optimizer::state_metadata() const {
  // fmt's default float format is the shortest text that reads back exactly.
  return {{"optimizer", kind()},
          {"optimizer.step", std::to_string(step_count_)},
          {"optimizer.learning_rate", fmt::format("{}", learning_rate_)}};
}

namespace {

const std::string& require_entry(const std::map<std::string, std::string>& metadata,
                                 const std::string& key) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) {
    throw std::invalid_argument(
        fmt::format("Optimizer::load_state: metadata '{}' is missing", key));
  }
  return found->second;
}

}  // namespace

void Optimizer::load_state(const std::vector<NamedTensor>& tensors,
                           const std::map<std::string, std::string>& metadata) {
  const std::string& saved_kind = require_entry(metadata, "optimizer");
  if (saved_kind != kind()) {
    throw std::invalid_argument(fmt::format(
        "Optimizer::load_state: the state is from optimizer '{}', expected '{}'", saved_kind,
        kind()));
  }
  const std::string& step_text = require_entry(metadata, "optimizer.step");
  const std::string& rate_text = require_entry(metadata, "optimizer.learning_rate");
  int64_t saved_step = 0;
  float saved_learning_rate = 0.0f;
  try {
    saved_step = std::stoll(step_text);
    saved_learning_rate = std::stof(rate_text);
  } catch (const std::logic_error&) {
    // stoll and stof throw invalid_argument or out_of_range, both logic errors.
    throw std::invalid_argument(fmt::format(
        "Optimizer::load_state: metadata optimizer.step '{}' and optimizer.learning_rate '{}' "
        "must be numbers",
        step_text, rate_text));
  }

  // Check every slot before copying any, so a bad file leaves this optimizer as it was.
  std::map<std::string, Tensor> by_name(tensors.begin(), tensors.end());
  const std::vector<NamedTensor> own = state();
  for (const NamedTensor& slot : own) {
    const auto found = by_name.find(slot.first);
    if (found == by_name.end()) {
      throw std::invalid_argument(
          fmt::format("Optimizer::load_state: state tensor '{}' is missing", slot.first));
    }
    if (found->second.shape() != slot.second.shape()) {
      throw std::invalid_argument(fmt::format(
          "Optimizer::load_state: state tensor '{}' has shape {}, expected {}", slot.first,
          shape_to_string(found->second.shape()), shape_to_string(slot.second.shape())));
    }
  }

  for (const NamedTensor& slot : own) {
    const Tensor& source = by_name.at(slot.first);
    Tensor target = slot.second;
    std::copy(source.data(), source.data() + source.numel(), target.mutable_data());
  }
  step_count_ = saved_step;
  set_learning_rate(saved_learning_rate);
}

// ------------------------------------------------------------ SGD

Sgd::Sgd(std::vector<NamedTensor> parameters, const SgdOptions& options)
    : Optimizer(std::move(parameters), options.learning_rate), options_(options) {
  if (options.momentum < 0.0f || options.weight_decay < 0.0f) {
    throw std::invalid_argument(fmt::format(
        "Sgd: momentum {} and weight decay {} must be >= 0", options.momentum,
        options.weight_decay));
  }
  if (options.nesterov && options.momentum == 0.0f) {
    throw std::invalid_argument("Sgd: Nesterov momentum needs momentum > 0");
  }
  init_slots();
}

std::vector<std::string> Sgd::slot_names() const {
  if (options_.momentum == 0.0f) {
    return {};
  }
  return {"momentum"};
}

void Sgd::update(float* values, const float* grad, int64_t n, std::vector<Tensor>& slots) {
  float* velocity = slots.empty() ? nullptr : slots[0].mutable_data();
  for (int64_t i = 0; i < n; ++i) {
    float g = grad[i] + options_.weight_decay * values[i];
    if (velocity != nullptr) {
      velocity[i] = options_.momentum * velocity[i] + g;
      g = options_.nesterov ? g + options_.momentum * velocity[i] : velocity[i];
    }
    values[i] -= learning_rate_ * g;
  }
}

// ------------------------------------------------------------ Adam, AdamW

Adam::Adam(std::vector<NamedTensor> parameters, const AdamOptions& options)
    : Adam(std::move(parameters), options, /*decoupled=*/false) {}

Adam::Adam(std::vector<NamedTensor> parameters, const AdamOptions& options, bool decoupled)
    : Optimizer(std::move(parameters), options.learning_rate),
      options_(options),
      decoupled_(decoupled) {
  const bool betas_valid = options.beta1 >= 0.0f && options.beta1 < 1.0f &&
                           options.beta2 >= 0.0f && options.beta2 < 1.0f;
  if (!betas_valid) {
    throw std::invalid_argument(fmt::format(
        "Adam: beta1 {} and beta2 {} must be in [0, 1)", options.beta1, options.beta2));
  }
  if (options.eps <= 0.0f || options.weight_decay < 0.0f) {
    throw std::invalid_argument(fmt::format(
        "Adam: eps {} must be > 0 and weight decay {} >= 0", options.eps, options.weight_decay));
  }
  init_slots();
}

std::vector<std::string> Adam::slot_names() const { return {"exp_avg", "exp_avg_sq"}; }

void Adam::update(float* values, const float* grad, int64_t n, std::vector<Tensor>& slots) {
  float* m = slots[0].mutable_data();
  float* s = slots[1].mutable_data();
  // Bias corrections undo the zero start of m and s. They are computed in
  // double so that 1 - beta2^t keeps its digits while beta2^t is close to 1.
  const double t = static_cast<double>(step_count_);
  const float correction1 = static_cast<float>(1.0 - std::pow(options_.beta1, t));
  const float correction2 = static_cast<float>(1.0 - std::pow(options_.beta2, t));
  const float decay = decoupled_ ? 1.0f - learning_rate_ * options_.weight_decay : 1.0f;
  const float l2 = decoupled_ ? 0.0f : options_.weight_decay;

  if (l2 == 0.0f) {
    // Plain Adam and AdamW: the vectorized kernel. The scalar loop below took
    // 4% of a model B step, most of it in scalar division and square root.
    const kernels::AdamStep step{.learning_rate = learning_rate_,
                                 .beta1 = options_.beta1,
                                 .beta2 = options_.beta2,
                                 .epsilon = options_.eps,
                                 .bias_correction1 = correction1,
                                 .bias_correction2 = correction2,
                                 .weight_decay = decoupled_ ? options_.weight_decay : 0.0f};
    // Each element is updated on its own, so any split across threads
    // gives the same bits; small tensors are not worth waking a thread.
    constexpr int64_t kMinParallelValues = int64_t{1} << 15;
    if (n < kMinParallelValues) {
      kernels::adam_update(n, values, grad, m, s, step);
      return;
    }
    kernels::parallel_for(n, [&](int64_t begin, int64_t end) {
      kernels::adam_update(end - begin, values + begin, grad + begin, m + begin, s + begin,
                           step);
    });
    return;
  }
  // Adam with L2 weight decay adds l2 * value to each gradient first.
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] + l2 * values[i];
    m[i] = options_.beta1 * m[i] + (1.0f - options_.beta1) * g;
    s[i] = options_.beta2 * s[i] + (1.0f - options_.beta2) * g * g;
    const float m_hat = m[i] / correction1;
    const float s_hat = s[i] / correction2;
    values[i] = values[i] * decay - learning_rate_ * m_hat / (std::sqrt(s_hat) + options_.eps);
  }
}

AdamW::AdamW(std::vector<NamedTensor> parameters, const AdamOptions& options)
    : Adam(std::move(parameters), options, /*decoupled=*/true) {}

// ------------------------------------------------------------ clipping

float clip_grad_norm(const std::vector<Tensor>& parameters, float max_norm) {
  if (!(max_norm > 0.0f)) {
    throw std::invalid_argument(
        fmt::format("clip_grad_norm: max_norm {} must be > 0", max_norm));
  }

  double squares = 0.0;
  for (const Tensor& parameter : parameters) {
    const Tensor grad = parameter.grad();
    if (!grad.defined()) {
      continue;
    }
    const float* g = grad.data();
    for (int64_t i = 0; i < grad.numel(); ++i) {
      squares += static_cast<double>(g[i]) * g[i];
    }
  }
  const float norm = static_cast<float>(std::sqrt(squares));

  if (norm > max_norm) {
    const float scale = max_norm / norm;
    for (const Tensor& parameter : parameters) {
      Tensor grad = parameter.grad();
      if (!grad.defined()) {
        continue;
      }
      float* g = grad.mutable_data();
      for (int64_t i = 0; i < grad.numel(); ++i) {
        g[i] *= scale;
      }
    }
  }
  return norm;
}

}  // namespace ember::nn
