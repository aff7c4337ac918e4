// The report's numbers are the database's: a database written through the Storage interface with
// known rows, and the table's cells checked against hand computations.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "report/report.h"
#include "report/svg.h"
#include "report/table_text.h"
#include "storage/storage.h"
#include "test_support.h"

using automl::Method;
using automl::Stage;
using automl::TrialStatus;
using automl::report::summarize;
using automl::storage::Storage;

namespace {

// The stored experiment: its data path does not exist here, which the report must not mind.
const char* const kExperimentYaml = R"(name: cmp
description: hand-made comparison
data: {path: /nonexistent/fashion-mnist}
report: {milestones: [0.8, 0.9]}
)";

// A finished trial of `stage` running `method`; an LRRT trial is repeat `repeat` at `lr`.
std::int64_t add_trial(Storage& db, std::int64_t experiment, Stage stage, Method method,
                       const std::string& label, std::uint64_t seed, TrialStatus status,
                       double device_seconds, double lr = 0, int repeat = 0) {
  automl::storage::TrialRow row;
  row.experiment_id = experiment;
  row.stage = stage;
  row.label = label;
  row.method = method;
  row.seed = seed;
  row.lr = lr;
  row.repeat = repeat;
  row.config = "{}";
  const auto id = db.add_trial(row);
  db.finish_trial(id, status, status == TrialStatus::done ? "" : "diverged", device_seconds, "{}");
  db.add_device_seconds(id, device_seconds);
  return id;
}

automl::storage::ResultRow result_row(Method method, std::uint64_t seed, std::int64_t trial,
                                      const std::string& label, double final_accuracy,
                                      double best_accuracy, double mae, TrialStatus status) {
  automl::storage::ResultRow r;
  r.method = method;
  r.seed = seed;
  r.trial_id = trial;
  r.label = label;
  r.lr = 0.01;
  r.final_test_accuracy = final_accuracy;
  r.best_test_accuracy = best_accuracy;
  r.final_test_mae = mae;
  r.status = status;
  return r;
}

void add_epochs(Storage& db, std::int64_t trial, const std::vector<double>& test_accuracy,
                const std::vector<double>& lrs) {
  for (std::size_t i = 0; i < test_accuracy.size(); ++i) {
    automl::storage::EpochRow e;
    e.trial_id = trial;
    e.epoch = static_cast<int>(i) + 1;
    e.lr = lrs[i];
    e.train_accuracy = test_accuracy[i] + 0.01;
    e.test_accuracy = test_accuracy[i];
    e.seconds = 10;
    db.add_epoch(e);
  }
}

struct Final {
  Method method;
  std::uint64_t seed;
  double final_accuracy, best_accuracy, device_seconds;
  TrialStatus status = TrialStatus::done;
};

// Tuning: LRRT 10 + 20 s, C1/C2 5 s, Adam's LR search 3 + 4 s, step decay's 6 s.
// Final runs: MI-SGD 0.90 / 0.92 / 0.85 (100, 110, 120 s); Adam 0.91 / 0.89 / 0.90 (50 s each);
// step decay 0.88 and one crashed run (60 + 30 s).
std::int64_t build_database(Storage& db) {
  const auto experiment = db.create_experiment("cmp", kExperimentYaml);
  add_trial(db, experiment, Stage::lrrt, Method::sgd, "lrrt/t=1/lr=0.01", 1, TrialStatus::done, 10,
            0.01, 1);
  add_trial(db, experiment, Stage::lrrt, Method::sgd, "lrrt/t=1/lr=0.1", 1, TrialStatus::crashed,
            20, 0.1, 1);
  add_trial(db, experiment, Stage::c1c2, Method::mi_sgd, "c1c2/r=0/c=0", 1, TrialStatus::done, 5);
  add_trial(db, experiment, Stage::baseline_search, Method::adam, "baseline_search/adam/lr=0.001",
            1, TrialStatus::done, 3, 0.001);
  add_trial(db, experiment, Stage::baseline_search, Method::adam, "baseline_search/adam/lr=0.01", 1,
            TrialStatus::done, 4, 0.01);
  add_trial(db, experiment, Stage::baseline_search, Method::step, "baseline_search/step/lr=0.1", 1,
            TrialStatus::done, 6, 0.1);
  const std::vector<Final> finals = {{Method::mi_sgd, 1, 0.90, 0.905, 100},
                                     {Method::mi_sgd, 2, 0.92, 0.925, 110},
                                     {Method::mi_sgd, 3, 0.85, 0.86, 120},
                                     {Method::adam, 1, 0.91, 0.915, 50},
                                     {Method::adam, 2, 0.89, 0.90, 50},
                                     {Method::adam, 3, 0.90, 0.93, 50},
                                     {Method::step, 1, 0.88, 0.88, 60},
                                     {Method::step, 2, 0.20, 0.30, 30, TrialStatus::crashed}};
  // The stages that store them: the LRRT its table D and bounds, the final stages their results.
  automl::storage::StageDecision lrrt, mi_sgd, baseline;
  lrrt.stage = Stage::lrrt;
  mi_sgd.stage = Stage::mi_sgd;
  baseline.stage = Stage::baseline;
  for (const auto& f : finals) {
    const bool mi = f.method == Method::mi_sgd;
    const auto label = mi ? fmt::format("mi_sgd/seed={}", f.seed)
                          : fmt::format("baseline/{}/seed={}", automl::name(f.method), f.seed);
    const auto id = add_trial(db, experiment, mi ? Stage::mi_sgd : Stage::baseline, f.method, label,
                              f.seed, f.status, f.device_seconds);
    (mi ? mi_sgd : baseline)
        .results.push_back(result_row(f.method, f.seed, id, label, f.final_accuracy,
                                      f.best_accuracy, 0, f.status));
    // The best MI-SGD run reaches 80 % at epoch 2 and 90 % at epoch 3.
    if (mi && f.seed == 2) add_epochs(db, id, {0.70, 0.82, 0.91, 0.92}, {0.1, 0.05, 0.02, 0.01});
  }
  lrrt.lrrt_table = {{1, 0.01, false, 0.01, 2.3, 0.5, 0.1, 1.9, 0.1, 0.85},
                     {1, 0.1, true, 0, 0, 0, 0, 0, 0, 0}};
  lrrt.lrrt_bounds = {{"model", "train_accuracy", 0.001, 0.05, 0.01, 0.002, ""}};
  for (auto* decision : {&lrrt, &mi_sgd, &baseline}) {
    decision->experiment_id = experiment;
    db.save_decision(*decision);
  }
  return experiment;
}

const automl::report::MethodSummary& method(const automl::report::ExperimentSummary& s,
                                            Method wanted) {
  for (const auto& m : s.methods)
    if (m.method == wanted) return m;
  FAIL("no method " << automl::name(wanted));
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("mean_sd is the sample standard deviation", "[report]") {
  const auto [mean, sd] = automl::report::mean_sd({2, 4, 4, 4, 5, 5, 7, 9});
  CHECK(mean == Approx(5));
  CHECK(sd == Approx(std::sqrt(32.0 / 7)));  // squares sum to 32, n - 1 = 7
  CHECK(automl::report::mean_sd({3}).second == 0);
}

TEST_CASE("The report's table equals what the database holds", "[report]") {
  automl::test::TempDir dir;
  const auto db = automl::storage::open_sqlite(dir.file("r.db"));
  build_database(*db);
  const auto s = summarize(*db, *db->find_experiment("cmp"));

  CHECK(s.description == "hand-made comparison");
  CHECK_FALSE(s.regression);
  REQUIRE(s.milestones == std::vector<double>{0.8, 0.9});
  REQUIRE(s.methods.size() == 3);
  CHECK(s.methods[0].method == Method::mi_sgd);  // MI-SGD first, then the baselines in SPEC order
  CHECK(s.methods[1].method == Method::adam);
  CHECK(s.methods[2].method == Method::step);

  const auto& mi = method(s, Method::mi_sgd);
  CHECK(mi.runs == 3);
  CHECK(mi.best == Approx(0.92));
  CHECK(mi.best_seed == 2);
  CHECK(mi.mean == Approx(0.89));  // (0.90 + 0.92 + 0.85) / 3
  // deviations 0.01, 0.03, -0.04: squares 0.0026, / (3 - 1) = 0.0013
  CHECK(mi.sd == Approx(std::sqrt(0.0013)));
  CHECK(mi.peak == Approx(0.925));
  REQUIRE(mi.milestone_epochs.size() == 2);
  CHECK(mi.milestone_epochs[0] == 2);
  CHECK(mi.milestone_epochs[1] == 3);
  CHECK(mi.run_seconds == Approx(330));
  CHECK(mi.tuning_seconds == Approx(35));  // LRRT 10 + 20, C1/C2 5
  CHECK(mi.total_seconds() == Approx(365));

  const auto& adam = method(s, Method::adam);
  CHECK(adam.best == Approx(0.91));
  CHECK(adam.best_seed == 1);
  CHECK(adam.mean == Approx(0.90));
  CHECK(adam.sd == Approx(0.01));  // squares 0.0002 / 2
  CHECK(adam.peak == Approx(0.93));
  CHECK(adam.tuning_seconds == Approx(7));
  CHECK(adam.total_seconds() == Approx(157));

  const auto& step = method(s, Method::step);
  CHECK(step.runs == 1);
  CHECK(step.crashed == 1);
  CHECK(step.best == Approx(0.88));
  CHECK(step.sd == 0);
  CHECK(step.run_seconds == Approx(90));  // the crashed run's time counts too
  CHECK(step.tuning_seconds == Approx(6));

  CHECK(s.total_seconds == Approx(618));
  CHECK(s.stage_seconds.at(Stage::lrrt) == Approx(30));
  REQUIRE(s.lrrt_bounds.size() == 1);
  CHECK(s.lrrt_bounds[0].lr_max == 0.05);
}

TEST_CASE("The terminal table prints those numbers", "[report]") {
  automl::test::TempDir dir;
  const auto db = automl::storage::open_sqlite(dir.file("r.db"));
  build_database(*db);
  const auto s = summarize(*db, *db->find_experiment("cmp"));
  const auto rows = automl::report::table_rows(s);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<std::string>{"MI-SGD", "3", "92.00 (2)", "89.00 +- 3.61", "92.50",
                                            "2", "3", "330.0", "35.0", "365.0"});
  CHECK(rows[1] == std::vector<std::string>{"Adam", "3", "91.00 (1)", "90.00 +- 1.00", "93.00", "-",
                                            "-", "150.0", "7.0", "157.0"});
  CHECK(rows[2][1] == "1 (+1 failed)");
  CHECK(rows[2][3] == "88.00 +- n/a");
  std::ostringstream text;
  automl::report::print_table(s, text);
  CHECK_THAT(text.str(), Catch::Contains("experiment cmp") && Catch::Contains("89.00 +- 3.61") &&
                             Catch::Contains("total 618.0") &&
                             Catch::Contains("LR_min 0.001, LR_max 0.05, LR_top 0.01"));
}

TEST_CASE("The report never writes to the database", "[report]") {
  automl::test::TempDir dir;
  const auto path = dir.file("r.db");
  {
    const auto db = automl::storage::open_sqlite(path);
    build_database(*db);
  }
  const auto before = std::filesystem::last_write_time(path);
  const auto size = std::filesystem::file_size(path);
  const auto db = automl::storage::open_sqlite(path);
  const auto s = summarize(*db, *db->find_experiment("cmp"));
  automl::report::html_report({s});
  CHECK(db->query("SELECT COUNT(*) FROM results").rows.at(0).at(0) == "8");
  CHECK(std::filesystem::file_size(path) == size);
  CHECK(std::filesystem::last_write_time(path) == before);
}

TEST_CASE("A regression experiment reports MAE, lower is better", "[report]") {
  automl::test::TempDir dir;
  const auto db = automl::storage::open_sqlite(dir.file("r.db"));
  const auto experiment =
      db->create_experiment("reg",
                            "name: reg\ndata: {format: csv, path: /none.csv, targets: [y]}\n"
                            "report: {milestones: [50]}\n");
  automl::storage::StageDecision decision;
  decision.experiment_id = experiment;
  decision.stage = Stage::baseline;
  const std::vector<double> maes = {48, 44, 52};
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const auto label = fmt::format("baseline/adam/seed={}", seed);
    const auto id = add_trial(*db, experiment, Stage::baseline, Method::adam, label, seed,
                              TrialStatus::done, 1);
    decision.results.push_back(
        result_row(Method::adam, seed, id, label, 0, 0, maes[seed - 1], TrialStatus::done));
    automl::storage::EpochRow e;
    e.trial_id = id;
    e.epoch = 1;
    e.test_mae = maes[seed - 1] + 10;
    db->add_epoch(e);
    e.epoch = 2;
    e.test_mae = maes[seed - 1];
    db->add_epoch(e);
  }
  db->save_decision(decision);
  const auto s = summarize(*db, *db->find_experiment("reg"));
  REQUIRE(s.regression);
  const auto& adam = method(s, Method::adam);
  CHECK(adam.best == 44);
  CHECK(adam.best_seed == 2);
  CHECK(adam.mean == Approx(48));
  CHECK(adam.sd == Approx(4));           // deviations 0, -4, 4: 32 / 2 = 16
  CHECK(adam.peak == 44);                // lowest MAE of any epoch
  CHECK(adam.milestone_epochs[0] == 2);  // seed 2: 54 at epoch 1, 44 <= 50 at epoch 2
}

TEST_CASE("Axis ticks are round numbers inside the range", "[report]") {
  using automl::report::axis_ticks;
  const auto close_to = [](const std::vector<double>& got, const std::vector<double>& want) {
    if (got.size() != want.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i)
      if (std::abs(got[i] - want[i]) > 1e-12 * std::max(1.0, std::abs(want[i]))) return false;
    return true;
  };
  CHECK(close_to(axis_ticks(0, 1, false), {0, 0.2, 0.4, 0.6, 0.8, 1}));
  CHECK(close_to(axis_ticks(3, 47, false), {10, 20, 30, 40}));
  CHECK(close_to(axis_ticks(1e-4, 1, true), {1e-4, 1e-3, 1e-2, 1e-1, 1}));
  // two decades or less: 1, 2, 5 within each
  CHECK(close_to(axis_ticks(0.01, 0.5, true), {0.01, 0.02, 0.05, 0.1, 0.2, 0.5}));
}

TEST_CASE("Charts escape their text and draw every series", "[report]") {
  automl::report::Chart chart("a <b> & c", "x", "y");
  chart.add({"one", {1, 2, 3}, {1, 4, 9}, {}, ""});
  chart.add({"two", {1, 2}, {2, 3}, {}, ""});
  const auto svg = chart.svg();
  CHECK_THAT(svg, Catch::Contains("a &lt;b&gt; &amp; c") && Catch::Contains(">one<") &&
                      Catch::Contains(">two<"));
  std::size_t lines = 0;
  for (auto at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1))
    ++lines;
  CHECK(lines == 2);
  CHECK_THAT(automl::report::Chart("empty", "x", "y").svg(), Catch::Contains("no data"));
}

TEST_CASE("Figure 1 comes from `automl mi-curve` CSV, or a note says how to get it", "[report]") {
  automl::test::TempDir dir;
  const auto csv = dir.file("curve.csv");
  automl::test::write_text(csv,
                           "# 1000 rows, dX = 784, dY = 10\nn,mean_nats,sd_nats,repeats\n"
                           "100,1.1,0.05,5\n300,1.2,0.04,5\n1000,1.27,0.02,5\n");
  automl::report::ReportOptions options;
  CHECK_THAT(automl::report::html_report({}, options),
             Catch::Contains("No MI curve given") && !Catch::Contains("<polyline"));
  options.mi_curve_files = {csv};
  const auto html = automl::report::html_report({}, options);
  CHECK_THAT(html, Catch::Contains("MI vs sample size") && Catch::Contains("<polyline") &&
                       !Catch::Contains("No MI curve given"));
  automl::test::write_text(csv, "n,mean_nats,sd_nats,repeats\n100,1.1,0.05,5\n300,oops\n");
  CHECK_THROWS_WITH(automl::report::html_report({}, options),
                    Catch::Contains(csv + ":3") && Catch::Contains("n,mean_nats,sd_nats"));
}

TEST_CASE("An experiment stopped before the LRRT's decision still shows its runs", "[report]") {
  automl::test::TempDir dir;
  const auto db = automl::storage::open_sqlite(dir.file("r.db"));
  const auto experiment = db->create_experiment("cut", "name: cut\n");
  const auto a = add_trial(*db, experiment, Stage::lrrt, Method::sgd, "lrrt/t=2/lr=0.03", 2,
                           TrialStatus::done, 1, 0.03, 2);
  add_epochs(*db, a, {0.5, 0.6, 0.7}, {0.03, 0.03, 0.03});  // train accuracy = test + 0.01
  add_trial(*db, experiment, Stage::lrrt, Method::sgd, "lrrt/t=2/lr=0.3", 2, TrialStatus::crashed,
            1, 0.3, 2);
  const auto s = summarize(*db, *db->find_experiment("cut"));
  CHECK(s.methods.empty());
  CHECK(s.lrrt_undecided);
  REQUIRE(s.lrrt_table.size() == 2);
  CHECK(s.lrrt_table[0].trial == 2);
  CHECK(s.lrrt_table[0].lr == 0.03);
  CHECK(s.lrrt_table[0].final_accuracy == Approx(0.71));
  CHECK_FALSE(s.lrrt_table[0].crashed);
  CHECK(s.lrrt_table[1].crashed);
  CHECK_THAT(automl::report::html_report({s}),
             Catch::Contains("No final runs recorded yet") && Catch::Contains("(undecided)"));
}
