// Tests of the windows a target or a lexicon word needs: the minimum under
// each topology, and the lexicon word that needs the fewest, which decode
// and eval warn about.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "apps/recognition/inference.h"

using namespace ember;
using namespace ember::recognition;

namespace {

// a-z plus the separator `_` at index 26, decoded with the given topology.
Recognizer letters_recognizer(alignment::TopologyKind topology) {
  RecognizerSpec spec;
  spec.topology = topology;
  return Recognizer(spec, /*seed=*/1);
}

}  // namespace

TEST_CASE("min windows of a target", "[recognition][lexicon]") {
  const alignment::Topology separator = alignment::Topology::separator(26);
  const alignment::Topology ctc = alignment::Topology::ctc(26);
  const std::vector<int64_t> cat = {2, 0, 19};
  const std::vector<int64_t> aab = {0, 0, 1};

  SECTION("separator: a separator after every symbol") {
    CHECK(min_windows(separator, {}) == 0);
    CHECK(min_windows(separator, {0}) == 2);       // a_
    CHECK(min_windows(separator, cat) == 6);       // c_a_t_
    CHECK(min_windows(separator, aab) == 6);       // a_a_b_
  }
  SECTION("ctc: a blank only between equal neighbours") {
    CHECK(min_windows(ctc, {}) == 0);
    CHECK(min_windows(ctc, {0}) == 1);             // a
    CHECK(min_windows(ctc, cat) == 3);             // cat
    CHECK(min_windows(ctc, aab) == 4);             // a-ab
    CHECK(min_windows(ctc, {0, 0, 0}) == 5);       // a-a-a
  }
}

TEST_CASE("shortest lexicon word by windows", "[recognition][lexicon]") {
  const alignment::Alphabet letters = alignment::Alphabet::letters();
  // Under ctc "aaa" needs 5 windows and "abcd" 4; under the separator
  // topology they need 6 and 8.
  const alignment::Lexicon lexicon({letters.encode("aaa"), letters.encode("abcd"), letters.encode("internationalization")});

  SECTION("ctc") {
    const ShortestWord word = shortest_lexicon_word(letters_recognizer(alignment::TopologyKind::ctc), lexicon);
    CHECK(word.text == "abcd");
    CHECK(word.windows == 4);
  }
  SECTION("separator") {
    const ShortestWord word =
        shortest_lexicon_word(letters_recognizer(alignment::TopologyKind::separator), lexicon);
    CHECK(word.text == "aaa");
    CHECK(word.windows == 6);
  }
  SECTION("a prefix that is not a word is not counted") {
    // "ab" is only a prefix of "abcd"; the words are "abcd" and "zz".
    const alignment::Lexicon prefixes({letters.encode("abcd"), letters.encode("zz")});
    const ShortestWord word = shortest_lexicon_word(letters_recognizer(alignment::TopologyKind::ctc), prefixes);
    CHECK(word.text == "zz");
    CHECK(word.windows == 3);
  }
}
