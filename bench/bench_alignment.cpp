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
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autodiff/autodiff.h"
#include "ebm/alignment/forward.h"
#include "autodiff/kernels/threads.h"
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

double process_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) * 1e-6;
}

// Median wall-clock and median process CPU time of one call, in ms. On a
// shared machine the CPU time is the steadier figure.
struct Timing {
  double wall_ms;
  double cpu_ms;
};

Timing median_ms(int repeats, const std::function<void()>& body) {
  for (int i = 0; i < 3; ++i) {
    body();
  }
  std::vector<double> wall;
  std::vector<double> cpu;
  for (int i = 0; i < repeats; ++i) {
    const double cpu_start = process_cpu_ms();
    const auto start = std::chrono::steady_clock::now();
    body();
    const auto stop = std::chrono::steady_clock::now();
    cpu.push_back(process_cpu_ms() - cpu_start);
    wall.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

// Writes the peer's input file; see ctc_peer.py for the layout.
void write_peer_input(const std::string& path, const Tensor& log_probs,
                      const std::vector<std::vector<int64_t>>& targets, int64_t windows,
                      int64_t length) {
  std::ofstream out(path, std::ios::binary);
  auto put = [&out](int32_t value) { out.write(reinterpret_cast<const char*>(&value), 4); };
  put(static_cast<int32_t>(kBatch));
  put(static_cast<int32_t>(windows));
  put(static_cast<int32_t>(kSymbols));
  put(static_cast<int32_t>(length));
  put(static_cast<int32_t>(kBlank));
  out.write(reinterpret_cast<const char*>(log_probs.data()),
            static_cast<std::streamsize>(log_probs.numel() * sizeof(float)));
  for (const auto& target : targets) {
    for (const int64_t symbol : target) {
      put(static_cast<int32_t>(symbol));
    }
  }
  for (int64_t b = 0; b < kBatch; ++b) {
    put(static_cast<int32_t>(windows));
  }
  for (int64_t b = 0; b < kBatch; ++b) {
    put(static_cast<int32_t>(length));
  }
}

struct PeerResult {
  double loss = std::nan("");
  Timing timing{std::nan(""), std::nan("")};
};

// Runs the peer; every field stays NaN if it failed.
PeerResult run_peer(const std::string& peer, const std::string& input, int threads, int repeats) {
  const std::string command =
      fmt::format("OMP_NUM_THREADS={0} OPENBLAS_NUM_THREADS={0} /usr/bin/python3 {1} {2} {3}",
                  threads, peer, input, repeats);
  FILE* pipe = popen(command.c_str(), "r");
  PeerResult result;
  if (pipe == nullptr) {
    return result;
  }
  PeerResult parsed;
  if (std::fscanf(pipe, "%lf %lf %lf", &parsed.loss, &parsed.timing.wall_ms,
                  &parsed.timing.cpu_ms) == 3) {
    result = parsed;
  }
  pclose(pipe);
  return result;
}

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
    write_peer_input(input, log_probs, targets, shape.windows, shape.length);
  }

  fmt::print("B = {}, L = {}, C = {}, T = {}\n", kBatch, shape.windows, kSymbols, shape.length);
  for (const int threads : {1, 2}) {
    kernels::set_num_threads(threads);
    double loss = 0.0;
    const Timing ctc = median_ms(repeats, [&] {
      const Tensor total = sum(free_energy(energies, batch, Topology::ctc(kBlank)));
      loss = total.item();
      total.backward();
      energies.zero_grad();
    });
    const Timing viterbi_time = median_ms(repeats, [&] {
      NoGrad no_grad;
      const ViterbiResult best = viterbi(energies, batch, Topology::ctc(kBlank));
      (void)best;
    });
    fmt::print("  {} thread(s): ember ctc fwd+bwd {:.3f} ms (cpu {:.3f} ms, loss {:.3f}), "
               "viterbi+backtrace {:.3f} ms (cpu {:.3f} ms)\n",
               threads, ctc.wall_ms, ctc.cpu_ms, loss, viterbi_time.wall_ms, viterbi_time.cpu_ms);
    if (!peer.empty()) {
      const PeerResult torch = run_peer(peer, input, threads, repeats);
      fmt::print("  {} thread(s): pytorch ctc_loss fwd+bwd {:.3f} ms (cpu {:.3f} ms, loss {:.3f})\n",
                 threads, torch.timing.wall_ms, torch.timing.cpu_ms, torch.loss);
      fmt::print("  {} thread(s): ratio pytorch / ember ctc: {:.2f}x wall, {:.2f}x cpu\n", threads,
                 torch.timing.wall_ms / ctc.wall_ms, torch.timing.cpu_ms / ctc.cpu_ms);
    }
  }
  if (!peer.empty()) {
    std::remove(input.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 50;
  std::string peer = "bench/peers/ctc_peer.py";
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--repeats" && i + 1 < argc) {
      repeats = std::max(1, std::atoi(argv[++i]));
    } else if (argument == "--peer" && i + 1 < argc) {
      peer = argv[++i];
    } else if (argument == "--no-peer") {
      peer.clear();
    } else {
      fmt::print(stderr, "usage: ember_bench_alignment [--repeats N] [--peer PATH | --no-peer]\n");
      return 2;
    }
  }
  for (const Case& shape : {Case{60, 10}, Case{120, 25}}) {
    run_case(shape, repeats, peer);
  }
  return 0;
}
