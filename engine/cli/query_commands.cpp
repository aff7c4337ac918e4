// `automl query`: read the trial database. Every view is a storage::Table, printed as a text
// table, CSV or JSON.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "engine/cli/commands.h"
#include "engine/cli/table_output.h"
#include "storage/storage.h"

namespace automl::cli {
namespace {

struct QueryArgs {
  std::string database = "automl.db";
  std::string format = "table";
  std::string experiment;
  std::string stage, status;
  std::int64_t trial = 0;
  std::string sql;
};

std::unique_ptr<storage::Storage> open_existing(const std::string& path) {
  if (!std::filesystem::exists(path)) throw InputError(path, "no such database");
  return storage::open_sqlite(path);
}

std::int64_t experiment_id(storage::Storage& db, const std::string& name) {
  const auto found = db.find_experiment(name);
  if (!found) throw InputError("--experiment", fmt::format("no experiment named '{}'", name));
  return found->id;
}

storage::Table experiments_table(storage::Storage& db) {
  storage::Table t{{"id", "name", "status", "created_at", "trials"}, {}};
  for (const auto& e : db.experiments()) {
    storage::TrialFilter filter;
    filter.experiment_id = e.id;
    t.rows.push_back({std::to_string(e.id), e.name, e.status, e.created_at,
                      std::to_string(db.trials(filter).size())});
  }
  return t;
}

storage::Table trials_table(storage::Storage& db, const QueryArgs& a) {
  storage::TrialFilter filter;
  if (!a.experiment.empty()) filter.experiment_id = experiment_id(db, a.experiment);
  if (!a.stage.empty()) filter.stage = a.stage;
  if (!a.status.empty()) filter.status = a.status;
  storage::Table t{
      {"id", "experiment", "stage", "label", "status", "seed", "device", "seconds", "reason"}, {}};
  for (const auto& r : db.trials(filter))
    t.rows.push_back({std::to_string(r.id), std::to_string(r.experiment_id), r.stage, r.label,
                      r.status, std::to_string(r.seed), r.device, fmt::format("{:.2f}", r.seconds),
                      r.reason});
  return t;
}

storage::Table epochs_table(storage::Storage& db, std::int64_t trial) {
  storage::Table t{{"trial", "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
                    "ity", "seconds", "mi_seconds"},
                   {}};
  for (const auto& e : db.epochs(trial))
    t.rows.push_back({std::to_string(e.trial_id), std::to_string(e.epoch),
                      fmt::format("{:.6g}", e.lr), fmt::format("{:.5f}", e.train_loss),
                      fmt::format("{:.4f}", e.train_accuracy), fmt::format("{:.5f}", e.test_loss),
                      fmt::format("{:.4f}", e.test_accuracy), fmt::format("{:.5f}", e.ity),
                      fmt::format("{:.3f}", e.seconds), fmt::format("{:.4f}", e.mi_seconds)});
  return t;
}

}  // namespace

void add_query_commands(CLI::App& app) {
  auto a = std::make_shared<QueryArgs>();
  auto* query = app.add_subcommand("query", "Answer questions about a trial database");
  query->require_subcommand(1);
  query->add_option("--db", a->database, "SQLite database to read")->capture_default_str();
  query->add_option("--format", a->format, "Output format")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  auto print = [a](const storage::Table& t) { print_table(t, a->format, std::cout); };

  query->add_subcommand("experiments", "List experiments")->callback([a, print] {
    print(experiments_table(*open_existing(a->database)));
  });

  auto* trials = query->add_subcommand("trials", "List trials");
  trials->add_option("--experiment", a->experiment, "Only this experiment (by name)");
  trials->add_option("--stage", a->stage, "Only this stage (e.g. main, lrrt, mi_sgd)");
  trials->add_option("--status", a->status, "Only this status")
      ->check(CLI::IsMember({"pending", "running", "done", "failed", "crashed"}));
  trials->callback([a, print] { print(trials_table(*open_existing(a->database), *a)); });

  auto* epochs = query->add_subcommand("epochs", "Per-epoch records of one trial");
  epochs->add_option("trial", a->trial, "Trial id (see `automl query trials`)")->required();
  epochs->callback([a, print] { print(epochs_table(*open_existing(a->database), a->trial)); });

  auto* sql = query->add_subcommand("sql", "Run one read-only SQL statement");
  sql->add_option("statement", a->sql, "e.g. \"SELECT * FROM epochs WHERE trial_id = 1\"")
      ->required();
  sql->callback([a, print] { print(open_existing(a->database)->query(a->sql)); });
}

}  // namespace automl::cli
