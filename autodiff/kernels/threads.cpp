// The worker pool behind parallel_for: threads started on first use, woken
// per call through a generation counter, spinning for up to a millisecond
// before they sleep so the kernels of one training step do not pay a futex
// wake-up each.
//
// Work stealing and nested parallelism are left out on purpose: kernels split
// work into equal static chunks, which keeps results reproducible.
#include "autodiff/kernels/threads.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ember::kernels {

namespace {

constexpr int kMaxThreads = 1024;
// How long a waiting thread polls before it sleeps. The serial stretches
// between the parallel kernels of a training step last up to about a
// millisecond. With the earlier spin of a few tens of microseconds, model
// A's 1.2 ms step paid a wake-up per kernel and ran at 27,000 samples/s on
// both one and two threads. With this one it reaches 34,000 on two.
constexpr auto kSpinTime = std::chrono::microseconds(1000);

// Polls `done` until it returns true or kSpinTime has passed, pausing the
// core between polls, and returns its last result.
template <class Done>
bool spin_until(const Done& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (int poll = 1;; ++poll) {
    if (done()) {
      return true;
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    // The clock costs more than a poll, so it is read every 64 polls.
    if (poll % 64 == 0 && std::chrono::steady_clock::now() >= deadline) {
      return done();
    }
  }
}

}  // namespace

int parse_num_threads(std::string_view text) {
  const auto invalid = [text] {
    // Quotes show stray spaces. Control characters become '?' and a long
    // value is cut, so the error stays one line.
    constexpr size_t kShown = 32;
    std::string shown(text.substr(0, kShown));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        c = '?';
      }
    }
    if (text.size() > kShown) {
      shown += "...";
    }
    return std::invalid_argument("EMBER_NUM_THREADS='" + shown +
                                 "' is invalid; set it to a whole number from 1 to " +
                                 std::to_string(kMaxThreads) +
                                 ", or unset it to use every hardware thread");
  };
  // More than 4 digits is out of range anyway, and this keeps the sum exact.
  if (text.empty() || text.size() > 4) {
    throw invalid();
  }
  int parsed = 0;
  for (const char digit : text) {
    if (digit < '0' || digit > '9') {
      throw invalid();
    }
    parsed = parsed * 10 + (digit - '0');
  }
  if (parsed < 1 || parsed > kMaxThreads) {
    throw invalid();
  }
  return parsed;
}

namespace {

int default_thread_count() {
  const char* text = std::getenv("EMBER_NUM_THREADS");
  if (text != nullptr && *text != '\0') {
    return parse_num_threads(text);
  }
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware == 0 ? 1 : static_cast<int>(hardware);
}

// True on pool workers, and on a caller while its parallel_for runs, so a
// parallel_for inside a body runs inline instead of waiting on the pool.
thread_local bool inside_parallel_for = false;

class Pool {
 public:
  explicit Pool(int threads) {
    for (int t = 1; t < threads; ++t) {
      workers_.emplace_back([this, t] { work(t); });
    }
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) {
      worker.join();
    }
  }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs chunk t of [0, count) on worker t (the caller is t = 0).
  void run(int64_t count, int chunks, const std::function<void(int64_t, int64_t)>& body) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) {
      run_inline(count, chunks, body);
      return;
    }

    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      count_ = count;
      chunks_ = chunks;
      error_ = nullptr;
      // Every worker acknowledges every call, even with no chunk to run, so
      // none can still be reading this call's fields when the next begins.
      pending_.store(static_cast<int>(workers_.size()));
      generation_.fetch_add(1);
    }
    wake_.notify_all();

    inside_parallel_for = true;
    run_chunk(0);
    wait_for_workers();
    inside_parallel_for = false;

    if (error_) {
      std::rethrow_exception(error_);
    }
  }

 private:
  static void run_inline(int64_t count, int chunks,
                         const std::function<void(int64_t, int64_t)>& body) {
    for (int t = 0; t < chunks; ++t) {
      body(t * count / chunks, (t + 1) * count / chunks);
    }
  }

  void run_chunk(int t) {
    try {
      (*body_)(t * count_ / chunks_, (t + 1) * count_ / chunks_);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) {
        error_ = std::current_exception();
      }
    }
  }

  void wait_for_workers() {
    spin_until([this] { return pending_.load() == 0; });
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_.load() == 0; });
  }

  void work(int t) {
    inside_parallel_for = true;
    uint64_t seen = 0;
    while (true) {
      uint64_t current = seen;
      spin_until([&] {
        current = generation_.load();
        return current != seen;
      });
      if (current == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this, seen] { return generation_.load() != seen; });
        current = generation_.load();
      }
      seen = current;

      if (stopping_) {
        return;
      }
      if (t < chunks_) {
        run_chunk(t);
      }
      // The last worker to finish wakes the caller under the lock, so the
      // caller cannot miss the notification between its check and its wait.
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_;   // held by the call that owns the workers
  std::mutex mutex_;  // guards the fields of the current call
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stopping_ = false;
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t count_ = 0;
  int chunks_ = 0;
  std::exception_ptr error_;
};

std::mutex pool_mutex;
std::unique_ptr<Pool> pool;
int requested_threads = 0;  // 0 until set_num_threads or the first num_threads

Pool& shared_pool() {
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (requested_threads == 0) {
    requested_threads = default_thread_count();
  }
  if (!pool || pool->threads() != requested_threads) {
    pool.reset();
    pool = std::make_unique<Pool>(requested_threads);
  }
  return *pool;
}

}  // namespace

int num_threads() {
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (requested_threads == 0) {
    requested_threads = default_thread_count();
  }
  return requested_threads;
}

void set_num_threads(int count) {
  if (count < 1 || count > kMaxThreads) {
    throw std::invalid_argument("set_num_threads: count " + std::to_string(count) +
                                " is invalid; expected 1 to " + std::to_string(kMaxThreads));
  }
  std::lock_guard<std::mutex> lock(pool_mutex);
  requested_threads = count;
}

void parallel_for(int64_t count, const std::function<void(int64_t begin, int64_t end)>& body) {
  if (count <= 0) {
    return;
  }
  const int threads = num_threads();
  const int chunks = static_cast<int>(count < threads ? count : threads);
  if (chunks == 1 || inside_parallel_for) {
    for (int t = 0; t < chunks; ++t) {
      body(t * count / chunks, (t + 1) * count / chunks);
    }
    return;
  }
  shared_pool().run(count, chunks, body);
}

}  // namespace ember::kernels
