// Stopping a long run cleanly on Ctrl-C. While an InterruptGuard lives,
// SIGINT and SIGTERM only set a flag. The run checks the flag between
// optimizer steps, where stopping loses nothing, and can then report which
// files it kept instead of dying in the middle of a write.
//
// The flag is process-wide, so only one guard may live at a time. Other
// signals and resuming an interrupted run are left out.
#pragma once

namespace ember::data {

class InterruptGuard {
 public:
  // Clears the flag and installs the handler for SIGINT and SIGTERM.
  InterruptGuard();
  // Restores the handlers that were installed before.
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // Returns whether SIGINT or SIGTERM arrived since this guard was made.
  bool interrupted() const;

 private:
  using Handler = void (*)(int);
  Handler previous_interrupt_;
  Handler previous_terminate_;
};

}  // namespace ember::data
