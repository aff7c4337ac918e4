// Eight processes on one SQLite database at once: they migrate a fresh file together, claim
// trials, heartbeat and commit epochs; none may fail with "database is locked", and no trial
// may be claimed twice.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <iostream>
#include <set>

#include "storage/storage.h"
#include "test_support.h"

using namespace automl::storage;

namespace {

constexpr int kProcesses = 8;
constexpr int kTrials = 40;
constexpr int kEpochs = 15;

// One worker process: claims trials until none is left and writes their epochs.
int claim_and_write(const std::string& path, int worker) {
  try {
    auto db = open_sqlite(path);  // every process migrates the fresh file at the same time
    std::optional<ExperimentRow> experiment;
    while (!(experiment = db->find_experiment("load"))) usleep(1000);
    const auto name = "w" + std::to_string(worker);
    while (db->trials({}).size() < static_cast<std::size_t>(kTrials)) usleep(1000);
    while (const auto trial = db->claim_trial({experiment->id, 0, name, "cpu"})) {
      for (int e = 1; e <= kEpochs; ++e) {
        EpochRow row;
        row.trial_id = trial->id;
        row.epoch = e;
        row.lr = 0.1;
        row.groups = {{"conv1", 0.1, 0.5, 0.5, 0.5, 0.01, "dp"}};
        db->add_epoch(row);
        if (!db->heartbeat(trial->id, name)) return 2;
      }
      db->finish_trial(trial->id, automl::TrialStatus::done, "", 1.0, "{}");
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "worker " << worker << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

TEST_CASE("8 processes write one database at once without lock failures", "[storage][slow]") {
  automl::test::TempDir dir;
  const auto path = dir.file("shared.db");
  std::vector<pid_t> children;
  for (int w = 0; w < kProcesses; ++w) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(claim_and_write(path, w));
    children.push_back(pid);
  }
  {
    auto db = open_sqlite(path);
    const auto experiment = db->create_experiment("load", "name: load\n");
    std::vector<TrialRow> rows;
    for (int t = 0; t < kTrials; ++t) {
      TrialRow row;
      row.experiment_id = experiment;
      row.stage = automl::Stage::lrrt;
      row.label = "job/" + std::to_string(t);
      row.config = "{}";
      rows.push_back(row);
    }
    db->add_trials(rows);
  }
  for (const auto pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto db = open_sqlite(path);
  const auto trials = db->trials({});
  REQUIRE(trials.size() == kTrials);
  std::set<std::string> workers;
  for (const auto& t : trials) {
    CHECK(t.status == automl::TrialStatus::done);
    CHECK(t.attempts == 1);  // claimed by exactly one worker
    CHECK(db->epochs(t.id).size() == kEpochs);
    workers.insert(t.worker);
  }
  CHECK(workers.size() > 1);  // the work was shared
  CHECK(db->query("SELECT COUNT(*) FROM epoch_groups").rows[0][0] ==
        std::to_string(kTrials * kEpochs));
}
