#include "engine/cli/experiment_args.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace automl::cli {

void add_experiment_options(CLI::App& command, ExperimentArgs& args) {
  command.add_option("experiment", args.experiment, "Experiment file, e.g. experiments/smoke.yaml")
      ->required()
      ->check(CLI::ExistingFile);
  command.add_option("--db", args.database,
                     "SQLite database to write (default: the experiment's `database` key)");
  command.add_option("--threads", args.threads,
                     "LibTorch threads per worker (default: the experiment's `threads`, else the "
                     "cores shared among the slots)");
  command
      .add_option("--heartbeat-timeout", args.heartbeat_timeout,
                  "Seconds without a heartbeat after which a running trial is run again")
      ->capture_default_str();
}

experiments::ExperimentConfig load_checked_experiment(const ExperimentArgs& args) {
  auto experiment = experiments::load_experiment(args.experiment);
  if (!args.database.empty()) experiment.database = args.database;
  if (args.threads >= 0) experiment.threads = args.threads;
  engine::check_data(experiment);  // before anything is written
  return experiment;
}

engine::EngineOptions engine_options(const ExperimentArgs& args) {
  engine::EngineOptions options;
  options.worker_executable = own_executable();
  options.heartbeat_timeout = args.heartbeat_timeout;
  options.heartbeat_seconds = std::max(0.2, args.heartbeat_timeout / 10);
  return options;
}

std::string own_executable() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw std::runtime_error("cannot find the automl executable (/proc/self/exe)");
  return path.string();
}

}  // namespace automl::cli
