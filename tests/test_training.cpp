// End to end on real data: a small Fashion-MNIST run through the engine learns, and what it
// records in SQLite equals what it reported.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "engine/worker.h"
#include "experiments/experiment.h"
#include "storage/storage.h"
#include "test_support.h"
#include "trials/config_json.h"
#include "trials/trial.h"

namespace {

automl::experiments::ExperimentConfig small_experiment(const std::string& name) {
  return automl::experiments::parse_experiment(fmt::format(R"(name: {}
data: {{path: {}, train_subset: 2000, test_subset: 1000}}
model: {{name: lenet}}
optimizer: {{name: sgd, lr: 0.05, momentum: 0.9, nesterov: true}}
epochs: 3
batch_size: 32
seed: 7
)",
                                                           name, automl::test::fashion_mnist_dir()),
                                               "test.yaml");
}

}  // namespace

TEST_CASE("A LeNet on 2000 Fashion-MNIST images learns far above chance", "[training][slow]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::trials::set_threads(1);  // ctest runs tests side by side: one thread each
  const auto experiment = small_experiment("learns");
  std::vector<automl::trials::EpochRecord> reported;
  const auto summary = automl::trials::run_trial(
      experiment.trial, [&](const automl::trials::EpochRecord& r) { reported.push_back(r); });
  REQUIRE(summary.status == automl::TrialStatus::done);
  REQUIRE(reported.size() == 4);  // epoch 0 (MI before training), then epochs 1..3
  CHECK(reported.front().epoch == 0);
  CHECK(reported.back().test_accuracy > 0.6);  // chance is 0.1
  CHECK(reported.back().train_loss < reported[1].train_loss);
  // Same seed, same records: tests/test_trials_run.cpp checks it on every field.
}

TEST_CASE("A worker records every epoch the trial reports, equal to a direct run", "[engine]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::test::TempDir dir;
  auto trial = small_experiment("recorded").trial;
  trial.epochs = 2;
  trial.data.train_subset = 500;
  trial.mi.samples = 200;

  // What the trial reports when run directly (deterministic by seed on the CPU)...
  std::vector<automl::trials::EpochRecord> reported;
  automl::trials::run_trial(trial,
                            [&](const automl::trials::EpochRecord& r) { reported.push_back(r); });

  // ...equals what a worker running the same trial commits to the database.
  const auto path = dir.file("r.db");
  std::int64_t trial_id = 0;
  {
    auto db = automl::storage::open_sqlite(path);
    automl::storage::TrialRow row;
    row.experiment_id = db->create_experiment("recorded", "name: recorded\n");
    row.stage = automl::Stage::mi_sgd;
    row.label = "mi_sgd/seed=7";
    row.method = automl::Method::mi_sgd;
    row.seed = trial.seed;
    row.config = nlohmann::json(trial).dump();
    trial_id = db->add_trial(row);
  }
  automl::engine::WorkerOptions options;
  options.database = path;
  options.trial_id = trial_id;
  REQUIRE(automl::engine::run_worker(options) == automl::engine::kWorkerFinished);

  auto db = automl::storage::open_sqlite(path);
  const auto trials = db->trials({});
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].status == automl::TrialStatus::done);
  CHECK(trials[0].seconds > 0);
  const auto rows = db->epochs(trial_id);
  REQUIRE(rows.size() == reported.size());
  // float32 reductions may round differently between two processes' thread pools: 1e-6 relative.
  const auto same = [](double a, double b) { return automl::test::relative_close(a, b, 1e-6); };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].epoch == reported[i].epoch);
    CHECK(rows[i].lr == reported[i].lr);
    CHECK(same(rows[i].train_loss, reported[i].train_loss));
    CHECK(same(rows[i].train_accuracy, reported[i].train_accuracy));
    CHECK(same(rows[i].test_loss, reported[i].test_loss));
    CHECK(same(rows[i].test_accuracy, reported[i].test_accuracy));
    CHECK(same(rows[i].ity, reported[i].ity));
  }
}
