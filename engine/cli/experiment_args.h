#pragma once
// What `automl run` and `automl lrrt` share: the experiment file with the command line's
// overrides, checked before anything is written, and the engine's options.
#include <CLI/CLI.hpp>
#include <string>

#include "engine/engine.h"
#include "experiments/experiment.h"

namespace automl::cli {

struct ExperimentArgs {
  std::string experiment;  // the YAML file
  std::string database;    // empty = the experiment's `database`
  int threads = -1;        // -1 = the experiment's `threads`
  double heartbeat_timeout = 20;
};

// The experiment argument and --db, --threads, --heartbeat-timeout.
void add_experiment_options(CLI::App& command, ExperimentArgs& args);

// The experiment with the overrides; its data (and a TorchScript model) checked.
experiments::ExperimentConfig load_checked_experiment(const ExperimentArgs& args);

// Workers of this executable, heartbeats a tenth of the timeout.
engine::EngineOptions engine_options(const ExperimentArgs& args);

// This executable, so the engine starts workers of the same build.
std::string own_executable();

}  // namespace automl::cli
