// The tape: a Wengert list of the ops applied to tensors that require grad.
//
// While recording, every op whose inputs include a tensor that requires grad
// appends one Node: the op's name, its inputs and output, and a backward
// function. backward(loss) walks the list in reverse from the loss's node.
// Each backward function reads its output's gradient and ACCUMULATES (+=)
// into its inputs' gradients, so a tensor used twice receives both shares.
//
// Each thread has its own tape. Ember's rules, checked in every build:
//  - backward releases the whole tape (all nodes recorded on this thread),
//    unless called with retain_tape = true. A second backward through a
//    released node throws; run the forward pass again instead.
//  - backward throws if a tensor a node saved was written in place after
//    the node was recorded (its storage version changed), because the
//    gradient would silently be wrong.
//  - backward of a non-scalar without an upstream gradient throws.
//
// Left out on purpose: higher-order gradients (backward functions do not
// record), and hooks.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "autodiff/tensor.h"

namespace ember {

// One recorded op.
struct Node {
  const char* op = "";
  std::vector<Tensor> inputs;
  Tensor output;
  // Storage versions of the inputs and output at record time.
  std::vector<uint64_t> input_versions;
  uint64_t output_version = 0;
  // Accumulates into the inputs' gradients, given the output's gradient.
  std::function<void(const Tensor& grad_output)> backward;
};

class Tape {
 public:
  // The calling thread's tape.
  static Tape& current();

  // True unless a NoGrad scope is active on this thread.
  bool recording() const { return no_grad_depth_ == 0; }
  // Number of nodes recorded and not yet released.
  int64_t size() const { return static_cast<int64_t>(nodes_.size()); }
  // Changes whenever the tape is released, which invalidates old nodes.
  uint64_t epoch() const { return epoch_; }
  const std::vector<Node>& nodes() const { return nodes_; }

  // Appends a node producing output and links output to it.
  void record(const char* op, std::vector<Tensor> inputs, Tensor& output,
              std::function<void(const Tensor& grad_output)> backward);

  // Runs reverse-mode differentiation from root with the given upstream
  // gradient (same shape as root).
  void backward(const Tensor& root, const Tensor& upstream, bool retain_tape);

  // Drops every node; tensors recorded so far can no longer be backpropagated.
  void release();

 private:
  friend class NoGrad;
  std::vector<Node> nodes_;
  uint64_t epoch_ = 1;
  int no_grad_depth_ = 0;
};

// Within this scope nothing is recorded on the current thread's tape:
// evaluation, optimizer updates and backward functions run under it.
class NoGrad {
 public:
  NoGrad() { ++Tape::current().no_grad_depth_; }
  ~NoGrad() { --Tape::current().no_grad_depth_; }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
};

// True if an op applied to these inputs must be recorded: the tape is
// recording and at least one input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Adds values (numel of t floats, t's shape) into t's gradient, creating a
// zero gradient first. Does nothing if t does not require grad.
void accumulate_grad(const Tensor& t, const float* values);

// Returns a writable pointer to t's gradient buffer, created as zeros if
// absent, so backward functions can accumulate into it directly; returns
// nullptr if t does not require grad.
float* grad_buffer(const Tensor& t);

// Like grad_buffer, for a backward function that can write every element:
// when t has no gradient yet, the new buffer is left uninitialized and
// `fresh` is set, so the caller must overwrite all of it. Otherwise `fresh`
// is cleared and the caller accumulates as with grad_buffer. This spares a
// zero fill of large activations' gradients.
float* grad_buffer_to_overwrite(const Tensor& t, bool& fresh);

}  // namespace ember
