// The trial database, on SQLite and on PostgreSQL (storage_backends.h): what is written reads
// back equal, the schema is versioned, `query` refuses writes, and trials move between states
// (queued, claimed, requeued by the database's clock) and the coordinator's lease as documented.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "common/error.h"
#include "storage/storage.h"
#include "storage_backends.h"
#include "test_support.h"

using namespace automl;
using namespace automl::storage;

namespace {

// The schema version of the file, read with the sqlite3 tool (`query` refuses every PRAGMA).
std::string user_version(const std::string& path) {
  FILE* pipe = popen(("sqlite3 " + path + " 'PRAGMA user_version'").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[64] = {};
  const std::string text(buffer, std::fread(buffer, 1, sizeof buffer - 1, pipe));
  REQUIRE(pclose(pipe) == 0);
  return text.substr(0, text.find_last_not_of('\n') + 1);
}

// Three pending trials of a new experiment "e".
struct ThreeTrials {
  std::int64_t experiment = 0;
  std::vector<std::int64_t> ids;
};

ThreeTrials add_three_trials(Storage& db) {
  ThreeTrials made;
  made.experiment = db.create_experiment("e", "name: e\n");
  std::vector<TrialRow> rows(3);
  for (int k = 0; k < 3; ++k) {
    rows[k].experiment_id = made.experiment;
    rows[k].stage = Stage::lrrt;
    rows[k].label = "job/" + std::to_string(k);
    rows[k].config = "{}";
  }
  made.ids = db.add_trials(rows);
  return made;
}

}  // namespace

STORAGE_TEST_CASE("Experiments, trials and epochs round-trip", "[storage]") {
  std::int64_t trial_id = 0;
  {
    auto db = database.open();
    const auto experiment = db->create_experiment("e1", "name: e1\n");
    TrialRow t;
    t.experiment_id = experiment;
    t.stage = Stage::mi_sgd;
    t.label = "mi_sgd/seed=4";
    t.method = Method::mi_sgd;
    t.seed = 4;
    t.lr = 0.1;
    t.config = R"({"epochs":2})";
    trial_id = db->add_trial(t);
    db->start_trial(trial_id, "cpu");
    db->add_epoch({trial_id, 1, 0.1, 2.3, 0.11, 2.2, 0.12, 0.5, 1.5, 0.01, 0, 0, 0, 0, 0, {}});
    db->add_epoch(
        {trial_id, 2, 0.05, 1.3, 0.61, 1.2, 0.62, 0.9, 1.25, 0.02, 1.75, 0.3, 0.4, 0.63, 0.5, {}});
    db->finish_trial(trial_id, TrialStatus::done, "", 2.75, R"({"best":0.62})");
  }
  auto db = database.open();  // reopen: everything was committed
  REQUIRE(db->experiments().size() == 1);
  CHECK(db->find_experiment("e1")->config == "name: e1\n");
  CHECK_FALSE(db->find_experiment("nope"));
  const auto trials = db->trials({});
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].status == TrialStatus::done);
  CHECK(trials[0].stage == Stage::mi_sgd);
  CHECK(trials[0].method == Method::mi_sgd);
  CHECK(trials[0].device == "cpu");
  CHECK(trials[0].seconds == 2.75);
  CHECK(trials[0].seed == 4);
  CHECK(trials[0].lr == 0.1);
  const auto epochs = db->epochs(trial_id);
  REQUIRE(epochs.size() == 2);
  CHECK(epochs[1].lr == 0.05);
  CHECK(epochs[1].test_accuracy == 0.62);
  CHECK(epochs[1].bound == 1.75);
  CHECK(epochs[1].train_mae == 0.3);
  CHECK(epochs[1].test_mae == 0.4);
  CHECK(epochs[1].validation_accuracy == 0.63);
  CHECK(epochs[1].validation_mae == 0.5);
  CHECK(epochs[0].bound == 0);

  TrialFilter only_failed;
  only_failed.status = TrialStatus::failed;
  CHECK(db->trials(only_failed).empty());

  SECTION("read-only SQL answers and refuses writes") {
    const auto table = db->query("SELECT epoch, lr FROM epochs ORDER BY epoch");
    CHECK(table.columns == std::vector<std::string>{"epoch", "lr"});
    REQUIRE(table.rows.size() == 2);
    CHECK(table.rows[1][0] == "2");
    CHECK_THROWS_AS(db->query("DELETE FROM epochs"), automl::InputError);
    CHECK(db->epochs(trial_id).size() == 2);
    CHECK_THROWS_WITH(db->query("SELEC 1"), Catch::Contains("syntax"));
    CHECK_THROWS_AS(
        db->query("WITH gone AS (DELETE FROM epochs RETURNING epoch) SELECT * FROM gone"),
        automl::InputError);
    CHECK_THROWS_AS(db->query("UPDATE trials SET status = 'failed'"), automl::InputError);
    CHECK(db->epochs(trial_id).size() == 2);
    CHECK(db->trial(trial_id)->status == TrialStatus::done);
  }
  SECTION("a second statement is refused, not dropped") {
    CHECK_THROWS_WITH(db->query("SELECT 1; DELETE FROM epochs"),
                      Catch::Contains("more than one statement"));
    CHECK_THROWS_WITH(db->query("SELECT 1; SELECT 2"), Catch::Contains("more than one statement"));
    CHECK(db->epochs(trial_id).size() == 2);
    CHECK(db->query("SELECT COUNT(*) FROM epochs;  ").rows.at(0).at(0) == "2");  // a trailing ;
  }
  SECTION("duplicate epochs are rejected") {
    CHECK_THROWS(db->add_epoch({trial_id, 2, 0.05, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, {}}));
  }
  SECTION("schema version is recorded") {
    CHECK(database.schema_version() == 4);
  }
}

TEST_CASE("A SQLite database from a newer automl is refused", "[storage][sqlite]") {
  automl::test::TempDir dir;
  const auto path = dir.file("new.db");
  open_sqlite(path).reset();
  // A future automl would have migrated further: raise the version with the sqlite3 tool.
  REQUIRE(std::system(("sqlite3 " + path + " 'PRAGMA user_version = 999'").c_str()) == 0);
  CHECK_THROWS_WITH(open_sqlite(path), Catch::Contains("newer than this automl"));
}

STORAGE_TEST_CASE("Claims, heartbeats and requeues move trials between states", "[storage]") {
  auto db = database.open();
  const auto [experiment, ids] = add_three_trials(*db);
  REQUIRE(ids.size() == 3);
  TrialRow again_row;
  again_row.experiment_id = experiment;
  again_row.stage = Stage::lrrt;
  again_row.label = "job/1";
  again_row.config = "{}";
  CHECK(db->add_trials({again_row}) == std::vector<std::int64_t>{ids[1]});  // no second copy
  CHECK(db->trials({}).size() == 3);

  CHECK_FALSE(db->claim_trial({experiment, 0, "w1", "cpu"}));  // pending is not released
  CHECK(db->queue_trial(ids[0]));
  CHECK_FALSE(db->queue_trial(ids[0]));  // queued already
  CHECK(db->trial(ids[0])->status == TrialStatus::queued);
  const auto first = db->claim_trial({experiment, 0, "w1", "cpu"});
  REQUIRE(first);
  CHECK(first->id == ids[0]);  // the oldest queued one
  CHECK(first->status == TrialStatus::running);
  CHECK(first->worker == "w1");
  CHECK(first->attempts == 1);
  CHECK_FALSE(db->claim_trial({experiment, ids[0], "w2", "cpu"}));  // not claimable any more
  CHECK_FALSE(db->queue_trial(ids[0]));                             // running is not pending
  const auto third = db->claim_trial({experiment, ids[2], "w2", "cuda:0"});  // pending, by id
  REQUIRE(third);
  CHECK(third->device == "cuda:0");

  CHECK(db->heartbeat(ids[0], "w1"));
  CHECK_FALSE(db->heartbeat(ids[0], "w2"));              // not w2's trial
  CHECK(db->requeue_stale(experiment, 3600).empty());    // fresh heartbeats
  const auto stale = db->requeue_stale(experiment, -1);  // everything counts as silent
  REQUIRE(stale.size() == 2);
  CHECK(stale[0].status == TrialStatus::running);  // as they were
  CHECK(db->trial(ids[0])->status == TrialStatus::pending);
  CHECK_THAT(db->trial(ids[0])->reason, Catch::Contains("w1"));
  CHECK_FALSE(db->heartbeat(ids[0], "w1"));  // w1 learns it lost the trial

  const auto again = db->claim_trial({experiment, ids[0], "w3", "cpu"});
  REQUIRE(again);
  CHECK(again->attempts == 2);
  db->release_trial(ids[0], "worker died", 3);
  CHECK(db->trial(ids[0])->status == TrialStatus::pending);
  db->claim_trial({experiment, ids[0], "w3", "cpu"});
  db->release_trial(ids[0], "worker died", 3);  // third attempt used up
  CHECK(db->trial(ids[0])->status == TrialStatus::failed);
  CHECK(db->trial(ids[0])->reason == "worker died");

  db->add_device_seconds(ids[1], 1.5);
  db->add_device_seconds(ids[1], 2.0);
  db->add_device_seconds(ids[2], 0.5);
  CHECK(db->device_seconds(experiment) == 4.0);
}

STORAGE_TEST_CASE("Queued trials go to any worker, pending ones only by id", "[storage]") {
  auto db = database.open();
  const auto [experiment, ids] = add_three_trials(*db);
  const auto other = db->create_experiment("other", "name: other\n");
  CHECK(db->queue_trial(ids[2]));
  CHECK(db->queue_trial(ids[1]));
  CHECK_FALSE(db->claim_trial({other, 0, "w", "cpu"}));  // another experiment's queue is empty

  const auto a = db->claim_trial({experiment, 0, "w", "cpu"});
  REQUIRE(a);
  CHECK(a->id == ids[1]);  // the lowest queued id, not the order of queueing
  const auto b = db->claim_trial({experiment, 0, "w", "cpu"});
  REQUIRE(b);
  CHECK(b->id == ids[2]);
  CHECK_FALSE(db->claim_trial({experiment, 0, "w", "cpu"}));  // ids[0] is merely pending
  CHECK(db->trial(ids[0])->status == TrialStatus::pending);

  SECTION("every way back goes to pending, never to queued") {
    db->return_trial(ids[1], "engine interrupted");
    CHECK(db->trial(ids[1])->status == TrialStatus::pending);
    CHECK(db->trial(ids[1])->attempts == 0);
    db->release_trial(ids[2], "worker died", 3);
    CHECK(db->trial(ids[2])->status == TrialStatus::pending);
    CHECK_FALSE(db->claim_trial({experiment, 0, "w", "cpu"}));
  }
  SECTION("a queued trial whose worker died before claiming counts an attempt") {
    CHECK(db->queue_trial(ids[0]));
    db->count_failed_start(ids[0], "worker died at start", 3);
    CHECK(db->trial(ids[0])->status == TrialStatus::pending);
    CHECK(db->trial(ids[0])->attempts == 1);
  }
  SECTION("a queued trial can still be claimed by id") {
    CHECK(db->queue_trial(ids[0]));
    const auto c = db->claim_trial({0, ids[0], "w", "cpu"});
    REQUIRE(c);
    CHECK(c->status == TrialStatus::running);
  }
}

STORAGE_TEST_CASE("Heartbeats age by the database's clock", "[storage]") {
  auto db = database.open();
  const auto [experiment, ids] = add_three_trials(*db);
  REQUIRE(db->claim_trial({experiment, ids[0], "w", "cpu"}));
  const auto stamped = db->trial(ids[0])->heartbeat;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(std::abs(stamped - now) < 60);  // unix seconds (the test's host serves both here)
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(db->requeue_stale(experiment, 30).empty());
  const auto stale = db->requeue_stale(experiment, 0.3);  // 0.6 s of silence by the server
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].id == ids[0]);
  // A heartbeat restamps it with the database's time, whatever the caller's clock says.
  REQUIRE(db->claim_trial({experiment, ids[0], "w", "cpu"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(db->heartbeat(ids[0], "w"));
  CHECK(db->requeue_stale(experiment, 0.3).empty());
  CHECK(db->trial(ids[0])->heartbeat > stamped);
}

STORAGE_TEST_CASE("The coordinator lease has one holder at a time", "[storage]") {
  auto db = database.open();
  const auto experiment = db->create_experiment("e", "name: e\n");
  const auto other = db->create_experiment("f", "name: f\n");
  CHECK(db->acquire_lease(experiment, "a", 60));        // free
  CHECK_FALSE(db->acquire_lease(experiment, "b", 60));  // a's, and fresh
  CHECK(db->acquire_lease(experiment, "a", 60));        // renewed by its holder
  CHECK(db->acquire_lease(other, "b", 60));             // one lease per experiment
  db->release_lease(experiment, "b");                   // not b's: nothing happens
  CHECK_FALSE(db->acquire_lease(experiment, "b", 60));
  db->release_lease(experiment, "a");
  CHECK(db->acquire_lease(experiment, "b", 60));  // freed
  CHECK_FALSE(db->acquire_lease(experiment, "a", 60));

  // Expiry by the database's clock: b stops renewing; after its TTL, a takes over.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK_FALSE(db->acquire_lease(experiment, "a", 30));  // 0.5 s old: within a 30 s TTL
  CHECK(db->acquire_lease(experiment, "a", 0.2));       // older than a 0.2 s TTL
  CHECK_FALSE(db->acquire_lease(experiment, "b", 60));  // a's now, freshly renewed
  CHECK(db->lease_holder(experiment) == std::optional<std::string>("a"));
  db->release_lease(experiment, "a");
  CHECK_FALSE(db->lease_holder(experiment));
  CHECK(db->lease_holder(other) == std::optional<std::string>("b"));  // expired or not
}

STORAGE_TEST_CASE("Epoch groups, truncation and stage decisions round-trip", "[storage]") {
  auto db = database.open();
  const auto experiment = db->create_experiment("e", "name: e\n");
  TrialRow t;
  t.experiment_id = experiment;
  t.stage = Stage::mi_sgd;
  t.label = "mi_sgd/seed=1";
  t.method = Method::mi_sgd;
  t.config = "{}";
  const auto id = db->add_trial(t);
  for (int e = 0; e <= 3; ++e) {
    EpochRow row{id, e, 0.1, 1, 0.5, 1, 0.5, 0.2, 1, 0.1, 0, 0, 0, 0, 0, {}};
    row.groups = {{"conv1", 0.1 * e, 0.3, 0.9, 0.9, 0.01, "dp"},
                  {"fc2", 0.05, 0.4, 0.8, 0.8, 0, "hold"}};
    db->add_epoch(row);
  }
  auto epochs = db->epochs(id);
  REQUIRE(epochs.size() == 4);
  REQUIRE(epochs[2].groups.size() == 2);
  CHECK(epochs[2].groups[0].name == "conv1");
  CHECK(epochs[2].groups[0].lr == Approx(0.2));
  CHECK(epochs[2].groups[1].decision == "hold");
  CHECK(db->epochs_run(experiment) == 3);  // epoch 0 is not a training epoch

  db->delete_epochs_after(id, 1);
  epochs = db->epochs(id);
  CHECK(epochs.size() == 2);
  CHECK(db->query("SELECT COUNT(*) FROM epoch_groups").rows[0][0] == "4");

  StageDecision d;
  d.experiment_id = experiment;
  d.stage = Stage::lrrt;
  d.decision = R"({"range":{"lr_min":0.001}})";
  d.lrrt_table = {{1, 0.01, false, 0.02, 2.3, 0.5, 0.1, 1.5, 0.1, 0.8},
                  {1, 1.0, true, 0, 0, 0, 0, 0, 0, 0}};
  d.lrrt_bounds = {{"model", "train_accuracy", 0.001, 0.1, 0.01, 0.0005, ""}};
  d.c1c2 = {{0, 10, 1, 0.001, 0.1, 0.01, 0.0005, 2, 0.85, true}};
  ResultRow r;
  r.method = Method::mi_sgd;
  r.seed = 1;
  r.label = "mi_sgd/seed=1";
  r.final_test_accuracy = 0.9;
  r.status = TrialStatus::done;
  d.results = {r};
  db->save_decision(d);
  const auto stages = db->stages(experiment);
  REQUIRE(stages.size() == 1);
  CHECK(stages[0].stage == Stage::lrrt);
  CHECK(stages[0].status == StageStatus::done);
  CHECK(stages[0].decision == d.decision);
  const auto table = db->lrrt_table(experiment);
  REQUIRE(table.size() == 2);
  CHECK(table[1].crashed);
  CHECK(table[0].final_accuracy == 0.8);
  CHECK(db->lrrt_bounds(experiment).at(0).lr_max == 0.1);
  CHECK(db->c1c2_candidates(experiment).at(0).kept);
  const auto results = db->results(experiment);
  REQUIRE(results.size() == 1);
  CHECK(results[0].trial_id == id);  // found by label
  CHECK(results[0].method == Method::mi_sgd);
  CHECK(results[0].status == TrialStatus::done);
  db->set_stage(experiment, Stage::c1c2, StageStatus::planned);
  REQUIRE(db->stages(experiment).size() == 2);
  CHECK(db->stages(experiment)[1].stage == Stage::c1c2);
  CHECK(db->stages(experiment)[1].status == StageStatus::planned);
}

TEST_CASE("A version-1 SQLite database is migrated with its rows kept", "[storage][sqlite]") {
  automl::test::TempDir dir;
  const auto path = dir.file("v1.db");
  // The schema as version 1 shipped it, written with the sqlite3 tool.
  const std::string v1 =
      "CREATE TABLE experiments (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, config TEXT "
      "NOT NULL, status TEXT NOT NULL DEFAULT 'running', created_at TEXT NOT NULL DEFAULT '');"
      "CREATE TABLE trials (id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL, stage TEXT "
      "NOT NULL, label TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', seed INTEGER NOT "
      "NULL, config TEXT NOT NULL, device TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT "
      "'', seconds REAL NOT NULL DEFAULT 0, summary TEXT NOT NULL DEFAULT '{}', UNIQUE "
      "(experiment_id, label));"
      "CREATE TABLE epochs (trial_id INTEGER NOT NULL, epoch INTEGER NOT NULL, lr REAL NOT NULL, "
      "train_loss REAL, train_accuracy REAL, test_loss REAL, test_accuracy REAL, ity REAL, "
      "seconds REAL NOT NULL, mi_seconds REAL NOT NULL DEFAULT 0, extra TEXT NOT NULL DEFAULT "
      "'{}', PRIMARY KEY (trial_id, epoch));"
      "INSERT INTO experiments (name, config) VALUES ('old', 'name: old');"
      "INSERT INTO trials (experiment_id, stage, label, status, seed, config) VALUES (1, 'mi_sgd', "
      "'mi_sgd/seed=1', 'done', 1, '{}');"
      "INSERT INTO epochs (trial_id, epoch, lr, seconds) VALUES (1, 1, 0.05, 2.0);"
      "PRAGMA user_version = 1;";
  REQUIRE(std::system(("sqlite3 " + path + " \"" + v1 + "\"").c_str()) == 0);
  auto db = open_sqlite(path);
  CHECK(user_version(path) == "4");
  const auto trials = db->trials({});
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].status == TrialStatus::done);
  CHECK(trials[0].stage == Stage::mi_sgd);
  CHECK(trials[0].method == Method::mi_sgd);  // read from the label by the migration
  CHECK(trials[0].attempts == 0);
  CHECK(db->epochs(1).at(0).lr == 0.05);
  CHECK(db->stages(1).empty());
}
