// The AVX-512 variant of every dispatched kernel: vector_kernels.h
// instantiated with the 16-lane vector of simd_avx512.h. CMake compiles this
// file alone with -mavx512f -mavx512dq; dispatch.cpp calls it only after
// CPUID confirms both. The scalar twin of each kernel is in reference.cpp.
#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/simd_avx512.h"
#include "autodiff/kernels/vector_kernels.h"

namespace ember::kernels::detail {

// GEMM tile [12, 32]: 24 accumulators and 2 B registers of the 32 zmm
// registers; broadcasts fold into the multiply-adds as memory operands.
const KernelTable& avx512_table() {
  static const KernelTable table = vector_kernels::make_table<avx512::Vec, 12, 2>(Isa::avx512);
  return table;
}

}  // namespace ember::kernels::detail
