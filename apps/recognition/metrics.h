// Recognition metrics: edit distance, character error rate, word accuracy
// and per-character confusions, plus a JSON-lines writer for training logs.
//
// Strings are compared byte by byte, which is exact for Ember's alphabets
// (ASCII letters, digits and the separator).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace ember::recognition {

// The Levenshtein distance: the fewest insertions, deletions and
// substitutions that turn hypothesis into reference.
int64_t edit_distance(const std::string& reference, const std::string& hypothesis);

// Accumulates error counts over a test set.
class ErrorCounter {
 public:
  // Adds one (reference, hypothesis) pair.
  void add(const std::string& reference, const std::string& hypothesis);

  // Character error rate: total edit distance / total reference length.
  // 0 for an empty set; a hypothesis for an empty reference counts its length.
  double character_error_rate() const;
  // Fraction of pairs whose hypothesis equals the reference exactly.
  double word_accuracy() const;
  int64_t samples() const { return samples_; }
  int64_t edits() const { return edits_; }
  int64_t reference_symbols() const { return reference_symbols_; }

  // Substitution counts keyed by (reference symbol, hypothesis symbol),
  // taken from one minimum-edit alignment per pair. Deletions are keyed with
  // hypothesis '\0' and insertions with reference '\0'.
  const std::map<std::pair<char, char>, int64_t>& confusions() const { return confusions_; }

 private:
  int64_t samples_ = 0;
  int64_t exact_ = 0;
  int64_t edits_ = 0;
  int64_t reference_symbols_ = 0;
  std::map<std::pair<char, char>, int64_t> confusions_;
};

// Appends one JSON object per line to a metrics file, flushing each line so
// a killed run keeps everything written so far.
class MetricsLog {
 public:
  // Opens path for appending; throws std::runtime_error naming the path.
  explicit MetricsLog(const std::string& path);
  void write(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace ember::recognition
