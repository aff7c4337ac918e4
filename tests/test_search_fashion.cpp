// A quick-mode LRRT on real data: a LeNet on 1200 Fashion-MNIST images (MI on 300 of them),
// 2 trials x 3 epochs at five constant LRs, run in-process. It must give a range around LR_top and
// a table D that survives storage as JSON.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>

#include "search/search.h"
#include "test_support.h"
#include "trials/trial.h"

TEST_CASE("Quick LRRT on a Fashion-MNIST subset gives LR_min < LR_top <= LR_max",
          "[search][lrrt][slow]") {
  if (!automl::test::have_fashion_mnist()) {
    WARN("dataset-fashion-mnist is not installed; skipping");
    return;
  }
  automl::trials::set_threads(0);
  automl::trials::TrialConfig base;
  base.data.path = automl::test::fashion_mnist_dir();
  base.data.train_subset = 1200;
  base.data.test_subset = 500;
  base.model.name = "lenet";
  base.optimizer.momentum = 0.9;
  base.optimizer.nesterov = true;
  base.batch_size = 32;
  base.mi.samples = 300;

  automl::search::LrrtConfig lrrt;
  // 1e-4 and 1e-3 barely move a LeNet in 3 short epochs and 1.0 does not learn at all, so the
  // top lies strictly inside the list and LR_min below it.
  lrrt.lrs = {1e-4, 1e-3, 0.01, 0.1, 1.0};
  lrrt = automl::search::resolve_lrrt_mode(lrrt, /*budget_is_short=*/true);
  REQUIRE(lrrt.mode == "quick");

  const auto jobs = automl::search::plan_lrrt(lrrt, base);
  REQUIRE(jobs.size() == 10);  // 2 trials x 5 LRs
  const auto start = std::chrono::steady_clock::now();
  const auto results = automl::search::run_jobs_sequentially(jobs);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& result : results) CHECK(result.status != "failed");

  const auto table = automl::search::build_lrrt_table(lrrt, results);
  const auto decision = automl::search::decide_lrrt(lrrt, table);
  const nlohmann::json stored = {{"table", table}, {"decision", decision}};
  automl::test::TempDir dir;
  std::ofstream(dir.file("lrrt.json")) << stored.dump(2);
  const auto loaded = nlohmann::json::parse(std::ifstream(dir.file("lrrt.json")));
  WARN(fmt::format("quick LRRT: {:.1f} s, range {}, rows {}", seconds,
                   loaded["decision"]["range"].dump(), loaded["table"]["rows"].size()));

  CHECK(loaded["table"]["rows"].size() == table.rows.size());
  CHECK(table.rows.size() >= 8);  // most (trial, LR) pairs complete
  const auto& range = decision.range;
  CHECK(range.lr_min < range.lr_top);
  CHECK(range.lr_top <= range.lr_max);
  CHECK(decision.attributes[0].maxval > 0.5);  // training accuracy; chance is 0.1
  for (const auto& row : table.rows) CHECK(row.initial_ity > 0);  // epoch 0, MI on
  CHECK(range.eps > 0);
  CHECK(loaded["decision"]["range"]["lr_top"].get<double>() == range.lr_top);
}
