// The worker pool behind parallel_for: threads started on first use, woken
// per call through a generation counter, spinning for up to a millisecond
// before they sleep so the kernels of one training step do not pay a futex
// wake-up each.
//
// A call's chunks are fixed by its range and thread count, but any thread,
// the caller included, may claim and run any of them. So a worker that the
// system has not scheduled (another process on a shared machine, say)
// delays nothing that another thread can run instead, and results stay
// reproducible because a chunk computes the same whichever thread runs it.
// Nested parallelism is left out on purpose.
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
      workers_.emplace_back([this] { work(); });
    }
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true);
      claims_.store(pack(generation(claims_.load()) + 1, 0, 0));
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) {
      worker.join();
    }
  }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs the chunks of [0, count) on whichever threads claim them first.
  void run(int64_t count, int chunks, const std::function<void(int64_t, int64_t)>& body) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) {
      run_inline(count, chunks, body);
      return;
    }

    // The fields are written before the claims word that publishes them, and
    // stay unchanged until every chunk has finished.
    body_ = &body;
    count_ = count;
    error_ = nullptr;
    finished_.store(0);
    claims_.store(pack(generation(claims_.load()) + 1, chunks, 0));
    wake_sleeping_workers();

    inside_parallel_for = true;
    run_claimed_chunks();
    wait_until_finished(chunks);
    inside_parallel_for = false;

    if (error_) {
      std::rethrow_exception(error_);
    }
  }

 private:
  // The claims word: the call's generation, its chunk count and the next
  // unclaimed chunk, changed together by one compare-and-swap.
  static uint64_t pack(uint64_t generation, uint64_t chunks, uint64_t next) {
    return generation << 32 | chunks << 16 | next;
  }
  static uint64_t generation(uint64_t word) { return word >> 32; }
  static int chunks_of(uint64_t word) { return static_cast<int>(word >> 16 & 0xffff); }
  static int next_of(uint64_t word) { return static_cast<int>(word & 0xffff); }

  static void run_inline(int64_t count, int chunks,
                         const std::function<void(int64_t, int64_t)>& body) {
    for (int t = 0; t < chunks; ++t) {
      body(t * count / chunks, (t + 1) * count / chunks);
    }
  }

  // Claims and runs chunks of the current call until none is left. The last
  // chunk to finish wakes the caller, under the lock, so the caller cannot
  // miss the notification between its check and its wait.
  void run_claimed_chunks() {
    uint64_t word = claims_.load();
    while (next_of(word) < chunks_of(word)) {
      if (!claims_.compare_exchange_weak(word, word + 1)) {
        continue;  // word now contains the current value
      }
      const int t = next_of(word);
      const int chunks = chunks_of(word);
      try {
        (*body_)(t * count_ / chunks, (t + 1) * count_ / chunks);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) {
          error_ = std::current_exception();
        }
      }
      if (finished_.fetch_add(1) + 1 == chunks && caller_sleeping_.load()) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
      word = claims_.load();
    }
  }

  // The sleeping side of a wake-up announces itself in an atomic (the
  // caller in caller_sleeping_, workers in sleeping_workers_) under the
  // mutex before its condition variable checks the condition, and the waking
  // side changes the condition before it reads that atomic. All of these
  // accesses are sequentially consistent. So either the sleeper reads the
  // changed condition and does not sleep, or the waker reads the sleeper's
  // announcement and notifies under the mutex, which it can take only once
  // the sleeper waits. A waker that reads no announcement skips the mutex.
  // Before, every parallel_for took the mutex to publish its chunks and to
  // report the last one done, and a caller that stopped spinning took it
  // again. The two threads met there often enough that model B's two-thread
  // step made about 25 futex calls, each a possible sleep.
  void wait_until_finished(int chunks) {
    const auto finished = [this, chunks] { return finished_.load() == chunks; };
    if (spin_until(finished)) {
      return;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    caller_sleeping_.store(true);
    done_.wait(lock, finished);
    caller_sleeping_.store(false);
  }

  // Called after a change of claims_, which workers wait for.
  void wake_sleeping_workers() {
    if (sleeping_workers_.load() > 0) {
      { std::lock_guard<std::mutex> lock(mutex_); }
      wake_.notify_all();
    }
  }

  void work() {
    inside_parallel_for = true;
    uint64_t seen = 0;  // the generation this worker last took part in
    while (true) {
      const auto changed = [this, &seen] { return generation(claims_.load()) != seen; };
      if (!spin_until(changed)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_workers_.fetch_add(1);
        wake_.wait(lock, changed);
        sleeping_workers_.fetch_sub(1);
      }
      if (stopping_.load()) {
        return;
      }
      seen = generation(claims_.load());
      run_claimed_chunks();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_;   // held by the call that owns the workers
  std::mutex mutex_;  // orders the wake-ups, guards error_
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<uint64_t> claims_{0};
  std::atomic<int> finished_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> caller_sleeping_{false};  // the caller waits on done_
  std::atomic<int> sleeping_workers_{0};      // workers waiting on wake_
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t count_ = 0;
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

bool parallel_for_runs_inline() { return inside_parallel_for || num_threads() == 1; }

}  // namespace ember::kernels
