#include "engine/stages.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/records.h"
#include "search/search.h"

namespace automl::engine {
namespace {

using experiments::ExperimentConfig;

bool any_mi_method(const ExperimentConfig& e) {
  return e.methods.mi_sgd || e.methods.mi_sgd_layerwise;
}

search::LrrtConfig lrrt_for(const ExperimentConfig& e, const PlanChoice& p) {
  return search::resolve_lrrt_mode(e.lrrt, p.lrrt_quick);
}

// The LRRT as it ran: its decision names the mode (full | quick | off).
search::LrrtConfig lrrt_as_decided(const ExperimentConfig& e, const nlohmann::json& decision) {
  const auto mode = decision.at("mode").get<std::string>();
  if (mode == "off") {
    auto off = e.lrrt;
    off.mode = "off";
    return off;
  }
  return search::resolve_lrrt_mode(e.lrrt, mode == "quick");
}

search::C1C2Config c1c2_for(const ExperimentConfig& e, const PlanChoice& p) {
  auto c = e.c1c2;
  if (p.c1c2_candidates > 0) c.max_candidates = p.c1c2_candidates;
  return c;
}

search::BaselineConfig baselines_for(const ExperimentConfig& e, const PlanChoice& p) {
  auto b = e.baselines;
  if (p.baseline_candidates > 0) b.candidates = p.baseline_candidates;
  return b;
}

bool c1c2_runs(const ExperimentConfig& e, const search::LrrtConfig& lrrt) {
  return any_mi_method(e) && e.c1c2.enabled && lrrt.mode != "off";
}

std::vector<search::Job> mi_sgd_finals(const ExperimentConfig& e, const search::LrRange& range) {
  std::vector<search::Job> jobs;
  if (e.methods.mi_sgd) jobs = search::plan_mi_sgd_finals(e.trial, range, e.seeds, false);
  if (e.methods.mi_sgd_layerwise)
    for (auto& job : search::plan_mi_sgd_finals(e.trial, range, e.seeds, true))
      jobs.push_back(std::move(job));
  return jobs;
}

// Every baseline as if its search had found an LR: the shape of the final runs' plan.
std::vector<search::BaselineChoice> any_choices(const search::BaselineConfig& b) {
  std::vector<search::BaselineChoice> choices;
  for (const auto& optimizer : b.optimizers) {
    search::BaselineChoice choice;
    choice.optimizer = optimizer;
    choice.found = true;
    choice.lr = 0.01;
    choices.push_back(choice);
  }
  return choices;
}

// Epochs and jobs per stage of the plan `p`, counted from what the plan functions return (C1/C2
// plans round by round from results, so its shape comes from its schedule).
void count_plan(const ExperimentConfig& e, Scope scope, PlanChoice& p) {
  p.epochs.clear();
  p.jobs.clear();
  auto add = [&](Stage stage, std::int64_t jobs, std::int64_t epochs_each) {
    p.jobs[stage] += jobs;
    p.epochs[stage] += jobs * epochs_each;
  };
  auto add_jobs = [&](Stage stage, const std::vector<search::Job>& jobs) {
    for (const auto& job : jobs) add(stage, 1, job.config.epochs);
  };
  if (e.budget.device_minutes > 0) add_jobs(Stage::calibrate, {calibration_job(e)});
  const auto lrrt = lrrt_for(e, p);
  const bool whole = scope == Scope::experiment;
  if ((any_mi_method(e) || !whole) && lrrt.mode != "off")
    add_jobs(Stage::lrrt, search::plan_lrrt(lrrt, e.trial));
  if (whole && c1c2_runs(e, lrrt)) {
    const auto c1c2 = c1c2_for(e, p);
    for (const auto& round : search::c1c2_schedule(c1c2, c1c2.max_candidates))
      add(Stage::c1c2, static_cast<std::int64_t>(round.candidates.size()), round.epochs);
  }
  if (whole && any_mi_method(e)) add_jobs(Stage::mi_sgd, mi_sgd_finals(e, {}));
  if (whole && e.methods.baselines) {
    const auto b = baselines_for(e, p);
    add_jobs(Stage::baseline_search, search::plan_baseline_search(b, e.trial));
    add_jobs(Stage::baseline, search::plan_baseline_finals(b, e.trial, any_choices(b), e.seeds));
  }
  p.total_epochs = 0;
  for (const auto& [stage, epochs] : p.epochs) p.total_epochs += epochs;
  p.estimated_device_seconds = p.seconds_per_epoch * static_cast<double>(p.total_epochs);
  const double budget_seconds = e.budget.device_minutes * 60;
  p.fits = (budget_seconds <= 0 || p.seconds_per_epoch <= 0 ||
            p.estimated_device_seconds <= budget_seconds) &&
           (e.budget.epochs <= 0 || p.total_epochs <= e.budget.epochs);
}

// Table D as stored: the rows that completed, and the dropped (trial, LR) pairs as crashed.
std::vector<storage::LrrtRow> stored_table(const search::LrrtTable& table) {
  std::vector<storage::LrrtRow> rows;
  for (const auto& r : table.rows)
    rows.push_back({r.trial, r.lr, false, std::isfinite(r.min_d_s) ? r.min_d_s : 0, r.initial_loss,
                    r.final_loss, r.initial_ity, r.final_ity, r.initial_accuracy,
                    r.final_accuracy});
  for (const auto& d : table.dropped) {
    storage::LrrtRow row;
    row.trial = d.trial;
    row.lr = d.lr;
    row.crashed = true;
    rows.push_back(row);
  }
  return rows;
}

std::vector<storage::LrrtBoundsRow> stored_bounds(const search::LrrtDecision& d) {
  std::string warnings;
  for (const auto& w : d.warnings) warnings += (warnings.empty() ? "" : "; ") + w;
  std::vector<storage::LrrtBoundsRow> rows{{"model", d.chosen_attribute, d.range.lr_min,
                                            d.range.lr_max, d.range.lr_top, d.range.eps, warnings}};
  for (const auto& layer : d.layers)
    rows.push_back({layer.layer, layer.bounds.attribute, layer.range.lr_min, layer.range.lr_max,
                    layer.range.lr_top, layer.range.eps, ""});
  return rows;
}

std::vector<storage::C1C2Row> stored_c1c2(const search::C1C2Search& s) {
  std::vector<storage::C1C2Row> rows;
  std::map<int, std::size_t> runs;  // rounds each candidate ran in so far
  for (const auto& round : s.rounds) {
    if (!round.scored) continue;
    for (int id : round.candidates) {
      const auto& c = s.candidates.at(static_cast<std::size_t>(id));
      const auto k = runs[id]++;
      const double score = k < c.scores.size() ? c.scores[k] : -INFINITY;
      const bool kept = std::count(round.kept.begin(), round.kept.end(), id) > 0;
      for (const auto& [c1, c2] : c.c1c2)
        rows.push_back({round.round, c1, c2, c.range.lr_min, c.range.lr_max, c.range.lr_top,
                        c.range.eps, round.epochs, std::isfinite(score) ? score : -1, kept});
    }
  }
  return rows;
}

StageStep decided(const nlohmann::json& decision) {
  StageStep step;
  step.decision.decision = decision.dump();
  return step;
}

search::LrRange range_of(const nlohmann::json& decision) {
  return decision.at("range").get<search::LrRange>();
}

StageStep jobs_step(std::vector<search::Job> jobs, const PlanChoice& plan) {
  StageStep step;
  step.jobs = std::move(jobs);
  step.seconds_per_epoch = plan.seconds_per_epoch;
  return step;
}

StageStep results_step(const nlohmann::json& decision, const std::vector<search::JobResult>& runs) {
  auto step = decided(decision);
  for (const auto& r : runs) step.decision.results.push_back(result_row(r));
  return step;
}

PlanChoice plan_of(const StageInputs& in) {
  return plan_from_json(in.decisions.at(Stage::plan));
}

StageSpec calibrate_stage(const ExperimentConfig& e, double device_share) {
  return {Stage::calibrate, {}, [e, device_share](const StageInputs& in) {
            if (in.results.empty()) {
              StageStep step;
              step.jobs.push_back(calibration_job(e));
              return step;
            }
            const double seconds = measured_seconds_per_epoch(in.results.front(), device_share);
            return decided(
                {{"seconds_per_epoch", seconds}, {"status", name(in.results.front().status)}});
          }};
}

StageSpec plan_stage(const ExperimentConfig& e) {
  std::vector<Stage> after;
  if (e.budget.device_minutes > 0) after.push_back(Stage::calibrate);
  return {Stage::plan, after, [e](const StageInputs& in) {
            double seconds = 0;
            if (in.decisions.count(Stage::calibrate))
              seconds = in.decisions.at(Stage::calibrate).value("seconds_per_epoch", 0.0);
            return decided(plan_json(choose_plan(e, seconds)));
          }};
}

// Seconds per epoch as calibrated, 0 without a calibration.
double calibrated_seconds(const StageInputs& in) {
  const auto found = in.decisions.find(Stage::calibrate);
  return found == in.decisions.end() ? 0 : found->second.value("seconds_per_epoch", 0.0);
}

// Whole experiment: after plan, in the mode plan chose. On its own: after the calibration (with
// a budget), in the mode that fits the budget.
StageSpec lrrt_stage(const ExperimentConfig& e, Scope scope) {
  std::vector<Stage> after{Stage::plan};
  if (scope == Scope::lrrt)
    after =
        e.budget.device_minutes > 0 ? std::vector<Stage>{Stage::calibrate} : std::vector<Stage>{};
  return {Stage::lrrt, after, [e, scope](const StageInputs& in) {
            const auto plan = scope == Scope::experiment
                                  ? plan_of(in)
                                  : choose_plan(e, calibrated_seconds(in), Scope::lrrt);
            const auto config = lrrt_for(e, plan);
            if (config.mode == "off") {
              const auto& p = e.trial.policy;
              return decided({{"mode", "off"},
                              {"range", search::LrRange{p.lr_min, p.lr_max, p.lr_top, p.eps}}});
            }
            if (in.results.empty()) return jobs_step(search::plan_lrrt(config, e.trial), plan);
            const auto table = search::build_lrrt_table(config, in.results);
            const auto decision = search::decide_lrrt(config, table);
            auto step = decided({{"mode", config.mode},
                                 {"range", decision.range},
                                 {"decision", decision},
                                 {"table", table}});
            step.decision.lrrt_table = stored_table(table);
            step.decision.lrrt_bounds = stored_bounds(decision);
            return step;
          }};
}

StageSpec c1c2_stage(const ExperimentConfig& e) {
  return {Stage::c1c2, {Stage::plan, Stage::lrrt}, [e](const StageInputs& in) {
            const auto plan = plan_of(in);
            const auto& lrrt_decision = in.decisions.at(Stage::lrrt);
            const auto lrrt = lrrt_as_decided(e, lrrt_decision);
            if (!c1c2_runs(e, lrrt))
              return decided({{"enabled", false}, {"range", range_of(lrrt_decision)}});
            const auto config = c1c2_for(e, plan);
            const auto table = search::build_lrrt_table(lrrt, in.results_of(Stage::lrrt));
            const auto search =
                search::replay_c1c2(config, search::c1c2_candidates(lrrt, config, table),
                                    in.results, search::is_regression(e.trial));
            auto step = jobs_step(search::plan_c1c2_round(config, e.trial, search), plan);
            if (!step.jobs.empty()) return step;
            const auto& best = search::c1c2_best(search);
            step = decided({{"enabled", true}, {"range", best.range}, {"search", search}});
            step.decision.c1c2 = stored_c1c2(search);
            return step;
          }};
}

StageSpec mi_sgd_stage(const ExperimentConfig& e) {
  return {Stage::mi_sgd, {Stage::plan, Stage::c1c2}, [e](const StageInputs& in) {
            const auto range = range_of(in.decisions.at(Stage::c1c2));
            if (in.results.empty()) return jobs_step(mi_sgd_finals(e, range), plan_of(in));
            return results_step({{"range", range}}, in.results);
          }};
}

StageSpec baseline_search_stage(const ExperimentConfig& e) {
  return {Stage::baseline_search, {Stage::plan}, [e](const StageInputs& in) {
            const auto plan = plan_of(in);
            const auto config = baselines_for(e, plan);
            if (in.results.empty())
              return jobs_step(search::plan_baseline_search(config, e.trial), plan);
            return decided({{"choices", search::decide_baselines(config, in.results,
                                                                 search::is_regression(e.trial))}});
          }};
}

StageSpec baseline_stage(const ExperimentConfig& e) {
  return {Stage::baseline, {Stage::plan, Stage::baseline_search}, [e](const StageInputs& in) {
            const auto plan = plan_of(in);
            const auto config = baselines_for(e, plan);
            const auto choices = search::decide_baselines(
                config, in.results_of(Stage::baseline_search), search::is_regression(e.trial));
            if (in.results.empty()) {
              auto step =
                  jobs_step(search::plan_baseline_finals(config, e.trial, choices, e.seeds), plan);
              if (!step.jobs.empty()) return step;
            }
            return results_step({{"choices", choices}}, in.results);
          }};
}

}  // namespace

PlanChoice choose_plan(const ExperimentConfig& e, double seconds_per_epoch, Scope scope) {
  PlanChoice p;
  p.seconds_per_epoch = seconds_per_epoch;
  p.c1c2_candidates = e.c1c2.max_candidates;
  p.baseline_candidates = e.baselines.candidates;
  count_plan(e, scope, p);
  if (p.fits) return p;
  if (e.lrrt.mode == "auto") {
    p.lrrt_quick = true;
    count_plan(e, scope, p);
    if (p.fits || scope == Scope::lrrt) return p;
  }
  for (bool reduced = true; reduced && !p.fits;) {
    reduced = false;
    if (p.c1c2_candidates > 2) {
      p.c1c2_candidates = std::max(2, p.c1c2_candidates / 2);
      reduced = true;
      count_plan(e, scope, p);
      if (p.fits) break;
    }
    if (p.baseline_candidates > 3) {
      p.baseline_candidates = std::max(3, p.baseline_candidates / 2);
      reduced = true;
      count_plan(e, scope, p);
    }
  }
  return p;
}

std::vector<std::string> describe_plan(const ExperimentConfig& e, const PlanChoice& p) {
  std::vector<std::string> lines;
  const auto lrrt = lrrt_for(e, p);
  for (const auto& [stage, jobs] : p.jobs) {
    std::string note;
    if (stage == Stage::lrrt) note = fmt::format(" ({} mode)", lrrt.mode);
    if (stage == Stage::c1c2)
      note = fmt::format(" (up to {} candidates, successive halving)", p.c1c2_candidates);
    if (stage == Stage::baseline_search)
      note = fmt::format(" ({} LRs per optimizer)", p.baseline_candidates);
    lines.push_back(
        fmt::format("{:<16} {:>4} jobs {:>6} epochs{}{}", name(stage), jobs, p.epochs.at(stage),
                    p.seconds_per_epoch > 0
                        ? fmt::format(" ~{:.0f} device-s", p.seconds_per_epoch * p.epochs.at(stage))
                        : "",
                    note));
  }
  std::string budget = "unlimited";
  if (e.budget.device_minutes > 0 || e.budget.epochs > 0)
    budget = fmt::format("{}{}{}",
                         e.budget.device_minutes > 0
                             ? fmt::format("{:g} device-minutes", e.budget.device_minutes)
                             : "",
                         e.budget.device_minutes > 0 && e.budget.epochs > 0 ? ", " : "",
                         e.budget.epochs > 0 ? fmt::format("{} epochs", e.budget.epochs) : "");
  lines.push_back(fmt::format(
      "total {} epochs{}; budget {}{}", p.total_epochs,
      p.seconds_per_epoch > 0 ? fmt::format(", ~{:.0f} device-s at {:.2f} s/epoch",
                                            p.estimated_device_seconds, p.seconds_per_epoch)
                              : "",
      budget, p.fits ? "" : " - does not fit even reduced: jobs stop when it is spent"));
  return lines;
}

namespace {

// Per-stage counts as stored in the plan's decision: keyed by the stage's name.
nlohmann::json by_name(const std::map<Stage, std::int64_t>& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [stage, count] : counts) j[std::string(name(stage))] = count;
  return j;
}

std::map<Stage, std::int64_t> by_stage(const nlohmann::json& j) {
  std::map<Stage, std::int64_t> counts;
  for (const auto& [stage, count] : j.items())
    counts[parse<Stage>(stage)] = count.get<std::int64_t>();
  return counts;
}

}  // namespace

nlohmann::json plan_json(const PlanChoice& p) {
  return {{"lrrt_quick", p.lrrt_quick},
          {"c1c2_candidates", p.c1c2_candidates},
          {"baseline_candidates", p.baseline_candidates},
          {"seconds_per_epoch", p.seconds_per_epoch},
          {"epochs", by_name(p.epochs)},
          {"jobs", by_name(p.jobs)},
          {"total_epochs", p.total_epochs},
          {"estimated_device_seconds", p.estimated_device_seconds},
          {"fits", p.fits}};
}

PlanChoice plan_from_json(const nlohmann::json& j) {
  PlanChoice p;
  p.lrrt_quick = j.at("lrrt_quick").get<bool>();
  p.c1c2_candidates = j.at("c1c2_candidates").get<int>();
  p.baseline_candidates = j.at("baseline_candidates").get<int>();
  p.seconds_per_epoch = j.at("seconds_per_epoch").get<double>();
  p.epochs = by_stage(j.at("epochs"));
  p.jobs = by_stage(j.at("jobs"));
  p.total_epochs = j.at("total_epochs").get<std::int64_t>();
  p.estimated_device_seconds = j.at("estimated_device_seconds").get<double>();
  p.fits = j.at("fits").get<bool>();
  return p;
}

search::Job calibration_job(const ExperimentConfig& e) {
  search::Job job;
  job.stage = Stage::calibrate;
  job.label = "calibrate";
  job.config = e.trial;
  job.config.epochs = 1;
  return job;
}

double measured_seconds_per_epoch(const search::JobResult& calibration, double device_share) {
  double seconds = 0;
  int epochs = 0;
  for (const auto& r : calibration.epochs) {
    seconds += r.seconds;  // epoch 0 (the MI before training) counts with epoch 1
    epochs += r.epoch > 0;
  }
  return epochs > 0 ? seconds / epochs * device_share : 0;
}

std::vector<StageSpec> experiment_stages(const ExperimentConfig& e, double device_share,
                                         Scope scope) {
  std::vector<StageSpec> stages;
  if (e.budget.device_minutes > 0) stages.push_back(calibrate_stage(e, device_share));
  if (scope == Scope::lrrt) {
    stages.push_back(lrrt_stage(e, scope));
    return stages;
  }
  stages.push_back(plan_stage(e));
  if (any_mi_method(e)) {
    stages.push_back(lrrt_stage(e, scope));
    stages.push_back(c1c2_stage(e));
    stages.push_back(mi_sgd_stage(e));
  }
  if (e.methods.baselines) {
    stages.push_back(baseline_search_stage(e));
    stages.push_back(baseline_stage(e));
  }
  return stages;
}

}  // namespace automl::engine
