// `automl query`: read the trial database. Every view is a typed table (report/views.h, shared
// with `automl serve`'s /api/), printed as a text table, CSV or JSON.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "engine/cli/commands.h"
#include "engine/cli/table_output.h"
#include "report/views.h"
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
  if (!storage::is_postgres_url(path) && !std::filesystem::exists(path))
    throw InputError(path, "no such database");
  return storage::open_storage(path, storage::Access::read_only);
}

std::int64_t experiment_id(storage::Storage& db, const std::string& name) {
  const auto found = db.find_experiment(name);
  if (!found) throw InputError("--experiment", fmt::format("no experiment named '{}'", name));
  return found->id;
}

std::int64_t required_experiment(storage::Storage& db, const QueryArgs& a) {
  if (!a.experiment.empty()) return experiment_id(db, a.experiment);
  if (const auto only = report::only_experiment(db)) return only->id;
  throw InputError("--experiment", "the database holds several experiments: name one");
}

report::View trials_view(storage::Storage& db, const QueryArgs& a) {
  storage::TrialFilter filter;
  if (!a.experiment.empty()) filter.experiment_id = experiment_id(db, a.experiment);
  if (!a.stage.empty()) filter.stage = parse<Stage>(a.stage);  // checked by the option
  if (!a.status.empty()) filter.status = parse<TrialStatus>(a.status);
  return report::trials_view(db, filter);
}

}  // namespace

void add_query_commands(CLI::App& app) {
  auto a = std::make_shared<QueryArgs>();
  auto* query = app.add_subcommand("query", "Answer questions about a trial database");
  query->require_subcommand(1);
  // `automl query trials --db x.db` as well as `automl query --db x.db trials`: the views'
  // unknown options fall through to here (the views created below inherit it).
  query->fallthrough();
  query->add_option("--db", a->database, "SQLite file or postgresql:// URL to read")
      ->capture_default_str();
  query
      ->add_option("--format", a->format,
                   "Output format (csv and json: numbers at full precision, null where nothing "
                   "was measured)")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  auto print = [a](const report::View& v) { print_view(v, a->format, std::cout); };

  query->add_subcommand("experiments", "List experiments")->callback([a, print] {
    print(report::experiments_view(*open_existing(a->database)));
  });

  auto* trials = query->add_subcommand("trials", "List trials");
  trials->add_option("--experiment", a->experiment, "Only this experiment (by name)");
  trials->add_option("--stage", a->stage, "Only this stage")
      ->check(CLI::IsMember(all_names<Stage>()));
  trials->add_option("--status", a->status, "Only this status")
      ->check(CLI::IsMember(all_names<TrialStatus>()));
  trials->callback([a, print] { print(trials_view(*open_existing(a->database), *a)); });

  auto* epochs = query->add_subcommand("epochs", "Per-epoch records of one trial");
  epochs->add_option("trial", a->trial, "Trial id (see `automl query trials`)")->required();
  epochs->callback(
      [a, print] { print(report::epochs_view(*open_existing(a->database), a->trial)); });

  for (const auto& view : report::experiment_views()) {
    auto* command = query->add_subcommand(view.name, view.help);
    command->add_option("--experiment", a->experiment,
                        "Experiment by name (optional when the database holds one)");
    command->callback([a, print, build = view.build] {
      const auto db = open_existing(a->database);
      print(build(*db, required_experiment(*db, *a)));
    });
  }

  auto* sql = query->add_subcommand("sql", "Run one read-only SQL statement");
  sql->add_option("statement", a->sql, "e.g. \"SELECT * FROM epochs WHERE trial_id = 1\"")
      ->required();
  sql->callback([a, print] { print(report::sql_view(open_existing(a->database)->query(a->sql))); });
}

}  // namespace automl::cli
