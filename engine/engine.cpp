#include "engine/engine.h"

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/error.h"
#include "engine/process_runner.h"
#include "engine/queue_runner.h"
#include "engine/stages.h"
#include "engine/worker.h"
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
    const auto config = trials::read_trial_config(t.config);
    if (epochs.empty() || epochs.back().epoch == 0) {
      text += fmt::format("\n  #{} {} on {}: starting", t.id, t.label, t.device);
      continue;
    }
    const auto& last = epochs.back();
    double seconds = 0;
    for (const auto& row : epochs) seconds += row.seconds;
    const double eta = seconds / last.epoch * std::max(0, config.epochs - last.epoch);
    // LRRT and calibration trials never look at the test set.
    const auto test =
        config.evaluate_test ? fmt::format(" test acc {:.4f}", last.test_accuracy) : std::string();
    text += fmt::format("\n  #{} {} on {}: epoch {}/{} train acc {:.4f}{} lr {:.3g} eta {:.0f}s",
                        t.id, t.label, t.device, last.epoch, config.epochs, last.train_accuracy,
                        test, last.lr, eta);
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
  if (report.lost_lease) return {4, "stopped (another coordinator took it over)"};
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

// The layout remembered for `key`, if any; an unreadable memory is said and measured over.
std::optional<PlacementChoice> remembered_placement(const PlacementMemory& memory,
                                                    const nlohmann::json& key, const Log& log) {
  try {
    return memory.recall(key);
  } catch (const std::runtime_error& e) {
    log(fmt::format("placement memory: {}", e.what()));
    return std::nullopt;
  }
}

// The experiment's own layout, else the one remembered for its model on this machine, else the
// fastest measured now (and remembered).
PlacementChoice measured_placement(const experiments::ExperimentConfig& e, int gpus,
                                   const PlacementOptions& options, const Log& log) {
  const int cores = mi::resolve_threads(0);
  if (auto fixed = fixed_placement(e, gpus, cores)) return *fixed;
  const bool on_gpu = e.devices.kind != "cpu" && gpus > 0;
  const auto key = placement_key(e.trial, on_gpu, gpus, cores, TORCH_VERSION);
  const PlacementMemory memory(options.memory_file);
  if (!options.remeasure)
    if (auto remembered = remembered_placement(memory, key, log)) return *remembered;
  const auto candidates = candidate_layouts(cores, on_gpu ? gpus : 1, on_gpu);
  log(fmt::format("placing: {:g} s of the base trial at {} layout(s) of slots x threads",
                  options.probe_seconds, candidates.size()));
  auto placement =
      choose_placement(candidates, on_gpu,
                       process_probe(options.executable, e.trial, on_gpu, options.probe_seconds,
                                     candidates.back().slots));  // candidates grow in slots
  try {
    memory.remember(key, placement);
  } catch (const std::exception& e) {  // a cache it cannot write costs the next run a probe
    log(fmt::format("placement memory: not remembered: {}", e.what()));
  }
  return placement;
}

}  // namespace

PlacementChoice place_experiment(const experiments::ExperimentConfig& e, int gpus,
                                 storage::Storage* storage, std::int64_t experiment_id,
                                 const PlacementOptions& options, const Log& log) {
  check_devices(e, gpus);
  if (storage && experiment_id > 0)
    if (auto stored = stored_placement(*storage, experiment_id)) return *stored;
  auto placement = measured_placement(e, gpus, options, log);
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

namespace {

// FNV-1a: a stable name for a directory (std::hash may differ between builds).
std::uint64_t stable_hash(const std::string& text) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::string file_name_safe(const std::string& text) {
  std::string safe = text;
  for (auto& c : safe)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  return safe;
}

}  // namespace

std::string checkpoint_dir(const experiments::ExperimentConfig& e,
                           const storage::ExperimentRow& row) {
  const auto root = !e.checkpoints.empty()                 ? e.checkpoints
                    : storage::is_postgres_url(e.database) ? std::string("automl-checkpoints")
                                                           : e.database + ".checkpoints";
  const auto identity = fmt::format("{}\n{}\n{}", row.name, row.created_at, row.id);
  return (std::filesystem::path(root) /
          fmt::format("{}-{:08x}", file_name_safe(row.name), stable_hash(identity) >> 32))
      .string();
}

std::vector<std::string> describe_plan(const experiments::ExperimentConfig& e,
                                       storage::Storage* storage,
                                       const PlacementOptions& placement_options, const Log& log) {
  const int gpus = visible_gpus();
  const auto found = storage ? storage->find_experiment(e.name) : std::nullopt;
  check_devices(e, gpus);
  // The stored placement, else remembered or measured, not stored: a dry run writes no trial data.
  auto placement = found ? stored_placement(*storage, found->id) : std::nullopt;
  if (!placement) placement = measured_placement(e, gpus, placement_options, log);
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

namespace {

// The lease outlives a few missed renewals (one per tick) before another coordinator may take
// the experiment over.
double lease_seconds(const EngineOptions& options) {
  return std::max(30.0, 10 * options.tick_seconds);
}

// This machine's slots, one engine-fed worker each.
std::unique_ptr<TrialRunner> local_runner(const experiments::ExperimentConfig& e,
                                          const std::string& checkpoints,
                                          const PlacementChoice& placement,
                                          const EngineOptions& options) {
  ProcessRunnerOptions runner_options;
  runner_options.executable = options.worker_executable;
  runner_options.database = e.database;
  runner_options.checkpoint_dir = checkpoints;
  runner_options.threads = placement.layout.threads;
  runner_options.heartbeat_seconds = options.heartbeat_seconds;
  return std::make_unique<ProcessRunner>(runner_options);
}

// Workers elsewhere, started by `options.launcher`.
std::unique_ptr<Launcher> start_launcher(const experiments::ExperimentConfig& e,
                                         const std::string& checkpoints,
                                         const PlacementChoice& placement,
                                         const EngineOptions& options, const Log& log) {
  WorkerPool pool;
  pool.executable = options.worker_executable;
  pool.database = storage::is_postgres_url(e.database)
                      ? e.database
                      : std::filesystem::absolute(e.database).string();
  pool.experiment = e.name;
  pool.workers = options.workers;
  pool.threads = std::max(1, placement.layout.threads);
  pool.gpus_per_worker = placement.on_gpu ? 1 : 0;
  pool.idle_exit = options.worker_idle_exit;
  // The workers' working directories are theirs: paths they are given are absolute.
  pool.checkpoint_dir = std::filesystem::absolute(checkpoints).string();
  std::unique_ptr<Launcher> launcher;
  if (options.launcher == LauncherKind::slurm) {
    auto slurm = options.slurm;
    if (slurm.output_dir.empty())
      slurm.output_dir = (std::filesystem::path(pool.checkpoint_dir) / "slurm").string();
    launcher = slurm_launcher(slurm, log);
  } else {
    launcher = manual_launcher(log);
  }
  launcher->start(pool);
  return launcher;
}

// True when `identity` ("host:pid", worker_identity) names a process of this host that no longer
// exists.
bool died_here(const std::string& identity) {
  const auto colon = identity.rfind(':');
  if (colon == std::string::npos) return false;
  const int pid = std::atoi(identity.c_str() + colon + 1);
  return pid > 0 && identity == worker_identity(pid) && kill(pid, 0) != 0 && errno == ESRCH;
}

// This coordinator's lease on the experiment while it lives: two coordinators never both
// decide a stage. Given back at the end, however the run ends, unless it was lost.
class Lease {
 public:
  Lease(storage::Storage& storage, const experiments::ExperimentConfig& e,
        std::int64_t experiment_id, double seconds)
      : storage_(storage), experiment_id_(experiment_id), seconds_(seconds) {
    if (renew()) return;
    // A coordinator of this machine that died (kill -9, a crash) cannot renew: its lease need
    // not be waited out.
    if (const auto holder = storage_.lease_holder(experiment_id_); holder && died_here(*holder)) {
      storage_.release_lease(experiment_id_, *holder);
      if (renew()) return;
    }
    throw InputError(e.file, fmt::format("experiment '{}' in {} is being run by another "
                                         "coordinator (it holds the experiment's lease); wait "
                                         "for it to end, or for {:.0f} s after it died",
                                         e.name, e.database, seconds));
  }
  ~Lease() {
    if (lost_) return;
    try {
      storage_.release_lease(experiment_id_, holder_);
    } catch (const std::exception&) {  // it expires by itself
    }
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  bool renew() {
    lost_ = !storage_.acquire_lease(experiment_id_, holder_, seconds_);
    return !lost_;
  }

 private:
  storage::Storage& storage_;
  std::int64_t experiment_id_;
  double seconds_;
  std::string holder_ = worker_identity();
  bool lost_ = false;
};

}  // namespace

RunReport run_experiment(const experiments::ExperimentConfig& e, storage::Storage& storage,
                         const EngineOptions& options, const Log& log) {
  const auto experiment_id = open_experiment(e, storage, log);
  Lease lease(storage, e, experiment_id, lease_seconds(options));
  const int gpus = options.gpus >= 0 ? options.gpus : visible_gpus();
  const auto placement = place_experiment(e, gpus, &storage, experiment_id, options.placement, log);
  const bool local = options.launcher == LauncherKind::local;
  const auto machine = machine_slots(e, gpus, placement);
  const auto slots = local ? machine : queue_slots(options.workers);
  const bool whole = options.scope == Scope::experiment;
  const auto row = *storage.find_experiment(e.name);
  const auto status_before = row.status;
  storage.set_experiment_status(experiment_id, ExperimentStatus::running);
  log("placement: " + describe_placement(placement, gpus));
  if (local)
    log(fmt::format("{} slot(s): {}", slots.size(), [&] {
      std::string names;
      for (const auto& s : slots) names += (names.empty() ? "" : " ") + s.name;
      return names;
    }()));
  if (whole) log_plan(storage, e, experiment_id, log);

  const auto checkpoints = checkpoint_dir(e, row);
  std::unique_ptr<TrialRunner> runner;
  std::unique_ptr<Launcher> launcher;
  if (local) {
    runner = local_runner(e, checkpoints, placement, options);
  } else {
    runner = std::make_unique<QueueRunner>(storage);
    launcher = start_launcher(e, checkpoints, placement, options, log);
  }

  SchedulerOptions scheduler_options;
  scheduler_options.budget_device_seconds = e.budget.device_minutes * 60;
  scheduler_options.budget_epochs = e.budget.epochs;
  scheduler_options.heartbeat_timeout = options.heartbeat_timeout;
  scheduler_options.tick_seconds = options.tick_seconds;
  // The calibration's seconds per epoch are per slot share of this machine's placement, also
  // for workers elsewhere (they run the same layout).
  Scheduler scheduler(storage, experiment_id,
                      experiment_stages(e, machine.front().device_share, options.scope), slots,
                      *runner, scheduler_options, log);
  scheduler.hold_lease = [&] { return lease.renew(); };
  scheduler.on_stage = [&](const StageEvent& event) {
    if (event.stage == Stage::plan && event.status == StageStatus::done)
      log_plan(storage, e, experiment_id, log);
  };
  std::string last_progress;
  double last_time = -1e9;
  scheduler.on_progress = [&](const Progress& p) {
    if (launcher) launcher->keep_up(p.started);
    const auto text = progress_text(p, e, storage);
    if (text == last_progress || runner->now() - last_time < options.progress_seconds) return;
    last_progress = text;
    last_time = runner->now();
    log(text);
  };
  auto report = scheduler.run();
  if (launcher) launcher->stop();
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
