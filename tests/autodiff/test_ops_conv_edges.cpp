// Edge cases of conv2d and max_pool2d, compared with plain double-precision
// loops at 1, 2 and 3 threads. The cases are batch 1, batches larger than the
// thread count, image groups that do not divide the batch, 1x1 kernels,
// stride with padding, ceil mode and NaN inputs. Outputs come from a buffer pool
// filled with NaN, so an element that an op does not write shows up as NaN.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <limits>
#include <vector>

#include "autodiff/autodiff.h"
#include "autodiff/kernels/threads.h"
#include "autodiff/ops_conv.h"
#include "nan_pool.h"

using namespace ember;
using ember::testing::fill_pool_with_nan;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(kernels::num_threads()) {}
  ~ThreadCountGuard() { kernels::set_num_threads(saved_); }

 private:
  int saved_;
};

uint32_t bits_of(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

// Index of the first element whose bits differ, or -1.
int64_t first_bit_difference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) {
    return 0;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (bits_of(a[i]) != bits_of(b[i])) {
      return static_cast<int64_t>(i);
    }
  }
  return -1;
}

void require_close(const std::vector<float>& actual, const std::vector<double>& expected,
                   const char* what) {
  REQUIRE(actual.size() == expected.size());
  int64_t failures = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double error = std::fabs(actual[i] - expected[i]);
    if (!(error <= 1e-4 * (1.0 + std::fabs(expected[i]))) && failures++ == 0) {
      INFO(what << " element " << i << ": got " << actual[i] << ", expected " << expected[i]);
      CHECK(error <= 1e-4 * (1.0 + std::fabs(expected[i])));
    }
  }
  INFO(what << ": " << failures << " elements differ");
  CHECK(failures == 0);
}

struct ConvCase {
  const char* name;
  int64_t batch, channels, height, width, out_channels, kernel_h, kernel_w;
  Size2 stride, padding;
  bool bias, relu;
};

// A table that reaches every path of conv2d: one image, identity columns,
// grouped images (group sizes 86 and 57 against batches of 130 and 50),
// C_out <= 2 and C_in KH KW <= 2 (the unpacked GEMMs), kept columns,
// columns too large to keep (2.3 MiB), the direct path (C_out <= 2,
// stride 1) with and without padding, including padding wider than the
// kernel and a kernel as wide as the input, and the implicit path (stride 1,
// C_out > 2) with groups of images, asymmetric padding and a same-size
// kernel (whose input gradient is a convolution with the flipped weight).
// Weights of at most 16 values per filter take the implicit path's dot
// products for their gradient, the others its GEMM. Narrow images go through
// the Winograd path several side by side, with padding up to 2 on either side
// of odd and even widths. A kernel the size of the image
// without padding takes the dense path (a fully connected layer).
const ConvCase kConvCases[] = {
    {"batch 1, stride 2, padding 1", 1, 3, 7, 9, 4, 3, 3, {2, 2}, {1, 1}, true, true},
    {"1x1 identity, C_out 2", 7, 1, 5, 5, 2, 1, 1, {1, 1}, {0, 0}, true, true},
    {"1x1 with stride 2 and padding 1, one group", 50, 2, 3, 3, 5, 1, 1, {2, 2}, {1, 1}, true,
     false},
    {"1x1 identity, 130 images in groups of 86", 130, 2, 2, 3, 3, 1, 1, {1, 1}, {0, 0}, true,
     true},
    {"C_out 1, stride {2, 1}, padding {1, 1}", 5, 3, 6, 5, 1, 3, 2, {2, 1}, {1, 1}, true, false},
    {"5x5 kernel, stride 3, padding 2", 4, 1, 16, 16, 3, 5, 5, {3, 3}, {2, 2}, false, true},
    {"1x1 images, 2 rows", 9, 2, 1, 1, 6, 1, 1, {1, 1}, {0, 0}, true, true},
    {"1x2 kernel, 2 rows, stride 2", 3, 1, 4, 7, 3, 1, 2, {1, 2}, {0, 1}, true, false},
    {"kept columns, one image per GEMM", 6, 1, 64, 64, 4, 3, 3, {2, 2}, {1, 1}, true, true},
    {"columns too large to keep", 4, 8, 64, 64, 3, 3, 3, {2, 1}, {1, 1}, true, true},
    {"direct, model A's 4x8 filter", 4, 1, 32, 18, 1, 4, 8, {1, 1}, {0, 0}, true, true},
    {"direct, C_out 2, padding {2, 1}", 3, 3, 7, 6, 2, 3, 3, {1, 1}, {2, 1}, false, false},
    {"direct, padding wider than the kernel", 2, 2, 3, 4, 1, 1, 2, {1, 1}, {2, 2}, true, true},
    {"direct, kernel as wide as the input", 2, 2, 5, 4, 2, 2, 4, {1, 1}, {0, 0}, true, false},
    {"implicit, 50 small images in groups", 50, 3, 5, 6, 4, 3, 3, {1, 1}, {1, 1}, true, true},
    {"implicit, no padding, 4x3 kernel", 7, 5, 4, 15, 6, 4, 3, {1, 1}, {0, 0}, true, false},
    {"implicit, padding {2, 1}, 2x3 kernel", 5, 2, 6, 7, 3, 2, 3, {1, 1}, {2, 1}, false, true},
    {"implicit, same-size 3x5 kernel", 9, 3, 9, 11, 4, 3, 5, {1, 1}, {1, 2}, false, true},
    {"GEMM, padding as wide as the kernel", 3, 2, 4, 5, 3, 1, 2, {1, 1}, {1, 2}, true, true},
    {"Winograd, odd sizes, partial vectors", 3, 17, 9, 37, 19, 3, 3, {1, 1}, {1, 1}, true, true},
    {"Winograd, no padding, even output", 2, 16, 6, 18, 16, 3, 3, {1, 1}, {0, 0}, false, false},
    {"Winograd, padding {2, 0}, groups", 40, 16, 3, 17, 20, 3, 3, {1, 1}, {2, 0}, true, false},
    {"Winograd, odd output height", 5, 24, 9, 15, 16, 3, 3, {1, 1}, {0, 1}, true, true},
    {"implicit, one input channel, 32 filters", 6, 1, 8, 18, 32, 3, 3, {1, 1}, {1, 1}, true,
     true},
    {"Winograd, narrow images side by side", 6, 32, 16, 9, 24, 3, 3, {1, 1}, {1, 1}, true, true},
    {"Winograd, padding {1, 2}, odd width", 20, 16, 6, 7, 16, 3, 3, {1, 1}, {1, 2}, true, false},
    {"Winograd, padding {0, 2}, even width", 20, 16, 8, 8, 16, 3, 3, {1, 1}, {0, 2}, false, true},
    {"Winograd, 3-pixel rows", 40, 16, 8, 3, 16, 3, 3, {1, 1}, {1, 1}, true, true},
    {"dense, kernel the size of the image", 5, 8, 4, 3, 6, 4, 3, {1, 1}, {0, 0}, true, true},
    {"dense, stride 2, no bias or relu", 3, 2, 3, 5, 4, 3, 5, {2, 2}, {0, 0}, false, false},
};

struct ConvResult {
  std::vector<float> y, grad_x, grad_w, grad_b;
};

// Forward and the backward of sum(y * probe).
ConvResult run_conv(const ConvCase& c, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& probe) {
  for (Tensor t : {x, weight, bias}) {
    if (t.defined()) {
      t.zero_grad();
    }
  }
  fill_pool_with_nan();
  const Conv2dOptions options = {.stride = c.stride, .padding = c.padding, .relu = c.relu};
  const Tensor y = conv2d(x, weight, c.bias ? bias : Tensor(), options);
  sum(y * probe).backward();
  ConvResult result;
  result.y = y.to_vector();
  result.grad_x = x.grad().to_vector();
  result.grad_w = weight.grad().to_vector();
  result.grad_b = c.bias ? bias.grad().to_vector() : std::vector<float>{};
  return result;
}

struct ConvReference {
  std::vector<double> y, grad_x, grad_w, grad_b;
};

// The convolution's definition in double, with the relu mask taken from the
// tested output (y > 0), so values at the boundary of the relu cannot
// round differently in the two. Padded taps are skipped, unless
// padding_as_zeros makes them add weight * 0 to the output and upstream * 0
// to the weight gradient. Then an infinite weight or upstream gradient that
// meets padding gives NaN, as zero padding does.
ConvReference reference_conv(const ConvCase& c, const Tensor& x, const Tensor& weight,
                             const Tensor& bias, const Tensor& probe,
                             const std::vector<float>& tested_y, bool padding_as_zeros = false) {
  const int64_t out_h = (c.height + 2 * c.padding[0] - c.kernel_h) / c.stride[0] + 1;
  const int64_t out_w = (c.width + 2 * c.padding[1] - c.kernel_w) / c.stride[1] + 1;
  const std::vector<float> xs = x.to_vector();
  const std::vector<float> ws = weight.to_vector();
  const std::vector<float> bs = bias.to_vector();
  const std::vector<float> ps = probe.to_vector();
  ConvReference r;
  r.y.assign(static_cast<size_t>(c.batch * c.out_channels * out_h * out_w), 0.0);
  r.grad_x.assign(xs.size(), 0.0);
  r.grad_w.assign(ws.size(), 0.0);
  r.grad_b.assign(c.bias ? bs.size() : 0, 0.0);

  for (int64_t b = 0; b < c.batch; ++b) {
    for (int64_t o = 0; o < c.out_channels; ++o) {
      for (int64_t i = 0; i < out_h; ++i) {
        for (int64_t j = 0; j < out_w; ++j) {
          const auto out = static_cast<size_t>(((b * c.out_channels + o) * out_h + i) * out_w + j);
          double total = c.bias ? bs[static_cast<size_t>(o)] : 0.0;
          const bool passes = !c.relu || tested_y[out] > 0.0f;
          const double upstream = passes ? ps[out] : 0.0;
          for (int64_t ch = 0; ch < c.channels; ++ch) {
            for (int64_t p = 0; p < c.kernel_h; ++p) {
              for (int64_t q = 0; q < c.kernel_w; ++q) {
                const int64_t h = i * c.stride[0] - c.padding[0] + p;
                const int64_t w = j * c.stride[1] - c.padding[1] + q;
                if (h < 0 || h >= c.height || w < 0 || w >= c.width) {
                  if (padding_as_zeros) {
                    const auto wi = static_cast<size_t>(((o * c.channels + ch) * c.kernel_h + p) *
                                                            c.kernel_w + q);
                    total += static_cast<double>(ws[wi]) * 0.0;
                    r.grad_w[wi] += upstream * 0.0;
                  }
                  continue;
                }
                const auto xi = static_cast<size_t>(((b * c.channels + ch) * c.height + h) *
                                                        c.width + w);
                const auto wi = static_cast<size_t>(((o * c.channels + ch) * c.kernel_h + p) *
                                                        c.kernel_w + q);
                total += static_cast<double>(ws[wi]) * xs[xi];
                r.grad_x[xi] += upstream * ws[wi];
                r.grad_w[wi] += upstream * xs[xi];
              }
            }
          }
          if (c.bias) {
            r.grad_b[static_cast<size_t>(o)] += upstream;
          }
          r.y[out] = c.relu ? std::max(total, 0.0) : total;
        }
      }
    }
  }
  return r;
}

struct ConvInputs {
  Tensor x, weight, bias, probe;
};

ConvInputs make_inputs(const ConvCase& c, uint64_t seed) {
  Generator generator(seed);
  const int64_t out_h = (c.height + 2 * c.padding[0] - c.kernel_h) / c.stride[0] + 1;
  const int64_t out_w = (c.width + 2 * c.padding[1] - c.kernel_w) / c.stride[1] + 1;
  ConvInputs in;
  in.x = normal({c.batch, c.channels, c.height, c.width}, 0.0f, 1.0f, generator)
             .set_requires_grad(true);
  in.weight = normal({c.out_channels, c.channels, c.kernel_h, c.kernel_w}, 0.0f, 0.5f, generator)
                  .set_requires_grad(true);
  in.bias = normal({c.out_channels}, 0.0f, 1.0f, generator).set_requires_grad(true);
  in.probe = normal({c.batch, c.out_channels, out_h, out_w}, 0.0f, 1.0f, generator);
  return in;
}

}  // namespace

TEST_CASE("conv2d edge shapes match the definition", "[autodiff][conv2d]") {
  // Also checks that a second run with the same thread count gives the same bits.
  ThreadCountGuard guard;
  uint64_t seed = 100;
  for (const ConvCase& c : kConvCases) {
    const ConvInputs in = make_inputs(c, seed++);
    for (const int threads : {1, 2, 3}) {
      INFO(c.name << ", " << threads << " threads");
      kernels::set_num_threads(threads);
      const ConvResult got = run_conv(c, in.x, in.weight, in.bias, in.probe);
      const ConvReference want = reference_conv(c, in.x, in.weight, in.bias, in.probe, got.y);
      require_close(got.y, want.y, "y");
      require_close(got.grad_x, want.grad_x, "grad x");
      require_close(got.grad_w, want.grad_w, "grad weight");
      require_close(got.grad_b, want.grad_b, "grad bias");

      const ConvResult again = run_conv(c, in.x, in.weight, in.bias, in.probe);
      CHECK(first_bit_difference(again.y, got.y) == -1);
      CHECK(first_bit_difference(again.grad_x, got.grad_x) == -1);
      CHECK(first_bit_difference(again.grad_w, got.grad_w) == -1);
      CHECK(first_bit_difference(again.grad_b, got.grad_b) == -1);
    }
  }
}

TEST_CASE("conv2d backward with another thread count than forward", "[autodiff][conv2d]") {
  // Forward groups the images by its chunks and keeps their columns; a
  // backward with other chunks must rebuild instead of reading a wrong group.
  ThreadCountGuard guard;
  const ConvCase cases[] = {
      {"grouped, kept", 7, 2, 3, 4, 3, 2, 2, {1, 1}, {1, 0}, true, true},
      {"one image per GEMM, kept", 5, 1, 30, 30, 3, 3, 3, {1, 1}, {1, 1}, true, false},
      // Groups of 8 images of 18 tiles start at each chunk's first image.
      {"Winograd, groups by chunk", 13, 16, 4, 17, 16, 3, 3, {1, 1}, {1, 1}, true, true},
  };
  for (const ConvCase& c : cases) {
    const ConvInputs in = make_inputs(c, 300);
    for (const int forward_threads : {1, 2, 3}) {
      for (const int backward_threads : {1, 2, 3}) {
        INFO(c.name << ", forward " << forward_threads << " threads, backward "
                    << backward_threads);
        for (Tensor t : {in.x, in.weight, in.bias}) {
          t.zero_grad();
        }
        kernels::set_num_threads(forward_threads);
        fill_pool_with_nan();
        const Tensor y = conv2d(in.x, in.weight, in.bias,
                                {.stride = c.stride, .padding = c.padding, .relu = c.relu});
        const Tensor loss = sum(y * in.probe);
        kernels::set_num_threads(backward_threads);
        loss.backward();
        const std::vector<float> y_values = y.to_vector();
        const ConvReference want = reference_conv(c, in.x, in.weight, in.bias, in.probe, y_values);
        require_close(y_values, want.y, "y");
        require_close(in.x.grad().to_vector(), want.grad_x, "grad x");
        require_close(in.weight.grad().to_vector(), want.grad_w, "grad weight");
        require_close(in.bias.grad().to_vector(), want.grad_b, "grad bias");
      }
    }
  }
}

TEST_CASE("conv2d gradient of one input at a time", "[autodiff][conv2d]") {
  // With only x, only the weight or only the bias requiring a gradient, the
  // other gradient buffers are null and forward keeps no columns unless the
  // weight needs them. The fifth case runs the dense path and the last two
  // the Winograd path.
  ThreadCountGuard guard;
  const ConvCase cases[] = {kConvCases[1],  kConvCases[3],  kConvCases[4], kConvCases[8],
                            kConvCases[25], kConvCases[19], kConvCases[22]};
  for (const ConvCase& c : cases) {
    const ConvInputs in = make_inputs(c, 350);
    const std::vector<float> y_values = [&] {
      return conv2d(in.x.detach(), in.weight.detach(), in.bias.detach(),
                    {.stride = c.stride, .padding = c.padding, .relu = c.relu})
          .to_vector();
    }();
    const ConvReference want = reference_conv(c, in.x, in.weight, in.bias, in.probe, y_values);
    for (const int threads : {1, 3}) {
      for (int which = 0; which < 3; ++which) {
        INFO(c.name << ", " << threads << " threads, input " << which);
        kernels::set_num_threads(threads);
        Tensor x = in.x.detach().set_requires_grad(which == 0);
        Tensor weight = in.weight.detach().set_requires_grad(which == 1);
        Tensor bias = in.bias.detach().set_requires_grad(which == 2);
        fill_pool_with_nan();
        const Tensor y = conv2d(x, weight, bias,
                                {.stride = c.stride, .padding = c.padding, .relu = c.relu});
        sum(y * in.probe).backward();
        if (which == 0) {
          require_close(x.grad().to_vector(), want.grad_x, "grad x");
        } else if (which == 1) {
          require_close(weight.grad().to_vector(), want.grad_w, "grad weight");
        } else {
          require_close(bias.grad().to_vector(), want.grad_b, "grad bias");
        }
      }
    }
  }
}

namespace {

// Forward and the backward of sum(y * probe) for conv2d with a fused max
// pool, or for max_pool2d after the same conv2d when `fused` is false.
ConvResult run_conv_pool(const ConvCase& c, const Pool2dOptions& pool, bool fused,
                         const ConvInputs& in, const Tensor& probe) {
  for (Tensor t : {in.x, in.weight, in.bias}) {
    t.zero_grad();
  }
  fill_pool_with_nan();
  Conv2dOptions options = {.stride = c.stride, .padding = c.padding, .relu = c.relu};
  const Tensor bias = c.bias ? in.bias : Tensor();
  Tensor y;
  if (fused) {
    options.max_pool = pool;
    y = conv2d(in.x, in.weight, bias, options);
  } else {
    y = max_pool2d(conv2d(in.x, in.weight, bias, options), pool);
  }
  sum(y * probe).backward();
  ConvResult result;
  result.y = y.to_vector();
  result.grad_x = in.x.grad().to_vector();
  result.grad_w = in.weight.grad().to_vector();
  result.grad_b = c.bias ? in.bias.grad().to_vector() : std::vector<float>{};
  return result;
}

void require_close_floats(const std::vector<float>& actual, const std::vector<float>& expected,
                          const char* what) {
  require_close(actual, std::vector<double>(expected.begin(), expected.end()), what);
}

}  // namespace

TEST_CASE("conv2d fused max pool matches max_pool2d after it", "[autodiff][conv2d]") {
  // One case per path of conv2d. The pools leave rows and columns over,
  // overlap, pad and round up. A second run must give the same bits.
  ThreadCountGuard guard;
  struct PoolCase {
    ConvCase conv;
    Pool2dOptions pool;
  };
  const PoolCase cases[] = {
      {{"Winograd, 2x2 pool", 3, 17, 9, 37, 19, 3, 3, {1, 1}, {1, 1}, true, true},
       {.kernel = {2, 2}}},
      {{"Winograd in groups, {2, 1} pool", 13, 16, 4, 17, 16, 3, 3, {1, 1}, {1, 1}, false, true},
       {.kernel = {2, 1}}},
      // Outputs of 64K values: one image per pooled batch, whose dU the
      // Winograd backward sums over the batches of a chunk.
      {{"Winograd, one image per batch", 3, 16, 64, 64, 16, 3, 3, {1, 1}, {1, 1}, true, true},
       {.kernel = {2, 2}}},
      {{"implicit, overlapping padded pool", 50, 3, 5, 6, 4, 3, 3, {1, 1}, {1, 1}, true, true},
       {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}},
      {{"implicit, no relu, {2, 3} pool", 5, 2, 8, 9, 3, 3, 3, {1, 1}, {1, 1}, true, false},
       {.kernel = {2, 3}}},
      {{"implicit, model B's first layer", 4, 1, 32, 18, 32, 3, 3, {1, 1}, {1, 1}, true, true},
       {.kernel = {2, 2}}},
      {{"Winograd, model B's second layer", 6, 32, 16, 9, 24, 3, 3, {1, 1}, {1, 1}, true, true},
       {.kernel = {2, 3}}},
      {{"Winograd, model B's third layer", 40, 64, 8, 3, 16, 3, 3, {1, 1}, {1, 1}, true, true},
       {.kernel = {2, 1}}},
      // Windows that overlap route two gradients to one output now and then.
      {{"Winograd, overlapping padded pool", 7, 16, 7, 11, 16, 3, 3, {1, 1}, {1, 1}, true, true},
       {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}},
      {{"dense, kernel the size of the image", 4, 3, 2, 3, 5, 2, 3, {1, 1}, {0, 0}, true, true},
       {.kernel = {1, 1}}},
      {{"direct, model A's 4x8 filter", 4, 1, 32, 18, 1, 4, 8, {1, 1}, {0, 0}, true, true},
       {.kernel = {2, 2}}},
      {{"GEMM, stride 2", 3, 3, 7, 9, 4, 3, 3, {2, 2}, {1, 1}, true, true}, {.kernel = {2, 2}}},
  };
  uint64_t seed = 500;
  for (const PoolCase& pc : cases) {
    const ConvCase& c = pc.conv;
    const ConvInputs in = make_inputs(c, seed++);
    const Tensor pooled_shape =
        max_pool2d(conv2d(in.x.detach(), in.weight.detach(), Tensor(),
                          {.stride = c.stride, .padding = c.padding}),
                   pc.pool);
    Generator generator(seed++);
    const Tensor probe = normal(pooled_shape.shape(), 0.0f, 1.0f, generator);
    for (const int threads : {1, 2, 3}) {
      INFO(c.name << ", " << threads << " threads");
      kernels::set_num_threads(threads);
      const ConvResult want = run_conv_pool(c, pc.pool, /*fused=*/false, in, probe);
      const ConvResult got = run_conv_pool(c, pc.pool, /*fused=*/true, in, probe);
      require_close_floats(got.y, want.y, "y");
      require_close_floats(got.grad_x, want.grad_x, "grad x");
      require_close_floats(got.grad_w, want.grad_w, "grad weight");
      require_close_floats(got.grad_b, want.grad_b, "grad bias");

      const ConvResult again = run_conv_pool(c, pc.pool, /*fused=*/true, in, probe);
      CHECK(first_bit_difference(again.y, got.y) == -1);
      CHECK(first_bit_difference(again.grad_x, got.grad_x) == -1);
      CHECK(first_bit_difference(again.grad_w, got.grad_w) == -1);
      CHECK(first_bit_difference(again.grad_b, got.grad_b) == -1);
    }
  }
}

TEST_CASE("conv2d fused max pool accumulates", "[autodiff][conv2d]") {
  // Backward accumulates: x feeding two fused convolutions gets both
  // gradients, and the weight's gradient doubles when the same op runs twice.
  Generator generator(600);
  Tensor x = normal({2, 16, 4, 17}, 0.0f, 1.0f, generator).set_requires_grad(true);
  Tensor weight = normal({16, 16, 3, 3}, 0.0f, 0.5f, generator).set_requires_grad(true);
  const Conv2dOptions options = {
      .padding = {1, 1}, .relu = true, .max_pool = Pool2dOptions{.kernel = {2, 2}}};
  sum(conv2d(x, weight, Tensor(), options)).backward();
  const std::vector<float> once_x = x.grad().to_vector();
  const std::vector<float> once_w = weight.grad().to_vector();
  x.zero_grad();
  weight.zero_grad();
  sum(conv2d(x, weight, Tensor(), options) + conv2d(x, weight, Tensor(), options)).backward();
  std::vector<float> twice_x(once_x.size());
  std::vector<float> twice_w(once_w.size());
  for (size_t i = 0; i < once_x.size(); ++i) {
    twice_x[i] = 2.0f * once_x[i];
  }
  for (size_t i = 0; i < once_w.size(); ++i) {
    twice_w[i] = 2.0f * once_w[i];
  }
  require_close_floats(x.grad().to_vector(), twice_x, "grad x");
  require_close_floats(weight.grad().to_vector(), twice_w, "grad weight");
}

TEST_CASE("conv2d fused relu with NaN input", "[autodiff][conv2d]") {
  // relu maps NaN to 0 and passes no gradient there, fused or not. A NaN
  // pixel still makes NaN weight gradients through 0 * NaN in the GEMM, as
  // the unfused relu does.
  Tensor x = from_vector({1, kNaN, 2, 3, 4, 5, 6, 7, 8}, {1, 1, 3, 3}).set_requires_grad(true);
  Tensor weight = from_vector({1, 0, 0, 1}, {1, 1, 2, 2}).set_requires_grad(true);
  const Tensor fused = conv2d(x, weight, Tensor(), {.relu = true});
  // Windows: {1, NaN, 3, 4} -> NaN, {NaN, 2, 4, 5} -> NaN (0 * NaN is NaN),
  // {3, 4, 6, 7} -> 3 + 7, {4, 5, 7, 8} -> 4 + 8.
  const std::vector<float> values = fused.to_vector();
  REQUIRE(values.size() == 4);
  CHECK(values[0] == 0.0f);
  CHECK(values[1] == 0.0f);
  CHECK(values[2] == 10.0f);
  CHECK(values[3] == 12.0f);

  sum(fused).backward();
  const std::vector<float> fused_grad_w = weight.grad().to_vector();
  const std::vector<float> fused_grad_x = x.grad().to_vector();
  // Only the last two windows pass gradient. Weight rows 2 and 3 see no NaN
  // there: d/dw = x at those windows.
  CHECK(fused_grad_w[2] == 6.0f + 7.0f);
  CHECK(fused_grad_w[3] == 7.0f + 8.0f);

  weight.zero_grad();
  x.zero_grad();
  sum(relu(conv2d(x, weight))).backward();
  CHECK(first_bit_difference(fused_grad_w, weight.grad().to_vector()) == -1);
  CHECK(first_bit_difference(fused_grad_x, x.grad().to_vector()) == -1);
}

namespace {

// The class of a value: NaN, +inf, -inf or finite.
int finiteness(double value) {
  if (std::isnan(value)) {
    return 0;
  }
  if (std::isinf(value)) {
    return value > 0 ? 1 : -1;
  }
  return 2;
}

// Like require_close, but an expected NaN or infinity must be matched
// exactly, so a NaN that leaks into an unrelated element is caught.
void require_close_or_same_special(const std::vector<float>& actual,
                                   const std::vector<double>& expected, const char* what) {
  REQUIRE(actual.size() == expected.size());
  int64_t failures = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const bool same_class = finiteness(actual[i]) == finiteness(expected[i]);
    const bool close = finiteness(expected[i]) != 2 ||
                       std::fabs(actual[i] - expected[i]) <= 1e-4 * (1.0 + std::fabs(expected[i]));
    if (!(same_class && close) && failures++ == 0) {
      INFO(what << " element " << i << ": got " << actual[i] << ", expected " << expected[i]);
      CHECK(same_class);
      CHECK(close);
    }
  }
  INFO(what << ": " << failures << " elements differ");
  CHECK(failures == 0);
}

// require_close_or_same_special for each output and gradient of a run.
void require_same_results(const ConvResult& got, const ConvReference& want) {
  require_close_or_same_special(got.y, want.y, "y");
  require_close_or_same_special(got.grad_x, want.grad_x, "grad x");
  require_close_or_same_special(got.grad_w, want.grad_w, "grad weight");
  require_close_or_same_special(got.grad_b, want.grad_b, "grad bias");
}

}  // namespace

TEST_CASE("conv2d with an infinite pixel or weight", "[autodiff][conv2d]") {
  // An infinity reaches only the outputs and gradients whose sums contain
  // it. The direct and implicit paths also compute sums they then drop
  // (the wide grid's columns past W_out). There a zero gradient meets a
  // pixel that the kernel element never touches, and the NaN of 0 * inf
  // must not leak into the weight or input gradient.
  ThreadCountGuard guard;
  const ConvCase cases[] = {
      {"direct, no padding", 2, 1, 3, 3, 1, 2, 2, {1, 1}, {0, 0}, false, false},
      {"direct, model A's 4x8 filter", 3, 1, 32, 18, 1, 4, 8, {1, 1}, {0, 0}, true, false},
      {"direct, C_out 2, padding {2, 1}", 3, 3, 7, 6, 2, 3, 3, {1, 1}, {2, 1}, true, false},
      {"implicit, 50 small images in groups", 50, 3, 5, 6, 4, 3, 3, {1, 1}, {1, 1}, true, false},
      {"implicit, no padding, 4x3 kernel", 7, 5, 4, 15, 6, 4, 3, {1, 1}, {0, 0}, true, false},
      {"GEMM, stride 2", 3, 2, 7, 9, 4, 3, 3, {2, 2}, {1, 1}, true, false},
      {"Winograd, falls back to implicit", 3, 16, 5, 17, 16, 3, 3, {1, 1}, {1, 1}, true, false},
      // No dropped columns and no scan: the GEMM pairs only what the
      // definition pairs.
      {"dense, kernel the size of the image", 5, 8, 4, 3, 6, 4, 3, {1, 1}, {0, 0}, true, false},
  };
  const float inf = std::numeric_limits<float>::infinity();
  for (const ConvCase& c : cases) {
    for (const bool poison_weight : {false, true}) {
      ConvInputs in = make_inputs(c, 600);
      if (poison_weight) {
        // The last element of the first filter: kernel element (C - 1, KH - 1, KW - 1).
        in.weight.mutable_data()[c.channels * c.kernel_h * c.kernel_w - 1] = inf;
      } else {
        // Pixel (1, 0) of the first image's first channel, and the first
        // pixel of the last image, which neighbours another image in a group.
        float* pixels = in.x.mutable_data();
        pixels[std::min<int64_t>(1, c.height - 1) * c.width] = -inf;
        pixels[(c.batch - 1) * c.channels * c.height * c.width] = inf;
      }
      for (const int threads : {1, 3}) {
        INFO(c.name << (poison_weight ? ", infinite weight, " : ", infinite pixels, ") << threads
                    << " threads");
        kernels::set_num_threads(threads);
        const ConvResult got = run_conv(c, in.x, in.weight, in.bias, in.probe);
        const ConvReference want =
            reference_conv(c, in.x, in.weight, in.bias, in.probe, got.y, /*padding_as_zeros=*/true);
        require_same_results(got, want);
      }
    }
  }
}

TEST_CASE("conv2d Winograd path with an infinite upstream gradient", "[autodiff][conv2d]") {
  // The Winograd backward mixes the gradients of a 2x2 tile, so an infinite
  // one would turn finite neighbours into NaN. The group of images that
  // contains it, and every later group, go to the implicit path instead.
  // The earlier groups stay on the Winograd path. At one thread, 40 images
  // of 16 tiles make groups of 8 or 9 (by the GEMM's panel width), and image
  // 20 is in the third. No relu, so nothing masks the infinity away.
  ThreadCountGuard guard;
  const ConvCase c = {"Winograd groups", 40, 16, 4, 16, 16, 3, 3, {1, 1}, {1, 1}, true, false};
  ConvInputs in = make_inputs(c, 700);
  const int64_t out_plane = c.height * c.width;
  float* probe = in.probe.mutable_data();
  probe[20 * c.out_channels * out_plane + 5] = std::numeric_limits<float>::infinity();
  for (const int threads : {1, 2}) {
    INFO(threads << " threads");
    kernels::set_num_threads(threads);
    const ConvResult got = run_conv(c, in.x, in.weight, in.bias, in.probe);
    const ConvReference want =
        reference_conv(c, in.x, in.weight, in.bias, in.probe, got.y, /*padding_as_zeros=*/true);
    require_close(got.y, want.y, "y");
    require_close_or_same_special(got.grad_x, want.grad_x, "grad x");
    require_close_or_same_special(got.grad_w, want.grad_w, "grad weight");
    require_close_or_same_special(got.grad_b, want.grad_b, "grad bias");
  }
}

TEST_CASE("conv2d fused pool with infinite gradient", "[autodiff][conv2d]") {
  // The Winograd path takes the pooled gradient as it is. The group of
  // images whose gradient has the infinity, and every later group of the
  // same thread's chunk, go to the implicit path instead, as without the
  // pool.
  // No relu, so nothing masks the infinity away.
  ThreadCountGuard guard;
  const ConvCase c = {"Winograd groups", 40, 16, 4, 16, 16, 3, 3, {1, 1}, {1, 1}, true, false};
  const Pool2dOptions pool = {.kernel = {2, 2}};
  const ConvInputs in = make_inputs(c, 720);
  const int64_t pooled_plane = (c.height / 2) * (c.width / 2);
  Generator generator(721);
  Tensor probe = normal({c.batch, c.out_channels, c.height / 2, c.width / 2}, 0.0f, 1.0f,
                        generator);
  probe.mutable_data()[20 * c.out_channels * pooled_plane + 3] =
      std::numeric_limits<float>::infinity();

  for (const int threads : {1, 2}) {
    INFO(threads << " threads");
    kernels::set_num_threads(threads);
    const ConvResult want = run_conv_pool(c, pool, /*fused=*/false, in, probe);
    const ConvResult got = run_conv_pool(c, pool, /*fused=*/true, in, probe);
    const auto as_double = [](const std::vector<float>& values) {
      return std::vector<double>(values.begin(), values.end());
    };

    // The infinity reaches the weight gradient, and grad x keeps finite values.
    CHECK(std::any_of(want.grad_w.begin(), want.grad_w.end(),
                      [](float v) { return !std::isfinite(v); }));
    CHECK(std::any_of(want.grad_x.begin(), want.grad_x.end(),
                      [](float v) { return std::isfinite(v); }));
    require_close_or_same_special(got.y, as_double(want.y), "y");
    require_close_or_same_special(got.grad_x, as_double(want.grad_x), "grad x");
    require_close_or_same_special(got.grad_w, as_double(want.grad_w), "grad weight");
    require_close_or_same_special(got.grad_b, as_double(want.grad_b), "grad bias");
  }
}

TEST_CASE("conv2d Winograd path with transforms that overflow", "[autodiff][conv2d]") {
  // The Winograd transforms add up to nine values, so finite pixels,
  // weights or upstream gradients near the float maximum can make them
  // overflow where the definition's products and sums do not. Each section
  // keeps every sum of the definition below 1e37, and every output and
  // gradient must be finite and match it.
  ThreadCountGuard guard;
  const ConvCase four_rows = {"Winograd", 2, 16, 4, 17, 16, 3, 3, {1, 1}, {1, 1}, true, false};
  const auto scale = [](Tensor& t, float factor) {
    float* values = t.mutable_data();
    for (int64_t i = 0; i < t.numel(); ++i) {
      values[i] *= factor;
    }
  };
  const auto check = [](const ConvCase& c, const ConvInputs& in) {
    for (const int threads : {1, 2}) {
      INFO(threads << " threads");
      kernels::set_num_threads(threads);
      const ConvResult got = run_conv(c, in.x, in.weight, in.bias, in.probe);
      const ConvReference want = reference_conv(c, in.x, in.weight, in.bias, in.probe, got.y);
      require_same_results(got, want);
    }
  };

  SECTION("pixels from 1e38 up") {
    // B^T d B adds four pixels. Weights and upstream gradients are positive
    // too, so that no sum of the definition cancels to a value its float
    // rounding swamps.
    ConvInputs in = make_inputs(four_rows, 800);
    float* pixels = in.x.mutable_data();
    for (int64_t i = 0; i < in.x.numel(); ++i) {
      pixels[i] = 1e38f + 1e37f * std::fabs(pixels[i]);
    }
    for (Tensor* t : {&in.weight, &in.probe}) {
      float* values = t->mutable_data();
      for (int64_t i = 0; i < t->numel(); ++i) {
        values[i] = std::fabs(values[i]);
      }
    }
    scale(in.weight, 1e-8f);
    scale(in.probe, 1e-4f);
    check(four_rows, in);
  }
  SECTION("a filter of nine 1.5e38") {
    // G g G^T adds three weights first.
    ConvInputs in = make_inputs(four_rows, 800);
    std::fill_n(in.weight.mutable_data(), 9, 1.5e38f);
    scale(in.x, 1e-8f);
    scale(in.probe, 1e-4f);
    check(four_rows, in);
  }
  SECTION("one output row and a filter row of 1.5e38 that meets only padding") {
    // G g G^T adds the filter's last row in U[13] and U[14] only, so on the
    // Winograd path only M[13] and M[14] would overflow, and they reach
    // only the second output row of each tile, which does not exist here.
    // One output row takes the implicit path, though, because Winograd's
    // tiles would compute two. The tile kernels' test covers that row's
    // finiteness flags.
    const ConvCase one_row = {"Winograd", 2, 16, 1, 17, 16, 3, 3, {1, 1}, {1, 1}, true, false};
    ConvInputs in = make_inputs(one_row, 800);
    std::fill_n(in.weight.mutable_data() + 6, 3, 1.5e38f);
    check(one_row, in);
  }
  SECTION("upstream gradients 2e38 and -2e38 in one tile") {
    // A g A^T subtracts them. The rest of their plane is zero, so no path's
    // float sum for the bias gradient loses it next to them.
    ConvInputs in = make_inputs(four_rows, 800);
    scale(in.x, 1e-3f);
    scale(in.weight, 1e-3f);
    float* upstream = in.probe.mutable_data();
    const int64_t out_plane = four_rows.height * four_rows.width;  // padding 1 keeps the size
    for (const int64_t b : {0, 1}) {
      std::fill_n(upstream + b * four_rows.out_channels * out_plane, out_plane, 0.0f);
    }
    upstream[0] = 2e38f;
    upstream[1] = -2e38f;
    check(four_rows, in);
  }
}

TEST_CASE("conv2d rejects an empty image plane", "[autodiff][conv2d]") {
  // Padding makes the output of an image with no rows or no columns
  // non-empty, so every path must reject it the same way, with the shape.
  struct EmptyPlaneCase {
    const char* path;
    Shape input;
    Shape weight;
    Conv2dOptions options;
  };
  const EmptyPlaneCase cases[] = {
      {"direct", {2, 1, 0, 5}, {1, 1, 1, 1}, {.padding = {1, 1}}},
      {"implicit", {2, 1, 0, 5}, {4, 1, 1, 2}, {.padding = {1, 1}}},
      {"GEMM, padding as wide as the kernel", {2, 1, 3, 0}, {4, 1, 1, 1}, {.padding = {1, 1}}},
      {"GEMM, stride 2", {2, 1, 0, 5}, {4, 1, 1, 1}, {.stride = {2, 2}, .padding = {1, 1}}},
  };
  for (const EmptyPlaneCase& c : cases) {
    INFO(c.path);
    const std::string shape = shape_to_string(c.input);
    CHECK_THROWS_WITH(conv2d(zeros(c.input), ones(c.weight), Tensor(), c.options),
                      Catch::Contains("conv2d: input " + shape) &&
                          Catch::Contains("height and width must be positive"));
  }
}

TEST_CASE("conv2d backward after an in-place write throws", "[autodiff][conv2d]") {
  Generator generator(400);
  Tensor x = normal({3, 2, 5, 5}, 0.0f, 1.0f, generator).set_requires_grad(true);
  Tensor weight = normal({4, 2, 3, 3}, 0.0f, 1.0f, generator).set_requires_grad(true);
  for (const bool relu : {false, true}) {
    INFO("relu " << relu);
    {
      Tensor y = conv2d(x, weight, Tensor(), {.padding = {1, 1}, .relu = relu});
      y.mutable_data()[0] = 1.0f;
      CHECK_THROWS_WITH(sum(y).backward(), Catch::Contains("output of 'conv2d'") &&
                                               Catch::Contains("modified in place"));
    }
    {
      Tensor input = x.detach().clone().set_requires_grad(true);
      const Tensor loss = sum(conv2d(input, weight, Tensor(), {.relu = relu}));
      input.mutable_data()[0] = 1.0f;
      CHECK_THROWS_WITH(loss.backward(), Catch::Contains("input 0 of 'conv2d'") &&
                                             Catch::Contains("modified in place"));
    }
  }
}

// ------------------------------------------------------------ max_pool2d

namespace {

struct PoolCase {
  const char* name;
  int64_t planes, height, width;
  Pool2dOptions options;
};

const PoolCase kPoolCases[] = {
    {"windows inside, 2x2", 6, 8, 10, {.kernel = {2, 2}}},
    {"windows inside, overlapping 3x3 stride 1", 3, 7, 9, {.kernel = {3, 3}, .stride = {1, 1}}},
    {"windows inside, stride larger than the kernel", 4, 11, 13,
     {.kernel = {2, 3}, .stride = {3, 4}}},
    {"padding, stride 2", 5, 7, 6, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}},
    {"ceil mode with partial windows", 4, 7, 9, {.kernel = {2, 2}, .ceil_mode = true}},
    {"ceil mode, padding and overlap", 3, 8, 5,
     {.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true}},
    {"model A's 3x6 windows, stride 6, long rows", 3, 29, 83, {.kernel = {3, 6}}},
    {"short rows of 3 windows, (2, 3)", 5, 16, 9, {.kernel = {2, 3}}},
    {"parallel, windows inside", 64, 34, 34, {.kernel = {2, 2}}},
    {"parallel, padding", 64, 33, 33, {.kernel = {2, 2}, .padding = {1, 1}}},
};

// The max of each window by its definition: padding never wins, the first
// NaN in row-major order wins over numbers, else the first maximum.
void reference_max_pool(const PoolCase& c, const std::vector<float>& x, int64_t out_h,
                        int64_t out_w, std::vector<float>& y, std::vector<int32_t>& argmax) {
  const Size2 stride = c.options.stride == Size2{0, 0} ? c.options.kernel : c.options.stride;
  y.assign(static_cast<size_t>(c.planes * out_h * out_w), 0.0f);
  argmax.assign(y.size(), -1);
  for (int64_t plane = 0; plane < c.planes; ++plane) {
    for (int64_t i = 0; i < out_h; ++i) {
      for (int64_t j = 0; j < out_w; ++j) {
        float best = 0.0f;
        int32_t best_index = -1;
        for (int64_t p = 0; p < c.options.kernel[0]; ++p) {
          for (int64_t q = 0; q < c.options.kernel[1]; ++q) {
            const int64_t h = i * stride[0] - c.options.padding[0] + p;
            const int64_t w = j * stride[1] - c.options.padding[1] + q;
            if (h < 0 || h >= c.height || w < 0 || w >= c.width) {
              continue;
            }
            const float value = x[static_cast<size_t>((plane * c.height + h) * c.width + w)];
            const bool first = best_index < 0;
            const bool take = first || (!std::isnan(best) && (std::isnan(value) || value > best));
            if (take) {
              best = value;
              best_index = static_cast<int32_t>(h * c.width + w);
            }
          }
        }
        const auto out = static_cast<size_t>((plane * out_h + i) * out_w + j);
        y[out] = best;
        argmax[out] = best_index;
      }
    }
  }
}

}  // namespace

TEST_CASE("max_pool2d edge shapes match the definition", "[autodiff][max_pool2d]") {
  // Small integers make ties common, and a few NaN and -inf are mixed in.
  ThreadCountGuard guard;
  std::mt19937 engine(500);
  std::uniform_int_distribution<int> level(-3, 3);
  std::uniform_int_distribution<int> special(0, 40);
  for (const PoolCase& c : kPoolCases) {
    std::vector<float> values(static_cast<size_t>(c.planes * c.height * c.width));
    for (float& value : values) {
      const int kind = special(engine);
      value = kind == 0   ? kNaN
              : kind == 1 ? -std::numeric_limits<float>::infinity()
                          : static_cast<float>(level(engine));
    }
    Tensor x = from_vector(values, {1, c.planes, c.height, c.width}).set_requires_grad(true);
    for (const int threads : {1, 2, 3}) {
      INFO(c.name << ", " << threads << " threads");
      kernels::set_num_threads(threads);
      x.zero_grad();
      fill_pool_with_nan();
      const MaxPoolResult result = max_pool2d_with_argmax(x, c.options);
      const int64_t out_h = result.output.size(2);
      const int64_t out_w = result.output.size(3);

      std::vector<float> want_y;
      std::vector<int32_t> want_argmax;
      reference_max_pool(c, values, out_h, out_w, want_y, want_argmax);
      const std::vector<float> got_y = result.output.to_vector();
      const std::vector<float> got_argmax = result.argmax.to_vector();
      REQUIRE(got_y.size() == want_y.size());
      int64_t failures = 0;
      for (size_t i = 0; i < got_y.size(); ++i) {
        const bool same = bits_of(got_y[i]) == bits_of(want_y[i]) &&
                          got_argmax[i] == static_cast<float>(want_argmax[i]);
        if (!same && failures++ == 0) {
          INFO("output " << i << ": got " << got_y[i] << " at " << got_argmax[i]
                         << ", expected " << want_y[i] << " at " << want_argmax[i]);
          CHECK(same);
        }
      }
      CHECK(failures == 0);

      // Backward routes each probe value to its window's argmax.
      const std::vector<float> probe_values = [&] {
        std::vector<float> p(got_y.size());
        for (size_t i = 0; i < p.size(); ++i) {
          p[i] = static_cast<float>(i % 7) - 3.0f;
        }
        return p;
      }();
      const Tensor probe = from_vector(probe_values, result.output.shape());
      sum(result.output * probe).backward();
      std::vector<double> want_grad(values.size(), 0.0);
      const int64_t per_plane = out_h * out_w;
      for (size_t i = 0; i < probe_values.size(); ++i) {
        const int64_t plane = static_cast<int64_t>(i) / per_plane;
        want_grad[static_cast<size_t>(plane * c.height * c.width + want_argmax[i])] +=
            probe_values[i];
      }
      require_close(x.grad().to_vector(), want_grad, "grad x");
    }
  }
}

TEST_CASE("max_pool2d backward after an in-place write throws", "[autodiff][max_pool2d]") {
  Tensor x = reshape(arange(16.0f), {1, 1, 4, 4}).set_requires_grad(true);
  Tensor y = max_pool2d(x, {.kernel = {2, 2}});
  y.mutable_data()[0] = 0.0f;
  CHECK_THROWS_WITH(sum(y).backward(), Catch::Contains("output of 'max_pool2d'"));
}

TEST_CASE("conv2d and pooling of an empty batch", "[autodiff][conv2d][max_pool2d]") {
  // Zero images give a zero-image output and a backward that does nothing.
  Tensor x = zeros({0, 2, 5, 5}).set_requires_grad(true);
  Tensor weight = ones({3, 2, 3, 3}).set_requires_grad(true);
  const Tensor y = conv2d(x, weight, Tensor(), {.relu = true});
  CHECK(y.shape() == Shape{0, 3, 3, 3});
  sum(y).backward();
  CHECK(weight.grad().to_vector() == std::vector<float>(18 * 3, 0.0f));

  const Tensor pooled = max_pool2d(x, {.kernel = {2, 2}});
  CHECK(pooled.shape() == Shape{0, 2, 2, 2});
  sum(pooled).backward();
  CHECK(x.grad().numel() == 0);
}
