// The typed views of `automl query` and /api/ (report/views.h): numbers are JSON numbers at full
// precision (equal to the database's own values, read here with SQLite directly), what was not
// measured is null, flags are booleans; CSV follows the same rules.
#include <SQLiteCpp/SQLiteCpp.h>

#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "report/views.h"
#include "test_query_fixture.h"
#include "test_support.h"

using automl::report::ColumnType;
using automl::report::View;
using nlohmann::json;

namespace {

// One value straight from the file.
double raw_double(const std::string& path, const std::string& sql) {
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  SQLite::Statement statement(raw, sql);
  REQUIRE(statement.executeStep());
  return statement.getColumn(0).getDouble();
}

std::int64_t raw_int(const std::string& path, const std::string& sql) {
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  SQLite::Statement statement(raw, sql);
  REQUIRE(statement.executeStep());
  return statement.getColumn(0).getInt64();
}

// Every cell of the view's JSON has its column's type, or is null.
void check_types(const View& view) {
  const auto rows = json::parse(automl::report::view_json(view));
  REQUIRE(rows.size() == view.rows.size());
  for (const auto& row : rows) {
    REQUIRE(row.size() == view.columns.size());
    for (const auto& column : view.columns) {
      INFO(column.name);
      const auto& cell = row.at(column.name);
      if (cell.is_null()) continue;
      switch (column.type) {
        case ColumnType::integer:
          CHECK(cell.is_number_integer());
          break;
        case ColumnType::real:
          CHECK(cell.is_number());
          break;
        case ColumnType::text:
          CHECK(cell.is_string());
          break;
        case ColumnType::boolean:
          CHECK(cell.is_boolean());
          break;
      }
    }
  }
}

json rows_of(const View& view) {
  check_types(view);
  return json::parse(automl::report::view_json(view));
}

// stdout of build/automl (next to build/tests/automl_tests) with `arguments`.
std::string automl_stdout(const std::string& arguments) {
  FILE* pipe =
      popen((automl::test::automl_binary() + " " + arguments + " 2>/dev/null").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[4096];
  while (const std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = pclose(pipe);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return out;
}

std::string epoch_sql(const std::string& column, std::int64_t trial, int epoch) {
  return "SELECT " + column + " FROM epochs WHERE trial_id = " + std::to_string(trial) +
         " AND epoch = " + std::to_string(epoch);
}

}  // namespace

TEST_CASE("epochs: full-precision numbers, null where nothing was measured", "[query][views]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  auto db = automl::storage::open_sqlite(f.path, automl::storage::Access::read_only);

  const auto mi = rows_of(automl::report::epochs_view(*db, f.mi_trial));
  REQUIRE(mi.size() == 3);
  // Epoch 0 is the pre-training record: no LR, no training metrics; the test set and MI are.
  CHECK(mi[0]["epoch"] == 0);
  CHECK(mi[0]["lr"].is_null());
  CHECK(mi[0]["train_loss"].is_null());
  CHECK(mi[0]["train_acc"].is_null());
  CHECK(mi[0]["test_acc"].get<double>() ==
        raw_double(f.path, epoch_sql("test_accuracy", f.mi_trial, 0)));
  CHECK(mi[0]["ity"].get<double>() == raw_double(f.path, epoch_sql("ity", f.mi_trial, 0)));
  for (const char* column :
       {"lr", "train_loss", "train_accuracy", "test_accuracy", "ity", "seconds"}) {
    INFO(column);
    const std::string key = std::string(column) == "train_accuracy"  ? "train_acc"
                            : std::string(column) == "test_accuracy" ? "test_acc"
                                                                     : column;
    CHECK(mi[2][key].get<double>() == raw_double(f.path, epoch_sql(column, f.mi_trial, 2)));
  }
  // A classification has no MAE; no validation split was held out.
  CHECK(mi[2]["train_mae"].is_null());
  CHECK(mi[2]["test_mae"].is_null());
  CHECK(mi[2]["validation_acc"].is_null());

  // The LRRT never evaluates the test set.
  const auto lrrt = rows_of(automl::report::epochs_view(*db, f.lrrt_trial));
  for (const auto& row : lrrt) {
    CHECK(row["test_acc"].is_null());
    CHECK(row["test_loss"].is_null());
  }
  CHECK(lrrt[1]["train_acc"].get<double>() ==
        raw_double(f.path, epoch_sql("train_accuracy", f.lrrt_trial, 1)));

  // MI off: no ITY, bound or MI time.
  const auto adam = rows_of(automl::report::epochs_view(*db, f.adam_trial));
  REQUIRE(adam.size() == 2);
  CHECK(adam[0]["ity"].is_null());
  CHECK(adam[0]["mi_seconds"].is_null());
  CHECK(adam[0]["test_acc"].is_number_float());

  // A regression: MAE, no accuracy.
  const auto regression = rows_of(automl::report::epochs_view(*db, f.regression_trial));
  REQUIRE(regression.size() == 1);
  CHECK(regression[0]["train_acc"].is_null());
  CHECK(regression[0]["test_acc"].is_null());
  CHECK(regression[0]["test_mae"].get<double>() ==
        raw_double(f.path, epoch_sql("test_mae", f.regression_trial, 1)));

  CHECK(rows_of(automl::report::epochs_view(*db, 999)).empty());
}

TEST_CASE("groups, trials and experiments views carry typed values", "[query][views]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  auto db = automl::storage::open_sqlite(f.path, automl::storage::Access::read_only);

  const auto groups = rows_of(automl::report::epoch_groups_view(*db, f.mi_trial));
  REQUIRE(groups.size() == 3);
  CHECK(groups[0]["lr"].is_null());  // epoch 0: no LR, no d_p or d_s yet
  CHECK(groups[0]["d_p"].is_null());
  CHECK(groups[0]["decision"] == "initial");
  CHECK(groups[2]["d_p"].get<double>() ==
        raw_double(f.path, "SELECT d_p FROM epoch_groups WHERE trial_id = " +
                               std::to_string(f.mi_trial) + " AND epoch = 2"));

  const auto experiments = rows_of(automl::report::experiments_view(*db));
  REQUIRE(experiments.size() == 1);
  CHECK(experiments[0]["id"] == f.experiment);
  CHECK(experiments[0]["trials"] == raw_int(f.path, "SELECT COUNT(*) FROM trials"));

  const auto trials = rows_of(automl::report::trials_view(*db, {}));
  REQUIRE(trials.size() == 4);
  for (const auto& t : trials) {
    CHECK(t["seed"].is_number_integer());
    CHECK(t["attempts"].is_number_integer());
    if (t["status"] == "done")
      CHECK(t["device_seconds"].get<double>() ==
            raw_double(f.path, "SELECT device_seconds FROM trials WHERE id = " +
                                   std::to_string(t["id"].get<std::int64_t>())));
  }
}

TEST_CASE("LRRT, C1/C2, results and best views: booleans, nulls and exact numbers",
          "[query][views]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  auto db = automl::storage::open_sqlite(f.path, automl::storage::Access::read_only);

  const auto table_d = rows_of(automl::report::table_d_view(*db, f.experiment));
  REQUIRE(table_d.size() == 2);
  for (const auto& row : table_d) {
    CHECK(row["crashed"].is_boolean());
    CHECK(row["crashed"].get<bool>() ==
          (raw_int(f.path, "SELECT crashed FROM lrrt_table WHERE lr = " +
                               nlohmann::json(row["lr"]).dump()) == 1));
  }
  CHECK(table_d[0]["final_loss"].get<double>() ==
        raw_double(f.path, "SELECT final_loss FROM lrrt_table ORDER BY lr LIMIT 1"));

  const auto bounds = rows_of(automl::report::lrrt_view(*db, f.experiment));
  REQUIRE(bounds.size() == 1);
  CHECK(bounds[0]["lr_top"].get<double>() == raw_double(f.path, "SELECT lr_top FROM lrrt_bounds"));

  const auto c1c2 = rows_of(automl::report::c1c2_view(*db, f.experiment));
  REQUIRE(c1c2.size() == 2);
  CHECK(c1c2[0]["kept"] == true);
  CHECK(c1c2[0]["score"].get<double>() ==
        raw_double(f.path, "SELECT score FROM c1c2_candidates WHERE kept = 1"));
  CHECK(c1c2[1]["kept"] == false);
  CHECK(c1c2[1]["score"].is_null());  // crashed: stored as -1, it has no score
  CHECK(c1c2[0]["epochs"].is_number_integer());

  const auto results = rows_of(automl::report::results_view(*db, f.experiment));
  REQUIRE(results.size() == 1);
  CHECK(results[0]["trial"] == f.mi_trial);
  CHECK(results[0]["final_test_acc"].get<double>() ==
        raw_double(f.path, "SELECT final_test_accuracy FROM results"));
  CHECK(results[0]["final_test_mae"].is_null());  // a classification

  const auto best = rows_of(automl::report::best_view(*db, f.experiment));
  REQUIRE(best.size() == 1);
  CHECK(best[0]["seeds"] == 1);
  CHECK(best[0]["best_test_acc"].get<double>() ==
        raw_double(f.path, "SELECT MAX(final_test_accuracy) FROM results"));

  const auto stages = rows_of(automl::report::stages_view(*db, f.experiment));
  CHECK(stages.size() == static_cast<std::size_t>(raw_int(f.path, "SELECT COUNT(*) FROM stages")));
}

TEST_CASE("CSV prints full precision, empty cells for null and true/false", "[query][views]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  auto db = automl::storage::open_sqlite(f.path, automl::storage::Access::read_only);

  const auto csv = automl::report::view_csv(automl::report::epochs_view(*db, f.mi_trial));
  std::istringstream lines(csv);
  std::string header, epoch0, epoch1;
  std::getline(lines, header);
  std::getline(lines, epoch0);
  std::getline(lines, epoch1);
  CHECK(header.rfind("trial,epoch,lr,train_loss,train_acc,", 0) == 0);
  const auto cells = [](const std::string& line) {
    std::vector<std::string> out;
    std::stringstream in(line);
    for (std::string cell; std::getline(in, cell, ',');) out.push_back(cell);
    return out;
  };
  const auto zero = cells(epoch0), one = cells(epoch1);
  CHECK(zero.at(2).empty());  // epoch 0's LR: not measured
  CHECK(zero.at(4).empty());
  CHECK(std::stod(one.at(4)) == raw_double(f.path, epoch_sql("train_accuracy", f.mi_trial, 1)));
  CHECK(std::stod(one.at(2)) == raw_double(f.path, epoch_sql("lr", f.mi_trial, 1)));

  const auto c1c2 = automl::report::view_csv(automl::report::c1c2_view(*db, f.experiment));
  CHECK(c1c2.find(",true\n") != std::string::npos);
  CHECK(c1c2.find(",,false\n") != std::string::npos);  // null score, then kept = false
}

TEST_CASE("automl query --format json and csv print the typed views", "[query][views][cli]") {
  automl::test::TempDir dir;
  const auto f = automl::test::make_views_db(dir.file("v.db"));
  auto db = automl::storage::open_sqlite(f.path, automl::storage::Access::read_only);
  const std::vector<std::pair<std::string, View>> views = {
      {"experiments", automl::report::experiments_view(*db)},
      {"trials", automl::report::trials_view(*db, {})},
      {"epochs " + std::to_string(f.mi_trial), automl::report::epochs_view(*db, f.mi_trial)},
      {"stages", automl::report::stages_view(*db, f.experiment)},
      {"best", automl::report::best_view(*db, f.experiment)},
      {"results", automl::report::results_view(*db, f.experiment)},
      {"lrrt", automl::report::lrrt_view(*db, f.experiment)},
      {"table-d", automl::report::table_d_view(*db, f.experiment)},
      {"c1c2", automl::report::c1c2_view(*db, f.experiment)},
  };
  for (const auto& [command, view] : views) {
    INFO(command);
    const auto query = "query " + command + " --db " + f.path;
    CHECK(json::parse(automl_stdout(query + " --format json")) ==
          json::parse(automl::report::view_json(view)));
    CHECK(automl_stdout(query + " --format csv") == automl::report::view_csv(view));
  }
  // The terminal table shows null as "-" and flags as yes/no.
  const auto table = automl_stdout("query c1c2 --db " + f.path);
  CHECK(table.find(" - ") != std::string::npos);
  CHECK(table.find("yes") != std::string::npos);
}
