#include "engine/records.h"

#include <nlohmann/json.hpp>

#include "trials/config_json.h"

namespace automl::engine {

namespace {

// An epoch record and an epoch row hold the same measurements under the same names: one list,
// both directions.
template <typename From, typename To>
void copy_measurements(const From& from, To& to) {
  to.epoch = from.epoch;
  to.lr = from.lr;
  to.train_loss = from.train_loss;
  to.train_accuracy = from.train_accuracy;
  to.test_loss = from.test_loss;
  to.test_accuracy = from.test_accuracy;
  to.ity = from.ity;
  to.seconds = from.seconds;
  to.mi_seconds = from.mi_seconds;
  to.bound = from.bound;
  to.train_mae = from.train_mae;
  to.test_mae = from.test_mae;
  to.validation_accuracy = from.validation_accuracy;
  to.validation_mae = from.validation_mae;
  for (const auto& g : from.groups)
    to.groups.push_back({g.name, g.lr, g.ity, g.d_p, g.d_p_raw, g.d_s, g.decision});
}

}  // namespace

storage::EpochRow epoch_row(std::int64_t trial_id, const trials::EpochRecord& record) {
  storage::EpochRow row;
  row.trial_id = trial_id;
  copy_measurements(record, row);
  return row;
}

trials::EpochRecord epoch_record(const storage::EpochRow& row) {
  trials::EpochRecord record;
  copy_measurements(row, record);
  return record;
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
