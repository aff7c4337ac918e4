// The engine's failure model (docs/engine.md): what counts as an attempt, what is retried, what
// is failed, what the exit status says. The fault injection through the real executable is
// tests/fault_injection.sh.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/fake_runner.h"
#include "engine/process_runner.h"
#include "engine/scheduler.h"
#include "engine/stages.h"
#include "test_support.h"

using namespace automl;
using namespace automl::engine;

namespace {

// One stage of `jobs` jobs that decides once they have ended.
StageSpec one_round(int jobs) {
  StageSpec spec;
  spec.stage = Stage::lrrt;
  spec.next = [jobs](const StageInputs& in) {
    StageStep step;
    if (in.results.empty())
      for (int k = 0; k < jobs; ++k) {
        search::Job job;
        job.stage = Stage::lrrt;
        job.label = "job/" + std::to_string(k);
        job.config.epochs = 1;
        step.jobs.push_back(job);
      }
    return step;
  };
  return spec;
}

struct Fixture {
  test::TempDir dir;
  std::unique_ptr<storage::Storage> db = storage::open_sqlite(dir.file("t.db"));
  std::int64_t experiment = db->create_experiment("e", "name: e\n");

  RunReport run(FakeRunner& runner, int jobs) {
    Scheduler scheduler(*db, experiment, {one_round(jobs)}, make_slots("cpu", 0, 1, 1), runner, {},
                        [](const std::string&) {});
    return scheduler.run();
  }
};

FakeOutcome ends(FakeEnd end) {
  FakeOutcome o;
  o.end = end;
  trials::EpochRecord r;
  r.epoch = 1;
  o.epochs.push_back(r);
  return o;
}

}  // namespace

TEST_CASE(
    "A worker that dies before it claims its trial costs an attempt, and the trial runs again",
    "[engine][faults]") {
  Fixture f;
  int starts = 0;
  FakeRunner runner(*f.db, [&](const storage::TrialRow&, const trials::TrialConfig&) {
    return ends(++starts == 1 ? FakeEnd::died_before_claim : FakeEnd::done);
  });
  const auto report = f.run(runner, 2);
  CHECK(report.complete);
  CHECK(report.trials_done == 2);
  CHECK(report.trials_failed == 0);
  const auto trials = f.db->trials({});
  CHECK(trials.at(0).attempts == 2);  // the death, then the claim that ran it
  CHECK(trials.at(1).attempts == 1);
  CHECK(outcome_of(report).exit_code == 0);
}

TEST_CASE("A trial whose workers keep dying before they claim it fails after max_attempts",
          "[engine][faults]") {
  Fixture f;
  FakeRunner runner(*f.db, [](const storage::TrialRow& t, const trials::TrialConfig&) {
    return ends(t.label == "job/0" ? FakeEnd::died_before_claim : FakeEnd::done);
  });
  const auto report = f.run(runner, 2);
  const auto trials = f.db->trials({});
  CHECK(trials.at(0).status == TrialStatus::failed);
  CHECK(trials.at(0).attempts == 3);
  CHECK_THAT(trials.at(0).reason, Catch::Matchers::Contains("before it started"));
  CHECK(trials.at(1).status == TrialStatus::done);
  CHECK(report.trials_failed == 1);
  CHECK(outcome_of(report).exit_code == 4);  // never "complete" with a failed trial
}

TEST_CASE("The exit status says how the run ended", "[engine][faults]") {
  RunReport r;
  r.complete = true;
  CHECK(outcome_of(r).exit_code == 0);
  r.trials_failed = 1;
  CHECK(outcome_of(r).exit_code == 4);
  r = {};
  r.budget_spent = true;
  CHECK(outcome_of(r).exit_code == 3);
  r = {};
  CHECK(outcome_of(r).exit_code == 4);  // a stage failed or was skipped
  r.interrupted = 2;                    // SIGINT
  CHECK(outcome_of(r).exit_code == 130);
  r.interrupted = 15;
  CHECK(outcome_of(r).exit_code == 143);
}

TEST_CASE("An interrupted attempt is given back, a claimed one is kept", "[engine][faults]") {
  Fixture f;
  storage::TrialRow t;
  t.experiment_id = f.experiment;
  t.label = "job/0";
  const auto id = f.db->add_trial(t);
  f.db->claim_trial({0, id, "w:1", "cpu"});
  f.db->return_trial(id, "interrupted");
  auto trial = *f.db->trial(id);
  CHECK(trial.status == TrialStatus::pending);
  CHECK(trial.attempts == 0);
  f.db->claim_trial({0, id, "w:2", "cpu"});
  f.db->release_trial(id, "worker died", 3);
  trial = *f.db->trial(id);
  CHECK(trial.status == TrialStatus::pending);
  CHECK(trial.attempts == 1);
}

TEST_CASE("A GPU experiment is refused on a machine without a GPU", "[engine][faults]") {
  experiments::ExperimentConfig e;
  e.file = "gpu.yaml";
  e.trial.device = "cuda";
  CHECK_THROWS_AS(machine_slots(e, 0), InputError);
  e.trial.device = "cpu";
  e.devices.kind = "cuda";
  CHECK_THROWS_AS(machine_slots(e, 0), InputError);
  e.devices.kind = "auto";
  CHECK(machine_slots(e, 0).front().device == "cpu");
}

TEST_CASE("Two engines on one database take turns on the machine's slots", "[engine][faults]") {
  test::TempDir dir;
  const auto worker = dir.file("worker.sh");  // stands in for `automl worker`: busy for 2 s
  test::write_text(worker, "#!/bin/sh\nsleep 2\n");
  std::filesystem::permissions(worker, std::filesystem::perms::owner_all);
  ProcessRunnerOptions options;
  options.executable = worker;
  options.database = dir.file("t.db");
  options.checkpoint_dir = dir.file("checkpoints");
  ProcessRunner first(options), second(options);
  const auto slot = make_slots("cpu", 0, 1, 1).front();
  REQUIRE(first.start({1, "a", slot}));
  CHECK_FALSE(second.start({2, "b", slot}));  // the first engine's worker holds cpu.0
  std::optional<Exit> exit;
  for (int i = 0; i < 20 && !exit; ++i) exit = first.wait(0.5);
  REQUIRE(exit);
  CHECK(exit->exit_code == 0);
  CHECK(second.start({2, "b", slot}));  // free again once that worker ended
  second.stop_all();
}

TEST_CASE("Stage priority is the longest chain of stages that starts at it", "[engine]") {
  experiments::ExperimentConfig e;
  e.budget.device_minutes = 1;
  const auto chains = chain_lengths(experiment_stages(e, 1));
  CHECK(chains.at(Stage::calibrate) == 5);  // calibrate -> plan -> lrrt -> c1c2 -> mi_sgd
  CHECK(chains.at(Stage::plan) == 4);
  CHECK(chains.at(Stage::lrrt) == 3);
  CHECK(chains.at(Stage::c1c2) == 2);
  CHECK(chains.at(Stage::baseline_search) == 2);
  CHECK(chains.at(Stage::mi_sgd) == 1);
  CHECK(chains.at(Stage::baseline) == 1);
}
