// Module: the base of every layer and model, with named parameters, nested
// submodules and a train/eval mode; Sequential chains modules in order.
//
// A parameter is a Tensor leaf with requires_grad = true. Because Tensor is
// a handle, named_parameters() returns tensors that share storage with the
// module's own, so an optimizer or a checkpoint loader updates the module in
// place. Nested modules give dotted names, e.g. "conv1.weight".
//
// Left out on purpose: buffers (no layer here has non-trainable state),
// hooks, and modules with several inputs (forward takes one tensor).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/tensor.h"

namespace ember::nn {

using NamedTensor = std::pair<std::string, Tensor>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Parameters of this module and its submodules, depth first in
  // registration order, with dotted names.
  std::vector<NamedTensor> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // Total number of parameter elements.
  int64_t parameter_count() const;

  // Drops every parameter's gradient.
  void zero_grad();

  // Sets training mode (Dropout is active) for this module and its submodules.
  void train(bool training = true);
  // Sets evaluation mode, the same as train(false).
  void eval() { train(false); }
  bool training() const { return training_; }

 protected:
  // Registers a parameter under name, marks it requires_grad, and returns
  // the handle for the layer to keep. Names must be unique in this module.
  Tensor register_parameter(const std::string& name, Tensor value);

  // Registers a submodule under name and returns it.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, std::vector<NamedTensor>& out) const;
  void require_unique(const std::string& name) const;

  std::vector<NamedTensor> parameters_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Runs modules one after another. Each is registered under its own name
// ("conv1") or, when added without one, under its position ("0", "1", ...).
class Sequential : public Module {
 public:
  Sequential() = default;

  // Appends a module; returns *this so calls chain.
  Sequential& add(std::shared_ptr<Module> module);
  Sequential& add(const std::string& name, std::shared_ptr<Module> module);

  Tensor forward(const Tensor& x) override;

  int64_t size() const { return static_cast<int64_t>(layers_.size()); }
  Module& operator[](int64_t index) const;

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace ember::nn
