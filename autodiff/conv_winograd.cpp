// conv2d's Winograd path: F(2x2, 3x3) over groups of images.
//
// Forward, for a group of n images with N tiles in all:
//   1. copy the images side by side into zero-padded planes [C, Hp, width]
//   2. V [16, C, N] = B^T d B for every tile d of every plane
//   3. M[xi] [K, N] = U[xi] [K, C] V[xi] [C, N], 16 GEMMs
//   4. y = A^T M A + bias per tile and filter, with the fused relu, written
//      into y [B, K, Ho, Wo]
// The tile kernels put consecutive tiles of a row in the lanes of a vector.
// Images sit side by side so that narrow ones still fill the lanes: model
// B's 9-pixel rows have 5 tiles, which left 11 of 16 lanes idle when each
// image had rows of its own. A row of the group then has tiles at columns
// 0, 2, 4, .. of the planes, and neighbouring images share the zero columns
// between them, as on the implicit path. Outputs that straddle two images
// are dropped (see Tiling::pitch and Group).
// The GEMMs get rows of filters and columns of tiles, the shape their
// micro-kernel is made for. Backward runs the adjoint of each step (see
// backward below), and transforms x again for the weight gradient, then
// from channels-last planes into a tile-major V. The filter transforms
// G g G^T and G^T dU G run once per call, on plain loops.
//
// What it leaves out: tiles larger than 2x2 (F(4x4, 3x3) needs 2.25x fewer
// multiply-adds again, at a larger rounding error) and strides other than 1.
#include "autodiff/conv_winograd.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/elementwise.h"
#include "autodiff/kernels/gemm.h"
#include "autodiff/kernels/rows.h"
#include "autodiff/kernels/threads.h"
#include "autodiff/kernels/winograd.h"
#include "autodiff/short_rows.h"

namespace ember::winograd {

namespace {

using short_rows::add_row;
using short_rows::copy_row;

using kernels::Transpose;
using Scratch = std::vector<float, PoolAllocator<float>>;

constexpr int64_t kPoints = 16;  // values per transformed tile, xi = 4 i + j

// The distance between the 16 point matrices of V, M and their gradients,
// for `values` values each: an odd number of 64-byte cache lines. The tile
// kernels read or write all 16 at once. At a multiple of 4 KiB apart they
// would all map to one set of the L1 cache, which has 12 ways on the Xeon
// of docs/benchmarks.md (48 KiB, 64 sets). This made model B's third layer
// about 10% faster on 32 x 90 images, where the matrices were 32 KiB apart.
int64_t point_stride(int64_t values) {
  constexpr int64_t kLine = 16;  // floats per cache line
  const int64_t lines = (values + kLine - 1) / kLine;
  return (lines % 2 == 0 ? lines + 1 : lines) * kLine;
}

// Images are grouped until a group has at least this many tiles, so that
// each of the 16 GEMMs has columns enough to amortise packing U[xi].
constexpr int64_t kMinGroupTiles = 128;

// The share of a GEMM's columns that fall in its last, ragged panel of the
// micro-kernel's width, where a narrower and slower kernel runs.
double ragged_share(int64_t columns) {
  const int64_t width = kernels::active_kernels().gemm.nr;
  const int64_t padded = (columns + width - 1) / width * width;
  return static_cast<double>(padded - columns) / static_cast<double>(padded);
}

// True when dU is kept as [16, C, K], because K fills the GEMM's column
// panels better than C; else it is [16, K, C].
bool transposed_du(const Conv3x3& s) {
  return ragged_share(s.out_channels) < ragged_share(s.channels);
}

// The output's cut into 2x2 tiles, and the padded planes the tiles read.
// Images sit `pitch` columns apart in the planes: pixel (h, w) of image j
// is at column j pitch + pad_w + w, with zeros between images. Output
// (oh, ow) of image j is then the convolution at plane column j pitch + ow,
// which reads columns j pitch + ow .. j pitch + ow + 2. Those stay clear of
// image j + 1 while pitch >= W + pad_w, and image j - 1's pixels stay
// left of column j pitch likewise, so the zeros between two images serve
// as the right padding of one and the left padding of the next. The pitch
// is also at least Wo (true for pad_w <= 2) and even, so that image j's
// outputs start a tile (j pitch / 2) of their own. Model B's 9-pixel rows
// (pitch 10) take 5 tiles per image. Planes of 2 cols + 2 columns per image,
// which added a tile that straddled each image and the next, took 6.
struct Tiling {
  int64_t rows;      // ceil(Ho / 2)
  int64_t cols;      // ceil(Wo / 2), the tiles with outputs of an image row
  int64_t padded_h;  // Hp = 2 rows + 2: input rows -pad_h .. Hp - pad_h - 1
  int64_t pitch;     // W + pad_w rounded up to even
  int64_t per_image() const { return rows * cols; }
};

Tiling tiling(const Conv3x3& s) {
  Tiling t;
  t.rows = (s.out_height + 1) / 2;
  t.cols = (s.out_width + 1) / 2;
  t.padded_h = 2 * t.rows + 2;
  t.pitch = (s.width + s.pad_w + 1) / 2 * 2;
  return t;
}

// A group of n images side by side in planes [Hp, width]. Tile i of a row
// covers columns 2 i .. 2 i + 3, so tile j pitch / 2 + q is tile q of image
// j for q < cols. The tiles between the last of image j and the first of
// image j + 1, if any, straddle the two: their outputs are dropped, and
// their output gradient is zero, as it is for an output column ow >= Wo of
// a tile of image j. The row ends with the last image's last tile. Tile
// r row_tiles + i is tile i of row r.
struct Group {
  int64_t images;     // n
  int64_t row_tiles;  // (n - 1) pitch / 2 + cols
  int64_t width;      // 2 row_tiles + 2, the planes' row length
  int64_t tiles;      // N = rows row_tiles
};

Group group_of(const Tiling& t, int64_t images) {
  Group g;
  g.images = images;
  g.row_tiles = (images - 1) * (t.pitch / 2) + t.cols;
  g.width = 2 * g.row_tiles + 2;
  g.tiles = t.rows * g.row_tiles;
  return g;
}

// The share of a group's GEMM columns, padded to whole panels of the
// micro-kernel's width, that are not tiles of its images.
double wasted_share(const Tiling& t, int64_t images) {
  const int64_t width = kernels::active_kernels().gemm.nr;
  const int64_t columns = group_of(t, images).tiles;
  const int64_t padded = (columns + width - 1) / width * width;
  return 1.0 - static_cast<double>(images * t.per_image()) / static_cast<double>(padded);
}

// The images per group: enough for kMinGroupTiles tiles, or more, up to
// kMaxGroupTiles, when they waste fewer GEMM columns on tiles that straddle
// two images and on the last, ragged panel. Groups of 3 of model B's
// 184-tile images (its second layer on 32 x 90 inputs) fill the panels too
// and ran 2.5% faster on Zen 3.
// They also raised peak memory by about 10 MiB (two threads), so the cap
// keeps them to one.
constexpr int64_t kMaxGroupTiles = 256;

int64_t images_per_tiling_group(const Tiling& t) {
  int64_t least = 1;
  while (group_of(t, least).tiles < kMinGroupTiles) {
    ++least;
  }
  int64_t best = least;
  for (int64_t n = least + 1; group_of(t, n).tiles <= kMaxGroupTiles; ++n) {
    if (wasted_share(t, n) < wasted_share(t, best)) {
      best = n;
    }
  }
  return best;
}

// Calls body(b0, group) for the groups of images [first, last).
template <class Body>
void for_groups(const Tiling& t, int64_t first, int64_t last, const Body& body) {
  const int64_t per_group = images_per_tiling_group(t);
  Group group = group_of(t, std::min(per_group, last - first));
  for (int64_t b0 = first; b0 < last; b0 += per_group) {
    const int64_t n = std::min(per_group, last - b0);
    if (n != group.images) {
      group = group_of(t, n);
    }
    body(b0, group);
  }
}

// The end of image j's columns in a row of the group's planes, `values`
// values per column: the next image's start, or the row's end for the last.
int64_t segment_end(const Tiling& t, const Group& g, int64_t j, int64_t values) {
  return (j + 1 < g.images ? (j + 1) * t.pitch : g.width) * values;
}

// Fills planes [C, Hp, width] with images [b0, b0 + n) of x [B, C, H, W]
// side by side, zero around them. Hp >= Ho + 2 = H + 2 pad_h, so every row
// fits, and likewise every column (width >= (n - 1) pitch + W + pad_w).
// The planes are zeroed whole first. Zeroing only the gaps around each
// image row took two memset calls of a few values per row: 32,768 calls in
// a forward of model B's second layer on 32 x 18 images.
void fill_padded(const Conv3x3& s, const Tiling& t, const Group& g, const float* xs,
                 int64_t b0, float* padded) {
  const int64_t plane_size = t.padded_h * g.width;
  std::fill_n(padded, s.channels * plane_size, 0.0f);
  for (int64_t c = 0; c < s.channels; ++c) {
    float* plane = padded + c * plane_size;
    for (int64_t h = 0; h < s.height; ++h) {
      float* row = plane + (s.pad_h + h) * g.width + s.pad_w;
      for (int64_t j = 0; j < g.images; ++j) {
        const float* source = xs + (((b0 + j) * s.channels + c) * s.height + h) * s.width;
        copy_row(s.width, source, row + j * t.pitch);
      }
    }
  }
}

// Fills planes [K, 2 rows, 2 row_tiles] with grad_y of images [b0, b0 + n)
// side by side, image j's from column j pitch on as in fill_padded, masked by
// y > 0 with the fused relu and zero elsewhere. The mask is applied row by
// row on the way, so g needs no buffer of its own. As in fill_padded, the
// planes are zeroed whole first instead of around each row.
void fill_gradient_planes(const Conv3x3& s, const Tiling& t, const Group& g, const float* ys,
                          const float* g_y, int64_t b0, float* planes) {
  const int64_t positions = s.out_height * s.out_width;
  const int64_t ld = 2 * g.row_tiles;
  const int64_t plane_size = 2 * t.rows * ld;
  std::fill_n(planes, s.out_channels * plane_size, 0.0f);
  for (int64_t k = 0; k < s.out_channels; ++k) {
    float* plane = planes + k * plane_size;
    for (int64_t h = 0; h < s.out_height; ++h) {
      float* row = plane + h * ld;
      for (int64_t j = 0; j < g.images; ++j) {
        float* segment = row + j * t.pitch;
        const int64_t at = ((b0 + j) * s.out_channels + k) * positions + h * s.out_width;
        if (s.relu) {
          kernels::relu_mask(s.out_width, ys + at, g_y + at, segment);
        } else {
          copy_row(s.out_width, g_y + at, segment);
        }
      }
    }
  }
}

// Fills the planes of fill_gradient_planes from a max pool's gradient
// instead of a dense grad_y: zero, then each window's gradient added at its
// argmax, masked by pooled > 0 with relu. Copying a dense grad_y in row by
// row, after routing the pool's gradient into it, had taken 32,768 copies
// of 9 values and 16,384 of 3 per model B step on 32 x 18 images.
void route_into_planes(const Conv3x3& s, const Tiling& t, const Group& g,
                       const PooledGradient& grad, int64_t b0, float* planes,
                       std::vector<int64_t>& plane_offsets) {
  const int64_t ld = 2 * g.row_tiles;
  const int64_t plane_size = 2 * t.rows * ld;
  const int64_t K = s.out_channels;
  std::fill_n(planes, K * plane_size, 0.0f);
  // plane_offsets[o]: where output o = oh Wo + ow of the first image lands.
  plane_offsets.resize(static_cast<size_t>(s.out_height * s.out_width));
  for (int64_t oh = 0; oh < s.out_height; ++oh) {
    for (int64_t ow = 0; ow < s.out_width; ++ow) {
      plane_offsets[static_cast<size_t>(oh * s.out_width + ow)] = oh * ld + ow;
    }
  }
  for (int64_t j = 0; j < g.images; ++j) {
    for (int64_t k = 0; k < K; ++k) {
      add_pooled_plane(grad, (b0 + j) * K + k, plane_offsets.data(),
                       planes + k * plane_size + j * t.pitch);
    }
  }
}

// v [16, C, N] = B^T d B for every tile of the padded planes, with the 16
// matrices point_stride(C N) apart, as everywhere below.
void transform_inputs(const Conv3x3& s, const Tiling& t, const Group& g, const float* padded,
                      float* v) {
  const int64_t plane_size = t.padded_h * g.width;
  for (int64_t c = 0; c < s.channels; ++c) {
    for (int64_t r = 0; r < t.rows; ++r) {
      kernels::winograd_input_tiles(g.row_tiles, padded + c * plane_size + 2 * r * g.width,
                                    g.width, v + c * g.tiles + r * g.row_tiles,
                                    point_stride(s.channels * g.tiles));
    }
  }
}

// Fills padded [Hp, width, C] (channels-last) with images [b0, b0 + n) of
// x [B, C, H, W] side by side, zero around them. Each image row [C, W] goes
// in transposed, as [W, C].
void fill_padded_channels_last(const Conv3x3& s, const Tiling& t, const Group& g,
                               const float* xs, int64_t b0, float* padded) {
  const int64_t C = s.channels;
  const int64_t row_size = g.width * C;
  const kernels::KernelTable& table = kernels::active_kernels();
  std::vector<const float*> channel_rows(static_cast<size_t>(C));
  std::fill_n(padded, s.pad_h * row_size, 0.0f);
  for (int64_t h = 0; h < s.height; ++h) {
    float* row = padded + (s.pad_h + h) * row_size;
    for (int64_t j = 0; j < g.images; ++j) {
      float* segment = row + j * t.pitch * C;
      std::fill_n(segment, s.pad_w * C, 0.0f);
      for (int64_t c = 0; c < C; ++c) {
        channel_rows[static_cast<size_t>(c)] = xs + (((b0 + j) * C + c) * s.height + h) * s.width;
      }
      table.transpose(C, s.width, channel_rows.data(), segment + s.pad_w * C, C);
      std::fill(segment + (s.pad_w + s.width) * C, row + segment_end(t, g, j, C), 0.0f);
    }
  }
  std::fill(padded + (s.pad_h + s.height) * row_size, padded + t.padded_h * row_size, 0.0f);
}

// v [16, N, C] = B^T d B for every tile of channels-last padded planes.
void transform_inputs_channels_last(const Conv3x3& s, const Tiling& t, const Group& g,
                                    const float* padded, float* v) {
  const int64_t C = s.channels;
  const int64_t row_ld = g.width * C;
  for (int64_t r = 0; r < t.rows; ++r) {
    kernels::winograd_input_tiles_channels_last(g.row_tiles, C, padded + 2 * r * row_ld, row_ld,
                                                v + r * g.row_tiles * C,
                                                point_stride(g.tiles * C));
  }
}

// G g for one column (g0, g1, g2) of n filters, given as three rows of
// n values, into four rows u[0 .. 3] of n values. Each row is a separate
// array, so the loop runs across filters in vector lanes.
void filter_columns(int64_t n, const float* g0, const float* g1, const float* g2, float* u0,
                    float* u1, float* u2, float* u3) {
  for (int64_t i = 0; i < n; ++i) {
    u0[i] = g0[i];
    u1[i] = 0.5f * (g0[i] + g1[i] + g2[i]);
    u2[i] = 0.5f * (g0[i] - g1[i] + g2[i]);
    u3[i] = g2[i];
  }
}

// G^T du for one column of dU of n filters, given as four rows of n
// values, into three rows g[0 .. 2]: the adjoint of filter_columns.
void filter_gradient_columns(int64_t n, const float* u0, const float* u1, const float* u2,
                             const float* u3, float* g0, float* g1, float* g2) {
  for (int64_t i = 0; i < n; ++i) {
    g0[i] = u0[i] + 0.5f * (u1[i] + u2[i]);
    g1[i] = 0.5f * (u1[i] - u2[i]);
    g2[i] = 0.5f * (u1[i] + u2[i]) + u3[i];
  }
}

// U[xi, k, c] = (G g G^T)[xi] for the C filters g = weight[k, c] of filter
// row k, into u [16, K, C]. Blocks of channels go through arrays with the
// channel innermost, so the arithmetic runs in vector lanes and u gets
// whole rows. One filter at a time, with 16 stores C apart, it took 4.6%
// of model B's step on 32 x 18 images (one thread).
void transform_filters(int64_t C, int64_t K, int64_t k, const float* weight, float* u) {
  constexpr int64_t kBlock = 64;
  float g[9][kBlock];          // g[3 p + q][c]: weight[k, c0 + c, p, q]
  float columns[4][3][kBlock];  // G g
  float tile[16][kBlock];      // G g G^T, by xi
  for (int64_t c0 = 0; c0 < C; c0 += kBlock) {
    const int64_t n = std::min(kBlock, C - c0);
    const float* filters = weight + (k * C + c0) * 9;
    for (int64_t c = 0; c < n; ++c) {
      for (int p = 0; p < 9; ++p) {
        g[p][c] = filters[c * 9 + p];
      }
    }
    for (int q = 0; q < 3; ++q) {
      filter_columns(n, g[q], g[3 + q], g[6 + q], columns[0][q], columns[1][q], columns[2][q],
                     columns[3][q]);
    }
    for (int i = 0; i < 4; ++i) {
      filter_columns(n, columns[i][0], columns[i][1], columns[i][2], tile[4 * i],
                     tile[4 * i + 1], tile[4 * i + 2], tile[4 * i + 3]);
    }
    for (int64_t xi = 0; xi < kPoints; ++xi) {
      std::copy_n(tile[xi], n, u + (xi * K + k) * C + c0);
    }
  }
}

// Filters (K C) from which transform_weights splits across threads.
constexpr int64_t kMinParallelFilters = 1024;

}  // namespace

int64_t images_per_group(const Conv3x3& s) { return images_per_tiling_group(tiling(s)); }

double tiles_per_image(const Conv3x3& s) {
  const Tiling t = tiling(s);
  const int64_t images = images_per_tiling_group(t);
  return static_cast<double>(group_of(t, images).tiles) / static_cast<double>(images);
}

Weights transform_weights(const Conv3x3& s, const float* weight) {
  const int64_t C = s.channels;
  const int64_t K = s.out_channels;
  Weights u(static_cast<size_t>(2 * kPoints * K * C));
  // Split by filters across threads: the transform runs once per call,
  // outside the chunks of images, and it was the largest serial part of
  // model B's two-thread CTC step (2.4% of the calling thread's samples).
  const auto transform = [&](int64_t first, int64_t last) {
    for (int64_t k = first; k < last; ++k) {
      transform_filters(C, K, k, weight, u.data());
    }
    // Then rows [first, last) of each U[xi] into columns of U^T[xi].
    const kernels::KernelTable& table = kernels::active_kernels();
    std::vector<const float*> rows(static_cast<size_t>(last - first));
    float* u_t = u.data() + kPoints * K * C;
    for (int64_t xi = 0; xi < kPoints; ++xi) {
      for (int64_t k = first; k < last; ++k) {
        rows[static_cast<size_t>(k - first)] = u.data() + (xi * K + k) * C;
      }
      table.transpose(last - first, C, rows.data(), u_t + xi * C * K + first, K);
    }
  };
  if (K * C < kMinParallelFilters) {
    transform(0, K);
  } else {
    kernels::parallel_for(K, transform);
  }
  return u;
}

bool forward(const Conv3x3& s, const Weights& u, const float* xs, const float* bias, float* ys,
             int64_t first, int64_t last) {
  const Tiling t = tiling(s);
  const int64_t C = s.channels;
  const int64_t K = s.out_channels;
  const int64_t positions = s.out_height * s.out_width;
  Scratch padded;
  Scratch v;
  Scratch m;
  Scratch staged;  // one row of tiles' outputs [2, 2 row_tiles] of a group of several images
  bool finite = true;
  for_groups(t, first, last, [&](int64_t b0, const Group& g) {
    const int64_t N = g.tiles;
    const int64_t v_stride = point_stride(C * N);
    const int64_t m_stride = point_stride(K * N);
    padded.resize(static_cast<size_t>(C * t.padded_h * g.width));
    v.resize(static_cast<size_t>(kPoints * v_stride));
    m.resize(static_cast<size_t>(kPoints * m_stride));
    fill_padded(s, t, g, xs, b0, padded.data());
    transform_inputs(s, t, g, padded.data(), v.data());

    // M[xi] [K, N] = U[xi] [K, C] V[xi] [C, N]
    for (int64_t xi = 0; xi < kPoints; ++xi) {
      kernels::gemm(Transpose::No, Transpose::No, K, N, C, 1.0f, u.data() + xi * K * C, C,
                    v.data() + xi * v_stride, N, 0.0f, m.data() + xi * m_stride, N);
    }

    // y = A^T M A + bias, row of tiles by row of tiles. One image's rows go
    // straight into y. Several images' rows go through `staged`, from which
    // each image's part is copied, and the straddling outputs are dropped.
    const int64_t staged_ld = 2 * g.row_tiles;
    staged.resize(static_cast<size_t>(2 * staged_ld));
    for (int64_t k = 0; k < K; ++k) {
      const float shift = bias != nullptr ? bias[k] : 0.0f;
      float* first_plane = ys + (b0 * K + k) * positions;
      for (int64_t r = 0; r < t.rows; ++r) {
        const float* first_tile = m.data() + k * N + r * g.row_tiles;
        const int64_t rows = std::min<int64_t>(2, s.out_height - 2 * r);
        if (g.images == 1) {
          finite = kernels::winograd_output_tiles(g.row_tiles, first_tile, m_stride, shift,
                                                  s.relu, first_plane + 2 * r * s.out_width,
                                                  s.out_width, rows, s.out_width) &&
                   finite;
          continue;
        }
        finite = kernels::winograd_output_tiles(g.row_tiles, first_tile, m_stride, shift, s.relu,
                                                staged.data(), staged_ld, rows, staged_ld) &&
                 finite;
        for (int64_t j = 0; j < g.images; ++j) {
          float* plane = first_plane + j * K * positions;
          for (int64_t i = 0; i < rows; ++i) {
            copy_row(s.out_width, staged.data() + i * staged_ld + j * t.pitch,
                     plane + (2 * r + i) * s.out_width);
          }
        }
      }
    }
  });
  return finite;
}

void add_weight_gradient(const Conv3x3& s, const float* du_sum, float* grad_w) {
  const int64_t C = s.channels;
  const int64_t K = s.out_channels;
  const bool du_transposed = transposed_du(s);
  // grad_weight[k, c] += G^T dU[., k, c] G, for blocks of channels in
  // arrays with the channel innermost, as in transform_filters. One filter
  // at a time it took 0.8% of model B's step on 32 x 18 images.
  constexpr int64_t kBlock = 64;
  float tile[16][kBlock];          // dU by xi
  float columns[3][4][kBlock];     // G^T dU
  float filter[9][kBlock];         // G^T dU G, by 3 p + q
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t c0 = 0; c0 < C; c0 += kBlock) {
      const int64_t n = std::min(kBlock, C - c0);
      for (int64_t xi = 0; xi < kPoints; ++xi) {
        if (du_transposed) {
          for (int64_t c = 0; c < n; ++c) {
            tile[xi][c] = du_sum[(xi * C + c0 + c) * K + k];
          }
        } else {
          std::copy_n(du_sum + (xi * K + k) * C + c0, n, tile[xi]);
        }
      }
      for (int q = 0; q < 4; ++q) {
        filter_gradient_columns(n, tile[q], tile[4 + q], tile[8 + q], tile[12 + q],
                                columns[0][q], columns[1][q], columns[2][q]);
      }
      for (int p = 0; p < 3; ++p) {
        filter_gradient_columns(n, columns[p][0], columns[p][1], columns[p][2], columns[p][3],
                                filter[3 * p], filter[3 * p + 1], filter[3 * p + 2]);
      }
      float* g = grad_w + (k * C + c0) * 9;
      for (int64_t c = 0; c < n; ++c) {
        for (int v = 0; v < 9; ++v) {
          g[c * 9 + v] += filter[v][c];
        }
      }
    }
  }
}

namespace {

// Backward, per group of images, with g = grad_y masked by the fused relu:
//   dM = A g A^T per tile and filter         (adjoint of y = A^T M A)
//   dU[xi] [K, C] += dM[xi] [K, N] V[xi]^T [N, C], or its transpose
//     [C, K] when K fills the GEMM's column panels better than C
//   dV[xi] [C, N] = U[xi]^T [C, K] dM[xi] [K, N]
//   grad_x += B dV B^T per tile, overlapping tiles added in turn
//   grad_bias += the sums of g
// and after the last group grad_weight += G^T dU G per filter.
// g comes from ys and g_y, or from `pooled` when it is not null.
int64_t backward_from(const Conv3x3& s, const Weights& u, const float* xs, const float* ys,
                      const float* g_y, const PooledGradient* pooled, float* grad_x,
                      float* grad_w, float* grad_bias, int64_t first, int64_t last,
                      float* du_sum, bool overwrite_grad_x) {
  const Tiling t = tiling(s);
  const int64_t C = s.channels;
  const int64_t K = s.out_channels;
  Scratch grad_planes;  // g [K, 2 rows, 2 row_tiles], zero past Ho and Wo
  Scratch sums;         // [K]
  Scratch dm;           // [16, K, N]
  Scratch padded;       // x [Hp, width, C], then its gradient [C, Hp, width]
  Scratch v;            // V [16, N, C] (tile-major), then dV [16, C, N]
  Scratch own_du(grad_w != nullptr && du_sum == nullptr ? static_cast<size_t>(kPoints * K * C)
                                                        : 0,
                 0.0f);
  float* du = du_sum != nullptr ? du_sum : own_du.data();
  const bool du_transposed = transposed_du(s);  // du [16, C, K]
  std::vector<int64_t> plane_offsets;           // route_into_planes' table

  int64_t done = first;
  for_groups(t, first, last, [&](int64_t b0, const Group& g) {
    if (done != b0) {
      return;  // an earlier group met a non-finite gradient
    }
    const int64_t N = g.tiles;
    const int64_t grad_ld = 2 * g.row_tiles;          // row stride of g's planes
    const int64_t grad_plane = 2 * t.rows * grad_ld;  // [2 rows, 2 row_tiles]
    const int64_t dm_stride = point_stride(K * N);
    const int64_t v_stride = point_stride(C * N);
    grad_planes.resize(static_cast<size_t>(K * grad_plane));
    sums.resize(static_cast<size_t>(K));
    dm.resize(static_cast<size_t>(kPoints * dm_stride));

    // g into planes cut to whole tiles, then dM = A g A^T. Nothing is
    // accumulated until every g of the group is known to be finite.
    if (pooled != nullptr) {
      route_into_planes(s, t, g, *pooled, b0, grad_planes.data(), plane_offsets);
    } else {
      fill_gradient_planes(s, t, g, ys, g_y, b0, grad_planes.data());
    }
    bool finite = true;
    for (int64_t k = 0; k < K; ++k) {
      const float* plane = grad_planes.data() + k * grad_plane;
      for (int64_t r = 0; r < t.rows; ++r) {
        finite = kernels::winograd_output_gradient_tiles(g.row_tiles, plane + 2 * r * grad_ld,
                                                         grad_ld,
                                                         dm.data() + k * N + r * g.row_tiles,
                                                         dm_stride) &&
                 finite;
      }
    }
    if (!finite) {
      return;
    }

    if (grad_bias != nullptr) {
      // The planes are zero outside g, so whole planes sum to g's sums.
      kernels::row_sum(K, grad_plane, grad_planes.data(), sums.data());
      kernels::add(K, grad_bias, sums.data(), grad_bias);
    }

    const int64_t plane_size = t.padded_h * g.width;
    padded.resize(static_cast<size_t>(C * plane_size));
    v.resize(static_cast<size_t>(kPoints * v_stride));
    if (grad_w != nullptr) {
      // dU[xi] [K, C] += dM[xi] [K, N] V[xi] [N, C], with V tile-major here.
      // A channel-major V would cost the GEMM a transpose of 16 values per
      // tile as it packs, while transposing the pixels into channels-last
      // planes moves 4 values per tile.
      fill_padded_channels_last(s, t, g, xs, b0, padded.data());
      transform_inputs_channels_last(s, t, g, padded.data(), v.data());
      for (int64_t xi = 0; xi < kPoints; ++xi) {
        const float* dm_xi = dm.data() + xi * dm_stride;
        const float* v_xi = v.data() + xi * v_stride;
        float* du_xi = du + xi * K * C;
        if (du_transposed) {
          kernels::gemm(Transpose::Yes, Transpose::Yes, C, K, N, 1.0f, v_xi, C, dm_xi, N, 1.0f,
                        du_xi, K);
        } else {
          kernels::gemm(Transpose::No, Transpose::No, K, C, N, 1.0f, dm_xi, N, v_xi, C, 1.0f,
                        du_xi, C);
        }
      }
    }

    if (grad_x != nullptr) {
      // dV[xi] [C, N] = U[xi]^T [C, K] dM[xi] [K, N], in v's buffer. U^T
      // is stored too, so the GEMM reads it in place. Packing it from U,
      // a transposing copy per GEMM and group, cost model B about 1% of its
      // step on 32 x 18 images.
      const float* u_t = u.data() + kPoints * K * C;
      for (int64_t xi = 0; xi < kPoints; ++xi) {
        kernels::gemm(Transpose::No, Transpose::No, C, N, K, 1.0f, u_t + xi * C * K, K,
                      dm.data() + xi * dm_stride, N, 0.0f, v.data() + xi * v_stride, N);
      }

      // The padded planes' gradient += B dV B^T per tile. Each image's
      // inside is its grad_x, and the columns between images are dropped.
      std::fill(padded.begin(), padded.end(), 0.0f);
      for (int64_t c = 0; c < C; ++c) {
        float* plane = padded.data() + c * plane_size;
        for (int64_t r = 0; r < t.rows; ++r) {
          kernels::winograd_input_gradient_tiles(g.row_tiles, v.data() + c * N + r * g.row_tiles,
                                                 v_stride, plane + 2 * r * g.width, g.width);
        }
        for (int64_t j = 0; j < g.images; ++j) {
          float* target = grad_x + ((b0 + j) * C + c) * s.height * s.width;
          const float* inside = plane + s.pad_h * g.width + j * t.pitch + s.pad_w;
          for (int64_t h = 0; h < s.height; ++h) {
            float* row = target + h * s.width;
            if (overwrite_grad_x) {
              copy_row(s.width, inside + h * g.width, row);
            } else {
              add_row(s.width, inside + h * g.width, row);
            }
          }
        }
      }
    }
    done = b0 + g.images;
  });

  if (grad_w != nullptr && du_sum == nullptr) {
    add_weight_gradient(s, du, grad_w);
  }
  return done;
}

}  // namespace

int64_t backward(const Conv3x3& s, const Weights& u, const float* xs, const float* ys,
                 const float* g_y, float* grad_x, float* grad_w, float* grad_bias, int64_t first,
                 int64_t last, float* du_sum, bool overwrite_grad_x) {
  return backward_from(s, u, xs, ys, g_y, nullptr, grad_x, grad_w, grad_bias, first, last,
                       du_sum, overwrite_grad_x);
}

int64_t backward_pooled(const Conv3x3& s, const Weights& u, const float* xs,
                        const PooledGradient& grad, float* grad_x, float* grad_w,
                        float* grad_bias, int64_t first, int64_t last, float* du_sum,
                        bool overwrite_grad_x) {
  if (s.relu) {
    throw std::logic_error(
        "winograd::backward_pooled: the routing applies the relu's mask, so the sizes must "
        "have relu off");
  }
  return backward_from(s, u, xs, nullptr, nullptr, &grad, grad_x, grad_w, grad_bias, first,
                       last, du_sum, overwrite_grad_x);
}

}  // namespace ember::winograd
