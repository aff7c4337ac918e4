#include "engine/engine.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "trials/config_json.h"
#include "trials/trial.h"

namespace automl::engine {
namespace {

storage::EpochRow to_row(std::int64_t trial_id, const trials::EpochRecord& r) {
  storage::EpochRow row;
  row.trial_id = trial_id;
  row.epoch = r.epoch;
  row.lr = r.lr;
  row.train_loss = r.train_loss;
  row.train_accuracy = r.train_accuracy;
  row.test_loss = r.test_loss;
  row.test_accuracy = r.test_accuracy;
  row.ity = r.ity;
  row.seconds = r.seconds;
  row.mi_seconds = r.mi_seconds;
  nlohmann::json extra = {{"bound", r.bound},
                          {"train_mae", r.train_mae},
                          {"test_mae", r.test_mae},
                          {"validation_accuracy", r.validation_accuracy},
                          {"validation_mae", r.validation_mae}};
  if (!r.groups.empty()) extra["groups"] = r.groups;
  row.extra = extra.dump();
  return row;
}

}  // namespace

std::vector<std::string> describe_plan(const experiments::ExperimentConfig& experiment) {
  const auto& trial = experiment.trial;
  return {fmt::format("main: 1 trial, {} epochs of {} on {} ({} training samples, batch {})",
                      trial.epochs, trial.model.name, trial.data.path,
                      trial.data.train_subset ? std::to_string(trial.data.train_subset) : "all",
                      trial.batch_size)};
}

RunReport run_experiment(const experiments::ExperimentConfig& experiment, storage::Storage& storage,
                         const Log& log) {
  const auto& trial = experiment.trial;
  for (const auto& line : describe_plan(experiment)) log("plan: " + line);
  RunReport report;

  if (storage.find_experiment(experiment.name))
    throw InputError(experiment.file, fmt::format("experiment '{}' already exists in the "
                                                  "database; choose another name",
                                                  experiment.name));
  report.experiment_id = storage.create_experiment(experiment.name, experiment.source);

  storage::TrialRow row;
  row.experiment_id = report.experiment_id;
  row.stage = "main";
  row.label = fmt::format("main/seed={}", trial.seed);
  row.seed = trial.seed;
  row.config = nlohmann::json(trial).dump();
  const auto trial_id = storage.add_trial(row);
  storage.start_trial(trial_id, trial.device);

  try {
    const auto summary = trials::run_trial(trial, [&](const trials::EpochRecord& r) {
      storage.add_epoch(to_row(trial_id, r));
      log(
          fmt::format("epoch {:>3}  lr {:.4g}  train loss {:.4f} acc {:.4f}  test acc {:.4f}  "
                      "{:.1f}s",
                      r.epoch, r.lr, r.train_loss, r.train_accuracy, r.test_accuracy, r.seconds));
    });
    storage.finish_trial(trial_id, summary.status, summary.reason, summary.seconds,
                         nlohmann::json(summary).dump());
    report.seconds = summary.seconds;
    ++report.trials_done;
  } catch (const std::exception& e) {
    storage.finish_trial(trial_id, "failed", e.what(), 0, "{}");
    storage.set_experiment_status(report.experiment_id, "failed");
    throw;
  }
  storage.set_experiment_status(report.experiment_id, "done");
  return report;
}

}  // namespace automl::engine
