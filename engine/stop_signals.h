#pragma once
// SIGINT and SIGTERM recorded instead of ending the process, while an object of this class
// lives: a loop that polls (a claiming worker, the queue runner) asks received() and stops
// cleanly. A second signal ends the process at once (SA_RESETHAND), for a user who means it.
#include <csignal>

namespace automl::engine {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal that arrived first since construction, 0 while none has.
  int received() const;

 private:
  struct sigaction old_term_ = {}, old_int_ = {};
};

}  // namespace automl::engine
