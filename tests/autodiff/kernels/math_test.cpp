// Accuracy sweeps of the vectorised exp, log, sigmoid and tanh against
// correctly rounded results computed in double, over their whole useful
// range and at the special values, for every SIMD variant. The bounds tested
// here are the ones stated in simd_math.h.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "autodiff/kernels/dispatch.h"
#include "kernel_test_util.h"

using namespace ember::kernels;
using namespace ember::kernels::testing;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kDenormMin = std::numeric_limits<float>::denorm_min();
constexpr float kFloatMin = std::numeric_limits<float>::min();

struct SweepResult {
  int64_t worst_ulp = 0;
  float worst_input = 0.0f;
  float worst_got = 0.0f;
  float worst_want = 0.0f;
};

// Runs `kernel` on inputs and compares with `exact` (computed in double and
// rounded once to float).
SweepResult sweep(KernelTable::Unary kernel, const std::vector<float>& inputs,
                  const std::function<double(double)>& exact) {
  std::vector<float> got(inputs.size());
  kernel(static_cast<int64_t>(inputs.size()), inputs.data(), got.data());

  SweepResult result;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const float want = static_cast<float>(exact(inputs[i]));
    const int64_t distance = ulp_distance(got[i], want);
    if (distance > result.worst_ulp) {
      result = {distance, inputs[i], got[i], want};
    }
  }
  return result;
}

// `count` evenly spaced floats in [low, high].
std::vector<float> linear_range(float low, float high, int count) {
  std::vector<float> values(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    values[static_cast<std::size_t>(i)] =
        static_cast<float>(low + (static_cast<double>(high) - low) * i / (count - 1));
  }
  return values;
}

// Positive floats from the smallest denormal to the largest finite value,
// stepping through the bit patterns, so every binade is visited.
std::vector<float> all_positive_binades(uint32_t step) {
  std::vector<float> values;
  for (uint32_t bits = 1; bits < 0x7f800000u; bits += step) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    values.push_back(value);
  }
  return values;
}

float run_one(KernelTable::Unary kernel, float x) {
  float out;
  kernel(1, &x, &out);
  return out;
}

}  // namespace

TEST_CASE("exp error bound", "[kernels][exp]") {
  for (Isa isa : simd_isas()) {
    const KernelTable& table = kernel_table(isa);
    INFO(isa_name(isa));

    DYNAMIC_SECTION("normal results within 2 ulp on " << isa_name(isa)) {
      // exp(x) is normal for x in [ln FLT_MIN, ln FLT_MAX] = [-87.336, 88.722].
      const SweepResult result =
          sweep(table.exp, linear_range(-87.33f, 88.72f, 1 << 21), [](double x) { return std::exp(x); });
      INFO("worst " << result.worst_ulp << " ulp at x = " << result.worst_input << ": got "
                    << result.worst_got << ", expected " << result.worst_want);
      CHECK(result.worst_ulp <= 2);
    }

    DYNAMIC_SECTION("denormal results within one denormal step on " << isa_name(isa)) {
      const std::vector<float> inputs = linear_range(-103.9f, -87.34f, 1 << 16);
      std::vector<float> got(inputs.size());
      table.exp(static_cast<int64_t>(inputs.size()), inputs.data(), got.data());
      double worst = 0.0;
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        const double error = std::fabs(got[i] - std::exp(static_cast<double>(inputs[i])));
        worst = std::max(worst, error / kDenormMin);
      }
      INFO("worst error " << worst << " denormal steps");
      CHECK(worst <= 1.0);
    }

    DYNAMIC_SECTION("special values on " << isa_name(isa)) {
      CHECK(run_one(table.exp, 0.0f) == 1.0f);
      CHECK(run_one(table.exp, -0.0f) == 1.0f);
      CHECK(run_one(table.exp, kDenormMin) == 1.0f);
      CHECK(run_one(table.exp, -kDenormMin) == 1.0f);
      CHECK(run_one(table.exp, 88.73f) == kInf);
      CHECK(run_one(table.exp, 1000.0f) == kInf);
      CHECK(run_one(table.exp, kInf) == kInf);
      CHECK(run_one(table.exp, -104.0f) == 0.0f);
      CHECK(run_one(table.exp, -1000.0f) == 0.0f);
      CHECK(run_one(table.exp, -kInf) == 0.0f);
      CHECK(std::isnan(run_one(table.exp, kNan)));
      CHECK(std::isfinite(run_one(table.exp, 88.72f)));
    }
  }
}

TEST_CASE("log error bound", "[kernels][log]") {
  for (Isa isa : simd_isas()) {
    const KernelTable& table = kernel_table(isa);
    INFO(isa_name(isa));

    DYNAMIC_SECTION("every binade within 2 ulp on " << isa_name(isa)) {
      // Step 997 visits about 2 million inputs, denormals included.
      const SweepResult result =
          sweep(table.log, all_positive_binades(997), [](double x) { return std::log(x); });
      INFO("worst " << result.worst_ulp << " ulp at x = " << result.worst_input << ": got "
                    << result.worst_got << ", expected " << result.worst_want);
      CHECK(result.worst_ulp <= 2);
    }

    DYNAMIC_SECTION("near one within 2 ulp on " << isa_name(isa)) {
      const SweepResult result =
          sweep(table.log, linear_range(0.5f, 2.0f, 1 << 20), [](double x) { return std::log(x); });
      INFO("worst " << result.worst_ulp << " ulp at x = " << result.worst_input);
      CHECK(result.worst_ulp <= 2);
    }

    DYNAMIC_SECTION("special values on " << isa_name(isa)) {
      CHECK(run_one(table.log, 1.0f) == 0.0f);
      CHECK(run_one(table.log, 0.0f) == -kInf);
      CHECK(run_one(table.log, -0.0f) == -kInf);
      CHECK(run_one(table.log, kInf) == kInf);
      CHECK(std::isnan(run_one(table.log, -1.0f)));
      CHECK(std::isnan(run_one(table.log, -kInf)));
      CHECK(std::isnan(run_one(table.log, kNan)));
      CHECK(run_one(table.log, kDenormMin) == Approx(std::log(static_cast<double>(kDenormMin))));
      CHECK(run_one(table.log, kFloatMin) == Approx(std::log(static_cast<double>(kFloatMin))));
    }
  }
}

TEST_CASE("sigmoid and tanh error bound", "[kernels][activation]") {
  for (Isa isa : simd_isas()) {
    const KernelTable& table = kernel_table(isa);
    INFO(isa_name(isa));
    const std::vector<float> inputs = linear_range(-40.0f, 40.0f, 1 << 20);

    const SweepResult sigmoid = sweep(table.sigmoid, inputs,
                                      [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
    INFO("sigmoid worst " << sigmoid.worst_ulp << " ulp at x = " << sigmoid.worst_input);
    CHECK(sigmoid.worst_ulp <= 4);

    const SweepResult tanh = sweep(table.tanh, inputs, [](double x) { return std::tanh(x); });
    INFO("tanh worst " << tanh.worst_ulp << " ulp at x = " << tanh.worst_input);
    CHECK(tanh.worst_ulp <= 4);

    const SweepResult tanh_small =
        sweep(table.tanh, linear_range(-0.5f, 0.5f, 1 << 20), [](double x) { return std::tanh(x); });
    INFO("tanh near 0 worst " << tanh_small.worst_ulp << " ulp at x = " << tanh_small.worst_input);
    CHECK(tanh_small.worst_ulp <= 4);

    CHECK(run_one(table.sigmoid, -kInf) == 0.0f);
    CHECK(run_one(table.sigmoid, kInf) == 1.0f);
    CHECK(std::isnan(run_one(table.sigmoid, kNan)));
    CHECK(run_one(table.tanh, kInf) == 1.0f);
    CHECK(run_one(table.tanh, -kInf) == -1.0f);
    CHECK(std::signbit(run_one(table.tanh, -0.0f)));
    CHECK(run_one(table.tanh, 1e-30f) == 1e-30f);
    CHECK(std::isnan(run_one(table.tanh, kNan)));
  }
}
