#include "engine/queue_runner.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "engine/stop_signals.h"
#include "engine/worker.h"

namespace automl::engine {
namespace {

using Clock = std::chrono::steady_clock;

// How a released trial ended, if it did: finished, or back to pending (its worker gave it back
// or went silent, and the scheduler releases it again).
std::optional<Exit> exit_of(const storage::TrialRow& trial) {
  switch (trial.status) {
    case TrialStatus::done:
    case TrialStatus::crashed:
      return Exit{trial.id, trial.worker, kWorkerFinished, "finished"};
    case TrialStatus::failed:
      return Exit{trial.id, trial.worker, kWorkerFailed, "failed"};
    case TrialStatus::pending:
      return Exit{trial.id, trial.worker, kWorkerLost, "back to pending"};
    case TrialStatus::queued:
    case TrialStatus::running:
      break;
  }
  return std::nullopt;
}

}  // namespace

std::vector<Slot> queue_slots(int count) {
  std::vector<Slot> slots;
  for (int i = 0; i < count; ++i)
    slots.push_back({i, fmt::format("worker.{}", i), "", "", /*device_share=*/0});
  return slots;
}

QueueRunner::QueueRunner(storage::Storage& storage, double poll_seconds)
    : storage_(storage), poll_seconds_(poll_seconds), signals_(std::make_unique<StopSignals>()) {}

QueueRunner::~QueueRunner() = default;

bool QueueRunner::start(const Launch& launch) {
  if (!storage_.queue_trial(launch.trial_id)) {
    const auto trial = storage_.trial(launch.trial_id);
    if (!trial || trial->status != TrialStatus::queued) return false;
  }
  released_.insert(launch.trial_id);
  return true;
}

std::optional<Exit> QueueRunner::poll() {
  for (const auto id : released_) {
    const auto trial = storage_.trial(id);
    if (!trial) continue;
    if (auto exit = exit_of(*trial)) {
      released_.erase(id);
      return exit;
    }
  }
  return std::nullopt;
}

std::optional<Exit> QueueRunner::wait(double timeout_seconds) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_seconds));
  for (;;) {
    if (auto exit = poll()) return exit;
    if (interrupted() || Clock::now() >= deadline) return std::nullopt;
    const auto pause = std::min(
        deadline - Clock::now(),
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(poll_seconds_)));
    for (const auto until = Clock::now() + pause; Clock::now() < until && !interrupted();)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

double QueueRunner::now() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

int QueueRunner::interrupted() {
  return signals_->received();
}

}  // namespace automl::engine
