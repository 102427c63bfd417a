// Training progress output: a progress bar redrawn in place on a terminal,
// plain periodic lines otherwise (logs, CI), or nothing in quiet mode.
//
// The reporter writes only to the stream it is given, and reads time from a
// clock it is given, so tests can drive it. The caller decides whether the
// stream is a terminal (is_terminal below). Colors and multi-bar layouts are
// left out.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace ember::data {

// Reports whether a file descriptor is a terminal (isatty), e.g.
// is_terminal(2) for std::cerr.
bool is_terminal(int fd);

// Seconds from an arbitrary fixed start; must never decrease.
using Clock = std::function<double()>;
// A Clock backed by std::chrono::steady_clock.
Clock steady_clock_seconds();

struct ProgressOptions {
  bool quiet = false;            // write nothing at all
  bool terminal = false;         // redraw one bar with '\r' instead of writing lines
  double line_interval = 10.0;   // seconds between plain lines
  double redraw_interval = 0.1;  // seconds between bar redraws
  int bar_width = 30;            // characters inside the bar's brackets
};

class ProgressReporter {
 public:
  ProgressReporter(std::ostream& out, ProgressOptions options,
                   Clock clock = steady_clock_seconds());

  // Starts epoch `epoch` of `epochs` (1-based) over `total` samples.
  void start_epoch(int epoch, int epochs, std::int64_t total);

  // Records `done` samples finished so far in this epoch with the running
  // mean loss and error (a fraction, shown as a percent; NaN leaves it out). Output is rate
  // limited: a bar redraw every redraw_interval, a plain line every
  // line_interval.
  void update(std::int64_t done, double loss, double error);

  // Ends the epoch with one summary line: samples, time, loss, error (left
  // out when NaN), rate.
  void finish_epoch(double loss, double error);

  // Writes one line of text (a configuration line, a validation result)
  // without breaking the bar; quiet mode drops it.
  void message(std::string_view line);

 private:
  std::string status(std::int64_t done, double loss, double error, double now) const;
  void clear_bar();

  std::ostream& out_;
  ProgressOptions options_;
  Clock clock_;
  int epoch_ = 0;
  int epochs_ = 0;
  std::int64_t total_ = 0;
  std::int64_t done_ = 0;
  double start_time_ = 0.0;
  double last_output_ = 0.0;
  bool bar_visible_ = false;
};

// Formats seconds as "m:ss", or "h:mm:ss" from one hour on; "?" when not finite.
std::string format_duration(double seconds);

}  // namespace ember::data
