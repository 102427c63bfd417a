// Benchmark: CTC forward + backward by the graph route (per sample, the
// emissions graph intersected with the CTC target graph, then its free
// energy; graph::target_free_energy) against PyTorch's CPU ctc_loss on the
// same inputs, side by side in one run, for a batch of 32 with C = 27 at
// (L = 60, T = 10) and (L = 120, T = 25), at 1 and 2 threads.
//
// Usage: ember_bench_graph [--repeats N] [--peer PATH | --no-peer]
// PATH defaults to bench/peers/ctc_peer.py (run from the repository root).
// The peer runs under /usr/bin/python3 with OMP_NUM_THREADS and
// OPENBLAS_NUM_THREADS set to the thread count Ember uses. It reads the same
// inputs, so the two summed losses are printed side by side as a check.
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
#include "ebm/graph/losses.h"

namespace {

using namespace ember;

constexpr int64_t kBatch = 32;
constexpr int64_t kSymbols = 27;
constexpr int64_t kBlank = 26;

struct Case {
  int64_t windows;        // L
  int64_t target_length;  // T
};

void run_case(const Case& c, int repeats, const std::string& peer) {
  Generator generator(static_cast<uint64_t>(c.windows * 100 + c.target_length));
  // E = -log softmax(logits), so the free energy is the CTC loss -log p(y | x).
  const Tensor energies = neg(log_softmax(normal({kBatch, c.windows, kSymbols}, 0.0f, 1.0f, generator), -1));
  std::vector<std::vector<int64_t>> targets(kBatch);
  for (auto& target : targets) {
    for (int64_t t = 0; t < c.target_length; ++t) {
      target.push_back(generator.randint(kSymbols - 1));
    }
  }
  const alignment::Topology ctc = alignment::Topology::ctc(kBlank);

  const std::string input = fmt::format("/tmp/ember_bench_graph_{}_{}.bin", c.windows, c.target_length);
  if (!peer.empty()) {
    bench::write_ctc_peer_input(input, neg(energies), targets, kBlank);
  }

  fmt::print("B={} L={} T={} C={}\n", kBatch, c.windows, c.target_length, kSymbols);
  for (const int threads : {1, 2}) {
    kernels::set_num_threads(threads);
    float loss = 0.0f;
    const bench::Timing ember = bench::median_timing(repeats, [&] {
      Tensor e = energies.detach().set_requires_grad(true);
      const Tensor total = sum(graph::target_free_energy(e, targets, {}, ctc));
      total.backward();
      loss = total.item();
    });
    fmt::print("  {} thread(s): ember graph {:7.3f} ms wall {:7.3f} ms cpu  loss {:.4f}\n", threads,
               ember.wall_ms, ember.cpu_ms, loss);
    const std::optional<bench::PeerResult> torch =
        bench::run_ctc_peer(peer, input, threads, repeats);
    if (!torch) {
      continue;
    }
    fmt::print("  {} thread(s): pytorch     {:7.3f} ms wall {:7.3f} ms cpu  loss {:.4f}\n", threads,
               torch->timing.wall_ms, torch->timing.cpu_ms, torch->loss);
    fmt::print("  {} thread(s): ratio ember graph / pytorch: {:.2f}x wall, {:.2f}x cpu\n", threads,
               ember.wall_ms / torch->timing.wall_ms, ember.cpu_ms / torch->timing.cpu_ms);
  }
  if (!peer.empty()) {
    std::remove(input.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<bench::PeerOptions> options =
      bench::parse_peer_options(argc, argv, "ember_bench_graph", /*default_repeats=*/20);
  if (!options) {
    return 2;
  }

  fmt::print("CTC forward + backward, graph route vs PyTorch ctc_loss, median of {} runs\n",
             options->repeats);
  for (const Case& c : {Case{60, 10}, Case{120, 25}}) {
    run_case(c, options->repeats, options->peer);
  }
  return 0;
}
