// The FMA-ceiling loop of fma_loop.h on AVX-512 registers; compiled with
// -mavx512f -mavx512dq and called only when CPUID reports AVX-512.
#include "autodiff/kernels/simd_avx512.h"
#include "fma_loop.h"

namespace ember::bench {

double fma_gflops_avx512(int64_t iterations) {
  return fma_gflops<kernels::avx512::Vec>(iterations);
}

}  // namespace ember::bench
