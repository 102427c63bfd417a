// Tests of the row-wise kernels: SIMD variants against the scalar reference
// at awkward row lengths, and hand-computed values and edge cases.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "autodiff/kernels/rows.h"
#include "kernel_test_util.h"

using namespace ember::kernels;
using namespace ember::kernels::testing;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Sums in a different order, so results agree to a few ulp of the row's
// magnitude rather than bitwise.
void check_close(const Buffer& got, const Buffer& want, int64_t count, float scale,
                 const char* name) {
  for (int64_t i = 0; i < count; ++i) {
    const float tolerance = 1e-5f * scale;
    if (got[i] == want[i]) {
      continue;  // also covers equal infinities, whose difference is NaN
    }
    if (!(std::fabs(got[i] - want[i]) <= tolerance)) {
      INFO(name << " at " << i << ": got " << got[i] << ", expected " << want[i]);
      CHECK(std::fabs(got[i] - want[i]) <= tolerance);
      return;
    }
  }
}

}  // namespace

TEST_CASE("row kernels match reference", "[kernels][rows]") {
  const KernelTable& reference = kernel_table(Isa::scalar);
  constexpr int64_t rows = 3;
  for (Isa isa : simd_isas()) {
    const KernelTable& simd = kernel_table(isa);
    for (int64_t n : awkward_lengths(lanes_of(isa))) {
      INFO(isa_name(isa) << ", n = " << n);
      const Buffer x = random_buffer(rows * n, 31, -5.0f, 5.0f);
      Buffer got(rows * n);
      Buffer want(rows * n);
      const float n_scale = static_cast<float>(n + 1);

      simd.row_sum(rows, n, x.data(), got.data());
      reference.row_sum(rows, n, x.data(), want.data());
      check_close(got, want, rows, 5.0f * n_scale, "row_sum");

      // dot of row 0 with row 1 (from an unaligned start when n > 1)
      const float* other = x.data() + n + (n > 1 ? 1 : 0);
      const int64_t dot_n = n > 1 ? n - 1 : n;
      Buffer dot_got(1);
      Buffer dot_want(1);
      dot_got[0] = simd.dot(dot_n, x.data(), other);
      dot_want[0] = reference.dot(dot_n, x.data(), other);
      check_close(dot_got, dot_want, 1, 25.0f * n_scale, "dot");

      simd.row_max(rows, n, x.data(), got.data());
      reference.row_max(rows, n, x.data(), want.data());
      CHECK(first_bit_difference(got, want, rows) == -1);

      simd.row_logsumexp(rows, n, x.data(), got.data());
      reference.row_logsumexp(rows, n, x.data(), want.data());
      check_close(got, want, rows, 10.0f, "row_logsumexp");

      simd.row_softmax(rows, n, x.data(), got.data());
      reference.row_softmax(rows, n, x.data(), want.data());
      check_close(got, want, rows * n, 1.0f, "row_softmax");

      simd.row_log_softmax(rows, n, x.data(), got.data());
      reference.row_log_softmax(rows, n, x.data(), want.data());
      check_close(got, want, rows * n, 10.0f, "row_log_softmax");

      // The backward from the reference's log-probabilities, onto a start.
      const Buffer upstream = random_buffer(rows * n, 32, -1.0f, 1.0f);
      const Buffer log_probabilities = want;
      got = random_buffer(rows * n, 33, -1.0f, 1.0f);
      want = got;
      simd.row_log_softmax_backward(rows, n, log_probabilities.data(), upstream.data(),
                                    got.data());
      reference.row_log_softmax_backward(rows, n, log_probabilities.data(), upstream.data(),
                                         want.data());
      check_close(got, want, rows * n, 2.0f * n_scale, "row_log_softmax_backward");
    }
  }
}

TEST_CASE("row kernels by hand", "[kernels][rows]") {
  // Rows [0, ln 3] and [1, 1]: softmax [1/4, 3/4] and [1/2, 1/2].
  const float x[4] = {0.0f, std::log(3.0f), 1.0f, 1.0f};
  float out[4];

  row_sum(2, 2, x, out);
  CHECK(out[0] == Approx(std::log(3.0f)));
  CHECK(out[1] == 2.0f);

  const float a[3] = {1.0f, 2.0f, 3.0f};
  const float b[3] = {4.0f, -5.0f, 6.0f};
  CHECK(dot(3, a, b) == 12.0f);  // 4 - 10 + 18
  CHECK(dot(0, a, b) == 0.0f);

  row_max(2, 2, x, out);
  CHECK(out[0] == std::log(3.0f));
  CHECK(out[1] == 1.0f);

  row_logsumexp(2, 2, x, out);
  CHECK(out[0] == Approx(std::log(4.0f)));
  CHECK(out[1] == Approx(1.0f + std::log(2.0f)));

  row_softmax(2, 2, x, out);
  CHECK(out[0] == Approx(0.25f));
  CHECK(out[1] == Approx(0.75f));
  CHECK(out[2] == Approx(0.5f));
  CHECK(out[3] == Approx(0.5f));

  row_log_softmax(2, 2, x, out);
  CHECK(out[0] == Approx(std::log(0.25f)));
  CHECK(out[1] == Approx(std::log(0.75f)));
}

TEST_CASE("row kernels at infinities and empty rows", "[kernels][rows]") {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (!isa_supported(isa)) {
      continue;
    }
    const KernelTable& table = kernel_table(isa);
    INFO(isa_name(isa));
    float out[2];

    DYNAMIC_SECTION("all -inf gives -inf on " << isa_name(isa)) {
      const float x[3] = {-kInf, -kInf, -kInf};
      table.row_logsumexp(1, 3, x, out);
      CHECK(out[0] == -kInf);
    }

    DYNAMIC_SECTION("+inf gives +inf on " << isa_name(isa)) {
      const float x[3] = {1.0f, kInf, 2.0f};
      table.row_logsumexp(1, 3, x, out);
      CHECK(out[0] == kInf);
    }

    DYNAMIC_SECTION("log-softmax backward skips zero probabilities on " << isa_name(isa)) {
      // y = log [1/2, 0, 1/2], upstream [1, 5, 3]: the sum is 9, so the two
      // live elements get 1 - 9/2 and 3 - 9/2 and the -inf one nothing.
      const float y[3] = {std::log(0.5f), -kInf, std::log(0.5f)};
      const float upstream[3] = {1.0f, 5.0f, 3.0f};
      float grad[3] = {10.0f, 10.0f, 10.0f};
      table.row_log_softmax_backward(1, 3, y, upstream, grad);
      CHECK(grad[0] == Approx(6.5f));
      CHECK(grad[1] == 10.0f);
      CHECK(grad[2] == Approx(8.5f));
    }

    DYNAMIC_SECTION("all -inf gives zero probabilities on " << isa_name(isa)) {
      const float x[3] = {-kInf, -kInf, -kInf};
      float probabilities[3];
      float log_probabilities[3];
      table.row_softmax(1, 3, x, probabilities);
      table.row_log_softmax(1, 3, x, log_probabilities);
      for (int j = 0; j < 3; ++j) {
        CHECK(probabilities[j] == 0.0f);
        CHECK(log_probabilities[j] == -kInf);
      }
    }

    DYNAMIC_SECTION("NaN propagates on " << isa_name(isa)) {
      // NaN in the last lane of a full register and in a tail.
      float x[19];
      for (int j = 0; j < 19; ++j) x[j] = static_cast<float>(j);
      for (int position : {15, 18}) {
        x[position] = std::numeric_limits<float>::quiet_NaN();
        table.row_max(1, 19, x, out);
        CHECK(std::isnan(out[0]));
        table.row_logsumexp(1, 19, x, out);
        CHECK(std::isnan(out[0]));
        x[position] = 1e30f;
      }
    }

    DYNAMIC_SECTION("-inf entries get zero probability on " << isa_name(isa)) {
      const float x[3] = {-kInf, 0.0f, -kInf};
      float probabilities[3];
      table.row_softmax(1, 3, x, probabilities);
      CHECK(probabilities[0] == 0.0f);
      CHECK(probabilities[1] == 1.0f);
      CHECK(probabilities[2] == 0.0f);
    }

    DYNAMIC_SECTION("empty rows on " << isa_name(isa)) {
      table.row_sum(2, 0, nullptr, out);
      CHECK(out[0] == 0.0f);
      table.row_max(2, 0, nullptr, out);
      CHECK(out[1] == -kInf);
      table.row_logsumexp(2, 0, nullptr, out);
      CHECK(out[0] == -kInf);
    }
  }
}
