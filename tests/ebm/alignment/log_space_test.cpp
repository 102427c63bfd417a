// Tests of the vectorisable fast_exp / fast_log against std::exp / std::log,
// and of the batch-splitting parallel_for.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "ebm/alignment/log_space.h"
#include "autodiff/kernels/threads.h"
#include "ebm/alignment/parallel.h"

using namespace ember::alignment;

TEST_CASE("fast_exp matches std::exp", "[alignment][log_space]") {
  for (float x = -87.0f; x <= 20.0f; x += 0.01f) {
    INFO("x = " << x);
    const float expected = std::exp(x);
    REQUIRE(fast_exp(x) == Approx(expected).epsilon(4e-7));
  }
  CHECK(fast_exp(0.0f) == 1.0f);
  CHECK(fast_exp(-100.0f) == 0.0f);
  CHECK(fast_exp(-std::numeric_limits<float>::infinity()) == 0.0f);
}

TEST_CASE("fast_log matches std::log", "[alignment][log_space]") {
  for (float x = 1e-30f; x < 1e30f; x *= 1.37f) {
    INFO("x = " << x);
    REQUIRE(fast_log(x) == Approx(std::log(x)).epsilon(4e-7).margin(2e-7));
  }
  for (float x = 1.0f; x <= 3.0f; x += 0.001f) {
    INFO("x = " << x);
    REQUIRE(fast_log(x) == Approx(std::log(x)).margin(2e-7));
  }
  CHECK(fast_log(1.0f) == 0.0f);
  CHECK(fast_log(0.0f) == -std::numeric_limits<float>::infinity());
}

TEST_CASE("log_add3 handles -inf as the identity", "[alignment][log_space]") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(log_add3(-inf, -inf, -inf) == -inf);
  CHECK(log_add3(2.0f, -inf, -inf) == Approx(2.0f));
  CHECK(log_add3(0.0f, 0.0f, 0.0f) == Approx(std::log(3.0f)));
  CHECK(log_add3(1000.0f, 999.0f, -inf) == Approx(1000.0f + std::log1p(std::exp(-1.0f))));
  CHECK(log_add(-inf, -inf) == -inf);
  CHECK(log_add(1.0f, 1.0f) == Approx(1.0f + std::log(2.0f)));
}

TEST_CASE("parallel_for covers every item once", "[alignment][parallel]") {
  const int saved = ember::kernels::num_threads();
  for (const int threads : {1, 2, 3}) {
    ember::kernels::set_num_threads(threads);
    for (const int64_t count : {0, 1, 3, 37}) {
      INFO(threads << " threads, " << count << " items");
      std::vector<int> visits(count, 0);
      parallel_for(count, 2, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          ++visits[i];
        }
      });
      CHECK(visits == std::vector<int>(count, 1));
    }
  }
  ember::kernels::set_num_threads(saved);
}
