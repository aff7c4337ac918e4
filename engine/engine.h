#pragma once
// The engine: turns an experiment into trials, runs them, and records everything in storage.
#include <functional>
#include <string>
#include <vector>

#include "experiments/experiment.h"
#include "storage/storage.h"

namespace automl::engine {

struct RunReport {
  std::int64_t experiment_id = 0;
  int trials_done = 0, trials_failed = 0;
  double seconds = 0;
};

using Log = std::function<void(const std::string&)>;

// The plan of `experiment`, one line per stage, as `--dry-run` shows it.
std::vector<std::string> describe_plan(const experiments::ExperimentConfig& experiment);

// Runs `experiment` to completion against `storage`; progress lines go to `log`.
RunReport run_experiment(const experiments::ExperimentConfig& experiment, storage::Storage& storage,
                         const Log& log);

}  // namespace automl::engine
