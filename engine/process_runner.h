#pragma once
// Runs trials in worker processes (`automl worker`), one long-lived worker per slot, so that
// LibTorch starts and data sets load once per slot rather than once per trial, while a crash or
// an out-of-memory kill still takes down only the trial it was running.
//
// A slot's worker starts with the slot's first trial (CUDA_VISIBLE_DEVICES of the slot, in a
// process group of its own, so a terminal's Ctrl-C reaches the engine alone, which then ends the
// workers and returns their trials). The engine hands it one trial at a time over a socket
// (the worker's fd 3, `--serve-fd 3`):
//   engine -> worker   "run <trial id>\n"
//   worker -> engine   "<trial id> <WorkerExit>\n"   (engine/worker.h), once the trial ended
// Each answer becomes an Exit with that code; a worker that dies with a trial becomes an Exit
// with its exit status (-N for signal N), as when every trial had a process; a worker that dies
// idle is just gone; the slot's next trial starts a fresh one. Boost.Asio drives the waiting:
// the sockets, SIGCHLD for workers that end, SIGINT/SIGTERM for a clean stop, a timer for the
// scheduler's ticks.
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

  // The pid of the worker that serves `slot_name` (0 if none), for tests and diagnostics.
  int worker_pid(const std::string& slot_name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Where the slots' lock files of `options.database` live.
std::string slot_lock_dir(const ProcessRunnerOptions& options);

// The fd on which a worker started by the engine reads trials and answers.
constexpr int kWorkerChannelFd = 3;

// The command line of the worker for `slot` (argv[0] first).
std::vector<std::string> worker_command(const ProcessRunnerOptions& options, const Slot& slot);

}  // namespace automl::engine
