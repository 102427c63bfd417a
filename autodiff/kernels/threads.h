// A small fixed pool of worker threads for splitting large kernels.
//
// parallel_for splits a range into one contiguous chunk per thread, and the
// chunk boundaries depend only on the range and the thread count, so a
// kernel whose chunks do not interact gives the same bits on every run.
// Kernels that are too small to split simply call their body once.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace ember::kernels {

// The thread count kernels split work across: set_num_threads() if called,
// else EMBER_NUM_THREADS (a whole number from 1 to 1024), else the hardware
// thread count. Throws std::invalid_argument for an invalid EMBER_NUM_THREADS.
int num_threads();

// Parses a thread count as EMBER_NUM_THREADS gives it. Throws
// std::invalid_argument with the text and the allowed range unless it is a
// whole number from 1 to 1024.
int parse_num_threads(std::string_view text);

// Sets the thread count for later kernels (1 to 1024). Throws
// std::invalid_argument for other counts. Not safe to call while another
// thread runs a kernel.
void set_num_threads(int count);

// Calls body(begin, end) on consecutive chunks that together cover
// [0, count), one chunk per thread (fewer if count is smaller), and returns
// when all have finished. Chunk t is [t * count / chunks, (t + 1) * count /
// chunks). Each chunk runs on whichever thread claims it first, the calling
// thread included, so a body must not depend on the thread it runs on. A
// call from inside a body, or
// while another thread's call is running, runs the chunks one after another
// on the calling thread. The first exception a body throws is rethrown here.
void parallel_for(int64_t count, const std::function<void(int64_t begin, int64_t end)>& body);

// True when a parallel_for called now would run all its chunks on the
// calling thread: with one thread, or inside a chunk of another
// parallel_for. Callers skip building the closure for such calls, because
// a std::function of a large closure allocates on the heap.
bool parallel_for_runs_inline();

}  // namespace ember::kernels
