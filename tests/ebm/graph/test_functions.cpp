// Tests for union, concat, closure, intersect, compose, remove_epsilon and
// the projections: path sets against brute-force enumeration, hand-checked
// small cases, epsilon handling, empty results and gradient checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>

#include "ebm/graph/builders.h"
#include "ebm/graph/functions.h"
#include "tests/ebm/graph/path_enumeration.h"

using namespace ember;
using namespace ember::graph;

namespace {

using LabelPair = std::pair<std::vector<int>, std::vector<int>>;

// Accepting paths as a sorted list of (input labels, output labels, energy
// rounded to 1e-4), so two graphs with the same weighted paths compare equal.
std::vector<std::pair<LabelPair, long>> path_multiset(const Graph& g, int64_t max_arcs = 12) {
  std::vector<std::pair<LabelPair, long>> result;
  for (const testing::Path& p : testing::enumerate_paths(g, max_arcs)) {
    result.push_back({{p.input_labels, p.output_labels}, std::lround(p.energy * 1e4)});
  }
  std::sort(result.begin(), result.end());
  return result;
}

// An acceptor for one word with per-arc energies.
Graph word(const std::vector<int>& labels, const std::vector<float>& energies) {
  Graph g;
  g.add_state(true, labels.empty());
  for (size_t i = 0; i < labels.size(); ++i) {
    g.add_state(false, i + 1 == labels.size());
    g.add_arc(static_cast<int64_t>(i), static_cast<int64_t>(i) + 1, labels[i], energies[i]);
  }
  return g;
}

// Checks the gradient of free_energy(op(inputs)) with respect to every input's energies.
void check_gradient(const std::function<Graph()>& build, std::vector<Graph*> inputs) {
  std::vector<Tensor> tensors;
  for (Graph* g : inputs) {
    g->set_requires_grad(true);
    tensors.push_back(g->energies());
  }
  const auto f = [&build](const std::vector<Tensor>&) { return free_energy(build(), 0.9f); };
  const GradCheckResult result = gradcheck(f, tensors);
  INFO(result.report);
  REQUIRE(result.ok);
}

}  // namespace

TEST_CASE("graph_union accepts both", "[graph][union]") {
  Graph a = word({0, 1}, {1.0f, 2.0f});
  Graph b = word({2}, {0.5f});
  const Graph u = graph_union({a, b});
  CHECK(u.num_states() == 5);
  CHECK(path_multiset(u) == std::vector<std::pair<LabelPair, long>>{
                                {{{0, 1}, {0, 1}}, 30000}, {{{2}, {2}}, 5000}});
  check_gradient([&] { return graph_union({a, b}); }, {&a, &b});
}

TEST_CASE("concat joins paths", "[graph][concat]") {
  Graph a = graph_union({word({0}, {1.0f}), word({1}, {2.0f})});
  Graph b = word({2}, {0.25f});

  SECTION("every pair once") {
    CHECK(path_multiset(concat({a, b})) ==
          std::vector<std::pair<LabelPair, long>>{{{{0, 2}, {0, 2}}, 12500},
                                                   {{{1, 2}, {1, 2}}, 22500}});
  }
  SECTION("empty list accepts the empty path") {
    const Graph empty = concat({});
    CHECK(free_energy(empty).item() == 0.0f);
  }
  SECTION("gradient check") { check_gradient([&] { return concat({a, b, a}); }, {&a, &b}); }
}

TEST_CASE("closure repeats paths", "[graph][closure]") {
  Graph a = word({0}, {1.0f});
  const Graph star = closure(a);
  CHECK_FALSE(is_acyclic(star));

  SECTION("zero to three repetitions, each once") {
    const auto paths = path_multiset(star, 7);  // each repetition costs 3 arcs
    CHECK(paths == std::vector<std::pair<LabelPair, long>>{{{{}, {}}, 0},
                                                            {{{0}, {0}}, 10000},
                                                            {{{0, 0}, {0, 0}}, 20000}});
  }
  SECTION("intersected with a linear graph") {
    // Three windows that each read 0 at energy 0.5: closure matches once.
    a.set_requires_grad(true);
    const Graph star = closure(a);
    const Graph windows = word({0, 0, 0}, {0.5f, 0.5f, 0.5f});
    const Tensor f = free_energy(intersect(windows, star));
    CHECK(f.item() == Approx(4.5f));
    f.backward();
    CHECK(a.energies().grad().at({0}) == Approx(3.0f));
  }
}

TEST_CASE("intersect acceptors", "[graph][intersect]") {
  SECTION("hand example") {
    // Energies add along the one common path "0 1".
    Graph a = graph_union({word({0, 1}, {1.0f, 1.0f}), word({0, 2}, {0.0f, 0.0f})});
    Graph b = graph_union({word({0, 1}, {0.5f, 0.25f}), word({1}, {0.0f})});
    const Graph both = intersect(a, b);
    CHECK(path_multiset(both) ==
          std::vector<std::pair<LabelPair, long>>{{{{0, 1}, {0, 1}}, 27500}});
    check_gradient([&] { return intersect(a, b); }, {&a, &b});
  }
  SECTION("rejects transducers") {
    Graph t;
    t.add_state(true, true);
    t.add_arc(0, 0, 1, 2, 0.0f);
    CHECK_THROWS_AS(intersect(t, t), std::invalid_argument);
  }
  SECTION("empty result") {
    Graph a = word({0}, {1.0f});
    Graph b = word({1}, {1.0f});
    a.set_requires_grad(true);
    const Graph none = intersect(a, b);
    const Tensor f = free_energy(none);
    CHECK(f.item() == std::numeric_limits<float>::infinity());
    CHECK(viterbi_score(none).item() == std::numeric_limits<float>::infinity());
    CHECK(viterbi_path(none).num_states() == 0);
    f.backward();
    CHECK(a.energies().grad().at({0}) == 0.0f);
    CHECK_FALSE(std::isnan(a.energies().grad().at({0})));
  }
  SECTION("epsilons on both sides give each path once") {
    // a: 0 eps 1; b: eps 0 1 eps. One common label sequence, one path.
    Graph a = word({0, kEpsilon, 1}, {1.0f, 0.5f, 1.0f});
    Graph b = word({kEpsilon, 0, 1, kEpsilon}, {0.25f, 0.0f, 0.0f, 0.125f});
    const Graph both = intersect(a, b);
    const auto paths = path_multiset(both, 20);
    REQUIRE(paths.size() == 1);
    CHECK(paths[0].second == 28750);
    check_gradient([&] { return intersect(a, b); }, {&a, &b});
  }
}

TEST_CASE("intersect with a chain of windows", "[graph][intersect]") {
  // A chain like an emissions graph, except that window 1 reads label 1
  // twice. Window 0 reads 0 (1.0) and 1 (2.0). Window 1 reads 1 (0.5),
  // 1 (0.25) and 2 (3.0).
  Graph chain;
  chain.add_state(true, false);
  chain.add_state();
  chain.add_state(false, true);
  chain.add_arc(0, 1, 0, 1.0f);
  chain.add_arc(0, 1, 1, 2.0f);
  chain.add_arc(1, 2, 1, 0.5f);
  chain.add_arc(1, 2, 1, 0.25f);
  chain.add_arc(1, 2, 2, 3.0f);

  // Target: 0 -0-> 1 -1-> 2 (accept), a dead end 1 -2-> 4, a label the
  // chain lacks (0 -5-> 2), and a second start state 3 that accepts and
  // loops on 1.
  Graph target;
  target.add_state(true, false);
  target.add_state();
  target.add_state(false, true);
  target.add_state(true, true);
  target.add_state();
  target.add_arc(0, 1, 0, 0.125f);
  target.add_arc(1, 2, 1, 0.0f);
  target.add_arc(1, 4, 2, 0.0f);
  target.add_arc(0, 2, 5, 0.0f);
  target.add_arc(3, 3, 1, 0.0625f);

  SECTION("weighted paths") {
    // "0 1" costs 1 + 0.125 + (0.5 or 0.25); "1 1" costs 2 + 2 * 0.0625 + (0.5 or 0.25).
    const std::vector<std::pair<LabelPair, long>> expected = {
        {{{0, 1}, {0, 1}}, 13750}, {{{0, 1}, {0, 1}}, 16250},
        {{{1, 1}, {1, 1}}, 23750}, {{{1, 1}, {1, 1}}, 26250}};
    CHECK(path_multiset(intersect(chain, target)) == expected);
    CHECK(path_multiset(compose(chain, target)) == expected);
  }
  SECTION("builds only states on accepting paths") {
    // (0,0) (0,3) (1,1) (1,3) (2,2) (2,3); the dead end (2,4) is left out.
    const Graph both = intersect(chain, target);
    CHECK(both.num_states() == 6);
    CHECK(both.num_arcs() == 6);
  }
  SECTION("gradients") {
    check_gradient([&] { return intersect(chain, target); }, {&chain, &target});
  }
  SECTION("zero windows") {
    // The chain of an empty [0, C] tensor accepts only the empty sequence.
    const Graph empty = emissions_graph(zeros({0, 3}));
    CHECK(free_energy(intersect(empty, ctc_graph({}, 2))).item() == 0.0f);
    CHECK(free_energy(intersect(empty, ctc_graph({1}, 2))).item() ==
          std::numeric_limits<float>::infinity());
  }
}

TEST_CASE("compose transducers", "[graph][compose]") {
  // first maps 0 -> 1 (energy 1) or 0 -> 2 (energy 2); second maps 1 -> 5, 2 -> 6.
  Graph first;
  first.add_state(true);
  first.add_state(false, true);
  first.add_arc(0, 1, 0, 1, 1.0f);
  first.add_arc(0, 1, 0, 2, 2.0f);
  Graph second;
  second.add_state(true);
  second.add_state(false, true);
  second.add_arc(0, 1, 1, 5, 0.5f);
  second.add_arc(0, 1, 2, 6, 0.25f);

  SECTION("labels and energies") {
    CHECK(path_multiset(compose(first, second)) ==
          std::vector<std::pair<LabelPair, long>>{{{{0}, {5}}, 15000}, {{{0}, {6}}, 22500}});
  }
  SECTION("output epsilon of first meets input epsilon of second once") {
    // first: 0:eps then 1:1; second: eps:7 then 1:8. Both epsilons can move
    // in either order; the filter must keep one path.
    Graph a;
    a.add_state(true);
    a.add_state();
    a.add_state(false, true);
    a.add_arc(0, 1, 0, kEpsilon, 1.0f);
    a.add_arc(1, 2, 1, 1, 1.0f);
    Graph b;
    b.add_state(true);
    b.add_state();
    b.add_state(false, true);
    b.add_arc(0, 1, kEpsilon, 7, 0.5f);
    b.add_arc(1, 2, 1, 8, 0.5f);
    const auto paths = path_multiset(compose(a, b), 10);
    CHECK(paths == std::vector<std::pair<LabelPair, long>>{{{{0, 1}, {7, 8}}, 30000}});
    check_gradient([&] { return compose(a, b); }, {&a, &b});
  }
  SECTION("gradient check") { check_gradient([&] { return compose(first, second); }, {&first, &second}); }
}

TEST_CASE("remove_epsilon keeps weighted paths", "[graph][epsilon]") {
  SECTION("leading, inner and trailing epsilons") {
    // 0 -eps(0.5)-> 1 -a(1)-> 2 -eps(0.25)-> 3 (accept), and 1 -b(2)-> 3
    Graph g;
    g.add_state(true);
    g.add_state();
    g.add_state();
    g.add_state(false, true);
    g.add_arc(0, 1, kEpsilon, 0.5f);
    g.add_arc(1, 2, 0, 1.0f);
    g.add_arc(2, 3, kEpsilon, 0.25f);
    g.add_arc(1, 3, 1, 2.0f);
    const Graph removed = remove_epsilon(g);
    for (int64_t a = 0; a < removed.num_arcs(); ++a) {
      CHECK(removed.input_label(a) != kEpsilon);
    }
    CHECK(path_multiset(removed) == path_multiset(g));
    check_gradient([&] { return remove_epsilon(g); }, {&g});
  }
  SECTION("all-epsilon path stays as one epsilon arc") {
    Graph g = word({kEpsilon, kEpsilon}, {1.0f, 2.0f});
    const Graph removed = remove_epsilon(g);
    CHECK(path_multiset(removed) == path_multiset(g));
    CHECK(free_energy(removed).item() == Approx(3.0f));
  }
  SECTION("epsilon cycle is rejected") {
    Graph g;
    g.add_state(true, true);
    g.add_arc(0, 0, kEpsilon, 1.0f);
    CHECK_THROWS_AS(remove_epsilon(g), std::invalid_argument);
  }
  SECTION("labelled cycles are kept") {
    Graph g;
    g.add_state(true);
    g.add_state(false, true);
    g.add_arc(0, 1, kEpsilon, 1.0f);
    g.add_arc(1, 1, 3, 1.0f);
    // Folding saves the epsilon arc, so 3 arcs there match 4 here.
    CHECK(path_multiset(remove_epsilon(g), 3) == path_multiset(g, 4));
  }
}

TEST_CASE("graph projections keep energies", "[graph][project]") {
  Graph t;
  t.add_state(true);
  t.add_state(false, true);
  t.add_arc(0, 1, 3, 4, 1.5f);
  const Graph in = project_input(t);
  const Graph out = project_output(t);
  CHECK(in.is_acceptor());
  CHECK(in.input_label(0) == 3);
  CHECK(out.output_label(0) == 4);
  CHECK(out.energy(0) == 1.5f);
  check_gradient([&] { return project_output(t); }, {&t});
}

TEST_CASE("graph add_arcs adds acceptor arcs", "[graph][builders]") {
  Graph g;
  g.add_state(true, false);
  g.add_state(false, true);
  SECTION("arcs and zero energies") {
    g.add_arc(0, 1, 4, 2.0f);
    g.add_arcs(std::vector<int32_t>{0, 1}, std::vector<int32_t>{1, 1}, std::vector<int32_t>{3, kEpsilon});
    REQUIRE(g.num_arcs() == 3);
    CHECK(g.source(2) == 1);
    CHECK(g.destination(1) == 1);
    CHECK(g.input_label(1) == 3);
    CHECK(g.output_label(2) == kEpsilon);
    CHECK(g.energy(0) == 2.0f);
    CHECK(g.energy(1) == 0.0f);
  }
  SECTION("rejects bad arcs") {
    const std::vector<int32_t> one{0};
    const std::vector<int32_t> two{0, 1};
    CHECK_THROWS_AS(g.add_arcs(one, two, one), std::invalid_argument);
    CHECK_THROWS_AS(g.add_arcs(one, std::vector<int32_t>{2}, one), std::out_of_range);
    CHECK_THROWS_AS(g.add_arcs(one, one, std::vector<int32_t>{-2}), std::invalid_argument);
    CHECK(g.num_arcs() == 0);
  }
}

TEST_CASE("graph builders", "[graph][builders]") {
  SECTION("emissions graph ties arcs to E") {
    Tensor e = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).set_requires_grad(true);
    const Graph g = emissions_graph(e);
    CHECK(g.num_states() == 3);
    CHECK(g.num_arcs() == 6);
    CHECK(g.energy(4) == 5.0f);  // arc i * C + c = 1 * 3 + 1
    viterbi_score(g).backward();
    CHECK(e.grad().to_vector() == std::vector<float>{1, 0, 0, 1, 0, 0});
  }
  SECTION("ctc graph accepts the collapsed alignments") {
    // Target "1 1" with blank 0 over 4 windows: alignments are the label
    // sequences of length 4 that collapse to "1 1".
    const Graph ctc = ctc_graph({1, 1}, 0);
    const Graph windows = emissions_graph(zeros({4, 2}));
    const auto paths = testing::enumerate_paths(intersect(windows, ctc));
    // Exactly two runs of 1: 1010, 1011, 1101, 1001, 0101.
    CHECK(paths.size() == 5);
  }
  SECTION("separator graph is the c_a_t_ topology") {
    const Graph sep = separator_graph({2, 3}, 9);
    const Graph exact = label_graph({2, 9, 3, 9});
    CHECK(testing::enumerate_paths(intersect(exact, sep)).size() == 1);
    CHECK(testing::enumerate_paths(intersect(label_graph({2, 2, 9, 3, 9, 9}), sep)).size() == 1);
    CHECK(testing::enumerate_paths(intersect(label_graph({2, 3, 9}), sep)).empty());
  }
  SECTION("transitions graph scores bigrams") {
    Tensor t = from_vector({0.1f, 0.2f, 0.3f, 0.4f}, {2, 2}).set_requires_grad(true);
    const Graph g = transitions_graph(t);
    const Graph scored = intersect(label_graph({0, 1, 1}), g);
    const Tensor f = free_energy(scored);
    CHECK(f.item() == Approx(0.2f + 0.4f));
    f.backward();
    CHECK(t.grad().to_vector() == std::vector<float>{0, 1, 0, 1});
  }
  SECTION("transitions graph with blank") {
    Tensor t = from_vector({0, 0, 0, 0, 0, 1, 0, 2, 0}, {3, 3});
    const Graph g = transitions_graph(t, 0);
    CHECK(viterbi_score(intersect(label_graph({1, 0, 0, 2}), g)).item() == Approx(1.0f));
  }
  SECTION("invalid labels are rejected") {
    CHECK_THROWS_AS(label_graph({-2}), std::invalid_argument);
    CHECK_THROWS_AS(emissions_graph(zeros({3})), std::invalid_argument);
  }
}
