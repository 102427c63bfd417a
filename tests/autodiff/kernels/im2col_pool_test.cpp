// Tests of im2col, col2im and max pooling: hand-computed cases, the adjoint
// identity between im2col and col2im, and argument errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "autodiff/kernels/im2col.h"
#include "autodiff/kernels/pool.h"
#include "kernel_test_util.h"

using namespace ember::kernels;
using namespace ember::kernels::testing;

TEST_CASE("im2col 3x3 image by hand", "[kernels][im2col]") {
  // Image [1, 3, 3] = 1..9, kernel [2, 2], stride 1: OH = OW = 2.
  const float image[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const Conv2dGeometry g{/*channels=*/1, /*height=*/3, /*width=*/3, /*kernel_h=*/2,
                         /*kernel_w=*/2};
  float columns[16];
  im2col(g, image, columns);

  // Row (i, j) lists pixel (oh + i, ow + j) for the 4 windows.
  const float expected[16] = {1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9};
  for (int k = 0; k < 16; ++k) {
    INFO("column entry " << k);
    CHECK(columns[k] == expected[k]);
  }
}

TEST_CASE("im2col pads with zeros", "[kernels][im2col]") {
  // Image [1, 2, 2], kernel [3, 3], padding 1: one window centred on each pixel.
  const float image[4] = {1, 2, 3, 4};
  const Conv2dGeometry g{1, 2, 2, 3, 3, 1, 1, 1, 1};
  REQUIRE(g.out_h() == 2);
  std::vector<float> columns(9 * 4);
  im2col(g, image, columns.data());

  // Kernel position (0, 0) reads pixel (oh - 1, ow - 1), inside the image only for window (1, 1).
  CHECK(columns[0] == 0.0f);
  CHECK(columns[3] == 1.0f);
  // The centre position (1, 1) reads the image itself.
  CHECK(columns[4 * 4 + 0] == 1.0f);
  CHECK(columns[4 * 4 + 3] == 4.0f);
}

TEST_CASE("col2im is the adjoint of im2col", "[kernels][im2col]") {
  // <im2col(x), y> = <x, col2im(y)> for any x, y, with stride and padding.
  const Conv2dGeometry g{2, 7, 9, 3, 4, 2, 3, 1, 2};
  const int64_t pixels = g.channels * g.height * g.width;
  const int64_t entries = g.channels * g.kernel_h * g.kernel_w * g.out_h() * g.out_w();
  const Buffer x = random_buffer(pixels, 51, -1.0f, 1.0f);
  const Buffer y = random_buffer(entries, 52, -1.0f, 1.0f);

  Buffer columns(entries);
  im2col(g, x.data(), columns.data());
  Buffer back(pixels);
  for (int64_t i = 0; i < pixels; ++i) back[i] = 0.0f;
  col2im(g, y.data(), back.data());

  double lhs = 0.0;
  for (int64_t i = 0; i < entries; ++i) lhs += static_cast<double>(columns[i]) * y[i];
  double rhs = 0.0;
  for (int64_t i = 0; i < pixels; ++i) rhs += static_cast<double>(x[i]) * back[i];
  CHECK(lhs == Approx(rhs).epsilon(1e-5));
}

TEST_CASE("im2col rejects bad geometry", "[kernels][im2col]") {
  float buffer[64] = {};
  CHECK_THROWS_WITH(im2col({1, 2, 2, 3, 3}, buffer, buffer),
                    Catch::Contains("kernel [3, 3] is larger than the image [2, 2]"));
  CHECK_THROWS_WITH(im2col({1, 4, 4, 2, 2, 0, 1}, buffer, buffer),
                    Catch::Contains("stride [0, 1]"));
}

TEST_CASE("max pool 4x4 by hand", "[kernels][pool]") {
  // Plane [4, 4], window [2, 2], stride 2: four windows.
  const float input[16] = {1, 5, 2, 0,  //
                           3, 4, 8, 8,  //
                           0, 0, 7, 6,  //
                           9, 0, 6, 7};
  const Conv2dGeometry g{1, 4, 4, 2, 2, 2, 2};
  float output[4];
  int32_t argmax[4];
  max_pool2d(g, input, output, argmax);

  CHECK(output[0] == 5.0f);
  CHECK(argmax[0] == 1);
  CHECK(output[1] == 8.0f);
  CHECK(argmax[1] == 6);  // the first of the tied 8s
  CHECK(output[2] == 9.0f);
  CHECK(argmax[2] == 12);
  CHECK(output[3] == 7.0f);
  CHECK(argmax[3] == 10);

  SECTION("backward routes to the argmax, adding or overwriting") {
    // The window maxima sit at 1, 6, 12 and 10; pixel 7 (the second tied 8)
    // and pixel 0 get nothing. Accumulating starts from ones, overwriting
    // from NaN, which must not survive anywhere.
    const float grad_output[4] = {1, 2, 3, 4};
    const int64_t checked[6] = {1, 6, 7, 12, 10, 0};
    const float routed[6] = {1, 2, 0, 3, 4, 0};
    for (const bool overwrite : {false, true}) {
      INFO((overwrite ? "overwriting" : "accumulating"));
      const float start = overwrite ? std::nanf("") : 1.0f;
      float grad_input[16];
      for (float& value : grad_input) value = start;
      if (overwrite) {
        max_pool2d_backward_overwrite(g, grad_output, argmax, grad_input);
      } else {
        max_pool2d_backward(g, grad_output, argmax, grad_input);
      }

      for (int n = 0; n < 6; ++n) {
        const float want = overwrite ? routed[n] : 1.0f + routed[n];
        CHECK(grad_input[checked[n]] == want);
      }
    }
  }
}

TEST_CASE("max pool propagates NaN and ignores padding", "[kernels][pool]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float input[4] = {-1, nan, -3, -4};

  SECTION("NaN wins its window") {
    const Conv2dGeometry g{1, 2, 2, 2, 2, 2, 2};
    float output[1];
    int32_t argmax[1];
    max_pool2d(g, input, output, argmax);
    CHECK(std::isnan(output[0]));
    CHECK(argmax[0] == 1);
  }

  SECTION("padding never wins over negative pixels") {
    const float negative[4] = {-1, -2, -3, -4};
    const Conv2dGeometry g{1, 2, 2, 2, 2, 1, 1, 1, 1};
    float output[9];
    int32_t argmax[9];
    max_pool2d(g, negative, output, argmax);
    CHECK(output[0] == -1.0f);
    CHECK(output[8] == -4.0f);
    CHECK(argmax[8] == 3);
  }

  SECTION("padding over half the window is rejected") {
    float output[9];
    int32_t argmax[9];
    CHECK_THROWS_WITH(max_pool2d({1, 2, 2, 2, 2, 1, 1, 2, 0}, input, output, argmax),
                      Catch::Contains("padding [2, 0] must be at most half"));
  }
}

TEST_CASE("im2col and col2im with a row stride", "[kernels][im2col]") {
  // With ld > OH OW, each row contains the same values as with ld = 0 and the
  // floats past OH OW are left alone; col2im reads only the first OH OW.
  const Conv2dGeometry g{/*channels=*/2, /*height=*/5, /*width=*/6, /*kernel_h=*/3,
                         /*kernel_w=*/2, /*stride_h=*/2, /*stride_w=*/3, /*pad_h=*/1,
                         /*pad_w=*/1};
  const int64_t rows = 2 * 3 * 2;
  const int64_t positions = g.out_h() * g.out_w();
  const int64_t ld = positions + 5;
  const Buffer image = random_buffer(2 * 5 * 6, 61, -1.0f, 1.0f);

  Buffer packed(rows * positions);
  im2col(g, image.data(), packed.data());
  Buffer strided(rows * ld);
  const float sentinel = 1234.5f;
  for (int64_t i = 0; i < strided.size(); ++i) {
    strided[i] = sentinel;
  }
  im2col(g, image.data(), strided.data(), ld);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < ld; ++k) {
      INFO("row " << r << ", column " << k);
      const float expected = k < positions ? packed[r * positions + k] : sentinel;
      CHECK(strided[r * ld + k] == expected);
    }
  }

  Buffer from_packed(2 * 5 * 6);
  Buffer from_strided(2 * 5 * 6);
  for (int64_t i = 0; i < from_packed.size(); ++i) {
    from_packed[i] = 0.0f;
    from_strided[i] = 0.0f;
  }
  col2im(g, packed.data(), from_packed.data());
  col2im(g, strided.data(), from_strided.data(), ld);
  CHECK(first_bit_difference(from_strided, from_packed, from_packed.size()) == -1);
}

TEST_CASE("max pool NaN and ties on both paths", "[kernels][pool]") {
  // A 4x4 plane pooled by 2x2 windows takes the inside path; the same plane
  // with ceil mode and 3x3 windows takes the general one.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float plane[16] = {nan, 5,    2, 2,  //
                           9,   nan,  2, 2,  //
                           -inf, -inf, 3, nan,  //
                           -inf, -inf, 4, 1};
  SECTION("windows inside: first NaN, first tie, all -inf") {
    const Conv2dGeometry g{1, 4, 4, 2, 2, 2, 2};
    float output[4];
    int32_t argmax[4];
    max_pool2d(g, plane, output, argmax);
    CHECK(std::isnan(output[0]));
    CHECK(argmax[0] == 0);
    CHECK(output[1] == 2.0f);
    CHECK(argmax[1] == 2);
    CHECK(output[2] == -inf);
    CHECK(argmax[2] == 8);
    CHECK(std::isnan(output[3]));
    CHECK(argmax[3] == 11);
  }
  SECTION("ceil mode, partial windows") {
    // 3x3 windows, stride 3: OH = OW = 2 with ceil mode, the last ones 1 wide.
    Conv2dGeometry g{1, 4, 4, 3, 3, 3, 3};
    g.fixed_out_h = 2;
    g.fixed_out_w = 2;
    float output[4];
    int32_t argmax[4];
    max_pool2d(g, plane, output, argmax);
    CHECK(std::isnan(output[0]));
    CHECK(argmax[0] == 0);
    CHECK(std::isnan(output[1]));  // column 3: {2, 2, NaN}
    CHECK(argmax[1] == 11);
    CHECK(output[2] == 4.0f);  // row 3: {-inf, -inf, 4}
    CHECK(argmax[2] == 14);
    CHECK(output[3] == 1.0f);
    CHECK(argmax[3] == 15);
  }
}

namespace {

// The geometry of one max-pool row call (see KernelTable::max_pool_row).
struct PoolRow {
  int64_t width, kernel_h, kernel_w, stride, out_w, readable, first_index;
};

// Runs isa's max_pool_row and the scalar reference on the same rows, and
// checks that they give the same bits and the same argmax.
void check_max_pool_row(Isa isa, const float* rows, const PoolRow& r) {
  Buffer got(r.out_w);
  Buffer want(r.out_w);
  std::vector<int32_t> got_index(static_cast<size_t>(r.out_w), -1);
  std::vector<int32_t> want_index(static_cast<size_t>(r.out_w), -1);
  kernel_table(isa).max_pool_row(rows, r.width, r.kernel_h, r.kernel_w, r.stride, r.out_w,
                                 r.readable, r.first_index, got.data(), got_index.data());
  kernel_table(Isa::scalar).max_pool_row(rows, r.width, r.kernel_h, r.kernel_w, r.stride, r.out_w,
                                         r.readable, r.first_index, want.data(),
                                         want_index.data());
  CHECK(first_bit_difference(got, want, r.out_w) == -1);
  CHECK(got_index == want_index);
}

}  // namespace

TEST_CASE("max pool row kernels match reference", "[kernels][pool]") {
  // Values from a few levels, so ties are common, with some NaN. Each case
  // is {kernel_h, kernel_w, stride}; widths leave vector and scalar windows.
  const int64_t cases[][3] = {{2, 2, 2}, {2, 3, 3}, {2, 1, 1}, {3, 3, 1}, {1, 2, 2},
                              {3, 2, 3}, {2, 4, 4}, {1, 1, 3}};
  for (Isa isa : simd_isas()) {
    for (const auto& c : cases) {
      const int64_t kernel_h = c[0];
      const int64_t kernel_w = c[1];
      const int64_t stride = c[2];
      for (int64_t out_w : {1, 7, 8, 9, 17, 40, 45}) {
        // Extra readable floats past the rows let the last partial block run
        // as a shifted full block; without them the scalar loop ends the row.
        for (int64_t extra : {0, 8}) {
          const int64_t width = (out_w - 1) * stride + kernel_w + out_w % 3;
          const int64_t readable = kernel_h * width + extra;
          Buffer rows(readable);
          const Buffer noise = random_buffer(readable, 21, 0.0f, 1.0f);
          for (int64_t i = 0; i < readable; ++i) {
            rows[i] = noise[i] < 0.03f ? std::nanf("") : std::floor(noise[i] * 4.0f) - 1.0f;
          }
          INFO(isa_name(isa) << ", window " << kernel_h << "x" << kernel_w << ", stride " << stride
                             << ", " << out_w << " windows, " << extra << " extra");
          check_max_pool_row(isa, rows.data(),
                             {width, kernel_h, kernel_w, stride, out_w, readable, 100});
        }
      }
    }
  }
}

TEST_CASE("max pool row reads only readable floats", "[kernels][pool]") {
  // The rows sit in a heap block of exactly `readable` floats, the least
  // the windows need, so under AddressSanitizer a vector load or a shifted
  // last block that reads one float too far fails. Buffer's slack past its
  // end would hide that.
  for (Isa isa : simd_isas()) {
    for (int64_t stride = 1; stride <= 4; ++stride) {
      for (int64_t kernel_h = 1; kernel_h <= 3; ++kernel_h) {
        for (int64_t kernel_w = 1; kernel_w <= 4; ++kernel_w) {
          for (int64_t out_w = 1; out_w <= 2 * lanes_of(isa) + 3; ++out_w) {
            const int64_t width = (out_w - 1) * stride + kernel_w;
            const int64_t readable = (kernel_h - 1) * width + width;
            std::vector<float> rows(static_cast<size_t>(readable));
            for (int64_t i = 0; i < readable; ++i) {
              rows[static_cast<size_t>(i)] = static_cast<float>((i * 7) % 5);
            }
            INFO(isa_name(isa) << ", window " << kernel_h << "x" << kernel_w << ", stride "
                               << stride << ", " << out_w << " windows");
            check_max_pool_row(isa, rows.data(),
                               {width, kernel_h, kernel_w, stride, out_w, readable, 0});
          }
        }
      }
    }
  }
}

TEST_CASE("max pool row reference by hand", "[kernels][pool]") {
  // Two rows of width 5, windows 2x2 at stride 2: {1, 3 | 3, 0} ties at 3,
  // and the first in row-major order (row 0) wins; {2, NaN | 9, 9} takes NaN.
  const float rows[10] = {1, 3, 2, std::nanf(""), 0, 3, 0, 9, 9, 0};
  float out[2];
  int32_t argmax[2];
  kernel_table(Isa::scalar).max_pool_row(rows, 5, 2, 2, 2, 2, 10, 10, out, argmax);
  CHECK(out[0] == 3.0f);
  CHECK(argmax[0] == 11);
  CHECK(std::isnan(out[1]));
  CHECK(argmax[1] == 13);
}

TEST_CASE("max pool windows kernels match reference", "[kernels][pool]") {
  // A plane of a few levels with some NaN, so that ties and NaN both occur.
  // The windows are those of (2, 3), (2, 1) and (3, 3) pools, listed as
  // pool.cpp does, in counts below, at and above a vector's lanes.
  const int64_t height = 16;
  const int64_t width = 9;
  Buffer plane(height * width);
  const Buffer noise = random_buffer(height * width, 23, 0.0f, 1.0f);
  for (int64_t i = 0; i < height * width; ++i) {
    plane[i] = noise[i] < 0.04f ? std::nanf("") : std::floor(noise[i] * 3.0f);
  }
  const KernelTable& reference = kernel_table(Isa::scalar);
  const int64_t shapes[][4] = {{2, 3, 2, 3}, {2, 1, 2, 1}, {3, 3, 1, 2}};
  for (Isa isa : simd_isas()) {
    for (const auto& shape : shapes) {
      const int64_t kernel_h = shape[0];
      const int64_t kernel_w = shape[1];
      const int64_t stride_h = shape[2];
      const int64_t stride_w = shape[3];
      std::vector<int32_t> bases;
      for (int64_t oh = 0; (oh * stride_h + kernel_h) <= height; ++oh) {
        for (int64_t ow = 0; (ow * stride_w + kernel_w) <= width; ++ow) {
          bases.push_back(static_cast<int32_t>(oh * stride_h * width + ow * stride_w));
        }
      }
      for (int64_t count : {int64_t{1}, int64_t{7}, int64_t{8}, int64_t{9}, int64_t{17},
                            static_cast<int64_t>(bases.size())}) {
        Buffer got(count);
        Buffer want(count);
        std::vector<int32_t> got_index(static_cast<size_t>(count), -1);
        std::vector<int32_t> want_index(static_cast<size_t>(count), -1);
        kernel_table(isa).max_pool_windows(plane.data(), width, kernel_h, kernel_w, count,
                                           bases.data(), got.data(), got_index.data());
        reference.max_pool_windows(plane.data(), width, kernel_h, kernel_w, count, bases.data(),
                                   want.data(), want_index.data());
        INFO(isa_name(isa) << ", window " << kernel_h << "x" << kernel_w << ", " << count
                           << " windows");
        CHECK(first_bit_difference(got, want, count) == -1);
        CHECK(got_index == want_index);
      }
    }
  }
}
