// progress_json() and the change tokens (serve/progress.h).
#include "serve/progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "experiments/experiment.h"
#include "trials/config_json.h"

namespace automl::serve {
namespace {

using Json = nlohmann::ordered_json;

std::vector<storage::TrialRow> trials_of(storage::Storage& db, std::int64_t experiment_id) {
  storage::TrialFilter filter;
  filter.experiment_id = experiment_id;
  return db.trials(filter);
}

std::string digest(const std::string& text) {
  return fmt::format("{:016x}", std::hash<std::string>{}(text));
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The device-minutes budget of the stored experiment; 0 when unlimited or unreadable.
double budget_device_seconds(const storage::ExperimentRow& experiment) {
  experiments::LoadOptions options;
  options.check_data = false;
  try {
    return 60 * experiments::parse_experiment(experiment.config, experiment.name, options)
                    .budget.device_minutes;
  } catch (const InputError&) {
    return 0;
  }
}

// The plan's estimate of the whole experiment's device-seconds (0 before the plan is decided).
double planned_device_seconds(const std::vector<storage::StageRow>& stages) {
  for (const auto& s : stages) {
    if (s.stage != Stage::plan) continue;
    const auto decision = nlohmann::json::parse(s.decision, nullptr, false);
    if (decision.is_object() && decision.contains("estimated_device_seconds") &&
        decision["estimated_device_seconds"].is_number())
      return decision["estimated_device_seconds"].get<double>();
  }
  return 0;
}

int planned_epochs(const storage::TrialRow& trial) {
  try {
    return trials::read_trial_config(trial.config).epochs;
  } catch (const std::exception&) {
    return 0;  // a configuration this release cannot read: no ETA
  }
}

// clang-tidy sees its implicit members as throwing (nlohmann::json); nothing here can throw.
struct RunningTrial {  // NOLINT(bugprone-exception-escape)
  Json json;
  double remaining_device_seconds = 0;
};

// Device-seconds per epoch of the experiment's finished trials (0 before any): the estimate of a
// trial the plan gave none (its stage was planned before calibration could measure).
double seconds_per_epoch(const std::vector<storage::TrialRow>& trials) {
  double seconds = 0;
  int epochs = 0;
  for (const auto& t : trials) {
    if (t.status != TrialStatus::done) continue;
    seconds += t.device_seconds;
    epochs += planned_epochs(t);
  }
  return epochs > 0 ? seconds / epochs : 0;
}

double estimate(const storage::TrialRow& t, double per_epoch) {
  return t.estimated_seconds > 0 ? t.estimated_seconds : per_epoch * planned_epochs(t);
}

// A running trial: epochs done, and its ETA from the mean duration of those epochs (before
// its first epoch: its estimate).
RunningTrial running_trial(storage::Storage& db, const storage::TrialRow& t, double estimated,
                           double now) {
  const auto epochs = db.epochs(t.id);
  int done = 0;
  double seconds = 0;
  for (const auto& e : epochs)
    if (e.epoch > 0) {
      done = std::max(done, e.epoch);
      seconds += e.seconds;
    }
  const int total = planned_epochs(t);
  Json eta = nullptr;
  if (done > 0 && total >= done)
    eta = (total - done) * seconds / done;
  else if (done == 0 && estimated > 0)
    eta = estimated;
  RunningTrial r;
  r.remaining_device_seconds =
      total > 0 ? estimated * (1 - static_cast<double>(std::min(done, total)) / total) : 0;
  r.json = {{"trial", t.id},
            {"label", t.label},
            {"stage", std::string(name(t.stage))},
            {"method", std::string(name(t.method))},
            {"device", t.device},
            {"epoch", done},
            {"epochs", total > 0 ? Json(total) : Json(nullptr)},
            {"eta_seconds", eta},
            {"heartbeat_age_seconds", t.heartbeat > 0 ? Json(now - t.heartbeat) : Json(nullptr)}};
  return r;
}

struct StageCounts {
  std::map<TrialStatus, int> by_status;
  int total = 0;
  double device_seconds = 0;
};

Json stage_json(Stage stage, const std::string& status, const StageCounts& c) {
  auto count = [&](TrialStatus s) {
    const auto it = c.by_status.find(s);
    return it == c.by_status.end() ? 0 : it->second;
  };
  const int finished_trials =
      count(TrialStatus::done) + count(TrialStatus::crashed) + count(TrialStatus::failed);
  Json trials = Json::object();
  for (const auto s : all_values<TrialStatus>()) trials[std::string(name(s))] = count(s);
  return {{"stage", std::string(name(stage))},
          {"status", status},
          {"trials", c.total},
          {"finished", finished_trials},
          {"by_status", trials},
          {"progress",
           c.total > 0 ? Json(static_cast<double>(finished_trials) / c.total) : Json(nullptr)},
          {"device_seconds", c.device_seconds}};
}

}  // namespace

std::string progress_json(storage::Storage& db, const storage::ExperimentRow& experiment) {
  const auto trials = trials_of(db, experiment.id);
  const auto stages = db.stages(experiment.id);
  const double now = now_seconds();
  std::map<Stage, StageCounts> counts;
  double spent = 0, remaining = 0;
  Json running = Json::array();
  std::set<std::string> devices;
  const double per_epoch = seconds_per_epoch(trials);
  for (const auto& t : trials) {
    auto& c = counts[t.stage];
    ++c.by_status[t.status];
    ++c.total;
    c.device_seconds += t.device_seconds;
    spent += t.device_seconds;
    if (t.status == TrialStatus::pending) remaining += estimate(t, per_epoch);
    if (t.status != TrialStatus::running) continue;
    auto r = running_trial(db, t, estimate(t, per_epoch), now);
    remaining += r.remaining_device_seconds;
    running.push_back(std::move(r.json));
    devices.insert(t.device);
  }
  std::map<Stage, std::string> status;
  for (const auto& s : stages) status[s.stage] = std::string(name(s.status));
  Json stage_list = Json::array();
  for (const auto stage : all_values<Stage>()) {
    if (!counts.count(stage) && !status.count(stage)) continue;
    stage_list.push_back(
        stage_json(stage, status.count(stage) ? status[stage] : "waiting", counts[stage]));
  }
  const double budget = budget_device_seconds(experiment);
  remaining = std::max(remaining, planned_device_seconds(stages) - spent);
  if (budget > 0) remaining = std::min(remaining, std::max(0.0, budget - spent));
  // Each device in use spends at most one device-second per second: a rough, optimistic ETA.
  Json eta = nullptr;
  if (experiment.status != ExperimentStatus::running)
    eta = 0.0;
  else if (remaining > 0)
    eta = remaining / static_cast<double>(std::max<std::size_t>(1, devices.size()));
  Json out = {{"experiment", experiment.name},
              {"id", experiment.id},
              {"status", std::string(name(experiment.status))},
              {"trials", trials.size()},
              {"epochs_run", db.epochs_run(experiment.id)},
              {"device_seconds", spent},
              {"budget_device_seconds", budget > 0 ? Json(budget) : Json(nullptr)},
              {"eta_seconds", eta},
              {"stages", stage_list},
              {"running", running},
              {"version", experiment_version(db, experiment)}};
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string experiment_version(storage::Storage& db, const storage::ExperimentRow& experiment) {
  std::string state = fmt::format("{}|{}|", name(experiment.status), db.epochs_run(experiment.id));
  for (const auto& t : trials_of(db, experiment.id))
    state += fmt::format("{}:{}:{},", t.id, name(t.status), t.attempts);
  for (const auto& s : db.stages(experiment.id))
    state += fmt::format("{}:{}:{},", name(s.stage), name(s.status), s.updated_at);
  return digest(state);
}

std::string trial_version(storage::Storage& db, const storage::TrialRow& trial) {
  const auto epochs = db.epochs(trial.id);
  return digest(fmt::format("{}|{}|{}|{}", name(trial.status), trial.attempts, epochs.size(),
                            epochs.empty() ? -1 : epochs.back().epoch));
}

std::string database_version(storage::Storage& db) {
  std::string state;
  for (const auto& e : db.experiments()) state += e.name + "=" + experiment_version(db, e) + ",";
  return digest(state);
}

}  // namespace automl::serve
