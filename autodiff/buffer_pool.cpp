// The buffer pool's size classes, free lists and counters; see buffer_pool.h.
#include "autodiff/buffer_pool.h"

#include <bit>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace ember {

namespace {

constexpr std::size_t kSmallBlock = 1024;       // below this, plain malloc
constexpr std::size_t kPage = 4096;
constexpr std::size_t kPageClassLimit = 65536;  // page-multiple classes up to here
constexpr std::size_t kAlignment = 64;          // one cache line, and a full AVX-512 vector

// The bytes actually allocated for a request: whole pages up to 64 KiB, then
// the next of eight evenly spaced sizes between two powers of two.
std::size_t size_class(std::size_t bytes) {
  if (bytes <= kPageClassLimit) {
    return (bytes + kPage - 1) / kPage * kPage;
  }
  const std::size_t step = std::bit_floor(bytes) / 8;
  return (bytes + step - 1) / step * step;
}

struct Pool {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<void*>> free_blocks;  // by size class
  BufferPoolStats stats;
};

Pool& pool() {
  // Never destroyed: tensors in static storage may release blocks at exit,
  // after a destroyed pool would be gone.
  static Pool* instance = new Pool;
  return *instance;
}

}  // namespace

void* pool_allocate(std::size_t bytes) {
  Pool& p = pool();
  if (bytes < kSmallBlock) {
    {
      const std::lock_guard lock(p.mutex);
      ++p.stats.small_allocations;
    }
    void* block = std::malloc(bytes == 0 ? 1 : bytes);
    if (block == nullptr) {
      throw std::bad_alloc();
    }
    return block;
  }

  // No x86-64 or AArch64 process can address more than 2^48 bytes. Larger
  // requests fail here, before rounding up to a size class could wrap around
  // to a small block. They never reach the system allocator either, which
  // under AddressSanitizer aborts on such sizes instead of returning null.
  constexpr std::size_t kMaxBlock = std::size_t{1} << 48;
  if (bytes > kMaxBlock) {
    throw std::bad_alloc();
  }
  const std::size_t rounded = size_class(bytes);
  {
    const std::lock_guard lock(p.mutex);
    ++p.stats.requests;
    auto found = p.free_blocks.find(rounded);
    if (found != p.free_blocks.end() && !found->second.empty()) {
      void* block = found->second.back();
      found->second.pop_back();
      p.stats.cached_bytes -= rounded;
      return block;
    }
    ++p.stats.system_allocations;
  }
  void* block = std::aligned_alloc(kAlignment, rounded);
  if (block == nullptr) {
    throw std::bad_alloc();
  }
  return block;
}

void pool_release(void* block, std::size_t bytes) noexcept {
  if (block == nullptr) {
    return;
  }
  if (bytes < kSmallBlock) {
    std::free(block);
    return;
  }

  const std::size_t rounded = size_class(bytes);
  Pool& p = pool();
  {
    const std::lock_guard lock(p.mutex);
    if (p.stats.cached_bytes + rounded <= kMaxCachedBytes) {
      try {
        p.free_blocks[rounded].push_back(block);
        p.stats.cached_bytes += rounded;
        return;
      } catch (...) {
        // No memory for the list entry: free the block below instead.
      }
    }
  }
  std::free(block);
}

BufferPoolStats buffer_pool_stats() {
  Pool& p = pool();
  const std::lock_guard lock(p.mutex);
  return p.stats;
}

void reset_buffer_pool_stats() {
  Pool& p = pool();
  const std::lock_guard lock(p.mutex);
  const std::size_t cached = p.stats.cached_bytes;
  p.stats = BufferPoolStats{};
  p.stats.cached_bytes = cached;
}

void release_cached_buffers() {
  Pool& p = pool();
  const std::lock_guard lock(p.mutex);
  for (auto& [size, blocks] : p.free_blocks) {
    for (void* block : blocks) {
      std::free(block);
    }
    blocks.clear();
  }
  p.stats.cached_bytes = 0;
}

}  // namespace ember
