#include "engine/cli/experiment_args.h"

#include "engine/cli/files.h"
#include "storage/storage.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace automl::cli {

void add_experiment_options(CLI::App& command, ExperimentArgs& args) {
  command.add_option("experiment", args.experiment, "Experiment file, e.g. experiments/smoke.yaml")
      ->required()
      ->check(CLI::ExistingFile);
  command.add_option("--db", args.database,
                     "SQLite file or postgresql:// URL to write (default: the experiment's "
                     "`database` key)");
  command.add_option("--threads", args.threads,
                     "LibTorch threads per worker (default: the experiment's `threads`, else the "
                     "cores shared among the slots)");
  command
      .add_option("--heartbeat-timeout", args.heartbeat_timeout,
                  "Seconds without a heartbeat after which a running trial is run again")
      ->capture_default_str();
  command
      .add_option("--launcher", args.launcher,
                  "Where the trials run: local (this machine's slots), none (workers you start: "
                  "`automl worker --db URL --experiment NAME` on any host), slurm (a job array of "
                  "workers)")
      ->check(CLI::IsMember(all_names<engine::LauncherKind>()))
      ->capture_default_str();
  command
      .add_option("--workers", args.workers,
                  "none, slurm: how many workers (trials released to them at a time)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  command
      .add_option("--worker-idle-exit", args.worker_idle_exit,
                  "slurm: a worker with nothing to claim for this many seconds exits")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command
      .add_option("--slurm-template", args.slurm_template,
                  "slurm: job script template ({{array}}, {{cpus_per_task}}, {{gpus_line}}, "
                  "{{output}}, {{job_name}}, {{worker_command}}); default: docs/scale-out.md")
      ->check(CLI::ExistingFile);
  command.add_option(
      "--sbatch-arg", args.sbatch_arguments,
      "slurm: an argument for sbatch (repeat it), e.g. --sbatch-arg=--partition=gpu");
  command
      .add_option("--slurm-max-running", args.slurm_max_running,
                  "slurm: at most this many array tasks at once (the array's %K; 0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  command.add_flag("--measure-placement", args.measure_placement,
                   "Measure the slots x threads layout even if this machine remembers one for "
                   "the experiment's model and batch ($AUTOML_CACHE_DIR/placements.json, else "
                   "~/.cache/automl/), and remember the new one");
}

std::unique_ptr<storage::Storage> open_database(const experiments::ExperimentConfig& experiment) {
  return storage::open_storage(experiment.database);
}

std::unique_ptr<storage::Storage> open_existing_database(
    const experiments::ExperimentConfig& experiment) {
  if (!storage::is_postgres_url(experiment.database) &&
      !std::filesystem::exists(experiment.database))
    return nullptr;
  return storage::open_storage(experiment.database, storage::Access::read_only);
}

experiments::ExperimentConfig load_checked_experiment(const ExperimentArgs& args) {
  auto experiment = experiments::load_experiment(args.experiment);
  if (!args.database.empty()) experiment.database = args.database;
  if (args.threads >= 0) experiment.threads = args.threads;
  engine::check_data(experiment);  // before anything is written
  return experiment;
}

engine::EngineOptions engine_options(const ExperimentArgs& args) {
  engine::EngineOptions options;
  options.worker_executable = own_executable();
  options.placement = placement_options(args);
  options.heartbeat_timeout = args.heartbeat_timeout;
  options.heartbeat_seconds = std::max(0.2, args.heartbeat_timeout / 10);
  options.launcher = parse<engine::LauncherKind>(args.launcher);
  options.workers = args.workers;
  options.worker_idle_exit = args.worker_idle_exit;
  options.slurm.sbatch_arguments = args.sbatch_arguments;
  options.slurm.max_running = args.slurm_max_running;
  if (!args.slurm_template.empty())
    options.slurm.job_script_template =
        read_file(args.slurm_template, "the Slurm job script template");
  return options;
}

engine::PlacementOptions placement_options(const ExperimentArgs& args) {
  engine::PlacementOptions options;
  options.executable = own_executable();
  options.memory_file = engine::PlacementMemory::default_file();
  options.remeasure = args.measure_placement;
  return options;
}

std::string own_executable() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw std::runtime_error("cannot find the automl executable (/proc/self/exe)");
  return path.string();
}

}  // namespace automl::cli
