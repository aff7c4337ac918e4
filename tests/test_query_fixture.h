#pragma once
// A small database written through the Storage interface for the query-view and dashboard
// tests: an LRRT trial that never evaluates the test set, a final MI-SGD run with its epoch-0
// record, a running Adam baseline without MI, a regression trial, table D with a crashed row,
// the LRRT's bounds, C1/C2 candidates with a crashed one, and one result.
#include <string>

#include "storage/storage.h"

namespace automl::test {

struct ViewsDb {
  std::string path;
  std::int64_t experiment = 0;
  std::int64_t lrrt_trial = 0, mi_trial = 0, adam_trial = 0, regression_trial = 0;
};

inline const char* const kViewsExperimentYaml = R"(name: views
data: {path: /nonexistent/fashion-mnist}
budget: {device_minutes: 10}
)";

inline storage::EpochRow epoch_row(std::int64_t trial, int epoch, double scale) {
  storage::EpochRow e;
  e.trial_id = trial;
  e.epoch = epoch;
  // What a trial writes: epoch 0 holds no LR and no training metrics (they stay 0).
  e.lr = epoch > 0 ? 0.1 / (epoch * 3.0) : 0;
  e.train_loss = epoch > 0 ? 1.0 / (epoch + scale) : 0;
  e.train_accuracy = epoch > 0 ? 0.5 + 0.123456789 * epoch * scale : 0;
  e.test_loss = 1.1 / (epoch + 1 + scale);
  e.test_accuracy = 0.4 + 0.0987654321 * epoch * scale;
  e.ity = 0.3 + 0.11111111111 * epoch;
  e.seconds = 0.5 + epoch / 7.0;
  e.mi_seconds = 0.01 * (epoch + 1);
  e.bound = 2.302585092994046;
  storage::EpochGroupRow g;
  g.name = "model";
  g.lr = e.lr;
  g.ity = e.ity;
  g.d_p = epoch > 0 ? 0.25 * epoch : 0;
  g.d_s = epoch > 0 ? 0.01 * epoch : 0;
  g.decision = epoch > 0 ? "dp" : "initial";
  e.groups.push_back(g);
  return e;
}

// Writes the database into `path`.
inline ViewsDb make_views_db(const std::string& path) {
  ViewsDb out;
  out.path = path;
  auto db = storage::open_sqlite(path);
  out.experiment = db->create_experiment("views", kViewsExperimentYaml);
  auto trial = [&](Stage stage, Method method, const std::string& label, const std::string& config,
                   double lr, int repeat) {
    storage::TrialRow row;
    row.experiment_id = out.experiment;
    row.stage = stage;
    row.method = method;
    row.label = label;
    row.seed = 1;
    row.lr = lr;
    row.repeat = repeat;
    row.config = config;
    row.estimated_seconds = 4;
    return db->add_trial(row);
  };
  out.lrrt_trial =
      trial(Stage::lrrt, Method::sgd, "lrrt/t=1/lr=0.01",
            R"({"epochs": 2, "evaluate_test": false, "data": {"format": "idx"}})", 0.01, 1);
  out.mi_trial =
      trial(Stage::mi_sgd, Method::mi_sgd, "mi_sgd/seed=1",
            R"({"epochs": 2, "evaluate_test": true, "data": {"format": "idx"}})", 0.05, 0);
  out.adam_trial =
      trial(Stage::baseline, Method::adam, "baseline/adam/seed=1",
            R"({"epochs": 4, "evaluate_test": true, "mi": {"enabled": false}})", 0.001, 0);
  out.regression_trial = trial(Stage::baseline, Method::rmsprop, "baseline/rmsprop/seed=1",
                               R"({"epochs": 1, "data": {"format": "csv"}})", 0.001, 0);
  for (auto id : {out.lrrt_trial, out.mi_trial})
    for (int epoch = 0; epoch <= 2; ++epoch) db->add_epoch(epoch_row(id, epoch, 0.5));
  for (int epoch = 1; epoch <= 2; ++epoch) db->add_epoch(epoch_row(out.adam_trial, epoch, 0.25));
  auto regression = epoch_row(out.regression_trial, 1, 1);
  regression.train_accuracy = regression.test_accuracy = 0;
  regression.train_mae = 12.345678901;
  regression.test_mae = 13.579135791;
  db->add_epoch(regression);
  for (auto id : {out.lrrt_trial, out.mi_trial, out.regression_trial}) {
    db->finish_trial(id, TrialStatus::done, "", 1.25, "{}");
    db->add_device_seconds(id, 1.0 / 3.0);
  }
  storage::ClaimRequest claim;
  claim.experiment_id = out.experiment;
  claim.trial_id = out.adam_trial;
  claim.worker = "host:1";
  claim.device = "cpu";
  db->claim_trial(claim);

  storage::StageDecision lrrt;
  lrrt.experiment_id = out.experiment;
  lrrt.stage = Stage::lrrt;
  lrrt.decision = R"({"mode": "quick"})";
  for (int i = 0; i < 2; ++i) {
    storage::LrrtRow row;
    row.trial = 1;
    row.lr = i ? 0.1 : 0.01;
    row.crashed = i == 1;
    row.min_ds = 0.0123456789;
    row.initial_loss = 2.302585;
    row.final_loss = 0.61803398875 + i;
    row.initial_ity = 0.1;
    row.final_ity = 1.41421356237;
    row.initial_accuracy = 0.1;
    row.final_accuracy = 0.87654321;
    lrrt.lrrt_table.push_back(row);
  }
  storage::LrrtBoundsRow bounds;
  bounds.attribute = "ity";
  bounds.lr_min = 0.001;
  bounds.lr_max = 0.1;
  bounds.lr_top = 0.0316227766;
  bounds.eps = 0.001;
  lrrt.lrrt_bounds.push_back(bounds);
  db->save_decision(lrrt);

  storage::StageDecision c1c2;
  c1c2.experiment_id = out.experiment;
  c1c2.stage = Stage::c1c2;
  for (int i = 0; i < 2; ++i) {
    storage::C1C2Row row;
    row.round = 0;
    row.c1 = 0.5 + i;
    row.c2 = 2.0 / 3.0;
    row.lr_min = 0.001;
    row.lr_max = 0.1;
    row.lr_top = 0.05;
    row.eps = 0.001;
    row.epochs = 2;
    row.score = i ? -1 : 0.7654321;
    row.kept = i == 0;
    c1c2.c1c2.push_back(row);
  }
  db->save_decision(c1c2);

  storage::StageDecision mi;
  mi.experiment_id = out.experiment;
  mi.stage = Stage::mi_sgd;
  storage::ResultRow result;
  result.method = Method::mi_sgd;
  result.seed = 1;
  result.label = "mi_sgd/seed=1";
  result.lr = 0.05;
  result.final_test_accuracy = 0.4 + 0.0987654321;
  result.best_test_accuracy = 0.4 + 0.0987654321;
  result.final_test_mae = 0;
  mi.results.push_back(result);
  db->save_decision(mi);
  return out;
}

}  // namespace automl::test
