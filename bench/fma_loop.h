// The FMA-ceiling loop: many independent chains of fused multiply-adds on one
// vector type V, so the only limit is how many FMAs a core issues per cycle.
// fma_ceiling_avx2.cpp and fma_ceiling_avx512.cpp instantiate it with the
// vector types of the kernels' mapping headers.
#pragma once

#include <chrono>
#include <cstdint>

namespace ember::bench {

// Returns GFLOP/s of a loop of `iterations` steps, each issuing one FMA per
// chain. 12 chains cover the 4-cycle FMA latency of two FMA pipes with room
// to spare and fit in 16 registers.
template <class V>
double fma_gflops(int64_t iterations) {
  constexpr int kChains = 12;
  V chains[kChains];
#pragma GCC unroll 12
  for (int c = 0; c < kChains; ++c) {
    chains[c] = V::broadcast(1.0f + 0.001f * static_cast<float>(c));
  }
  // Factors that keep the values bounded, so no denormal slows a chain down.
  const V scale = V::broadcast(0.9999f);
  const V offset = V::broadcast(0.0001f);

  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) {
      chains[c] = V::fma(chains[c], scale, offset);
    }
  }
  const auto stop = std::chrono::steady_clock::now();

  // Use every chain so the compiler cannot drop the loop.
  V total = V::zero();
#pragma GCC unroll 12
  for (int c = 0; c < kChains; ++c) {
    total = total + chains[c];
  }
  volatile float sink = V::reduce_add(total);
  static_cast<void>(sink);

  const double seconds = std::chrono::duration<double>(stop - start).count();
  const double flops = 2.0 * kChains * V::lanes * static_cast<double>(iterations);
  return flops / seconds / 1e9;
}

// Defined only on x86-64, each in a file compiled for its instruction set.
double fma_gflops_avx2(int64_t iterations);
double fma_gflops_avx512(int64_t iterations);

}  // namespace ember::bench
