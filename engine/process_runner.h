#pragma once
// Runs every trial in its own worker process (`automl worker`), so that a crash or an
// out-of-memory kill takes down only that trial. Boost.Asio drives the waiting: SIGCHLD for
// workers that end, a timer for the scheduler's ticks.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/scheduler.h"

namespace automl::engine {

struct ProcessRunnerOptions {
  std::string executable;  // the automl binary
  std::string database;
  std::string checkpoint_dir;  // trials' checkpoints; worker logs go to <it>/logs
  int threads = 0;             // LibTorch threads per worker; 0 = cores / slots
  double heartbeat_seconds = 2;
};

class ProcessRunner final : public TrialRunner {
 public:
  explicit ProcessRunner(ProcessRunnerOptions options);
  ~ProcessRunner() override;
  void start(const Launch& launch) override;
  std::optional<Exit> wait(double timeout_seconds) override;
  double now() override;
  void stop_all() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The worker's command line for `launch` (argv[0] first).
std::vector<std::string> worker_command(const ProcessRunnerOptions& options, const Launch& launch);

}  // namespace automl::engine
