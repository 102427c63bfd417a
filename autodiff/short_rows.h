// Copying and adding rows that may be only a few values long, for the
// convolution paths (ops_conv.cpp, conv_winograd.cpp). Model B's 18-pixel
// images have rows of 9 and 3 values. On rows that short a memmove call or
// a dispatched kernel's call costs more than the work, so they take inline
// loops, and longer rows take the library call or the kernel.
#pragma once

#include <algorithm>
#include <cstdint>

#include "autodiff/kernels/elementwise.h"

namespace ember::short_rows {

// Rows narrower than this are copied and added by inline loops.
inline constexpr int64_t kMinKernelRow = 16;

// target[0, n) = row[0, n).
inline void copy_row(int64_t n, const float* row, float* target) {
  if (n >= kMinKernelRow) {
    std::copy_n(row, n, target);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    target[i] = row[i];
  }
}

// target[0, n) += row[0, n), with the bits of kernels::add.
inline void add_row(int64_t n, const float* row, float* target) {
  if (n >= kMinKernelRow) {
    kernels::add(n, target, row, target);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    target[i] += row[i];
  }
}

}  // namespace ember::short_rows
