#pragma once
// The engine: turns an experiment into stages of jobs (engine/stages.h), runs them in worker
// processes on the machine's slots within the budget (engine/scheduler.h), records everything in
// storage as it happens, and resumes a stopped run of the same experiment.
#include <functional>
#include <string>
#include <vector>

#include "engine/launcher.h"
#include "engine/placement.h"
#include "engine/scheduler.h"
#include "engine/stages.h"
#include "experiments/experiment.h"
#include "storage/storage.h"

namespace automl::engine {

struct EngineOptions {
  std::string worker_executable;  // the automl binary that has the `worker` command
  PlacementOptions placement;     // when the experiment leaves its layout to the engine
  int gpus = -1;                  // visible GPUs; -1 = ask LibTorch
  double heartbeat_seconds = 2;
  double heartbeat_timeout = 20;  // a running trial this silent is requeued
  double tick_seconds = 2;
  double progress_seconds = 10;     // at most one progress report this often (when it changed)
  Scope scope = Scope::experiment;  // lrrt: only the LR range test (`automl lrrt`)
  // Who runs the trials (engine/launcher.h). local: this machine's slots. none, slurm: workers
  // that claim them from the database, at most `workers` trials released to them at a time.
  LauncherKind launcher = LauncherKind::local;
  int workers = 4;
  double worker_idle_exit = 120;  // slurm: a worker with nothing to claim this long exits
  SlurmOptions slurm;             // output_dir empty: <checkpoints>/slurm
};

// Where the trials of `experiment` (as stored: `row`) keep their checkpoints and logs: a
// directory of their own under the experiment's `checkpoints` root (experiments/experiment.h),
// named after the stored experiment's name and creation, so that no other database's
// experiment of the same name ever finds its checkpoints there.
std::string checkpoint_dir(const experiments::ExperimentConfig& experiment,
                           const storage::ExperimentRow& row);

// Loads the experiment's data once, so that unreadable, truncated or inconsistent data files are
// reported before anything is written, and runs a TorchScript model on a batch of it
// (trials::check_model). Throws InputError naming the experiment file.
void check_data(const experiments::ExperimentConfig& experiment);

// The plan as `--dry-run` shows it: the placement (remembered or measured as `placement` says
// when the experiment's slots are auto), per stage jobs, epochs, estimated cost, against the
// budget. It stores nothing in `storage`; a measured placement is remembered on the machine. With
// a device-minutes budget and no stored calibration, a one-epoch calibration runs here, with
// the threads a worker would have.
std::vector<std::string> describe_plan(const experiments::ExperimentConfig& experiment,
                                       storage::Storage* storage, const PlacementOptions& placement,
                                       const Log& log);

// Runs (or resumes) `experiment` against `storage`; progress lines go to `log`. Throws
// InputError when the database holds a different experiment under the same name.
RunReport run_experiment(const experiments::ExperimentConfig& experiment, storage::Storage& storage,
                         const EngineOptions& options, const Log& log);

// How a run ended, for the terminal and the exit status of `automl run` (docs/engine.md):
//   0 complete: every stage decided and no trial failed
//   3 stopped by its budget: run again with a larger budget to go on
//   4 incomplete: a stage failed or was skipped, trials failed after all their attempts, or
//     another coordinator took the experiment over (its lease: engine/scheduler.h)
//   128 + N interrupted by signal N (130 for Ctrl-C): run again to resume
// (1 is an error in the input or the database, 2 a command-line usage error.)
struct Outcome {
  int exit_code = 0;
  const char* word = "complete";
};
Outcome outcome_of(const RunReport& report);

// Where the experiment's trials run on this machine with `gpus` visible GPUs: the placement
// stored with it (`experiment_id` > 0 and a `place` decision), the experiment's own layout when
// it fixes its slots, else the one this machine remembers for its model and batch, else measured
// now (engine/placement.h; `options.remeasure` measures in any case), and stored when `storage`
// is given. Refuses (InputError) a GPU experiment on a machine without one.
PlacementChoice place_experiment(const experiments::ExperimentConfig& experiment, int gpus,
                                 storage::Storage* storage, std::int64_t experiment_id,
                                 const PlacementOptions& options, const Log& log);

// The slots of `placement` on this machine.
std::vector<Slot> machine_slots(const experiments::ExperimentConfig& experiment, int gpus,
                                const PlacementChoice& placement);
// The same for a fixed placement, one slot where the experiment's slots are auto (for tools
// that run one trial, and for the checks alone).
std::vector<Slot> machine_slots(const experiments::ExperimentConfig& experiment, int gpus);
int visible_gpus();

}  // namespace automl::engine
