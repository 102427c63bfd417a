// Edit distance by the classic dynamic program, with a backtrace for the
// confusion counts; and the JSON-lines metrics log.
#include "apps/recognition/metrics.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace ember::recognition {

namespace {

// table[i][j] = edit distance between reference[0, i) and hypothesis[0, j).
std::vector<std::vector<int64_t>> edit_table(const std::string& reference,
                                             const std::string& hypothesis) {
  const size_t n = reference.size();
  const size_t m = hypothesis.size();
  std::vector<std::vector<int64_t>> table(n + 1, std::vector<int64_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) {
    table[i][0] = static_cast<int64_t>(i);
  }
  for (size_t j = 0; j <= m; ++j) {
    table[0][j] = static_cast<int64_t>(j);
  }
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const int64_t substitution = table[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]);
      const int64_t deletion = table[i - 1][j] + 1;
      const int64_t insertion = table[i][j - 1] + 1;
      table[i][j] = std::min({substitution, deletion, insertion});
    }
  }
  return table;
}

}  // namespace

int64_t edit_distance(const std::string& reference, const std::string& hypothesis) {
  return edit_table(reference, hypothesis).back().back();
}

void ErrorCounter::add(const std::string& reference, const std::string& hypothesis) {
  const auto table = edit_table(reference, hypothesis);
  ++samples_;
  exact_ += reference == hypothesis;
  edits_ += table.back().back();
  reference_symbols_ += static_cast<int64_t>(reference.size());

  // Walk back along one optimal alignment, preferring a match or
  // substitution, then a deletion, then an insertion.
  size_t i = reference.size();
  size_t j = hypothesis.size();
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 &&
        table[i][j] == table[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1])) {
      if (reference[i - 1] != hypothesis[j - 1]) {
        ++confusions_[{reference[i - 1], hypothesis[j - 1]}];
      }
      --i;
      --j;
    } else if (i > 0 && table[i][j] == table[i - 1][j] + 1) {
      ++confusions_[{reference[i - 1], '\0'}];
      --i;
    } else {
      ++confusions_[{'\0', hypothesis[j - 1]}];
      --j;
    }
  }
}

double ErrorCounter::character_error_rate() const {
  if (reference_symbols_ == 0) {
    return edits_ == 0 ? 0.0 : 1.0;
  }
  return static_cast<double>(edits_) / static_cast<double>(reference_symbols_);
}

double ErrorCounter::word_accuracy() const {
  return samples_ == 0 ? 0.0 : static_cast<double>(exact_) / static_cast<double>(samples_);
}

MetricsLog::MetricsLog(const std::string& path) : path_(path), out_(path, std::ios::app) {
  if (!out_) {
    throw std::runtime_error(fmt::format("cannot open metrics file '{}' for appending", path));
  }
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) {
    throw std::runtime_error(fmt::format("writing metrics file '{}' failed", path_));
  }
}

}  // namespace ember::recognition
