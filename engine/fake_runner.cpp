#include "engine/fake_runner.h"

#include <algorithm>

#include "trials/config_json.h"

namespace automl::engine {

FakeRunner::FakeRunner(storage::Storage& storage, FakeScript script)
    : storage_(storage), script_(std::move(script)) {}

void FakeRunner::start(const Launch& launch) {
  const std::string worker = "fake:" + launch.slot.name;
  const auto trial = storage_.claim_trial({0, launch.trial_id, worker, launch.slot.device});
  if (!trial) throw std::logic_error("fake runner: trial " + launch.label + " is not pending");
  // As a worker without a checkpoint: a restarted trial recomputes its epochs from the start.
  storage_.delete_epochs_after(trial->id, 0);
  const auto config = nlohmann::json::parse(trial->config).get<trials::TrialConfig>();
  auto outcome = script_(*trial, config);
  placements.push_back({trial->id, trial->label, trial->stage, launch.slot.index, now_, -1});
  events_.push_back({placements.size() - 1, launch, std::move(outcome)});
}

std::optional<Exit> FakeRunner::wait(double timeout_seconds) {
  auto next = std::min_element(events_.begin(), events_.end(), [&](const Event& a, const Event& b) {
    return placements[a.placement].start + a.outcome.seconds <
           placements[b.placement].start + b.outcome.seconds;
  });
  if (next == events_.end() ||
      placements[next->placement].start + next->outcome.seconds > now_ + timeout_seconds) {
    now_ += timeout_seconds;
    return std::nullopt;
  }
  now_ = std::max(now_, placements[next->placement].start + next->outcome.seconds);
  const Event event = *next;
  events_.erase(next);
  return finish(event);
}

Exit FakeRunner::finish(const Event& event) {
  placements[event.placement].end = now_;
  const auto& outcome = event.outcome;
  const auto id = event.launch.trial_id;
  const std::string worker = "fake:" + event.launch.slot.name;
  for (const auto& record : outcome.epochs) storage_.add_epoch(epoch_row(id, record));
  if (outcome.status == "died") return {id, worker, -9, "signal 9 (Killed)"};
  if (outcome.status == "failed") {
    storage_.finish_trial(id, "failed", outcome.summary.reason, outcome.seconds, "{}");
    return {id, worker, 1, "exit 1"};
  }
  auto summary = outcome.summary;
  summary.status = outcome.status;
  summary.seconds = outcome.seconds;
  storage_.finish_trial(id, outcome.status, summary.reason, outcome.seconds,
                        nlohmann::json(summary).dump());
  return {id, worker, 0, "exit 0"};
}

}  // namespace automl::engine
