// summarize(): the numbers of the report, from the database only.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/error.h"
#include "experiments/experiment.h"
#include "report/report.h"

namespace automl::report {
namespace {

bool is_final(Stage stage) {
  return stage == Stage::mi_sgd || stage == Stage::baseline;
}

// The stored experiment (YAML) read without checking its data paths: the report may run on a
// machine without the data. A config this release no longer reads is reported with the
// defaults, and the report says so (`warning`) rather than pass them off as the experiment's.
experiments::ExperimentConfig stored_config(const storage::ExperimentRow& row,
                                            std::string& warning) {
  experiments::LoadOptions options;
  options.check_data = false;
  try {
    return experiments::parse_experiment(row.config, row.name + " (stored config)", options);
  } catch (const InputError& e) {
    warning = fmt::format(
        "the stored configuration does not load ({}): the report assumes the "
        "default settings (classification, default milestones)",
        e.what());
    experiments::ExperimentConfig fallback;
    fallback.name = row.name;
    return fallback;
  }
}

double device_seconds_of(const storage::TrialRow& t) {
  return t.device_seconds > 0 ? t.device_seconds : t.seconds;  // schema 1 had wall seconds only
}

void load_curves(storage::Storage& storage, bool regression, Run& run) {
  for (const auto& e : storage.epochs(run.trial_id)) {
    if (e.epoch < 1) continue;  // epoch 0 is the pre-training MI record
    run.epochs.push_back(e.epoch);
    run.test.push_back(regression ? e.test_mae : e.test_accuracy);
    run.train.push_back(regression ? e.train_mae : e.train_accuracy);
    run.lr.push_back(e.lr);
    run.seconds.push_back(e.seconds);
    run.ity.push_back(e.ity);
    for (const auto& g : e.groups) run.group_lr[g.name].push_back(g.lr);
  }
  if (run.group_lr.size() < 2) run.group_lr.clear();  // model-wise: the LR curve says it all
}

double best_of(const std::vector<double>& values, bool lower_is_better) {
  return lower_is_better ? *std::min_element(values.begin(), values.end())
                         : *std::max_element(values.begin(), values.end());
}

// Final runs from the results table; while it is empty (an experiment still running, or a
// single-trial one) from the final stages' finished trials and their epochs.
std::vector<Run> final_runs(storage::Storage& storage, const storage::ExperimentRow& experiment,
                            const std::vector<storage::TrialRow>& trials, bool regression) {
  std::map<std::int64_t, const storage::TrialRow*> by_id;
  for (const auto& t : trials) by_id[t.id] = &t;
  std::vector<Run> runs;
  for (const auto& r : storage.results(experiment.id)) {
    Run run;
    run.method = r.method;
    run.seed = r.seed;
    run.trial_id = r.trial_id;
    run.status = r.status;
    run.score = regression ? r.final_test_mae : r.final_test_accuracy;
    run.peak = r.best_test_accuracy;
    if (by_id.count(r.trial_id)) run.device_seconds = device_seconds_of(*by_id[r.trial_id]);
    runs.push_back(std::move(run));
  }
  const bool from_results = !runs.empty();
  if (!from_results) {
    for (const auto& t : trials) {
      if (!is_final(t.stage) || !finished(t.status)) continue;
      Run run;
      run.method = t.method;
      run.seed = t.seed;
      run.trial_id = t.id;
      run.status = t.status;
      run.device_seconds = device_seconds_of(t);
      runs.push_back(std::move(run));
    }
  }
  for (auto& run : runs) {
    load_curves(storage, regression, run);
    if (run.test.empty()) continue;
    if (!from_results) run.score = run.test.back();
    if (regression || !from_results) run.peak = best_of(run.test, regression);
  }
  return runs;
}

std::optional<int> first_epoch_reaching(const Run& run, double milestone, bool regression) {
  for (std::size_t i = 0; i < run.test.size(); ++i)
    if (regression ? run.test[i] <= milestone : run.test[i] >= milestone) return run.epochs[i];
  return std::nullopt;
}

double tuning_seconds(Method method, const std::vector<storage::TrialRow>& trials) {
  double seconds = 0;
  for (const auto& t : trials) {
    const bool mi_tuning = t.stage == Stage::lrrt || t.stage == Stage::c1c2;
    if (is_mi_method(method) ? mi_tuning : t.stage == Stage::baseline_search && t.method == method)
      seconds += device_seconds_of(t);
  }
  return seconds;
}

MethodSummary summarize_method(Method method, const std::vector<Run>& runs,
                               const std::vector<storage::TrialRow>& trials,
                               const ExperimentSummary& s) {
  MethodSummary m;
  m.method = method;
  std::vector<double> scores;
  const Run* best = nullptr;
  for (const auto& run : runs) {
    if (run.method != method) continue;
    m.run_seconds += run.device_seconds;
    if (run.status != TrialStatus::done) {
      ++m.crashed;
      continue;
    }
    scores.push_back(run.score);
    const bool better = !best || (s.regression ? run.score < best->score : run.score > best->score);
    if (better) best = &run;
    m.peak = m.runs == 0 ? run.peak
                         : (s.regression ? std::min(m.peak, run.peak) : std::max(m.peak, run.peak));
    ++m.runs;
  }
  m.tuning_seconds = tuning_seconds(method, trials);
  if (!best) {
    m.milestone_epochs.assign(s.milestones.size(), std::nullopt);
    return m;
  }
  m.best = best->score;
  m.best_seed = best->seed;
  std::tie(m.mean, m.sd) = mean_sd(scores);
  for (double milestone : s.milestones)
    m.milestone_epochs.push_back(first_epoch_reaching(*best, milestone, s.regression));
  return m;
}

// The methods present, in the vocabulary's order: MI-SGD first, then the baselines.
std::vector<Method> methods_in_order(const std::vector<Run>& runs) {
  std::set<Method> present;
  for (const auto& r : runs) present.insert(r.method);
  return {present.begin(), present.end()};
}

// Table D's plotted columns from the LRRT trials themselves, for an experiment stopped before
// the LRRT's decision was stored.
std::vector<storage::LrrtRow> lrrt_rows_from_trials(storage::Storage& storage,
                                                    const std::vector<storage::TrialRow>& trials) {
  std::vector<storage::LrrtRow> rows;
  for (const auto& t : trials) {
    if (t.stage != Stage::lrrt ||
        (t.status != TrialStatus::done && t.status != TrialStatus::crashed))
      continue;
    storage::LrrtRow row;
    row.trial = t.repeat;
    row.lr = t.lr;
    row.crashed = t.status == TrialStatus::crashed;
    for (const auto& e : storage.epochs(t.id)) {
      if (e.epoch < 1) continue;
      row.final_accuracy = e.train_accuracy;
      row.final_ity = e.ity;
      row.final_loss = e.train_loss;
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

std::pair<double, double> mean_sd(const std::vector<double>& values) {
  if (values.empty()) return {0, 0};
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) return {mean, 0};
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  return {mean, std::sqrt(squares / static_cast<double>(values.size() - 1))};
}

std::string method_title(Method method) {
  switch (method) {
    case Method::sgd:
      return "SGD";
    case Method::mi_sgd:
      return "MI-SGD";
    case Method::mi_sgd_layerwise:
      return "MI-SGD layer-wise";
    case Method::adam:
      return "Adam";
    case Method::rmsprop:
      return "RMSprop";
    case Method::lars:
      return "LARS";
    case Method::step:
      return "step-decay SGD";
  }
  return std::string(name(method));
}

ExperimentSummary summarize(storage::Storage& storage, const storage::ExperimentRow& experiment,
                            const ReportOptions& options) {
  ExperimentSummary s;
  s.experiment = experiment;
  const auto config = stored_config(experiment, s.warning);
  s.description = config.description;
  s.regression = config.trial.data.is_regression();
  s.milestones = options.milestones ? *options.milestones : config.report.milestones;
  s.lrrt_attribute = config.lrrt.attribute;

  storage::TrialFilter filter;
  filter.experiment_id = experiment.id;
  const auto trials = storage.trials(filter);
  for (const auto& t : trials) {
    s.stage_seconds[t.stage] += device_seconds_of(t);
    s.total_seconds += device_seconds_of(t);
  }
  s.runs = final_runs(storage, experiment, trials, s.regression);
  for (const auto& method : methods_in_order(s.runs))
    s.methods.push_back(summarize_method(method, s.runs, trials, s));
  s.lrrt_table = storage.lrrt_table(experiment.id);
  s.lrrt_bounds = storage.lrrt_bounds(experiment.id);
  s.c1c2 = storage.c1c2_candidates(experiment.id);
  if (s.lrrt_table.empty()) {
    s.lrrt_table = lrrt_rows_from_trials(storage, trials);
    s.lrrt_undecided = !s.lrrt_table.empty();
  }
  return s;
}

}  // namespace automl::report
