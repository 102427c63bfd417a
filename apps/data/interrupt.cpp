// The signal handler behind InterruptGuard.
#include "apps/data/interrupt.h"

#include <csignal>

namespace ember::data {

namespace {

// Set by SIGINT or SIGTERM while a guard lives. A handler may only store to
// a volatile sig_atomic_t, so the flag is one.
volatile std::sig_atomic_t interrupted_flag = 0;

void on_interrupt(int) { interrupted_flag = 1; }

}  // namespace

InterruptGuard::InterruptGuard() {
  interrupted_flag = 0;
  previous_interrupt_ = std::signal(SIGINT, on_interrupt);
  previous_terminate_ = std::signal(SIGTERM, on_interrupt);
}

InterruptGuard::~InterruptGuard() {
  std::signal(SIGINT, previous_interrupt_);
  std::signal(SIGTERM, previous_terminate_);
}

bool InterruptGuard::interrupted() const { return interrupted_flag != 0; }

}  // namespace ember::data
