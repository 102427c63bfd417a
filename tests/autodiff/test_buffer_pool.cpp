// Tests of the buffer pool: alignment and reuse, the cache bound, counters,
// empty() tensors that reuse a released block, and many threads allocating
// and releasing at once without two of them receiving the same block.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "autodiff/autodiff.h"
#include "autodiff/buffer_pool.h"

using namespace ember;

TEST_CASE("buffer pool blocks are aligned and reused", "[autodiff][buffer_pool]") {
  release_cached_buffers();
  reset_buffer_pool_stats();
  for (const std::size_t bytes : {std::size_t{1024}, std::size_t{4097}, std::size_t{65536},
                                  std::size_t{65537}, std::size_t{1} << 20}) {
    INFO(bytes << " bytes");
    void* block = pool_allocate(bytes);
    CHECK(reinterpret_cast<std::uintptr_t>(block) % 64 == 0);
    std::fill_n(static_cast<unsigned char*>(block), bytes, 0xab);
    pool_release(block, bytes);
    void* again = pool_allocate(bytes);
    CHECK(again == block);
    pool_release(again, bytes);
  }
  const BufferPoolStats stats = buffer_pool_stats();
  CHECK(stats.requests == 10);
  CHECK(stats.system_allocations == 5);
  CHECK(stats.cached_bytes > 0);
  release_cached_buffers();
  CHECK(buffer_pool_stats().cached_bytes == 0);
}

TEST_CASE("buffer pool prefers own released blocks", "[autodiff][buffer_pool]") {
  // The main thread releases its block, then another thread releases a block
  // of the same size class, which is then the last on the list. The main
  // thread still gets its own back, and a thread that released none gets the
  // last one.
  release_cached_buffers();
  const std::size_t bytes = 8192;
  void* mine = pool_allocate(bytes);
  void* theirs = nullptr;
  std::thread([&] { theirs = pool_allocate(bytes); }).join();
  REQUIRE(theirs != mine);
  pool_release(mine, bytes);
  std::thread([&] { pool_release(theirs, bytes); }).join();
  void* again = pool_allocate(bytes);
  CHECK(again == mine);
  void* other = nullptr;
  std::thread([&] { other = pool_allocate(bytes); }).join();
  CHECK(other == theirs);
  pool_release(again, bytes);
  pool_release(other, bytes);
  release_cached_buffers();
}

TEST_CASE("buffer pool holds at most its cache bound", "[autodiff][buffer_pool]") {
  release_cached_buffers();
  const std::size_t bytes = std::size_t{4} << 20;
  const std::size_t count = kMaxCachedBytes / bytes + 8;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < count; ++i) {
    blocks.push_back(pool_allocate(bytes));
  }
  for (void* block : blocks) {
    pool_release(block, bytes);
  }
  const BufferPoolStats stats = buffer_pool_stats();
  CHECK(stats.cached_bytes <= kMaxCachedBytes);
  CHECK(stats.cached_bytes + bytes > kMaxCachedBytes);
  release_cached_buffers();
}

TEST_CASE("empty tensor reuses a released block unset", "[autodiff][buffer_pool]") {
  // The pool hands back the last block released to a size class, so an
  // empty() tensor of that size contains the old values: ops must write every
  // element. zeros() still fills.
  release_cached_buffers();
  { const Tensor filled = full({5000}, 7.0f); }
  const Tensor reused = empty({5000});
  CHECK(reused.to_vector()[4999] == 7.0f);
  { const Tensor filled = full({5000}, 7.0f); }
  const Tensor cleared = zeros({5000});
  CHECK(cleared.to_vector()[4999] == 0.0f);
}

TEST_CASE("buffer pool under concurrent threads", "[autodiff][buffer_pool]") {
  // Each thread stamps its blocks with its own id and checks the stamp
  // before releasing them. A block handed to two threads at once breaks it.
  constexpr int kThreads = 4;
  constexpr int kRounds = 3000;
  std::vector<int> broken(kThreads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([t, &broken] {
      std::mt19937 engine(static_cast<uint32_t>(t + 1));
      std::uniform_int_distribution<std::size_t> size(1024, 200000);
      std::vector<std::pair<uint32_t*, std::size_t>> live_blocks;
      for (int round = 0; round < kRounds; ++round) {
        const std::size_t bytes = size(engine);
        auto* block = static_cast<uint32_t*>(pool_allocate(bytes));
        std::fill_n(block, bytes / sizeof(uint32_t), static_cast<uint32_t>(t));
        live_blocks.emplace_back(block, bytes);
        if (live_blocks.size() > 4 || round + 1 == kRounds) {
          for (const auto& [old_block, old_bytes] : live_blocks) {
            for (std::size_t i = 0; i < old_bytes / sizeof(uint32_t); i += 61) {
              broken[static_cast<size_t>(t)] += old_block[i] != static_cast<uint32_t>(t);
            }
            pool_release(old_block, old_bytes);
          }
          live_blocks.clear();
        }
      }
    });
  }
  for (std::thread& worker : workers) {
    worker.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    INFO("thread " << t);
    CHECK(broken[static_cast<size_t>(t)] == 0);
  }
  CHECK(buffer_pool_stats().cached_bytes <= kMaxCachedBytes);
  release_cached_buffers();
}

TEST_CASE("buffer pool rejects sizes it cannot round", "[autodiff][buffer_pool]") {
  // Rounding up to the size class must not wrap around to a small block.
  const std::size_t huge = std::numeric_limits<std::size_t>::max() - 3;
  CHECK_THROWS_AS(pool_allocate(huge), std::bad_alloc);
  CHECK_THROWS_AS(pool_allocate(huge / 2 + 1), std::bad_alloc);
  // std::vector's own size limit (std::length_error with libstdc++) or the
  // pool rejects a tensor of 2^62 floats.
  CHECK_THROWS(zeros({(int64_t{1} << 62) - 1}));
}
