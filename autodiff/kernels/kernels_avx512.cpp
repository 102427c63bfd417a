// The AVX-512 variant of every dispatched kernel: vector_kernels.h
// instantiated with the 16-lane vector of simd_avx512.h. CMake compiles this
// file alone with -mavx512f -mavx512dq; dispatch.cpp calls it only after
// CPUID confirms both. The scalar twin of each kernel is in reference.cpp.
#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/simd_avx512.h"
#include "autodiff/kernels/vector_kernels.h"

namespace ember::kernels::detail {

// GEMM tile [12, 32]: 24 accumulators and 2 B registers of the 32 zmm
// registers, with B blocks of [256, 512] floats (512 KiB of a 2 MiB L2). On
// the Sapphire Rapids machine of docs/benchmarks.md (48 KiB L1, 2 MiB L2) it
// beat the [6, 64] tile with [256, 256] blocks by 4-10% for n = 256 to 2048,
// because each step streams 128 bytes of B from L2 per 24 multiply-adds
// instead of 256. [14, 32] and [8, 48] did no better. On a Zen 4 machine
// (32 KiB L1, 1 MiB L2), [6, 64] had beaten [12, 32], [14, 32], [7, 64] and
// [8, 48] by 1-4% at n = 256 with [256, 256] blocks and no B prefetch.
// NOTE: this tile and block have not been measured on Zen 4.
const KernelTable& avx512_table() {
  static const KernelTable table = [] {
    KernelTable avx512 = vector_kernels::make_table<avx512::Vec, 12, 2>(Isa::avx512);
    avx512.gemm.nc = 512;
    return avx512;
  }();
  return table;
}

}  // namespace ember::kernels::detail
