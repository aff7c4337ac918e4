// A quick-mode LRRT on real data: a LeNet on 2000 Fashion-MNIST images (MI on 500 of them),
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
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  // One thread: small batches gain nothing from more, and on a shared machine spinning
  // OpenMP workers cost more than they give.
  automl::trials::set_threads(1);
  automl::trials::TrialConfig base;
  base.data.path = automl::test::fashion_mnist_dir();
  base.data.train_subset = 2000;
  base.data.test_subset = 500;
  base.model.name = "lenet";
  base.optimizer.momentum = 0.9;
  base.optimizer.nesterov = true;
  base.batch_size = 32;
  base.mi.samples = 500;

  automl::search::LrrtConfig lrrt;
  // Measured (2 trials, mean final training accuracy): 1e-4: 0.11, 1e-3: 0.16, 0.003: 0.35,
  // 0.01: 0.60, 0.03: 0.69, 0.1: 0.55. The top lies inside the list, and 1e-4 (d1n ~0.01) stays
  // below Thresh = MAXVAL / 10 ~ 0.07, so LR_min < LR_top.
  lrrt.lrs = {1e-4, 1e-3, 0.003, 0.01, 0.03, 0.1};
  lrrt = automl::search::resolve_lrrt_mode(lrrt, /*budget_is_short=*/true);
  REQUIRE(lrrt.mode == "quick");

  const auto jobs = automl::search::plan_lrrt(lrrt, base);
  REQUIRE(jobs.size() == 12);  // 2 trials x 6 LRs
  const auto start = std::chrono::steady_clock::now();
  const auto results = automl::search::run_jobs_sequentially(jobs);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& result : results) CHECK(result.status != automl::TrialStatus::failed);

  const auto table = automl::search::build_lrrt_table(lrrt, results);
  const auto decision = automl::search::decide_lrrt(lrrt, table);
  const nlohmann::json stored = {{"table", table}, {"decision", decision}};
  automl::test::TempDir dir;
  std::ofstream(dir.file("lrrt.json")) << stored.dump(2);
  const auto loaded = nlohmann::json::parse(std::ifstream(dir.file("lrrt.json")));
  std::string per_lr;
  for (std::size_t i = 0; i < table.lrs.size(); ++i)
    per_lr += fmt::format(" {:g}: {:.3f} (d1n {:.3f})", table.lrs[i],
                          table.per_lr[i].final_accuracy, decision.attributes[0].d1n[i]);
  WARN(fmt::format("quick LRRT: {:.1f} s, range {}, final training accuracy per LR:{}", seconds,
                   loaded["decision"]["range"].dump(), per_lr));

  CHECK(loaded["table"]["rows"].size() == table.rows.size());
  CHECK(table.rows.size() >= 8);  // most (trial, LR) pairs complete
  const auto& range = decision.range;
  CHECK(range.lr_min < range.lr_top);
  CHECK(range.lr_top <= range.lr_max);
  CHECK(decision.attributes[0].maxval > 0.6);  // training accuracy; chance is 0.1
  for (const auto& row : table.rows) CHECK(row.initial_ity > 0);  // epoch 0, MI on
  CHECK(range.eps > 0);
  CHECK(loaded["decision"]["range"]["lr_top"].get<double>() == range.lr_top);
}
