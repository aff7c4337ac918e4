#include "engine/records.h"

#include <nlohmann/json.hpp>

#include "trials/config_json.h"

namespace automl::engine {

storage::EpochRow epoch_row(std::int64_t trial_id, const trials::EpochRecord& r) {
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
  row.bound = r.bound;
  row.train_mae = r.train_mae;
  row.test_mae = r.test_mae;
  row.validation_accuracy = r.validation_accuracy;
  row.validation_mae = r.validation_mae;
  for (const auto& g : r.groups)
    row.groups.push_back({g.name, g.lr, g.ity, g.d_p, g.d_p_raw, g.d_s, g.decision});
  return row;
}

trials::EpochRecord epoch_record(const storage::EpochRow& row) {
  trials::EpochRecord r;
  r.epoch = row.epoch;
  r.lr = row.lr;
  r.train_loss = row.train_loss;
  r.train_accuracy = row.train_accuracy;
  r.test_loss = row.test_loss;
  r.test_accuracy = row.test_accuracy;
  r.ity = row.ity;
  r.seconds = row.seconds;
  r.mi_seconds = row.mi_seconds;
  r.bound = row.bound;
  r.train_mae = row.train_mae;
  r.test_mae = row.test_mae;
  r.validation_accuracy = row.validation_accuracy;
  r.validation_mae = row.validation_mae;
  for (const auto& g : row.groups)
    r.groups.push_back({g.name, g.lr, g.ity, g.d_p, g.d_p_raw, g.d_s, g.decision});
  return r;
}

storage::TrialRow trial_row(std::int64_t experiment_id, const search::Job& job,
                            double estimated_seconds) {
  storage::TrialRow row;
  row.experiment_id = experiment_id;
  row.stage = job.stage;
  row.label = job.label;
  row.method = job.method;
  row.seed = job.config.seed;
  row.lr = job.config.optimizer.lr;
  row.repeat = job.repeat;
  row.config = nlohmann::json(job.config).dump();
  row.estimated_seconds = estimated_seconds;
  return row;
}

search::JobResult job_result(const storage::TrialRow& trial,
                             const std::vector<storage::EpochRow>& epochs) {
  search::JobResult result;
  result.label = trial.label;
  result.status = trial.status;
  result.method = trial.method;
  result.seed = trial.seed;
  for (const auto& e : epochs) result.epochs.push_back(epoch_record(e));
  result.summary = parse_summary(trial.summary);
  if (trial.status == TrialStatus::failed) {
    result.summary.status = TrialStatus::failed;
    result.summary.reason = trial.reason;
  }
  return result;
}

storage::ResultRow result_row(const search::JobResult& r) {
  storage::ResultRow row;
  row.method = r.method;
  row.seed = r.seed;
  row.label = r.label;
  for (const auto& e : r.epochs)
    if (e.epoch == 1) row.lr = e.lr;
  row.final_test_accuracy = r.summary.final_test_accuracy;
  row.best_test_accuracy = r.summary.best_test_accuracy;
  if (!r.epochs.empty()) row.final_test_mae = r.epochs.back().test_mae;
  row.status = r.status;
  return row;
}

std::string summary_text(const trials::TrialSummary& summary) {
  return nlohmann::json(summary).dump();
}

trials::TrialSummary parse_summary(const std::string& text) {
  const auto j = nlohmann::json::parse(text.empty() ? "{}" : text, nullptr, false);
  return j.is_object() ? j.get<trials::TrialSummary>() : trials::TrialSummary{};
}

}  // namespace automl::engine
