// The tape's recording and the reverse walk that computes gradients.
#include "autodiff/tape.h"

#include <stdexcept>

namespace ember {

Tape& Tape::current() {
  thread_local Tape tape;
  return tape;
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!Tape::current().recording()) {
    return false;
  }
  for (const Tensor* input : inputs) {
    if (input->defined() && input->requires_grad()) {
      return true;
    }
  }
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!Tape::current().recording()) {
    return false;
  }
  for (const Tensor& input : inputs) {
    if (input.defined() && input.requires_grad()) {
      return true;
    }
  }
  return false;
}

void Tape::record(const char* op, std::vector<Tensor> inputs, Tensor& output,
                  std::function<void(const Tensor& grad_output)> backward) {
  Node node;
  node.op = op;
  for (const Tensor& input : inputs) {
    node.input_versions.push_back(input.impl()->storage->version);
  }
  node.inputs = std::move(inputs);
  node.output = output;
  node.output_version = output.impl()->storage->version;
  node.backward = std::move(backward);

  output.impl()->requires_grad = true;
  output.impl()->node = static_cast<int64_t>(nodes_.size());
  output.impl()->tape_epoch = epoch_;
  nodes_.push_back(std::move(node));
}

void Tape::release() {
  // Outputs keep their stale node index, so they stay non-leaves and a later
  // backward through them fails on the epoch check instead of running.
  nodes_.clear();
  ++epoch_;
}

float* grad_buffer(const Tensor& t) {
  if (!t.requires_grad()) {
    return nullptr;
  }
  TensorImpl* impl = t.impl();
  if (!impl->grad) {
    impl->grad = zeros(impl->shape).impl_ptr();
  }
  // Written directly: a gradient buffer is never saved by a node.
  return impl->grad->storage->values.data() + impl->grad->offset;
}

float* grad_buffer_to_overwrite(const Tensor& t, bool& fresh) {
  fresh = false;
  if (!t.requires_grad()) {
    return nullptr;
  }
  TensorImpl* impl = t.impl();
  if (!impl->grad) {
    impl->grad = empty(impl->shape).impl_ptr();
    fresh = true;
  }
  return impl->grad->storage->values.data() + impl->grad->offset;
}

void accumulate_grad(const Tensor& t, const float* values) {
  float* grad = grad_buffer(t);
  if (grad == nullptr) {
    return;
  }
  const int64_t count = t.numel();
  for (int64_t i = 0; i < count; ++i) {
    grad[i] += values[i];
  }
}

namespace {

// Throws if a tensor that the node saved was written in place after the
// node was recorded: its backward would read the new values.
void check_versions(const Node& node) {
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const uint64_t now = node.inputs[i].impl()->storage->version;
    if (now != node.input_versions[i]) {
      throw std::logic_error(fmt::format(
          "backward: input {} of '{}' (shape {}) was modified in place after the op was "
          "recorded (version {}, now {}); its gradient would be wrong. Modify a clone() "
          "instead, or run the forward pass again",
          i, node.op, shape_to_string(node.inputs[i].shape()), node.input_versions[i], now));
    }
  }
  if (node.output.impl()->storage->version != node.output_version) {
    throw std::logic_error(fmt::format(
        "backward: the output of '{}' (shape {}) was modified in place after the op was "
        "recorded; its gradient would be wrong",
        node.op, shape_to_string(node.output.shape())));
  }
}

}  // namespace

void Tape::backward(const Tensor& root, const Tensor& upstream, bool retain_tape) {
  TensorImpl* root_impl = root.impl();
  if (root_impl->node < 0) {
    if (!root_impl->requires_grad) {
      throw std::logic_error(
          "backward: the tensor does not require grad and no recorded op produced it. "
          "Either no input had requires_grad set, the op ran inside NoGrad, or an earlier "
          "backward already released its tape (call backward(/*retain_tape=*/true) to keep it)");
    }
    // A leaf: its gradient with respect to itself is the upstream gradient.
    accumulate_grad(root, upstream.data());
    return;
  }
  if (root_impl->tape_epoch != epoch_) {
    throw std::logic_error(
        "backward: the tape that recorded this tensor was released by an earlier backward; "
        "run the forward pass again, or pass retain_tape = true to the first backward");
  }

  // An intermediate's grad field serves as this walk's buffer, so set aside
  // what an earlier walk left in retained intermediates and add it back at the end.
  const auto last = static_cast<size_t>(root_impl->node);
  std::vector<std::shared_ptr<TensorImpl>> earlier_grads(last + 1);
  for (size_t i = 0; i <= last; ++i) {
    TensorImpl* output = nodes_[i].output.impl();
    earlier_grads[i] = std::move(output->grad);
    output->grad.reset();
  }

  accumulate_grad(root, upstream.data());

  // Backward functions compute with plain loops and must not record.
  NoGrad no_grad;
  for (size_t i = last + 1; i-- > 0;) {
    Node& node = nodes_[i];
    TensorImpl* output = node.output.impl();
    if (!output->grad) {
      output->grad = std::move(earlier_grads[i]);
      continue;  // not on a path to the root
    }
    check_versions(node);
    node.backward(Tensor(output->grad));

    if (!output->retains_grad) {
      output->grad.reset();  // an intermediate gradient is not needed once its node has run
    } else if (earlier_grads[i]) {
      accumulate_grad(node.output, earlier_grads[i]->storage->values.data() + earlier_grads[i]->offset);
    }
  }

  if (!retain_tape) {
    release();
  }
}

}  // namespace ember
