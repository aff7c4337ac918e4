#pragma once
// A worker: the process that runs one trial. It claims the trial in storage (atomically, so two
// workers never run the same one), sends heartbeats while it runs, commits every epoch when it
// ends, checkpoints after every epoch and resumes from the checkpoint when one exists.
#include <cstdint>
#include <string>

namespace automl::engine {

struct WorkerOptions {
  std::string database;
  std::int64_t trial_id = 0;       // the trial to claim; 0 = the oldest pending one of
  std::int64_t experiment_id = 0;  // this experiment
  std::string device = "cpu";      // what the trial runs on (the engine's slot)
  std::string checkpoint_dir;      // empty = no checkpoints
  double heartbeat_seconds = 2;
  int threads = 0;  // LibTorch threads; 0 = one per core
};

// Exit codes of `automl worker`.
enum WorkerExit : int {
  kWorkerFinished = 0,      // the trial ended (done or crashed) and is recorded
  kWorkerFailed = 1,        // the trial threw; recorded as failed with the reason
  kWorkerLost = 2,          // the trial was taken away (requeued) while it ran
  kWorkerNothing = 3,       // nothing to claim
  kWorkerStorageError = 4,  // the database failed (not the trial): the trial is left running
};

// Claims and runs one trial; returns a WorkerExit.
int run_worker(const WorkerOptions& options);

// "host:pid" of this process, the identity workers claim under.
std::string worker_identity();
std::string worker_identity(int pid);

// Where trial `trial_id`'s checkpoint lives under `checkpoint_dir`.
std::string checkpoint_path(const std::string& checkpoint_dir, std::int64_t trial_id);

}  // namespace automl::engine
