// Tests of the thread pool and of run-to-run determinism of threaded GEMM.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "autodiff/kernels/gemm.h"
#include "autodiff/kernels/threads.h"
#include "kernel_test_util.h"

using namespace ember::kernels;
using namespace ember::kernels::testing;

namespace {

// Restores the thread count a test changed.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(num_threads()) {}
  ~ThreadCountGuard() { set_num_threads(saved_); }

 private:
  int saved_;
};

}  // namespace

TEST_CASE("thread count parsing", "[kernels][threads]") {
  CHECK(parse_num_threads("1") == 1);
  CHECK(parse_num_threads("2") == 2);
  CHECK(parse_num_threads("1024") == 1024);
  for (const char* invalid : {"", "0", "-1", "+2", " 2", "2x", "abc", "1025", "99999"}) {
    INFO("text '" << invalid << "'");
    CHECK_THROWS_WITH(parse_num_threads(invalid),
                      Catch::Contains("EMBER_NUM_THREADS=") && Catch::Contains("1 to 1024"));
  }
  CHECK_THROWS_AS(set_num_threads(0), std::invalid_argument);
}

TEST_CASE("parallel_for covers every index once", "[kernels][threads]") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int64_t count : {0, 1, 2, 3, 1000}) {
      std::vector<std::atomic<int>> visits(static_cast<std::size_t>(count));
      parallel_for(count, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          visits[static_cast<std::size_t>(i)].fetch_add(1);
        }
      });
      int64_t wrong = 0;
      for (const auto& visit : visits) {
        wrong += visit.load() != 1;
      }
      INFO(threads << " threads, count " << count);
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("parallel_for rethrows and nests", "[kernels][threads]") {
  ThreadCountGuard guard;
  set_num_threads(2);

  CHECK_THROWS_WITH(parallel_for(10,
                                 [](int64_t begin, int64_t) {
                                   if (begin > 0) {
                                     throw std::runtime_error("chunk failed");
                                   }
                                 }),
                    "chunk failed");

  std::atomic<int64_t> total{0};
  parallel_for(4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      parallel_for(5, [&](int64_t inner_begin, int64_t inner_end) {
        total.fetch_add(inner_end - inner_begin);
      });
    }
  });
  CHECK(total.load() == 20);
}

TEST_CASE("parallel_for wakes sleeping threads", "[kernels][threads]") {
  // The pool's threads spin for 1 ms before they sleep. Each round starts
  // after 3 ms of quiet, so the worker is asleep and must be woken. Each of
  // the two chunks waits until the other has started, which only a second
  // thread can do: a worker left asleep makes a chunk wait out its 2 s
  // deadline. The second chunk then takes 3 ms, so a caller that ran the
  // first waits past its spin and sleeps until the worker wakes it. A missed
  // wake-up there would hang the test.
  ThreadCountGuard guard;
  set_num_threads(2);
  using Clock = std::chrono::steady_clock;
  int lonely_chunks = 0;
  for (int round = 0; round < 20; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    std::atomic<int> started{0};
    std::atomic<int> lonely{0};
    parallel_for(2, [&](int64_t begin, int64_t) {
      started.fetch_add(1);
      const auto deadline = Clock::now() + std::chrono::seconds(2);
      while (started.load() < 2 && Clock::now() < deadline) {
        std::this_thread::yield();
      }
      if (started.load() < 2) {
        lonely.fetch_add(1);
      }
      if (begin == 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
      }
    });
    lonely_chunks += lonely.load();
  }
  CHECK(lonely_chunks == 0);
}

TEST_CASE("parallel_for_runs_inline by thread count and nesting", "[kernels][threads]") {
  ThreadCountGuard guard;
  set_num_threads(1);
  CHECK(parallel_for_runs_inline());

  set_num_threads(2);
  CHECK_FALSE(parallel_for_runs_inline());
  std::atomic<int> inline_chunks{0};
  parallel_for(2, [&](int64_t, int64_t) {
    if (parallel_for_runs_inline()) {
      inline_chunks.fetch_add(1);
    }
  });
  CHECK(inline_chunks.load() == 2);
  CHECK_FALSE(parallel_for_runs_inline());
}

TEST_CASE("gemm is bitwise reproducible across runs and thread counts", "[kernels][threads]") {
  ThreadCountGuard guard;
  // Threads split C by column ranges when each gets at least 4 column
  // panels, as in the square and the short wide products at 2 threads.
  // Otherwise they split it by row tiles, as in the tall thin product, and in
  // the square one at 3 threads with AVX-512's 32-column panels.
  const int64_t shapes[][3] = {{301, 301, 301}, {20, 1500, 100}, {700, 40, 300}};
  for (const auto& shape : shapes) {
    const int64_t M = shape[0];
    const int64_t N = shape[1];
    const int64_t K = shape[2];
    const Buffer A = random_buffer(M * K, 41, -1.0f, 1.0f);
    const Buffer B = random_buffer(N * K, 42, -1.0f, 1.0f);

    set_num_threads(1);
    Buffer first(M * N);
    gemm(Transpose::No, Transpose::Yes, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f,
         first.data(), N);

    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      for (int run = 0; run < 3; ++run) {
        Buffer again(M * N);
        gemm(Transpose::No, Transpose::Yes, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f,
             again.data(), N);
        INFO("[" << M << ", " << N << ", " << K << "], " << threads << " threads, run " << run);
        CHECK(first_bit_difference(again, first, M * N) == -1);
      }
    }
  }
}
