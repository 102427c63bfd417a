// Tests of collapsing, greedy, Viterbi, two-best and beam decoding, checked
// against brute-force enumeration of every window sequence.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "autodiff/autodiff.h"
#include "brute_force.h"
#include "ebm/alignment/decode.h"

using namespace ember;
using namespace ember::alignment;
using namespace ember::alignment::testing;

namespace {

// The best window sequence reading any label sequence other than `excluded`
// (pass nullptr to allow all), by enumeration: {labels, energy}.
std::pair<std::vector<int64_t>, double> brute_best(const std::vector<float>& energies,
                                                   int64_t windows, int64_t symbols,
                                                   const Topology& topology,
                                                   const std::vector<int64_t>* excluded) {
  std::pair<std::vector<int64_t>, double> best{{}, std::numeric_limits<double>::infinity()};
  for (const auto& pi : all_alignments(windows, symbols, topology)) {
    const auto labels = *read_labels(pi, topology);
    if (excluded != nullptr && labels == *excluded) {
      continue;
    }
    const double energy = window_energy(energies, symbols, pi);
    if (energy < best.second) {
      best = {labels, energy};
    }
  }
  return best;
}

}  // namespace

TEST_CASE("collapse under both topologies", "[alignment][decode][hw-p1-decode]") {
  const Alphabet letters = Alphabet::letters();
  auto windows = [&](const std::string& text) {
    std::vector<int64_t> symbols;
    for (const char c : text) {
      symbols.push_back(c == '_' ? 26 : c - 'a');
    }
    return symbols;
  };
  SECTION("separator: majority symbol of each segment, separators dropped") {
    CHECK(letters.decode(collapse(windows("ccx__aa_tt_"), Topology::separator())) == "cat");
    CHECK(letters.decode(collapse(windows("_b_oo_o_kk"), Topology::separator())) == "book");
    // A tie keeps the symbol seen first.
    CHECK(letters.decode(collapse(windows("xy_"), Topology::separator())) == "x");
  }
  SECTION("ctc: merge repeats, then drop blanks") {
    CHECK(letters.decode(collapse(windows("_cc_aa_t"), Topology::ctc())) == "cat");
    CHECK(letters.decode(collapse(windows("boo_ok"), Topology::ctc())) == "book");
  }
}

TEST_CASE("greedy_decode takes the per-window argmin", "[alignment][decode][hw-p1-decode]") {
  // C = 3 (a, b, _), L = 4: argmins a a _ b, then a padded sample.
  const Tensor e = from_vector({0, 1, 2, 0, 1, 2, 2, 2, 0, 2, 0, 1,
                                0, 1, 2, 2, 1, 0, 9, 9, 9, 9, 9, 9},
                               {2, 4, 3});
  const auto separator = greedy_decode(e, {4, 2}, Topology::separator(2));
  CHECK(separator[0] == std::vector<int64_t>{0, 1});
  CHECK(separator[1] == std::vector<int64_t>{0});
  const auto ctc = greedy_decode(e, {4, 2}, Topology::ctc(2));
  CHECK(ctc[0] == std::vector<int64_t>{0, 1});
}

TEST_CASE("decoders match enumeration", "[alignment][decode]") {
  Generator generator(31);
  const int64_t symbols = 3;
  for (const TopologyKind kind : {TopologyKind::separator, TopologyKind::ctc}) {
    const Topology topology{kind, 2};
    SECTION(topology_name(kind)) {
      for (int64_t windows = 1; windows <= 6; ++windows) {
        INFO("L = " << windows);
        std::vector<float> energies;
        for (int64_t i = 0; i < windows * symbols; ++i) {
          energies.push_back(generator.uniform(-2.0f, 2.0f));
        }
        const Tensor e = from_vector(energies, {1, windows, symbols});
        const auto expected = brute_best(energies, windows, symbols, topology, nullptr);
        const Decoding best = viterbi_decode(e, {}, topology)[0];
        if (!std::isfinite(expected.second)) {
          CHECK(best.energy == std::numeric_limits<float>::infinity());
          continue;
        }
        CHECK(best.labels == expected.first);
        CHECK(best.energy == Approx(expected.second).margin(1e-5));

        // A wide beam finds the same decoding.
        const Decoding beam = beam_decode(e, {}, topology, {64, nullptr})[0];
        CHECK(beam.labels == expected.first);
        CHECK(beam.energy == Approx(expected.second).margin(1e-5));

        // The most offending incorrect sequence when the target is the best
        // decoding is the second-best sequence.
        const auto second = brute_best(energies, windows, symbols, topology, &expected.first);
        const auto found =
            most_offending_incorrect(energies.data(), windows, symbols, expected.first, topology);
        if (!std::isfinite(second.second)) {
          CHECK_FALSE(found.has_value());
          continue;
        }
        REQUIRE(found.has_value());
        CHECK(found->labels == second.first);
        CHECK(found->energy == Approx(second.second).margin(1e-5));
        CHECK(found->labels != expected.first);
      }
    }
  }
}

TEST_CASE("beam_decode keeps to the lexicon", "[alignment][decode]") {
  // C = 3 (a, b, _), ctc. Windows favour `ab`, but only `ba` and `aa` are words.
  const Tensor e = from_vector({0, 3, 3, 3, 3, 0, 3, 0, 3, 3, 3, 0}, {1, 4, 3});
  const Lexicon lexicon({{1, 0}, {0, 0}});
  CHECK(lexicon.size() == 2);
  const Decoding free = beam_decode(e, {}, Topology::ctc(2), {8, nullptr})[0];
  CHECK(free.labels == std::vector<int64_t>{0, 1});
  const Decoding constrained = beam_decode(e, {}, Topology::ctc(2), {8, &lexicon})[0];
  const bool is_word = constrained.labels == std::vector<int64_t>{1, 0} ||
                       constrained.labels == std::vector<int64_t>{0, 0};
  CHECK(is_word);
  // a _ a _ costs 0 + 0 + 3 + 0 = 3; b a costs more.
  CHECK(constrained.labels == std::vector<int64_t>{0, 0});
  CHECK(constrained.energy == 3.0f);
}

TEST_CASE("lexicon loads a word list", "[alignment][decode]") {
  const std::string path = "/tmp/ember_lexicon_test.txt";
  {
    std::ofstream out(path);
    out << "cat\n\ndog\r\ncat\n";
  }
  const Lexicon lexicon = Lexicon::load(path, Alphabet::letters());
  CHECK(lexicon.size() == 2);
  {
    std::ofstream out(path);
    out << "cat\nDog\n";
  }
  CHECK_THROWS_AS(Lexicon::load(path, Alphabet::letters()), std::invalid_argument);
  std::remove(path.c_str());
  CHECK_THROWS_AS(Lexicon::load(path, Alphabet::letters()), std::invalid_argument);
}
