// The database protects what it holds: readers never write, corruption is refused by name, and
// every error names the file.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "storage/storage.h"
#include "test_support.h"

using namespace automl;
using Catch::Matchers::Contains;

namespace {

// A database with one experiment and one trial with `epochs` epochs, big enough to span pages.
std::string small_database(const test::TempDir& dir, int epochs = 400) {
  const auto path = dir.file("t.db");
  auto db = storage::open_sqlite(path);
  const auto experiment = db->create_experiment("e", "name: e\n");
  storage::TrialRow t;
  t.experiment_id = experiment;
  t.stage = Stage::lrrt;
  t.label = "lrrt/t=1/lr=0.1";
  t.config = std::string(2000, 'x');
  const auto id = db->add_trial(t);
  for (int e = 0; e < epochs; ++e) {
    storage::EpochRow row;
    row.trial_id = id;
    row.epoch = e;
    row.lr = 0.1;
    db->add_epoch(row);
  }
  return path;
}

// Overwrites `count` bytes in the middle of the file (a page in the middle, past the header).
void corrupt(const std::string& path, std::size_t count = 4096) {
  const auto size = std::filesystem::file_size(path);
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>(size / 2));
  const std::string garbage(count, '\x5a');
  file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
}

}  // namespace

TEST_CASE("query runs one read-only statement and nothing else", "[storage][safety]") {
  test::TempDir dir;
  const auto path = small_database(dir, 3);
  auto db = storage::open_sqlite(path, storage::Access::read_only);
  CHECK(db->query("SELECT COUNT(*) AS n FROM epochs").rows.at(0).at(0) == "3");
  const auto copy = dir.file("copy.db");
  CHECK_THROWS_AS(db->query("VACUUM INTO '" + copy + "'"), InputError);
  CHECK_FALSE(std::filesystem::exists(copy));
  CHECK_THROWS_AS(db->query("ATTACH '" + copy + "' AS other"), InputError);
  CHECK_FALSE(std::filesystem::exists(copy));
  CHECK_THROWS_AS(db->query("DELETE FROM epochs"), InputError);
  CHECK_THROWS_AS(db->query("PRAGMA journal_mode=DELETE"), InputError);
  CHECK_THROWS_WITH(db->query("SELECT 1; DELETE FROM epochs"), Contains("more than one statement"));
  CHECK_THROWS_WITH(db->query("SELECT COUNT(*) FROM epochs; DROP TABLE epochs"),
                    Contains("more than one statement"));
  CHECK_THROWS_WITH(db->query("SELEC 1"), Contains("syntax"));
  CHECK(db->query("SELECT COUNT(*) FROM epochs;  ").rows.at(0).at(0) == "3");  // a trailing ;
  CHECK(db->query("SELECT COUNT(*) FROM epochs").rows.at(0).at(0) == "3");
}

TEST_CASE("A reader opens the file read-only and never creates one", "[storage][safety]") {
  test::TempDir dir;
  CHECK_THROWS_AS(storage::open_sqlite(dir.file("absent.db"), storage::Access::read_only),
                  storage::StorageError);
  CHECK_FALSE(std::filesystem::exists(dir.file("absent.db")));
  const auto path = small_database(dir, 3);
  auto db = storage::open_sqlite(path, storage::Access::read_only);
  CHECK_THROWS_AS(db->create_experiment("f", "name: f\n"), storage::StorageError);
  CHECK(db->experiments().size() == 1);
}

TEST_CASE("A corrupt database is refused by name, for writing and reading", "[storage][safety]") {
  test::TempDir dir;
  const auto path = small_database(dir);
  corrupt(path);
  for (const auto access : {storage::Access::read_write, storage::Access::read_only}) {
    try {
      storage::open_sqlite(path, access);
      FAIL("a corrupt database was opened");
    } catch (const storage::StorageError& e) {
      CHECK_THAT(e.what(), Contains(path) && Contains("corrupt"));
    }
  }
}

TEST_CASE("SQLite errors name the database file", "[storage][safety]") {
  test::TempDir dir;
  const auto path = dir.file("not-a-database.db");
  test::write_text(path, std::string(8192, 'n'));
  try {
    storage::open_sqlite(path);
    FAIL("a file that is no database was opened");
  } catch (const storage::StorageError& e) {
    CHECK_THAT(e.what(), Contains(path));
  }
}

TEST_CASE("A full disk is an error naming the database, which stays resumable",
          "[storage][safety]") {
  test::TempDir dir;
  const auto path = small_database(dir, 3);
  const auto committed_file = dir.file("committed");
  const auto message_file = dir.file("message");
  // In a child whose files may not grow past 256 KiB (RLIMIT_FSIZE: writes beyond it fail as
  // they would on a full disk): add epochs until the database refuses one.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{256 * 1024, 256 * 1024};
    setrlimit(RLIMIT_FSIZE, &limit);
    int committed = 3;
    try {
      auto db = storage::open_sqlite(path);
      for (;; ++committed) {
        storage::EpochRow row;
        row.trial_id = 1;
        row.epoch = committed;
        row.groups.assign(20, {std::string(400, 'g'), 0.1, 0, 0, 0, 0, ""});
        for (std::size_t g = 0; g < row.groups.size(); ++g) row.groups[g].name += std::to_string(g);
        db->add_epoch(row);
      }
    } catch (const storage::StorageError& e) {
      test::write_text(message_file, e.what());
    }
    test::write_text(committed_file, std::to_string(committed));
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  std::ifstream message(message_file);
  const std::string text((std::istreambuf_iterator<char>(message)), {});
  CHECK_THAT(text, Contains(path));
  int committed = 0;
  std::ifstream(committed_file) >> committed;
  CHECK(committed > 3);
  auto db = storage::open_sqlite(path);  // integrity-checked: not corrupt
  const auto epochs = db->epochs(1);
  REQUIRE(static_cast<int>(epochs.size()) == committed);  // every epoch before the failure, whole
  CHECK(epochs.back().groups.size() == 20);
}
