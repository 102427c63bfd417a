// The AVX-512 variant of every dispatched kernel: vector_kernels.h
// instantiated with the 16-lane vector of simd_avx512.h. CMake compiles this
// file alone with -mavx512f -mavx512dq; dispatch.cpp calls it only after
// CPUID confirms both. The scalar twin of each kernel is in reference.cpp.
#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/simd_avx512.h"
#include "autodiff/kernels/vector_kernels.h"

namespace ember::kernels::detail {

// GEMM tile [6, 64]: 24 accumulators and 4 B registers of the 32 zmm
// registers. On the Zen 4 machine of docs/benchmarks.md it beat [12, 32],
// [14, 32], [7, 64] and [8, 48] by 1-4% at n = 256.
const KernelTable& avx512_table() {
  static const KernelTable table = vector_kernels::make_table<avx512::Vec, 6, 4>(Isa::avx512);
  return table;
}

}  // namespace ember::kernels::detail
