// The Winograd F(2x2, 3x3) tile kernels: one tile against a direct 3x3
// correlation worked by hand, the adjoint identities behind the backward,
// and every SIMD variant against the scalar reference, bit for bit.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/winograd.h"
#include "kernel_test_util.h"

using namespace ember::kernels;
using namespace ember::kernels::testing;

namespace {

// G g G^T for a 3x3 filter g, with G from winograd.h.
void filter_transform(const float (&g)[3][3], float (&u)[4][4]) {
  const float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      float total = 0.0f;
      for (int p = 0; p < 3; ++p) {
        for (int q = 0; q < 3; ++q) {
          total += G[i][p] * g[p][q] * G[j][q];
        }
      }
      u[i][j] = total;
    }
  }
}

// A buffer of exactly n floats starting one float into its heap block, so
// pointers are unaligned and AddressSanitizer reports any read past the end.
struct Exact {
  std::vector<float> storage;
  explicit Exact(int64_t n, float fill = 0.0f) : storage(static_cast<size_t>(n) + 1, fill) {}
  float* data() { return storage.data() + 1; }
  float& operator[](int64_t i) { return storage[static_cast<size_t>(i) + 1]; }
};

Exact random_exact(int64_t n, uint32_t seed) {
  const Buffer values = random_buffer(n, seed, -2.0f, 2.0f);
  Exact exact(n);
  for (int64_t i = 0; i < n; ++i) {
    exact[i] = values[i];
  }
  return exact;
}

int64_t first_difference(Exact& got, Exact& want, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (bits_of(got[i]) != bits_of(want[i])) {
      return i;
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("Winograd tile equals a direct 3x3 correlation", "[kernels][winograd]") {
  // One 4x4 tile of 1..16 and a filter with a single 1 at (p, q): output
  // (i, j) must be the tile's pixel (i + p, j + q). Then a full filter,
  // against the sum worked out in the loop below.
  float d[16];
  for (int i = 0; i < 16; ++i) {
    d[i] = static_cast<float>(i + 1);
  }
  const auto run = [&](const float (&g)[3][3], float (&y)[2][2]) {
    float v[16];
    winograd_input_tiles(1, d, 4, v, 1);
    float u[4][4];
    filter_transform(g, u);
    float m[16];
    for (int xi = 0; xi < 16; ++xi) {
      m[xi] = u[xi / 4][xi % 4] * v[xi];
    }
    float out[2][2];
    CHECK(winograd_output_tiles(1, m, 1, 0.0f, /*relu=*/false, &out[0][0], 2, 2, 2));
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        y[i][j] = out[i][j];
      }
    }
  };

  SECTION("a one-hot filter picks shifted pixels") {
    for (int p = 0; p < 3; ++p) {
      for (int q = 0; q < 3; ++q) {
        float g[3][3] = {};
        g[p][q] = 1.0f;
        float y[2][2];
        run(g, y);
        for (int i = 0; i < 2; ++i) {
          for (int j = 0; j < 2; ++j) {
            INFO("filter (" << p << ", " << q << "), output (" << i << ", " << j << ")");
            CHECK(y[i][j] == Approx(d[(i + p) * 4 + j + q]).margin(1e-5));
          }
        }
      }
    }
  }
  SECTION("a full filter") {
    const float g[3][3] = {{1, -2, 0.5f}, {3, 0, -1}, {0.25f, 2, -3}};
    float y[2][2];
    run(g, y);
    // y(0, 0) = 1 - 4 + 1.5 + 15 + 0 - 7 + 2.25 + 20 - 33 = -4.25. A step
    // right adds 1 to every pixel, so the filter sum 0.75 to y; a step down
    // adds 4 to every pixel, so 3.
    CHECK(y[0][0] == Approx(-4.25f));
    CHECK(y[0][1] == Approx(-3.5f));
    CHECK(y[1][0] == Approx(-1.25f));
    CHECK(y[1][1] == Approx(-0.5f));
  }
}

TEST_CASE("Winograd gradient kernels are the adjoints of the transforms",
          "[kernels][winograd]") {
  // <T x, y> = <x, T^T y> for the input transform (x a 4x4 tile, y 16
  // transformed values) and for the output transform (x 16 values, y 2x2).
  const Buffer d = random_buffer(16, 3, -1.0f, 1.0f);
  const Buffer dv = random_buffer(16, 4, -1.0f, 1.0f);
  float v[16];
  winograd_input_tiles(1, d.data(), 4, v, 1);
  float dd[4][4] = {};  // the kernel's row is 2 tiles + 2 = 4 floats wide
  winograd_input_gradient_tiles(1, dv.data(), 1, &dd[0][0], 4);
  double forward_side = 0.0;
  double adjoint_side = 0.0;
  for (int i = 0; i < 16; ++i) {
    forward_side += static_cast<double>(v[i]) * dv[i];
    adjoint_side += static_cast<double>(d[i]) * dd[i / 4][i % 4];
  }
  CHECK(forward_side == Approx(adjoint_side).epsilon(1e-5));

  const Buffer m = random_buffer(16, 5, -1.0f, 1.0f);
  const Buffer dy = random_buffer(4, 6, -1.0f, 1.0f);
  float y[4];
  CHECK(winograd_output_tiles(1, m.data(), 1, 0.0f, /*relu=*/false, y, 2, 2, 2));
  float dm[16];
  CHECK(winograd_output_gradient_tiles(1, dy.data(), 2, dm, 1));
  forward_side = 0.0;
  adjoint_side = 0.0;
  for (int i = 0; i < 4; ++i) {
    forward_side += static_cast<double>(y[i]) * dy[i];
  }
  for (int i = 0; i < 16; ++i) {
    adjoint_side += static_cast<double>(m[i]) * dm[i];
  }
  CHECK(forward_side == Approx(adjoint_side).epsilon(1e-5));
}

TEST_CASE("Winograd tile kernels match the reference", "[kernels][winograd]") {
  // Rows of awkward tile counts, in buffers of exactly the floats each call
  // may touch. Outputs start from the same random values, so a write past
  // the documented columns or rows shows up as a difference. The cases are
  // plain blocks, because a SECTION inside a loop would run for the first
  // tile count only.
  constexpr int64_t kPointLd = 1100;  // more than the most tiles, so rows never overlap
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (Isa isa : simd_isas()) {
    const KernelTable& simd = kernel_table(isa);
    const KernelTable& scalar = kernel_table(Isa::scalar);
    for (int64_t tiles : awkward_lengths(lanes_of(isa))) {
      tiles = std::min<int64_t>(tiles, 997);  // the large length, still with a ragged tail
      const int64_t row_ld = 2 * tiles + 2;
      INFO(isa_name(isa) << ", " << tiles << " tiles");

      {  // input transform
        Exact in = random_exact(4 * row_ld, 10);
        Exact got = random_exact(16 * kPointLd, 11);
        Exact want = got;
        simd.winograd_input_tiles(tiles, in.data(), row_ld, got.data(), kPointLd);
        scalar.winograd_input_tiles(tiles, in.data(), row_ld, want.data(), kPointLd);
        CHECK(first_difference(got, want, 16 * kPointLd) == -1);
      }

      {  // output transform, bias, relu and the finite flag
        Exact m = random_exact(16 * kPointLd, 12);
        for (const bool relu : {false, true}) {
          for (const int64_t rows : {1, 2}) {
            for (const int64_t width : {2 * tiles - 1, 2 * tiles}) {
              if (width < 0) {
                continue;
              }
              INFO("relu " << relu << ", " << rows << " rows, width " << width);
              Exact got = random_exact(2 * width + 1, 13);
              Exact want = got;
              const bool got_finite = simd.winograd_output_tiles(
                  tiles, m.data(), kPointLd, 0.5f, relu, got.data(), width + 1, rows, width);
              const bool want_finite = scalar.winograd_output_tiles(
                  tiles, m.data(), kPointLd, 0.5f, relu, want.data(), width + 1, rows, width);
              CHECK(got_finite == want_finite);
              CHECK(first_difference(got, want, 2 * width + 1) == -1);
            }
          }
        }
        if (tiles > 0) {
          for (const float special : {nan, inf}) {
            m[15 * kPointLd + tiles - 1] = special;  // the last tile's M[15]
            Exact out(2 * 2 * tiles);
            CHECK_FALSE(simd.winograd_output_tiles(tiles, m.data(), kPointLd, 0.0f, true,
                                                   out.data(), 2 * tiles, 2, 2 * tiles));
          }
        }
      }

      {  // output gradient transform and the finite flag
        Exact grad = random_exact(2 * 2 * tiles, 14);
        Exact got = random_exact(16 * kPointLd, 15);
        Exact want = got;
        CHECK(simd.winograd_output_gradient_tiles(tiles, grad.data(), 2 * tiles, got.data(),
                                                  kPointLd));
        CHECK(scalar.winograd_output_gradient_tiles(tiles, grad.data(), 2 * tiles, want.data(),
                                                    kPointLd));
        CHECK(first_difference(got, want, 16 * kPointLd) == -1);
        if (tiles > 0) {
          grad[4 * tiles - 1] = inf;  // the last tile's dy(1, 1)
          CHECK_FALSE(simd.winograd_output_gradient_tiles(tiles, grad.data(), 2 * tiles,
                                                          got.data(), kPointLd));
        }
      }

      {  // input gradient transform, overlapping tiles
        Exact dv = random_exact(16 * kPointLd, 16);
        Exact got = random_exact(4 * row_ld, 17);
        Exact want = got;
        simd.winograd_input_gradient_tiles(tiles, dv.data(), kPointLd, got.data(), row_ld);
        scalar.winograd_input_gradient_tiles(tiles, dv.data(), kPointLd, want.data(), row_ld);
        CHECK(first_difference(got, want, 4 * row_ld) == -1);
      }
    }
  }
}

TEST_CASE("Winograd channels-last input tiles match", "[kernels][winograd]") {
  // Every variant against the scalar reference at awkward channel counts,
  // and the reference against winograd_input_tiles on each channel's plane:
  // the two layouts must give the same bits. Outputs start from random
  // values, so a write past the documented points shows up.
  const int64_t tiles = 5;
  const int64_t row_pixels = 2 * tiles + 2;
  for (Isa isa : simd_isas()) {
    const KernelTable& simd = kernel_table(isa);
    const KernelTable& scalar = kernel_table(Isa::scalar);
    for (const int64_t channels : awkward_lengths(lanes_of(isa))) {
      INFO(isa_name(isa) << ", " << channels << " channels");
      const int64_t row_ld = row_pixels * channels;
      const int64_t point_ld = tiles * channels + 3;
      Exact in = random_exact(4 * row_ld, 20);
      Exact got = random_exact(16 * point_ld, 21);
      Exact want = got;
      simd.winograd_input_tiles_channels_last(tiles, channels, in.data(), row_ld, got.data(),
                                              point_ld);
      scalar.winograd_input_tiles_channels_last(tiles, channels, in.data(), row_ld,
                                                want.data(), point_ld);
      CHECK(first_difference(got, want, 16 * point_ld) == -1);

      for (int64_t c = 0; c < std::min<int64_t>(channels, 3); ++c) {
        INFO("channel " << c);
        Exact plane(4 * row_pixels);
        for (int64_t p = 0; p < 4 * row_pixels; ++p) {
          plane[p] = in[p * channels + c];
        }
        Exact planar(16 * tiles);
        scalar.winograd_input_tiles(tiles, plane.data(), row_pixels, planar.data(), tiles);
        int64_t mismatches = 0;
        for (int64_t xi = 0; xi < 16; ++xi) {
          for (int64_t t = 0; t < tiles; ++t) {
            const float channels_last = want[xi * point_ld + t * channels + c];
            mismatches += bits_of(channels_last) != bits_of(planar[xi * tiles + t]) ? 1 : 0;
          }
        }
        CHECK(mismatches == 0);
      }
    }
  }
}

TEST_CASE("Winograd finite flags cover every computed value", "[kernels][winograd]") {
  // The conv driver leaves the Winograd path when a flag is false, and its
  // backward reuses the forward's transforms. So the output flag must also
  // see the row of outputs that rows = 1 leaves unwritten: M[12 .. 15] reach
  // only that row. And the gradient flag must see a dM that overflows
  // although every dy is finite.
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<Isa> isas = simd_isas();
  isas.push_back(Isa::scalar);
  for (Isa isa : isas) {
    const KernelTable& table = kernel_table(isa);
    for (int64_t tiles : {int64_t{1}, lanes_of(isa) - 1, lanes_of(isa) + 1}) {
      if (tiles < 1) {
        continue;
      }
      INFO(isa_name(isa) << ", " << tiles << " tiles");

      for (int xi = 12; xi < 16; ++xi) {
        INFO("M[" << xi << "] of the last tile is infinite, one output row");
        std::vector<float> m(static_cast<size_t>(16 * tiles), 0.5f);
        m[static_cast<size_t>(xi * tiles + tiles - 1)] = inf;
        std::vector<float> out(static_cast<size_t>(2 * tiles));
        CHECK_FALSE(table.winograd_output_tiles(tiles, m.data(), tiles, 0.0f, /*relu=*/false,
                                                out.data(), 2 * tiles, /*rows=*/1, 2 * tiles));
      }

      {
        // dy(0, 0) = 2e38 and dy(0, 1) = -2e38: dM(0, 2) = dy(0, 0) - dy(0, 1) = 4e38
        // overflows to inf.
        std::vector<float> grad(static_cast<size_t>(4 * tiles), 1.0f);
        grad[static_cast<size_t>(2 * tiles - 2)] = 2e38f;
        grad[static_cast<size_t>(2 * tiles - 1)] = -2e38f;
        std::vector<float> dm(static_cast<size_t>(16 * tiles));
        CHECK_FALSE(table.winograd_output_gradient_tiles(tiles, grad.data(), 2 * tiles,
                                                         dm.data(), tiles));
        CHECK(std::isinf(dm[static_cast<size_t>(2 * tiles + tiles - 1)]));  // dM[2]
      }
    }
  }
}
