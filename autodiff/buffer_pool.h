// The buffer pool: a cache of freed tensor storage, so a training step that
// makes the same tensors every iteration reuses last iteration's memory
// instead of asking the system for fresh pages.
//
// Why it pays: without it every op's output and every gradient is a new heap
// block. Large blocks come straight from the kernel as zeroed pages, and a
// training step of the CNN recognizer spent about 8% of its time in page
// faults (docs/benchmarks.md). With the pool, those blocks come back from the
// cache after the first step.
//
// How it works: a request is rounded up to a size class, served from that
// class's free list when the list has a block. Classes are multiples of 4 KiB
// below 64 KiB, then eight per power of two, so at most 1/8 is wasted. A released block
// goes back on its list unless the cache already holds kMaxCachedBytes, in
// which case it is freed at once, so the cache never holds more than that.
// Blocks under 1 KiB skip the pool: malloc serves them well. The pool is
// shared by all threads and guarded by a mutex. A thread gets back the
// blocks it released itself first, which are likely still in its core's
// cache, and another thread's only when it has none of that size.
//
// Left out on purpose: returning cached blocks to the system on a timer, and
// separate caches per thread; release_cached_buffers() empties the cache on
// request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace ember {

// Counts since the process started (or since reset_buffer_pool_stats).
struct BufferPoolStats {
  uint64_t requests = 0;            // requested blocks of at least 1 KiB
  uint64_t system_allocations = 0;  // of those, the ones the cache could not serve
  uint64_t small_allocations = 0;   // blocks under 1 KiB, served by malloc directly
  std::size_t cached_bytes = 0;     // held in the cache right now
};

// Upper bound on the bytes the cache holds.
inline constexpr std::size_t kMaxCachedBytes = std::size_t{256} << 20;

// A block of at least `bytes` bytes, 64-byte aligned. Throws std::bad_alloc.
void* pool_allocate(std::size_t bytes);
// Returns a block from pool_allocate(bytes) (the same `bytes`) to the pool.
void pool_release(void* block, std::size_t bytes) noexcept;

BufferPoolStats buffer_pool_stats();
void reset_buffer_pool_stats();
// Frees every cached block.
void release_cached_buffers();

// The allocator of tensor storage. Besides routing blocks through the pool,
// it default-initializes: `values.resize(n)` leaves new floats unset, for ops
// that overwrite every element, while `values.assign(n, 0.0f)` still fills.
template <class T>
struct PoolAllocator {
  using value_type = T;

  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>& /*other*/) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(pool_allocate(n * sizeof(T))); }
  void deallocate(T* block, std::size_t n) noexcept { pool_release(block, n * sizeof(T)); }

  // No value-initialization (zeroing) when no value is given.
  template <class U>
  void construct(U* element) noexcept {
    ::new (static_cast<void*>(element)) U;
  }
  template <class U, class... Args>
  void construct(U* element, Args&&... args) {
    ::new (static_cast<void*>(element)) U(static_cast<Args&&>(args)...);
  }

  template <class U>
  bool operator==(const PoolAllocator<U>& /*other*/) const noexcept {
    return true;
  }
};

}  // namespace ember
