#pragma once
// The pure half of the scheduler, as ninja's Plan is of its Builder: from the state of an
// experiment's stages and jobs (plain data), what a stage may do now, which jobs may start and
// in which order, and whether a job fits the budget. No storage, no processes, no clock:
// engine/scheduler.h reads the state from the database, asks the Plan and acts on the answer;
// tests step the Plan by hand (tests/test_engine_plan_rules.cpp).
#include <cstdint>
#include <map>
#include <vector>

#include "common/vocabulary.h"

namespace automl::engine {

// A stage and the stages whose decisions it needs.
struct StageNode {
  Stage stage = Stage::plan;
  std::vector<Stage> after;
};

// One planned job (a trial row) as the plan sees it.
struct JobState {
  std::int64_t id = 0;
  Stage stage = Stage::plan;
  TrialStatus status = TrialStatus::pending;
};

struct PlanState {
  std::map<Stage, StageStatus> stages;  // absent: waiting
  std::vector<JobState> jobs;           // in the order they were planned
};

// What a stage may do now.
struct Readiness {
  enum Kind {
    wait,  // an input is undecided, or a job of its current round has not ended
    step,  // ask it for its next round of jobs, or its decision
    skip,  // an input failed or was skipped: `input`
    none,  // it is closed already
  };
  Kind kind = wait;
  Stage input = Stage::plan;
};

class Plan {
 public:
  explicit Plan(std::vector<StageNode> stages);

  Readiness readiness(Stage stage, const PlanState& state) const;
  // The jobs that may start (pending, or queued: released to workers already), best first: the
  // longest chain of stages after theirs first (LRRT -> C1/C2 -> MI-SGD waits on each stage in
  // turn), ties to the stage declared first; within a stage, released ones first, then the
  // order they were planned in.
  std::vector<std::int64_t> startable(const PlanState& state) const;
  // Every stage closed (done, failed or skipped); every stage done.
  bool all_closed(const PlanState& state) const;
  bool all_done(const PlanState& state) const;

  // For each stage, the number of stages on the longest chain that starts at it (itself
  // included).
  const std::map<Stage, int>& chain_lengths() const { return chain_; }

 private:
  StageStatus status(Stage stage, const PlanState& state) const;

  std::vector<StageNode> stages_;
  std::map<Stage, int> chain_;
  std::map<Stage, std::size_t> declared_;
};

// The budget rule: a job of `estimate` device-seconds starts only if what is spent, plus what
// the running jobs are still expected to spend, plus its estimate fits `budget` (0 = none).
bool fits_budget(double budget, double committed, double estimate);

}  // namespace automl::engine
