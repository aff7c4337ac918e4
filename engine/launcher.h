#pragma once
// Who starts the workers of a run whose trials go through the database (engine/queue_runner.h):
// nobody (the user starts `automl worker` wherever they like), or a batch scheduler (Slurm: one
// job array of workers). The launcher only starts and cancels; the coordinator watches the
// workers through the database (heartbeats), never through the batch scheduler's state.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/vocabulary.h"

namespace automl::engine {

// Where the trials of `automl run` run.
enum class LauncherKind {
  local,  // this machine's slots, one engine-fed worker each (engine/process_runner.h)
  none,   // workers the user starts, anywhere, against the same database
  slurm,  // a Slurm job array of workers, submitted with sbatch and cancelled at the end
};

// The workers to start, all alike.
struct WorkerPool {
  std::string executable;  // the automl binary, as the workers' hosts see it
  std::string database;    // URL or path, as the workers' hosts see it
  std::string experiment;
  int workers = 1;             // processes, each running one trial at a time
  int threads = 1;             // LibTorch threads per worker (and Slurm CPUs per task)
  int gpus_per_worker = 0;     // 0: the workers train on the CPU
  double idle_exit = 120;      // a worker with nothing to claim this long exits
  std::string checkpoint_dir;  // shared by all hosts; empty: the workers' default
};

// `automl worker` for one member of `pool` (argv[0] first).
std::vector<std::string> pool_worker_command(const WorkerPool& pool);

class Launcher {
 public:
  virtual ~Launcher() = default;
  virtual void start(const WorkerPool& pool) = 0;
  // Called every tick with how many workers the run could use now (trials released or
  // running): a launcher that can tell how many of its workers are still alive starts more
  // when fewer are (workers exit when idle, or are cancelled), up to the pool's size.
  virtual void keep_up(int wanted) {}
  // Cancels what is left of the workers it started (the run has ended).
  virtual void stop() {}
};

using LaunchLog = std::function<void(const std::string&)>;

// Starts nothing: logs the command the user runs on each host.
std::unique_ptr<Launcher> manual_launcher(LaunchLog log);

struct SlurmOptions {
  std::string job_script_template;            // empty: the built-in one (default_slurm_template())
  std::vector<std::string> sbatch_arguments;  // added to sbatch's command line, e.g. -p gpu
  int max_running = 0;                        // the array's %K; 0 = all at once
  std::string output_dir;                     // the tasks' logs (slurm-%A_%a.out)
  double check_seconds = 30;                  // keep_up asks squeue at most this often
};

// Submits the pool as one array (`sbatch --parsable --array=0-N%K`); when squeue shows fewer of
// its tasks pending or running than the run could use (keep_up), submits another array of the
// difference; `scancel`s them all at the end. The job script is the template with {{job_name}},
// {{array}}, {{cpus_per_task}},
// {{gpus_line}}, {{output}} and {{worker_command}} filled in.
std::unique_ptr<Launcher> slurm_launcher(SlurmOptions options, LaunchLog log);
const std::string& default_slurm_template();
// The job script for `pool` (what slurm_launcher submits), for tests and `--dry-run`.
std::string slurm_job_script(const SlurmOptions& options, const WorkerPool& pool);

}  // namespace automl::engine

namespace automl {
template <>
struct Names<engine::LauncherKind> {
  static constexpr std::string_view kind = "launcher";
  static constexpr std::array<std::string_view, 3> text = {"local", "none", "slurm"};
};
}  // namespace automl
