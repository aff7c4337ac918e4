// The scheduler against a fake trial runner on a virtual clock: placement over slots,
// dependency order of stages, isolation of failing jobs, and the budget cut-off.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "engine/fake_runner.h"
#include "engine/scheduler.h"
#include "test_stage_fixtures.h"
#include "test_support.h"

using namespace automl;
using namespace automl::engine;

namespace {

using test_stages::job;
using test_stages::rounds_stage;

FakeOutcome outcome(double seconds, FakeEnd end = FakeEnd::done) {
  FakeOutcome o;
  o.seconds = seconds;
  o.end = end;
  for (int e = 1; e <= 2; ++e) {
    trials::EpochRecord r;
    r.epoch = e;
    r.lr = 0.1;
    r.train_accuracy = 0.5 * e;
    r.test_accuracy = 0.4 * e;
    o.epochs.push_back(r);
  }
  o.summary.final_test_accuracy = 0.8;
  return o;
}

struct Fixture {
  test::TempDir dir;
  std::unique_ptr<storage::Storage> db = storage::open_sqlite(dir.file("s.db"));
  std::int64_t experiment = db->create_experiment("e", "name: e\n");
  std::vector<std::string> log;

  RunReport run(std::vector<StageSpec> stages, int slots, FakeRunner& runner,
                SchedulerOptions options = {}) {
    Scheduler scheduler(*db, experiment, std::move(stages), make_slots("cpu", 0, 1, slots), runner,
                        options, [this](const std::string& line) { log.push_back(line); });
    return scheduler.run();
  }
  std::map<std::string, Placement> by_label(const FakeRunner& runner) {
    std::map<std::string, Placement> m;
    for (const auto& p : runner.placements) m[p.label] = p;
    return m;
  }
};

}  // namespace

TEST_CASE("Slots: GPUs x slots_per_gpu pinned per GPU, else the CPU's slots", "[engine]") {
  const auto gpu = make_slots("auto", 2, 3, 1);
  REQUIRE(gpu.size() == 6);
  CHECK(gpu[4].visible_devices == "1");
  CHECK(gpu[4].device == "cuda:0");  // the worker sees only its own GPU
  CHECK(gpu[4].device_share == Approx(1.0 / 3));
  const auto cpu = make_slots("auto", 0, 3, 2);
  REQUIRE(cpu.size() == 2);
  CHECK(cpu[1].device == "cpu");
  CHECK(make_slots("cpu", 2, 3, 1).size() == 1);
}

TEST_CASE("Independent jobs run in parallel over all slots", "[engine]") {
  Fixture f;
  FakeRunner runner(*f.db, [](const auto&, const auto&) { return outcome(10); });
  const auto report = f.run({rounds_stage(Stage::lrrt, {}, 1, 8)}, 4, runner);
  CHECK(report.complete);
  CHECK(report.trials_done == 8);
  REQUIRE(runner.placements.size() == 8);
  // 8 jobs of 10 s on 4 slots: two waves, done at t = 20 s.
  CHECK(report.seconds == Approx(20).margin(1));
  std::map<int, int> per_slot;
  for (const auto& p : runner.placements) {
    ++per_slot[p.slot];
    for (const auto& q : runner.placements)
      if (p.trial_id != q.trial_id && p.slot == q.slot)
        CHECK((p.end <= q.start || q.end <= p.start));  // never two at once on one slot
  }
  CHECK(per_slot.size() == 4);
  for (const auto& [slot, n] : per_slot) CHECK(n == 2);
  // Every job ran once, and its epochs are recorded once.
  for (const auto& t : f.db->trials({})) {
    CHECK(t.attempts == 1);
    CHECK(f.db->epochs(t.id).size() == 2);
  }
  // 80 slot-seconds, each slot holding a quarter of the CPU.
  CHECK(f.db->device_seconds(f.experiment) == Approx(20));
}

TEST_CASE("Stages run in dependency order, and independent stages overlap", "[engine]") {
  Fixture f;
  FakeRunner runner(*f.db, [](const storage::TrialRow& t, const auto&) {
    return outcome(t.stage == Stage::baseline_search ? 3 : 5);
  });
  const auto report =
      f.run({rounds_stage(Stage::lrrt, {}, 1, 3), rounds_stage(Stage::c1c2, {Stage::lrrt}, 2, 2),
             rounds_stage(Stage::mi_sgd, {Stage::c1c2}, 1, 2),
             rounds_stage(Stage::baseline_search, {}, 1, 2),
             rounds_stage(Stage::baseline, {Stage::baseline_search}, 1, 2)},
            4, runner);
  REQUIRE(report.complete);
  auto first_start = [&](const std::string& prefix) {
    double t = 1e9;
    for (const auto& p : runner.placements)
      if (p.label.rfind(prefix, 0) == 0) t = std::min(t, p.start);
    return t;
  };
  auto last_end = [&](const std::string& prefix) {
    double t = -1;
    for (const auto& p : runner.placements)
      if (p.label.rfind(prefix, 0) == 0) t = std::max(t, p.end);
    return t;
  };
  CHECK(first_start("baseline_search") == 0);  // not held back by the LRRT
  CHECK(first_start("lrrt") == 0);
  CHECK(first_start("c1c2/r=0") >= last_end("lrrt/"));
  CHECK(first_start("c1c2/r=1") >= last_end("c1c2/r=0"));
  CHECK(first_start("mi_sgd") >= last_end("c1c2/"));
  CHECK(first_start("baseline/") >= last_end("baseline_search"));
  // The baseline seeds start as soon as their search ends, while the LRRT side still runs.
  CHECK(first_start("baseline/") < last_end("c1c2/"));
  const auto stages = f.db->stages(f.experiment);
  REQUIRE(stages.size() == 5);
  for (const auto& s : stages) CHECK(s.status == StageStatus::done);
  CHECK(nlohmann::json::parse(stages[0].decision)["rounds"] == 1);
}

TEST_CASE("Pending jobs start by their stage's longest chain, ties by declaration order",
          "[engine]") {
  Fixture f;
  FakeRunner runner(*f.db, [](const auto&, const auto&) { return outcome(1); });
  const std::vector<StageSpec> stages = {
      rounds_stage(Stage::lrrt, {}, 1, 1), rounds_stage(Stage::c1c2, {Stage::lrrt}, 1, 1),
      rounds_stage(Stage::mi_sgd, {Stage::c1c2}, 1, 1),
      rounds_stage(Stage::baseline_search, {}, 1, 1),
      rounds_stage(Stage::baseline, {Stage::baseline_search}, 1, 1)};
  // The stages on the longest chain that starts at each one, itself included.
  CHECK(chain_lengths(stages) == std::map<Stage, int>{{Stage::lrrt, 3},
                                                      {Stage::c1c2, 2},
                                                      {Stage::mi_sgd, 1},
                                                      {Stage::baseline_search, 2},
                                                      {Stage::baseline, 1}});
  const auto report = f.run(stages, 1, runner);
  REQUIRE(report.complete);
  // One slot, one job per stage: t = 0 lrrt (3) before baseline_search (2); t = 1 c1c2 (2,
  // declared before baseline_search); t = 2 baseline_search (2) before mi_sgd (1); t = 3 mi_sgd
  // (1, declared before baseline).
  std::vector<std::string> order;
  for (const auto& p : runner.placements) order.push_back(p.label);
  CHECK(order == std::vector<std::string>{"lrrt/r=0/j=0", "c1c2/r=0/j=0", "baseline_search/r=0/j=0",
                                          "mi_sgd/r=0/j=0", "baseline/r=0/j=0"});
}

TEST_CASE("A failing job and a dying worker do not affect the other jobs", "[engine]") {
  Fixture f;
  std::map<std::string, int> starts;
  FakeRunner runner(*f.db, [&](const storage::TrialRow& t, const auto&) {
    ++starts[t.label];
    if (t.label == "lrrt/r=0/j=1") {
      auto o = outcome(4, FakeEnd::failed);
      o.epochs.clear();
      o.summary.reason = "out of memory";
      return o;
    }
    if (t.label == "lrrt/r=0/j=2" && starts[t.label] == 1) {  // killed once mid-run
      auto o = outcome(3, FakeEnd::died);
      o.epochs.resize(1);
      return o;
    }
    return outcome(5);
  });
  const auto report =
      f.run({rounds_stage(Stage::lrrt, {}, 1, 4), rounds_stage(Stage::mi_sgd, {Stage::lrrt}, 1, 1)},
            2, runner);
  CHECK(report.complete);
  CHECK(report.trials_done == 4);  // 3 of lrrt + 1 of mi_sgd
  CHECK(report.trials_failed == 1);
  for (const auto& t : f.db->trials({})) {
    if (t.label == "lrrt/r=0/j=1") {
      CHECK(t.status == TrialStatus::failed);
      CHECK(t.reason == "out of memory");
      CHECK(t.attempts == 1);  // a trial's own error is not retried
    } else {
      CHECK(t.status == TrialStatus::done);
    }
    if (t.label == "lrrt/r=0/j=2") {
      CHECK(t.attempts == 2);
      CHECK(f.db->epochs(t.id).size() == 2);  // no epoch twice after the restart
    }
  }
  CHECK(starts["lrrt/r=0/j=2"] == 2);
}

TEST_CASE("A worker that keeps dying ends failed after max_attempts", "[engine]") {
  Fixture f;
  FakeRunner runner(*f.db, [](const auto&, const auto&) {
    auto o = outcome(2, FakeEnd::died);
    o.epochs.clear();
    return o;
  });
  SchedulerOptions options;
  options.max_attempts = 3;
  const auto report = f.run({rounds_stage(Stage::lrrt, {}, 1, 1)}, 1, runner, options);
  CHECK(report.trials_failed == 1);
  CHECK(runner.placements.size() == 3);
  CHECK(f.db->trials({})[0].reason.find("signal 9") != std::string::npos);
}

TEST_CASE("No job starts once the budget is spent, and the run says so", "[engine]") {
  Fixture f;
  FakeRunner runner(*f.db, [](const auto&, const auto&) { return outcome(10); });
  SchedulerOptions options;
  options.budget_device_seconds = 25;
  const auto report = f.run({rounds_stage(Stage::lrrt, {}, 1, 6)}, 1, runner, options);
  // Jobs start at t = 0, 10, 20 (spent 0, 10, 20 < 25); at t = 30, 30 s are spent.
  CHECK(runner.placements.size() == 3);
  CHECK(report.budget_spent);
  CHECK(report.trials_not_started == 3);
  CHECK_FALSE(report.complete);
  CHECK(report.device_seconds == Approx(30));
  CHECK(std::any_of(f.log.begin(), f.log.end(), [](const std::string& line) {
    return line.find("budget spent") != std::string::npos;
  }));

  SECTION("a job whose estimate does not fit what is left does not start") {
    Fixture g;
    FakeRunner r2(*g.db, [](const auto&, const auto&) { return outcome(10); });
    auto priced = rounds_stage(Stage::lrrt, {}, 1, 6);
    priced.next = [plain = priced.next](const StageInputs& in) {
      auto step = plain(in);
      step.seconds_per_epoch = 5;  // 2 epochs: 10 s per job
      return step;
    };
    // t = 0: 0 + 10 <= 25 starts; t = 10: 10 + 10 <= 25 starts; t = 20: 20 + 10 > 25 does not.
    const auto r = g.run({priced}, 1, r2, options);
    CHECK(r2.placements.size() == 2);
    CHECK(r.budget_spent);
    CHECK(r.device_seconds <= 25);
    CHECK(std::any_of(g.log.begin(), g.log.end(), [](const std::string& line) {
      return line.find("budget too short for the next job (~10 device-s)") != std::string::npos;
    }));
    SECTION("on two slots the running job's estimate counts") {
      Fixture h;
      // 20 s on a half-device slot: the estimated 10 device-s. t = 0: 0 + 10 fits, then
      // 0 + 10 (the running job's estimate) + 10 fits; t = 20: 20 spent + 10 > 25.
      FakeRunner r3(*h.db, [](const auto&, const auto&) { return outcome(20); });
      const auto r = h.run({priced}, 2, r3, options);
      CHECK(r3.placements.size() == 2);
      CHECK(r.device_seconds == Approx(20));
    }
  }

  SECTION("an epoch budget stops it the same way") {
    Fixture g;
    FakeRunner r2(*g.db, [](const auto&, const auto&) { return outcome(10); });
    SchedulerOptions by_epochs;
    by_epochs.budget_epochs = 4;  // 2 epochs per job
    const auto r = g.run({rounds_stage(Stage::lrrt, {}, 1, 6)}, 1, r2, by_epochs);
    CHECK(r2.placements.size() == 2);
    CHECK(r.trials_not_started == 4);
  }
}

TEST_CASE("A stage whose plan throws fails, and the stages after it are skipped", "[engine]") {
  Fixture f;
  FakeRunner runner(*f.db, [](const auto&, const auto&) { return outcome(1); });
  auto broken = rounds_stage(Stage::lrrt, {}, 1, 1);
  auto inner = broken.next;
  broken.next = [inner](const StageInputs& in) {
    if (!in.results.empty()) throw std::runtime_error("every LR crashed");
    return inner(in);
  };
  const auto report = f.run({broken, rounds_stage(Stage::c1c2, {Stage::lrrt}, 1, 1),
                             rounds_stage(Stage::baseline, {}, 1, 2)},
                            2, runner);
  CHECK_FALSE(report.complete);
  CHECK(report.trials_done == 3);  // the baseline still ran
  std::map<Stage, StageStatus> status;
  for (const auto& s : f.db->stages(f.experiment)) status[s.stage] = s.status;
  REQUIRE(status.size() == 3);
  CHECK(status.at(Stage::lrrt) == StageStatus::failed);
  CHECK(status.at(Stage::c1c2) == StageStatus::skipped);
  CHECK(status.at(Stage::baseline) == StageStatus::done);
}
