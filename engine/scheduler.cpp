#include "engine/scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <stdexcept>

#include "engine/records.h"
#include "engine/worker.h"
#include "trials/config_json.h"

namespace automl::engine {
namespace {

storage::StageDecision closing(std::int64_t experiment_id, Stage stage, StageStatus status,
                               const nlohmann::json& why) {
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

storage::TrialFilter of_experiment(std::int64_t experiment_id) {
  storage::TrialFilter filter;
  filter.experiment_id = experiment_id;
  return filter;
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

std::vector<StageNode> stage_nodes(const std::vector<StageSpec>& stages) {
  std::vector<StageNode> nodes;
  for (const auto& spec : stages) nodes.push_back({spec.stage, spec.after});
  return nodes;
}

std::map<Stage, int> chain_lengths(const std::vector<StageSpec>& stages) {
  return Plan(stage_nodes(stages)).chain_lengths();
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
      log_(std::move(log)),
      plan_(stage_nodes(stages_)) {
  if (slots_.empty()) throw std::invalid_argument("scheduler: no slots to run trials on");
}

PlanState Scheduler::plan_state(const std::vector<storage::TrialRow>& trials) {
  PlanState state;
  for (const auto& row : storage_.stages(experiment_id_)) state.stages[row.stage] = row.status;
  for (const auto& t : trials) state.jobs.push_back({t.id, t.stage, t.status});
  return state;
}

PlanState Scheduler::plan_state() {
  return plan_state(storage_.trials(of_experiment(experiment_id_)));
}

void Scheduler::emit(const StageEvent& event) {
  switch (event.status) {
    case StageStatus::planned:
      log_(fmt::format("stage {}: planned {} job(s)", name(event.stage), event.jobs));
      break;
    case StageStatus::done:
      log_(fmt::format("stage {}: decided {}", name(event.stage), brief(event.decision)));
      break;
    default:
      log_(fmt::format("stage {}: {}: {}", name(event.stage), name(event.status), event.decision));
  }
  if (on_stage) on_stage(event);
}

void Scheduler::advance_stages() {
  // A decision can unlock the next stage at once (stages without jobs decide immediately).
  // The state is read once per pass, and again only after a stage changed it.
  auto state = plan_state();
  bool changed = true;
  while (changed) {
    changed = false;
    for (const auto& spec : stages_)
      if (advance_stage(spec, state)) {
        changed = true;
        state = plan_state();
      }
  }
}

void Scheduler::close_stage(const StageSpec& spec, storage::StageDecision decision,
                            const std::string& why) {
  decision.experiment_id = experiment_id_;
  decision.stage = spec.stage;
  storage_.save_decision(decision);
  emit({spec.stage, decision.status, 0,
        decision.status == StageStatus::done ? decision.decision : why});
}

bool Scheduler::advance_stage(const StageSpec& spec, const PlanState& state) {
  const auto ready = plan_.readiness(spec.stage, state);
  if (ready.kind == Readiness::skip) {
    const auto why = fmt::format("{} did not decide", name(ready.input));
    close_stage(spec, closing(experiment_id_, spec.stage, StageStatus::skipped, {{"reason", why}}),
                why);
    return true;
  }
  if (ready.kind != Readiness::step) return false;

  StageInputs inputs;
  for (const auto& row : storage_.stages(experiment_id_))
    if (std::count(spec.after.begin(), spec.after.end(), row.stage))
      inputs.decisions[row.stage] = nlohmann::json::parse(row.decision);
  auto filter = of_experiment(experiment_id_);
  filter.stage = spec.stage;
  const auto own = storage_.trials(filter);
  for (const auto& trial : own)
    inputs.results.push_back(job_result(trial, storage_.epochs(trial.id)));
  inputs.results_of = [this](Stage stage) { return finished_results(stage); };

  StageStep step;
  try {
    step = spec.next(inputs);
  } catch (const storage::StorageError&) {
    throw;  // the database failed, not the stage: never recorded as the stage's decision
  } catch (const std::exception& e) {
    close_stage(spec,
                closing(experiment_id_, spec.stage, StageStatus::failed, {{"error", e.what()}}),
                e.what());
    return true;
  }
  if (step.jobs.empty()) {
    step.decision.status = StageStatus::done;
    close_stage(spec, step.decision, "");
    return true;
  }
  plan_jobs(spec, step, own);
  return true;
}

void Scheduler::plan_jobs(const StageSpec& spec, const StageStep& step,
                          const std::vector<storage::TrialRow>& existing) {
  std::set<std::string> labels;
  for (const auto& trial : existing) labels.insert(trial.label);
  std::vector<storage::TrialRow> rows;
  for (const auto& job : step.jobs)
    if (!labels.count(job.label))
      rows.push_back(trial_row(experiment_id_, job, step.seconds_per_epoch * job.config.epochs));
  if (rows.empty()) {
    // Asking again for jobs that already ran would loop for ever: a defect of the stage.
    const std::string why = "planned only jobs that already ran";
    close_stage(spec, closing(experiment_id_, spec.stage, StageStatus::failed, {{"error", why}}),
                why);
    return;
  }
  storage_.add_trials(rows);
  storage_.set_stage(experiment_id_, spec.stage, StageStatus::planned);
  emit({spec.stage, StageStatus::planned, rows.size(), ""});
}

std::vector<search::JobResult> Scheduler::finished_results(Stage stage) {
  auto filter = of_experiment(experiment_id_);
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

bool Scheduler::fits_budget(const storage::TrialRow& trial) {
  if (options_.budget_device_seconds <= 0) return true;
  const double now = runner_.now();
  double committed = spent_device_seconds();  // running jobs counted so far...
  for (const auto& [index, run] : running_)   // ...and for the rest of their estimates
    committed +=
        std::max(0.0, run.estimated_seconds - (now - run.started) * run.launch.slot.device_share);
  return engine::fits_budget(options_.budget_device_seconds, committed, trial.estimated_seconds);
}

void Scheduler::start_jobs() {
  if (running_.size() >= slots_.size()) return;
  const auto trials = storage_.trials(of_experiment(experiment_id_));
  std::map<std::int64_t, const storage::TrialRow*> by_id;
  for (const auto& t : trials) by_id[t.id] = &t;
  std::vector<const storage::TrialRow*> pending;
  for (const auto id : plan_.startable(plan_state(trials))) pending.push_back(by_id.at(id));
  std::set<std::int64_t> launched;
  for (const auto& [slot, run] : running_) launched.insert(run.launch.trial_id);
  auto next = pending.begin();
  for (const auto& slot : slots_) {
    if (running_.count(slot.index)) continue;
    while (next != pending.end() && launched.count((*next)->id)) ++next;
    if (next == pending.end()) return;
    if (!budget_left() || !fits_budget(**next)) {
      budget_blocked_ = true;
      if (!budget_message_shown_)
        log_(fmt::format("budget {} ({:.0f} device-s, {} epochs): starting no more jobs",
                         budget_left()
                             ? fmt::format("too short for the next job (~{:.0f} device-s)",
                                           (*next)->estimated_seconds)
                             : std::string("spent"),
                         spent_device_seconds(), storage_.epochs_run(experiment_id_)));
      budget_message_shown_ = true;
      return;
    }
    Launch launch{(*next)->id, (*next)->label, slot};
    if (!runner_.start(launch)) continue;  // another engine's worker holds this slot
    running_[slot.index] = {launch, runner_.now(), (*next)->estimated_seconds};
    ++next;
  }
}

void Scheduler::requeue_stale() {
  for (const auto& stale : storage_.requeue_stale(experiment_id_, options_.heartbeat_timeout)) {
    // Its claim counted the attempt; a trial whose every worker goes silent (it hangs them, or
    // kills their hosts) must end too.
    const bool used_up = stale.attempts >= options_.max_attempts;
    if (used_up)
      storage_.finish_trial(stale.id, TrialStatus::failed,
                            fmt::format("its worker went silent on each of {} attempts (last: {})",
                                        stale.attempts, stale.worker),
                            stale.seconds, "{}");
    log_(fmt::format("trial {} {}: worker {} went silent; {}", stale.id, stale.label, stale.worker,
                     used_up ? "failed" : "back to pending"));
    // A worker of ours that is paused or hung would hold its slot and wake up to a trial that
    // is no longer its own: end it (its exit then frees the slot).
    runner_.abandon(stale.id);
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
  const auto where = fmt::format("trial {} {}", trial->id, trial->label);
  const bool claimed_by_it = trial->worker == exit.worker;
  if (trial->status == TrialStatus::running && claimed_by_it) {
    // The worker died before it finished the trial (crash, out of memory, killed).
    storage_.release_trial(trial->id, "worker ended without finishing: " + exit.how,
                           options_.max_attempts);
    log_(fmt::format("{}: worker ended ({}) on {}; {}", where, exit.how, run.launch.slot.name,
                     trial->attempts >= options_.max_attempts ? "failed" : "will run again"));
    return;
  }
  if (trial->status == TrialStatus::pending && !claimed_by_it && exit.exit_code != kWorkerNothing) {
    // The worker died before it claimed the trial: an attempt all the same.
    storage_.count_failed_start(trial->id, "worker ended before it started the trial: " + exit.how,
                                options_.max_attempts);
    log_(fmt::format("{}: worker ended before it started ({}) on {}; {}", where, exit.how,
                     run.launch.slot.name,
                     trial->attempts + 1 >= options_.max_attempts ? "failed" : "will run again"));
    return;
  }
  if (!finished(trial->status) || !claimed_by_it) {
    // Requeued while it ran (its attempt counted when it claimed), or another worker holds it.
    return;
  }
  const auto summary = parse_summary(trial->summary);
  // LRRT and calibration trials never look at the test set.
  const bool tested = trials::read_trial_config(trial->config).evaluate_test;
  const auto outcome = trial->status != TrialStatus::done ? ": " + trial->reason
                       : tested ? fmt::format(", test acc {:.4f}", summary.final_test_accuracy)
                                : std::string();
  log_(fmt::format("{}: {} on {} in {:.1f}s{}", where, name(trial->status), run.launch.slot.name,
                   trial->seconds, outcome));
}

// After a signal: the trials our workers held go back to pending at once (not after a
// heartbeat timeout), and the interrupted attempt does not count against them.
void Scheduler::return_running_trials() {
  for (const auto& [slot, run] : running_) {
    const auto trial = storage_.trial(run.launch.trial_id);
    if (trial && trial->status == TrialStatus::running)
      storage_.return_trial(trial->id, "the engine was interrupted");
    storage_.add_device_seconds(run.launch.trial_id,
                                (runner_.now() - run.started) * run.launch.slot.device_share);
  }
  running_.clear();
}

Progress Scheduler::progress() {
  Progress p;
  const auto trials = storage_.trials(of_experiment(experiment_id_));
  const auto state = plan_state(trials);
  for (const auto& spec : stages_) {
    const auto found = state.stages.find(spec.stage);
    StageProgress stage{spec.stage,
                        found == state.stages.end() ? StageStatus::waiting : found->second, 0, 0};
    for (const auto& t : trials) {
      if (t.stage != spec.stage) continue;
      ++stage.total;
      if (finished(t.status)) ++stage.done;
    }
    p.stages.push_back(stage);
  }
  for (const auto& t : trials)
    if (t.status == TrialStatus::running) p.running.push_back(t);
  p.started = static_cast<int>(running_.size());
  p.spent_device_seconds = spent_device_seconds();
  p.epochs_run = storage_.epochs_run(experiment_id_);
  return p;
}

RunReport Scheduler::run() {
  RunReport report;
  report.experiment_id = experiment_id_;
  const double start = runner_.now();
  double last_progress = start;
  double last_lease = -1e9;
  while (!runner_.interrupted()) {
    if (hold_lease && runner_.now() - last_lease >= options_.tick_seconds) {
      last_lease = runner_.now();
      if (!hold_lease()) {
        log_("another coordinator holds this experiment now: stopping (its stages are its own)");
        report.lost_lease = true;
        break;
      }
    }
    requeue_stale();
    advance_stages();
    const auto state = plan_state();
    report.complete = plan_.all_done(state);
    if (plan_.all_closed(state)) break;
    start_jobs();
    if (running_.empty()) {
      int pending = 0, foreign_running = 0;
      for (const auto& t : storage_.trials(of_experiment(experiment_id_))) {
        pending += t.status == TrialStatus::pending || t.status == TrialStatus::queued;
        foreign_running += t.status == TrialStatus::running;
      }
      if (pending > 0 && budget_blocked_) {
        report.budget_spent = true;
        report.trials_not_started = pending;
        break;
      }
      // Otherwise another engine's workers hold the slots or the trials: wait for them.
      if (pending == 0 && foreign_running == 0) break;  // nothing left that could make progress
    }
    if (const auto exit = runner_.wait(options_.tick_seconds)) handle_exit(*exit);
    if (on_progress && runner_.now() - last_progress >= options_.tick_seconds) {
      last_progress = runner_.now();
      on_progress(progress());
    }
  }
  report.interrupted = runner_.interrupted();
  runner_.stop_all();
  if (report.interrupted) return_running_trials();
  for (const auto& t : storage_.trials(of_experiment(experiment_id_))) {
    report.trials_done += t.status == TrialStatus::done;
    report.trials_failed += t.status == TrialStatus::failed;
    report.trials_crashed += t.status == TrialStatus::crashed;
  }
  report.device_seconds = storage_.device_seconds(experiment_id_);
  report.seconds = runner_.now() - start;
  return report;
}

}  // namespace automl::engine
