// Tests for the AT&T and Ember text formats, DOT output and PNG rendering.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "ebm/graph/functions.h"
#include "ebm/graph/io.h"
#include "tests/ebm/graph/path_enumeration.h"

using namespace ember;
using namespace ember::graph;

namespace {

// 0 (start) -a/1.5-> 1 -b:c/0.25-> 2 (accept), 0 -eps/2-> 2; state 1 also starts.
Graph sample_graph() {
  Graph g;
  g.add_state(true);
  g.add_state(true);
  g.add_state(false, true);
  g.add_arc(0, 1, 0, 1.5f);
  g.add_arc(1, 2, 1, 2, 0.25f);
  g.add_arc(0, 2, kEpsilon, 2.0f);
  return g;
}

std::vector<std::pair<std::vector<int>, long>> weighted_label_paths(const Graph& g) {
  std::vector<std::pair<std::vector<int>, long>> result;
  for (const testing::Path& p : testing::enumerate_paths(g)) {
    std::vector<int> labels = p.input_labels;
    labels.push_back(-100);  // separates input from output labels
    labels.insert(labels.end(), p.output_labels.begin(), p.output_labels.end());
    result.push_back({labels, std::lround(p.energy * 1e4)});
  }
  std::sort(result.begin(), result.end());
  return result;
}

}  // namespace

TEST_CASE("ember format round trip", "[graph][io]") {
  const Graph g = sample_graph();
  const Graph back = read_ember(write_ember(g));
  CHECK(back.num_states() == 3);
  CHECK(back.start_states() == g.start_states());
  CHECK(back.accept_states() == g.accept_states());
  CHECK(back.sources() == g.sources());
  CHECK(back.input_labels() == g.input_labels());
  CHECK(back.output_labels() == g.output_labels());
  CHECK(back.energies().to_vector() == g.energies().to_vector());

  SECTION("malformed text names the line") {
    CHECK_THROWS_WITH(read_ember("ember-graph 1\nstates 2\nstart 0\naccept 1\narcs 1\n0 1 x 0 1\n"),
                      Catch::Contains("line 6"));
    CHECK_THROWS_AS(read_ember("ember-graph 2\n"), std::invalid_argument);
  }
}

TEST_CASE("att format", "[graph][io]") {
  SECTION("labels shift by one and epsilon is 0") {
    Graph g;
    g.add_state(true);
    g.add_state(false, true);
    g.add_arc(0, 1, 0, kEpsilon, 0.5f);
    CHECK(write_att(g) == "0\t1\t1\t0\t0.5\n1\n");
  }
  SECTION("several start states get a new start") {
    const Graph g = sample_graph();
    const std::string text = write_att(g);
    CHECK(text.rfind("3\t0\t0\t0\n3\t1\t0\t0\n", 0) == 0);
    CHECK(weighted_label_paths(read_att(text)) == weighted_label_paths(g));
  }
  SECTION("reads OpenFST text with a final weight") {
    // The acceptor "1 2" with costs 0.5 and 1, and final weight 0.25.
    const Graph g = read_att("0 1 1 0.5\n1 2 2 1\n2 0.25\n", /*acceptor=*/true);
    CHECK(viterbi_labels(g) == std::vector<int>{0, 1});
    CHECK(viterbi_score(g).item() == Approx(1.75f));
  }
  SECTION("symbol tables") {
    const SymbolTable symbols = {"a", "b", "c"};
    const Graph g = sample_graph();
    const std::string text = write_att(g, symbols, symbols);
    CHECK(text.find("<eps>") != std::string::npos);
    CHECK(text.find("\tb\tc\t") != std::string::npos);
    CHECK(weighted_label_paths(read_att(text, false, symbols, symbols)) == weighted_label_paths(g));
  }
  SECTION("malformed lines are rejected") {
    CHECK_THROWS_WITH(read_att("0 1 x 0\n"), Catch::Contains("line 1"));
    CHECK_THROWS_AS(read_att("0 1 1 1 1 1\n"), std::invalid_argument);
  }
}

TEST_CASE("dot output", "[graph][io]") {
  const std::string dot = to_dot(sample_graph(), {"a", "b", "c"}, {"a", "b", "c"});
  CHECK(dot.rfind("digraph G {", 0) == 0);
  CHECK(dot.find("2 [shape=doublecircle]") != std::string::npos);
  CHECK(dot.find("0 [shape=circle, penwidth=2.5]") != std::string::npos);
  CHECK(dot.find("label=\"b:c/0.25\"") != std::string::npos);
  CHECK(dot.find("label=\"ε:ε/2\"") != std::string::npos);
}

TEST_CASE("png rendering with graphviz", "[graph][io]") {
  if (!graphviz_available()) {
    WARN("Graphviz's dot is not installed; PNG rendering not tested");
    return;
  }
  const std::string path = "/tmp/ember_test_graph.png";
  render_png(sample_graph(), path, {"a", "b", "c"});
  std::ifstream file(path, std::ios::binary);
  char magic[4] = {};
  file.read(magic, 4);
  CHECK(std::string(magic + 1, 3) == "PNG");
  std::remove(path.c_str());
}
