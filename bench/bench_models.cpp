// Benchmark of one Adam training step of the two sliding-window recognizers
// (nn/recognizers.h) against PyTorch, side by side in one run. Batch 32,
// 27 symbols. The four cases:
//   A-CTC  model A, 32 x 90 images, CTC on random 5-symbol targets (L = 13)
//   A-CE   model A, 32 x 18 images, cross-entropy on one label each (L = 1)
//   B-CTC  model B, 32 x 90 images, CTC as above
//   B-CE   model B, 32 x 18 images, cross-entropy as above
// A step is zero_grad, forward, loss, backward and Adam (lr 1e-3). Each case
// runs warm-up steps, then prints the median wall-clock and process CPU time
// of --steps steps as samples per second, at 1 and 2 threads, with PyTorch's
// figures and the ratios Ember / PyTorch. Last come both processes' peak
// resident memory (VmHWM), which model B dominates on both sides. Ember's
// buffer cache is emptied between cases.
//
// Usage: ember_bench_models [--steps N] [--warmup N] [--peer PATH | --no-peer]
//                           [--case NAME] [--threads N] [--rounds N]
// --case runs only one case and --threads only one thread count, which is
// what a profiler wants to see. --rounds repeats everything, each Ember run
// right before its peer run, and ends with each case's median ratio.
// PATH defaults to bench/peers/models_peer.py (run from the repository root);
// it runs under /usr/bin/python3 with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS
// set to the thread count. Both sides draw their own random images, labels
// and weights, so the first-step losses agree only roughly.
//
// A benchmark, not a test: it prints medians and ratios and asserts nothing.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autodiff/autodiff.h"
#include "autodiff/kernels/threads.h"
#include "ebm/alignment/losses.h"
#include "ebm/alignment/topology.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/recognizers.h"

// Every operator new in this process, counted so the benchmark can report
// the heap allocations of one training step (tape nodes, std::function
// closures, shape vectors). Tensor buffers go through the buffer pool, which
// counts its own.
std::atomic<uint64_t> g_new_calls{0};

void* operator new(std::size_t bytes) {
  g_new_calls.fetch_add(1, std::memory_order_relaxed);
  if (void* block = std::malloc(bytes == 0 ? 1 : bytes)) {
    return block;
  }
  throw std::bad_alloc();
}

// GCC 12 calls the free() below mismatched wherever it inlines these into a
// delete, though the block came from the malloc() of the replacement above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* block) noexcept { std::free(block); }
void operator delete(void* block, std::size_t /*bytes*/) noexcept { std::free(block); }
#pragma GCC diagnostic pop

namespace {

using namespace ember;

// Heap allocations during one training step.
struct StepAllocations {
  uint64_t buffers = 0;         // tensor buffers requested (each one a malloc without the pool)
  uint64_t fresh_buffers = 0;   // of those, the ones the pool's cache could not serve
  uint64_t small_buffers = 0;   // tensor buffers under 1 KiB, always from malloc
  uint64_t other = 0;           // operator new: nodes, closures, shapes
};

// Counts the allocations of one call of step, after earlier steps warmed the pool.
StepAllocations count_allocations(const std::function<double()>& step) {
  reset_buffer_pool_stats();
  const uint64_t new_before = g_new_calls.load();
  step();
  const BufferPoolStats pool = buffer_pool_stats();
  StepAllocations counts;
  counts.buffers = pool.requests;
  counts.fresh_buffers = pool.system_allocations;
  counts.small_buffers = pool.small_allocations;
  counts.other = g_new_calls.load() - new_before;
  return counts;
}

constexpr int64_t kBatch = 32;
constexpr int64_t kSymbols = 27;
constexpr int64_t kBlank = 26;
constexpr int64_t kTargetLength = 5;
constexpr int64_t kCtcWidth = 90;
constexpr int64_t kCrossEntropyWidth = 18;

struct Case {
  std::string name;  // as the peer prints it
  bool cnn;          // model B, else model A
  bool ctc;          // CTC at W = 90, else cross-entropy at W = 18
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"A-CTC", false, true}, {"A-CE", false, false}, {"B-CTC", true, true}, {"B-CE", true, false}};
  return all;
}

struct Timing {
  double wall_ms = std::nan("");
  double cpu_ms = std::nan("");
  double first_loss = std::nan("");
  StepAllocations allocations;
};

struct Settings {
  int steps = 10;
  int warmup = 3;
  std::string peer = "bench/peers/models_peer.py";
  std::string only;               // run just this case (e.g. "B-CTC"), for profiling
  std::vector<int> threads{1, 2};
  int rounds = 1;  // repeats of every Ember run and its peer run, back to back
};

double process_cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) * 1e-6;
}

// Runs the warm-up steps, then returns the median wall-clock and process CPU
// time of `steps` steps. On a shared machine the CPU time is the steadier one.
Timing time_steps(const Settings& settings, const std::function<double()>& step) {
  Timing timing;
  timing.first_loss = step();
  for (int i = 1; i < settings.warmup; ++i) {
    step();
  }
  std::vector<double> wall;
  std::vector<double> cpu;
  for (int i = 0; i < settings.steps; ++i) {
    const double cpu_start = process_cpu_ms();
    const auto start = std::chrono::steady_clock::now();
    step();
    const auto stop = std::chrono::steady_clock::now();
    cpu.push_back(process_cpu_ms() - cpu_start);
    wall.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  timing.allocations = count_allocations(step);
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  timing.wall_ms = wall[wall.size() / 2];
  timing.cpu_ms = cpu[cpu.size() / 2];
  return timing;
}

// Builds a fresh model, optimizer and batch for a case and returns its
// training step, which returns the loss.
std::function<double()> make_step(const Case& shape, Generator& generator) {
  auto model = shape.cnn ? nn::make_cnn_recognizer(generator, kSymbols)
                         : nn::make_tiny_recognizer(generator, kSymbols);
  auto optimizer = std::make_shared<nn::Adam>(model->named_parameters(), nn::AdamOptions{});
  const int64_t width = shape.ctc ? kCtcWidth : kCrossEntropyWidth;
  const int64_t windows =
      shape.cnn ? nn::cnn_recognizer_windows(width) : nn::tiny_recognizer_windows(width);
  const Tensor images = uniform({kBatch, 1, nn::kRecognizerHeight, width}, 0.0f, 1.0f, generator);

  std::vector<std::vector<int64_t>> targets(kBatch);
  std::vector<int64_t> labels(kBatch);
  for (int64_t b = 0; b < kBatch; ++b) {
    labels[b] = generator.randint(kSymbols - 1);
    for (int64_t j = 0; j < kTargetLength; ++j) {
      targets[b].push_back(generator.randint(kSymbols - 1));
    }
  }
  const auto batch = std::make_shared<alignment::AlignmentBatch>(
      alignment::make_alignment_batch(targets, std::vector<int64_t>(kBatch, windows)));
  alignment::AlignmentLossOptions options;
  options.topology = alignment::Topology::ctc(kBlank);

  return [shape, model, optimizer, images, batch, labels, options]() {
    optimizer->zero_grad();
    const Tensor energies = model->forward(images);  // [B, L, C]
    const Tensor loss =
        shape.ctc ? alignment::alignment_loss("ctc", energies, *batch, options).loss
                  : nn::cross_entropy_from_energies(reshape(energies, {kBatch, kSymbols}), labels);
    const double value = loss.item();
    loss.backward();
    optimizer->step();
    return value;
  };
}

// Runs the peer for one thread count. A case it did not report stays NaN,
// and the peak memory stays -1.
struct PeerRun {
  std::map<std::string, Timing> timings;
  long peak_kib = -1;
};

PeerRun run_peer(const Settings& settings, int threads) {
  PeerRun run;
  const std::string command = fmt::format(
      "OMP_NUM_THREADS={0} OPENBLAS_NUM_THREADS={0} /usr/bin/python3 {1} --threads {0} "
      "--steps {2} --warmup {3}",
      threads, settings.peer, settings.steps, settings.warmup);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return run;
  }
  char name[32];
  Timing timing;
  long peak = 0;
  while (std::fscanf(pipe, "%31s", name) == 1) {
    if (std::string(name) == "peak_kib") {
      if (std::fscanf(pipe, "%ld", &peak) == 1) {
        run.peak_kib = peak;
      }
    } else if (std::fscanf(pipe, "%lf %lf %lf", &timing.wall_ms, &timing.cpu_ms,
                           &timing.first_loss) == 3) {
      run.timings[name] = timing;
    }
  }
  pclose(pipe);
  return run;
}

// Peak resident memory of this process in KiB (VmHWM), or -1.
long peak_resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      long kib = -1;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 10, '\n');
  }
  return -1;
}

double samples_per_second(double ms) { return static_cast<double>(kBatch) * 1e3 / ms; }

// Prints one case's line; the PyTorch columns only when the peer ran (its
// timing is NaN with --no-peer).
void print_case(const std::string& name, int threads, const Timing& ember, const Timing& torch) {
  fmt::print("{:<6} {} thr  ember {:8.1f}/s wall {:8.1f}/s cpu (loss {:.3f})", name, threads,
             samples_per_second(ember.wall_ms), samples_per_second(ember.cpu_ms),
             ember.first_loss);
  if (!std::isnan(torch.wall_ms)) {
    fmt::print("  pytorch {:8.1f}/s wall {:8.1f}/s cpu (loss {:.3f})  "
               "ratio {:5.2f}x wall {:5.2f}x cpu",
               samples_per_second(torch.wall_ms), samples_per_second(torch.cpu_ms),
               torch.first_loss, torch.wall_ms / ember.wall_ms, torch.cpu_ms / ember.cpu_ms);
  }
  fmt::print("\n");
}

Settings parse_settings(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--steps" && i + 1 < argc) {
      settings.steps = std::max(1, std::atoi(argv[++i]));
    } else if (argument == "--warmup" && i + 1 < argc) {
      settings.warmup = std::max(1, std::atoi(argv[++i]));
    } else if (argument == "--peer" && i + 1 < argc) {
      settings.peer = argv[++i];
    } else if (argument == "--no-peer") {
      settings.peer.clear();
    } else if (argument == "--case" && i + 1 < argc) {
      settings.only = argv[++i];
    } else if (argument == "--threads" && i + 1 < argc) {
      settings.threads = {std::max(1, std::atoi(argv[++i]))};
    } else if (argument == "--rounds" && i + 1 < argc) {
      settings.rounds = std::max(1, std::atoi(argv[++i]));
    } else {
      fmt::print(stderr, "usage: ember_bench_models [--steps N] [--warmup N] "
                         "[--peer PATH | --no-peer] [--case NAME] [--threads N] "
                         "[--rounds N]\n");
      std::exit(2);
    }
  }
  return settings;
}

}  // namespace

int main(int argc, char** argv) {
  const Settings settings = parse_settings(argc, argv);
  fmt::print("batch {}, {} symbols, median of {} steps after {} warm-up; samples per "
             "wall-clock second and per CPU second{}\n",
             kBatch, kSymbols, settings.steps, settings.warmup,
             settings.peer.empty() ? "" : ", ratio = Ember / PyTorch throughput");
  long torch_peak_kib = -1;
  std::map<std::string, StepAllocations> last_allocations;
  // Wall-clock ratios Ember / PyTorch throughput by "case, threads", one per round.
  std::map<std::pair<std::string, int>, std::vector<double>> ratios;
  for (int round = 1; round <= settings.rounds; ++round) {
    if (settings.rounds > 1) {
      fmt::print("round {} of {}\n", round, settings.rounds);
    }
    for (const int threads : settings.threads) {
      kernels::set_num_threads(threads);
      std::map<std::string, Timing> ember;
      for (const Case& shape : cases()) {
        if (!settings.only.empty() && shape.name != settings.only) {
          continue;
        }
        Generator generator(1234);
        ember[shape.name] = time_steps(settings, make_step(shape, generator));
        last_allocations[shape.name] = ember[shape.name].allocations;
        // Each case starts with an empty buffer cache, as in a fresh process,
        // so blocks cached for one model do not count against the next.
        release_cached_buffers();
      }
      const PeerRun torch = settings.peer.empty() ? PeerRun{} : run_peer(settings, threads);
      torch_peak_kib = std::max(torch_peak_kib, torch.peak_kib);
      for (const Case& shape : cases()) {
        if (ember.count(shape.name) == 0) {
          continue;
        }
        const auto found = torch.timings.find(shape.name);
        const Timing peer = found == torch.timings.end() ? Timing{} : found->second;
        print_case(shape.name, threads, ember[shape.name], peer);
        ratios[{shape.name, threads}].push_back(peer.wall_ms / ember[shape.name].wall_ms);
      }
    }
  }
  if (settings.rounds > 1 && !settings.peer.empty()) {
    // The host's load drifts over minutes, so each round's ratio compares
    // runs a minute apart at most; the median over rounds is the figure.
    fmt::print("median wall-clock ratio over {} rounds:\n", settings.rounds);
    for (auto& [key, values] : ratios) {
      std::sort(values.begin(), values.end());
      fmt::print("{:<6} {} thr  {:5.2f}x  (rounds: {:.2f})\n", key.first, key.second,
                 values[values.size() / 2], fmt::join(values, ", "));
    }
  }
  fmt::print("heap allocations in one step at the last thread count: tensor buffers requested "
             "(each a malloc without the pool) / of those not served by the pool's cache / "
             "buffers under 1 KiB / other operator new calls\n");
  for (const Case& shape : cases()) {
    if (last_allocations.count(shape.name) == 0) {
      continue;
    }
    const StepAllocations& a = last_allocations[shape.name];
    fmt::print("{:<6} {} / {} / {} / {}\n", shape.name, a.buffers, a.fresh_buffers,
               a.small_buffers, a.other);
  }
  const long ember_peak_kib = peak_resident_kib();
  if (torch_peak_kib <= 0) {
    fmt::print("peak resident memory (VmHWM, whole process): ember {:.1f} MiB\n",
               static_cast<double>(ember_peak_kib) / 1024.0);
    return 0;
  }
  fmt::print("peak resident memory (VmHWM, whole process, all four cases): ember {:.1f} MiB, "
             "pytorch {:.1f} MiB, ratio {:.3f}\n",
             static_cast<double>(ember_peak_kib) / 1024.0,
             static_cast<double>(torch_peak_kib) / 1024.0,
             static_cast<double>(ember_peak_kib) / static_cast<double>(torch_peak_kib));
  return 0;
}
