// Tests for free_energy, viterbi_score, viterbi_path, viterbi_labels and
// k_best_paths, including the empty, unreachable and dead-end cases.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "ebm/graph/functions.h"
#include "tests/ebm/graph/path_enumeration.h"

using namespace ember;
using namespace ember::graph;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Two paths from 0 to 2: arc 0 then 1 (energy 1 + 0.5), or arc 2 (energy 3).
Graph two_path_graph() {
  Graph g;
  g.add_state(true);
  g.add_state();
  g.add_state(false, true);
  g.add_arc(0, 1, 0, 1.0f);
  g.add_arc(1, 2, 1, 0.5f);
  g.add_arc(0, 2, 2, 3.0f);
  return g;
}

// A random acyclic graph: arcs only go from lower to higher states.
Graph random_dag(int64_t states, int64_t arcs, Generator& generator) {
  Graph g;
  for (int64_t s = 0; s < states; ++s) {
    g.add_state(s == 0 || generator.randint(4) == 0, s == states - 1 || generator.randint(4) == 0);
  }
  for (int64_t a = 0; a < arcs; ++a) {
    const int64_t from = generator.randint(states - 1);
    const int64_t to = from + 1 + generator.randint(states - 1 - from);
    g.add_arc(from, to, static_cast<int>(generator.randint(3)), generator.uniform(-1.0f, 1.0f));
  }
  return g;
}

}  // namespace

TEST_CASE("graph free_energy two paths", "[graph][free_energy]") {
  Graph g = two_path_graph();
  g.set_requires_grad(true);

  SECTION("beta 1") {
    // F = -log(exp(-1.5) + exp(-3)); posteriors p1 = e^-1.5 / Z, p2 = e^-3 / Z.
    const double z = std::exp(-1.5) + std::exp(-3.0);
    const Tensor f = free_energy(g);
    CHECK(f.item() == Approx(-std::log(z)).epsilon(1e-6));
    f.backward();
    const Tensor grad = g.energies().grad();
    CHECK(grad.at({0}) == Approx(std::exp(-1.5) / z));
    CHECK(grad.at({1}) == Approx(std::exp(-1.5) / z));
    CHECK(grad.at({2}) == Approx(std::exp(-3.0) / z));
  }
  SECTION("large beta approaches the minimum") {
    CHECK(free_energy(g, 100.0f).item() == Approx(1.5).epsilon(1e-4));
  }
  SECTION("beta must be positive") {
    CHECK_THROWS_AS(free_energy(g, 0.0f), std::invalid_argument);
  }
}

TEST_CASE("graph free_energy matches path enumeration", "[graph][free_energy]") {
  Generator generator(3);
  for (int trial = 0; trial < 5; ++trial) {
    Graph g = random_dag(6, 12, generator);
    const double expected = testing::free_energy_of(testing::enumerate_paths(g), 0.7);
    const float got = free_energy(g, 0.7f).item();
    if (std::isinf(expected)) {
      CHECK(std::isinf(got));
    } else {
      CHECK(got == Approx(expected).epsilon(1e-5));
    }
  }
}

TEST_CASE("graph free_energy gradient check", "[graph][free_energy]") {
  Generator generator(5);
  Graph g = random_dag(6, 14, generator);
  g.set_requires_grad(true);
  const auto f = [&g](const std::vector<Tensor>&) { return free_energy(g, 1.3f); };
  const GradCheckResult result = gradcheck(f, {g.energies()});
  INFO(result.report);
  REQUIRE(result.ok);
}

TEST_CASE("graph free_energy gradient accumulates", "[graph][free_energy]") {
  Graph g = two_path_graph();
  g.set_requires_grad(true);
  const Tensor twice = free_energy(g) + free_energy(g);
  twice.backward();
  const double z = std::exp(-1.5) + std::exp(-3.0);
  CHECK(g.energies().grad().at({2}) == Approx(2.0 * std::exp(-3.0) / z));
}

TEST_CASE("graph free_energy rejects cyclic graph", "[graph][free_energy]") {
  Graph g;
  g.add_state(true, true);
  g.add_arc(0, 0, 1, 1.0f);
  CHECK_THROWS_AS(free_energy(g), std::invalid_argument);
}

TEST_CASE("graph scores with unreachable accept states", "[graph][free_energy][viterbi]") {
  // Arcs 0 -> 1 and 2 -> 3; only 3 accepts and nothing reaches 2.
  Graph g;
  g.add_state(true);
  g.add_state();
  g.add_state();
  g.add_state(false, true);
  g.add_arc(0, 1, 0, 1.0f);
  g.add_arc(2, 3, 0, 1.0f);
  g.set_requires_grad(true);

  SECTION("free energy is +inf with zero gradient") {
    const Tensor f = free_energy(g);
    CHECK(f.item() == kInf);
    f.backward();
    const Tensor grad = g.energies().grad();
    CHECK(grad.at({0}) == 0.0f);
    CHECK(grad.at({1}) == 0.0f);
  }
  SECTION("viterbi score is +inf, path empty") {
    CHECK(viterbi_score(g).item() == kInf);
    CHECK(viterbi_path(g).num_states() == 0);
    CHECK(viterbi_labels(g).empty());
    CHECK(k_best_paths(g, 3).empty());
  }
}

TEST_CASE("graph dead-end states change nothing", "[graph][free_energy][viterbi]") {
  Graph plain = two_path_graph();
  Graph dead = two_path_graph();
  const int64_t trap = dead.add_state();
  dead.add_arc(0, trap, 0, -5.0f);  // cheap, but leads nowhere
  dead.add_arc(1, trap, 1, -5.0f);
  plain.set_requires_grad(true);
  dead.set_requires_grad(true);

  const Tensor f_plain = free_energy(plain);
  const Tensor f_dead = free_energy(dead);
  CHECK(f_dead.item() == Approx(f_plain.item()));
  f_plain.backward(/*retain_tape=*/true);
  f_dead.backward();
  for (int64_t a = 0; a < 3; ++a) {
    CHECK(dead.energies().grad().at({a}) == Approx(plain.energies().grad().at({a})));
  }
  CHECK(dead.energies().grad().at({3}) == 0.0f);
  CHECK(dead.energies().grad().at({4}) == 0.0f);
  CHECK(viterbi_score(dead).item() == Approx(1.5f));
}

TEST_CASE("graph viterbi score and path", "[graph][viterbi][hw-p2-viterbi]") {
  Graph g = two_path_graph();
  g.set_requires_grad(true);

  SECTION("score and gradient indicator") {
    const Tensor v = viterbi_score(g);
    CHECK(v.item() == Approx(1.5f));
    v.backward();
    CHECK(g.energies().grad().to_vector() == std::vector<float>{1.0f, 1.0f, 0.0f});
  }
  SECTION("path as graph and labels") {
    const Graph path = viterbi_path(g);
    REQUIRE(path.num_arcs() == 2);
    CHECK(path.input_label(0) == 0);
    CHECK(path.input_label(1) == 1);
    CHECK(free_energy(path).item() == Approx(1.5f));
    CHECK(viterbi_labels(g) == std::vector<int>{0, 1});
  }
  SECTION("path graph passes gradients to the source arcs") {
    const Graph path = viterbi_path(g);
    free_energy(path).backward();
    CHECK(g.energies().grad().to_vector() == std::vector<float>{1.0f, 1.0f, 0.0f});
  }
  SECTION("gradient check") {
    Generator generator(11);
    Graph random = random_dag(7, 15, generator);
    random.set_requires_grad(true);
    const auto f = [&random](const std::vector<Tensor>&) { return viterbi_score(random); };
    const GradCheckResult result = gradcheck(f, {random.energies()});
    INFO(result.report);
    REQUIRE(result.ok);
  }
}

TEST_CASE("graph viterbi on cyclic graph", "[graph][viterbi]") {
  // 0 -a-> 1 (accept), loop on 1 with energy 2: the best path skips the loop.
  Graph g;
  g.add_state(true);
  g.add_state(false, true);
  g.add_arc(0, 1, 0, 1.0f);
  g.add_arc(1, 1, 1, 2.0f);

  SECTION("positive loop is skipped") {
    CHECK(viterbi_score(g).item() == Approx(1.0f));
    CHECK(viterbi_labels(g) == std::vector<int>{0});
  }
  SECTION("negative loop is rejected") {
    Graph negative;
    negative.add_state(true);
    negative.add_state(false, true);
    negative.add_arc(0, 1, 0, 1.0f);
    negative.add_arc(1, 1, 1, -2.0f);
    CHECK_THROWS_AS(viterbi_score(negative), std::invalid_argument);
  }
}

TEST_CASE("graph k best paths", "[graph][kbest]") {
  SECTION("two path graph in order") {
    const std::vector<Graph> paths = k_best_paths(two_path_graph(), 5);
    REQUIRE(paths.size() == 2);
    CHECK(viterbi_score(paths[0]).item() == Approx(1.5f));
    CHECK(viterbi_score(paths[1]).item() == Approx(3.0f));
  }
  SECTION("matches sorted enumeration") {
    Generator generator(17);
    const Graph g = random_dag(7, 16, generator);
    std::vector<testing::Path> all = testing::enumerate_paths(g);
    std::sort(all.begin(), all.end(),
              [](const testing::Path& x, const testing::Path& y) { return x.energy < y.energy; });
    const std::vector<Graph> best = k_best_paths(g, 4);
    REQUIRE(best.size() == std::min<size_t>(4, all.size()));
    for (size_t i = 0; i < best.size(); ++i) {
      CHECK(viterbi_score(best[i]).item() == Approx(all[i].energy).margin(1e-5));
    }
  }
  SECTION("k = 0 gives nothing") { CHECK(k_best_paths(two_path_graph(), 0).empty()); }
  SECTION("gradient flows from each path") {
    Graph g = two_path_graph();
    g.set_requires_grad(true);
    const std::vector<Graph> paths = k_best_paths(g, 2);
    (viterbi_score(paths[0]) + viterbi_score(paths[1]) * 2.0f).backward();
    CHECK(g.energies().grad().to_vector() == std::vector<float>{1.0f, 1.0f, 2.0f});
  }
}
