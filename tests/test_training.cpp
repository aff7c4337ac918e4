// End to end on real data: a small Fashion-MNIST run through the engine learns, and what it
// records in SQLite equals what it reported.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "engine/engine.h"
#include "experiments/experiment.h"
#include "test_support.h"
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
  if (!automl::test::have_fashion_mnist()) {
    WARN("dataset-fashion-mnist is not installed; skipping");
    return;
  }
  automl::trials::set_threads(0);
  const auto experiment = small_experiment("learns");
  std::vector<automl::trials::EpochRecord> reported;
  const auto summary = automl::trials::run_trial(
      experiment.trial, [&](const automl::trials::EpochRecord& r) { reported.push_back(r); });
  REQUIRE(summary.status == "done");
  REQUIRE(reported.size() == 4);  // epoch 0 (MI before training), then epochs 1..3
  CHECK(reported.front().epoch == 0);
  CHECK(reported.back().test_accuracy > 0.6);  // chance is 0.1
  CHECK(reported.back().train_loss < reported[1].train_loss);

  SECTION("same seed, same records (CPU)") {
    std::vector<automl::trials::EpochRecord> again;
    automl::trials::run_trial(experiment.trial,
                              [&](const automl::trials::EpochRecord& r) { again.push_back(r); });
    REQUIRE(again.size() == reported.size());
    for (std::size_t i = 0; i < again.size(); ++i) {
      CHECK(again[i].train_loss == reported[i].train_loss);
      CHECK(again[i].test_accuracy == reported[i].test_accuracy);
    }
  }
}

TEST_CASE("The engine records the experiment, trial and every epoch it reports", "[engine]") {
  if (!automl::test::have_fashion_mnist()) {
    WARN("dataset-fashion-mnist is not installed; skipping");
    return;
  }
  automl::test::TempDir dir;
  auto experiment = small_experiment("recorded");
  experiment.trial.epochs = 2;
  experiment.trial.data.train_subset = 500;
  auto db = automl::storage::open_sqlite(dir.file("r.db"));
  std::vector<std::string> log;
  const auto report = automl::engine::run_experiment(
      experiment, *db, [&](const std::string& line) { log.push_back(line); });
  CHECK(report.trials_done == 1);

  const auto experiments = db->experiments();
  REQUIRE(experiments.size() == 1);
  CHECK(experiments[0].status == "done");
  CHECK(experiments[0].config == experiment.source);
  const auto trials = db->trials({});
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].status == "done");
  const auto epochs = db->epochs(trials[0].id);
  REQUIRE(epochs.size() == 2);
  // The log lines print what was reported; the rows must hold the same numbers.
  for (const auto& e : epochs) {
    const auto expected = fmt::format(
        "epoch {:>3}  lr {:.4g}  train loss {:.4f} acc {:.4f}  "
        "test acc {:.4f}",
        e.epoch, e.lr, e.train_loss, e.train_accuracy, e.test_accuracy);
    CHECK(std::any_of(log.begin(), log.end(),
                      [&](const std::string& line) { return line.rfind(expected, 0) == 0; }));
  }

  SECTION("running the same experiment name again is refused, nothing is written") {
    CHECK_THROWS_WITH(automl::engine::run_experiment(experiment, *db, [](const std::string&) {}),
                      Catch::Contains("already exists"));
    CHECK(db->trials({}).size() == 1);
  }
}
