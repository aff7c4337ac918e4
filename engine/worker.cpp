#include "engine/worker.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "common/error.h"
#include "engine/data_cache.h"
#include "engine/engine.h"
#include "engine/records.h"
#include "engine/stop_signals.h"
#include "experiments/experiment.h"
#include "storage/storage.h"
#include "trials/config_json.h"
#include "trials/trial.h"

namespace automl::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Sends heartbeats for one trial from its own thread, on a connection of its own (the worker's
// second one, kept across trials: opening SQLite checks the whole file) while the trial trains.
// A worker that chose its trial itself (no engine times it) also records the trial's
// device-seconds with each heartbeat, and the rest when the trial ends, so that a coordinator's
// budget sees a running trial's cost, and a worker that dies leaves its cost recorded up to its
// last heartbeat.
class Heartbeat {
 public:
  Heartbeat(storage::Storage& storage, std::int64_t trial_id, std::string worker, double seconds,
            bool records_device_seconds)
      : storage_(storage),
        trial_id_(trial_id),
        records_(records_device_seconds),
        thread_([this, worker = std::move(worker), seconds] {
          std::unique_lock<std::mutex> lock(mutex_);
          while (!stop_) {
            wake_.wait_for(lock, std::chrono::duration<double>(seconds));
            if (stop_) break;
            try {
              if (!storage_.heartbeat(trial_id_, worker)) lost_ = true;
              if (!lost_) record_device_seconds();
            } catch (const std::exception& e) {
              std::cerr << "heartbeat: " << e.what() << "\n";  // try again next time
            }
          }
        }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    try {
      record_device_seconds();
    } catch (const std::exception& e) {
      std::cerr << "trial " << trial_id_ << ": device-seconds not recorded: " << e.what() << "\n";
    }
  }
  bool lost() const { return lost_; }

 private:
  void record_device_seconds() {
    if (!records_) return;
    const auto now = Clock::now();
    storage_.add_device_seconds(trial_id_, std::chrono::duration<double>(now - counted_).count());
    counted_ = now;
  }

  storage::Storage& storage_;
  std::int64_t trial_id_;
  bool records_;
  Clock::time_point counted_ = Clock::now();
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

void flush_output() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
}

// While it lives, this process's stdout and stderr go to the trial's log, appended (each
// attempt adds to it), as they did when every trial had a process of its own.
class TrialLog {
 public:
  TrialLog(const std::string& dir, std::int64_t trial_id) {
    if (dir.empty()) return;
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    const auto path = (std::filesystem::path(dir) / fmt::format("trial-{}.log", trial_id)).string();
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;  // the worker's own output keeps it
    flush_output();
    saved_out_ = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    saved_err_ = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~TrialLog() {
    if (saved_out_ < 0) return;
    flush_output();
    dup2(saved_out_, STDOUT_FILENO);
    dup2(saved_err_, STDERR_FILENO);
    close(saved_out_);
    close(saved_err_);
  }
  TrialLog(const TrialLog&) = delete;
  TrialLog& operator=(const TrialLog&) = delete;

 private:
  int saved_out_ = -1, saved_err_ = -1;
};

// What stays loaded across the trials of one worker process.
class Worker {
 public:
  explicit Worker(const WorkerOptions& options)
      : options_(options),
        storage_(storage::open_storage(options.database)),
        heartbeat_storage_(storage::open_storage(options.database)),
        identity_(worker_identity()) {
    trials::set_threads(options.threads);  // once: the same for every trial, as in a fresh one
    if (!options.checkpoint_dir.empty())
      std::filesystem::create_directories(options.checkpoint_dir);
  }

  // Claims what `request` asks for and runs it; `claimed` is the trial's id (0 if none).
  int run(const TrialRequest& request, TrialSource& source, std::int64_t& claimed) {
    std::optional<storage::TrialRow> trial;
    try {
      trial = storage_->claim_trial(
          {request.experiment_id, request.trial_id, identity_, options_.device});
    } catch (const storage::StorageError& e) {
      std::cerr << "claim: " << e.what() << "\n";
      return kWorkerStorageError;
    }
    if (!trial) return kWorkerNothing;
    claimed = trial->id;
    TrialLog log(options_.log_dir, trial->id);
    const bool self_fed = request.trial_id == 0;
    trials::TrialConfig config;
    try {
      config = trials::read_trial_config(trial->config);
    } catch (const trials::UnreadableConfig& e) {
      return refuse(*trial, e.what(), self_fed);
    }
    config.device = options_.device;
    return run_claimed(*trial, config, source, self_fed);
  }

 private:
  // A configuration this build cannot read. A worker that chose the trial itself may be of
  // another release than the coordinator: it gives the trial back for another worker and
  // stops. The engine's own workers are its release: the configuration is broken.
  int refuse(const storage::TrialRow& trial, const std::string& why, bool self_fed) {
    const auto message = fmt::format("worker {} (trial config format {}) cannot run trial {}: {}",
                                     identity_, trials::kTrialConfigFormat, trial.id, why);
    std::cerr << message << "\n";
    try {
      if (self_fed) {
        storage_->return_trial(trial.id, message);
        return kWorkerRefused;
      }
      storage_->finish_trial(trial.id, TrialStatus::failed, message, 0, "{}");
      return kWorkerFailed;
    } catch (const storage::StorageError& e) {
      std::cerr << "trial " << trial.id << ": " << e.what() << "\n";
      return kWorkerStorageError;
    }
  }

  int run_claimed(const storage::TrialRow& trial, const trials::TrialConfig& config,
                  TrialSource& source, bool self_fed) {
    trials::TrialRuntime runtime;
    if (!options_.checkpoint_dir.empty())
      runtime.checkpoint_path = checkpoint_path(options_.checkpoint_dir, trial.id);
    runtime.load_data = cache_.loader();
    Heartbeat heartbeat(*heartbeat_storage_, trial.id, identity_, options_.heartbeat_seconds,
                        /*records_device_seconds=*/self_fed);
    runtime.should_stop = [&] { return heartbeat.lost() || source.stopping(); };
    const auto sink = [&](const trials::EpochRecord& record) {
      if (heartbeat.lost()) throw std::runtime_error("the trial was requeued while it ran");
      storage_->delete_epochs_after(trial.id, record.epoch - 1);
      storage_->add_epoch(epoch_row(trial.id, record));
    };
    try {
      // Without a checkpoint the trial starts over: its earlier epochs (a run that died) go.
      // With one, it resumes after the saved epoch; an epoch committed after that save is run
      // again and replaces its row.
      if (runtime.checkpoint_path.empty() || !std::filesystem::exists(runtime.checkpoint_path))
        storage_->delete_epochs_after(trial.id, -1);
      const auto summary = trials::run_trial(config, sink, runtime);
      if (heartbeat.lost()) return kWorkerLost;
      if (summary.stopped) {
        // Asked to stop (SIGTERM): the trial goes back, checkpointed, without costing it an
        // attempt.
        storage_->return_trial(trial.id, "its worker was stopped");
        return kWorkerLost;
      }
      storage_->finish_trial(trial.id, summary.status, summary.reason, summary.seconds,
                             summary_text(summary));
    } catch (const storage::StorageError& e) {
      // The database, not the trial, failed (full disk, corruption): the engine runs the trial
      // again or stops with the error; the trial is never marked failed for it.
      std::cerr << "trial " << trial.id << ": " << e.what() << "\n";
      return kWorkerStorageError;
    } catch (const std::exception& e) {
      if (heartbeat.lost()) return kWorkerLost;
      std::cerr << "trial " << trial.id << " failed: " << e.what() << "\n";
      try {
        storage_->finish_trial(trial.id, TrialStatus::failed, e.what(), 0, "{}");
      } catch (const storage::StorageError& error) {
        std::cerr << "trial " << trial.id << ": " << error.what() << "\n";
        return kWorkerStorageError;
      }
      return kWorkerFailed;
    }
    if (!runtime.checkpoint_path.empty()) std::filesystem::remove(runtime.checkpoint_path);
    return kWorkerFinished;
  }

  const WorkerOptions& options_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<storage::Storage> heartbeat_storage_;
  std::string identity_;
  DataCache cache_;
};

// Reads "run <id>" lines and answers "<id> <WorkerExit>" on one descriptor (a socket).
class ChannelSource final : public TrialSource {
 public:
  explicit ChannelSource(int fd) : fd_(fd) {
    std::signal(SIGPIPE, SIG_IGN);  // an engine that went away is an EOF or an error, not death
  }

  std::optional<TrialRequest> next() override {
    std::string line;
    while (read_line(line)) {
      std::istringstream in(line);
      std::string verb;
      std::int64_t id = 0;
      if (in >> verb >> id && verb == "run" && id > 0) return TrialRequest{id, 0};
      std::cerr << "worker: ignored '" << line << "' from the engine\n";
    }
    return std::nullopt;
  }

  void report(const TrialRequest& request, std::int64_t, int exit) override {
    const auto answer = fmt::format("{} {}\n", request.trial_id, exit);
    for (std::size_t sent = 0; sent < answer.size();) {
      const auto n = write(fd_, answer.data() + sent, answer.size() - sent);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the engine is gone; the next read ends the loop
      sent += static_cast<std::size_t>(n);
    }
  }

 private:
  bool read_line(std::string& line) {
    for (;;) {
      if (const auto end = buffer_.find('\n'); end != std::string::npos) {
        line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return true;
      }
      char chunk[256];
      const auto n = read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  int fd_;
  std::string buffer_;
};

// Claims the experiment's oldest queued trial until none was queued for `idle_exit` seconds.
class DatabaseSource final : public TrialSource {
 public:
  DatabaseSource(std::int64_t experiment_id, double idle_exit)
      : experiment_id_(experiment_id), idle_exit_(idle_exit) {}

  std::optional<TrialRequest> next() override {
    if (idle_ && !wait_for_work()) return std::nullopt;
    if (stopping()) return std::nullopt;
    return TrialRequest{0, experiment_id_};
  }

  void report(const TrialRequest&, std::int64_t, int exit) override {
    idle_ = exit == kWorkerNothing;
    if (!idle_) idle_since_ = Clock::now();
  }

  bool stopping() override { return signals_.received() != 0; }

 private:
  // Sleeps until the next poll; false once the worker has been idle for idle_exit seconds.
  bool wait_for_work() {
    constexpr double kPollSeconds = 0.5;
    const double idle = seconds_since(idle_since_);
    if (idle >= idle_exit_) return false;
    const auto wake = Clock::now() +
                      std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(std::min(kPollSeconds, idle_exit_ - idle)));
    while (Clock::now() < wake && !stopping())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return true;
  }

  std::int64_t experiment_id_;
  double idle_exit_;
  bool idle_ = false;
  Clock::time_point idle_since_ = Clock::now();
  StopSignals signals_;
};

class SingleSource final : public TrialSource {
 public:
  explicit SingleSource(TrialRequest request) : request_(request) {}
  std::optional<TrialRequest> next() override {
    if (done_) return std::nullopt;
    done_ = true;
    return request_;
  }
  void report(const TrialRequest&, std::int64_t, int) override {}

 private:
  TrialRequest request_;
  bool done_ = false;
};

// The experiment a claiming worker serves, by id or by name, and with it the engine's
// checkpoint and log places for it unless the options name others.
WorkerOptions resolved(WorkerOptions options) {
  if (options.trial_id > 0 || options.serve_fd >= 0) return options;
  if (options.experiment_id == 0 && options.experiment.empty())
    throw InputError("automl worker: give --trial, --experiment or --serve-fd");
  auto storage = storage::open_storage(options.database);
  const auto find = [&]() -> std::optional<storage::ExperimentRow> {
    for (const auto& e : storage->experiments())
      if (e.id == options.experiment_id ||
          (options.experiment_id == 0 && e.name == options.experiment))
        return e;
    return std::nullopt;
  };
  auto found = find();
  // Workers may start before their coordinator has created the experiment: until then they
  // are idle.
  for (const auto since = Clock::now(); !found && seconds_since(since) < options.idle_exit;
       found = find())
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  if (!found)
    throw InputError(options.database,
                     fmt::format("no experiment {} in it",
                                 options.experiment_id > 0 ? std::to_string(options.experiment_id)
                                                           : "'" + options.experiment + "'"));
  options.experiment_id = found->id;
  if (options.checkpoint_dir.empty()) {
    auto experiment = experiments::parse_experiment(
        found->config, fmt::format("{} (experiment '{}')", options.database, found->name),
        {/*check_data=*/false});
    experiment.database = options.database;  // where this worker found it
    options.checkpoint_dir = engine::checkpoint_dir(experiment, *found);
  }
  if (options.log_dir.empty())
    options.log_dir = (std::filesystem::path(options.checkpoint_dir) / "logs").string();
  return options;
}

// Replaces this process with a fresh run of the same command line (a claiming worker after a
// trial threw: see worker.h); returns only if that fails.
void restart_process() {
  std::ifstream file("/proc/self/cmdline", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(file)), {});
  std::vector<std::string> args;
  for (std::size_t at = 0; at < text.size();) {
    const auto end = text.find('\0', at);
    args.push_back(text.substr(at, end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  flush_output();
  execv("/proc/self/exe", argv.data());
  std::cerr << "worker: cannot restart itself: " << std::strerror(errno) << "\n";
}

}  // namespace

std::unique_ptr<TrialSource> channel_source(int fd) {
  return std::make_unique<ChannelSource>(fd);
}

std::unique_ptr<TrialSource> database_source(std::int64_t experiment_id, double idle_exit) {
  return std::make_unique<DatabaseSource>(experiment_id, idle_exit);
}

std::unique_ptr<TrialSource> single_source(TrialRequest request) {
  return std::make_unique<SingleSource>(request);
}

int run_worker_loop(const WorkerOptions& options, TrialSource& source) {
  Worker worker(options);
  int last = kWorkerNothing;
  while (const auto request = source.next()) {
    std::int64_t claimed = 0;
    last = worker.run(*request, source, claimed);
    source.report(*request, claimed, last);
    // That error may have damaged this process (a sticky CUDA error, a broken connection): the
    // next trial gets a fresh one.
    if (last == kWorkerFailed || last == kWorkerStorageError || last == kWorkerRefused) break;
  }
  return last;
}

int run_worker(const WorkerOptions& given) {
  const auto options = resolved(given);
  if (options.serve_fd >= 0) return run_worker_loop(options, *channel_source(options.serve_fd));
  if (options.trial_id > 0 || options.idle_exit < 0)
    return run_worker_loop(options, *single_source({options.trial_id, options.experiment_id}));
  auto source = database_source(options.experiment_id, options.idle_exit);
  const int code = run_worker_loop(options, *source);
  if (code == kWorkerFailed && !source->stopping()) {
    source.reset();  // the signal handlers go with it
    restart_process();
  }
  return code == kWorkerFailed || code == kWorkerStorageError || code == kWorkerRefused
             ? code
             : kWorkerFinished;
}

std::string worker_identity(int pid) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return fmt::format("{}:{}", host, pid);
}

std::string worker_identity() {
  return worker_identity(static_cast<int>(getpid()));
}

std::string checkpoint_path(const std::string& checkpoint_dir, std::int64_t trial_id) {
  return (std::filesystem::path(checkpoint_dir) / fmt::format("trial-{}.pt", trial_id)).string();
}

}  // namespace automl::engine
