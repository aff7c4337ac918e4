#pragma once
// Runs trials through the database alone, for workers on any host (`automl worker --experiment`,
// started by the user or by a launcher, engine/launcher.h). Starting a trial releases it to them
// (pending -> queued: storage/storage.h); any worker claims it; its end is seen by polling the
// database. Each "slot" of this runner is one trial released at a time: the scheduler keeps as
// many released as there are workers, in its own order (critical path first) and within the
// budget, and still decides every stage itself.
//
// When the coordinator stops, what it released stays released: workers may still run it, and the
// next coordinator of the experiment adopts it (the scheduler starts queued trials first).
//
// Device-seconds are the workers' to record (their heartbeats add them as the trial runs): the
// slots hold no device here, so the scheduler adds none for them.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/scheduler.h"
#include "storage/storage.h"

namespace automl::engine {

class StopSignals;

// `count` slots that stand for trials released to workers (device share 0: see above).
std::vector<Slot> queue_slots(int count);

class QueueRunner final : public TrialRunner {
 public:
  // Polls `storage` every `poll_seconds` while it waits. SIGINT and SIGTERM stop it (the
  // handlers are installed while it lives).
  explicit QueueRunner(storage::Storage& storage, double poll_seconds = 0.5);
  ~QueueRunner() override;
  QueueRunner(const QueueRunner&) = delete;
  QueueRunner& operator=(const QueueRunner&) = delete;

  // Releases the trial to the workers; a trial already released (by an earlier coordinator of
  // the experiment) is adopted as it is.
  bool start(const Launch& launch) override;
  // The next released trial that ended (done, crashed, failed) or came back (requeued, given
  // back by its worker).
  std::optional<Exit> wait(double timeout_seconds) override;
  double now() override;
  int interrupted() override;

 private:
  std::optional<Exit> poll();

  storage::Storage& storage_;
  double poll_seconds_;
  std::unique_ptr<StopSignals> signals_;
  std::set<std::int64_t> released_;
};

}  // namespace automl::engine
