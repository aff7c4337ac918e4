#include "engine/worker.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "engine/records.h"
#include "storage/storage.h"
#include "trials/config_json.h"
#include "trials/trial.h"

namespace automl::engine {
namespace {

// Sends heartbeats from its own thread and database connection while the trial trains.
class Heartbeat {
 public:
  Heartbeat(const std::string& database, std::int64_t trial_id, std::string worker, double seconds)
      : storage_(storage::open_sqlite(database)),
        thread_([this, trial_id, worker = std::move(worker), seconds] {
          std::unique_lock<std::mutex> lock(mutex_);
          while (!stop_) {
            wake_.wait_for(lock, std::chrono::duration<double>(seconds));
            if (stop_) break;
            try {
              if (!storage_->heartbeat(trial_id, worker)) lost_ = true;
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
  }
  bool lost() const { return lost_; }

 private:
  std::unique_ptr<storage::Storage> storage_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

}  // namespace

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

int run_worker(const WorkerOptions& options) {
  auto storage = storage::open_sqlite(options.database);
  const auto worker = worker_identity();
  const auto trial =
      storage->claim_trial({options.experiment_id, options.trial_id, worker, options.device});
  if (!trial) return kWorkerNothing;
  trials::set_threads(options.threads);

  auto config = nlohmann::json::parse(trial->config).get<trials::TrialConfig>();
  config.device = options.device;
  trials::TrialRuntime runtime;
  if (!options.checkpoint_dir.empty()) {
    std::filesystem::create_directories(options.checkpoint_dir);
    runtime.checkpoint_path = checkpoint_path(options.checkpoint_dir, trial->id);
  }
  // Without a checkpoint the trial starts over: its earlier epochs (a run that died) go. With
  // one, it resumes after the saved epoch; an epoch committed after that save is run again and
  // replaces its row.
  if (runtime.checkpoint_path.empty() || !std::filesystem::exists(runtime.checkpoint_path))
    storage->delete_epochs_after(trial->id, -1);

  Heartbeat heartbeat(options.database, trial->id, worker, options.heartbeat_seconds);
  runtime.should_stop = [&heartbeat] { return heartbeat.lost(); };
  const auto sink = [&](const trials::EpochRecord& record) {
    if (heartbeat.lost()) throw std::runtime_error("the trial was requeued while it ran");
    storage->delete_epochs_after(trial->id, record.epoch - 1);
    storage->add_epoch(epoch_row(trial->id, record));
  };
  try {
    const auto summary = trials::run_trial(config, sink, runtime);
    if (summary.stopped || heartbeat.lost()) return kWorkerLost;
    storage->finish_trial(trial->id, summary.status, summary.reason, summary.seconds,
                          summary_text(summary));
  } catch (const storage::StorageError& e) {
    // The database, not the trial, failed (full disk, corruption): the engine runs the trial
    // again or stops with the error; the trial is never marked failed for it.
    std::cerr << "trial " << trial->id << ": " << e.what() << "\n";
    return kWorkerStorageError;
  } catch (const std::exception& e) {
    if (heartbeat.lost()) return kWorkerLost;
    storage->finish_trial(trial->id, TrialStatus::failed, e.what(), 0, "{}");
    std::cerr << "trial " << trial->id << " failed: " << e.what() << "\n";
    return kWorkerFailed;
  }
  if (!runtime.checkpoint_path.empty()) std::filesystem::remove(runtime.checkpoint_path);
  return kWorkerFinished;
}

}  // namespace automl::engine
