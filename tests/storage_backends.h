#pragma once
// The storage tests run on each backend: SQLite in a temporary directory, and PostgreSQL in a
// fresh database (created for each test case, dropped after it) on the server that
// AUTOML_TEST_POSTGRES names: a URL whose role may CREATE DATABASE (tests/postgres_fixture.sh
// starts one; CTest does, through the `postgres` fixture). Without it the PostgreSQL cases are
// skipped, never counted as passed.
#include <memory>
#include <string>

#include "storage/storage.h"
#include "test_support.h"

namespace automl::test {

enum class Backend { sqlite, postgres };

// This build has PostgreSQL, AUTOML_TEST_POSTGRES is set, and a server answers there.
Prerequisite postgres_server();

// `url` with its database (the URL's path) replaced by `database`.
std::string with_database(const std::string& url, const std::string& database);

// A database of its own for one test case.
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  Backend backend() const { return backend_; }
  const std::string& location() const { return location_; }  // a file path or a URL
  std::unique_ptr<storage::Storage> open(
      storage::Access access = storage::Access::read_write) const;
  // The version the database records (SQLite's user_version; PostgreSQL's schema_version).
  int schema_version() const;
  // Runs `sql` beside automl, as the database's owner (SQLite: sqlite3's API).
  void execute(const std::string& sql) const;

 private:
  Backend backend_;
  TempDir dir_;
  std::string location_;
  std::string name_;  // PostgreSQL: the database created for the test case
};

}  // namespace automl::test

#define AUTOML_STORAGE_CAT2(a, b) a##b
#define AUTOML_STORAGE_CAT(a, b) AUTOML_STORAGE_CAT2(a, b)

// STORAGE_TEST_CASE("title", "[tags]") { ...uses `database`, a TestDatabase& ... } defines one
// behaviour and two test cases: "title (SQLite)" tagged [sqlite], and "title (PostgreSQL)"
// tagged [postgres], which is skipped when postgres_server() is missing.
#define STORAGE_TEST_CASE(title, tags) \
  AUTOML_STORAGE_TEST_CASE(AUTOML_STORAGE_CAT(storage_behaviour_, __LINE__), title, tags)
#define AUTOML_STORAGE_TEST_CASE(behaviour, title, tags)                      \
  static void behaviour(::automl::test::TestDatabase& database);              \
  TEST_CASE(title " (SQLite)", tags "[sqlite]") {                             \
    ::automl::test::TestDatabase database(::automl::test::Backend::sqlite);   \
    behaviour(database);                                                      \
  }                                                                           \
  TEST_CASE(title " (PostgreSQL)", tags "[postgres]") {                       \
    AUTOML_SKIP_WITHOUT(::automl::test::postgres_server());                   \
    ::automl::test::TestDatabase database(::automl::test::Backend::postgres); \
    behaviour(database);                                                      \
  }                                                                           \
  static void behaviour(::automl::test::TestDatabase& database)
