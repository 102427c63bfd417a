// Alphabets: the symbols a recognizer's energies score, and the conversion
// between words and symbol indices.
//
// An alphabet is an ordered list of single-byte symbols; symbol i is column i
// of the energies E [B, L, C], so C = size(). One symbol is special: the
// separator `_` of the separator topology, which is also the blank of the CTC
// topology. Words never contain it.
//
// Left out on purpose: multi-byte (UTF-8) symbols.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ember::alignment {

class Alphabet {
 public:
  // symbols lists every symbol once; separator is the index of the separator
  // (blank) symbol within it.
  Alphabet(std::string symbols, int64_t separator);

  // a-z plus `_` at index 26 (C = 27), the default.
  static Alphabet letters();
  // 0-9 plus `_` at index 10 (C = 11).
  static Alphabet digits();

  int64_t size() const { return static_cast<int64_t>(symbols_.size()); }
  int64_t separator() const { return separator_; }
  const std::string& symbols() const { return symbols_; }
  char symbol(int64_t index) const;

  // Index of each character of word; throws std::invalid_argument on a
  // character outside the alphabet or on the separator itself.
  std::vector<int64_t> encode(std::string_view word) const;
  // The characters of the given indices (separators included, if present).
  std::string decode(const std::vector<int64_t>& indices) const;

 private:
  std::string symbols_;
  int64_t separator_ = 0;
  int16_t index_of_[256];
};

// The separator transform: a separator after every symbol, so `cat` becomes
// `c_a_t_` (T symbols become 2T).
std::vector<int64_t> separator_transform(const std::vector<int64_t>& target, int64_t separator);

}  // namespace ember::alignment
