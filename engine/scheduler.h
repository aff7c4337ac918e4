#pragma once
// The scheduler: runs an experiment's stages of independent jobs on a machine's slots within a
// budget. A stage plans its jobs once the stages it needs have decided; every job is a trial row
// in storage (so a resumed run sees it); the jobs run through a TrialRunner (worker processes,
// or a fake in tests, as ninja's CommandRunner / FakeCommandRunner); each finished stage stores
// its decision. Free of LibTorch.
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/plan.h"
#include "search/plan.h"
#include "storage/storage.h"

namespace automl::engine {

// One place a trial can run: a share of a GPU, or the CPU.
struct Slot {
  int index = 0;
  std::string name;             // "gpu0.1", "cpu.0"
  std::string device;           // what the trial inside the worker uses: "cpu" | "cuda:0"
  std::string visible_devices;  // CUDA_VISIBLE_DEVICES of the worker; empty on the CPU
  double device_share = 1;      // 1 / the number of slots on the same device
};

// `gpus` visible GPUs x slots_per_gpu slots each, or (no GPU, or kind cpu) cpu_slots CPU slots.
std::vector<Slot> make_slots(const std::string& kind, int gpus, int slots_per_gpu, int cpu_slots);

struct Launch {
  std::int64_t trial_id = 0;
  std::string label;
  Slot slot;
};

// How a started trial ended: its worker's answer for it, or the worker's death.
struct Exit {
  std::int64_t trial_id = 0;
  std::string worker;  // the identity the worker claims under ("host:pid")
  int exit_code = 0;   // the worker's WorkerExit for it (engine/worker.h); -N = killed by signal N
  std::string how;     // "exit 0", "signal 9 (Killed)", ...
};

// Starts trials and reports when they end. The worker behind it claims the trial in storage,
// writes its epochs and finishes it; the runner only starts and waits.
class TrialRunner {
 public:
  virtual ~TrialRunner() = default;
  // Starts the trial on its slot; false when the slot is taken by another engine on this
  // machine (the job then waits for a free slot).
  virtual bool start(const Launch& launch) = 0;
  // The next started trial that ended, waiting at most `timeout_seconds`; nullopt on timeout.
  virtual std::optional<Exit> wait(double timeout_seconds) = 0;
  // Monotonic seconds (virtual time in a fake).
  virtual double now() = 0;
  // Ends every started trial that is still running (the engine stops).
  virtual void stop_all() {}
  // Kills the worker of one started trial (its heartbeat went stale: it is hung or paused);
  // its Exit still arrives through wait().
  virtual void abandon(std::int64_t trial_id) {}
  // The signal that asked the engine to stop (SIGINT, SIGTERM), 0 while none has; wait()
  // returns early once one arrives.
  virtual int interrupted() { return 0; }
};

// What a stage sees when asked for its next step.
struct StageInputs {
  std::map<Stage, nlohmann::json> decisions;  // of the stages it is after
  std::vector<search::JobResult> results;     // of its own finished jobs so far
  // The finished jobs of any stage it is after (e.g. c1c2 rebuilds table D from the LRRT's).
  std::function<std::vector<search::JobResult>(Stage stage)> results_of;
};

// The next step of a stage: more jobs to run, or (no jobs) its decision.
struct StageStep {
  std::vector<search::Job> jobs;
  storage::StageDecision decision;  // experiment_id and stage are filled in by the scheduler
  double seconds_per_epoch = 0;     // estimate for the jobs (stored with them); 0 = unknown
};

struct StageSpec {
  Stage stage = Stage::plan;
  std::vector<Stage> after;  // stages whose decisions this one needs
  // Called once the stages it is after are done, and again each time all of its jobs so far
  // have ended; returns more jobs (a round) or the decision. May throw: the stage fails, and
  // the stages after it are skipped.
  std::function<StageStep(const StageInputs&)> next;
};

struct SchedulerOptions {
  // 0 = unlimited. A job starts only while device-seconds are left and its estimate (when it
  // has one) fits what is left after the running jobs' estimates.
  double budget_device_seconds = 0;
  std::int64_t budget_epochs = 0;  // 0 = unlimited
  double heartbeat_timeout = 30;   // a running trial silent this long goes back to pending
  double tick_seconds = 1;         // progress and stale-heartbeat checks
  int max_attempts = 3;            // worker deaths before a trial counts as failed
};

struct StageProgress {
  Stage stage = Stage::plan;
  StageStatus status = StageStatus::waiting;
  int done = 0, total = 0;
};

// A stage changed: it planned jobs, decided, failed or was skipped. The engine reacts to these
// (e.g. shows the plan once it is decided); the log line is for people only.
struct StageEvent {
  Stage stage = Stage::plan;
  StageStatus status = StageStatus::planned;
  std::size_t jobs = 0;  // planned: how many new jobs
  std::string decision;  // done: the decision (JSON); failed/skipped: why
};

// What the terminal shows; the engine prints it, tests inspect it.
struct Progress {
  std::vector<StageProgress> stages;
  double spent_device_seconds = 0;
  std::int64_t epochs_run = 0;
  std::vector<storage::TrialRow> running;
  int started = 0;  // jobs this scheduler started that have not ended (released or running)
};

struct RunReport {
  std::int64_t experiment_id = 0;
  int trials_done = 0, trials_failed = 0, trials_crashed = 0;
  int trials_not_started = 0;  // pending when the budget ran out
  bool budget_spent = false;
  int interrupted = 0;      // the signal that stopped it (its running trials went back to pending)
  bool complete = false;    // every stage decided
  bool lost_lease = false;  // another coordinator took the experiment over (hold_lease)
  double device_seconds = 0;
  double seconds = 0;
};

using Log = std::function<void(const std::string&)>;

class Scheduler {
 public:
  Scheduler(storage::Storage& storage, std::int64_t experiment_id, std::vector<StageSpec> stages,
            std::vector<Slot> slots, TrialRunner& runner, SchedulerOptions options, Log log);

  // Runs until every stage is decided, or nothing more can start (budget spent, stage failed).
  RunReport run();

  // Called every tick with the state of the run.
  std::function<void(const Progress&)> on_progress;
  // Called when a stage plans, decides, fails or is skipped.
  std::function<void(const StageEvent&)> on_stage;
  // When set, called every tick before anything is decided: renews this coordinator's lease on
  // the experiment (storage::Storage::acquire_lease); false ends the run (lost_lease), so that
  // two coordinators never both decide a stage.
  std::function<bool()> hold_lease;

 private:
  struct Running {
    Launch launch;
    double started = 0;
    double estimated_seconds = 0;  // the job's estimated device-seconds (0 = none)
  };

  void advance_stages();
  bool advance_stage(const StageSpec& spec, const PlanState& state);
  void close_stage(const StageSpec& spec, storage::StageDecision decision, const std::string& why);
  void plan_jobs(const StageSpec& spec, const StageStep& step,
                 const std::vector<storage::TrialRow>& existing);
  void start_jobs();
  void requeue_stale();
  void handle_exit(const Exit& exit);
  void return_running_trials();
  bool budget_left();
  bool fits_budget(const storage::TrialRow& trial);
  double spent_device_seconds();
  Progress progress();
  PlanState plan_state();
  PlanState plan_state(const std::vector<storage::TrialRow>& trials);
  std::vector<search::JobResult> finished_results(Stage stage);
  void emit(const StageEvent& event);

  storage::Storage& storage_;
  std::int64_t experiment_id_;
  std::vector<StageSpec> stages_;
  std::vector<Slot> slots_;
  TrialRunner& runner_;
  SchedulerOptions options_;
  Log log_;
  Plan plan_;                       // what may step and start (engine/plan.h)
  std::map<int, Running> running_;  // by slot index
  bool budget_message_shown_ = false;
  bool budget_blocked_ = false;  // start_jobs left jobs pending because the budget is spent
};

// For each stage, the number of stages on the longest chain that starts at it (itself
// included): jobs of longer chains start first, as ninja starts the critical path first; ties
// go to the stage declared first.
std::map<Stage, int> chain_lengths(const std::vector<StageSpec>& stages);

}  // namespace automl::engine
