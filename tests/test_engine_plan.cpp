// Fitting an experiment to its budget (quick-mode LRRT, fewer candidates), checked against
// epoch counts worked out by hand, and the whole stage graph run on the fake runner.
#include <catch2/catch.hpp>

#include <cmath>

#include "engine/fake_runner.h"
#include "engine/stages.h"
#include "test_support.h"

using namespace automl;
using namespace automl::engine;

namespace {

// 4 candidate LRs; full LRRT 3 x 5 epochs = 60 epochs, quick 2 x 3 = 24. No C1/C2. MI-SGD:
// 3 seeds x 10 = 30. Baselines: 2 optimizers x 10 LRs x 2 epochs = 40, finals 2 x 3 x 10 = 60.
// Full plan: 190 epochs (+1 calibration epoch with a device-minutes budget).
experiments::ExperimentConfig hand_experiment() {
  experiments::ExperimentConfig e;
  e.name = "plan";
  e.trial.epochs = 10;
  e.seeds = {1, 2, 3};
  e.lrrt.lrs = {0.001, 0.01, 0.1, 1};
  e.lrrt.trials = 3;
  e.lrrt.epochs_per_trial = 5;
  e.c1c2.enabled = false;
  e.baselines.optimizers = {Method::adam, Method::step};
  e.baselines.candidates = 10;
  e.baselines.search_epochs = 2;
  return e;
}

}  // namespace

TEST_CASE("The plan counts its epochs per stage", "[engine]") {
  const auto plan = choose_plan(hand_experiment(), 0);
  CHECK(plan.epochs.at(Stage::lrrt) == 60);
  CHECK(plan.jobs.at(Stage::lrrt) == 12);
  CHECK(plan.epochs.at(Stage::mi_sgd) == 30);
  CHECK(plan.epochs.at(Stage::baseline_search) == 40);
  CHECK(plan.epochs.at(Stage::baseline) == 60);
  CHECK(plan.total_epochs == 190);
  CHECK_FALSE(plan.lrrt_quick);
  CHECK(plan.fits);
}

TEST_CASE("Quick-mode LRRT and fewer candidates when the full plan does not fit", "[engine]") {
  auto e = hand_experiment();
  const double seconds_per_epoch = 1;
  SECTION("the full plan fits") {
    e.budget.device_minutes = 200.0 / 60;  // 191 epochs x 1 s
    const auto p = choose_plan(e, seconds_per_epoch);
    CHECK_FALSE(p.lrrt_quick);
    CHECK(p.estimated_device_seconds == Approx(191));
  }
  SECTION("quick mode is enough") {
    e.budget.device_minutes = 160.0 / 60;  // full 191 > 160; quick 24 + 30 + 40 + 60 + 1 = 155
    const auto p = choose_plan(e, seconds_per_epoch);
    CHECK(p.lrrt_quick);
    CHECK(p.epochs.at(Stage::lrrt) == 24);
    CHECK(p.baseline_candidates == 10);
    CHECK(p.total_epochs == 155);
    CHECK(p.fits);
  }
  SECTION("quick mode and half the baseline candidates") {
    e.budget.device_minutes = 140.0 / 60;  // 24 + 30 + 2x5x2 + 60 + 1 = 135
    const auto p = choose_plan(e, seconds_per_epoch);
    CHECK(p.lrrt_quick);
    CHECK(p.baseline_candidates == 5);
    CHECK(p.total_epochs == 135);
    CHECK(p.fits);
  }
  SECTION("nothing fits: the smallest plan, marked as not fitting") {
    e.budget.device_minutes = 100.0 / 60;  // smallest: 24 + 30 + 2x3x2 + 60 + 1 = 127
    const auto p = choose_plan(e, seconds_per_epoch);
    CHECK(p.baseline_candidates == 3);
    CHECK(p.total_epochs == 127);
    CHECK_FALSE(p.fits);
  }
  SECTION("an explicit full mode is kept") {
    e.lrrt.mode = "full";
    e.budget.device_minutes = 160.0 / 60;
    const auto p = choose_plan(e, seconds_per_epoch);
    CHECK_FALSE(p.lrrt_quick);
    CHECK(p.epochs.at(Stage::lrrt) == 60);
  }
  SECTION("an epoch budget decides the same way without a measurement") {
    e.budget.epochs = 154;  // quick: 154 epochs exactly (no calibration epoch)
    const auto p = choose_plan(e, 0);
    CHECK(p.lrrt_quick);
    CHECK(p.fits);
  }
}

namespace {

// 1 s per epoch; accuracy grows with the LR and the epoch, ITY with the epoch.
FakeRunner growing_runner(storage::Storage& db) {
  return FakeRunner(db, [](const storage::TrialRow&, const trials::TrialConfig& config) {
    FakeOutcome o;
    o.seconds = config.epochs;
    const double lr = config.optimizer.lr;
    for (int epoch = config.mi.enabled ? 0 : 1; epoch <= config.epochs; ++epoch) {
      trials::EpochRecord r;
      r.epoch = epoch;
      r.lr = lr;
      r.seconds = epoch == 0 ? 0 : 1;
      r.train_loss = 2.3 - 0.1 * epoch;
      r.train_accuracy = epoch == 0 ? 0.1 : 0.1 + 0.05 * epoch * (4 + std::log10(lr));
      r.validation_accuracy = r.train_accuracy;
      r.test_accuracy = r.train_accuracy;
      r.ity = 0.2 + 0.3 * epoch;
      o.epochs.push_back(r);
    }
    o.summary.final_test_accuracy = o.epochs.back().test_accuracy;
    o.summary.epochs_run = config.epochs;
    return o;
  });
}

std::size_t trials_of(storage::Storage& db, Stage stage) {
  storage::TrialFilter filter;
  filter.stage = stage;
  return db.trials(filter).size();
}

}  // namespace

TEST_CASE("The experiment's stages run end to end on the fake runner", "[engine]") {
  auto e = hand_experiment();
  e.trial.epochs = 2;
  e.lrrt.lrs = {0.01, 0.1, 1};
  e.baselines.candidates = 3;
  e.seeds = {1, 2};
  e.budget.device_minutes = 1;  // 60 device-s: the full LRRT (45 epochs) does not fit
  test::TempDir dir;
  auto db = storage::open_sqlite(dir.file("plan.db"));
  const auto experiment = db->create_experiment(e.name, "name: plan\n");
  auto runner = growing_runner(*db);
  Scheduler scheduler(*db, experiment, experiment_stages(e, 1), make_slots("cpu", 0, 1, 2), runner,
                      {}, [](const std::string&) {});
  const auto report = scheduler.run();
  CHECK(report.complete);
  REQUIRE(runner.placements.at(0).label == "calibrate");
  for (const auto& p : runner.placements)
    if (p.label != "calibrate") CHECK(p.start >= runner.placements[0].end);
  storage::TrialFilter lrrt;
  lrrt.stage = Stage::lrrt;
  const auto lrrt_trials = db->trials(lrrt);
  CHECK(lrrt_trials.size() == 2 * 3);  // quick: 2 trials x 3 LRs
  for (const auto& t : lrrt_trials) CHECK(nlohmann::json::parse(t.config).at("epochs") == 3);
  const auto bounds = db->lrrt_bounds(experiment);
  REQUIRE(bounds.size() == 1);
  CHECK(bounds[0].lr_top == 1);
  CHECK(db->lrrt_table(experiment).size() == 6);
  const auto results = db->results(experiment);
  CHECK(results.size() == 3 * 2);  // mi_sgd, adam, step x 2 seeds
  for (const auto& r : results) CHECK(r.trial_id > 0);
}

TEST_CASE("An LR range test on its own fits its budget, and a whole run reuses it", "[engine]") {
  auto e = hand_experiment();
  e.trial.epochs = 2;
  e.seeds = {1};
  e.baselines.candidates = 2;
  e.c1c2.enabled = true;
  e.c1c2.max_candidates = 2;
  e.c1c2.min_epochs = 1;
  e.c1c2.max_epochs = 2;
  test::TempDir dir;
  auto db = storage::open_sqlite(dir.file("lrrt.db"));
  const auto experiment = db->create_experiment(e.name, "name: plan\n");
  const auto quiet = [](const std::string&) {};

  // 30 device-s: calibration (1 epoch) + the full LRRT (60 epochs) does not fit; quick does (24).
  auto alone = e;
  alone.budget.device_minutes = 0.5;
  CHECK(choose_plan(alone, 1, Scope::lrrt).lrrt_quick);
  CHECK(choose_plan(alone, 1, Scope::lrrt).total_epochs == 1 + 24);
  auto runner = growing_runner(*db);
  SchedulerOptions budget;
  budget.budget_device_seconds = 30;
  Scheduler lrrt_only(*db, experiment, experiment_stages(alone, 1, Scope::lrrt),
                      make_slots("cpu", 0, 1, 1), runner, budget, quiet);
  const auto first = lrrt_only.run();
  CHECK(first.complete);
  CHECK(first.device_seconds <= 30);
  CHECK(trials_of(*db, Stage::lrrt) == 2 * 4);  // quick: 2 trials x 4 LRs
  for (const auto stage : {Stage::plan, Stage::c1c2, Stage::mi_sgd, Stage::baseline_search})
    CHECK(trials_of(*db, stage) == 0);
  const auto bounds = db->lrrt_bounds(experiment);
  REQUIRE(bounds.size() == 1);

  // The whole experiment without a budget would plan the full LRRT; it keeps the quick one, and
  // C1/C2 rebuilds table D from it as it ran (2 trials x 3 epochs, none missing).
  auto whole_runner = growing_runner(*db);
  Scheduler whole(*db, experiment, experiment_stages(e, 1), make_slots("cpu", 0, 1, 1),
                  whole_runner, {}, quiet);
  const auto second = whole.run();
  CHECK(second.complete);
  CHECK(trials_of(*db, Stage::lrrt) == 2 * 4);
  for (const auto& p : whole_runner.placements) CHECK(p.stage != Stage::lrrt);
  CHECK(trials_of(*db, Stage::c1c2) > 0);
  CHECK(db->lrrt_bounds(experiment).at(0).lr_max == bounds[0].lr_max);
  for (const auto& stage : db->stages(experiment))
    if (stage.stage == Stage::plan)
      CHECK_FALSE(nlohmann::json::parse(stage.decision).at("lrrt_quick").get<bool>());
  CHECK(db->results(experiment).size() == 3);  // mi_sgd, adam, step x 1 seed
}
