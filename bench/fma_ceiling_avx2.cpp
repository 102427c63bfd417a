// The FMA-ceiling loop of fma_loop.h on AVX2 registers; compiled with -mavx2
// -mfma and called only when CPUID reports AVX2.
#include "autodiff/kernels/simd_avx2.h"
#include "fma_loop.h"

namespace ember::bench {

double fma_gflops_avx2(int64_t iterations) {
  return fma_gflops<kernels::avx2::Vec>(iterations);
}

}  // namespace ember::bench
