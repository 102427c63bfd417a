// Timing, command-line options and the PyTorch CTC peer
// (bench/peers/ctc_peer.py), for the benchmarks that compare a CTC loss with
// PyTorch's CPU ctc_loss in the same run. It times a body (median wall-clock
// and process CPU time), parses the options the benchmarks share, writes the
// peer's input file and runs the peer at a thread count.
//
// Header-only, because each benchmark is one translation unit.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autodiff/tensor.h"

namespace ember::bench {

inline double process_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) * 1e-6;
}

// Median wall-clock and median process CPU time of one call, in ms. The CPU
// time counts every thread of the process, and on a shared machine it is
// the steadier figure.
struct Timing {
  double wall_ms;
  double cpu_ms;
};

// Runs body three times to warm up, then repeats times, timing each run.
inline Timing median_timing(int repeats, const std::function<void()>& body) {
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

// The options of a CTC benchmark.
struct PeerOptions {
  int repeats = 1;                               // timed runs per measurement
  std::string peer = "bench/peers/ctc_peer.py";  // path to the peer; empty with --no-peer
};

// Parses [--repeats N] [--peer PATH | --no-peer], starting from
// default_repeats and the default peer path (relative to the repository
// root). On any other argument it prints program's usage line to stderr
// and returns nullopt.
inline std::optional<PeerOptions> parse_peer_options(int argc, char** argv, const char* program,
                                                     int default_repeats) {
  PeerOptions options;
  options.repeats = default_repeats;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--repeats" && i + 1 < argc) {
      options.repeats = std::max(1, std::atoi(argv[++i]));
    } else if (argument == "--peer" && i + 1 < argc) {
      options.peer = argv[++i];
    } else if (argument == "--no-peer") {
      options.peer.clear();
    } else {
      fmt::print(stderr, "usage: {} [--repeats N] [--peer PATH | --no-peer]\n", program);
      return std::nullopt;
    }
  }
  return options;
}

// Writes the peer's input file for log_probs [B, L, C] and one target of
// length T per sample, every sample using all L windows. ctc_peer.py
// describes the layout.
inline void write_ctc_peer_input(const std::string& path, const Tensor& log_probs,
                                 const std::vector<std::vector<int64_t>>& targets, int64_t blank) {
  const int64_t batch = log_probs.size(0);
  const int64_t windows = log_probs.size(1);
  const auto length = static_cast<int64_t>(targets.empty() ? 0 : targets[0].size());
  std::ofstream out(path, std::ios::binary);
  const auto put = [&out](int64_t value) {
    const auto narrow = static_cast<int32_t>(value);
    out.write(reinterpret_cast<const char*>(&narrow), sizeof(narrow));
  };
  for (const int64_t value : {batch, windows, log_probs.size(2), length, blank}) {
    put(value);
  }
  out.write(reinterpret_cast<const char*>(log_probs.data()),
            static_cast<std::streamsize>(log_probs.numel() * static_cast<int64_t>(sizeof(float))));
  for (const std::vector<int64_t>& target : targets) {
    for (const int64_t symbol : target) {
      put(symbol);
    }
  }
  for (int64_t b = 0; b < batch; ++b) {
    put(windows);
  }
  for (int64_t b = 0; b < batch; ++b) {
    put(length);
  }
}

// The peer's summed loss and timing.
struct PeerResult {
  double loss;
  Timing timing;
};

// Runs peer (a path to ctc_peer.py) under /usr/bin/python3 with
// OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to threads. Returns nullopt
// if peer is empty (--no-peer). If the peer fails (no Python, no PyTorch or
// no such script), prints a line saying so for this thread count and
// returns nullopt.
inline std::optional<PeerResult> run_ctc_peer(const std::string& peer, const std::string& input,
                                              int threads, int repeats) {
  if (peer.empty()) {
    return std::nullopt;
  }
  const std::string command = fmt::format(
      "OMP_NUM_THREADS={0} OPENBLAS_NUM_THREADS={0} /usr/bin/python3 {1} {2} {3} 2>/dev/null",
      threads, peer, input, repeats);
  FILE* pipe = popen(command.c_str(), "r");
  std::optional<PeerResult> result;
  if (pipe != nullptr) {
    PeerResult parsed{};
    if (std::fscanf(pipe, "%lf %lf %lf", &parsed.loss, &parsed.timing.wall_ms,
                    &parsed.timing.cpu_ms) == 3) {
      result = parsed;
    }
    pclose(pipe);
  }
  if (!result) {
    fmt::print("  {} thread(s): pytorch peer failed (no /usr/bin/python3 with torch, or no {})\n",
               threads, peer);
  }
  return result;
}

}  // namespace ember::bench
