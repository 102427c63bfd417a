// A test helper that fills the buffer pool with NaN, so that an op which
// leaves an element of an empty() output unwritten returns NaN there.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "autodiff/buffer_pool.h"

namespace ember::testing {

// Fills the pool's free lists with three NaN blocks of every size class from
// 4 KiB to 2 MiB. The pool hands out the last block released to a class, so
// the next pooled allocations (empty() tensors, scratch buffers) start as
// NaN. Allocations under 1 KiB bypass the pool and are not covered.
inline void fill_pool_with_nan() {
  release_cached_buffers();
  std::vector<std::size_t> classes;
  for (std::size_t bytes = 4096; bytes <= 65536; bytes += 4096) {
    classes.push_back(bytes);
  }
  for (std::size_t power = 65536; power < (std::size_t{2} << 20); power *= 2) {
    for (std::size_t step = 1; step <= 8; ++step) {
      classes.push_back(power + step * power / 8);
    }
  }
  for (const std::size_t bytes : classes) {
    void* blocks[3];
    for (void*& block : blocks) {
      block = pool_allocate(bytes);
      float* values = static_cast<float*>(block);
      std::fill(values, values + bytes / sizeof(float), std::numeric_limits<float>::quiet_NaN());
    }
    for (void* block : blocks) {
      pool_release(block, bytes);
    }
  }
}

}  // namespace ember::testing
