// Algorithm 2 on hand-made tables D: every expected number below is computed by hand in the
// comments from the fabricated epoch records (tests/test_search_fixtures.h).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "search/search.h"
#include "test_search_fixtures.h"

using automl::search::build_lrrt_table;
using automl::search::decide_lrrt;
using automl::search::JobResult;
using automl::search::lrrt_label;
using automl::search::LrrtConfig;
using automl::test::crashed;
using automl::test::done;
using automl::test::plain_sweep_results;
using automl::test::Story;

namespace {

LrrtConfig config_with(std::vector<double> lrs, int trials) {
  LrrtConfig config;
  config.mode = "full";
  config.lrs = std::move(lrs);
  config.trials = trials;
  config.epochs_per_trial = 3;
  return config;
}

}  // namespace

TEST_CASE("LRRT candidates: a list, or a log-spaced range rounded to 3 digits", "[search][lrrt]") {
  LrrtConfig config;
  config.lr_low = 1e-4;
  config.lr_high = 1;
  config.lr_count = 5;  // one per decade
  CHECK(automl::search::lrrt_candidate_lrs(config) ==
        std::vector<double>{1e-4, 1e-3, 1e-2, 1e-1, 1});
  config.lr_count = 13;  // three per decade: 10^(1/3) = 2.1544, 10^(2/3) = 4.6416
  const auto lrs = automl::search::lrrt_candidate_lrs(config);
  REQUIRE(lrs.size() == 13);
  CHECK(lrs[1] == 0.000215);
  CHECK(lrs[2] == 0.000464);
  CHECK(lrs[3] == 0.001);
  CHECK(lrs[12] == 1.0);

  config.lrs = {0.1, 0.01};
  CHECK_THROWS_AS(automl::search::lrrt_candidate_lrs(config), std::invalid_argument);
  config.lrs = {};
  config.epochs_per_trial = 1;  // min(d_s) needs epochs 2..
  CHECK_THROWS_WITH(automl::search::validate_lrrt_config(config),
                    Catch::Contains("lrrt.epochs_per_trial"));
}

TEST_CASE("LRRT mode: auto resolves by the budget flag, quick is 2 trials x 3 epochs",
          "[search][lrrt]") {
  LrrtConfig config;  // mode auto, trials 3, epochs 5, c2 1, quick 2 x 3 with c2 0.05
  const auto quick = automl::search::resolve_lrrt_mode(config, true);
  CHECK(quick.mode == "quick");
  CHECK(quick.trials == 2);
  CHECK(quick.epochs_per_trial == 3);
  CHECK(quick.c2 == 0.05);
  CHECK(automl::search::resolve_lrrt_mode(quick, false).trials == 2);  // idempotent
  const auto full = automl::search::resolve_lrrt_mode(config, false);
  CHECK(full.mode == "full");
  CHECK(full.trials == 3);
  CHECK(full.epochs_per_trial == 5);
  CHECK(full.c2 == 1);
  config.mode = "off";
  CHECK(automl::search::resolve_lrrt_mode(config, true).mode == "off");
  CHECK_THROWS(automl::search::plan_lrrt(LrrtConfig{}, automl::trials::TrialConfig{}));
}

TEST_CASE("LRRT plan: one constant-LR SGD job per trial and LR, seed = trial", "[search][lrrt]") {
  auto config = config_with({0.01, 0.1, 1}, 1);
  config.mode = "quick";  // 2 trials x 3 epochs
  automl::trials::TrialConfig base;
  base.optimizer.name = "adam";
  base.optimizer.momentum = 0.8;
  base.optimizer.nesterov = true;
  base.policy.name = "step";
  base.epochs = 50;
  base.seed = 42;
  const auto jobs = automl::search::plan_lrrt(config, base);
  REQUIRE(jobs.size() == 6);
  CHECK(jobs[0].label == "lrrt/t=1/lr=0.01");
  CHECK(jobs[5].label == "lrrt/t=2/lr=1");
  for (const auto& job : jobs) {
    CHECK(job.stage == automl::Stage::lrrt);
    CHECK(job.config.optimizer.name == "sgd");
    CHECK(job.config.optimizer.momentum == 0.8);  // the experiment's momentum and Nesterov
    CHECK(job.config.optimizer.nesterov);
    CHECK(job.config.policy.name == "constant");
    CHECK(job.config.epochs == 3);
    CHECK(job.config.mi.enabled);
    CHECK_FALSE(job.config.evaluate_test);
  }
  CHECK(jobs[1].config.optimizer.lr == 0.1);
  CHECK(jobs[1].config.seed == 1);  // same seed = same initial weights for every LR of trial 1
  CHECK(jobs[4].config.seed == 2);
}

// plain_sweep_results (tests/test_search_fixtures.h) holds the hand computation.
TEST_CASE("LRRT plain sweep: table D, bounds and eps by hand", "[search][lrrt]") {
  const auto config = config_with({0.001, 0.01, 0.1, 1, 3}, 2);
  auto results = plain_sweep_results();
  std::reverse(results.begin(), results.end());  // matched by label, not by order
  const auto table = build_lrrt_table(config, results);
  REQUIRE(table.rows.size() == 10);
  CHECK(table.dropped.empty());
  CHECK(table.rows[0].trial == 1);
  CHECK(table.rows[0].lr == 0.001);
  CHECK(table.rows[0].initial_accuracy == Approx(0.1));  // the epoch-0 record
  CHECK(table.rows[0].final_accuracy == Approx(0.12));
  CHECK(table.rows[0].initial_loss == Approx(2.3));
  CHECK(table.rows[0].final_loss == Approx(0.8));  // 2.3 - 0.5 * 3
  CHECK(table.rows[0].initial_ity == Approx(0.5));
  CHECK(table.rows[0].min_d_s == Approx(0.1));
  CHECK(table.rows[8].min_d_s == Approx(-0.1));
  REQUIRE(table.per_lr.size() == 5);
  CHECK(table.per_lr[1].completed == 2);
  CHECK(table.per_lr[1].final_accuracy == Approx(0.55));

  const auto decision = decide_lrrt(config, table);
  REQUIRE(decision.attributes.size() == 1);
  const auto& bounds = decision.attributes[0];
  CHECK(bounds.maxval == Approx(0.85));
  CHECK(bounds.thresh == Approx(0.085));
  CHECK(bounds.d1n[0] == Approx(0.03));
  CHECK(bounds.dnn[3] == Approx(0.04));
  CHECK(decision.chosen_attribute == "train_accuracy");
  CHECK(decision.range.lr_top == 0.1);
  CHECK(decision.range.lr_min == 0.01);
  CHECK(decision.range.lr_max == 1);
  CHECK(decision.median_min_d_s == Approx(0.225));
  CHECK(decision.range.eps == Approx(0.225));
  CHECK(decision.warnings.empty());

  // C1 = 30: Thresh = 0.85 / 30 = 0.02833: 0.001's d1n 0.03 clears it, so LR_min = 0.001, and
  // 1's dnn 0.04 no longer stays below it, so LR_max = 0.1. C2 = 0.5 halves eps.
  const auto wide = decide_lrrt(config, table, 30, 0.5);
  CHECK(wide.range.lr_min == 0.001);
  CHECK(wide.range.lr_max == 0.1);
  CHECK(wide.range.eps == Approx(0.1125));

  const nlohmann::json stored = {{"table", table}, {"decision", decision}};
  CHECK(stored["table"]["rows"].size() == 10);
  CHECK(stored["decision"]["range"]["lr_max"] == 1.0);
  CHECK(stored["decision"]["attributes"][0]["thresh"].get<double>() == Approx(0.085));
}

// Three trials, LRs 0.01 0.1 1 10, final accuracies (initial 0.1):
//   trial 1: 0.2  0.7  0.9  crashed
//   trial 2: 0.3  0.8  crashed  0.99 (done, but after the crash at 1: dropped by the break)
//   trial 3: 0.25 0.75 0.8  crashed
// Means over completing trials: 0.01 -> 0.25, 0.1 -> 0.75, 1 -> (0.9 + 0.8) / 2 = 0.85,
// 10 -> completed in no trial = crashed. MAXVAL = 0.85, LR_top = 1, Thresh = 0.085,
// LR_min = 0.01 (d1n 0.15), LR_max = 1 (the only LR above is crashed).
// Without the break, 10 would average 0.99 and be LR_top.
TEST_CASE("LRRT with crashes in some trials", "[search][lrrt]") {
  const auto config = config_with({0.01, 0.1, 1, 10}, 3);
  auto story = [](double accuracy) {
    Story s;
    s.final_accuracy = accuracy;
    return s;
  };
  const std::vector<JobResult> results = {done("lrrt/t=1/lr=0.01", story(0.2)),
                                          done("lrrt/t=1/lr=0.1", story(0.7)),
                                          done("lrrt/t=1/lr=1", story(0.9)),
                                          crashed("lrrt/t=1/lr=10"),
                                          done("lrrt/t=2/lr=0.01", story(0.3)),
                                          done("lrrt/t=2/lr=0.1", story(0.8)),
                                          crashed("lrrt/t=2/lr=1"),
                                          done("lrrt/t=2/lr=10", story(0.99)),
                                          done("lrrt/t=3/lr=0.01", story(0.25)),
                                          done("lrrt/t=3/lr=0.1", story(0.75)),
                                          done("lrrt/t=3/lr=1", story(0.8)),
                                          crashed("lrrt/t=3/lr=10")};
  const auto table = build_lrrt_table(config, results);
  CHECK(table.rows.size() == 8);
  REQUIRE(table.dropped.size() == 4);
  CHECK(table.dropped[0].trial == 1);
  CHECK(table.dropped[0].reason == "crashed");
  CHECK(table.dropped[1].trial == 2);
  CHECK(table.dropped[1].lr == 1);
  CHECK(table.dropped[1].reason == "crashed");
  CHECK(table.dropped[2].lr == 10);
  CHECK(table.dropped[2].reason == "break");
  CHECK(table.per_lr[2].completed == 2);
  CHECK(table.per_lr[2].final_accuracy == Approx(0.85));
  CHECK(table.per_lr[3].crashed());

  const auto decision = decide_lrrt(config, table);
  CHECK(decision.range.lr_top == 1);
  CHECK(decision.range.lr_min == 0.01);
  CHECK(decision.range.lr_max == 1);
  CHECK(decision.attributes[0].maxval == Approx(0.85));
}

// The break removes the larger LRs of that trial only. LRs 0.01 0.1 1, two trials:
//   trial 1: 0.2  crashed  0.95 (dropped by the break)
//   trial 2: 0.3  0.6      0.5
// Means: 0.01 -> 0.25, 0.1 -> 0.6 (trial 2 only), 1 -> 0.5 (trial 2 only).
// MAXVAL 0.6, LR_top 0.1, Thresh 0.06, dnn(1) = 0.1 >= 0.06 so LR_max = 0.1.
// (Keeping trial 1's 0.95 would make 1 the top with a mean of 0.725.)
TEST_CASE("LRRT break rule: a crash at LR_i drops LR_i and every larger LR of that trial only",
          "[search][lrrt]") {
  const auto config = config_with({0.01, 0.1, 1}, 2);
  auto story = [](double accuracy) {
    Story s;
    s.final_accuracy = accuracy;
    return s;
  };
  const std::vector<JobResult> results = {
      done("lrrt/t=1/lr=0.01", story(0.2)), crashed("lrrt/t=1/lr=0.1"),
      done("lrrt/t=1/lr=1", story(0.95)),   done("lrrt/t=2/lr=0.01", story(0.3)),
      done("lrrt/t=2/lr=0.1", story(0.6)),  done("lrrt/t=2/lr=1", story(0.5))};
  const auto table = build_lrrt_table(config, results);
  CHECK(table.rows.size() == 4);
  CHECK(table.per_lr[0].completed == 2);
  CHECK(table.per_lr[1].completed == 1);
  CHECK(table.per_lr[2].completed == 1);
  CHECK(table.per_lr[2].final_accuracy == Approx(0.5));
  const auto decision = decide_lrrt(config, table);
  CHECK(decision.range.lr_top == 0.1);
  CHECK(decision.range.lr_max == 0.1);
  CHECK(decision.range.lr_min == 0.01);
}

// One trial, finals 0.5 0.9 0.9 0.2 at 0.01 0.1 1 10: MAXVAL 0.9 is reached at 0.1 and at 1;
// LR_top is the smallest of them, 0.1. Thresh 0.09: LR_max = 1 (dnn 0), LR_min = 0.01 (d1n 0.4).
TEST_CASE("LRRT ties for MAXVAL: the smallest LR is LR_top", "[search][lrrt]") {
  const auto config = config_with({0.01, 0.1, 1, 10}, 1);
  const double finals[] = {0.5, 0.9, 0.9, 0.2};
  std::vector<JobResult> results;
  for (int i = 0; i < 4; ++i) {
    Story s;
    s.final_accuracy = finals[i];
    results.push_back(done(lrrt_label(1, config.lrs[static_cast<std::size_t>(i)]), s));
  }
  const auto decision = decide_lrrt(config, build_lrrt_table(config, results));
  CHECK(decision.range.lr_top == 0.1);
  CHECK(decision.range.lr_max == 1);
  CHECK(decision.range.lr_min == 0.01);
}

TEST_CASE("LRRT where every LR crashed: a clear error", "[search][lrrt]") {
  const auto config = config_with({0.5, 1, 2}, 2);
  // Trial 1 crashes at 0.5 (so 1 and 2 break), trial 2 crashes at every LR.
  const std::vector<JobResult> results = {crashed("lrrt/t=1/lr=0.5"), done("lrrt/t=1/lr=1", {}),
                                          crashed("lrrt/t=2/lr=0.5"), crashed("lrrt/t=2/lr=1"),
                                          crashed("lrrt/t=2/lr=2")};
  const auto table = build_lrrt_table(config, results);
  CHECK(table.rows.empty());
  CHECK_THROWS_AS(decide_lrrt(config, table), automl::search::LrrtError);
  CHECK_THROWS_AS(decide_lrrt(config, table), automl::InputError);
  CHECK_THROWS_WITH(decide_lrrt(config, table),
                    Catch::Contains("every candidate LR (0.5, 1, 2) crashed in every trial"));
}

// One trial, three LRs with d = -0.3, -0.1, 0.2: min(d_s) = min(0.5, d) = -0.3, -0.1, 0.2,
// median -0.1 <= 0. Then median(|min d_s|) = median(0.3, 0.1, 0.2) = 0.2, eps = C2 * 0.2 =
// 0.05 * 0.2 = 0.01 (quick C2), and a warning says so.
TEST_CASE("LRRT eps when median(min d_s) <= 0", "[search][lrrt]") {
  auto config = config_with({0.01, 0.1, 1}, 2);
  config.mode = "quick";  // 2 trials x 3 epochs, C2 = 0.05; trial 2 is all missing
  const double d[] = {-0.3, -0.1, 0.2};
  std::vector<JobResult> results;
  for (int i = 0; i < 3; ++i) {
    Story s;
    s.d = d[i];
    s.final_accuracy = 0.3 + 0.1 * i;
    results.push_back(done(lrrt_label(1, config.lrs[static_cast<std::size_t>(i)]), s));
  }
  const auto table = build_lrrt_table(config, results);
  CHECK(table.dropped.size() == 3);  // trial 2: missing
  const auto decision = decide_lrrt(config, table);
  CHECK(decision.c2 == 0.05);
  CHECK(decision.median_min_d_s == Approx(-0.1));
  CHECK(decision.range.eps == Approx(0.01));
  REQUIRE(decision.warnings.size() == 1);
  CHECK_THAT(decision.warnings[0], Catch::Contains("<= 0"));

  // The same numbers through the helper; an even count takes the mean of the middle two.
  CHECK(automl::search::lrrt_eps({-0.4, -0.2, 0.1, 0.3}, 1).eps == Approx(0.25));  // |.|: .2 .3
  CHECK(automl::search::lrrt_eps({0.4, 0.2, 0.1, 0.3}, 2).eps == Approx(0.5));     // 2 * .25
}

// attribute: both. LRs 0.01 0.1 1 10, one trial.
//   accuracy (initial 0.1): 0.5 0.9 0.7 0.1 -> MAXVAL 0.9, Thresh 0.09, LR_top 0.1,
//     dnn(1) = 0.2 >= 0.09 so LR_max = 0.1; LR_min = 0.01 (d1n 0.4).
//   ITY (initial 0.5): 1.0 1.7 2.0 0.6 -> MAXVAL 2.0, Thresh 0.2, LR_top 1, dnn(10) = 1.4 so
//     LR_max = 1; LR_min = 0.01 (d1n 0.5).
// ITY's LR_max (1) is the larger: its set is kept, (0.01, 1, top 1).
TEST_CASE("LRRT with two attributes that disagree keeps the larger LR_max", "[search][lrrt]") {
  auto config = config_with({0.01, 0.1, 1, 10}, 1);
  config.attribute = "both";
  const double accuracy[] = {0.5, 0.9, 0.7, 0.1};
  const double ity[] = {1.0, 1.7, 2.0, 0.6};
  std::vector<JobResult> results;
  for (int i = 0; i < 4; ++i) {
    Story s;
    s.final_accuracy = accuracy[i];
    s.final_ity = ity[i];
    results.push_back(done(lrrt_label(1, config.lrs[static_cast<std::size_t>(i)]), s));
  }
  const auto decision = decide_lrrt(config, build_lrrt_table(config, results));
  REQUIRE(decision.attributes.size() == 2);
  CHECK(decision.attributes[0].attribute == "train_accuracy");
  CHECK(decision.attributes[0].lr_max == 0.1);
  CHECK(decision.attributes[0].lr_top == 0.1);
  CHECK(decision.attributes[1].attribute == "ity");
  CHECK(decision.attributes[1].lr_max == 1);
  CHECK(decision.attributes[1].thresh == Approx(0.2));
  CHECK(decision.chosen_attribute == "ity");
  CHECK(decision.range.lr_min == 0.01);
  CHECK(decision.range.lr_max == 1);
  CHECK(decision.range.lr_top == 1);
}

// Regression, attribute neg_mae: initial MAE 10 everywhere, finals 8 2 5 at 0.01 0.1 1.
// A = mean initial MAE - MAE: initial 0, finals 2 8 5. MAXVAL 8, Thresh 0.8, LR_top 0.1,
// LR_min 0.01 (d1n 2), LR_max 0.1 (dnn(1) = 3 >= 0.8).
TEST_CASE("LRRT for regression on negative MAE", "[search][lrrt]") {
  auto config = config_with({0.01, 0.1, 1}, 1);
  config.attribute = "neg_mae";
  const double mae[] = {8, 2, 5};
  std::vector<JobResult> results;
  for (int i = 0; i < 3; ++i) {
    Story s;
    s.initial_accuracy = s.final_accuracy = 0;
    s.initial_mae = 10;
    s.final_mae = mae[i];
    results.push_back(done(lrrt_label(1, config.lrs[static_cast<std::size_t>(i)]), s));
  }
  const auto decision = decide_lrrt(config, build_lrrt_table(config, results));
  CHECK(decision.attributes[0].maxval == Approx(8));
  CHECK(decision.range.lr_top == 0.1);
  CHECK(decision.range.lr_min == 0.01);
  CHECK(decision.range.lr_max == 0.1);
}

// Layer-wise: groups "conv1" and "fc" carry their own ITY (initial 0.2 each).
//   conv1 finals 0.25 1.0 0.95 at 0.01 0.1 1: MAXVAL 1.0, Thresh 0.1, LR_top 0.1,
//     d1n(0.01) = 0.05 < 0.1 so LR_min = 0.1; dnn(1) = 0.05 so LR_max = 1.
//   fc finals 0.5 0.8 1.2: MAXVAL 1.2, Thresh 0.12, LR_top 1, LR_min 0.01 (d1n 0.3), LR_max 1.
// Each layer's min(d_s) = min((1.0 - 0.2) / 1.0, d) = d = 0.2 -> eps = C2 * 0.2 = 0.2.
TEST_CASE("Layer-wise LRRT gives one range per layer", "[search][lrrt]") {
  auto config = config_with({0.01, 0.1, 1}, 1);
  config.layerwise = true;
  const double conv1[] = {0.25, 1.0, 0.95};
  const double fc[] = {0.5, 0.8, 1.2};
  std::vector<JobResult> results;
  for (int i = 0; i < 3; ++i) {
    Story s;
    s.final_accuracy = 0.5;
    auto result = done(lrrt_label(1, config.lrs[static_cast<std::size_t>(i)]), s);
    for (auto& record : result.epochs) {
      const double layer_ity[] = {0.2, 1.0, 1.25, 0};
      automl::trials::GroupRecord a, b;
      a.name = "conv1";
      b.name = "fc";
      a.ity = record.epoch == 3 ? conv1[i] : layer_ity[record.epoch];
      b.ity = record.epoch == 3 ? fc[i] : layer_ity[record.epoch];
      record.groups = {a, b};
    }
    results.push_back(result);
  }
  const auto decision = decide_lrrt(config, build_lrrt_table(config, results));
  REQUIRE(decision.layers.size() == 2);
  CHECK(decision.layers[0].layer == "conv1");
  CHECK(decision.layers[0].range.lr_top == 0.1);
  CHECK(decision.layers[0].range.lr_min == 0.1);
  CHECK(decision.layers[0].range.lr_max == 1);
  CHECK(decision.layers[0].range.eps == Approx(0.2));
  CHECK(decision.layers[1].layer == "fc");
  CHECK(decision.layers[1].range.lr_top == 1);
  CHECK(decision.layers[1].range.lr_min == 0.01);
  CHECK(decision.layers[1].range.lr_max == 1);
}

// trials measures only ITY before training (epoch 0 carries no training loss): initial
// accuracy and loss are then epoch 1's. One trial, finals 0.5 0.9 at 0.01 0.1; epoch 1's
// accuracy is halfway from 0.1: 0.3 and 0.5, so d1n = 0.2 and 0.4. C1 = 4: Thresh = 0.225,
// LR_min = 0.1. (From the pre-training 0.1, d1n would be 0.4 and 0.8 and LR_min 0.01.)
TEST_CASE("LRRT initial values without a pre-training training loss", "[search][lrrt]") {
  const auto config = config_with({0.01, 0.1}, 1);
  const double finals[] = {0.5, 0.9};
  std::vector<JobResult> results;
  for (int i = 0; i < 2; ++i) {
    Story s;
    s.final_accuracy = finals[i];
    auto result = done(lrrt_label(1, config.lrs[static_cast<std::size_t>(i)]), s);
    result.epochs[0].train_loss = 0;  // not measured
    result.epochs[0].train_accuracy = 0;
    results.push_back(result);
  }
  const auto table = build_lrrt_table(config, results);
  CHECK(table.rows[0].initial_accuracy == Approx(0.3));
  CHECK(table.rows[0].initial_loss == Approx(1.8));  // epoch 1: 2.3 - 0.5
  CHECK(table.rows[0].initial_ity == Approx(0.5));   // still the pre-training ITY
  const auto decision = decide_lrrt(config, table, 4, 1);
  CHECK(decision.attributes[0].d1n[0] == Approx(0.2));
  CHECK(decision.range.lr_min == 0.1);
}
