// ember_bench_gemm_vs_openblas: Ember's gemm and OpenBLAS's cblas_sgemm on the
// same square matrices, timed alternately in one process, so both see the
// same machine load. For each size and thread count it prints the fastest
// time of each and the median of the ratios of adjacent pairs:
//   n <TAB> threads <TAB> Ember GFLOP/s <TAB> OpenBLAS GFLOP/s <TAB> fastest ratio <TAB> median pair ratio
// OpenBLAS is loaded at run time (libopenblas.so.0, Debian's libopenblas0),
// so the benchmark builds without it and reports its absence.
// Usage: ember_bench_gemm_vs_openblas [--sizes 256,512] [--threads 1,2] [--seconds 2]
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "autodiff/kernels/gemm.h"
#include "autodiff/kernels/threads.h"

namespace {

// The CBLAS constants for row-major storage and untransposed operands.
constexpr int kCblasRowMajor = 101;
constexpr int kCblasNoTrans = 111;

using CblasSgemm = void (*)(int order, int transpose_a, int transpose_b, int M, int N, int K,
                            float alpha, const float* A, int lda, const float* B, int ldb,
                            float beta, float* C, int ldc);
using SetThreads = void (*)(int count);

struct OpenBlas {
  CblasSgemm sgemm;
  SetThreads set_num_threads;
};

OpenBlas load_openblas() {
  void* library = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    throw std::runtime_error(std::string("cannot load libopenblas.so.0 (") + dlerror() +
                             "); install Debian's libopenblas0");
  }
  OpenBlas blas{reinterpret_cast<CblasSgemm>(dlsym(library, "cblas_sgemm")),
                reinterpret_cast<SetThreads>(dlsym(library, "openblas_set_num_threads"))};
  if (blas.sgemm == nullptr || blas.set_num_threads == nullptr) {
    throw std::runtime_error("libopenblas.so.0 lacks cblas_sgemm or openblas_set_num_threads");
  }
  return blas;
}

std::vector<int64_t> parse_list(const std::string& flag, const std::string& text) {
  std::vector<int64_t> values;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    std::size_t used = 0;
    const long long value = std::stoll(part, &used);
    if (used != part.size() || value <= 0) {
      throw std::invalid_argument(flag + ": '" + part + "' is not a positive whole number");
    }
    values.push_back(value);
  }
  return values;
}

double seconds_of(const auto& run) {
  const auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<int64_t> sizes = {64, 128, 256, 512, 1024, 2048};
    std::vector<int64_t> thread_counts = {1, 2};
    double budget = 2.0;  // seconds per size and thread count
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string flag = argv[i];
      if (flag == "--sizes") {
        sizes = parse_list(flag, argv[i + 1]);
      } else if (flag == "--threads") {
        thread_counts = parse_list(flag, argv[i + 1]);
      } else if (flag == "--seconds") {
        budget = std::stod(argv[i + 1]);
      } else {
        throw std::invalid_argument("unknown option " + flag +
                                    "; expected --sizes, --threads or --seconds");
      }
    }
    const OpenBlas blas = load_openblas();

    std::printf("n\tthreads\tEmber\tOpenBLAS\tfastest ratio\tmedian pair ratio\n");
    for (int64_t threads : thread_counts) {
      ember::kernels::set_num_threads(static_cast<int>(threads));
      blas.set_num_threads(static_cast<int>(threads));
      for (int64_t n : sizes) {
        std::mt19937 generator(7);
        std::uniform_real_distribution<float> distribution(-1.0f, 1.0f);
        std::vector<float> a(static_cast<std::size_t>(n * n));
        std::vector<float> b(a.size());
        std::vector<float> c(a.size());
        for (float& value : a) value = distribution(generator);
        for (float& value : b) value = distribution(generator);
        const int size = static_cast<int>(n);

        const auto ember_run = [&] {
          ember::kernels::gemm(ember::kernels::Transpose::No, ember::kernels::Transpose::No, n,
                               n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
        };
        const auto blas_run = [&] {
          blas.sgemm(kCblasRowMajor, kCblasNoTrans, kCblasNoTrans, size, size, size, 1.0f,
                     a.data(), size, b.data(), size, 0.0f, c.data(), size);
        };
        ember_run();
        blas_run();

        std::vector<double> ember_times;
        std::vector<double> blas_times;
        std::vector<double> ratios;  // OpenBLAS time / Ember time, so > 1 favours Ember
        double spent = 0.0;
        while (ratios.size() < 3 || (spent < budget && ratios.size() < 2000)) {
          const double ember_seconds = seconds_of(ember_run);
          const double blas_seconds = seconds_of(blas_run);
          ember_times.push_back(ember_seconds);
          blas_times.push_back(blas_seconds);
          ratios.push_back(blas_seconds / ember_seconds);
          spent += ember_seconds + blas_seconds;
        }

        const double flops = 2.0 * static_cast<double>(n) * n * n;
        const double ember_best = *std::min_element(ember_times.begin(), ember_times.end());
        const double blas_best = *std::min_element(blas_times.begin(), blas_times.end());
        std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
        std::printf("%lld\t%lld\t%.1f\t%.1f\t%.2f\t%.2f\n", static_cast<long long>(n),
                    static_cast<long long>(threads), flops / ember_best / 1e9,
                    flops / blas_best / 1e9, blas_best / ember_best, ratios[ratios.size() / 2]);
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ember_bench_gemm_vs_openblas: %s\n", error.what());
    return 1;
  }
  return 0;
}
