// Alphabet construction, encoding and decoding. The separator transform is in
// separator_transform.cpp, on its own so exercise mode can replace it.
#include "ebm/alignment/alphabet.h"

#include <stdexcept>

#include <fmt/format.h>

namespace ember::alignment {

Alphabet::Alphabet(std::string symbols, int64_t separator)
    : symbols_(std::move(symbols)), separator_(separator) {
  if (separator_ < 0 || separator_ >= size()) {
    throw std::invalid_argument(fmt::format(
        "Alphabet: separator index {} is outside the {} symbols \"{}\"", separator_, size(),
        symbols_));
  }
  for (int16_t& entry : index_of_) {
    entry = -1;
  }
  for (int64_t i = 0; i < size(); ++i) {
    const auto byte = static_cast<unsigned char>(symbols_[i]);
    if (index_of_[byte] >= 0) {
      throw std::invalid_argument(
          fmt::format("Alphabet: symbol '{}' appears twice in \"{}\"", symbols_[i], symbols_));
    }
    index_of_[byte] = static_cast<int16_t>(i);
  }
}

Alphabet Alphabet::letters() { return Alphabet("abcdefghijklmnopqrstuvwxyz_", 26); }

Alphabet Alphabet::digits() { return Alphabet("0123456789_", 10); }

char Alphabet::symbol(int64_t index) const {
  if (index < 0 || index >= size()) {
    throw std::out_of_range(fmt::format("Alphabet::symbol: index {} is outside [0, {})", index,
                                        size()));
  }
  return symbols_[index];
}

std::vector<int64_t> Alphabet::encode(std::string_view word) const {
  std::vector<int64_t> indices;
  indices.reserve(word.size());
  for (const char character : word) {
    const int16_t index = index_of_[static_cast<unsigned char>(character)];
    if (index < 0 || index == separator_) {
      throw std::invalid_argument(fmt::format(
          "Alphabet::encode: character '{}' of \"{}\" is not a symbol of \"{}\" other than the "
          "separator",
          character, word, symbols_));
    }
    indices.push_back(index);
  }
  return indices;
}

std::string Alphabet::decode(const std::vector<int64_t>& indices) const {
  std::string word;
  word.reserve(indices.size());
  for (const int64_t index : indices) {
    word.push_back(symbol(index));
  }
  return word;
}

}  // namespace ember::alignment
