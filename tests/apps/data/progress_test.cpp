// Tests of the progress reporter with a fake clock and a string stream.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <sstream>

#include "apps/data/progress.h"

using ember::data::ProgressOptions;
using ember::data::ProgressReporter;

namespace {

struct FakeClock {
  double now = 100.0;
  ember::data::Clock clock() {
    return [this] { return now; };
  }
};

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("duration format", "[data][progress]") {
  CHECK(ember::data::format_duration(0) == "0:00");
  CHECK(ember::data::format_duration(90) == "1:30");
  CHECK(ember::data::format_duration(3725) == "1:02:05");
  CHECK(ember::data::format_duration(std::numeric_limits<double>::infinity()) == "?");
}

TEST_CASE("plain progress lines", "[data][progress]") {
  std::ostringstream out;
  FakeClock time;
  ProgressOptions options;
  options.line_interval = 10.0;
  ProgressReporter reporter(out, options, time.clock());

  reporter.start_epoch(2, 5, 1000);
  time.now += 5.0;
  reporter.update(50, 1.0, 0.5);  // within the interval: no line
  CHECK(out.str().empty());

  time.now += 5.0;
  reporter.update(100, 0.75, 0.25);  // 100 samples in 10 s: 10/s, 900 left: 1:30
  CHECK(out.str() == "epoch 2/5: 100/1000 loss 0.7500 error 25.00% 10 samples/s ETA 1:30\n");

  time.now += 90.0;
  reporter.finish_epoch(0.5, 0.125);
  CHECK(count_lines(out.str()) == 2);
  CHECK_THAT(out.str(), Catch::EndsWith("epoch 2/5 done: 1000 samples in 1:40, loss 0.5000, error "
                                        "12.50%, 10 samples/s\n"));
}

TEST_CASE("progress without an error", "[data][progress]") {
  std::ostringstream out;
  FakeClock time;
  ProgressReporter reporter(out, ProgressOptions{}, time.clock());
  const double not_measured = std::numeric_limits<double>::quiet_NaN();

  reporter.start_epoch(1, 1, 100);
  time.now += 10.0;
  reporter.update(50, 2.0, not_measured);
  CHECK(out.str() == "epoch 1/1: 50/100 loss 2.0000 5 samples/s ETA 0:10\n");

  time.now += 10.0;
  reporter.finish_epoch(1.5, not_measured);
  CHECK_THAT(out.str(), Catch::EndsWith("epoch 1/1 done: 100 samples in 0:20, loss 1.5000, 5 samples/s\n"));
}

TEST_CASE("terminal progress bar", "[data][progress]") {
  std::ostringstream out;
  FakeClock time;
  ProgressOptions options;
  options.terminal = true;
  options.bar_width = 10;
  ProgressReporter reporter(out, options, time.clock());

  reporter.start_epoch(1, 1, 200);
  time.now += 1.0;
  reporter.update(100, 0.5, 0.0);
  CHECK_THAT(out.str(), Catch::StartsWith("\repoch 1/1 [#####.....] 100/200"));
  CHECK(count_lines(out.str()) == 0);

  reporter.message("validation error 1.00%");
  CHECK_THAT(out.str(), Catch::EndsWith("\r\x1b[Kvalidation error 1.00%\n"));
}

TEST_CASE("quiet progress writes nothing", "[data][progress]") {
  std::ostringstream out;
  FakeClock time;
  ProgressOptions options;
  options.quiet = true;
  ProgressReporter reporter(out, options, time.clock());

  reporter.start_epoch(1, 1, 10);
  time.now += 100.0;
  reporter.update(5, 1.0, 0.0);
  reporter.message("config");
  reporter.finish_epoch(1.0, 0.0);
  CHECK(out.str().empty());
}
