// Tests for the graph-route losses against brute-force sums over every
// window sequence, plus gradient checks through energies and transitions.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>

#include "ebm/graph/losses.h"

using namespace ember;
using namespace ember::graph;

namespace {

using Sequence = std::vector<int64_t>;

// Merges runs of equal symbols: 1 1 0 2 2 -> 1 0 2.
Sequence run_symbols(const Sequence& windows) {
  Sequence runs;
  for (int64_t c : windows) {
    if (runs.empty() || runs.back() != c) {
      runs.push_back(c);
    }
  }
  return runs;
}

Sequence ctc_collapse(const Sequence& windows, int64_t blank) {
  Sequence labels;
  for (int64_t c : run_symbols(windows)) {
    if (c != blank) {
      labels.push_back(c);
    }
  }
  return labels;
}

// -(1/beta) log sum over window sequences s of length L with accept(s) of
// exp(-beta energy(s)), for sample b of E [B, L, C].
double brute_free_energy(const Tensor& e, int64_t b, int64_t length, double beta,
                         const std::function<bool(const Sequence&)>& accept,
                         const std::function<double(const Sequence&)>& extra = nullptr) {
  const int64_t symbols = e.size(2);
  Sequence s(static_cast<size_t>(length), 0);
  double sum = 0.0;
  while (true) {
    if (accept(s)) {
      double energy = extra ? extra(s) : 0.0;
      for (int64_t i = 0; i < length; ++i) {
        energy += e.at({b, i, s[static_cast<size_t>(i)]});
      }
      sum += std::exp(-beta * energy);
    }
    int64_t i = length - 1;
    while (i >= 0 && ++s[static_cast<size_t>(i)] == symbols) {
      s[static_cast<size_t>(i--)] = 0;
    }
    if (i < 0) {
      break;
    }
  }
  return sum == 0.0 ? std::numeric_limits<double>::infinity() : -std::log(sum) / beta;
}

Sequence with_separators(const Sequence& target, int64_t separator) {
  Sequence result;
  for (int64_t c : target) {
    result.push_back(c);
    result.push_back(separator);
  }
  return result;
}

// Runs alternate a non-separator symbol and the separator, ending on it.
bool separator_shaped(const Sequence& windows, int64_t separator) {
  const Sequence runs = run_symbols(windows);
  if (runs.empty() || runs.size() % 2 != 0) {
    return false;
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    if ((runs[i] == separator) != (i % 2 == 1)) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("graph ctc matches brute force", "[graph][losses][hw-p2-ctc]") {
  Generator generator(1);
  const Tensor e = uniform({3, 5, 3}, -1.0f, 1.0f, generator);
  const std::vector<Sequence> targets = {{1, 2}, {1, 1}, {2}};
  const std::vector<int64_t> lengths = {5, 5, 3};
  const alignment::Topology ctc = alignment::Topology::ctc(0);

  SECTION("target free energy") {
    const Tensor f = target_free_energy(e, targets, lengths, ctc, 0.8f);
    for (int64_t b = 0; b < 3; ++b) {
      const Sequence& y = targets[static_cast<size_t>(b)];
      const double expected = brute_free_energy(e, b, lengths[static_cast<size_t>(b)], 0.8,
                                                [&](const Sequence& s) { return ctc_collapse(s, 0) == y; });
      CHECK(f.at({b}) == Approx(expected).epsilon(1e-5));
    }
  }
  SECTION("nll subtracts the free energy of all sequences") {
    const Tensor loss = nll_loss(e, targets, lengths, ctc, 1.0f);
    for (int64_t b = 0; b < 3; ++b) {
      const Sequence& y = targets[static_cast<size_t>(b)];
      const int64_t length = lengths[static_cast<size_t>(b)];
      const double expected =
          brute_free_energy(e, b, length, 1.0, [&](const Sequence& s) { return ctc_collapse(s, 0) == y; }) -
          brute_free_energy(e, b, length, 1.0, [](const Sequence&) { return true; });
      CHECK(loss.at({b}) == Approx(expected).epsilon(1e-5));
    }
  }
  SECTION("too few windows give +inf and zero gradient") {
    Tensor short_e = uniform({1, 2, 3}, -1.0f, 1.0f, generator).set_requires_grad(true);
    const Tensor f = target_free_energy(short_e, {{1, 1}}, {}, ctc);
    CHECK(f.at({0}) == std::numeric_limits<float>::infinity());
    sum(f).backward();
    for (float g : short_e.grad().to_vector()) {
      CHECK(g == 0.0f);
    }
  }
  SECTION("gradient check") {
    Tensor param = uniform({2, 4, 3}, -1.0f, 1.0f, generator).set_requires_grad(true);
    const auto f = [&](const std::vector<Tensor>& in) {
      return nll_loss(in[0], {{1, 2}, {2, 2}}, {}, ctc, 1.0f);
    };
    const GradCheckResult result = gradcheck(f, {param});
    INFO(result.report);
    REQUIRE(result.ok);
  }
}

TEST_CASE("graph separator loss matches brute force", "[graph][losses][hw-p2-separator]") {
  Generator generator(2);
  const Tensor e = uniform({2, 6, 3}, -1.0f, 1.0f, generator);
  const std::vector<Sequence> targets = {{0, 1}, {1}};
  const alignment::Topology separator = alignment::Topology::separator(2);

  SECTION("target free energy") {
    const Tensor f = target_free_energy(e, targets, {}, separator, 1.5f);
    for (int64_t b = 0; b < 2; ++b) {
      const Sequence pattern = with_separators(targets[static_cast<size_t>(b)], 2);
      const double expected = brute_free_energy(
          e, b, 6, 1.5, [&](const Sequence& s) { return run_symbols(s) == pattern; });
      CHECK(f.at({b}) == Approx(expected).epsilon(1e-5));
    }
  }
  SECTION("nll over separator-shaped sequences") {
    const Tensor loss = nll_loss(e, targets, {}, separator, 1.0f);
    for (int64_t b = 0; b < 2; ++b) {
      const Sequence pattern = with_separators(targets[static_cast<size_t>(b)], 2);
      const double expected =
          brute_free_energy(e, b, 6, 1.0, [&](const Sequence& s) { return run_symbols(s) == pattern; }) -
          brute_free_energy(e, b, 6, 1.0, [](const Sequence& s) { return separator_shaped(s, 2); });
      CHECK(loss.at({b}) == Approx(expected).epsilon(1e-5));
    }
  }
}

TEST_CASE("asg loss with learned transitions", "[graph][losses][asg]") {
  Generator generator(3);
  Tensor e = uniform({2, 4, 3}, -1.0f, 1.0f, generator).set_requires_grad(true);
  Tensor transitions = uniform({3, 3}, -0.5f, 0.5f, generator).set_requires_grad(true);
  const std::vector<Sequence> targets = {{0, 2}, {1, 0, 1}};

  SECTION("matches brute force") {
    const Tensor loss = asg_loss(e, targets, {}, transitions, 1.0f);
    const auto transition_energy = [&](const Sequence& s) {
      double total = 0.0;
      for (size_t i = 1; i < s.size(); ++i) {
        total += transitions.at({s[i - 1], s[i]});
      }
      return total;
    };
    for (int64_t b = 0; b < 2; ++b) {
      const Sequence& y = targets[static_cast<size_t>(b)];
      const double expected =
          brute_free_energy(e, b, 4, 1.0, [&](const Sequence& s) { return run_symbols(s) == y; },
                            transition_energy) -
          brute_free_energy(e, b, 4, 1.0, [](const Sequence&) { return true; }, transition_energy);
      CHECK(loss.at({b}) == Approx(expected).epsilon(1e-5));
    }
  }
  SECTION("gradient check through energies and transitions") {
    const auto f = [&](const std::vector<Tensor>& in) {
      return asg_loss(in[0], targets, {}, in[1], 1.0f);
    };
    const GradCheckResult result = gradcheck(f, {e, transitions});
    INFO(result.report);
    REQUIRE(result.ok);
  }
  SECTION("transitions shape is checked") {
    CHECK_THROWS_AS(asg_loss(e, targets, {}, zeros({2, 2})), std::invalid_argument);
  }
}
