#pragma once
// Runs every trial in its own worker process (`automl worker`), so that a crash or an
// out-of-memory kill takes down only that trial. Boost.Asio drives the waiting: SIGCHLD for
// workers that end, SIGINT/SIGTERM for a clean stop, a timer for the scheduler's ticks. Workers
// run in their own process group, so a terminal's Ctrl-C reaches the engine alone, which then
// ends them and returns their trials.
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
  bool start(const Launch& launch) override;
  std::optional<Exit> wait(double timeout_seconds) override;
  double now() override;
  void stop_all() override;
  void abandon(std::int64_t trial_id) override;
  int interrupted() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Where the slots' lock files of `options.database` live.
std::string slot_lock_dir(const ProcessRunnerOptions& options);

// The worker's command line for `launch` (argv[0] first).
std::vector<std::string> worker_command(const ProcessRunnerOptions& options, const Launch& launch);

}  // namespace automl::engine
