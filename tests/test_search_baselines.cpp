// The baselines' protocol (SPEC.md 5) and the final MI-SGD runs as plans, and the choice of
// each baseline's LR from fabricated validation results.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <map>

#include "search/search.h"
#include "test_search_fixtures.h"

using automl::search::BaselineConfig;
using automl::search::JobResult;
using automl::test::validated;

TEST_CASE("Baseline candidate LRs: about 10, log-spaced over each optimizer's span",
          "[search][baselines]") {
  // Adam: 1e-5 .. 1e-1, ratio 10^(4/9) = 2.7826: 1e-5, 2.78e-5, 7.74e-5, 2.15e-4, ...
  const auto adam = automl::search::baseline_candidate_lrs(automl::Method::adam, 10);
  REQUIRE(adam.size() == 10);
  CHECK(adam[0] == 1e-5);
  CHECK(adam[1] == 2.78e-5);
  CHECK(adam[2] == 7.74e-5);
  CHECK(adam[9] == 0.1);
  // Step-decay SGD: 1e-3 .. 1 in 4 values: one per decade.
  CHECK(automl::search::baseline_candidate_lrs(automl::Method::step, 4) ==
        std::vector<double>{0.001, 0.01, 0.1, 1});
  CHECK(automl::search::baseline_candidate_lrs(automl::Method::lars, 5) ==
        std::vector<double>{0.01, 0.1, 1, 10, 100});
  CHECK_THROWS_AS(automl::search::baseline_candidate_lrs(automl::Method::sgd, 10),
                  std::invalid_argument);
}

TEST_CASE("Baseline search plan: each optimizer with its policy, on a validation split",
          "[search][baselines]") {
  BaselineConfig config;  // adam rmsprop lars step, 10 candidates, step x0.5 every 30
  config.search_epochs = 4;
  automl::trials::TrialConfig base;
  base.epochs = 50;
  base.seed = 3;
  base.mi.enabled = true;
  const auto jobs = automl::search::plan_baseline_search(config, base);
  REQUIRE(jobs.size() == 40);
  std::map<std::string, const automl::search::Job*> by_label;
  for (const auto& job : jobs) {
    CHECK(job.stage == automl::Stage::baseline_search);
    CHECK(job.config.epochs == 4);
    CHECK(job.config.seed == 3);
    CHECK(job.config.data.validation_fraction == 0.1);
    CHECK_FALSE(job.config.evaluate_test);
    by_label[job.label] = &job;
  }
  REQUIRE(by_label.count("baseline_search/adam/lr=0.00167"));  // 1e-5 * 10^(4/9 * 5)
  const auto& adam = by_label["baseline_search/adam/lr=0.00167"]->config;
  CHECK(adam.optimizer.name == "adam");
  CHECK(adam.policy.name == "constant");
  const auto& lars = by_label["baseline_search/lars/lr=0.01"]->config;
  CHECK(lars.optimizer.name == "lars");
  CHECK(lars.optimizer.momentum == 0.9);
  CHECK(lars.policy.name == "poly");
  CHECK(lars.policy.power == 2);
  const auto& step = by_label["baseline_search/step/lr=0.1"]->config;
  CHECK(step.optimizer.name == "sgd");
  CHECK(step.optimizer.momentum == 0.9);
  CHECK(step.policy.name == "step");
  CHECK(step.policy.gamma == 0.5);
  CHECK(step.policy.step_size == 30);
  CHECK(by_label.count("baseline_search/rmsprop/lr=0.1"));

  config.search_epochs = 0;  // the experiment's epochs
  CHECK(automl::search::plan_baseline_search(config, base)[0].config.epochs == 50);
  config.optimizers = {automl::Method::mi_sgd};  // not a baseline: a caller's bug
  CHECK_THROWS_AS(automl::search::plan_baseline_search(config, base), std::invalid_argument);
}

TEST_CASE("Baseline choice: best validation accuracy (ties: the smaller LR), then 3 seeds",
          "[search][baselines]") {
  BaselineConfig config;
  config.optimizers = {automl::Method::adam, automl::Method::step};
  config.candidates = 4;  // adam: 1e-5 0.000215 0.00464 0.1; step: 0.001 0.01 0.1 1
  std::vector<JobResult> results = {
      validated("baseline_search/adam/lr=1e-05", 5, 0.60),
      validated("baseline_search/adam/lr=0.000215", 5, 0.85),
      validated("baseline_search/adam/lr=0.00464", 5, 0.85),  // tie: the smaller LR wins
      validated("baseline_search/adam/lr=0.1", 5, 0.95),      // crashed, so it does not count
      validated("baseline_search/step/lr=0.001", 5, 0.5)};
  results[3].status = automl::TrialStatus::crashed;
  results.push_back(validated("baseline_search/step/lr=0.01", 5, 0.7));
  const auto choices = automl::search::decide_baselines(config, results, false);
  REQUIRE(choices.size() == 2);
  CHECK(choices[0].optimizer == automl::Method::adam);
  CHECK(choices[0].found);
  CHECK(choices[0].lr == 0.000215);
  CHECK(choices[0].score == Approx(0.85));
  CHECK(choices[0].candidates[3].status == "crashed");
  CHECK(choices[1].lr == 0.01);
  CHECK(choices[1].candidates[2].status == "missing");

  // Regression: the lowest validation MAE.
  const std::vector<JobResult> regression = {validated("baseline_search/step/lr=0.001", 5, 0, 2.0),
                                             validated("baseline_search/step/lr=0.01", 5, 0, 1.2),
                                             validated("baseline_search/step/lr=0.1", 5, 0, 1.5)};
  config.optimizers = {automl::Method::step};
  CHECK(automl::search::decide_baselines(config, regression, true)[0].lr == 0.01);

  const std::vector<std::uint64_t> seeds = {1, 2, 3};
  automl::trials::TrialConfig base;
  base.epochs = 20;
  config.optimizers = {automl::Method::adam, automl::Method::step};
  auto finals = automl::search::plan_baseline_finals(config, base, choices, seeds);
  REQUIRE(finals.size() == 6);
  CHECK(finals[0].label == "baseline/adam/seed=1");
  CHECK(finals[0].stage == automl::Stage::baseline);
  CHECK(finals[0].config.optimizer.lr == 0.000215);
  CHECK(finals[2].config.seed == 3);
  CHECK(finals[0].config.data.validation_fraction == 0);  // the full training set
  CHECK(finals[0].config.evaluate_test);
  CHECK(finals[0].config.epochs == 20);
  CHECK(finals[4].config.policy.name == "step");

  auto none = choices;
  none[1].found = false;  // every step candidate crashed: no final runs for it
  CHECK(automl::search::plan_baseline_finals(config, base, none, seeds).size() == 3);

  const nlohmann::json stored = choices;
  CHECK(stored[0]["lr"] == 0.000215);
  CHECK(stored[0]["candidates"][3]["score"].is_null());  // -inf
}

TEST_CASE("Final MI-SGD runs: model-wise and layer-wise, one per seed", "[search][baselines]") {
  automl::trials::TrialConfig base;
  base.optimizer.nesterov = true;
  base.epochs = 50;
  const automl::search::LrRange range{1e-4, 0.2, 0.01, 5e-4};
  const auto jobs = automl::search::plan_mi_sgd_finals(base, range, {7, 8}, false);
  REQUIRE(jobs.size() == 2);
  CHECK(jobs[0].label == "mi_sgd/seed=7");
  CHECK(jobs[1].config.seed == 8);
  const auto& policy = jobs[0].config.policy;
  CHECK(policy.name == "mi");
  CHECK(policy.lr_min == 1e-4);
  CHECK(policy.lr_max == 0.2);
  CHECK(policy.lr_top == 0.01);
  CHECK(policy.eps == 5e-4);
  CHECK_FALSE(policy.layerwise);
  CHECK(jobs[0].config.optimizer.name == "sgd");
  CHECK(jobs[0].config.optimizer.nesterov);
  CHECK(jobs[0].config.evaluate_test);
  const auto layerwise = automl::search::plan_mi_sgd_finals(base, range, {7}, true);
  CHECK(layerwise[0].label == "mi_sgd_layerwise/seed=7");
  CHECK(layerwise[0].config.policy.layerwise);
}
