#include "engine/launcher.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

extern char** environ;

namespace automl::engine {
namespace {

// A word for a POSIX shell: as it is when it is safe, else single-quoted.
std::string shell_word(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789@%+=:,./_-") == std::string::npos)
    return word;
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string shell_line(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) line += (line.empty() ? "" : " ") + shell_word(w);
  return line;
}

struct CommandResult {
  int status = 0;      // the exit code; -1 when it could not be started or was killed
  std::string output;  // stdout and stderr together
};

// Runs `argv` (found on PATH) to its end and returns what it printed.
CommandResult run_command(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error(std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  std::vector<char*> args;
  std::vector<std::string> copies = argv;
  for (auto& a : copies) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  CommandResult result;
  if (spawned != 0) {
    close(pipe_fds[0]);
    return {-1, fmt::format("cannot run {}: {}", argv[0], std::strerror(spawned))};
  }
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    result.output.append(buffer, static_cast<std::size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string replaced(std::string text, const std::string& key, const std::string& value) {
  const std::string placeholder = "{{" + key + "}}";
  for (auto at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + value.size()))
    text.replace(at, placeholder.size(), value);
  return text;
}

class ManualLauncher final : public Launcher {
 public:
  explicit ManualLauncher(LaunchLog log) : log_(std::move(log)) {}
  void start(const WorkerPool& pool) override {
    log_(
        fmt::format("launcher none: start up to {} worker(s), on any host that reaches the "
                    "database, each with:\n  {}",
                    pool.workers, shell_line(pool_worker_command(pool))));
  }

 private:
  LaunchLog log_;
};

class SlurmLauncher final : public Launcher {
 public:
  SlurmLauncher(SlurmOptions options, LaunchLog log)
      : options_(std::move(options)), log_(std::move(log)) {}
  ~SlurmLauncher() override {
    try {
      stop();                          // a run that ended by an exception leaves no array behind
    } catch (const std::exception&) {  // scancel could not even start: nothing more to do
    }
  }

  void start(const WorkerPool& pool) override {
    pool_ = pool;
    submit(pool.workers);
  }

  void keep_up(int wanted) override {
    const auto now = std::chrono::steady_clock::now();
    if (jobs_.empty() ||
        std::chrono::duration<double>(now - last_check_).count() < options_.check_seconds)
      return;
    last_check_ = now;
    const int target = std::min(wanted, pool_.workers);
    const int alive = alive_tasks();
    if (alive < 0 || alive >= target) return;
    log_(
        fmt::format("launcher slurm: {} worker(s) alive for {} trial(s) released or running: "
                    "submitting {} more",
                    alive, target, target - alive));
    submit(target - alive);
  }

  void stop() override {
    if (jobs_.empty()) return;
    const auto jobs = fmt::format("{}", fmt::join(jobs_, " "));
    std::vector<std::string> argv{"scancel"};
    argv.insert(argv.end(), jobs_.begin(), jobs_.end());
    const auto result = run_command(argv);
    log_(result.status == 0
             ? fmt::format("launcher slurm: cancelled what was left of job(s) {}", jobs)
             : fmt::format("launcher slurm: scancel {} failed: {}", jobs, result.output));
    jobs_.clear();
  }

 private:
  // Submits an array of `count` workers.
  void submit(int count) {
    auto pool = pool_;
    pool.workers = count;
    const auto dir = std::filesystem::path(options_.output_dir);
    std::filesystem::create_directories(dir);
    const auto script =
        (dir / fmt::format("workers-{}-{}.sbatch", getpid(), jobs_.size() + 1)).string();
    std::ofstream(script) << slurm_job_script(options_, pool);
    std::vector<std::string> argv{"sbatch", "--parsable"};
    argv.insert(argv.end(), options_.sbatch_arguments.begin(), options_.sbatch_arguments.end());
    argv.push_back(script);
    const auto result = run_command(argv);
    if (result.status != 0)
      throw InputError("--launcher slurm", fmt::format("{} failed ({}): {}", shell_line(argv),
                                                       result.status, result.output));
    // --parsable prints "<job id>[;<cluster>]".
    jobs_.push_back(result.output.substr(0, result.output.find_first_of(";\n")));
    log_(fmt::format("launcher slurm: job array {} of {} worker(s) submitted ({}; logs in {})",
                     jobs_.back(), count, script, dir.string()));
  }

  // The tasks of our arrays that are pending or running (squeue lists no ended task by
  // default); -1 when squeue cannot tell.
  int alive_tasks() {
    const auto result = run_command(
        {"squeue", "-h", "-r", "-j", fmt::format("{}", fmt::join(jobs_, ",")), "-o", "%T"});
    if (result.status != 0) {
      log_("launcher slurm: squeue failed, workers not checked: " + result.output);
      return -1;
    }
    int alive = 0;
    std::istringstream lines(result.output);
    for (std::string state; std::getline(lines, state);)
      alive += !state.empty() && state != "COMPLETED" && state != "CANCELLED" &&
               state != "FAILED" && state != "TIMEOUT";
    return alive;
  }

  SlurmOptions options_;
  LaunchLog log_;
  WorkerPool pool_;
  std::vector<std::string> jobs_;
  std::chrono::steady_clock::time_point last_check_ = std::chrono::steady_clock::now();
};

}  // namespace

std::vector<std::string> pool_worker_command(const WorkerPool& pool) {
  std::vector<std::string> argv{pool.executable, "worker",
                                "--db",          pool.database,
                                "--experiment",  pool.experiment,
                                "--idle-exit",   fmt::format("{:g}", pool.idle_exit),
                                "--threads",     std::to_string(pool.threads),
                                "--device",      pool.gpus_per_worker > 0 ? "cuda:0" : "cpu"};
  if (!pool.checkpoint_dir.empty()) {
    argv.emplace_back("--checkpoints");
    argv.push_back(pool.checkpoint_dir);
  }
  return argv;
}

const std::string& default_slurm_template() {
  static const std::string text = R"(#!/bin/bash
#SBATCH --job-name={{job_name}}
#SBATCH --array={{array}}
#SBATCH --ntasks=1
#SBATCH --cpus-per-task={{cpus_per_task}}
{{gpus_line}}#SBATCH --output={{output}}
# One automl worker per array task: it claims the experiment's released trials from the
# database until none is left for its idle time, then exits. SIGTERM (scancel) makes it give its
# trial back, checkpointed, before it goes.
exec {{worker_command}}
)";
  return text;
}

std::string slurm_job_script(const SlurmOptions& options, const WorkerPool& pool) {
  auto script =
      options.job_script_template.empty() ? default_slurm_template() : options.job_script_template;
  const auto last = std::to_string(std::max(0, pool.workers - 1));
  const auto array =
      options.max_running > 0 ? fmt::format("0-{}%{}", last, options.max_running) : "0-" + last;
  script = replaced(script, "job_name", "automl-" + pool.experiment);
  script = replaced(script, "array", array);
  script = replaced(script, "cpus_per_task", std::to_string(std::max(1, pool.threads)));
  script = replaced(script, "gpus_line",
                    pool.gpus_per_worker > 0
                        ? fmt::format("#SBATCH --gpus-per-task={}\n", pool.gpus_per_worker)
                        : std::string());
  script = replaced(script, "output",
                    (std::filesystem::path(options.output_dir) / "slurm-%A_%a.out").string());
  return replaced(script, "worker_command", shell_line(pool_worker_command(pool)));
}

std::unique_ptr<Launcher> manual_launcher(LaunchLog log) {
  return std::make_unique<ManualLauncher>(std::move(log));
}

std::unique_ptr<Launcher> slurm_launcher(SlurmOptions options, LaunchLog log) {
  return std::make_unique<SlurmLauncher>(std::move(options), std::move(log));
}

}  // namespace automl::engine
