// ember_bench_gemm: GEMM throughput in GFLOP/s for square sizes, per thread
// count and kernel variant, and the FMA ceiling of each variant.
//
// Each figure is the fastest of repeated timed products after one warm-up:
// on a shared machine the slower runs measure the other processes.
// The output is one tab-separated line per measurement, so the peer script
// in bench/peers/ can read it:
//   gemm <TAB> variant <TAB> threads <TAB> n <TAB> GFLOP/s
//   fma  <TAB> variant <TAB> threads <TAB> 0 <TAB> GFLOP/s
// Usage: ember_bench_gemm [--sizes 64,128,...] [--threads 1,2] [--isa avx512,avx2,scalar]
//                         [--seconds 0.3] [--no-fma]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/gemm.h"
#include "autodiff/kernels/threads.h"
#include "fma_loop.h"

namespace {

using ember::kernels::Isa;

struct Options {
  std::vector<int64_t> sizes = {64, 128, 256, 512, 1024, 2048};
  std::vector<int64_t> threads = {1, 2};
  std::vector<Isa> isas;
  double seconds = 0.3;  // time budget per measurement
  bool fma = true;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    parts.push_back(part);
  }
  return parts;
}

int64_t parse_positive(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  const long long value = std::stoll(text, &used);
  if (used != text.size() || value <= 0) {
    throw std::invalid_argument(flag + ": '" + text + "' is not a positive whole number");
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-fma") {
      options.fma = false;
      continue;
    }
    if (i + 1 >= argc) {
      throw std::invalid_argument(flag + ": missing value");
    }
    const std::string value = argv[++i];
    if (flag == "--sizes" || flag == "--threads") {
      std::vector<int64_t>& list = flag == "--sizes" ? options.sizes : options.threads;
      list.clear();
      for (const std::string& part : split_commas(value)) {
        list.push_back(parse_positive(flag, part));
      }
    } else if (flag == "--isa") {
      for (const std::string& part : split_commas(value)) {
        options.isas.push_back(ember::kernels::parse_isa(part));
      }
    } else if (flag == "--seconds") {
      options.seconds = std::stod(value);
    } else {
      throw std::invalid_argument("unknown option " + flag +
                                  "; expected --sizes, --threads, --isa, --seconds or --no-fma");
    }
  }
  if (options.isas.empty()) {
    options.isas.push_back(ember::kernels::active_isa());
  }
  return options;
}

// GFLOP/s of the fastest of repeated C = A B for n x n matrices.
double gemm_gflops(Isa isa, int64_t n, double budget_seconds) {
  std::mt19937 generator(7);
  std::uniform_real_distribution<float> distribution(-1.0f, 1.0f);
  std::vector<float> a(static_cast<std::size_t>(n * n));
  std::vector<float> b(a.size());
  std::vector<float> c(a.size());
  for (float& value : a) value = distribution(generator);
  for (float& value : b) value = distribution(generator);

  const auto run = [&] {
    ember::kernels::gemm_variant(isa, ember::kernels::Transpose::No,
                                 ember::kernels::Transpose::No, n, n, n, 1.0f, a.data(), n,
                                 b.data(), n, 0.0f, c.data(), n);
  };
  run();

  std::vector<double> times;
  const auto budget_start = std::chrono::steady_clock::now();
  while (times.size() < 3 ||
         (times.size() < 1000 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - budget_start).count() <
              budget_seconds)) {
    const auto start = std::chrono::steady_clock::now();
    run();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const double fastest = *std::min_element(times.begin(), times.end());
  return 2.0 * static_cast<double>(n) * n * n / fastest / 1e9;
}

// FMA ceiling of `isa` with `threads` copies of the loop running at once:
// the best of 20 short runs, each about 10 ms.
double fma_ceiling(Isa isa, int64_t threads) {
  constexpr int64_t kIterations = 3'000'000;
  constexpr int kRuns = 20;
  std::vector<double> per_thread(static_cast<std::size_t>(threads));
  const auto measure = [isa](int64_t iterations) {
#if defined(__x86_64__)
    if (isa == Isa::avx512) return ember::bench::fma_gflops_avx512(iterations);
    if (isa == Isa::avx2) return ember::bench::fma_gflops_avx2(iterations);
#endif
    static_cast<void>(iterations);
    return 0.0;
  };
  double best = 0.0;
  for (int run = 0; run < kRuns; ++run) {
    std::vector<std::thread> workers;
    for (int64_t t = 0; t < threads; ++t) {
      workers.emplace_back(
          [&, t] { per_thread[static_cast<std::size_t>(t)] = measure(kIterations); });
    }
    for (std::thread& worker : workers) {
      worker.join();
    }
    double total = 0.0;
    for (double value : per_thread) total += value;
    best = std::max(best, total);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse_options(argc, argv);
    for (Isa isa : options.isas) {
      const char* name = ember::kernels::isa_name(isa);
      for (int64_t threads : options.threads) {
        ember::kernels::set_num_threads(static_cast<int>(threads));
        if (options.fma && isa != Isa::scalar) {
          std::printf("fma\t%s\t%lld\t0\t%.1f\n", name, static_cast<long long>(threads),
                      fma_ceiling(isa, threads));
          std::fflush(stdout);
        }
        for (int64_t n : options.sizes) {
          std::printf("gemm\t%s\t%lld\t%lld\t%.1f\n", name, static_cast<long long>(threads),
                      static_cast<long long>(n), gemm_gflops(isa, n, options.seconds));
          std::fflush(stdout);
        }
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ember_bench_gemm: %s\n", error.what());
    return 1;
  }
  return 0;
}
