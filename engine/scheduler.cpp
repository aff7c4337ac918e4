#include "engine/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "trials/config_json.h"

namespace automl::engine {
namespace {

storage::StageDecision closing(std::int64_t experiment_id, const std::string& stage,
                               const std::string& status, const nlohmann::json& why) {
  storage::StageDecision d;
  d.experiment_id = experiment_id;
  d.stage = stage;
  d.status = status;
  d.decision = why.dump();
  return d;
}

// A decision for the terminal: its range when it has one, else its first characters (the whole
// decision is in the database).
std::string brief(const std::string& decision) {
  const auto j = nlohmann::json::parse(decision, nullptr, false);
  if (j.is_object() && j.contains("range")) return "range " + j.at("range").dump();
  return decision.size() <= 160 ? decision : decision.substr(0, 157) + "...";
}

bool finished(const std::string& status) {
  return status == "done" || status == "crashed" || status == "failed";
}

bool stage_closed(const std::string& status) {
  return status == "done" || status == "failed" || status == "skipped";
}

trials::TrialSummary parse_summary(const std::string& text) {
  trials::TrialSummary s;
  const auto j = nlohmann::json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (!j.is_object()) return s;
  s.status = j.value("status", s.status);
  s.reason = j.value("reason", s.reason);
  s.epochs_run = j.value("epochs_run", 0);
  s.best_test_accuracy = j.value("best_test_accuracy", 0.0);
  s.final_test_accuracy = j.value("final_test_accuracy", 0.0);
  s.best_test_mae = j.value("best_test_mae", 0.0);
  s.seconds = j.value("seconds", 0.0);
  return s;
}

}  // namespace

std::vector<Slot> make_slots(const std::string& kind, int gpus, int slots_per_gpu, int cpu_slots) {
  std::vector<Slot> slots;
  if (kind != "cpu" && gpus > 0) {
    for (int gpu = 0; gpu < gpus; ++gpu)
      for (int k = 0; k < slots_per_gpu; ++k)
        slots.push_back({static_cast<int>(slots.size()), fmt::format("gpu{}.{}", gpu, k), "cuda:0",
                         std::to_string(gpu), 1.0 / slots_per_gpu});
    return slots;
  }
  for (int k = 0; k < cpu_slots; ++k)
    slots.push_back({k, fmt::format("cpu.{}", k), "cpu", "", 1.0 / cpu_slots});
  return slots;
}

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
  row.extra = nlohmann::json{{"bound", r.bound},
                             {"train_mae", r.train_mae},
                             {"test_mae", r.test_mae},
                             {"validation_accuracy", r.validation_accuracy},
                             {"validation_mae", r.validation_mae}}
                  .dump();
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
  const auto extra = nlohmann::json::parse(row.extra.empty() ? "{}" : row.extra, nullptr, false);
  if (extra.is_object()) {
    r.bound = extra.value("bound", 0.0);
    r.train_mae = extra.value("train_mae", 0.0);
    r.test_mae = extra.value("test_mae", 0.0);
    r.validation_accuracy = extra.value("validation_accuracy", 0.0);
    r.validation_mae = extra.value("validation_mae", 0.0);
  }
  for (const auto& g : row.groups)
    r.groups.push_back({g.name, g.lr, g.ity, g.d_p, g.d_p_raw, g.d_s, g.decision});
  return r;
}

search::JobResult job_result(const storage::TrialRow& trial,
                             const std::vector<storage::EpochRow>& epochs) {
  search::JobResult result;
  result.label = trial.label;
  result.status = trial.status;
  for (const auto& e : epochs) result.epochs.push_back(epoch_record(e));
  result.summary = parse_summary(trial.summary);
  if (trial.status == "failed") {
    result.summary.status = "failed";
    result.summary.reason = trial.reason;
  }
  return result;
}

Scheduler::Scheduler(storage::Storage& storage, std::int64_t experiment_id,
                     std::vector<StageSpec> stages, std::vector<Slot> slots, TrialRunner& runner,
                     SchedulerOptions options, Log log)
    : storage_(storage),
      experiment_id_(experiment_id),
      stages_(std::move(stages)),
      slots_(std::move(slots)),
      runner_(runner),
      options_(options),
      log_(std::move(log)) {
  if (slots_.empty()) throw std::invalid_argument("scheduler: no slots to run trials on");
}

std::string Scheduler::stage_status(const std::string& name) {
  for (const auto& row : storage_.stages(experiment_id_))
    if (row.name == name) return row.status;
  return "waiting";
}

void Scheduler::advance_stages() {
  // A decision can unlock the next stage at once (stages without jobs decide immediately).
  bool changed = true;
  while (changed) {
    changed = false;
    for (const auto& spec : stages_) changed = advance_stage(spec) || changed;
  }
}

bool Scheduler::advance_stage(const StageSpec& spec) {
  const auto rows = storage_.stages(experiment_id_);
  auto status_of = [&](const std::string& name) -> std::string {
    for (const auto& row : rows)
      if (row.name == name) return row.status;
    return "waiting";
  };
  if (stage_closed(status_of(spec.name))) return false;

  StageInputs inputs;
  for (const auto& dependency : spec.after) {
    const auto status = status_of(dependency);
    if (status == "failed" || status == "skipped") {
      storage_.save_decision(closing(experiment_id_, spec.name, "skipped",
                                     {{"reason", dependency + " did not decide"}}));
      log_(fmt::format("stage {}: skipped ({} did not decide)", spec.name, dependency));
      return true;
    }
    if (status != "done") return false;
    for (const auto& row : rows)
      if (row.name == dependency)
        inputs.decisions[dependency] = nlohmann::json::parse(row.decision);
  }

  storage::TrialFilter filter;
  filter.experiment_id = experiment_id_;
  filter.stage = spec.name;
  const auto own = storage_.trials(filter);
  for (const auto& trial : own)
    if (!finished(trial.status)) return false;  // the current round is still running
  std::set<std::string> existing;
  for (const auto& trial : own) {
    existing.insert(trial.label);
    inputs.results.push_back(job_result(trial, storage_.epochs(trial.id)));
  }
  inputs.results_of = [this](const std::string& stage) { return finished_results(stage); };

  StageStep step;
  try {
    step = spec.next(inputs);
  } catch (const std::exception& e) {
    storage_.save_decision(closing(experiment_id_, spec.name, "failed", {{"error", e.what()}}));
    log_(fmt::format("stage {}: failed: {}", spec.name, e.what()));
    return true;
  }

  if (step.jobs.empty()) {
    step.decision.experiment_id = experiment_id_;
    step.decision.stage = spec.name;
    step.decision.status = "done";
    storage_.save_decision(step.decision);
    log_(fmt::format("stage {}: decided {}", spec.name, brief(step.decision.decision)));
    return true;
  }

  std::vector<storage::TrialRow> rows_to_add;
  for (const auto& job : step.jobs) {
    if (existing.count(job.label)) continue;
    storage::TrialRow row;
    row.experiment_id = experiment_id_;
    row.stage = spec.name;
    row.label = job.label;
    row.seed = job.config.seed;
    row.config = nlohmann::json(job.config).dump();
    row.estimated_seconds = step.seconds_per_epoch * job.config.epochs;
    rows_to_add.push_back(std::move(row));
  }
  if (rows_to_add.empty()) {
    // Asking again for jobs that already ran would loop for ever: a defect of the stage.
    storage_.save_decision(closing(experiment_id_, spec.name, "failed",
                                   {{"error", "planned only jobs that already ran"}}));
    log_(fmt::format("stage {}: failed: planned only jobs that already ran", spec.name));
    return true;
  }
  storage_.add_trials(rows_to_add);
  storage_.set_stage(experiment_id_, spec.name, "planned");
  log_(fmt::format("stage {}: planned {} job(s)", spec.name, rows_to_add.size()));
  return true;
}

std::vector<search::JobResult> Scheduler::finished_results(const std::string& stage) {
  storage::TrialFilter filter;
  filter.experiment_id = experiment_id_;
  filter.stage = stage;
  std::vector<search::JobResult> results;
  for (const auto& trial : storage_.trials(filter))
    if (finished(trial.status)) results.push_back(job_result(trial, storage_.epochs(trial.id)));
  return results;
}

double Scheduler::spent_device_seconds() {
  double spent = storage_.device_seconds(experiment_id_);
  const double now = runner_.now();
  for (const auto& [slot, run] : running_)
    spent += (now - run.started) * run.launch.slot.device_share;
  return spent;
}

bool Scheduler::budget_left() {
  if (options_.budget_device_seconds > 0 &&
      spent_device_seconds() >= options_.budget_device_seconds)
    return false;
  if (options_.budget_epochs > 0 && storage_.epochs_run(experiment_id_) >= options_.budget_epochs)
    return false;
  return true;
}

namespace {

int stage_rank(const std::string& stage) {
  static const std::vector<std::string> order = {"lrrt", "c1c2", "mi_sgd", "baseline_search",
                                                 "baseline"};
  const auto found = std::find(order.begin(), order.end(), stage);
  return static_cast<int>(found - order.begin());
}

}  // namespace

void Scheduler::start_jobs() {
  if (running_.size() >= slots_.size()) return;
  storage::TrialFilter filter;
  filter.experiment_id = experiment_id_;
  filter.status = "pending";
  auto pending = storage_.trials(filter);
  // The longest chain first: LRRT -> C1/C2 -> MI-SGD waits on each stage in turn, while the
  // baselines' chain is shorter; within a stage, the order the jobs were planned in.
  std::stable_sort(pending.begin(), pending.end(), [](const auto& a, const auto& b) {
    return stage_rank(a.stage) < stage_rank(b.stage);
  });
  std::set<std::int64_t> launched;
  for (const auto& [slot, run] : running_) launched.insert(run.launch.trial_id);
  auto next = pending.begin();
  for (const auto& slot : slots_) {
    if (running_.count(slot.index)) continue;
    while (next != pending.end() && launched.count(next->id)) ++next;
    if (next == pending.end()) return;
    if (!budget_left()) {
      if (!budget_message_shown_)
        log_(fmt::format("budget spent ({:.0f} device-s, {} epochs): starting no more jobs",
                         spent_device_seconds(), storage_.epochs_run(experiment_id_)));
      budget_message_shown_ = true;
      return;
    }
    Launch launch{next->id, next->label, slot};
    runner_.start(launch);
    running_[slot.index] = {launch, runner_.now()};
    ++next;
  }
}

void Scheduler::handle_exit(const Exit& exit) {
  auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& entry) {
    return entry.second.launch.trial_id == exit.trial_id;
  });
  if (it == running_.end()) return;
  const auto run = it->second;
  running_.erase(it);
  storage_.add_device_seconds(exit.trial_id,
                              (runner_.now() - run.started) * run.launch.slot.device_share);
  const auto trial = storage_.trial(exit.trial_id);
  if (!trial) return;
  if (trial->status == "running" && trial->worker == exit.worker) {
    // The worker died before it finished the trial (crash, out of memory, killed).
    storage_.release_trial(trial->id, "worker ended without finishing: " + exit.how,
                           options_.max_attempts);
    log_(fmt::format("trial {} {}: worker ended ({}) on {}; {}", trial->id, trial->label, exit.how,
                     run.launch.slot.name,
                     trial->attempts >= options_.max_attempts ? "failed" : "will run again"));
    return;
  }
  if (trial->status == "pending") {
    // The worker never claimed it: it could not start (or another worker holds it).
    if (exit.exit_code != 0) {
      storage_.finish_trial(trial->id, "failed", "worker could not start: " + exit.how, 0, "{}");
      log_(fmt::format("trial {} {}: worker could not start ({})", trial->id, trial->label,
                       exit.how));
    }
    return;
  }
  const auto summary = parse_summary(trial->summary);
  log_(fmt::format("trial {} {}: {} on {} in {:.1f}s{}", trial->id, trial->label, trial->status,
                   run.launch.slot.name, trial->seconds,
                   trial->status == "done"
                       ? fmt::format(", test acc {:.4f}", summary.final_test_accuracy)
                       : ": " + trial->reason));
}

Progress Scheduler::progress() {
  Progress p;
  storage::TrialFilter filter;
  filter.experiment_id = experiment_id_;
  const auto trials = storage_.trials(filter);
  for (const auto& spec : stages_) {
    StageProgress stage{spec.name, stage_status(spec.name), 0, 0};
    for (const auto& t : trials) {
      if (t.stage != spec.name) continue;
      ++stage.total;
      if (finished(t.status)) ++stage.done;
    }
    p.stages.push_back(stage);
  }
  for (const auto& t : trials)
    if (t.status == "running") p.running.push_back(t);
  p.spent_device_seconds = spent_device_seconds();
  p.epochs_run = storage_.epochs_run(experiment_id_);
  return p;
}

RunReport Scheduler::run() {
  RunReport report;
  report.experiment_id = experiment_id_;
  const double start = runner_.now();
  double last_progress = start;
  for (;;) {
    for (const auto& stale : storage_.requeue_stale(experiment_id_, options_.heartbeat_timeout))
      log_(fmt::format("trial {} {}: worker {} went silent; back to pending", stale.id, stale.label,
                       stale.worker));
    advance_stages();
    report.complete = std::all_of(stages_.begin(), stages_.end(), [&](const StageSpec& s) {
      return stage_status(s.name) == "done";
    });
    const bool all_closed = std::all_of(stages_.begin(), stages_.end(), [&](const StageSpec& s) {
      return stage_closed(stage_status(s.name));
    });
    if (all_closed) break;
    start_jobs();
    if (running_.empty()) {
      storage::TrialFilter filter;
      filter.experiment_id = experiment_id_;
      int pending = 0, foreign_running = 0;
      for (const auto& t : storage_.trials(filter)) {
        pending += t.status == "pending";
        foreign_running += t.status == "running";
      }
      if (pending > 0) {  // start_jobs started nothing: the budget is spent
        report.budget_spent = true;
        report.trials_not_started = pending;
        break;
      }
      if (foreign_running == 0) break;  // nothing left that could make progress
    }
    if (const auto exit = runner_.wait(options_.tick_seconds)) handle_exit(*exit);
    if (on_progress && runner_.now() - last_progress >= options_.tick_seconds) {
      last_progress = runner_.now();
      on_progress(progress());
    }
  }
  runner_.stop_all();
  storage::TrialFilter filter;
  filter.experiment_id = experiment_id_;
  for (const auto& t : storage_.trials(filter)) {
    report.trials_done += t.status == "done";
    report.trials_failed += t.status == "failed";
    report.trials_crashed += t.status == "crashed";
  }
  report.device_seconds = storage_.device_seconds(experiment_id_);
  report.seconds = runner_.now() - start;
  return report;
}

}  // namespace automl::engine
