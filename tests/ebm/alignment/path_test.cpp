// Tests of the alphabet, the separator transform, path_matrix and path_energy.
#include <catch2/catch.hpp>

#include <vector>

#include "autodiff/autodiff.h"
#include "ebm/alignment/alphabet.h"
#include "ebm/alignment/path.h"
#include "ebm/alignment/topology.h"

using namespace ember;
using namespace ember::alignment;

TEST_CASE("alphabet encodes and decodes words", "[alignment][alphabet]") {
  const Alphabet letters = Alphabet::letters();
  SECTION("letters: a-z then the separator") {
    CHECK(letters.size() == 27);
    CHECK(letters.separator() == 26);
    CHECK(letters.encode("cat") == std::vector<int64_t>{2, 0, 19});
    CHECK(letters.decode({2, 0, 19, 26}) == "cat_");
  }
  SECTION("digits") {
    const Alphabet digits = Alphabet::digits();
    CHECK(digits.size() == 11);
    CHECK(digits.encode("907") == std::vector<int64_t>{9, 0, 7});
  }
  SECTION("rejects unknown characters and the separator in words") {
    CHECK_THROWS_AS(letters.encode("Cat"), std::invalid_argument);
    CHECK_THROWS_AS(letters.encode("c_t"), std::invalid_argument);
    CHECK_THROWS_AS(Alphabet("ab", 2), std::invalid_argument);
    CHECK_THROWS_AS(Alphabet("aba", 0), std::invalid_argument);
  }
}

TEST_CASE("separator transform of a word", "[alignment][topology][hw-p1-separator]") {
  const Alphabet letters = Alphabet::letters();
  CHECK(letters.decode(separator_transform(letters.encode("cat"), 26)) == "c_a_t_");
  CHECK(letters.decode(separator_transform(letters.encode("book"), 26)) == "b_o_o_k_");
  CHECK(separator_transform({}, 26).empty());
}

TEST_CASE("lattices of the two topologies", "[alignment][topology]") {
  SECTION("separator: cat has states c _ a _ t _ and no skips") {
    const Lattice lattice = build_lattice(Topology::separator(26), {2, 0, 19});
    CHECK(lattice.labels == std::vector<int32_t>{2, 26, 0, 26, 19, 26});
    CHECK(lattice.can_skip == std::vector<uint8_t>{0, 0, 0, 0, 0, 0});
    CHECK(lattice.start_states == 1);
    CHECK(lattice.end_states == 1);
  }
  SECTION("ctc: a repeated symbol may not skip its blank") {
    const Lattice lattice = build_lattice(Topology::ctc(26), {1, 1, 2});
    CHECK(lattice.labels == std::vector<int32_t>{26, 1, 26, 1, 26, 2, 26});
    CHECK(lattice.can_skip == std::vector<uint8_t>{0, 0, 0, 0, 0, 1, 0});
    CHECK(lattice.start_states == 2);
    CHECK(lattice.end_states == 2);
  }
  SECTION("a target containing the blank is rejected") {
    CHECK_THROWS_AS(build_lattice(Topology::ctc(26), {26}), std::invalid_argument);
  }
}

TEST_CASE("path_matrix gathers target columns", "[alignment][path][hw-p1-path-matrix]") {
  // E [L = 2, C = 3]; target `c_a_`-like indices {2, 0, 2}.
  Tensor e = from_vector({0.1f, 0.2f, 0.3f, 1.1f, 1.2f, 1.3f}, {2, 3});
  e.set_requires_grad(true);
  const Tensor pm = path_matrix(e, from_vector({2, 0, 2}, {3}));
  CHECK(pm.shape() == Shape{2, 3});
  CHECK(pm.to_vector() == std::vector<float>{0.3f, 0.1f, 0.3f, 1.3f, 1.1f, 1.3f});

  SECTION("gradient goes back to the gathered symbols, twice for a repeat") {
    sum(pm).backward();
    CHECK(e.grad().to_vector() == std::vector<float>{1, 0, 2, 1, 0, 2});
  }
  SECTION("gradient check") {
    const Tensor y = from_vector({1, 0, 2, 2, 1, 0}, {2, 3});
    Generator generator(1);
    Tensor batched = uniform({2, 4, 3}, -1.0f, 1.0f, generator);
    batched.set_requires_grad(true);
    const auto result = gradcheck(
        [&](const std::vector<Tensor>& inputs) { return path_matrix(inputs[0], y); }, {batched});
    INFO(result.report);
    CHECK(result.ok);
  }
  SECTION("rejects an index outside the alphabet") {
    CHECK_THROWS_AS(path_matrix(e, from_vector({3}, {1})), std::invalid_argument);
  }
}

TEST_CASE("path_energy sums a path", "[alignment][path][hw-p1-path-energy]") {
  // pm [L = 3, T = 2]; path columns 0 0 1.
  Tensor pm = from_vector({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, {3, 2});
  pm.set_requires_grad(true);
  const Tensor energy = path_energy(pm, from_vector({0, 0, 1}, {3}));
  CHECK(energy.item() == 1.0f + 3.0f + 6.0f);

  SECTION("gradient is the path's indicator and accumulates when used twice") {
    const Tensor twice = energy + path_energy(pm, from_vector({0, 1, 1}, {3}));
    twice.backward();
    CHECK(pm.grad().to_vector() == std::vector<float>{2, 0, 1, 1, 0, 2});
  }
  SECTION("-1 marks padded windows") {
    const Tensor padded = path_energy(pm, from_vector({0, 1, -1}, {3}));
    CHECK(padded.item() == 1.0f + 4.0f);
  }
  SECTION("gradient check") {
    const auto result = gradcheck(
        [](const std::vector<Tensor>& inputs) {
          return path_energy(inputs[0], from_vector({0, 1, 1}, {3}));
        },
        {pm});
    INFO(result.report);
    CHECK(result.ok);
  }
  SECTION("rejects a column outside the matrix") {
    CHECK_THROWS_AS(path_energy(pm, from_vector({0, 2, 1}, {3})), std::invalid_argument);
  }
}
