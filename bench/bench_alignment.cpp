// Benchmark of the alignment ops against PyTorch's CPU ctc_loss, side by side
// in one run: forward + backward of the CTC loss (free_energy with the ctc
// topology on E = -log p), and Viterbi with backtrace, for a batch of 32 with
// C = 27 at (L = 60, T = 10) and (L = 120, T = 25), at 1 and 2 threads.
//
// Usage: ember_bench_alignment [--repeats N] [--peer PATH | --no-peer]
// PATH defaults to bench/peers/ctc_peer.py (run from the repository root).
// The peer runs under /usr/bin/python3 with OMP_NUM_THREADS and
// OPENBLAS_NUM_THREADS set to the same thread count. It reads the same
// inputs, so the summed losses are printed side by side as a check.
//
// A benchmark, not a test: it prints medians and ratios and asserts nothing.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autodiff/autodiff.h"
#include "autodiff/kernels/threads.h"
#include "bench/ctc_peer.h"
#include "ebm/alignment/forward.h"
#include "ebm/alignment/viterbi.h"

namespace {

using namespace ember;
using namespace ember::alignment;

struct Case {
  int64_t windows;  // L
  int64_t length;   // T
};

constexpr int64_t kBatch = 32;
constexpr int64_t kSymbols = 27;
constexpr int64_t kBlank = 26;

void run_case(const Case& shape, int repeats, const std::string& peer) {
  Generator generator(1234 + static_cast<uint64_t>(shape.windows));
  Tensor log_probs;
  {
    NoGrad no_grad;
    log_probs = log_softmax(normal({kBatch, shape.windows, kSymbols}, 0.0f, 2.0f, generator), 2);
  }
  std::vector<std::vector<int64_t>> targets(kBatch);
  for (auto& target : targets) {
    for (int64_t j = 0; j < shape.length; ++j) {
      target.push_back(generator.randint(kSymbols - 1));
    }
  }
  const AlignmentBatch batch = make_alignment_batch(targets);
  Tensor energies = (-log_probs).detach();
  energies.set_requires_grad(true);

  const std::string input = fmt::format("/tmp/ember_bench_ctc_{}.bin", shape.windows);
  if (!peer.empty()) {
    bench::write_ctc_peer_input(input, log_probs, targets, kBlank);
  }

  fmt::print("B = {}, L = {}, C = {}, T = {}\n", kBatch, shape.windows, kSymbols, shape.length);
  for (const int threads : {1, 2}) {
    kernels::set_num_threads(threads);
    double loss = 0.0;
    const bench::Timing ctc = bench::median_timing(repeats, [&] {
      const Tensor total = sum(free_energy(energies, batch, Topology::ctc(kBlank)));
      loss = total.item();
      total.backward();
      energies.zero_grad();
    });
    const bench::Timing viterbi_time = bench::median_timing(repeats, [&] {
      NoGrad no_grad;
      const ViterbiResult best = viterbi(energies, batch, Topology::ctc(kBlank));
      (void)best;
    });
    fmt::print("  {} thread(s): ember ctc fwd+bwd {:.3f} ms (cpu {:.3f} ms, loss {:.3f}), "
               "viterbi+backtrace {:.3f} ms (cpu {:.3f} ms)\n",
               threads, ctc.wall_ms, ctc.cpu_ms, loss, viterbi_time.wall_ms, viterbi_time.cpu_ms);
    const std::optional<bench::PeerResult> torch =
        bench::run_ctc_peer(peer, input, threads, repeats);
    if (!torch) {
      continue;
    }
    fmt::print("  {} thread(s): pytorch ctc_loss fwd+bwd {:.3f} ms (cpu {:.3f} ms, loss {:.3f})\n",
               threads, torch->timing.wall_ms, torch->timing.cpu_ms, torch->loss);
    fmt::print("  {} thread(s): ratio pytorch / ember ctc: {:.2f}x wall, {:.2f}x cpu\n", threads,
               torch->timing.wall_ms / ctc.wall_ms, torch->timing.cpu_ms / ctc.cpu_ms);
  }
  if (!peer.empty()) {
    std::remove(input.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<bench::PeerOptions> options =
      bench::parse_peer_options(argc, argv, "ember_bench_alignment", /*default_repeats=*/50);
  if (!options) {
    return 2;
  }

  for (const Case& shape : {Case{60, 10}, Case{120, 25}}) {
    run_case(shape, options->repeats, options->peer);
  }
  return 0;
}
