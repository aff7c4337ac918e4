#pragma once
// A worker: the process that runs trials. It claims a trial in storage (atomically, so two
// workers never run the same one), sends heartbeats while it runs, commits every epoch when it
// ends, checkpoints after every epoch and resumes from the checkpoint when one exists. One
// process runs trial after trial, keeping LibTorch and the loaded data sets warm
// (engine/data_cache.h); where its trials come from is a TrialSource:
//   - the engine (ProcessRunner): one long-lived worker per slot, fed trial ids over a socket;
//   - the database itself: the oldest pending trial of an experiment, until idle for a while;
//   - one given trial (`automl worker --trial N`), then it exits.
// An exception ends only its trial (recorded failed); a worker whose trial threw, or whose
// database failed, ends after it has said so, so that no later trial runs in a process that
// error may have damaged (a CUDA context, a database connection).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace automl::engine {

struct WorkerOptions {
  std::string database;
  std::int64_t trial_id = 0;       // the trial to claim; 0 = the oldest pending one of
  std::int64_t experiment_id = 0;  // this experiment,
  std::string experiment;          // or of the one of this name (when experiment_id is 0)
  std::string device = "cpu";      // what the trial runs on (the engine's slot)
  std::string checkpoint_dir;      // empty = no checkpoints (the experiment's when claiming)
  std::string log_dir;             // each trial's output goes to <it>/trial-<id>.log; empty = as is
  double heartbeat_seconds = 2;
  int threads = 0;  // LibTorch threads; 0 = one per core
  // Where the trials come from (see above): the engine's socket when >= 0 ...
  int serve_fd = -1;
  // ... else with experiment_id/experiment: claim until nothing was pending for this long
  // (seconds; < 0 = claim once). SIGTERM or SIGINT stops it at its trial's next epoch, which
  // goes back to pending (checkpointed).
  double idle_exit = -1;
};

// Exit codes of `automl worker`, and the answers of an engine-fed worker for each trial.
enum WorkerExit : int {
  kWorkerFinished = 0,      // the trial ended (done or crashed) and is recorded
  kWorkerFailed = 1,        // the trial threw; recorded as failed with the reason
  kWorkerLost = 2,          // the trial was taken away (requeued) while it ran, or given back
  kWorkerNothing = 3,       // nothing to claim
  kWorkerStorageError = 4,  // the database failed (not the trial): the trial is left running
  kWorkerRefused = 5,       // a trial it chose itself has a configuration this release cannot
                            // read (another release wrote it): given back, and the worker ends
};

// What a worker claims next: one given trial (trial_id > 0) or the oldest pending one of an
// experiment.
struct TrialRequest {
  std::int64_t trial_id = 0;
  std::int64_t experiment_id = 0;
};

// Where a worker's trials come from and where it says how each ended.
class TrialSource {
 public:
  virtual ~TrialSource() = default;
  // The next claim to make; nullopt when the worker is done (may block).
  virtual std::optional<TrialRequest> next() = 0;
  // How the claim of `request` ended (a WorkerExit); `claimed` is the trial it ran, 0 if none.
  virtual void report(const TrialRequest& request, std::int64_t claimed, int exit) = 0;
  // True once the worker is asked to stop: its trial stops after the current epoch.
  virtual bool stopping() { return false; }
};

// Engine-fed: reads "run <id>" lines from `fd` and answers "<id> <WorkerExit>" on it; done at
// the end of the input. The engine's end of the protocol is engine/process_runner.h.
std::unique_ptr<TrialSource> channel_source(int fd);
// Self-fed: the oldest pending trial of `experiment_id`, polled for until none was pending for
// `idle_exit` seconds, or SIGTERM/SIGINT arrives (installed while the source lives).
std::unique_ptr<TrialSource> database_source(std::int64_t experiment_id, double idle_exit);
// One claim, then done.
std::unique_ptr<TrialSource> single_source(TrialRequest request);

// Runs the source's trials one after another in this process; returns the WorkerExit of the
// last claim (kWorkerNothing when there was none).
int run_worker_loop(const WorkerOptions& options, TrialSource& source);

// `automl worker`: picks the source from the options and runs it; returns the exit code.
int run_worker(const WorkerOptions& options);

// "host:pid" of this process, the identity workers claim under.
std::string worker_identity();
std::string worker_identity(int pid);

// Where trial `trial_id`'s checkpoint lives under `checkpoint_dir`.
std::string checkpoint_path(const std::string& checkpoint_dir, std::int64_t trial_id);

}  // namespace automl::engine
