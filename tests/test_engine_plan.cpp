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
  // Every job: 1 s per epoch; accuracy and ITY grow with the LR (1 is the best).
  FakeRunner runner(*db, [](const storage::TrialRow&, const trials::TrialConfig& config) {
    FakeOutcome o;
    o.seconds = config.epochs;
    const double lr = config.optimizer.lr;
    for (int epoch = config.mi.enabled ? 0 : 1; epoch <= config.epochs; ++epoch) {
      trials::EpochRecord r;
      r.epoch = epoch;
      r.lr = lr;
      r.seconds = epoch == 0 ? 0 : 1;
      r.train_loss = 2.3 - 0.2 * epoch * (1 + std::log10(lr) / 3);
      r.train_accuracy = epoch == 0 ? 0.1 : 0.1 + 0.1 * epoch * (3 + std::log10(lr));
      r.validation_accuracy = r.train_accuracy;
      r.test_accuracy = r.train_accuracy;
      r.ity = 0.2 + 0.3 * epoch;
      o.epochs.push_back(r);
    }
    o.summary.final_test_accuracy = o.epochs.back().test_accuracy;
    o.summary.epochs_run = config.epochs;
    return o;
  });
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
