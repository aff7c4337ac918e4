#include "engine/engine.h"

#include <fmt/format.h>
#include <torch/cuda.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "common/error.h"
#include "engine/process_runner.h"
#include "engine/stages.h"
#include "mi/threads.h"
#include "trials/config_json.h"
#include "trials/data.h"
#include "trials/torchscript.h"
#include "trials/trial.h"

namespace automl::engine {
namespace {

// The first line where two experiment texts differ, for the message that refuses a resume.
std::string first_difference(const std::string& stored, const std::string& given) {
  std::istringstream a(stored), b(given);
  std::string x, y;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(a, x));
    const bool more_b = static_cast<bool>(std::getline(b, y));
    if (!more_a && !more_b) return "";
    if (!more_a) x = "(end of file)";
    if (!more_b) y = "(end of file)";
    if (x != y) return fmt::format("line {}: stored '{}', given '{}'", line, x, y);
  }
}

std::int64_t open_experiment(const experiments::ExperimentConfig& e, storage::Storage& storage,
                             const Log& log) {
  const auto found = storage.find_experiment(e.name);
  if (!found) return storage.create_experiment(e.name, e.source);
  if (found->config != e.source)
    throw InputError(e.file,
                     fmt::format("experiment '{}' is already in {} with a different "
                                 "configuration ({}); run it under another name or database, "
                                 "or restore the stored file to resume it",
                                 e.name, e.database, first_difference(found->config, e.source)));
  storage::TrialFilter filter;
  filter.experiment_id = found->id;
  const auto trials = storage.trials(filter);
  const auto done =
      std::count_if(trials.begin(), trials.end(), [](const auto& t) { return finished(t.status); });
  log(fmt::format("resuming experiment '{}': {} of {} planned job(s) finished", e.name, done,
                  trials.size()));
  return found->id;
}

std::string progress_text(const Progress& p, const experiments::ExperimentConfig& e,
                          storage::Storage& storage) {
  std::string stages;
  for (const auto& s : p.stages)
    stages += fmt::format("{}{} {}", stages.empty() ? "" : ", ", name(s.stage),
                          s.status == StageStatus::planned ? fmt::format("{}/{}", s.done, s.total)
                                                           : std::string(name(s.status)));
  std::string budget = fmt::format("{:.0f} device-s spent", p.spent_device_seconds);
  if (e.budget.device_minutes > 0)
    budget += fmt::format(", {:.0f} left",
                          std::max(0.0, e.budget.device_minutes * 60 - p.spent_device_seconds));
  budget += fmt::format("; {} epochs", p.epochs_run);
  if (e.budget.epochs > 0) budget += fmt::format(" of {}", e.budget.epochs);
  std::string text = fmt::format("progress: {} | {}", stages, budget);
  for (const auto& t : p.running) {
    const auto epochs = storage.epochs(t.id);
    const int planned = nlohmann::json::parse(t.config).value("epochs", 0);
    if (epochs.empty() || epochs.back().epoch == 0) {
      text += fmt::format("\n  #{} {} on {}: starting", t.id, t.label, t.device);
      continue;
    }
    const auto& last = epochs.back();
    double seconds = 0;
    for (const auto& row : epochs) seconds += row.seconds;
    const double eta = seconds / last.epoch * std::max(0, planned - last.epoch);
    text += fmt::format(
        "\n  #{} {} on {}: epoch {}/{} train acc {:.4f} test acc {:.4f} lr {:.3g} "
        "eta {:.0f}s",
        t.id, t.label, t.device, last.epoch, planned, last.train_accuracy, last.test_accuracy,
        last.lr, eta);
  }
  return text;
}

void log_results(storage::Storage& storage, std::int64_t experiment_id, const Log& log) {
  for (const auto& r : storage.results(experiment_id))
    log(fmt::format("result: {:<18} seed {:<4} lr {:<8.3g} test acc {:.4f} (best {:.4f}) {}",
                    name(r.method), r.seed, r.lr, r.final_test_accuracy, r.best_test_accuracy,
                    name(r.status)));
}

// The plan as decided (stored), else as it would be without a measurement.
void log_plan(storage::Storage& storage, const experiments::ExperimentConfig& e,
              std::int64_t experiment_id, const Log& log) {
  PlanChoice plan = choose_plan(e, 0);
  bool decided = false;
  for (const auto& stage : storage.stages(experiment_id))
    if (stage.stage == Stage::plan && stage.status == StageStatus::done) {
      plan = plan_from_json(nlohmann::json::parse(stage.decision));
      decided = true;
    }
  if (!decided && e.budget.device_minutes > 0) return;  // shown once calibrated
  for (const auto& line : describe_plan(e, plan)) log("plan: " + line);
}

}  // namespace

Outcome outcome_of(const RunReport& report) {
  if (report.interrupted) return {128 + report.interrupted, "interrupted"};
  if (report.complete && report.trials_failed == 0) return {0, "complete"};
  if (report.budget_spent) return {3, "stopped by its budget"};
  return {4, report.complete ? "complete with failed trials" : "incomplete"};
}

int visible_gpus() {
  return static_cast<int>(torch::cuda::device_count());
}

namespace {

void check_devices(const experiments::ExperimentConfig& e, int gpus) {
  if (e.devices.kind == "cuda" && gpus == 0)
    throw InputError(e.file, "devices.kind: cuda asked for, but no GPU is visible");
  // A trial on the CPU that asked for a GPU would silently be a different experiment.
  if (e.trial.device.rfind("cuda", 0) == 0 && (gpus == 0 || e.devices.kind == "cpu"))
    throw InputError(e.file, fmt::format("device: {} asked for, but {}", e.trial.device,
                                         gpus == 0 ? "no GPU is visible" : "devices.kind is cpu"));
}

std::optional<PlacementChoice> stored_placement(storage::Storage& storage,
                                                std::int64_t experiment_id) {
  for (const auto& stage : storage.stages(experiment_id))
    if (stage.stage == Stage::place && stage.status == StageStatus::done)
      return placement_from_json(nlohmann::json::parse(stage.decision));
  return std::nullopt;
}

// Seconds each layout trains for while the placement is measured.
constexpr double kProbeSeconds = 2;

// The experiment's own layout, else the fastest measured now.
PlacementChoice measured_placement(const experiments::ExperimentConfig& e, int gpus,
                                   const std::string& worker_executable, const Log& log) {
  const int cores = mi::resolve_threads(0);
  if (auto fixed = fixed_placement(e, gpus, cores)) return *fixed;
  const bool on_gpu = e.devices.kind != "cpu" && gpus > 0;
  const auto candidates = candidate_layouts(cores, on_gpu ? gpus : 1, on_gpu);
  log(fmt::format("placing: {:g} s of the base trial at {} layout(s) of slots x threads",
                  kProbeSeconds, candidates.size()));
  return choose_placement(candidates, on_gpu,
                          process_probe(worker_executable, e.trial, on_gpu, kProbeSeconds));
}

}  // namespace

PlacementChoice place_experiment(const experiments::ExperimentConfig& e, int gpus,
                                 storage::Storage* storage, std::int64_t experiment_id,
                                 const std::string& worker_executable, const Log& log) {
  check_devices(e, gpus);
  if (storage && experiment_id > 0)
    if (auto stored = stored_placement(*storage, experiment_id)) return *stored;
  const auto placement = measured_placement(e, gpus, worker_executable, log);
  if (storage && experiment_id > 0 && !placement.measured.empty()) {
    storage::StageDecision decision;
    decision.experiment_id = experiment_id;
    decision.stage = Stage::place;
    decision.decision = placement_json(placement).dump();
    storage->save_decision(decision);
  }
  return placement;
}

std::vector<Slot> machine_slots(const experiments::ExperimentConfig& e, int gpus,
                                const PlacementChoice& p) {
  check_devices(e, gpus);
  return make_slots(p.on_gpu ? "cuda" : "cpu", gpus, p.layout.slots, p.layout.slots);
}

std::vector<Slot> machine_slots(const experiments::ExperimentConfig& e, int gpus) {
  check_devices(e, gpus);
  auto placement = fixed_placement(e, gpus, mi::resolve_threads(0));
  if (!placement) {
    placement = PlacementChoice{};
    placement->on_gpu = e.devices.kind != "cpu" && gpus > 0;
  }
  return machine_slots(e, gpus, *placement);
}

std::string checkpoint_dir(const std::string& database, const std::string& experiment) {
  return (std::filesystem::path(database + ".checkpoints") / experiment).string();
}

std::vector<std::string> describe_plan(const experiments::ExperimentConfig& e,
                                       storage::Storage* storage,
                                       const std::string& worker_executable, const Log& log) {
  const int gpus = visible_gpus();
  const auto found = storage ? storage->find_experiment(e.name) : std::nullopt;
  check_devices(e, gpus);
  // The stored placement, else measured but not stored: a dry run writes nothing.
  auto placement = found ? stored_placement(*storage, found->id) : std::nullopt;
  if (!placement) placement = measured_placement(e, gpus, worker_executable, log);
  std::vector<std::string> lines{"placement: " + describe_placement(*placement, gpus)};
  double seconds_per_epoch = 0;
  if (e.budget.device_minutes > 0) {
    if (found)
      for (const auto& stage : storage->stages(found->id))
        if (stage.stage == Stage::calibrate && stage.status == StageStatus::done)
          seconds_per_epoch = nlohmann::json::parse(stage.decision).value("seconds_per_epoch", 0.0);
    if (seconds_per_epoch <= 0) {
      log("calibrating: one epoch of the base trial, to estimate the cost");
      const auto slots = machine_slots(e, gpus, *placement);
      trials::set_threads(placement->layout.threads);
      auto job = calibration_job(e);
      job.config.device = slots.front().device;
      search::JobResult result;
      result.label = job.label;
      result.summary = trials::run_trial(
          job.config, [&](const trials::EpochRecord& r) { result.epochs.push_back(r); });
      result.status = result.summary.status;
      seconds_per_epoch = measured_seconds_per_epoch(result, slots.front().device_share);
    }
  }
  for (auto& line : describe_plan(e, choose_plan(e, seconds_per_epoch)))
    lines.push_back(std::move(line));
  return lines;
}

void check_data(const experiments::ExperimentConfig& e) {
  trials::Splits splits;
  try {
    splits = trials::load_splits(e.trial.data, e.trial.seed);
  } catch (const InputError& error) {
    throw InputError(e.file, fmt::format("data: {}", error.what()));
  }
  // A TorchScript model meets the data once here, asked for layer-wise wherever a stage will be.
  auto trial = e.trial;
  trial.policy.layerwise = trial.policy.layerwise || e.methods.mi_sgd_layerwise ||
                           (e.lrrt.layerwise && e.lrrt.mode != "off");
  try {
    trials::check_model(trial, splits.train);
  } catch (const InputError& error) {
    throw InputError(e.file, fmt::format("model: {}", error.what()));
  }
}

RunReport run_experiment(const experiments::ExperimentConfig& e, storage::Storage& storage,
                         const EngineOptions& options, const Log& log) {
  const auto experiment_id = open_experiment(e, storage, log);
  const int gpus = options.gpus >= 0 ? options.gpus : visible_gpus();
  const auto placement =
      place_experiment(e, gpus, &storage, experiment_id, options.worker_executable, log);
  const auto slots = machine_slots(e, gpus, placement);
  const bool whole = options.scope == Scope::experiment;
  const auto status_before = storage.find_experiment(e.name)->status;
  storage.set_experiment_status(experiment_id, ExperimentStatus::running);
  log("placement: " + describe_placement(placement, gpus));
  log(fmt::format("{} slot(s): {}", slots.size(), [&] {
    std::string names;
    for (const auto& s : slots) names += (names.empty() ? "" : " ") + s.name;
    return names;
  }()));
  if (whole) log_plan(storage, e, experiment_id, log);

  ProcessRunnerOptions runner_options;
  runner_options.executable = options.worker_executable;
  runner_options.database = e.database;
  runner_options.checkpoint_dir = checkpoint_dir(e.database, e.name);
  runner_options.threads = placement.layout.threads;
  runner_options.heartbeat_seconds = options.heartbeat_seconds;
  ProcessRunner runner(runner_options);

  SchedulerOptions scheduler_options;
  scheduler_options.budget_device_seconds = e.budget.device_minutes * 60;
  scheduler_options.budget_epochs = e.budget.epochs;
  scheduler_options.heartbeat_timeout = options.heartbeat_timeout;
  scheduler_options.tick_seconds = options.tick_seconds;
  Scheduler scheduler(storage, experiment_id,
                      experiment_stages(e, slots.front().device_share, options.scope), slots,
                      runner, scheduler_options, log);
  scheduler.on_stage = [&](const StageEvent& event) {
    if (event.stage == Stage::plan && event.status == StageStatus::done)
      log_plan(storage, e, experiment_id, log);
  };
  std::string last_progress;
  double last_time = -1e9;
  scheduler.on_progress = [&](const Progress& p) {
    const auto text = progress_text(p, e, storage);
    if (text == last_progress || runner.now() - last_time < options.progress_seconds) return;
    last_progress = text;
    last_time = runner.now();
    log(text);
  };
  auto report = scheduler.run();
  // A range test on its own leaves the experiment as unfinished as it was (or done, if it was).
  const auto complete = whole                                     ? ExperimentStatus::done
                        : status_before == ExperimentStatus::done ? ExperimentStatus::done
                                                                  : ExperimentStatus::stopped;
  storage.set_experiment_status(experiment_id, report.interrupted ? ExperimentStatus::interrupted
                                               : report.complete  ? complete
                                                                  : ExperimentStatus::stopped);
  if (report.interrupted)
    log("interrupted: the running trials went back to pending; run the same command again to "
        "resume");
  if (report.budget_spent)
    log(
        fmt::format("budget spent: {} job(s) not started; run again with a larger budget to "
                    "continue",
                    report.trials_not_started));
  if (whole) log_results(storage, experiment_id, log);
  return report;
}

}  // namespace automl::engine
