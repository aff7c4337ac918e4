#include "storage_backends.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#ifdef AUTOML_WITH_POSTGRES
#include <pqxx/pqxx>
#endif

namespace automl::test {
namespace {

// Runs `sql` on the SQLite file at `path`; returns the first column of the last row.
std::string sqlite_execute(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot open " + path);
  std::string last;
  char* error = nullptr;
  const int rc = sqlite3_exec(
      db, sql.c_str(),
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) = values[0] ? values[0] : "";
        return 0;
      },
      &last, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error(path + ": " + message);
  return last;
}

#ifdef AUTOML_WITH_POSTGRES
std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string postgres_execute(const std::string& url, const std::string& sql) {
  pqxx::connection connection(url);
  pqxx::nontransaction transaction(connection);
  const auto result = transaction.exec(sql);
  transaction.commit();
  return result.empty() || result.columns() == 0 || result.front().front().is_null()
             ? ""
             : result.front().front().c_str();
}
#endif

}  // namespace

Prerequisite postgres_server() {
#ifndef AUTOML_WITH_POSTGRES
  return {false, "this build has no PostgreSQL backend (libpqxx-dev was not installed)"};
#else
  const auto url = environment("AUTOML_TEST_POSTGRES");
  if (url.empty())
    return {false,
            "AUTOML_TEST_POSTGRES is not set (a postgresql:// URL whose role may create "
            "databases; ctest sets it, tests/postgres_fixture.sh start DIR starts a server)"};
  // CTest sets the variable even where its postgres_start fixture skipped (no PostgreSQL
  // binaries): a server that does not answer is a missing prerequisite, said with the reason.
  static const std::string refused = [&]() -> std::string {
    try {
      pqxx::connection connection(url);
      return "";
    } catch (const std::exception& e) {
      return e.what();
    }
  }();
  if (!refused.empty())
    return {false, "no PostgreSQL server answers at AUTOML_TEST_POSTGRES (" +
                       storage::redact_password(url) + "): " + refused};
  return {true, ""};
#endif
}

std::string with_database(const std::string& url, const std::string& database) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) throw std::invalid_argument("not a URL: " + url);
  const auto path = url.find_first_of("/?", scheme + 3);
  if (path == std::string::npos) return url + "/" + database;
  if (url[path] == '?') return url.substr(0, path) + "/" + database + url.substr(path);
  const auto query = url.find('?', path);
  return url.substr(0, path + 1) + database + (query == std::string::npos ? "" : url.substr(query));
}

TestDatabase::TestDatabase(Backend backend) : backend_(backend) {
  if (backend_ == Backend::sqlite) {
    location_ = dir_.file("runs/test.db");  // the parent directory is created by open_sqlite
    return;
  }
#ifdef AUTOML_WITH_POSTGRES
  std::random_device random;
  name_ = "automl_test_" + std::to_string(getpid()) + "_" + std::to_string(random() % 1000000);
  postgres_execute(environment("AUTOML_TEST_POSTGRES"), "CREATE DATABASE " + name_);
  location_ = with_database(environment("AUTOML_TEST_POSTGRES"), name_);
#else
  throw std::logic_error("no PostgreSQL in this build");
#endif
}

TestDatabase::~TestDatabase() {
#ifdef AUTOML_WITH_POSTGRES
  if (backend_ != Backend::postgres || name_.empty()) return;
  try {  // FORCE: a storage the test leaked still holds a connection
    postgres_execute(environment("AUTOML_TEST_POSTGRES"),
                     "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {  // the server is gone: the fixture removes everything
  }
#endif
}

std::unique_ptr<storage::Storage> TestDatabase::open(storage::Access access) const {
  return storage::open_storage(location_, access);
}

int TestDatabase::schema_version() const {
  if (backend_ == Backend::sqlite)
    return std::stoi(sqlite_execute(location_, "PRAGMA user_version"));
#ifdef AUTOML_WITH_POSTGRES
  if (postgres_execute(location_, "SELECT to_regclass('schema_version')").empty()) return 0;
  const auto version = postgres_execute(location_, "SELECT MAX(version) FROM schema_version");
  return version.empty() ? 0 : std::stoi(version);
#else
  return 0;
#endif
}

void TestDatabase::execute(const std::string& sql) const {
  if (backend_ == Backend::sqlite) {
    sqlite_execute(location_, sql);
    return;
  }
#ifdef AUTOML_WITH_POSTGRES
  postgres_execute(location_, sql);
#endif
}

}  // namespace automl::test
