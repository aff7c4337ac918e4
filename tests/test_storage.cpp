// The SQLite trial database: what is written reads back equal, the schema is versioned, and
// `query` refuses writes.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "storage/storage.h"
#include "test_support.h"

using namespace automl::storage;

TEST_CASE("Experiments, trials and epochs round-trip through SQLite", "[storage]") {
  automl::test::TempDir dir;
  const auto path = dir.file("runs/t.db");  // parent directory is created
  std::int64_t trial_id = 0;
  {
    auto db = open_sqlite(path);
    const auto experiment = db->create_experiment("e1", "name: e1\n");
    TrialRow t;
    t.experiment_id = experiment;
    t.stage = "main";
    t.label = "main/seed=4";
    t.seed = 4;
    t.config = R"({"epochs":2})";
    trial_id = db->add_trial(t);
    db->start_trial(trial_id, "cpu");
    db->add_epoch({trial_id, 1, 0.1, 2.3, 0.11, 2.2, 0.12, 0.5, 1.5, 0.01, "{}", {}});
    db->add_epoch({trial_id, 2, 0.05, 1.3, 0.61, 1.2, 0.62, 0.9, 1.25, 0.02, R"({"x":1})", {}});
    db->finish_trial(trial_id, "done", "", 2.75, R"({"best":0.62})");
  }
  auto db = open_sqlite(path);  // reopen: everything was committed
  REQUIRE(db->experiments().size() == 1);
  CHECK(db->find_experiment("e1")->config == "name: e1\n");
  CHECK_FALSE(db->find_experiment("nope"));
  const auto trials = db->trials({});
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].status == "done");
  CHECK(trials[0].device == "cpu");
  CHECK(trials[0].seconds == 2.75);
  CHECK(trials[0].seed == 4);
  const auto epochs = db->epochs(trial_id);
  REQUIRE(epochs.size() == 2);
  CHECK(epochs[1].lr == 0.05);
  CHECK(epochs[1].test_accuracy == 0.62);
  CHECK(epochs[1].extra == R"({"x":1})");

  TrialFilter only_failed;
  only_failed.status = "failed";
  CHECK(db->trials(only_failed).empty());

  SECTION("read-only SQL answers and refuses writes") {
    const auto table = db->query("SELECT epoch, lr FROM epochs ORDER BY epoch");
    CHECK(table.columns == std::vector<std::string>{"epoch", "lr"});
    REQUIRE(table.rows.size() == 2);
    CHECK(table.rows[1][0] == "2");
    CHECK_THROWS_AS(db->query("DELETE FROM epochs"), automl::InputError);
    CHECK(db->epochs(trial_id).size() == 2);
    CHECK_THROWS_WITH(db->query("SELEC 1"), Catch::Contains("syntax"));
  }
  SECTION("duplicate epochs are rejected") {
    CHECK_THROWS(db->add_epoch({trial_id, 2, 0.05, 1, 1, 1, 1, 1, 1, 0, "{}", {}}));
  }
  SECTION("schema version is recorded") {
    CHECK(db->query("PRAGMA user_version").rows.at(0).at(0) != "0");
  }
}

TEST_CASE("A database from a newer automl is refused", "[storage]") {
  automl::test::TempDir dir;
  const auto path = dir.file("new.db");
  open_sqlite(path).reset();
  // A future automl would have migrated further: raise the version with the sqlite3 tool.
  REQUIRE(std::system(("sqlite3 " + path + " 'PRAGMA user_version = 999'").c_str()) == 0);
  CHECK_THROWS_WITH(open_sqlite(path), Catch::Contains("newer than this automl"));
}
