// The AVX-512 variant of every dispatched kernel: vector_kernels.h
// instantiated with the 16-lane vector of simd_avx512.h. CMake compiles this
// file alone with -mavx512f -mavx512dq; dispatch.cpp calls it only after
// CPUID confirms both. The scalar twin of each kernel is in reference.cpp.
#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/simd_avx512.h"
#include "autodiff/kernels/vector_kernels.h"

namespace ember::kernels::detail {

// GEMM tile [12, 32]: 24 accumulators and 2 B registers of the 32 zmm
// registers, with B blocks of [512, 256] floats (512 KiB of a 2 MiB L2). It
// streams 128 bytes of B from L2 per 24 multiply-adds, half of what [6, 64]
// streams. On the Sapphire Rapids machine of docs/benchmarks.md (48 KiB L1,
// 2 MiB L2), both prefetching and with [256, 256] blocks, it beat [6, 64]
// by 8% on panels held in L2 and by 1-5% in whole products at n = 256 and
// 512, and tied at n = 1024 and 2048. [14, 32] and [8, 48] did no better.
// kc = 512 then beat kc = 256 by 2-4% at n = 1024 and 2048, with nc = 256
// ahead of 384 and 512. On a Zen 4 machine (32 KiB L1, 1 MiB L2), [6, 64]
// had beaten [12, 32], [14, 32], [7, 64] and [8, 48] by 1-4% at n = 256,
// with [256, 256] blocks and no prefetching in the kernel.
// NOTE: this tile and block have not been measured on Zen 4.
const KernelTable& avx512_table() {
  static const KernelTable table = [] {
    KernelTable avx512 =
        vector_kernels::make_table<avx512::Vec, 12, 2, /*GEMM_PREFETCH=*/true>(Isa::avx512);
    avx512.gemm.kc = 512;
    avx512.gemm.nc = 256;
    return avx512;
  }();
  return table;
}

}  // namespace ember::kernels::detail
