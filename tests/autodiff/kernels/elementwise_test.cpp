// Tests of the elementwise kernels: every SIMD variant against the scalar
// reference at awkward lengths on unaligned buffers, plus hand-computed cases
// through the dispatching functions.
#include <catch2/catch.hpp>

#include <cmath>
#include <iterator>
#include <limits>
#include <string>
#include <utility>

#include "autodiff/kernels/adam.h"
#include "autodiff/kernels/dispatch.h"
#include "autodiff/kernels/elementwise.h"
#include "kernel_test_util.h"

using namespace ember::kernels;
using namespace ember::kernels::testing;

namespace {

const std::pair<const char*, KernelTable::Binary KernelTable::*> kBinaryKernels[] = {
    {"add", &KernelTable::add},
    {"sub", &KernelTable::sub},
    {"mul", &KernelTable::mul},
    {"div", &KernelTable::div},
};

const std::pair<const char*, KernelTable::WithScalar KernelTable::*> kScalarKernels[] = {
    {"add_scalar", &KernelTable::add_scalar},
    {"mul_scalar", &KernelTable::mul_scalar},
    {"div_scalar", &KernelTable::div_scalar},
};

// Maximum ulp error allowed against the scalar reference; 0 means bitwise.
struct UnaryCase {
  const char* name;
  KernelTable::Unary KernelTable::*kernel;
  float low;
  float high;
  int64_t max_ulp;
};

const UnaryCase kUnaryKernels[] = {
    {"relu", &KernelTable::relu, -3.0f, 3.0f, 0},
    {"sigmoid", &KernelTable::sigmoid, -30.0f, 30.0f, 4},
    {"tanh", &KernelTable::tanh, -8.0f, 8.0f, 4},
    {"exp", &KernelTable::exp, -90.0f, 88.0f, 2},
    {"log", &KernelTable::log, 1e-30f, 1e30f, 2},
};

}  // namespace

TEST_CASE("binary kernels match reference bitwise", "[kernels][elementwise]") {
  const KernelTable& reference = kernel_table(Isa::scalar);
  for (Isa isa : simd_isas()) {
    for (int64_t n : awkward_lengths(lanes_of(isa))) {
      const Buffer a = random_buffer(n, 1, -2.0f, 2.0f);
      const Buffer b = random_buffer(n, 2, 0.5f, 3.0f);
      for (const auto& [name, kernel] : kBinaryKernels) {
        Buffer got(n);
        Buffer want(n);
        (kernel_table(isa).*kernel)(n, a.data(), b.data(), got.data());
        (reference.*kernel)(n, a.data(), b.data(), want.data());

        const int64_t index = first_bit_difference(got, want, n);
        INFO(name << " on " << isa_name(isa) << ", n = " << n << ", first difference at "
                  << index);
        CHECK(index == -1);
      }
    }
  }
}

TEST_CASE("scalar-operand kernels match reference bitwise", "[kernels][elementwise]") {
  const KernelTable& reference = kernel_table(Isa::scalar);
  for (Isa isa : simd_isas()) {
    for (int64_t n : awkward_lengths(lanes_of(isa))) {
      const Buffer a = random_buffer(n, 3, -2.0f, 2.0f);
      for (const auto& [name, kernel] : kScalarKernels) {
        Buffer got(n);
        Buffer want(n);
        (kernel_table(isa).*kernel)(n, a.data(), 0.7f, got.data());
        (reference.*kernel)(n, a.data(), 0.7f, want.data());

        const int64_t index = first_bit_difference(got, want, n);
        INFO(name << " on " << isa_name(isa) << ", n = " << n << ", first difference at "
                  << index);
        CHECK(index == -1);
      }
    }
  }
}

TEST_CASE("unary kernels match reference within bound", "[kernels][elementwise]") {
  const KernelTable& reference = kernel_table(Isa::scalar);
  for (Isa isa : simd_isas()) {
    for (int64_t n : awkward_lengths(lanes_of(isa))) {
      for (const UnaryCase& unary : kUnaryKernels) {
        const Buffer x = random_buffer(n, 4, unary.low, unary.high);
        Buffer got(n);
        Buffer want(n);
        (kernel_table(isa).*unary.kernel)(n, x.data(), got.data());
        (reference.*unary.kernel)(n, x.data(), want.data());

        int64_t worst = 0;
        int64_t worst_index = -1;
        for (int64_t i = 0; i < n; ++i) {
          const int64_t distance = ulp_distance(got[i], want[i]);
          if (distance > worst) {
            worst = distance;
            worst_index = i;
          }
        }
        INFO(unary.name << " on " << isa_name(isa) << ", n = " << n << ", worst error " << worst
                        << " ulp at index " << worst_index);
        CHECK(worst <= unary.max_ulp);
      }
    }
  }
}

TEST_CASE("in-place kernels match reference bitwise", "[kernels][elementwise]") {
  const KernelTable& reference = kernel_table(Isa::scalar);
  for (Isa isa : simd_isas()) {
    for (int64_t n : awkward_lengths(lanes_of(isa))) {
      const Buffer x = random_buffer(n, 5, -1.0f, 1.0f);
      const Buffer upstream = random_buffer(n, 6, -1.0f, 1.0f);
      const Buffer start = random_buffer(n, 7, -1.0f, 1.0f);
      INFO(isa_name(isa) << ", n = " << n);

      Buffer got = start;
      Buffer want = start;
      kernel_table(isa).relu_backward(n, x.data(), upstream.data(), got.data());
      reference.relu_backward(n, x.data(), upstream.data(), want.data());
      CHECK(first_bit_difference(got, want, n) == -1);

      got = start;
      want = start;
      kernel_table(isa).relu_mask(n, x.data(), upstream.data(), got.data());
      reference.relu_mask(n, x.data(), upstream.data(), want.data());
      CHECK(first_bit_difference(got, want, n) == -1);

      got = start;
      want = start;
      kernel_table(isa).axpy(n, -0.3f, x.data(), got.data());
      reference.axpy(n, -0.3f, x.data(), want.data());
      CHECK(first_bit_difference(got, want, n) == -1);
    }
  }
}

TEST_CASE("shift_rows matches reference bitwise", "[kernels][elementwise]") {
  // Strided rows of awkward lengths with NaN, infinities and both zeros,
  // with and without the relu, and with a shift of -0, which must keep -0.
  const KernelTable& reference = kernel_table(Isa::scalar);
  constexpr int64_t kRows = 3;
  for (Isa isa : simd_isas()) {
    for (int64_t cols : awkward_lengths(lanes_of(isa))) {
      const int64_t in_ld = cols + 5;
      const int64_t out_ld = cols + 2;
      Buffer in = random_buffer(kRows * in_ld, 10, -1.0f, 1.0f);
      const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                                std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), -0.0f, 0.0f};
      for (size_t k = 0; k < std::size(specials) && static_cast<int64_t>(k) < cols; ++k) {
        in[static_cast<size_t>(in_ld + k)] = specials[k];
      }
      const Buffer start = random_buffer(kRows * out_ld, 11, -1.0f, 1.0f);
      for (const float shift : {0.25f, -0.0f}) {
        for (const bool relu : {false, true}) {
          INFO(isa_name(isa) << ", cols = " << cols << ", shift " << shift << ", relu " << relu);
          Buffer got = start;
          Buffer want = start;
          kernel_table(isa).shift_rows(kRows, cols, in.data(), in_ld, shift, relu, got.data(),
                                       out_ld);
          reference.shift_rows(kRows, cols, in.data(), in_ld, shift, relu, want.data(), out_ld);
          CHECK(first_bit_difference(got, want, kRows * out_ld) == -1);
        }
      }
    }
  }
}

TEST_CASE("shift_rows with a shift of -0", "[kernels][elementwise]") {
  const float in[4] = {-0.0f, 0.0f, -2.0f, std::numeric_limits<float>::quiet_NaN()};
  float out[4] = {};

  // Without the relu the row is copied as it is, -0 and NaN included.
  shift_rows(1, 4, in, 4, -0.0f, /*relu=*/false, out, 4);
  CHECK(std::signbit(out[0]));
  CHECK_FALSE(std::signbit(out[1]));
  CHECK(out[2] == -2.0f);
  CHECK(std::isnan(out[3]));

  // With it, -0, negatives and NaN all become +0.
  shift_rows(1, 4, in, 4, -0.0f, /*relu=*/true, out, 4);
  CHECK_FALSE(std::signbit(out[0]));
  CHECK(out[0] == 0.0f);
  CHECK(out[2] == 0.0f);
  CHECK(out[3] == 0.0f);
  CHECK_FALSE(std::signbit(out[3]));
}

TEST_CASE("adam update matches reference bitwise", "[kernels][adam]") {
  const AdamStep step{/*learning_rate=*/1e-3f, /*beta1=*/0.9f, /*beta2=*/0.999f,
                      /*epsilon=*/1e-8f,        /*bias_correction1=*/0.19f,
                      /*bias_correction2=*/0.002f, /*weight_decay=*/0.01f};
  const KernelTable& reference = kernel_table(Isa::scalar);
  for (Isa isa : simd_isas()) {
    for (int64_t n : awkward_lengths(lanes_of(isa))) {
      const Buffer grad = random_buffer(n, 8, -1.0f, 1.0f);
      Buffer param_got = random_buffer(n, 9, -1.0f, 1.0f);
      Buffer m_got = random_buffer(n, 10, -0.1f, 0.1f);
      Buffer v_got = random_buffer(n, 11, 0.0f, 0.01f);
      Buffer param_want = param_got;
      Buffer m_want = m_got;
      Buffer v_want = v_got;

      kernel_table(isa).adam_update(n, param_got.data(), grad.data(), m_got.data(),
                                    v_got.data(), step);
      reference.adam_update(n, param_want.data(), grad.data(), m_want.data(), v_want.data(),
                            step);

      INFO(isa_name(isa) << ", n = " << n);
      CHECK(first_bit_difference(param_got, param_want, n) == -1);
      CHECK(first_bit_difference(m_got, m_want, n) == -1);
      CHECK(first_bit_difference(v_got, v_want, n) == -1);
    }
  }
}

TEST_CASE("adam first step by hand", "[kernels][adam]") {
  // Betas 1/2 and 3/4 keep every value exact. From m = v = 0 with g = 2:
  // m = 1, v = 1, m_hat = 1 / 0.5 = 2, v_hat = 1 / 0.25 = 4, so the step is
  // lr * 2 / sqrt(4) = lr, after the decay lr * wd * param = 0.05.
  const AdamStep step{/*learning_rate=*/0.1f, /*beta1=*/0.5f, /*beta2=*/0.75f,
                      /*epsilon=*/0.0f,       /*bias_correction1=*/0.5f,
                      /*bias_correction2=*/0.25f, /*weight_decay=*/0.5f};
  float param[3] = {1.0f, 1.0f, 1.0f};
  const float grad[3] = {2.0f, 2.0f, 2.0f};
  float m[3] = {};
  float v[3] = {};

  adam_update(3, param, grad, m, v, step);

  for (int i = 0; i < 3; ++i) {
    CHECK(m[i] == 1.0f);
    CHECK(v[i] == 1.0f);
    CHECK(param[i] == Approx(0.85f));
  }
}

TEST_CASE("relu maps NaN and negative zero to zero", "[kernels][relu]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float x[4] = {-2.0f, -0.0f, 3.0f, nan};
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (!isa_supported(isa)) {
      continue;
    }
    float out[4];
    kernel_table(isa).relu(4, x, out);
    INFO(isa_name(isa));
    CHECK(out[0] == 0.0f);
    CHECK(out[1] == 0.0f);
    CHECK_FALSE(std::signbit(out[1]));
    CHECK(out[2] == 3.0f);
    CHECK(out[3] == 0.0f);
  }
}

TEST_CASE("elementwise dispatch by hand", "[kernels][elementwise]") {
  const float a[3] = {1.0f, -2.0f, 4.0f};
  const float b[3] = {2.0f, 4.0f, -8.0f};
  float out[3];

  add(3, a, b, out);
  CHECK(out[0] == 3.0f);
  CHECK(out[1] == 2.0f);
  CHECK(out[2] == -4.0f);

  div(3, a, b, out);
  CHECK(out[0] == 0.5f);
  CHECK(out[1] == -0.5f);
  CHECK(out[2] == -0.5f);

  float y[3] = {1.0f, 1.0f, 1.0f};
  axpy(3, 2.0f, a, y);
  CHECK(y[0] == 3.0f);
  CHECK(y[1] == -3.0f);
  CHECK(y[2] == 9.0f);

  float grad_x[3] = {1.0f, 1.0f, 1.0f};
  relu_backward(3, a, b, grad_x);
  CHECK(grad_x[0] == 3.0f);
  CHECK(grad_x[1] == 1.0f);
  CHECK(grad_x[2] == -7.0f);

  float masked[3] = {9.0f, 9.0f, 9.0f};
  relu_mask(3, a, b, masked);
  CHECK(masked[0] == 2.0f);
  CHECK(masked[1] == 0.0f);
  CHECK(masked[2] == -8.0f);
}
