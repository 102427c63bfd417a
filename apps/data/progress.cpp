// The progress bar and plain progress lines declared in progress.h.
#include "apps/data/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace ember::data {

bool is_terminal(int fd) { return ::isatty(fd) == 1; }

Clock steady_clock_seconds() {
  return [] {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    return std::chrono::duration<double>(now).count();
  };
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0.0) return "?";
  const auto whole = static_cast<long long>(std::llround(seconds));
  const long long hours = whole / 3600;
  const long long minutes = whole / 60 % 60;
  const long long secs = whole % 60;
  if (hours > 0) return fmt::format("{}:{:02}:{:02}", hours, minutes, secs);
  return fmt::format("{}:{:02}", minutes, secs);
}

ProgressReporter::ProgressReporter(std::ostream& out, ProgressOptions options, Clock clock)
    : out_(out), options_(options), clock_(std::move(clock)) {}

void ProgressReporter::start_epoch(int epoch, int epochs, std::int64_t total) {
  epoch_ = epoch;
  epochs_ = epochs;
  total_ = std::max<std::int64_t>(total, 0);
  done_ = 0;
  start_time_ = clock_();
  last_output_ = start_time_;
}

namespace {

// The error as a percent in the given format, or nothing when it is NaN
// (not measured).
std::string error_field(fmt::format_string<double> format, double error) {
  return std::isnan(error) ? std::string() : fmt::format(format, 100.0 * error);
}

}  // namespace

std::string ProgressReporter::status(std::int64_t done, double loss, double error,
                                     double now) const {
  const double elapsed = now - start_time_;
  const double rate = elapsed > 0.0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0.0 ? static_cast<double>(total_ - done) / rate
                                : std::numeric_limits<double>::infinity();
  return fmt::format("{}/{} loss {:.4f}{} {:.0f} samples/s ETA {}", done, total_, loss,
                     error_field(" error {:.2f}%", error), rate, format_duration(eta));
}

void ProgressReporter::update(std::int64_t done, double loss, double error) {
  done_ = std::clamp<std::int64_t>(done, 0, total_);
  if (options_.quiet) return;

  const double now = clock_();
  const double interval = options_.terminal ? options_.redraw_interval : options_.line_interval;
  if (now - last_output_ < interval) return;
  last_output_ = now;

  if (!options_.terminal) {
    out_ << fmt::format("epoch {}/{}: {}", epoch_, epochs_, status(done_, loss, error, now))
         << '\n';
    out_.flush();
    return;
  }

  const double fraction = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const int filled = static_cast<int>(std::floor(fraction * options_.bar_width));
  const std::string bar = std::string(filled, '#') + std::string(options_.bar_width - filled, '.');
  // "\x1b[K" (erase to end of line) removes what a longer previous status left.
  out_ << fmt::format("\repoch {}/{} [{}] {}\x1b[K", epoch_, epochs_, bar,
                      status(done_, loss, error, now));
  out_.flush();
  bar_visible_ = true;
}

void ProgressReporter::clear_bar() {
  if (!bar_visible_) return;
  out_ << "\r\x1b[K";
  bar_visible_ = false;
}

void ProgressReporter::finish_epoch(double loss, double error) {
  if (options_.quiet) return;
  const double elapsed = clock_() - start_time_;
  const double rate = elapsed > 0.0 ? static_cast<double>(total_) / elapsed : 0.0;
  clear_bar();
  out_ << fmt::format("epoch {}/{} done: {} samples in {}, loss {:.4f}{}, {:.0f} samples/s", epoch_,
                      epochs_, total_, format_duration(elapsed), loss,
                      error_field(", error {:.2f}%", error), rate)
       << '\n';
  out_.flush();
}

void ProgressReporter::message(std::string_view line) {
  if (options_.quiet) return;
  clear_bar();
  out_ << line << '\n';
  out_.flush();
}

}  // namespace ember::data
