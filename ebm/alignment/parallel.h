// Spreading the samples of a batch over threads.
//
// parallel_for splits [0, count) into one contiguous chunk per thread and runs
// body(begin, end) on each, the calling thread taking the first chunk. The
// thread count is EMBER_NUM_THREADS if set, else the hardware's thread count.
// Threads are started per call (tens of microseconds), so callers pass a
// minimum number of items worth a thread.
//
// TODO: switch to the kernels' persistent worker pool once it is available to
// this layer, which saves the thread start per call.
#pragma once

#include <cstdint>
#include <functional>

namespace ember::alignment {

// The number of threads parallel_for uses at most.
int alignment_threads();
// Overrides that number (>= 1), for benchmarks that compare thread counts.
void set_alignment_threads(int threads);

// Runs body over [0, count) in chunks of at least min_chunk items.
void parallel_for(int64_t count, int64_t min_chunk,
                  const std::function<void(int64_t begin, int64_t end)>& body);

}  // namespace ember::alignment
