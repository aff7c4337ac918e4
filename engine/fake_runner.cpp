#include "engine/fake_runner.h"

#include <algorithm>

#include "engine/records.h"
#include "trials/config_json.h"

namespace automl::engine {

FakeRunner::FakeRunner(storage::Storage& storage, FakeScript script)
    : storage_(storage), script_(std::move(script)) {}

bool FakeRunner::start(const Launch& launch) {
  const std::string worker = "fake:" + launch.slot.name;
  const auto pending = storage_.trial(launch.trial_id);
  if (!pending || pending->status != TrialStatus::pending)
    throw std::logic_error("fake runner: trial " + launch.label + " is not pending");
  const auto config = trials::read_trial_config(pending->config);
  auto outcome = script_(*pending, config);
  if (outcome.end != FakeEnd::died_before_claim) {
    storage_.claim_trial({0, launch.trial_id, worker, launch.slot.device});
    // As a worker without a checkpoint: a restarted trial recomputes its epochs from the start.
    storage_.delete_epochs_after(launch.trial_id, 0);
  }
  placements.push_back({pending->id, pending->label, pending->stage, launch.slot.index, now_, -1});
  events_.push_back({placements.size() - 1, launch, std::move(outcome)});
  return true;
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
  if (outcome.end == FakeEnd::died_before_claim) return {id, worker, -9, "signal 9 (Killed)"};
  for (const auto& record : outcome.epochs) storage_.add_epoch(epoch_row(id, record));
  if (outcome.end == FakeEnd::died) return {id, worker, -9, "signal 9 (Killed)"};
  if (outcome.end == FakeEnd::failed) {
    storage_.finish_trial(id, TrialStatus::failed, outcome.summary.reason, outcome.seconds, "{}");
    return {id, worker, 1, "exit 1"};
  }
  auto summary = outcome.summary;
  summary.status = outcome.end == FakeEnd::crashed ? TrialStatus::crashed : TrialStatus::done;
  summary.seconds = outcome.seconds;
  storage_.finish_trial(id, summary.status, summary.reason, outcome.seconds, summary_text(summary));
  return {id, worker, 0, "exit 0"};
}

}  // namespace automl::engine
