// Tests for edit distance, CER, word accuracy and confusions.
#include <catch2/catch.hpp>

#include "apps/recognition/metrics.h"

using namespace ember::recognition;

TEST_CASE("edit distance on small cases", "[apps][metrics]") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("cat", "cat") == 0);
  CHECK(edit_distance("cat", "") == 3);
  CHECK(edit_distance("", "ab") == 2);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("abc", "acb") == 2);
}

TEST_CASE("error counter sums over pairs", "[apps][metrics]") {
  ErrorCounter counter;
  counter.add("hello", "hello");
  counter.add("world", "word");  // one deletion
  counter.add("abc", "xbc");     // one substitution
  CHECK(counter.samples() == 3);
  CHECK(counter.edits() == 2);
  CHECK(counter.reference_symbols() == 13);
  CHECK(counter.character_error_rate() == Approx(2.0 / 13.0));
  CHECK(counter.word_accuracy() == Approx(1.0 / 3.0));

  SECTION("confusions record each edit") {
    const auto& confusions = counter.confusions();
    CHECK(confusions.at({'a', 'x'}) == 1);
    CHECK(confusions.at({'l', '\0'}) == 1);
    CHECK(confusions.size() == 2);
  }
}

TEST_CASE("error counter edge cases", "[apps][metrics]") {
  ErrorCounter empty;
  CHECK(empty.character_error_rate() == 0.0);
  CHECK(empty.word_accuracy() == 0.0);

  ErrorCounter insertion_only;
  insertion_only.add("", "ab");
  CHECK(insertion_only.character_error_rate() == 1.0);
  CHECK(insertion_only.confusions().at({'\0', 'a'}) == 1);
}
