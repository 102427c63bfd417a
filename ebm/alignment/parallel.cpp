// Thread count from the environment, and a fork-join parallel_for.
#include "ebm/alignment/parallel.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ember::alignment {

namespace {

int default_threads() {
  const char* text = std::getenv("EMBER_NUM_THREADS");
  if (text != nullptr && *text != '\0') {
    const int parsed = std::atoi(text);
    if (parsed < 1) {
      throw std::invalid_argument(std::string("EMBER_NUM_THREADS=") + text +
                                  " is invalid; expected a whole number >= 1");
    }
    return parsed;
  }
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> threads{default_threads()};
  return threads;
}

}  // namespace

int alignment_threads() { return thread_setting().load(); }

void set_alignment_threads(int threads) {
  if (threads < 1) {
    throw std::invalid_argument("set_alignment_threads: thread count " + std::to_string(threads) +
                                " must be >= 1");
  }
  thread_setting().store(threads);
}

void parallel_for(int64_t count, int64_t min_chunk,
                  const std::function<void(int64_t begin, int64_t end)>& body) {
  const int64_t by_work = std::max<int64_t>(1, count / std::max<int64_t>(1, min_chunk));
  const int64_t threads = std::min<int64_t>(alignment_threads(), by_work);
  if (threads <= 1) {
    body(0, count);
    return;
  }

  // Chunk k covers [k * count / threads, (k + 1) * count / threads).
  std::vector<std::thread> workers;
  std::vector<std::exception_ptr> errors(threads);
  for (int64_t k = 1; k < threads; ++k) {
    workers.emplace_back([&, k] {
      try {
        body(k * count / threads, (k + 1) * count / threads);
      } catch (...) {
        errors[k] = std::current_exception();
      }
    });
  }
  try {
    body(0, count / threads);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (std::thread& worker : workers) {
    worker.join();
  }
  for (const std::exception_ptr& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
}

}  // namespace ember::alignment
