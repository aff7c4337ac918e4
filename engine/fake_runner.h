#pragma once
// A TrialRunner for tests: trials "run" on a virtual clock for scripted durations and end with
// scripted results, written to storage exactly as a worker would write them.
#include <functional>
#include <vector>

#include "engine/scheduler.h"
#include "trials/config.h"

namespace automl::engine {

// How a fake trial ends: done or crashed as the trial says; failed: it throws; died: its worker
// is killed mid-run (the trial stays running in storage); died_before_claim: its worker dies
// before it claims the trial (the trial stays pending).
enum class FakeEnd { done, crashed, failed, died, died_before_claim };

struct FakeOutcome {
  double seconds = 1;
  FakeEnd end = FakeEnd::done;
  std::vector<trials::EpochRecord> epochs;
  trials::TrialSummary summary;
};

using FakeScript =
    std::function<FakeOutcome(const storage::TrialRow& trial, const trials::TrialConfig& config)>;

// Where and when one trial ran.
struct Placement {
  std::int64_t trial_id = 0;
  std::string label;
  Stage stage = Stage::plan;
  int slot = 0;
  double start = 0, end = 0;
};

class FakeRunner final : public TrialRunner {
 public:
  FakeRunner(storage::Storage& storage, FakeScript script);
  bool start(const Launch& launch) override;
  std::optional<Exit> wait(double timeout_seconds) override;
  double now() override { return now_; }

  std::vector<Placement> placements;  // in start order; `end` filled when it ends

 private:
  struct Event {
    std::size_t placement = 0;
    Launch launch;
    FakeOutcome outcome;
  };
  Exit finish(const Event& event);

  storage::Storage& storage_;
  FakeScript script_;
  std::vector<Event> events_;
  double now_ = 0;
};

}  // namespace automl::engine
