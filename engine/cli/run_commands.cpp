#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <thread>

#include "engine/cli/commands.h"
#include "engine/engine.h"
#include "experiments/experiment.h"
#include "trials/trial.h"

namespace automl::cli {

void apply_thread_setting(int threads) {
  trials::set_threads(threads);
}

void add_run_commands(CLI::App& app) {
  struct Args {
    std::string experiment;
    std::string database;
    int threads = -1;
    bool dry_run = false;
  };
  auto args = std::make_shared<Args>();
  auto* run = app.add_subcommand("run", "Run an experiment (YAML) and record it in the database");
  run->add_option("experiment", args->experiment, "Experiment file, e.g. experiments/smoke.yaml")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--db", args->database,
                  "SQLite database to write (default: the experiment's `database` key)");
  run->add_option("--threads", args->threads,
                  "LibTorch threads (default: the experiment's `threads`, else one per core)");
  run->add_flag("--dry-run", args->dry_run, "Show the plan and its cost; run nothing");
  run->callback([args] {
    auto experiment = experiments::load_experiment(args->experiment);
    if (!args->database.empty()) experiment.database = args->database;
    if (args->dry_run) {
      for (const auto& line : engine::describe_plan(experiment)) std::cout << line << "\n";
      return;
    }
    apply_thread_setting(args->threads >= 0 ? args->threads : experiment.threads);
    auto storage = storage::open_sqlite(experiment.database);
    const auto report = engine::run_experiment(
        experiment, *storage, [](const std::string& line) { std::cout << line << "\n"; });
    std::cout << fmt::format("experiment '{}' done: {} trial(s) in {:.1f}s, recorded in {}\n",
                             experiment.name, report.trials_done, report.seconds,
                             experiment.database);
  });
}

}  // namespace automl::cli
