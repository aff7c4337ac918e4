// Eight processes on one database at once, on SQLite and on PostgreSQL: they migrate a fresh
// database together, claim queued trials, heartbeat and commit epochs; none may fail (no
// "database is locked", no serialization error), and no trial may be claimed twice. Eight
// coordinators racing for one lease: exactly one gets it.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <iostream>
#include <set>

#include "storage/storage.h"
#include "storage_backends.h"
#include "test_support.h"

using namespace automl::storage;

namespace {

constexpr int kProcesses = 8;
constexpr int kTrials = 40;
constexpr int kEpochs = 15;

// Forks kProcesses children running `child(k)` (its exit status) and returns their statuses.
std::vector<int> run_children(const std::function<int(int)>& child,
                              const std::function<void()>& meanwhile) {
  std::vector<pid_t> children;
  for (int k = 0; k < kProcesses; ++k) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(child(k));
    children.push_back(pid);
  }
  meanwhile();
  std::vector<int> codes;
  for (const auto pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return codes;
}

// The experiment called `name`, once some process has created it.
ExperimentRow wait_for_experiment(Storage& db, const std::string& name) {
  std::optional<ExperimentRow> experiment;
  while (!(experiment = db.find_experiment(name))) usleep(1000);
  return *experiment;
}

// One worker process: claims queued trials until none is left and writes their epochs.
int claim_and_write(const automl::test::TestDatabase& database, int worker) {
  try {
    auto db = database.open();  // every process migrates the fresh database at the same time
    const auto experiment = wait_for_experiment(*db, "load");
    const auto name = "w" + std::to_string(worker);
    TrialFilter pending;
    pending.status = automl::TrialStatus::pending;
    while (db->trials({}).size() < static_cast<std::size_t>(kTrials) ||
           !db->trials(pending).empty())
      usleep(1000);  // all released
    while (const auto trial = db->claim_trial({experiment.id, 0, name, "cpu"})) {
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

STORAGE_TEST_CASE("8 processes write one database at once without lock failures",
                  "[storage][slow]") {
  const auto codes = run_children([&](int k) { return claim_and_write(database, k); },
                                  [&] {
                                    auto db = database.open();
                                    const auto experiment =
                                        db->create_experiment("load", "name: load\n");
                                    std::vector<TrialRow> rows;
                                    for (int t = 0; t < kTrials; ++t) {
                                      TrialRow row;
                                      row.experiment_id = experiment;
                                      row.stage = automl::Stage::lrrt;
                                      row.label = "job/" + std::to_string(t);
                                      row.config = "{}";
                                      rows.push_back(row);
                                    }
                                    for (const auto id : db->add_trials(rows))
                                      CHECK(db->queue_trial(id));
                                  });
  for (const int code : codes) CHECK(code == 0);
  auto db = database.open();
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
  CHECK(database.schema_version() == 4);
  if (database.backend() == automl::test::Backend::postgres)  // by whichever came first, once
    CHECK(db->query("SELECT COUNT(*) FROM schema_version").rows[0][0] == "1");
}

STORAGE_TEST_CASE("8 coordinators race for one lease and one wins", "[storage]") {
  constexpr int kWon = 10;
  const auto codes = run_children(
      [&](int k) {
        try {
          auto db = database.open();
          const auto experiment = wait_for_experiment(*db, "leased");
          return db->acquire_lease(experiment.id, "c" + std::to_string(k), 60) ? kWon : 0;
        } catch (const std::exception& e) {
          std::cerr << "coordinator " << k << ": " << e.what() << "\n";
          return 1;
        }
      },
      [&] { database.open()->create_experiment("leased", "name: leased\n"); });
  int won = 0;
  for (const int code : codes) {
    CHECK((code == 0 || code == kWon));
    won += code == kWon;
  }
  CHECK(won == 1);
}
