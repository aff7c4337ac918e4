// make_trials_db: writes a trial database the size of a large experiment, for bench_serve and
// the dashboard's browser benchmark: `make_trials_db OUT.db [--trials 2000] [--epochs 5]`.
// One experiment "bench": LRRT trials, C1/C2 candidates, baseline searches and final runs of
// every method over 3 seeds, each with its epochs (and parameter groups), table D, the bounds
// and the results; a few trials still running. Written through the Storage interface, so the
// schema is the current one.
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "storage/storage.h"

using namespace automl;

namespace {

const char* const kYaml = R"(name: bench
data: {path: /nonexistent/fashion-mnist}
budget: {device_minutes: 600}
)";

storage::EpochRow epoch_of(std::int64_t trial, int epoch, int epochs, bool layerwise) {
  storage::EpochRow e;
  e.trial_id = trial;
  e.epoch = epoch;
  const double progress = static_cast<double>(epoch) / epochs;
  e.lr = epoch > 0 ? 0.1 * std::pow(0.6, epoch - 1) : 0;
  e.train_loss = epoch > 0 ? 2.3 * std::exp(-2 * progress) : 0;
  e.train_accuracy = epoch > 0 ? 0.1 + 0.8 * progress + 0.001 * (trial % 7) : 0;
  e.test_loss = 2.3 * std::exp(-1.8 * progress);
  e.test_accuracy = 0.1 + 0.78 * progress + 0.001 * (trial % 5);
  e.ity = 0.2 + 1.9 * progress;
  e.bound = 2.302585092994046;
  e.seconds = 2 + 0.01 * (trial % 10);
  e.mi_seconds = 0.3;
  for (int g = 0; g < (layerwise ? 5 : 1); ++g) {
    storage::EpochGroupRow row;
    row.name = layerwise ? fmt::format("layer{}", g + 1) : "model";
    row.lr = e.lr * (1 + 0.1 * g);
    row.ity = e.ity * (1 - 0.05 * g);
    row.d_p = epoch > 0 ? progress : 0;
    row.d_s = epoch > 0 ? 0.01 * epoch : 0;
    row.decision = epoch > 0 ? "dp" : "initial";
    e.groups.push_back(row);
  }
  return e;
}

struct Job {
  Stage stage;
  Method method;
  std::string label;
  double lr;
  std::uint64_t seed;
  int repeat;
};

std::vector<Job> jobs(int trials) {
  std::vector<Job> out;
  const Method finals[] = {Method::mi_sgd, Method::mi_sgd_layerwise,
                           Method::adam,   Method::rmsprop,
                           Method::lars,   Method::step};
  for (auto m : finals)
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const bool baseline = !is_mi_method(m);
      out.push_back({baseline ? Stage::baseline : Stage::mi_sgd, m,
                     baseline ? fmt::format("baseline/{}/seed={}", name(m), seed)
                              : fmt::format("{}/seed={}", name(m), seed),
                     0.05, seed, 0});
    }
  for (int i = 0; static_cast<int>(out.size()) < trials; ++i) {
    const double lr = std::pow(10.0, -4 + 4.0 * (i % 40) / 40);
    if (i % 3 == 0)
      out.push_back({Stage::lrrt, Method::sgd, fmt::format("lrrt/t={}/lr={}", i / 40 + 1, lr), lr,
                     1, i / 40 + 1});
    else if (i % 3 == 1)
      out.push_back({Stage::c1c2, Method::mi_sgd, fmt::format("c1c2/r=0/c={}", i), lr, 1, 0});
    else
      out.push_back({Stage::baseline_search, Method::adam,
                     fmt::format("baseline_search/adam/lr={}/i={}", lr, i), lr, 1, 0});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: make_trials_db OUT.db [--trials N] [--epochs E]\n";
    return 2;
  }
  const std::string path = argv[1];
  int trials = 2000, epochs = 5;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--trials") trials = std::atoi(argv[i + 1]);
    if (key == "--epochs") epochs = std::atoi(argv[i + 1]);
  }
  std::filesystem::remove(path);
  auto db = storage::open_sqlite(path);
  const auto experiment = db->create_experiment("bench", kYaml);
  std::vector<storage::TrialRow> rows;
  for (const auto& j : jobs(trials)) {
    storage::TrialRow row;
    row.experiment_id = experiment;
    row.stage = j.stage;
    row.method = j.method;
    row.label = j.label;
    row.lr = j.lr;
    row.seed = j.seed;
    row.repeat = j.repeat;
    row.estimated_seconds = 2.0 * epochs;
    row.config =
        fmt::format(R"({{"epochs": {}, "evaluate_test": {}, "data": {{"format": "idx"}}}})", epochs,
                    j.stage == Stage::mi_sgd || j.stage == Stage::baseline);
    rows.push_back(row);
  }
  const auto ids = db->add_trials(rows);
  const std::size_t running_from = ids.size() - 4;  // the last 4 are still running
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool layerwise = rows[i].method == Method::mi_sgd_layerwise;
    const int upto = i >= running_from ? epochs / 2 : epochs;
    for (int e = 0; e <= upto; ++e) db->add_epoch(epoch_of(ids[i], e, epochs, layerwise));
    if (i >= running_from) {
      storage::ClaimRequest claim{experiment, ids[i], "bench:1", "cpu"};
      db->claim_trial(claim);
      continue;
    }
    db->finish_trial(ids[i], TrialStatus::done, "", 2.0 * epochs, "{}");
    db->add_device_seconds(ids[i], 2.0 * epochs);
  }
  storage::StageDecision lrrt{experiment, Stage::lrrt};
  for (int t = 1; t <= 3; ++t)
    for (int k = 0; k < 40; ++k) {
      storage::LrrtRow r;
      r.trial = t;
      r.lr = std::pow(10.0, -4 + 4.0 * k / 40);
      r.crashed = k > 36;
      r.final_ity = 0.2 + 1.5 * std::sin(3.1 * k / 40);
      r.final_accuracy = 0.1 + 0.8 * std::sin(3.1 * k / 40);
      lrrt.lrrt_table.push_back(r);
    }
  lrrt.lrrt_bounds.push_back({"model", "ity", 0.001, 0.1, 0.03, 0.001, ""});
  db->save_decision(lrrt);
  storage::StageDecision c1c2{experiment, Stage::c1c2};
  for (int round = 0; round < 3; ++round)
    for (int c = 0; c < 16 >> round; ++c)
      c1c2.c1c2.push_back({round, 0.5 + c, 1.0 + 0.5 * c, 0.001, 0.1, 0.03, 0.001, 2 << round,
                           0.6 + 0.01 * c + 0.05 * round, c < (8 >> round)});
  db->save_decision(c1c2);
  for (Stage stage : {Stage::mi_sgd, Stage::baseline}) {
    storage::StageDecision decision{experiment, stage};
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].stage != stage) continue;
      storage::ResultRow r;
      r.method = rows[i].method;
      r.seed = rows[i].seed;
      r.label = rows[i].label;
      r.lr = 0.05;
      r.final_test_accuracy = r.best_test_accuracy = 0.88 + 0.001 * (ids[i] % 5);
      decision.results.push_back(r);
    }
    db->save_decision(decision);
  }
  std::cout << fmt::format("{}: {} trials, {} epochs each\n", path, ids.size(), epochs);
  return 0;
}
