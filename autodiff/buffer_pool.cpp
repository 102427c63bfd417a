// The buffer pool's size classes, free lists and counters; see buffer_pool.h.
#include "autodiff/buffer_pool.h"

#include <bit>
#include <cstdlib>
#include <atomic>
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

// A cached block and the thread that released it (see thread_tag).
struct CachedBlock {
  void* block;
  int released_by;
};

struct Pool {
  std::mutex mutex;
  std::unordered_map<std::size_t, std::vector<CachedBlock>> free_blocks;  // by size class
  BufferPoolStats stats;
};

// A number for the calling thread, unique in the process.
int thread_tag() {
  static std::atomic<int> next{0};
  thread_local const int tag = next.fetch_add(1);
  return tag;
}

// The index in `list` of the block to hand to the calling thread: the last
// one it released itself, else the last of all. A thread's own blocks are
// likely still in its core's cache. With any block handed to any thread,
// the scratch of one parallel_for chunk was often the other core's last.
// Model B's two-thread step on 32 x 18 images then spent about 10% more
// time in its chunks than one thread spent on the same images. Taking its
// own blocks first made that step 5-8% faster, and B-CTC's two-thread step
// 9-11%. The lists hold a few blocks each, so the scan is short.
std::size_t block_for_caller(const std::vector<CachedBlock>& list) {
  const int tag = thread_tag();
  for (std::size_t i = list.size(); i-- > 0;) {
    if (list[i].released_by == tag) {
      return i;
    }
  }
  return list.size() - 1;
}

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
      std::vector<CachedBlock>& list = found->second;
      const std::size_t index = block_for_caller(list);
      void* block = list[index].block;
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(index));
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
        p.free_blocks[rounded].push_back({block, thread_tag()});
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
    for (const CachedBlock& cached : blocks) {
      std::free(cached.block);
    }
    blocks.clear();
  }
  p.stats.cached_bytes = 0;
}

}  // namespace ember
