// Helpers shared by the kernel tests: the variants to compare, the awkward
// lengths to try, seeded random buffers, and bitwise and ulp comparisons.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "autodiff/kernels/dispatch.h"

namespace ember::kernels::testing {

// The SIMD variants this CPU supports (possibly none).
inline std::vector<Isa> simd_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::avx2, Isa::avx512}) {
    if (isa_supported(isa)) {
      isas.push_back(isa);
    }
  }
  return isas;
}

inline int64_t lanes_of(Isa isa) { return isa == Isa::avx512 ? 16 : isa == Isa::avx2 ? 8 : 1; }

// 0, 1, lanes - 1, lanes, lanes + 1, and a large length with a ragged tail.
inline std::vector<int64_t> awkward_lengths(int64_t lanes) {
  return {0, 1, lanes - 1, lanes, lanes + 1, 2 * lanes + 3, 1000 * lanes + lanes - 3};
}

// A buffer whose data starts one float past a 64-byte boundary, so every
// kernel gets unaligned pointers.
class Buffer {
 public:
  explicit Buffer(int64_t n) : storage_(static_cast<std::size_t>(n) + 32) {
    const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
    const std::uintptr_t aligned = (address + 63) & ~static_cast<std::uintptr_t>(63);
    data_ = storage_.data() + (aligned - address) / sizeof(float) + 1;
    size_ = n;
  }
  // Copies get their own storage with the same misalignment.
  Buffer(const Buffer& other) : Buffer(other.size_) {
    for (int64_t i = 0; i < size_; ++i) {
      data_[i] = other.data_[i];
    }
  }
  Buffer& operator=(const Buffer& other) {
    Buffer copy(other);
    storage_.swap(copy.storage_);
    std::swap(data_, copy.data_);
    size_ = copy.size_;
    return *this;
  }
  float* data() { return data_; }
  const float* data() const { return data_; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }
  int64_t size() const { return size_; }

 private:
  std::vector<float> storage_;
  float* data_;
  int64_t size_;
};

inline Buffer random_buffer(int64_t n, uint32_t seed, float low, float high) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> distribution(low, high);
  Buffer buffer(n);
  for (int64_t i = 0; i < n; ++i) {
    buffer[i] = distribution(generator);
  }
  return buffer;
}

inline uint32_t bits_of(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

// Index of the first element whose bits differ, or -1.
inline int64_t first_bit_difference(const Buffer& got, const Buffer& want, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (bits_of(got[i]) != bits_of(want[i])) {
      return i;
    }
  }
  return -1;
}

// Distance in units in the last place between two floats of the same sign
// class; 0 for equal values (also +0 vs -0 and NaN vs NaN), a huge value when
// one is NaN and the other is not.
inline int64_t ulp_distance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) {
    return std::isnan(a) && std::isnan(b) ? 0 : INT64_MAX;
  }
  if (a == b) {
    return 0;
  }
  // Map the float line onto integers so adjacent floats differ by 1.
  const auto ordered = [](float x) {
    const int64_t bits = static_cast<int32_t>(bits_of(x));
    return bits < 0 ? INT64_C(-2147483648) - bits : bits;
  };
  const int64_t distance = ordered(a) - ordered(b);
  return distance < 0 ? -distance : distance;
}

}  // namespace ember::kernels::testing
