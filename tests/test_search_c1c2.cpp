// Automatic C1/C2: the distinct ranges of a grid (by hand from the plain sweep's table D) and
// successive halving on a synthetic objective whose best is known.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <map>

#include "search/search.h"
#include "test_search_fixtures.h"

using automl::search::C1C2Config;
using automl::search::JobResult;
using automl::search::RangeCandidate;

// The plain sweep (tests/test_search_fixtures.h): d1n 0.03 0.45 0.75 0.71 0.15 and dnn 0.72
// 0.30 0 0.04 0.60 at 0.001 0.01 0.1 1 3, median(min d_s) 0.225, LR_top 0.1.
//   C1 = 5:  Thresh 0.17   -> LR_min 0.01, LR_max 1
//   C1 = 10: Thresh 0.085  -> LR_min 0.01, LR_max 1 (the same range)
//   C1 = 30: Thresh 0.0283 -> LR_min 0.001 (d1n 0.03), LR_max 0.1 (dnn(1) = 0.04 >= 0.0283)
// With C2 in {0.5, 1}: eps 0.1125 or 0.225. Distinct ranges in grid order (C1 major):
//   A (0.01 .. 1, eps 0.1125) from (5, 0.5), (10, 0.5);  B (0.01 .. 1, 0.225) from (5, 1), (10, 1);
//   C (0.001 .. 0.1, 0.1125) from (30, 0.5);        D (0.001 .. 0.1, 0.225) from (30, 1).
// max_candidates 3 keeps indices 0, round(1.5) = 2, 3 of the four: A, C, D.
TEST_CASE("C1/C2 candidates are the distinct ranges of the grid", "[search][c1c2]") {
  automl::search::LrrtConfig lrrt;
  lrrt.mode = "full";
  lrrt.lrs = {0.001, 0.01, 0.1, 1, 3};
  lrrt.trials = 2;
  lrrt.epochs_per_trial = 3;
  const auto table = automl::search::build_lrrt_table(lrrt, automl::test::plain_sweep_results());
  C1C2Config config;
  config.c1_grid = {5, 10, 30};
  config.c2_grid = {0.5, 1};
  config.max_candidates = 8;
  const auto all = automl::search::c1c2_candidates(lrrt, config, table);
  REQUIRE(all.size() == 4);
  CHECK(all[0].range.lr_min == 0.01);
  CHECK(all[0].range.lr_max == 1);
  CHECK(all[0].range.lr_top == 0.1);
  CHECK(all[0].range.eps == Approx(0.1125));
  CHECK(all[0].c1c2 == std::vector<std::pair<double, double>>{{5, 0.5}, {10, 0.5}});
  CHECK(all[1].range.eps == Approx(0.225));
  CHECK(all[2].range.lr_min == 0.001);
  CHECK(all[2].range.lr_max == 0.1);
  CHECK(all[2].c1c2 == std::vector<std::pair<double, double>>{{30, 0.5}});
  CHECK(all[3].range.lr_min == 0.001);
  CHECK(all[3].range.eps == Approx(0.225));

  config.max_candidates = 3;
  const auto kept = automl::search::c1c2_candidates(lrrt, config, table);
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].c1c2 == all[0].c1c2);
  CHECK(kept[1].c1c2 == all[2].c1c2);
  CHECK(kept[2].c1c2 == all[3].c1c2);
  CHECK(kept[2].id == 2);
}

TEST_CASE("C1/C2 successive halving schedule", "[search][c1c2]") {
  C1C2Config config;  // min 2, max 8 epochs, eta 2
  // 8 candidates: 8 x 2, 4 x 4, 2 x 8 epochs -> 48 epochs, then one is left.
  const auto rounds = automl::search::c1c2_schedule(config, 8);
  REQUIRE(rounds.size() == 3);
  CHECK(rounds[0].epochs == 2);
  CHECK(rounds[1].epochs == 4);
  CHECK(rounds[2].epochs == 8);
  config.max_epochs = 5;  // capped: 2, 4, 5
  CHECK(automl::search::c1c2_schedule(config, 8)[2].epochs == 5);
  CHECK(automl::search::c1c2_schedule(config, 1).empty());  // one candidate needs no run
  config.eta = 3;  // 7 -> floor(7/3) = 2 -> floor(2/3) -> 1: two rounds, 2 and 5 epochs
  const auto thirds = automl::search::c1c2_schedule(config, 7);
  REQUIRE(thirds.size() == 2);
  CHECK(thirds[1].epochs == 5);  // min(5, 2 * 3)
}

namespace {

// Eight ranges around a known best (candidate 5: LR_max 0.3, eps 0.01). The synthetic
// validation accuracy falls with the log-distance from it and rises with the epochs run.
std::vector<RangeCandidate> synthetic_candidates() {
  const double lr_max[] = {0.05, 0.1, 0.2, 0.5, 1.0, 0.3, 0.3, 0.3};
  const double eps[] = {0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.1, 0.001};
  std::vector<RangeCandidate> candidates;
  for (int i = 0; i < 8; ++i) {
    RangeCandidate c;
    c.id = i;
    c.range = {1e-4, lr_max[i], 0.01, eps[i]};
    candidates.push_back(c);
  }
  return candidates;
}

double synthetic_accuracy(const automl::trials::PolicyConfig& policy, int epochs) {
  const double a = std::log10(policy.lr_max / 0.3), b = std::log10(policy.eps / 0.01);
  return (0.9 - 0.1 * a * a - 0.05 * b * b) * epochs / (epochs + 1.0);
}

}  // namespace

TEST_CASE("C1/C2 search picks the known best and keeps to its budget", "[search][c1c2]") {
  const C1C2Config config;  // 8 candidates: 48 epochs promised (schedule test)
  automl::trials::TrialConfig base;
  base.seed = 9;
  const auto candidates = synthetic_candidates();
  auto search = automl::search::replay_c1c2(config, candidates, {}, false);
  const int promised = search.planned_epochs;
  CHECK(promised == 48);

  std::vector<JobResult> results;
  int spent = 0, rounds = 0;
  for (;;) {
    const auto jobs = automl::search::plan_c1c2_round(config, base, search);
    if (jobs.empty()) break;
    ++rounds;
    for (const auto& job : jobs) {
      CHECK(job.stage == automl::Stage::c1c2);
      CHECK(job.config.policy.name == "mi");
      CHECK(job.config.data.validation_fraction == config.validation_fraction);
      CHECK_FALSE(job.config.evaluate_test);  // never the test set
      CHECK(job.config.seed == 9);
      spent += job.config.epochs;
      results.push_back(automl::test::validated(
          job.label, job.config.epochs, synthetic_accuracy(job.config.policy, job.config.epochs)));
    }
    search = automl::search::replay_c1c2(config, candidates, results, false);
  }
  CHECK(rounds == 3);
  CHECK(spent <= promised);
  CHECK(search.finished);
  CHECK(search.best == 5);
  CHECK(automl::search::c1c2_best(search).range.lr_max == 0.3);
  CHECK(search.rounds[0].kept.size() == 4);
  CHECK(search.rounds[1].kept.size() == 2);
  CHECK(search.rounds[2].kept == std::vector<int>{5});
  for (const auto& candidate : search.candidates) CHECK_FALSE(candidate.scores.empty());
  CHECK(search.candidates[5].scores.size() == 3);

  const nlohmann::json stored = search;
  CHECK(stored["candidates"].size() == 8);
  CHECK(stored["best"] == 5);
  CHECK(stored["candidates"][5]["score"].get<double>() == Approx(0.9 * 8 / 9.0));
}

TEST_CASE("C1/C2 search resumes from partial results and drops crashed candidates",
          "[search][c1c2]") {
  const C1C2Config config;
  const auto candidates = synthetic_candidates();
  // Round 0 is complete except candidate 7; candidate 0 crashed.
  std::vector<JobResult> results;
  for (int i = 0; i < 7; ++i)
    results.push_back(automl::test::validated(automl::search::c1c2_label(0, i), 2, 0.1 * (i + 1)));
  results[0].status = automl::TrialStatus::crashed;
  auto search = automl::search::replay_c1c2(config, candidates, results, false);
  CHECK_FALSE(search.rounds[0].scored);
  auto jobs = automl::search::plan_c1c2_round(config, automl::trials::TrialConfig{}, search);
  CHECK(jobs.size() == 8);  // the round is planned again; the engine skips labels it has

  // With candidate 7 at 0.05, round 1 runs the best four of round 0: 6, 5, 4, 3.
  results.push_back(automl::test::validated(automl::search::c1c2_label(0, 7), 2, 0.05));
  search = automl::search::replay_c1c2(config, candidates, results, false);
  CHECK(search.rounds[0].scored);
  CHECK(search.rounds[0].kept == std::vector<int>{6, 5, 4, 3});
  CHECK(std::isinf(search.candidates[0].score()));
  jobs = automl::search::plan_c1c2_round(config, automl::trials::TrialConfig{}, search);
  REQUIRE(jobs.size() == 4);
  CHECK(jobs[0].label == "c1c2/r=1/c=6");
  CHECK(jobs[0].config.epochs == 4);
}

TEST_CASE("Validation score: accuracy, or -MAE for regression, -inf when not done",
          "[search][c1c2]") {
  const auto result = automl::test::validated("x", 3, 0.8, 1.5);
  CHECK(automl::search::validation_score(result, false) == Approx(0.8));
  CHECK(automl::search::validation_score(result, true) == Approx(-1.5));
  auto failed = result;
  failed.status = automl::TrialStatus::failed;
  CHECK(std::isinf(automl::search::validation_score(failed, false)));
}
