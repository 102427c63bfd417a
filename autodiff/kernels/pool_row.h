// The scalar max-pool row loop: the reference kernel, and the tail of the
// SIMD ones (see KernelTable::max_pool_row for the contract).
#pragma once

#include <cstdint>

namespace ember::kernels {

// The unnamed namespace gives every object file its own copy, because
// reference.cpp, kernels_avx2.cpp and kernels_avx512.cpp are compiled with
// different instruction-set flags. With one shared inline definition the
// linker keeps a single copy for all three. In a Debug build the scalar
// kernel then ran the -mavx2 copy and died with SIGILL on a CPU without AVX.
namespace {

inline void max_pool_row_scalar(const float* rows, int64_t width, int64_t kernel_h,
                                int64_t kernel_w, int64_t stride, int64_t first_ow,
                                int64_t out_w, int64_t first_index, float* out,
                                int32_t* argmax) {
  for (int64_t ow = first_ow; ow < out_w; ++ow) {
    const float* window = rows + ow * stride;
    float best = window[0];
    int64_t best_offset = 0;
    for (int64_t p = 0; p < kernel_h; ++p) {
      for (int64_t q = 0; q < kernel_w; ++q) {
        // Take a larger value, or a NaN over a number, and never replace a
        // NaN. Selects, not a branch: real data would mispredict it often.
        const float value = window[p * width + q];
        const bool take = !(value <= best) && best == best;
        best = take ? value : best;
        best_offset = take ? p * width + q : best_offset;
      }
    }
    out[ow] = best;
    argmax[ow] = static_cast<int32_t>(first_index + ow * stride + best_offset);
  }
}

// Windows [first, count) of KernelTable::max_pool_windows, one at a time.
inline void max_pool_windows_scalar(const float* plane, int64_t width, int64_t kernel_h,
                                    int64_t kernel_w, int64_t first, int64_t count,
                                    const int32_t* bases, float* out, int32_t* argmax) {
  for (int64_t t = first; t < count; ++t) {
    // One window is a row of one window, with its base as the first index.
    max_pool_row_scalar(plane + bases[t], width, kernel_h, kernel_w, 1, 0, 1, bases[t], out + t,
                        argmax + t);
  }
}

}  // namespace

}  // namespace ember::kernels
