// Module bookkeeping (parameter registration, names, modes) and Sequential.
#include "nn/module.h"

#include <stdexcept>

#include <fmt/format.h>

namespace ember::nn {

std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (const NamedTensor& entry : named_parameters()) {
    out.push_back(entry.second);
  }
  return out;
}

int64_t Module::parameter_count() const {
  int64_t count = 0;
  for (const NamedTensor& entry : named_parameters()) {
    count += entry.second.numel();
  }
  return count;
}

void Module::zero_grad() {
  for (NamedTensor& entry : named_parameters()) {
    entry.second.zero_grad();
  }
}

void Module::train(bool training) {
  training_ = training;
  for (auto& child : children_) {
    child.second->train(training);
  }
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  require_unique(name);
  value.set_requires_grad(true);
  parameters_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  if (module == nullptr) {
    throw std::invalid_argument(fmt::format("Module: submodule '{}' is null", name));
  }
  require_unique(name);
  module->train(training_);
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, std::vector<NamedTensor>& out) const {
  for (const NamedTensor& entry : parameters_) {
    out.emplace_back(prefix + entry.first, entry.second);
  }
  for (const auto& child : children_) {
    child.second->collect(prefix + child.first + ".", out);
  }
}

void Module::require_unique(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw std::invalid_argument(fmt::format(
        "Module: name '{}' is invalid; names must be non-empty and contain no '.'", name));
  }
  for (const NamedTensor& entry : parameters_) {
    if (entry.first == name) {
      throw std::invalid_argument(
          fmt::format("Module: name '{}' is already used by a parameter", name));
    }
  }
  for (const auto& child : children_) {
    if (child.first == name) {
      throw std::invalid_argument(
          fmt::format("Module: name '{}' is already used by a submodule", name));
    }
  }
}

// ------------------------------------------------------------ Sequential

Sequential& Sequential::add(std::shared_ptr<Module> module) {
  return add(std::to_string(layers_.size()), std::move(module));
}

Sequential& Sequential::add(const std::string& name, std::shared_ptr<Module> module) {
  register_module(name, module);
  layers_.push_back(std::move(module));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& layer : layers_) {
    y = layer->forward(y);
  }
  return y;
}

Module& Sequential::operator[](int64_t index) const {
  if (index < 0 || index >= size()) {
    throw std::out_of_range(
        fmt::format("Sequential: index {} is out of range for {} layers", index, size()));
  }
  return *layers_[static_cast<size_t>(index)];
}

}  // namespace ember::nn
