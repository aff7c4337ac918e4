// A database written by the previous release (schema version 2: tests/data/default-v2.db, the
// default experiment run without its budget by that release) opens, migrates, and reports the
// same numbers that release reported (tests/data/default-v2.report.txt, its `automl report`).
#include <sqlite3.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "report/report.h"
#include "storage/storage.h"
#include "test_support.h"

using namespace automl;

namespace {

const std::string kFixture = std::string(AUTOML_SOURCE_DIR) + "/tests/data/default-v2.db";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string report_text(storage::Storage& db) {
  std::ostringstream out;
  for (const auto& experiment : db.experiments())
    report::print_table(report::summarize(db, experiment), out);
  return out.str();
}

int user_version(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr);
  sqlite3_step(statement);
  const int version = sqlite3_column_int(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return version;
}

const storage::TrialRow& by_label(const std::vector<storage::TrialRow>& trials,
                                  const std::string& label) {
  for (const auto& t : trials)
    if (t.label == label) return t;
  FAIL("no trial " << label);
  return trials.front();
}

}  // namespace

TEST_CASE("A version 2 database migrates and reports what the previous release reported",
          "[storage][migration]") {
  test::TempDir dir;
  const auto path = dir.file("old.db");
  std::filesystem::copy_file(kFixture, path);
  const auto expected =
      read_file(std::string(AUTOML_SOURCE_DIR) + "/tests/data/default-v2.report.txt");
  REQUIRE(user_version(path) == 2);

  SECTION("read-only: migrated in memory, the file untouched") {
    const auto before = read_file(path);
    auto db = storage::open_sqlite(path, storage::Access::read_only);
    CHECK(report_text(*db) == expected);
    db.reset();
    CHECK(user_version(path) == 2);
    CHECK(read_file(path) == before);
  }
  SECTION("read-write: the file is migrated, and reads the same") {
    storage::open_sqlite(path);
    CHECK(user_version(path) == 4);
    auto db = storage::open_sqlite(path, storage::Access::read_only);
    CHECK(report_text(*db) == expected);
  }
  SECTION("what the labels held became typed columns") {
    auto db = storage::open_sqlite(path, storage::Access::read_only);
    const auto trials = db->trials({});
    REQUIRE(trials.size() == 54);
    const auto& lrrt = by_label(trials, "lrrt/t=2/lr=0.3");
    CHECK(lrrt.stage == Stage::lrrt);
    CHECK(lrrt.method == Method::sgd);
    CHECK(lrrt.repeat == 2);
    CHECK(lrrt.lr == 0.3);
    const auto& search = by_label(trials, "baseline_search/rmsprop/lr=0.000215");
    CHECK(search.method == Method::rmsprop);
    CHECK(search.lr == 0.000215);
    CHECK(search.repeat == 0);
    CHECK(by_label(trials, "mi_sgd_layerwise/seed=1").method == Method::mi_sgd_layerwise);
    CHECK(by_label(trials, "baseline/step/seed=3").method == Method::step);
    CHECK(by_label(trials, "baseline/step/seed=3").seed == 3);
    CHECK(by_label(trials, "c1c2/r=0/c=0").method == Method::mi_sgd);
  }
  SECTION("the epochs' JSON became typed columns with the same numbers") {
    sqlite3* raw = nullptr;
    sqlite3_open_v2(kFixture.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(raw,
                       "SELECT trial_id, epoch, json_extract(extra, '$.bound'), "
                       "json_extract(extra, '$.validation_accuracy') FROM epochs",
                       -1, &s, nullptr);
    auto db = storage::open_sqlite(path, storage::Access::read_only);
    int rows = 0, nonzero = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
      const auto trial = sqlite3_column_int64(s, 0);
      const int epoch = sqlite3_column_int(s, 1);
      for (const auto& e : db->epochs(trial)) {
        if (e.epoch != epoch) continue;
        CHECK(e.bound == sqlite3_column_double(s, 2));
        CHECK(e.validation_accuracy == sqlite3_column_double(s, 3));
        nonzero += e.bound != 0;
        ++rows;
      }
    }
    sqlite3_finalize(s);
    sqlite3_close(raw);
    CHECK(rows == 251);
    CHECK(nonzero > 0);
  }
}
