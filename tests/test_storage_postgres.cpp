// What only the PostgreSQL backend has: its schema_version table, migrated once and refused when
// newer; read-only sessions that never migrate; the server's clock; URLs whose passwords never
// reach a message. (Every other behaviour runs on both backends: test_storage*.cpp.)
#include <catch2/catch.hpp>

#include <cstdlib>
#include <regex>

#include "storage/storage.h"
#include "storage_backends.h"
#include "test_support.h"

using namespace automl;
using namespace automl::storage;

namespace {

// A TCP URL to the test server (where passwords are checked: the socket trusts), with `userinfo`.
std::string tcp_url(const std::string& userinfo, const std::string& query = "") {
  std::smatch port;
  const std::string url = std::getenv("AUTOML_TEST_POSTGRES");
  REQUIRE(std::regex_search(url, port, std::regex("port=([0-9]+)")));
  return "postgresql://" + userinfo + "@127.0.0.1:" + port[1].str() + "/postgres" + query;
}

}  // namespace

TEST_CASE("Passwords in PostgreSQL URLs are redacted", "[storage]") {
  CHECK(redact_password("postgresql://u:s3cret@db.example:5432/runs") ==
        "postgresql://u:***@db.example:5432/runs");
  CHECK(redact_password("postgres://u:p@ss@host/db?sslmode=require") ==
        "postgres://u:***@host/db?sslmode=require");
  CHECK(redact_password("postgresql://u@host/db?password=s3cret&sslmode=require") ==
        "postgresql://u@host/db?password=***&sslmode=require");
  CHECK(redact_password("host=h dbname=d password='a b' user=u") ==
        "host=h dbname=d password=*** user=u");
  CHECK(redact_password("postgresql://u@/db?host=/tmp/x&port=5") ==
        "postgresql://u@/db?host=/tmp/x&port=5");  // nothing to hide
  CHECK(redact_password("runs/default.db") == "runs/default.db");
}

TEST_CASE("open_storage picks the backend by the location", "[storage]") {
  test::TempDir dir;
  auto sqlite = open_storage(dir.file("a.db"));
  CHECK(sqlite->experiments().empty());
  CHECK(is_postgres_url("postgresql://h/d"));
  CHECK(is_postgres_url("postgres://h/d"));
  CHECK_FALSE(is_postgres_url(dir.file("postgresql.db")));
  // Port 1 on this host: nothing listens (PostgreSQL builds), or no backend (builds without).
  const auto message =
      test::error_of<StorageError>([] { open_storage("postgresql://u:hunter2@127.0.0.1:1/runs"); });
  CHECK_THAT(message, Catch::Contains("postgresql://u:***@127.0.0.1:1/runs"));
  CHECK_THAT(message, !Catch::Contains("hunter2"));
#ifndef AUTOML_WITH_POSTGRES
  CHECK_THAT(message, Catch::Contains("built without PostgreSQL"));
#endif
}

TEST_CASE("A wrong PostgreSQL password never shows in the error", "[storage][postgres]") {
  AUTOML_SKIP_WITHOUT(test::postgres_server());
  const auto in_url =
      test::error_of<StorageError>([] { open_storage(tcp_url("automl:Wrong-Secret-42")); });
  CHECK_THAT(in_url, Catch::Contains("password authentication failed"));
  CHECK_THAT(in_url, Catch::Contains("automl:***@127.0.0.1"));  // names the database
  CHECK_THAT(in_url, !Catch::Contains("Wrong-Secret-42"));
  const auto in_query = test::error_of<StorageError>(
      [] { open_storage(tcp_url("automl", "?password=Wrong-Secret-43")); });
  CHECK_THAT(in_query, Catch::Contains("password=***"));
  CHECK_THAT(in_query, !Catch::Contains("Wrong-Secret-43"));
  // libpq's own places: PGPASSWORD is used, and never echoed either.
  setenv("PGPASSWORD", "Wrong-Secret-44", 1);
  const auto from_environment =
      test::error_of<StorageError>([] { open_storage(tcp_url("automl")); });
  unsetenv("PGPASSWORD");
  CHECK_THAT(from_environment, Catch::Contains("password authentication failed"));
  CHECK_THAT(from_environment, !Catch::Contains("Wrong-Secret-44"));
}

TEST_CASE("A fresh PostgreSQL database migrates once, and a newer one is refused",
          "[storage][postgres]") {
  AUTOML_SKIP_WITHOUT(test::postgres_server());
  test::TestDatabase database(test::Backend::postgres);
  CHECK(database.schema_version() == 0);
  database.open().reset();
  CHECK(database.schema_version() == 4);
  database.open().reset();  // current: nothing to do
  auto db = database.open(Access::read_only);
  CHECK(db->query("SELECT version FROM schema_version").rows ==
        std::vector<std::vector<std::string>>{{"4"}});  // one row per migration run
  db.reset();

  // A future automl would have migrated further.
  database.execute("INSERT INTO schema_version (version) VALUES (999)");
  CHECK_THAT(test::error_of<StorageError>([&] { database.open(); }),
             Catch::Contains("newer than this automl"));
  CHECK_THAT(test::error_of<StorageError>([&] { database.open(Access::read_only); }),
             Catch::Contains("newer than this automl"));
}

TEST_CASE("A read-only PostgreSQL session never migrates and never writes", "[storage][postgres]") {
  AUTOML_SKIP_WITHOUT(test::postgres_server());
  test::TestDatabase database(test::Backend::postgres);
  CHECK_THAT(test::error_of<StorageError>([&] { database.open(Access::read_only); }),
             Catch::Contains("open it read-write once"));
  CHECK(database.schema_version() == 0);  // the reader created nothing

  database.open()->create_experiment("e", "name: e\n");
  auto reader = database.open(Access::read_only);
  CHECK(reader->experiments().size() == 1);
  CHECK_THROWS_AS(reader->create_experiment("f", "name: f\n"), StorageError);
  CHECK_THROWS_AS(reader->set_experiment_status(1, ExperimentStatus::done), StorageError);
  CHECK(reader->find_experiment("e")->status == ExperimentStatus::running);
  CHECK_THROWS_AS(reader->query("SELECT set_config('default_transaction_read_only', 'off', "
                                "false); DELETE FROM experiments"),
                  InputError);
  CHECK(reader->experiments().size() == 1);
}

// The worker and the server share this host's clock here, so this shows that heartbeats and
// requeue_stale agree with the server's clock_timestamp(), not that a skewed worker clock is
// ignored (that needs two hosts; the SQL in storage/rows.h never reads the caller's clock).
TEST_CASE("PostgreSQL heartbeats and stale checks agree with the server's clock",
          "[storage][postgres]") {
  AUTOML_SKIP_WITHOUT(test::postgres_server());
  test::TestDatabase database(test::Backend::postgres);
  auto db = database.open();
  const auto experiment = db->create_experiment("e", "name: e\n");
  TrialRow t;
  t.experiment_id = experiment;
  t.label = "a";
  t.config = "{}";
  const auto id = db->add_trial(t);
  REQUIRE(db->claim_trial({experiment, id, "w", "cpu"}));
  REQUIRE(db->heartbeat(id, "w"));
  const auto age = std::stod(
      db->query("SELECT extract(epoch FROM clock_timestamp()) - heartbeat FROM trials WHERE id = " +
                std::to_string(id))
          .rows.at(0)
          .at(0));
  CHECK(age >= 0);
  CHECK(age < 5);
  // A heartbeat an hour old by the server's clock is stale.
  database.execute("UPDATE trials SET heartbeat = heartbeat - 3600");
  CHECK(db->requeue_stale(experiment, 1800).size() == 1);
}
