// `automl run` (plan, run or resume an experiment) and the hidden `automl worker` that the
// engine keeps on each slot (and that claims an experiment's trials by itself with --experiment).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "engine/cli/commands.h"
#include "engine/cli/experiment_args.h"
#include "engine/engine.h"
#include "engine/worker.h"
#include "experiments/experiment.h"

namespace automl::cli {
namespace {

void add_worker_command(CLI::App& app) {
  auto options = std::make_shared<engine::WorkerOptions>();
  auto* worker = app.add_subcommand(
      "worker",
      "Run trials of a database: one (--trial), the engine's (--serve-fd), or an experiment's "
      "released ones (--experiment, with --idle-exit until none is left)");
  worker->group("");  // hidden: users run `automl run`
  worker->add_option("--db", options->database, "SQLite file or postgresql:// URL")->required();
  auto* trial = worker->add_option("--trial", options->trial_id, "Trial id to claim, then exit");
  auto* experiment = worker->add_option_function<std::string>(
      "--experiment",
      [options](const std::string& text) {
        const bool id = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (id)
          options->experiment_id = std::stoll(text);
        else
          options->experiment = text;
      },
      "Experiment id or name: claim the trials its coordinator releases");
  auto* serve = worker->add_option("--serve-fd", options->serve_fd,
                                   "Take trials from the engine on this descriptor "
                                   "(\"run <id>\" lines in, \"<id> <exit code>\" lines out)");
  auto* idle = worker->add_option("--idle-exit", options->idle_exit,
                                  "With --experiment: go on claiming; exit once nothing was "
                                  "released for this many seconds (or on SIGTERM, after giving "
                                  "its trial back)");
  worker->add_option("--device", options->device, "cpu | cuda:N");
  worker->add_option("--checkpoints", options->checkpoint_dir,
                     "Checkpoint directory (--experiment: the engine's for it)");
  worker->add_option("--logs", options->log_dir,
                     "Each trial's output goes to <dir>/trial-<id>.log (--experiment: "
                     "<checkpoints>/logs)");
  worker->add_option("--threads", options->threads, "LibTorch threads");
  worker->add_option("--heartbeat", options->heartbeat_seconds, "Seconds between heartbeats");
  trial->excludes(serve);
  experiment->excludes(serve);
  idle->needs(experiment)->excludes(trial);
  worker->callback([options] {
    if (options->trial_id == 0 && options->serve_fd < 0 && options->experiment_id == 0 &&
        options->experiment.empty())
      throw CLI::RequiredError("one of --trial, --experiment, --serve-fd");
    std::exit(engine::run_worker(*options));
  });
}

}  // namespace

void add_run_commands(CLI::App& app) {
  struct Args {
    ExperimentArgs experiment;
    bool dry_run = false;
  };
  auto args = std::make_shared<Args>();
  auto* run = app.add_subcommand(
      "run", "Run an experiment (YAML) and record it in the database; run it again to resume it");
  add_experiment_options(*run, args->experiment);
  run->add_flag("--dry-run", args->dry_run, "Show the plan and its cost; run nothing");
  run->callback([args] {
    const auto experiment = load_checked_experiment(args->experiment);
    const auto log = [](const std::string& line) { std::cout << line << std::endl; };
    if (args->dry_run) {
      const auto storage = open_existing_database(experiment);
      for (const auto& line : engine::describe_plan(experiment, storage.get(),
                                                    placement_options(args->experiment), log))
        std::cout << line << "\n";
      return;
    }
    auto storage = open_database(experiment);
    const auto report =
        engine::run_experiment(experiment, *storage, engine_options(args->experiment), log);
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
