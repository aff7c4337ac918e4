// `automl run` (plan, run or resume an experiment) and the hidden `automl worker` that the
// engine starts once per trial.
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "engine/cli/commands.h"
#include "engine/engine.h"
#include "engine/worker.h"
#include "experiments/experiment.h"

namespace automl::cli {
namespace {

// This executable, so the engine can start workers of the same build.
std::string own_executable() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw std::runtime_error("cannot find the automl executable (/proc/self/exe)");
  return path.string();
}

void add_worker_command(CLI::App& app) {
  auto options = std::make_shared<engine::WorkerOptions>();
  auto* worker = app.add_subcommand("worker", "Run one trial of the database (the engine's)");
  worker->group("");  // hidden: users run `automl run`
  worker->add_option("--db", options->database, "SQLite database")->required();
  worker->add_option("--trial", options->trial_id, "Trial id to claim");
  worker->add_option("--experiment", options->experiment_id,
                     "Experiment id (claim its oldest pending trial)");
  worker->add_option("--device", options->device, "cpu | cuda:N");
  worker->add_option("--checkpoints", options->checkpoint_dir, "Checkpoint directory");
  worker->add_option("--threads", options->threads, "LibTorch threads");
  worker->add_option("--heartbeat", options->heartbeat_seconds, "Seconds between heartbeats");
  worker->callback([options] { std::exit(engine::run_worker(*options)); });
}

}  // namespace

void add_run_commands(CLI::App& app) {
  struct Args {
    std::string experiment;
    std::string database;
    int threads = -1;
    bool dry_run = false;
    double heartbeat_timeout = 20;
  };
  auto args = std::make_shared<Args>();
  auto* run = app.add_subcommand(
      "run", "Run an experiment (YAML) and record it in the database; run it again to resume it");
  run->add_option("experiment", args->experiment, "Experiment file, e.g. experiments/smoke.yaml")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--db", args->database,
                  "SQLite database to write (default: the experiment's `database` key)");
  run->add_option("--threads", args->threads,
                  "LibTorch threads per worker (default: the experiment's `threads`, else the "
                  "cores shared among the slots)");
  run->add_flag("--dry-run", args->dry_run, "Show the plan and its cost; run nothing");
  run->add_option("--heartbeat-timeout", args->heartbeat_timeout,
                  "Seconds without a heartbeat after which a running trial is run again")
      ->capture_default_str();
  run->callback([args] {
    auto experiment = experiments::load_experiment(args->experiment);
    if (!args->database.empty()) experiment.database = args->database;
    if (args->threads >= 0) experiment.threads = args->threads;
    const auto log = [](const std::string& line) { std::cout << line << std::endl; };
    engine::check_data(experiment);  // before anything is written
    if (args->dry_run) {
      std::unique_ptr<storage::Storage> storage;
      if (std::filesystem::exists(experiment.database))
        storage = storage::open_sqlite(experiment.database);
      for (const auto& line : engine::describe_plan(experiment, storage.get(), log))
        std::cout << line << "\n";
      return;
    }
    auto storage = storage::open_sqlite(experiment.database);
    engine::EngineOptions options;
    options.worker_executable = own_executable();
    options.heartbeat_timeout = args->heartbeat_timeout;
    options.heartbeat_seconds = std::max(0.2, args->heartbeat_timeout / 10);
    const auto report = engine::run_experiment(experiment, *storage, options, log);
    const auto outcome = engine::outcome_of(report);
    std::cout << fmt::format(
        "experiment '{}' {}: {} trial(s) done, {} crashed, {} failed; {:.1f} device-s in all, "
        "{:.1f} s this run; recorded in {}\n",
        experiment.name, outcome.word, report.trials_done, report.trials_crashed,
        report.trials_failed, report.device_seconds, report.seconds, experiment.database);
    storage.reset();
    std::cout.flush();
    if (outcome.exit_code != 0) std::exit(outcome.exit_code);
  });
  add_worker_command(app);
}

}  // namespace automl::cli
