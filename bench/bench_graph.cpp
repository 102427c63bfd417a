// Benchmark: CTC forward + backward by the graph route (emissions graph,
// CTC target graph, intersection, free energy) against PyTorch's CPU
// ctc_loss on the same inputs, side by side in one run.
//
// The energies and targets are written to a temporary file that a small
// Python script reads, so both sides see identical numbers. The script also
// prints its loss, so the two values can be compared. PyTorch runs with
// one thread, and so does Ember (the graph route is single-threaded).
//
// Usage: bench_graph [repeats] [python]   (defaults: 20, /usr/bin/python3)
// Without PyTorch, only the Ember figures are printed.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autodiff/autodiff.h"
#include "ebm/graph/losses.h"

namespace {

using namespace ember;

constexpr int64_t kBatch = 32;
constexpr int64_t kSymbols = 27;
constexpr int64_t kBlank = 26;

struct Case {
  int64_t windows;
  int64_t target_length;
};

// CPU time of the whole process in milliseconds: on a shared, loaded
// machine it counts only the cycles this process got, and it includes any
// worker threads.
double cpu_ms() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) * 1e-6;
}

// Median CPU time in milliseconds of `repeats` runs of body.
template <class Body>
double median_ms(int repeats, Body body) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const double start = cpu_ms();
    body();
    times.push_back(cpu_ms() - start);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Writes E [B, L, C] then the targets [B, T] as float32 little-endian.
void write_inputs(const std::string& path, const Tensor& energies,
                  const std::vector<std::vector<int64_t>>& targets) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    throw std::runtime_error(fmt::format("bench_graph: cannot write {}", path));
  }
  std::fwrite(energies.data(), sizeof(float), static_cast<size_t>(energies.numel()), file);
  for (const auto& target : targets) {
    for (int64_t label : target) {
      const auto value = static_cast<float>(label);
      std::fwrite(&value, sizeof(float), 1, file);
    }
  }
  std::fclose(file);
}

// PyTorch's side: reads the inputs, times ctc_loss (sum over the batch)
// forward + backward at one thread in process CPU time, prints
// "<median ms> <loss>".
std::string torch_script(const std::string& path, const Case& c, int repeats) {
  return fmt::format(R"(
import time, numpy as np, torch
torch.set_num_threads(1)
B, L, C, T = {}, {}, {}, {}
raw = np.fromfile('{}', dtype=np.float32)
energies = torch.from_numpy(raw[:B * L * C].reshape(B, L, C).copy())
targets = torch.from_numpy(raw[B * L * C:].reshape(B, T).astype(np.int64))
log_probs = (-energies).permute(1, 0, 2).contiguous()
lengths = torch.full((B,), L, dtype=torch.long)
target_lengths = torch.full((B,), T, dtype=torch.long)
times = []
for _ in range({}):
    x = log_probs.clone().requires_grad_(True)
    start = time.process_time()
    loss = torch.nn.functional.ctc_loss(x, targets, lengths, target_lengths, blank={}, reduction='sum')
    loss.backward()
    times.append((time.process_time() - start) * 1000.0)
print(sorted(times)[len(times) // 2], loss.item())
)",
                     kBatch, c.windows, kSymbols, c.target_length, path, repeats, kBlank);
}

// Runs the PyTorch script; returns false (and leaves the outputs) if Python
// or PyTorch is missing.
bool run_torch(const std::string& python, const std::string& script_path, double& ms, double& loss) {
  const std::string command = fmt::format("{} {} 2>/dev/null", python, script_path);
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return false;
  }
  const int read = std::fscanf(pipe, "%lf %lf", &ms, &loss);
  pclose(pipe);
  return read == 2;
}

void run_case(const Case& c, int repeats, const std::string& python) {
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

  float ember_loss = 0.0f;
  const double ember_ms = median_ms(repeats, [&] {
    Tensor e = energies.detach().set_requires_grad(true);
    const Tensor loss = sum(graph::target_free_energy(e, targets, {}, ctc));
    loss.backward();
    ember_loss = loss.item();
  });

  const std::string input_path = fmt::format("/tmp/bench_graph_{}_{}.bin", c.windows, c.target_length);
  const std::string script_path = input_path + ".py";
  write_inputs(input_path, energies, targets);
  std::FILE* script = std::fopen(script_path.c_str(), "w");
  std::fputs(torch_script(input_path, c, repeats).c_str(), script);
  std::fclose(script);
  double torch_ms = 0.0;
  double torch_loss = 0.0;
  const bool have_torch = run_torch(python, script_path, torch_ms, torch_loss);
  std::remove(input_path.c_str());
  std::remove(script_path.c_str());

  if (have_torch) {
    fmt::print("B={} L={:3} T={:2} C={}  ember graph {:7.2f} ms  torch {:7.2f} ms  ratio {:4.2f}  "
               "loss {:.4f} vs {:.4f}\n",
               kBatch, c.windows, c.target_length, kSymbols, ember_ms, torch_ms, ember_ms / torch_ms,
               ember_loss, torch_loss);
  } else {
    fmt::print("B={} L={:3} T={:2} C={}  ember graph {:7.2f} ms  (torch not available)  loss {:.4f}\n",
               kBatch, c.windows, c.target_length, kSymbols, ember_ms, ember_loss);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 20;
  const std::string python = argc > 2 ? argv[2] : "/usr/bin/python3";
  fmt::print("CTC forward + backward, graph route vs PyTorch ctc_loss, median CPU time of {} runs\n", repeats);
  for (const Case& c : {Case{60, 10}, Case{120, 25}}) {
    run_case(c, repeats, python);
  }
  return 0;
}
