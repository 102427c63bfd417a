// Tests of conv2d, max_pool2d and avg_pool2d: hand-computed values, output
// sizes (padding, stride, ceil mode), error messages, and gradient checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "autodiff/autodiff.h"
#include "autodiff/kernels/threads.h"
#include "autodiff/ops_conv.h"

using namespace ember;

namespace {

// x [1, 1, 3, 3] containing 1 .. 9 row by row.
Tensor one_to_nine() { return reshape(arange(1.0f, 10.0f, 1.0f), {1, 1, 3, 3}); }

void require_values(const Tensor& actual, const std::vector<float>& expected) {
  const std::vector<float> values = actual.to_vector();
  REQUIRE(values.size() == expected.size());
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("element " << i);
    CHECK(values[i] == Approx(expected[i]).margin(1e-6));
  }
}

}  // namespace

TEST_CASE("conv2d output size rule", "[autodiff][conv2d]") {
  SECTION("floor((input + 2 padding - kernel) / stride) + 1") {
    CHECK(conv_output_size(28, 5, 1, 2, "conv2d", "height") == 28);
    CHECK(conv_output_size(5, 3, 2, 1, "conv2d", "height") == 3);
    CHECK(conv_output_size(6, 3, 2, 0, "conv2d", "width") == 2);
  }
  SECTION("input smaller than the kernel names both sizes") {
    CHECK_THROWS_WITH(conv_output_size(3, 4, 1, 0, "conv2d", "height"),
                      Catch::Contains("height 3") && Catch::Contains("kernel height 4"));
  }
}

TEST_CASE("conv2d values", "[autodiff][conv2d]") {
  SECTION("2x2 kernel, no padding, with bias") {
    // y[i, j] = x[i, j] - x[i + 1, j + 1] + 0.5 = -4 + 0.5 everywhere.
    Tensor weight = from_vector({1, 0, 0, -1}, {1, 1, 2, 2});
    Tensor y = conv2d(one_to_nine(), weight, from_vector({0.5f}, {1}));
    REQUIRE(y.shape() == Shape{1, 1, 2, 2});
    require_values(y, {-3.5f, -3.5f, -3.5f, -3.5f});
  }
  SECTION("3x3 ones, padding 1, stride 2") {
    // Each output sums the 2x2 corner of x that its window overlaps.
    Tensor y = conv2d(one_to_nine(), ones({1, 1, 3, 3}), Tensor(), {{2, 2}, {1, 1}});
    REQUIRE(y.shape() == Shape{1, 1, 2, 2});
    require_values(y, {1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9});
  }
  SECTION("1x1 kernel mixes channels") {
    Tensor x = from_vector({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2});
    Tensor weight = from_vector({1, 1, 2, -1}, {2, 2, 1, 1});
    Tensor y = conv2d(x, weight);
    require_values(y, {11, 22, 33, 44, -8, -16, -24, -32});
  }
  SECTION("non-square kernel and stride") {
    // Kernel 1x2 of ones with stride {1, 2}: sums of horizontal pairs.
    Tensor x = reshape(arange(8), {1, 1, 2, 4});
    Tensor y = conv2d(x, ones({1, 1, 1, 2}), Tensor(), {{1, 2}, {0, 0}});
    REQUIRE(y.shape() == Shape{1, 1, 2, 2});
    require_values(y, {0 + 1, 2 + 3, 4 + 5, 6 + 7});
  }
}

TEST_CASE("conv2d rejects bad shapes", "[autodiff][conv2d]") {
  SECTION("input narrower than the kernel") {
    CHECK_THROWS_WITH(conv2d(zeros({1, 1, 8, 3}), zeros({1, 1, 4, 8})),
                      Catch::Contains("width 3") && Catch::Contains("kernel width 8"));
  }
  SECTION("channel mismatch") {
    CHECK_THROWS_WITH(conv2d(zeros({1, 2, 4, 4}), zeros({1, 3, 2, 2})),
                      Catch::Contains("[1, 3, 2, 2]") && Catch::Contains("[C_out, 2, KH, KW]"));
  }
  SECTION("input that is not 4-D") {
    CHECK_THROWS_WITH(conv2d(zeros({1, 4, 4}), zeros({1, 1, 2, 2})),
                      Catch::Contains("[B, C, H, W]"));
  }
  SECTION("bias of the wrong length") {
    CHECK_THROWS_WITH(conv2d(zeros({1, 1, 4, 4}), zeros({2, 1, 2, 2}), zeros({3})),
                      Catch::Contains("expected [2]"));
  }
  SECTION("input without channels") {
    CHECK_THROWS_WITH(conv2d(zeros({2, 0, 4, 4}), zeros({1, 0, 2, 2})),
                      Catch::Contains("[2, 0, 4, 4] has no channels"));
  }
}

TEST_CASE("conv2d gradient", "[autodiff][conv2d]") {
  Generator generator(7);
  Tensor x = normal({2, 2, 5, 6}, 0.0f, 1.0f, generator).set_requires_grad(true);
  Tensor weight = normal({3, 2, 3, 2}, 0.0f, 1.0f, generator).set_requires_grad(true);
  Tensor bias = normal({3}, 0.0f, 1.0f, generator).set_requires_grad(true);

  SECTION("stride 2, padding 1, with bias") {
    auto f = [](const std::vector<Tensor>& in) {
      return conv2d(in[0], in[1], in[2], {{2, 1}, {1, 1}});
    };
    const GradCheckResult result = gradcheck(f, {x, weight, bias});
    INFO(result.report);
    REQUIRE(result.ok);
  }
  SECTION("1x1 kernel (the identity-column path)") {
    Tensor pointwise = normal({3, 2, 1, 1}, 0.0f, 1.0f, generator).set_requires_grad(true);
    auto f = [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2]); };
    const GradCheckResult result = gradcheck(f, {x, pointwise, bias});
    INFO(result.report);
    REQUIRE(result.ok);
  }
  SECTION("same input used twice accumulates") {
    auto f = [](const std::vector<Tensor>& in) {
      return sum(conv2d(in[0], in[1])) + sum(conv2d(in[0], in[1], Tensor(), {{1, 1}, {1, 0}}));
    };
    const GradCheckResult result = gradcheck(f, {x, weight});
    INFO(result.report);
    REQUIRE(result.ok);
  }
}

TEST_CASE("conv2d gradient on the Winograd path", "[autodiff][conv2d]") {
  // 16 channels in and out, the fewest that take the Winograd path, and an
  // output 15 wide, an odd width. L is linear in each
  // input element, so the central difference has no truncation error, and
  // a wide step keeps the float rounding of L small against the difference.
  Generator generator(13);
  Tensor x = normal({2, 16, 2, 15}, 0.0f, 1.0f, generator).set_requires_grad(true);
  Tensor weight = normal({16, 16, 3, 3}, 0.0f, 0.3f, generator).set_requires_grad(true);
  Tensor bias = normal({16}, 0.0f, 1.0f, generator).set_requires_grad(true);
  auto f = [](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], in[2], {.padding = {1, 1}});
  };
  const GradCheckResult result = gradcheck(f, {x, weight, bias}, {.eps = 5e-2});
  INFO(result.report);
  CHECK(result.checked == x.numel() + weight.numel() + bias.numel());
  REQUIRE(result.ok);
}

namespace {

// The gradients of x, weight and bias after backward of sum(y * probe).
std::vector<std::vector<float>> conv_gradients(const Tensor& x, const Tensor& weight,
                                               const Tensor& bias, bool fused_relu,
                                               const Tensor& probe) {
  for (Tensor t : {x, weight, bias}) {
    t.zero_grad();
  }
  const Conv2dOptions options = {.padding = {1, 0}, .relu = fused_relu};
  const Tensor y = fused_relu ? conv2d(x, weight, bias, options)
                              : relu(conv2d(x, weight, bias, options));
  sum(y * probe).backward();
  return {x.grad().to_vector(), weight.grad().to_vector(), bias.grad().to_vector()};
}

void require_close(const std::vector<float>& actual, const std::vector<float>& expected,
                   const char* what) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    INFO(what << " element " << i);
    CHECK(actual[i] == Approx(expected[i]).margin(1e-5));
  }
}

}  // namespace

TEST_CASE("conv2d fused relu matches relu after conv2d", "[autodiff][conv2d]") {
  Generator generator(11);
  // 9 images with 12 output positions each, so several share one GEMM.
  Tensor x = normal({9, 2, 3, 4}, 0.0f, 1.0f, generator).set_requires_grad(true);
  Tensor weight = normal({3, 2, 3, 2}, 0.0f, 1.0f, generator).set_requires_grad(true);
  Tensor bias = normal({3}, 0.0f, 1.0f, generator).set_requires_grad(true);
  const Tensor probe = normal({9, 3, 3, 3}, 0.0f, 1.0f, generator);

  const int threads_before = kernels::num_threads();
  for (const int threads : {1, 2}) {
    INFO(threads << " threads");
    kernels::set_num_threads(threads);
    const Conv2dOptions options = {.padding = {1, 0}, .relu = true};
    require_values(conv2d(x, weight, bias, options),
                   relu(conv2d(x, weight, bias, {.padding = {1, 0}})).to_vector());

    const auto fused = conv_gradients(x, weight, bias, true, probe);
    const auto separate = conv_gradients(x, weight, bias, false, probe);
    require_close(fused[0], separate[0], "grad x");
    require_close(fused[1], separate[1], "grad weight");
    require_close(fused[2], separate[2], "grad bias");
  }
  kernels::set_num_threads(threads_before);
}

TEST_CASE("conv2d of a batch matches conv2d of each image", "[autodiff][conv2d]") {
  // 5 images with 6 output positions share GEMMs; each alone has its own.
  Generator generator(12);
  const Tensor x = normal({5, 3, 2, 3}, 0.0f, 1.0f, generator);
  const Tensor weight = normal({4, 3, 2, 2}, 0.0f, 1.0f, generator);
  const Tensor bias = normal({4}, 0.0f, 1.0f, generator);
  const Conv2dOptions options = {.padding = {1, 1}};
  const Tensor batched = conv2d(x, weight, bias, options);
  const int64_t per_image = batched.numel() / 5;
  const std::vector<float> all = batched.to_vector();
  for (int64_t b = 0; b < 5; ++b) {
    INFO("image " << b);
    const Tensor alone = conv2d(narrow(x, 0, b, 1), weight, bias, options);
    require_values(alone, std::vector<float>(all.begin() + b * per_image,
                                             all.begin() + (b + 1) * per_image));
  }
}

TEST_CASE("im2col and col2im are adjoint", "[autodiff][conv2d]") {
  // <im2col(x), c> == <x, col2im(c)> for any x and c, the property that makes
  // col2im the right backward of im2col.
  ConvGeometry g;
  g.channels = 2;
  g.height = 5;
  g.width = 4;
  g.kernel = {3, 2};
  g.stride = {2, 1};
  g.padding = {1, 1};
  g.out_height = conv_output_size(5, 3, 2, 1, "test", "height");
  g.out_width = conv_output_size(4, 2, 1, 1, "test", "width");
  const int64_t column_count = 2 * 3 * 2 * g.out_height * g.out_width;

  Generator generator(3);
  const std::vector<float> x = normal({2 * 5 * 4}, 0.0f, 1.0f, generator).to_vector();
  const std::vector<float> c = normal({column_count}, 0.0f, 1.0f, generator).to_vector();
  std::vector<float> columns(static_cast<size_t>(column_count));
  std::vector<float> image(x.size(), 0.0f);
  im2col(x.data(), g, columns.data());
  col2im(c.data(), g, image.data());

  double lhs = 0.0;
  double rhs = 0.0;
  for (size_t i = 0; i < columns.size(); ++i) {
    lhs += static_cast<double>(columns[i]) * c[i];
  }
  for (size_t i = 0; i < x.size(); ++i) {
    rhs += static_cast<double>(x[i]) * image[i];
  }
  CHECK(lhs == Approx(rhs).epsilon(1e-5));
}

TEST_CASE("im2col matches its definition", "[autodiff][conv2d]") {
  // Every stride and padding combination on a small image, compared entry by
  // entry with columns[(c KH + p) KW + q, i W_out + j] = x[c, i s0 - p0 + p, j s1 - p1 + q].
  Generator generator(5);
  for (int64_t stride = 1; stride <= 3; ++stride) {
    for (int64_t padding = 0; padding <= 2; ++padding) {
      ConvGeometry g;
      g.channels = 2;
      g.height = 4;
      g.width = 7;
      g.kernel = {2, 3};
      g.stride = {stride, stride};
      g.padding = {padding, padding};
      g.out_height = conv_output_size(4, 2, stride, padding, "test", "height");
      g.out_width = conv_output_size(7, 3, stride, padding, "test", "width");
      const std::vector<float> x = normal({2 * 4 * 7}, 0.0f, 1.0f, generator).to_vector();
      std::vector<float> columns(static_cast<size_t>(2 * 2 * 3 * g.out_height * g.out_width));
      im2col(x.data(), g, columns.data());

      size_t k = 0;
      for (int64_t c = 0; c < 2; ++c) {
        for (int64_t p = 0; p < 2; ++p) {
          for (int64_t q = 0; q < 3; ++q) {
            for (int64_t i = 0; i < g.out_height; ++i) {
              for (int64_t j = 0; j < g.out_width; ++j) {
                const int64_t h = i * stride - padding + p;
                const int64_t w = j * stride - padding + q;
                const bool inside = h >= 0 && h < 4 && w >= 0 && w < 7;
                const float expected = inside ? x[static_cast<size_t>((c * 4 + h) * 7 + w)] : 0.0f;
                INFO("stride " << stride << ", padding " << padding << ", entry " << k);
                REQUIRE(columns[k] == expected);
                ++k;
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("pooling output size with ceil mode", "[autodiff][max_pool2d]") {
  SECTION("floor mode drops a partial window") {
    CHECK(pool_output_size(7, 3, 3, 0, false, "pool", "width") == 2);
  }
  SECTION("ceil mode keeps a partial window that starts inside the input") {
    // Windows start at 0, 3 and 6; the last covers only position 6.
    CHECK(pool_output_size(7, 3, 3, 0, true, "pool", "width") == 3);
  }
  SECTION("ceil mode drops a window that would start in the trailing padding") {
    // Input 5, padding 1: windows start at -1, 1, 3; a fourth would start at 5,
    // inside the right padding, so it is not added.
    CHECK(pool_output_size(5, 2, 2, 1, true, "pool", "width") == 3);
  }
  SECTION("exact fit is the same in both modes") {
    CHECK(pool_output_size(6, 2, 2, 0, true, "pool", "width") == 3);
    CHECK(pool_output_size(6, 2, 2, 0, false, "pool", "width") == 3);
  }
}

TEST_CASE("max_pool2d values and argmax", "[autodiff][max_pool2d]") {
  SECTION("2x2 windows on 4x4") {
    Tensor x = from_vector({1, 5, 2, 0,  //
                            3, 4, 8, 1,  //
                            0, 0, 1, 1,  //
                            9, 2, 1, 7},
                           {1, 1, 4, 4});
    MaxPoolResult result = max_pool2d_with_argmax(x, {.kernel = {2, 2}});
    REQUIRE(result.output.shape() == Shape{1, 1, 2, 2});
    require_values(result.output, {5, 8, 9, 7});
    require_values(result.argmax, {1, 6, 12, 15});
  }
  SECTION("ceil mode adds partial windows at the edges") {
    // x [1, 1, 5, 5] contains 0 .. 24, so each maximum is its own flat index.
    Tensor x = reshape(arange(25), {1, 1, 5, 5});
    MaxPoolResult result = max_pool2d_with_argmax(x, {.kernel = {2, 2}, .ceil_mode = true});
    REQUIRE(result.output.shape() == Shape{1, 1, 3, 3});
    require_values(result.output, {6, 8, 9, 16, 18, 19, 21, 23, 24});
    require_values(result.argmax, {6, 8, 9, 16, 18, 19, 21, 23, 24});
  }
  SECTION("padding never wins, even against negative values") {
    Tensor x = from_vector({-1, -2, -3, -4}, {1, 1, 2, 2});
    Tensor y = max_pool2d(x, {.kernel = {2, 2}, .padding = {1, 1}});
    REQUIRE(y.shape() == Shape{1, 1, 2, 2});
    require_values(y, {-1, -2, -3, -4});
  }
  SECTION("ties go to the first position") {
    MaxPoolResult result = max_pool2d_with_argmax(ones({1, 1, 2, 2}), {.kernel = {2, 2}});
    require_values(result.argmax, {0});
  }
  SECTION("NaN wins") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    Tensor y = max_pool2d(from_vector({1, nan, 5, 2}, {1, 1, 2, 2}), {.kernel = {2, 2}});
    CHECK(std::isnan(y.item()));
  }
  SECTION("non-square kernel with stride equal to the kernel") {
    // The tiny recognizer's pooling: kernel {3, 6}, 29 x 83 -> 9 x 13.
    Tensor y = max_pool2d(zeros({2, 1, 29, 83}), {.kernel = {3, 6}});
    CHECK(y.shape() == Shape{2, 1, 9, 13});
  }
}

TEST_CASE("max_pool2d rejects bad options", "[autodiff][max_pool2d]") {
  SECTION("input shorter than the kernel") {
    CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 2, 8}), {.kernel = {3, 3}}),
                      Catch::Contains("height 2") && Catch::Contains("kernel height 3"));
  }
  SECTION("padding more than half the kernel") {
    CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 4, 4}), {.kernel = {2, 2}, .padding = {2, 0}}),
                      Catch::Contains("more than half the kernel"));
  }
  SECTION("zero kernel") {
    CHECK_THROWS_WITH(max_pool2d(zeros({1, 1, 4, 4}), {.kernel = {0, 2}}),
                      Catch::Contains("kernel {0, 2} must be positive"));
  }
}

TEST_CASE("conv2d rejects bad max_pool options", "[autodiff][conv2d]") {
  // The errors must name the pool, whose kernel, stride and input (the
  // convolution's output) differ from the convolution's own.
  const Tensor x = zeros({1, 1, 6, 6});
  const Tensor weight = zeros({2, 1, 3, 3});
  const auto pooled = [&](const Pool2dOptions& pool) {
    return conv2d(x, weight, Tensor(), {.max_pool = pool});
  };
  SECTION("zero kernel") {
    CHECK_THROWS_WITH(pooled({.kernel = {0, 2}}),
                      Catch::Contains("max_pool") &&
                          Catch::Contains("kernel {0, 2} must be positive"));
  }
  SECTION("negative stride") {
    CHECK_THROWS_WITH(pooled({.kernel = {2, 2}, .stride = {-1, 1}}),
                      Catch::Contains("max_pool") &&
                          Catch::Contains("stride {-1, 1} must be positive"));
  }
  SECTION("padding more than half the kernel") {
    CHECK_THROWS_WITH(pooled({.kernel = {2, 2}, .padding = {2, 0}}),
                      Catch::Contains("max_pool") &&
                          Catch::Contains("more than half the kernel"));
  }
  SECTION("kernel taller than the convolution's output") {
    // The convolution's output is [1, 2, 4, 4].
    CHECK_THROWS_WITH(pooled({.kernel = {5, 2}}),
                      Catch::Contains("max_pool") && Catch::Contains("height 4") &&
                          Catch::Contains("kernel height 5"));
  }
}

TEST_CASE("max_pool2d gradient", "[autodiff][max_pool2d]") {
  Generator generator(11);
  // Normal samples are distinct with probability one, so no window has a tie
  // that a finite difference would straddle.
  Tensor x = normal({2, 2, 5, 7}, 0.0f, 1.0f, generator).set_requires_grad(true);

  SECTION("overlapping windows with padding and ceil mode") {
    auto f = [](const std::vector<Tensor>& in) {
      return max_pool2d(in[0], {.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1},
                                .ceil_mode = true});
    };
    const GradCheckResult result = gradcheck(f, {x});
    INFO(result.report);
    REQUIRE(result.ok);
  }
  SECTION("gradient goes to the argmax only") {
    Tensor input = from_vector({1, 5, 2, 0}, {1, 1, 2, 2}).set_requires_grad(true);
    sum(max_pool2d(input, {.kernel = {2, 2}})).backward();
    require_values(input.grad(), {0, 1, 0, 0});
  }
}

TEST_CASE("avg_pool2d values", "[autodiff][avg_pool2d]") {
  Tensor x = from_vector({1, 2, 3, 4}, {1, 1, 2, 2});

  SECTION("padding counts in the divisor by default") {
    Tensor y = avg_pool2d(x, {.kernel = {2, 2}, .padding = {1, 1}});
    require_values(y, {0.25f, 0.5f, 0.75f, 1.0f});
  }
  SECTION("count_include_pad = false divides by the elements inside") {
    Tensor y =
        avg_pool2d(x, {.kernel = {2, 2}, .padding = {1, 1}, .count_include_pad = false});
    require_values(y, {1, 2, 3, 4});
  }
  SECTION("a ceil-mode window beyond the input divides by what it covers") {
    Tensor row = from_vector({1, 2, 3}, {1, 1, 1, 3});
    Tensor y = avg_pool2d(row, {.kernel = {1, 2}, .ceil_mode = true});
    REQUIRE(y.shape() == Shape{1, 1, 1, 2});
    require_values(y, {1.5f, 3.0f});
  }
  SECTION("plain 2x2 means") {
    Tensor y = avg_pool2d(reshape(arange(16), {1, 1, 4, 4}), {.kernel = {2, 2}});
    require_values(y, {2.5f, 4.5f, 10.5f, 12.5f});
  }
}

TEST_CASE("avg_pool2d gradient", "[autodiff][avg_pool2d]") {
  Generator generator(13);
  Tensor x = normal({2, 3, 5, 6}, 0.0f, 1.0f, generator).set_requires_grad(true);

  SECTION("overlapping windows with padding and ceil mode") {
    auto f = [](const std::vector<Tensor>& in) {
      return avg_pool2d(in[0], {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1},
                                .ceil_mode = true, .count_include_pad = false});
    };
    const GradCheckResult result = gradcheck(f, {x});
    INFO(result.report);
    REQUIRE(result.ok);
  }
  SECTION("same input used twice accumulates") {
    auto f = [](const std::vector<Tensor>& in) {
      return avg_pool2d(in[0], {.kernel = {2, 2}}) + avg_pool2d(in[0], {.kernel = {2, 2}});
    };
    const GradCheckResult result = gradcheck(f, {x});
    INFO(result.report);
    REQUIRE(result.ok);
  }
}

TEST_CASE("conv2d gradient rebuilds or keeps columns alike", "[autodiff][conv2d]") {
  // Stride 2 keeps this convolution on the GEMM path. The whole batch's
  // columns (36 rows x 512 positions x 40 images, 2.9 MB) are rebuilt in
  // backward, and a quarter's (0.7 MB) are kept from forward.
  Generator generator(13);
  const Tensor x = normal({40, 4, 32, 32}, 0.0f, 1.0f, generator);
  Tensor weight = normal({2, 4, 3, 3}, 0.0f, 0.3f, generator).set_requires_grad(true);
  const Conv2dOptions options = {.stride = {2, 1}, .padding = {1, 1}, .relu = true};

  sum(conv2d(x, weight, Tensor(), options)).backward();
  const std::vector<float> whole = weight.grad().to_vector();

  weight.zero_grad();
  for (int64_t quarter = 0; quarter < 4; ++quarter) {
    sum(conv2d(narrow(x, 0, 10 * quarter, 10), weight, Tensor(), options)).backward();
  }
  require_close(weight.grad().to_vector(), whole, "grad weight");
}
