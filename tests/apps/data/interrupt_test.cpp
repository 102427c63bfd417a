// Tests of InterruptGuard: a signal sets its flag instead of ending the
// process, each guard starts clear, and the earlier handlers come back.
#include <catch2/catch.hpp>

#include <csignal>

#include "apps/data/interrupt.h"

namespace {

volatile std::sig_atomic_t earlier_handler_calls = 0;

void earlier_handler(int) { earlier_handler_calls = earlier_handler_calls + 1; }

// Installs earlier_handler for SIGINT and SIGTERM, and puts back the
// handlers Catch installs while a test runs.
struct EarlierHandlers {
  EarlierHandlers()
      : catch_interrupt(std::signal(SIGINT, earlier_handler)),
        catch_terminate(std::signal(SIGTERM, earlier_handler)) {
    earlier_handler_calls = 0;
  }
  ~EarlierHandlers() {
    std::signal(SIGINT, catch_interrupt);
    std::signal(SIGTERM, catch_terminate);
  }
  EarlierHandlers(const EarlierHandlers&) = delete;
  EarlierHandlers& operator=(const EarlierHandlers&) = delete;

  void (*catch_interrupt)(int);
  void (*catch_terminate)(int);
};

}  // namespace

TEST_CASE("interrupt guard turns signals into a flag", "[data][interrupt]") {
  const EarlierHandlers earlier;

  SECTION("SIGINT and SIGTERM set the flag") {
    for (const int signal : {SIGINT, SIGTERM}) {
      INFO("signal " << signal);
      const ember::data::InterruptGuard guard;
      CHECK_FALSE(guard.interrupted());
      std::raise(signal);
      CHECK(guard.interrupted());
    }
    CHECK(earlier_handler_calls == 0);
  }
  SECTION("a new guard starts clear") {
    {
      const ember::data::InterruptGuard first;
      std::raise(SIGINT);
      CHECK(first.interrupted());
    }
    const ember::data::InterruptGuard second;
    CHECK_FALSE(second.interrupted());
  }
  SECTION("the earlier handlers come back") {
    { const ember::data::InterruptGuard guard; }
    std::raise(SIGINT);
    std::raise(SIGTERM);
    CHECK(earlier_handler_calls == 2);
  }
}
