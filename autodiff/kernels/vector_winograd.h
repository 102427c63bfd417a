// The SIMD Winograd F(2x2, 3x3) tile kernels of winograd.h, for any vector
// type V. The lanes of a vector hold consecutive tiles of one row, so tile
// t's columns 2 t and 2 t + 1 arrive as the even and odd elements of two
// loads (V::deinterleave), and outputs leave through V::interleave. A row's
// last tiles that do not fill a vector take partial loads and stores. The
// scalar twins are in reference.cpp.
#pragma once

#include <cstdint>

#include "autodiff/kernels/winograd_tile.h"

namespace ember::kernels::vector_kernels {

// std::min and std::max for tile counts. Instances of those std templates
// would be weak functions that objects built for other instruction sets
// share (see scripts/check-isa-symbols.sh), while these have internal
// linkage.
namespace {

int64_t minimum(int64_t a, int64_t b) { return a < b ? a : b; }

int64_t maximum(int64_t a, int64_t b) { return a > b ? a : b; }

}  // namespace

// Adds value * 0 to check: NaN there, and so in the lane sum, exactly when a
// value was NaN or infinite.
template <class V>
bool all_lanes_finite(V check) {
  const float sum = V::reduce_add(check);
  return sum == sum;
}

// Loads x[0 .. 2 lanes) as its even and odd elements.
template <class V>
void load_pairs(const float* x, V& even, V& odd) {
  V::deinterleave(V::load(x), V::load(x + V::lanes), even, odd);
}

// Stores the first `count` (at most 2 lanes) of even[0] odd[0] even[1] ...
template <class V>
void store_pairs(float* x, int64_t count, V even, V odd) {
  V lo;
  V hi;
  V::interleave(even, odd, lo, hi);
  if (count >= 2 * V::lanes) {
    V::store(x, lo);
    V::store(x + V::lanes, hi);
    return;
  }
  V::store_partial(x, minimum(count, V::lanes), lo);
  if (count > V::lanes) {
    V::store_partial(x + V::lanes, count - V::lanes, hi);
  }
}

// Loads x[0 .. count) (count <= 2 lanes) as its even and odd elements, with
// zeros past count. Memory past x + count is not touched.
template <class V>
void load_pairs_partial(const float* x, int64_t count, V& even, V& odd) {
  V::deinterleave(V::load_partial(x, minimum(count, V::lanes)),
                  V::load_partial(x + V::lanes, maximum(0, count - V::lanes)), even, odd);
}

// load_pairs for a full block, else load_pairs_partial of `count` floats.
template <class V, bool Full>
void load_block_pairs(const float* x, int64_t count, V& even, V& odd) {
  if constexpr (Full) {
    load_pairs(x, even, odd);
  } else {
    load_pairs_partial(x, count, even, odd);
  }
}

// The 16 values of lanes tiles starting at in (rows row_ld apart), or of
// the first `tiles` of them when not Full, reading only their pixels.
// Copying the last tiles' rows into a zeroed stack buffer instead made
// model B's steps 1-2% slower: its 20-tile rows (four 9-pixel images side
// by side) end in such a block.
template <class V, bool Full>
void input_block(const float* in, int64_t row_ld, int64_t tiles, V (&v)[4][4]) {
  V d[4][4];
  for (int i = 0; i < 4; ++i) {
    // Columns 2 t, 2 t + 1, then 2 t + 2, 2 t + 3.
    load_block_pairs<V, Full>(in + i * row_ld, 2 * tiles, d[i][0], d[i][1]);
    load_block_pairs<V, Full>(in + i * row_ld + 2, 2 * tiles, d[i][2], d[i][3]);
  }
  winograd_tile::input(d, v);
}

template <class V>
void winograd_input_tiles(int64_t tiles, const float* in, int64_t row_ld, float* out,
                          int64_t point_ld) {
  int64_t t = 0;
  for (; t + V::lanes <= tiles; t += V::lanes) {
    V v[4][4];
    input_block<V, true>(in + 2 * t, row_ld, V::lanes, v);
    for (int xi = 0; xi < 16; ++xi) {
      V::store(out + xi * point_ld + t, v[xi / 4][xi % 4]);
    }
  }
  if (t < tiles) {
    const int64_t rest = tiles - t;
    V v[4][4];
    input_block<V, false>(in + 2 * t, row_ld, rest, v);
    for (int xi = 0; xi < 16; ++xi) {
      V::store_partial(out + xi * point_ld + t, rest, v[xi / 4][xi % 4]);
    }
  }
}

// The channels-last twin of winograd_input_tiles: the lanes hold
// consecutive channels of one tile, so every load and store is contiguous
// and no lane idles when the channels fill whole vectors.
template <class V>
void winograd_input_tiles_channels_last(int64_t tiles, int64_t channels, const float* in,
                                        int64_t row_ld, float* out, int64_t point_ld) {
  for (int64_t t = 0; t < tiles; ++t) {
    const float* tile = in + 2 * t * channels;
    float* first_point = out + t * channels;
    for (int64_t c = 0; c < channels; c += V::lanes) {
      const int64_t count = minimum(V::lanes, channels - c);
      V d[4][4];
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          const float* pixel = tile + i * row_ld + j * channels + c;
          d[i][j] = count == V::lanes ? V::load(pixel) : V::load_partial(pixel, count);
        }
      }
      V v[4][4];
      winograd_tile::input(d, v);
      for (int xi = 0; xi < 16; ++xi) {
        float* point = first_point + xi * point_ld + c;
        if (count == V::lanes) {
          V::store(point, v[xi / 4][xi % 4]);
        } else {
          V::store_partial(point, count, v[xi / 4][xi % 4]);
        }
      }
    }
  }
}

// Loads the 16 transformed values of `count` tiles (at most lanes):
// values[xi / 4][xi % 4] from source[xi point_ld ..], zero past count.
template <class V>
void load_points(const float* source, int64_t point_ld, int64_t count, V (&values)[4][4]) {
  for (int xi = 0; xi < 16; ++xi) {
    const float* point = source + xi * point_ld;
    values[xi / 4][xi % 4] = count == V::lanes ? V::load(point) : V::load_partial(point, count);
  }
}

template <class V>
bool winograd_output_tiles(int64_t tiles, const float* m, int64_t point_ld, float bias,
                           bool relu, float* out, int64_t row_ld, int64_t rows, int64_t width) {
  const V shift = V::broadcast(bias);
  V check = V::zero();
  for (int64_t t = 0; t < tiles; t += V::lanes) {
    const int64_t count = minimum(V::lanes, tiles - t);
    V products[4][4];
    load_points(m + t, point_ld, count, products);

    V y[2][2];
    winograd_tile::output(products, y);

    // Both rows count, as in the scalar reference, although rows = 1
    // leaves the second unwritten: M[12 .. 15] reach only that row.
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        check = V::fma(y[i][j], V::zero(), check);
      }
    }
    for (int i = 0; i < rows; ++i) {
      V pair[2];
      for (int j = 0; j < 2; ++j) {
        const V value = y[i][j] + shift;
        pair[j] = relu ? V::max(value, V::zero()) : value;
      }
      store_pairs(out + i * row_ld + 2 * t, width - 2 * t, pair[0], pair[1]);
    }
  }
  return all_lanes_finite(check);
}

// The 16 values of dM for lanes tiles of the two rows at grad, or for the
// first `tiles` of them when not Full, each also added times 0 to check.
// Four partial sums keep those additions from forming one chain of 16
// dependent FMAs per block.
template <class V, bool Full>
void output_gradient_block(const float* grad, int64_t row_ld, int64_t tiles, V& check,
                           V (&dm)[4][4]) {
  V dy[2][2];
  for (int i = 0; i < 2; ++i) {
    load_block_pairs<V, Full>(grad + i * row_ld, 2 * tiles, dy[i][0], dy[i][1]);
  }
  winograd_tile::output_gradient(dy, dm);

  V partial[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      partial[i] = V::fma(dm[i][j], V::zero(), partial[i]);
    }
  }
  check = check + ((partial[0] + partial[1]) + (partial[2] + partial[3]));
}

template <class V>
bool winograd_output_gradient_tiles(int64_t tiles, const float* grad, int64_t row_ld,
                                    float* out, int64_t point_ld) {
  V check = V::zero();
  int64_t t = 0;
  for (; t + V::lanes <= tiles; t += V::lanes) {
    V dm[4][4];
    output_gradient_block<V, true>(grad + 2 * t, row_ld, V::lanes, check, dm);
    for (int xi = 0; xi < 16; ++xi) {
      V::store(out + xi * point_ld + t, dm[xi / 4][xi % 4]);
    }
  }
  if (t < tiles) {
    const int64_t rest = tiles - t;
    V dm[4][4];
    output_gradient_block<V, false>(grad + 2 * t, row_ld, rest, check, dm);
    for (int xi = 0; xi < 16; ++xi) {
      V::store_partial(out + xi * point_ld + t, rest, dm[xi / 4][xi % 4]);
    }
  }
  return all_lanes_finite(check);
}

template <class V>
void winograd_input_gradient_tiles(int64_t tiles, const float* dv, int64_t point_ld,
                                   float* grad_in, int64_t row_ld) {
  // carry[i][j] = dd[i][2 + j] of the previous block's tiles.
  V carry[4][2];
  for (auto& row : carry) {
    row[0] = V::zero();
    row[1] = V::zero();
  }
  // Blocks of pairs s .. s + lanes - 1; the last block also holds pair
  // `tiles`, which only the last tile's dd[i][2 + j] reaches.
  for (int64_t s = 0; s <= tiles; s += V::lanes) {
    const int64_t count = minimum(V::lanes, tiles - s);  // tiles in this block
    V gradients[4][4];
    load_points(dv + s, point_ld, count, gradients);
    V dd[4][4];
    winograd_tile::input_gradient(gradients, dd);

    const int64_t floats = 2 * minimum(V::lanes, tiles + 1 - s);
    for (int i = 0; i < 4; ++i) {
      float* row = grad_in + i * row_ld + 2 * s;
      V even;
      V odd;
      if (floats == 2 * V::lanes) {
        load_pairs(row, even, odd);
      } else {
        load_pairs_partial(row, floats, even, odd);
      }
      even = even + (dd[i][0] + V::shift_in(carry[i][0], dd[i][2]));
      odd = odd + (dd[i][1] + V::shift_in(carry[i][1], dd[i][3]));
      store_pairs(row, floats, even, odd);
      carry[i][0] = dd[i][2];
      carry[i][1] = dd[i][3];
    }
  }
}

}  // namespace ember::kernels::vector_kernels
