// Spreading the samples of a batch over the kernels' worker pool.
//
// parallel_for runs body(begin, end) on contiguous chunks covering
// [0, count), one chunk per thread of ember::kernels::num_threads()
// (EMBER_NUM_THREADS, else the hardware thread count). A batch too small to
// give every thread min_chunk items runs on the calling thread alone,
// because waking the pool would cost more than it saves.
#pragma once

#include <cstdint>
#include <functional>

namespace ember::alignment {

void parallel_for(int64_t count, int64_t min_chunk,
                  const std::function<void(int64_t begin, int64_t end)>& body);

}  // namespace ember::alignment
