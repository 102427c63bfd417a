// The AVX2+FMA variant of every dispatched kernel: vector_kernels.h
// instantiated with the 8-lane vector of simd_avx2.h. CMake compiles this
// file alone with -mavx2 -mfma; dispatch.cpp calls it only after CPUID
// confirms both. The scalar twin of each kernel is in reference.cpp.
#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/simd_avx2.h"
#include "autodiff/kernels/vector_kernels.h"

namespace ember::kernels::detail {

// GEMM tile [4, 24]: 12 accumulators, 3 B registers and 1 broadcast use all
// 16 ymm registers. On the Zen 4 machine of docs/benchmarks.md it beat the
// classic [6, 16] by 4% at n = 256. It does not prefetch its panels, which
// cost 7% at n = 64 on the Sapphire Rapids machine (see vector_kernels.h).
const KernelTable& avx2_table() {
  static const KernelTable table =
      vector_kernels::make_table<avx2::Vec, 4, 3, /*GEMM_PREFETCH=*/false>(Isa::avx2);
  return table;
}

}  // namespace ember::kernels::detail
