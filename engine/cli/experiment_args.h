#pragma once
// What `automl run` and `automl lrrt` share: the experiment file with the command line's
// overrides, checked before anything is written, and the engine's options.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "experiments/experiment.h"

namespace automl::cli {

struct ExperimentArgs {
  std::string experiment;  // the YAML file
  std::string database;    // empty = the experiment's `database`
  int threads = -1;        // -1 = the experiment's `threads`
  double heartbeat_timeout = 20;
  std::string launcher = "local";
  int workers = 4;
  double worker_idle_exit = 120;
  std::string slurm_template;  // a file; empty = the built-in job script
  std::vector<std::string> sbatch_arguments;
  int slurm_max_running = 0;
  bool measure_placement = false;
};

// The experiment argument and --db, --threads, --heartbeat-timeout, and where the trials run
// (--launcher, --workers, --worker-idle-exit, --slurm-template, --sbatch-arg,
// --slurm-max-running), --measure-placement.
void add_experiment_options(CLI::App& command, ExperimentArgs& args);

// The experiment's database, opened (created and migrated when it is a new file or server
// database).
std::unique_ptr<storage::Storage> open_database(const experiments::ExperimentConfig& experiment);
// The same read-only, or null when the database is a file that does not exist yet (a dry run
// writes nothing).
std::unique_ptr<storage::Storage> open_existing_database(
    const experiments::ExperimentConfig& experiment);

// The experiment with the overrides; its data (and a TorchScript model) checked.
experiments::ExperimentConfig load_checked_experiment(const ExperimentArgs& args);

// Workers of this executable, heartbeats a tenth of the timeout, placements remembered in the
// user's cache directory.
engine::EngineOptions engine_options(const ExperimentArgs& args);
// Where the placement comes from: measured by this executable, remembered in the user's cache
// directory (engine::PlacementMemory::default_file).
engine::PlacementOptions placement_options(const ExperimentArgs& args);

// This executable, so the engine starts workers of the same build.
std::string own_executable();

}  // namespace automl::cli
