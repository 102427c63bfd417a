// The theory of energy-based learning, checked numerically.
//
// Each loss's gradient with respect to the weights W of a small energy
// network is derived by hand as
//     dL/dW = (1/B) sum_i sum_k dL_i/dF(x_i, k) * dF(x_i, k)/dW,
// with dL_i/dF written out per loss (the closed forms in ebm/losses.h and
// docs/theory.md) and dF/dW written out per network. The tests compare that
// with what autodiff computes, including points exactly at a margin, where
// the hinge-type losses take the subgradient 0. Further tests check the
// relations between losses: NLL's gradient as "correct minus Gibbs average",
// NLL tending to the perceptron loss, two-class NLL equal to the log loss,
// NLL never reaching zero, and the collapse of the energy loss.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "autodiff/autodiff.h"
#include "ebm/energy.h"
#include "ebm/losses.h"

using namespace ember;

namespace {

constexpr int64_t kLabels = 3;
constexpr int64_t kInputs = 2;
constexpr float kMargin = 1.0f;
constexpr float kGamma = 2.0f;
constexpr float kDelta = 1.0f;
constexpr float kBeta = 1.5f;

// ------------------------------------------------------------ dL/dF by hand

// The correct energy and the most offending incorrect one of one sample,
// found here independently of ebm::most_offending_incorrect (same tie rule:
// lowest index).
struct Contrast {
  int64_t correct = 0;
  int64_t offending = 0;
  double fy = 0.0;
  double fbar = 0.0;
};

Contrast find_contrast(const std::vector<double>& f, int64_t y) {
  Contrast c;
  c.correct = y;
  c.fy = f[static_cast<size_t>(y)];
  c.offending = -1;
  for (int64_t k = 0; k < static_cast<int64_t>(f.size()); ++k) {
    if (k != y && (c.offending < 0 || f[static_cast<size_t>(k)] < c.fbar)) {
      c.offending = k;
      c.fbar = f[static_cast<size_t>(k)];
    }
  }
  return c;
}

double sigmoid_of(double u) { return 1.0 / (1.0 + std::exp(-u)); }

// dL/dF(x, k) of one sample's loss, for k = 0 .. C-1.
using EnergyGradient = std::function<std::vector<double>(const std::vector<double>& f, int64_t y)>;

// A loss under test: the library function (mean reduction) and the gradient
// derived by hand.
struct LossCase {
  std::string name;
  std::function<Tensor(const Tensor&, const std::vector<int64_t>&)> loss;
  EnergyGradient energy_gradient;
};

// Adds gy to dL/dF(y) and gbar to dL/dF(ybar).
std::vector<double> contrast_gradient(const std::vector<double>& f, const Contrast& c, double gy,
                                      double gbar) {
  std::vector<double> g(f.size(), 0.0);
  g[static_cast<size_t>(c.correct)] += gy;
  g[static_cast<size_t>(c.offending)] += gbar;
  return g;
}

LossCase energy_case() {
  return {"energy", [](const Tensor& e, const auto& y) { return ebm::energy_loss(e, y); },
          [](const std::vector<double>& f, int64_t y) {
            // L = F(y): dL/dF(y) = 1.
            std::vector<double> g(f.size(), 0.0);
            g[static_cast<size_t>(y)] = 1.0;
            return g;
          }};
}

LossCase perceptron_case() {
  return {"perceptron", [](const Tensor& e, const auto& y) { return ebm::perceptron_loss(e, y); },
          [](const std::vector<double>& f, int64_t y) {
            // L = [F(y) - F(ybar)]+: (1, -1) when F(y) > F(ybar), else 0.
            const Contrast c = find_contrast(f, y);
            const double active = c.fy > c.fbar ? 1.0 : 0.0;
            return contrast_gradient(f, c, active, -active);
          }};
}

LossCase simple_case() {
  return {"simple", [](const Tensor& e, const auto& y) { return ebm::simple_loss(e, y, kMargin); },
          [](const std::vector<double>& f, int64_t y) {
            // L = [F(y)]+ + [m - F(ybar)]+: 1 on F(y) if F(y) > 0, -1 on
            // F(ybar) if F(ybar) < m.
            const Contrast c = find_contrast(f, y);
            const double pull_down = c.fy > 0.0 ? 1.0 : 0.0;
            const double push_up = kMargin - c.fbar > 0.0 ? -1.0 : 0.0;
            return contrast_gradient(f, c, pull_down, push_up);
          }};
}

LossCase hinge_case() {
  return {"hinge", [](const Tensor& e, const auto& y) { return ebm::hinge_loss(e, y, kMargin); },
          [](const std::vector<double>& f, int64_t y) {
            // L = [F(y) - F(ybar) + m]+: (1, -1) strictly inside the margin.
            const Contrast c = find_contrast(f, y);
            const double active = c.fy - c.fbar + kMargin > 0.0 ? 1.0 : 0.0;
            return contrast_gradient(f, c, active, -active);
          }};
}

LossCase log_case() {
  return {"log", [](const Tensor& e, const auto& y) { return ebm::log_loss(e, y); },
          [](const std::vector<double>& f, int64_t y) {
            // L = log(1 + exp(F(y) - F(ybar))): (s, -s), s = sigmoid(F(y) - F(ybar)).
            const Contrast c = find_contrast(f, y);
            const double s = sigmoid_of(c.fy - c.fbar);
            return contrast_gradient(f, c, s, -s);
          }};
}

LossCase square_square_case() {
  return {"square-square",
          [](const Tensor& e, const auto& y) { return ebm::square_square_loss(e, y, kMargin); },
          [](const std::vector<double>& f, int64_t y) {
            // L = [F(y)]+^2 + [m - F(ybar)]+^2: (2 [F(y)]+, -2 [m - F(ybar)]+).
            const Contrast c = find_contrast(f, y);
            return contrast_gradient(f, c, 2.0 * std::max(c.fy, 0.0),
                                     -2.0 * std::max(kMargin - c.fbar, 0.0));
          }};
}

LossCase square_exponential_case() {
  return {"square-exponential",
          [](const Tensor& e, const auto& y) { return ebm::square_exponential_loss(e, y, kGamma); },
          [](const std::vector<double>& f, int64_t y) {
            // L = F(y)^2 + gamma exp(-F(ybar)): (2 F(y), -gamma exp(-F(ybar))).
            const Contrast c = find_contrast(f, y);
            return contrast_gradient(f, c, 2.0 * c.fy, -kGamma * std::exp(-c.fbar));
          }};
}

LossCase lvq2_case() {
  return {"lvq2", [](const Tensor& e, const auto& y) { return ebm::lvq2_loss(e, y, kDelta); },
          [](const std::vector<double>& f, int64_t y) {
            // L = min(1, [r]+), r = (F(y) - F(ybar)) / (delta F(ybar)). For
            // 0 < r < 1: dr/dF(y) = 1 / (delta F(ybar)) and
            // dr/dF(ybar) = -F(y) / (delta F(ybar)^2); otherwise 0.
            const Contrast c = find_contrast(f, y);
            const double r = (c.fy - c.fbar) / (kDelta * c.fbar);
            if (r <= 0.0 || r >= 1.0) {
              return std::vector<double>(f.size(), 0.0);
            }
            return contrast_gradient(f, c, 1.0 / (kDelta * c.fbar),
                                     -c.fy / (kDelta * c.fbar * c.fbar));
          }};
}

LossCase mce_case() {
  return {"mce", [](const Tensor& e, const auto& y) { return ebm::mce_loss(e, y); },
          [](const std::vector<double>& f, int64_t y) {
            // L = s = sigmoid(F(y) - F(ybar)): (s (1 - s), -s (1 - s)).
            const Contrast c = find_contrast(f, y);
            const double s = sigmoid_of(c.fy - c.fbar);
            return contrast_gradient(f, c, s * (1.0 - s), -s * (1.0 - s));
          }};
}

// Gibbs probabilities exp(-beta F_k) / sum_j exp(-beta F_j), in double.
std::vector<double> gibbs_by_hand(const std::vector<double>& f, double beta) {
  const double lowest = *std::min_element(f.begin(), f.end());
  std::vector<double> p(f.size());
  double total = 0.0;
  for (size_t k = 0; k < f.size(); ++k) {
    p[k] = std::exp(-beta * (f[k] - lowest));
    total += p[k];
  }
  for (double& value : p) {
    value /= total;
  }
  return p;
}

LossCase nll_case() {
  return {"nll", [](const Tensor& e, const auto& y) { return ebm::nll_loss(e, y, kBeta); },
          [](const std::vector<double>& f, int64_t y) {
            // L = F(y) + (1/beta) log sum_k exp(-beta F_k): [k = y] - p_k.
            std::vector<double> g = gibbs_by_hand(f, kBeta);
            for (double& value : g) {
              value = -value;
            }
            g[static_cast<size_t>(y)] += 1.0;
            return g;
          }};
}

// ------------------------------------------------------------ networks

// Checks an autodiff gradient against a closed form, element by element.
void check_gradient(const char* name, const Tensor& autodiff_grad,
                    const std::vector<double>& closed_form) {
  REQUIRE(autodiff_grad.defined());
  REQUIRE(autodiff_grad.numel() == static_cast<int64_t>(closed_form.size()));
  const std::vector<float> values = autodiff_grad.to_vector();
  for (size_t j = 0; j < closed_form.size(); ++j) {
    INFO(name << "[" << j << "]: autodiff " << values[j] << ", closed form " << closed_form[j]);
    CHECK(values[j] == Approx(closed_form[j]).margin(1e-5));
  }
}

std::vector<double> row_of(const Tensor& t, int64_t i) {
  const int64_t width = t.size(1);
  const float* start = t.data() + i * width;
  return std::vector<double>(start, start + width);
}

// A linear energy F(x, k) = w_k . x + b_k with W [C, D] = [[1, 0], [0, 1],
// [1, -1]] and b = [0, 0, 2], so F(x) = [x0, x1, x0 - x1 + 2]: small
// integers in, exact energies out, which puts points exactly on a margin.
struct LinearEnergy {
  Tensor weight = from_vector({1, 0, 0, 1, 1, -1}, {kLabels, kInputs}).set_requires_grad(true);
  Tensor bias = from_vector({0, 0, 2}, {kLabels}).set_requires_grad(true);

  Tensor energies(const Tensor& x) const { return matmul(x, transpose(weight, 0, 1)) + bias; }
};

// dF(x, k)/dW for the linear energy: row k is x, every other row is 0.
std::vector<double> linear_dF_dweight(const std::vector<double>& x, int64_t k) {
  std::vector<double> d(static_cast<size_t>(kLabels * kInputs), 0.0);
  for (int64_t j = 0; j < kInputs; ++j) {
    d[static_cast<size_t>(k * kInputs + j)] = x[static_cast<size_t>(j)];
  }
  return d;
}

// dF(x, k)/db for the linear energy: the unit vector e_k.
std::vector<double> linear_dF_dbias(int64_t k) {
  std::vector<double> d(static_cast<size_t>(kLabels), 0.0);
  d[static_cast<size_t>(k)] = 1.0;
  return d;
}

void add_scaled(std::vector<double>& total, const std::vector<double>& term, double scale) {
  for (size_t j = 0; j < total.size(); ++j) {
    total[j] += scale * term[j];
  }
}

// Runs one loss on the linear energy at inputs x [B, 2] and compares the
// autodiff gradients of W and b with the closed form.
void check_linear_closed_form(const LossCase& loss_case, const std::vector<float>& x_values,
                              const std::vector<int64_t>& labels) {
  const auto batch = static_cast<int64_t>(labels.size());
  const Tensor x = from_vector(x_values, {batch, kInputs});
  LinearEnergy net;
  const Tensor energies = net.energies(x);
  loss_case.loss(energies, labels).backward();

  // dL/dW = (1/B) sum_i sum_k dL_i/dF(x_i, k) dF(x_i, k)/dW, and likewise b.
  std::vector<double> expected_weight(static_cast<size_t>(kLabels * kInputs), 0.0);
  std::vector<double> expected_bias(static_cast<size_t>(kLabels), 0.0);
  for (int64_t i = 0; i < batch; ++i) {
    const std::vector<double> xi = row_of(x, i);
    const std::vector<double> g =
        loss_case.energy_gradient(row_of(energies, i), labels[static_cast<size_t>(i)]);
    for (int64_t k = 0; k < kLabels; ++k) {
      const double scale = g[static_cast<size_t>(k)] / static_cast<double>(batch);
      add_scaled(expected_weight, linear_dF_dweight(xi, k), scale);
      add_scaled(expected_bias, linear_dF_dbias(k), scale);
    }
  }
  INFO(loss_case.name << " loss");
  check_gradient("dL/dW", net.weight.grad(), expected_weight);
  check_gradient("dL/db", net.bias.grad(), expected_bias);
}

// The linear energies [x0, x1, x0 - x1 + 2] of one input, for stating where
// a scenario sits relative to the margin.
Contrast linear_contrast(float x0, float x1, int64_t y) {
  return find_contrast({x0, x1, x0 - x1 + 2.0}, y);
}

// A two-layer energy F(x, k) = v_k . tanh(A x + a) + c_k with H hidden units.
struct TwoLayerEnergy {
  static constexpr int64_t kHidden = 4;
  Tensor a_weight;  // A [H, D]
  Tensor a_bias;    // a [H]
  Tensor v_weight;  // V [C, H]
  Tensor v_bias;    // c [C]

  explicit TwoLayerEnergy(uint64_t seed) {
    Generator generator(seed);
    a_weight = normal({kHidden, kInputs}, 0.0f, 1.0f, generator).set_requires_grad(true);
    a_bias = normal({kHidden}, 0.0f, 0.5f, generator).set_requires_grad(true);
    v_weight = normal({kLabels, kHidden}, 0.0f, 1.0f, generator).set_requires_grad(true);
    v_bias = normal({kLabels}, 0.0f, 0.5f, generator).set_requires_grad(true);
  }

  Tensor energies(const Tensor& x) const {
    const Tensor hidden = tanh(matmul(x, transpose(a_weight, 0, 1)) + a_bias);
    return matmul(hidden, transpose(v_weight, 0, 1)) + v_bias;
  }

  // h = tanh(A x + a) for one input, in double.
  std::vector<double> hidden_by_hand(const std::vector<double>& x) const {
    std::vector<double> h(kHidden);
    for (int64_t j = 0; j < kHidden; ++j) {
      double pre = a_bias.at({j});
      for (int64_t d = 0; d < kInputs; ++d) {
        pre += a_weight.at({j, d}) * x[static_cast<size_t>(d)];
      }
      h[static_cast<size_t>(j)] = std::tanh(pre);
    }
    return h;
  }
};

// dF(x, k)/d(parameters) of the two-layer energy, by the chain rule:
// dF/dA[j, d] = v_k[j] (1 - h_j^2) x_d, dF/da[j] = v_k[j] (1 - h_j^2),
// dF/dV[k', j] = [k' = k] h_j, dF/dc[k'] = [k' = k].
struct TwoLayerEnergyGradient {
  std::vector<double> a_weight, a_bias, v_weight, v_bias;
};

TwoLayerEnergyGradient two_layer_dF(const TwoLayerEnergy& net, const std::vector<double>& x,
                                    int64_t k) {
  constexpr int64_t kHidden = TwoLayerEnergy::kHidden;
  const std::vector<double> h = net.hidden_by_hand(x);
  TwoLayerEnergyGradient d{std::vector<double>(kHidden * kInputs, 0.0),
                           std::vector<double>(kHidden, 0.0),
                           std::vector<double>(kLabels * kHidden, 0.0),
                           std::vector<double>(kLabels, 0.0)};
  for (int64_t j = 0; j < kHidden; ++j) {
    const double through_tanh =
        net.v_weight.at({k, j}) * (1.0 - h[static_cast<size_t>(j)] * h[static_cast<size_t>(j)]);
    for (int64_t i = 0; i < kInputs; ++i) {
      d.a_weight[static_cast<size_t>(j * kInputs + i)] = through_tanh * x[static_cast<size_t>(i)];
    }
    d.a_bias[static_cast<size_t>(j)] = through_tanh;
    d.v_weight[static_cast<size_t>(k * kHidden + j)] = h[static_cast<size_t>(j)];
  }
  d.v_bias[static_cast<size_t>(k)] = 1.0;
  return d;
}

}  // namespace

// ------------------------------------------------------------ closed forms

TEST_CASE("hinge loss gradient through a linear energy", "[ebm][theory][hw-1.3b][hw-1.1h]") {
  SECTION("inside the margin: dL/dW = dF(x, y)/dW - dF(x, ybar)/dW") {
    const Contrast c = linear_contrast(0.5f, 1.0f, 0);
    CHECK(c.fy - c.fbar + kMargin > 0);
    check_linear_closed_form(hinge_case(), {0.5f, 1.0f, 1.0f, 0.0f}, {0, 2});
  }
  SECTION("beyond the margin: zero gradient") {
    const Contrast c = linear_contrast(-3.0f, 0.5f, 0);
    CHECK(c.fy - c.fbar + kMargin < 0);
    check_linear_closed_form(hinge_case(), {-3.0f, 0.5f, 2.0f, -1.0f}, {0, 1});
  }
  SECTION("exactly at the margin: the subgradient 0") {
    // F = [0, 1, 1], y = 0: ybar = 1 (the tie goes to the lower index) and
    // F(y) - F(ybar) + m = 0. F = [2, 3, 1], y = 2: likewise 0.
    const Contrast first = linear_contrast(0.0f, 1.0f, 0);
    const Contrast second = linear_contrast(2.0f, 3.0f, 2);
    CHECK(first.offending == 1);
    CHECK(first.fy - first.fbar + kMargin == 0.0);
    CHECK(second.fy - second.fbar + kMargin == 0.0);
    check_linear_closed_form(hinge_case(), {0.0f, 1.0f, 2.0f, 3.0f}, {0, 2});
    LinearEnergy net;
    ebm::hinge_loss(net.energies(from_vector({0, 1, 2, 3}, {2, 2})), {0, 2}, kMargin).backward();
    CHECK(net.weight.grad().to_vector() == std::vector<float>(6, 0.0f));
  }
}

TEST_CASE("simple loss gradient through a linear energy", "[ebm][theory][hw-1.3a]") {
  SECTION("both terms active: dF(x, y)/dW - dF(x, ybar)/dW") {
    const Contrast c = linear_contrast(0.5f, 0.75f, 0);
    CHECK(c.fy > 0);
    CHECK(kMargin - c.fbar > 0);
    check_linear_closed_form(simple_case(), {0.5f, 0.75f, 2.0f, -1.0f}, {0, 0});
  }
  SECTION("both terms inactive: zero gradient") {
    const Contrast c = linear_contrast(1.5f, 4.0f, 2);
    CHECK(c.fy < 0);
    CHECK(kMargin - c.fbar < 0);
    check_linear_closed_form(simple_case(), {1.5f, 4.0f}, {2});
  }
  SECTION("one term active: only dF(x, y)/dW") {
    const Contrast c = linear_contrast(3.0f, 3.5f, 0);
    CHECK(c.fy > 0);
    CHECK(kMargin - c.fbar < 0);
    check_linear_closed_form(simple_case(), {3.0f, 3.5f}, {0});
  }
  SECTION("exactly at both kinks, F(x, y) = 0 and F(x, ybar) = m: the subgradient 0") {
    const Contrast c = linear_contrast(0.0f, 1.0f, 0);
    CHECK(c.fy == 0.0);
    CHECK(c.fbar == kMargin);
    check_linear_closed_form(simple_case(), {0.0f, 1.0f}, {0});
  }
}

TEST_CASE("square-square loss gradient through a linear energy", "[ebm][theory][hw-1.3c]") {
  SECTION("both terms active: 2 F(x, y) dF(x, y)/dW - 2 (m - F(x, ybar)) dF(x, ybar)/dW") {
    check_linear_closed_form(square_square_case(), {0.5f, 0.75f, 2.0f, -1.0f}, {0, 0});
  }
  SECTION("both terms inactive: zero gradient") {
    check_linear_closed_form(square_square_case(), {1.5f, 4.0f}, {2});
  }
  SECTION("exactly at both kinks the gradient is 0 from either side") {
    check_linear_closed_form(square_square_case(), {0.0f, 1.0f}, {0});
  }
}

TEST_CASE("perceptron loss gradient through a linear energy", "[ebm][theory][hw-1.3d]") {
  SECTION("wrong answer wins: dF(x, y)/dW - dF(x, ybar)/dW") {
    check_linear_closed_form(perceptron_case(), {0.5f, 0.75f}, {1});
  }
  SECTION("correct answer wins: zero gradient, however small the gap") {
    check_linear_closed_form(perceptron_case(), {0.5f, 0.75f}, {0});
  }
  SECTION("a tie between y and ybar: the subgradient 0") {
    const Contrast c = linear_contrast(1.0f, 1.0f, 0);
    CHECK(c.fy == c.fbar);
    check_linear_closed_form(perceptron_case(), {1.0f, 1.0f}, {0});
  }
}

TEST_CASE("lvq2 loss gradient through a linear energy", "[ebm][theory]") {
  SECTION("ratio inside (0, 1)") {
    check_linear_closed_form(lvq2_case(), {1.5f, 1.0f}, {0});
  }
  SECTION("ratio exactly 0 and exactly 1: the subgradient 0") {
    // F = [1, 1, 2], y = 0: r = 0. F = [2, 1, 3], y = 0: r = (2 - 1) / 1 = 1.
    check_linear_closed_form(lvq2_case(), {1.0f, 1.0f, 2.0f, 1.0f}, {0, 0});
  }
  SECTION("saturated above 1 and correct answer winning: zero gradient") {
    check_linear_closed_form(lvq2_case(), {3.0f, 1.0f, 1.0f, 1.5f}, {0, 0});
  }
}

TEST_CASE("smooth losses gradient through a linear energy",
          "[ebm][theory][hw-1.1e][hw-1.2c][hw-1.3d]") {
  const std::vector<float> x = {0.5f, 0.75f, 2.0f, -1.0f, -0.3f, 0.4f};
  const std::vector<int64_t> labels = {1, 0, 2};
  for (const LossCase& loss_case :
       {energy_case(), log_case(), square_exponential_case(), mce_case(), nll_case()}) {
    SECTION(loss_case.name) { check_linear_closed_form(loss_case, x, labels); }
  }
}

TEST_CASE("every loss gradient through a two-layer energy", "[ebm][theory][hw-1.3a][hw-1.3b]"
          "[hw-1.3c][hw-1.2c]") {
  // LVQ2 needs positive energies; the linear tests cover it.
  for (const LossCase& loss_case :
       {energy_case(), perceptron_case(), simple_case(), hinge_case(), log_case(),
        square_square_case(), square_exponential_case(), mce_case(), nll_case()}) {
    SECTION(loss_case.name) {
      Generator generator(11);
      const Tensor x = normal({5, kInputs}, 0.0f, 1.0f, generator);
      const std::vector<int64_t> labels = {0, 2, 1, 1, 2};
      const TwoLayerEnergy net(7);
      const Tensor energies = net.energies(x);
      loss_case.loss(energies, labels).backward();

      TwoLayerEnergyGradient expected{std::vector<double>(net.a_weight.numel(), 0.0),
                                      std::vector<double>(net.a_bias.numel(), 0.0),
                                      std::vector<double>(net.v_weight.numel(), 0.0),
                                      std::vector<double>(net.v_bias.numel(), 0.0)};
      for (int64_t i = 0; i < 5; ++i) {
        const std::vector<double> xi = row_of(x, i);
        const std::vector<double> g =
            loss_case.energy_gradient(row_of(energies, i), labels[static_cast<size_t>(i)]);
        for (int64_t k = 0; k < kLabels; ++k) {
          const double scale = g[static_cast<size_t>(k)] / 5.0;
          const TwoLayerEnergyGradient d = two_layer_dF(net, xi, k);
          add_scaled(expected.a_weight, d.a_weight, scale);
          add_scaled(expected.a_bias, d.a_bias, scale);
          add_scaled(expected.v_weight, d.v_weight, scale);
          add_scaled(expected.v_bias, d.v_bias, scale);
        }
      }
      check_gradient("dL/dA", net.a_weight.grad(), expected.a_weight);
      check_gradient("dL/da", net.a_bias.grad(), expected.a_bias);
      check_gradient("dL/dV", net.v_weight.grad(), expected.v_weight);
      check_gradient("dL/dc", net.v_bias.grad(), expected.v_bias);
    }
  }
}

// ------------------------------------------------------------ NLL

TEST_CASE("nll is the scaled negative log gibbs probability", "[ebm][theory][hw-1.2b]") {
  const Tensor energies = from_vector({0.5f, 2.0f, 1.0f, 3.0f, -1.0f, 0.5f}, {2, 3});
  const std::vector<int64_t> labels = {0, 2};
  for (const float beta : {0.5f, 1.0f, 3.0f}) {
    const Tensor nll = ebm::nll_loss(energies, labels, beta, ebm::Reduction::kNone);
    const Tensor log_p = ebm::log_gibbs(energies, beta);
    const Tensor soft = ebm::free_energy_soft(energies, beta);
    INFO("beta " << beta);
    CHECK(nll.at({0}) == Approx(-log_p.at({0, 0}) / beta));
    CHECK(nll.at({1}) == Approx(-log_p.at({1, 2}) / beta));
    CHECK(nll.at({0}) == Approx(energies.at({0, 0}) - soft.at({0})));
  }
}

TEST_CASE("nll gradient is correct minus gibbs average", "[ebm][theory][hw-1.2c]") {
  // dL/dW = dF(x, y)/dW - sum_y' p(y'|x) dF(x, y')/dW for one sample, with
  // dF(x, y')/dW taken from autodiff of each energy on its own, so the
  // identity is checked for the network as a black box.
  Generator generator(21);
  const Tensor x = normal({1, kInputs}, 0.0f, 1.0f, generator);
  const int64_t y = 1;
  const TwoLayerEnergy net(5);
  std::vector<Tensor> parameters = {net.a_weight, net.a_bias, net.v_weight, net.v_bias};

  std::vector<std::vector<std::vector<float>>> dF(kLabels);  // [label][parameter] -> values
  for (int64_t k = 0; k < kLabels; ++k) {
    for (Tensor& p : parameters) {
      p.zero_grad();
    }
    const Tensor energies = net.energies(x);
    Tensor upstream = zeros({1, kLabels});
    upstream.set({0, k}, 1.0f);
    energies.backward(upstream);
    for (const Tensor& p : parameters) {
      dF[static_cast<size_t>(k)].push_back(p.grad().to_vector());
    }
  }

  for (Tensor& p : parameters) {
    p.zero_grad();
  }
  const Tensor energies = net.energies(x);
  const Tensor p_gibbs = ebm::gibbs(energies.detach(), kBeta);
  ebm::nll_loss(energies, {y}, kBeta).backward();

  for (size_t j = 0; j < parameters.size(); ++j) {
    const std::vector<float> autodiff = parameters[j].grad().to_vector();
    for (size_t e = 0; e < autodiff.size(); ++e) {
      double expected = dF[y][j][e];
      for (int64_t k = 0; k < kLabels; ++k) {
        expected -= p_gibbs.at({0, k}) * dF[static_cast<size_t>(k)][j][e];
      }
      INFO("parameter " << j << " element " << e);
      CHECK(autodiff[e] == Approx(expected).margin(1e-5));
    }
  }
}

TEST_CASE("nll tends to the perceptron loss as beta grows", "[ebm][theory][hw-1.3d]") {
  // 0 <= NLL_beta - perceptron <= ln(C) / beta, because the soft minimum is
  // within ln(C) / beta of the hard one.
  const Tensor energies = from_vector({0.5f, 2.0f, 1.0f, 3.0f, -1.0f, 0.5f, 0.2f, 0.1f, 4.0f},
                                      {3, 3});
  const std::vector<int64_t> labels = {0, 2, 1};
  const Tensor perceptron = ebm::perceptron_loss(energies, labels, ebm::Reduction::kNone);
  for (const float beta : {1.0f, 10.0f, 100.0f, 1000.0f}) {
    const Tensor nll = ebm::nll_loss(energies, labels, beta, ebm::Reduction::kNone);
    for (int64_t i = 0; i < 3; ++i) {
      const float gap = nll.at({i}) - perceptron.at({i});
      INFO("beta " << beta << " sample " << i);
      CHECK(gap >= -1e-6f);
      CHECK(gap <= std::log(3.0f) / beta + 1e-5f);
    }
  }

  SECTION("the gradients agree at large beta") {
    Tensor for_nll = energies.clone().set_requires_grad(true);
    ebm::nll_loss(for_nll, labels, 1000.0f).backward();
    Tensor for_perceptron = energies.clone().set_requires_grad(true);
    ebm::perceptron_loss(for_perceptron, labels).backward();
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t k = 0; k < 3; ++k) {
        CHECK(for_nll.grad().at({i, k}) ==
              Approx(for_perceptron.grad().at({i, k})).margin(1e-4));
      }
    }
  }
}

TEST_CASE("two-class nll equals the log loss at beta 1", "[ebm][theory][hw-1.3d]") {
  // With C = 2: F(y) + log(exp(-F(y)) + exp(-F(ybar))) = log(1 + exp(F(y) - F(ybar))).
  Generator generator(9);
  const Tensor values = normal({6, 2}, 0.0f, 2.0f, generator);
  const std::vector<int64_t> labels = {0, 1, 1, 0, 1, 0};
  Tensor for_nll = values.clone().set_requires_grad(true);
  Tensor for_log = values.clone().set_requires_grad(true);
  // Each backward releases the tape, so the second loss is recorded after
  // the first backward.
  const Tensor nll = ebm::nll_loss(for_nll, labels, 1.0f);
  nll.backward();
  const Tensor log = ebm::log_loss(for_log, labels);
  log.backward();
  CHECK(nll.item() == Approx(log.item()));
  for (int64_t i = 0; i < 6; ++i) {
    for (int64_t k = 0; k < 2; ++k) {
      CHECK(for_nll.grad().at({i, k}) == Approx(for_log.grad().at({i, k})).margin(1e-6));
    }
  }
}

TEST_CASE("nll never stops pushing, hinge stops at the margin", "[ebm][theory][hw-1.2d]") {
  // The most flexible energy possible: the energies themselves are the
  // parameters. Gradient descent on NLL widens the gap F(ybar) - F(y)
  // without bound; on the hinge loss it stops once the gap reaches m.
  auto train_gap = [](bool use_nll, int steps) {
    Tensor energies = zeros({1, 2}).set_requires_grad(true);
    for (int step = 0; step < steps; ++step) {
      energies.zero_grad();
      const Tensor loss =
          use_nll ? ebm::nll_loss(energies, {0}, 1.0f) : ebm::hinge_loss(energies, {0}, kMargin);
      loss.backward();
      float* values = energies.mutable_data();
      const float* grad = energies.grad().data();
      for (int64_t k = 0; k < 2; ++k) {
        values[k] -= 0.5f * grad[k];
      }
    }
    return energies.at({0, 1}) - energies.at({0, 0});
  };

  SECTION("nll: the gap keeps growing") {
    const float gap_100 = train_gap(/*use_nll=*/true, 100);
    const float gap_1000 = train_gap(/*use_nll=*/true, 1000);
    CHECK(gap_100 > kMargin);
    CHECK(gap_1000 > gap_100 + 1.0f);
  }
  SECTION("hinge: the gap settles at the margin") {
    CHECK(train_gap(/*use_nll=*/false, 100) == Approx(kMargin));
    CHECK(train_gap(/*use_nll=*/false, 1000) == Approx(kMargin));
  }
  SECTION("nll's gradient is nonzero at every finite gap") {
    // dL/dF(y) = 1 - p(y) = p(ybar) and dL/dF(ybar) = -p(ybar) = -1/(1 + e^gap).
    // In float32, 1 - p(y) loses relative precision as p(ybar) nears 2^-24
    // and rounds to 0 beyond it (gap > ~16.6), so the pull on F(y) is
    // checked up to gap 15 and the push on F(ybar) further out.
    for (const float gap : {0.0f, 1.0f, 10.0f, 15.0f, 50.0f}) {
      Tensor energies = from_vector({0.0f, gap}, {1, 2}).set_requires_grad(true);
      ebm::nll_loss(energies, {0}, 1.0f).backward();
      const float p_offending = 1.0f / (1.0f + std::exp(gap));
      INFO("gap " << gap);
      if (gap <= 15.0f) {
        CHECK(energies.grad().at({0, 0}) > 0.0f);
      }
      if (gap <= 10.0f) {
        CHECK(energies.grad().at({0, 0}) == Approx(p_offending).epsilon(1e-3));
      }
      CHECK(energies.grad().at({0, 1}) < 0.0f);
      CHECK(energies.grad().at({0, 1}) == Approx(-p_offending));
    }
  }
}

// ------------------------------------------------------------ collapse

TEST_CASE("energy loss collapses through a shared offset", "[ebm][theory][hw-1.1f][hw-1.1e]") {
  // F(x, k) = w_k . x + b_k + s, where s is shared by every label (as an
  // output bias shared by all y is in a network on [x, y]). The energy loss
  // lowers s, and with it every energy, forever; the hinge loss is
  // invariant to s, so it must separate the labels instead.
  const Tensor x = from_vector({1, 0, 0, 1, -1, -1}, {3, 2});
  const std::vector<int64_t> labels = {0, 1, 2};

  auto train = [&](bool use_energy_loss, int steps, Tensor& energies_out) {
    LinearEnergy net;
    Tensor shared = zeros({1}).set_requires_grad(true);
    std::vector<Tensor> parameters = {net.weight, net.bias, shared};
    for (int step = 0; step <= steps; ++step) {
      for (Tensor& p : parameters) {
        p.zero_grad();
      }
      const Tensor energies = net.energies(x) + shared;
      energies_out = energies.detach();
      if (step == steps) {
        break;
      }
      const Tensor loss = use_energy_loss ? ebm::energy_loss(energies, labels)
                                          : ebm::hinge_loss(energies, labels, kMargin);
      loss.backward();
      for (Tensor& p : parameters) {
        float* values = p.mutable_data();
        const float* grad = p.grad().data();
        for (int64_t j = 0; j < p.numel(); ++j) {
          values[j] -= 0.1f * grad[j];
        }
      }
    }
    return shared.item();
  };

  Tensor initial = LinearEnergy().energies(x).detach();
  SECTION("energy loss: every energy falls, the incorrect ones too") {
    Tensor after_100;
    Tensor after_200;
    const float shared_100 = train(/*use_energy_loss=*/true, 100, after_100);
    const float shared_200 = train(/*use_energy_loss=*/true, 200, after_200);
    CHECK(shared_100 == Approx(-10.0f));  // ds = -0.1 * 1 per step
    CHECK(shared_200 == Approx(-20.0f));
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t k = 0; k < kLabels; ++k) {
        INFO("sample " << i << " label " << k);
        CHECK(after_100.at({i, k}) < initial.at({i, k}) - 5.0f);
        CHECK(after_200.at({i, k}) < after_100.at({i, k}) - 5.0f);
      }
    }
  }
  SECTION("hinge loss: the shared offset never moves and the margin is reached") {
    Tensor after;
    CHECK(train(/*use_energy_loss=*/false, 300, after) == 0.0f);
    const Tensor hinge = ebm::hinge_loss(after, labels, kMargin, ebm::Reduction::kNone);
    for (int64_t i = 0; i < 3; ++i) {
      CHECK(hinge.at({i}) == 0.0f);
    }
  }
}

TEST_CASE("energy loss works for a regression energy", "[ebm][theory][hw-1.1e]") {
  // F(x, y) = (w x - y)^2 is never below 0 and is 0 only at y = w x, so
  // pushing F(x, y) down at the data also fixes every other y's energy:
  // the architecture itself keeps the low-energy set to one y per x. The
  // energy loss then trains it like least squares (data y = 2 x).
  const Tensor x = from_vector({-1.0f, -0.5f, 0.5f, 1.0f}, {4, 1});
  const Tensor y = x * 2.0f;
  Tensor w = zeros({1}).set_requires_grad(true);
  for (int step = 0; step < 200; ++step) {
    w.zero_grad();
    const Tensor residual = x * w - y;
    ebm::energy_loss(residual * residual, {0, 0, 0, 0}).backward();
    w.mutable_data()[0] -= 0.2f * w.grad().item();
  }
  CHECK(w.item() == Approx(2.0f).margin(1e-4));

  // A wrong answer y + 1 now costs energy 1; the data costs 0.
  const float wrong = w.item() * 0.5f - 2.0f;  // at x = 0.5, y + 1 = 2
  CHECK(wrong * wrong == Approx(1.0f).margin(1e-3));
}

TEST_CASE("energy with two minima gives a bimodal gibbs", "[ebm][theory][hw-1.1a]") {
  // F(x, y) = (x^2 + y^2 - 1)^2 on a y grid at x = 0.6: the minima are
  // y = +0.8 and y = -0.8, both with F = 0. Inference keeps both answers,
  // and the Gibbs distribution puts equal mass near each.
  constexpr int64_t kGrid = 81;  // y = -2, -1.95, ..., 2
  const float x = 0.6f;
  Tensor energies = zeros({1, kGrid});
  for (int64_t c = 0; c < kGrid; ++c) {
    const float y = -2.0f + 0.05f * static_cast<float>(c);
    const float ring = x * x + y * y - 1.0f;
    energies.set({0, c}, ring * ring);
  }
  const Tensor p = ebm::gibbs(energies, 20.0f);
  const int64_t upper = 56;  // y = 0.8
  const int64_t lower = 24;  // y = -0.8
  CHECK(energies.at({0, upper}) == Approx(0.0f).margin(1e-5));
  CHECK(energies.at({0, lower}) == Approx(0.0f).margin(1e-5));
  CHECK(p.at({0, upper}) == Approx(p.at({0, lower})));
  double mass_above = 0.0;
  for (int64_t c = 41; c < kGrid; ++c) {
    mass_above += p.at({0, c});
  }
  CHECK(mass_above == Approx(0.5).margin(1e-4));
  // y = 0, halfway between the modes, is far less likely than either mode.
  CHECK(p.at({0, 40}) < 0.01f * p.at({0, upper}));
}

TEST_CASE("gibbs ignores a shared energy offset", "[ebm][theory][hw-1.1b]") {
  // Energies are unnormalized scores: adding one constant to every energy
  // changes no probability and no decision; only differences matter.
  const Tensor energies = from_vector({0.3f, -1.2f, 2.0f, 0.7f}, {1, 4});
  const Tensor shifted = energies + 100.0f;
  const Tensor p = ebm::gibbs(energies, 1.0f);
  const Tensor p_shifted = ebm::gibbs(shifted, 1.0f);
  for (int64_t k = 0; k < 4; ++k) {
    CHECK(p_shifted.at({0, k}) == Approx(p.at({0, k})).margin(1e-6));
  }
  CHECK(argmin(shifted, 1).at({0}) == argmin(energies, 1).at({0}));
  SECTION("beta sharpens the distribution but keeps the decision") {
    const Tensor sharp = ebm::gibbs(energies, 10.0f);
    CHECK(sharp.at({0, 1}) > p.at({0, 1}));
    CHECK(argmax(sharp, 1).at({0}) == argmax(p, 1).at({0}));
    CHECK(sharp.at({0, 1}) > 0.9999f);
  }
}
