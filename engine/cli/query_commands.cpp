// `automl query`: read the trial database. Every view is a storage::Table, printed as a text
// table, CSV or JSON.
#include <fmt/format.h>

#include <algorithm>
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
  return storage::open_sqlite(path, storage::Access::read_only);
}

std::string text(std::string_view name) {
  return std::string(name);
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
    t.rows.push_back({std::to_string(e.id), e.name, text(name(e.status)), e.created_at,
                      std::to_string(db.trials(filter).size())});
  }
  return t;
}

storage::Table trials_table(storage::Storage& db, const QueryArgs& a) {
  storage::TrialFilter filter;
  if (!a.experiment.empty()) filter.experiment_id = experiment_id(db, a.experiment);
  if (!a.stage.empty()) filter.stage = parse<Stage>(a.stage);  // checked by the option
  if (!a.status.empty()) filter.status = parse<TrialStatus>(a.status);
  storage::Table t{{"id", "experiment", "stage", "label", "status", "method", "seed", "device",
                    "worker", "attempts", "seconds", "device_seconds", "reason"},
                   {}};
  for (const auto& r : db.trials(filter))
    t.rows.push_back({std::to_string(r.id), std::to_string(r.experiment_id), text(name(r.stage)),
                      r.label, text(name(r.status)), text(name(r.method)), std::to_string(r.seed),
                      r.device, r.worker, std::to_string(r.attempts),
                      fmt::format("{:.2f}", r.seconds), fmt::format("{:.2f}", r.device_seconds),
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

std::int64_t required_experiment(storage::Storage& db, const QueryArgs& a) {
  if (!a.experiment.empty()) return experiment_id(db, a.experiment);
  const auto all = db.experiments();
  if (all.size() == 1) return all.front().id;
  throw InputError("--experiment", "the database holds several experiments: name one");
}

std::string number(double value) {
  return fmt::format("{:.6g}", value);
}

storage::Table stages_table(storage::Storage& db, const QueryArgs& a) {
  storage::Table t{{"stage", "status", "updated_at", "decision"}, {}};
  for (const auto& s : db.stages(required_experiment(db, a)))
    t.rows.push_back({text(name(s.stage)), text(name(s.status)), s.updated_at,
                      s.decision.size() > 120 ? s.decision.substr(0, 117) + "..." : s.decision});
  return t;
}

// Best results: per method, the mean and the best final test accuracy over its seeds.
storage::Table best_table(storage::Storage& db, const QueryArgs& a) {
  storage::Table t{
      {"method", "seeds", "lr", "mean_test_acc", "best_test_acc", "best_seed", "best_trial"}, {}};
  const auto results = db.results(required_experiment(db, a));
  std::vector<Method> methods;
  for (const auto& r : results)
    if (std::find(methods.begin(), methods.end(), r.method) == methods.end())
      methods.push_back(r.method);
  std::vector<std::pair<double, std::vector<std::string>>> rows;
  for (const auto& method : methods) {
    double sum = 0;
    int n = 0;
    const storage::ResultRow* best = nullptr;
    for (const auto& r : results) {
      if (r.method != method) continue;
      sum += r.final_test_accuracy;
      ++n;
      if (!best || r.final_test_accuracy > best->final_test_accuracy) best = &r;
    }
    rows.push_back(
        {best->final_test_accuracy,
         {text(name(method)), std::to_string(n), number(best->lr), fmt::format("{:.4f}", sum / n),
          fmt::format("{:.4f}", best->final_test_accuracy), std::to_string(best->seed),
          std::to_string(best->trial_id)}});
  }
  std::sort(rows.begin(), rows.end(),
            [](const auto& x, const auto& y) { return x.first > y.first; });
  for (auto& row : rows) t.rows.push_back(std::move(row.second));
  return t;
}

storage::Table results_table(storage::Storage& db, const QueryArgs& a) {
  storage::Table t{{"method", "seed", "trial", "lr", "final_test_acc", "best_test_acc",
                    "final_test_mae", "status"},
                   {}};
  for (const auto& r : db.results(required_experiment(db, a)))
    t.rows.push_back({text(name(r.method)), std::to_string(r.seed), std::to_string(r.trial_id),
                      number(r.lr), fmt::format("{:.4f}", r.final_test_accuracy),
                      fmt::format("{:.4f}", r.best_test_accuracy), number(r.final_test_mae),
                      text(name(r.status))});
  return t;
}

storage::Table bounds_table(storage::Storage& db, const QueryArgs& a) {
  storage::Table t{{"scope", "attribute", "lr_min", "lr_max", "lr_top", "eps", "warning"}, {}};
  for (const auto& b : db.lrrt_bounds(required_experiment(db, a)))
    t.rows.push_back({b.scope, b.attribute, number(b.lr_min), number(b.lr_max), number(b.lr_top),
                      number(b.eps), b.warning});
  return t;
}

storage::Table table_d(storage::Storage& db, const QueryArgs& a) {
  storage::Table t{{"trial", "lr", "crashed", "min_ds", "initial_loss", "final_loss", "initial_ity",
                    "final_ity", "initial_acc", "final_acc"},
                   {}};
  for (const auto& r : db.lrrt_table(required_experiment(db, a)))
    t.rows.push_back({std::to_string(r.trial), number(r.lr), r.crashed ? "yes" : "no",
                      number(r.min_ds), number(r.initial_loss), number(r.final_loss),
                      number(r.initial_ity), number(r.final_ity), number(r.initial_accuracy),
                      number(r.final_accuracy)});
  return t;
}

storage::Table c1c2_table(storage::Storage& db, const QueryArgs& a) {
  storage::Table t{
      {"round", "c1", "c2", "lr_min", "lr_max", "lr_top", "eps", "epochs", "score", "kept"}, {}};
  for (const auto& c : db.c1c2_candidates(required_experiment(db, a)))
    t.rows.push_back({std::to_string(c.round), number(c.c1), number(c.c2), number(c.lr_min),
                      number(c.lr_max), number(c.lr_top), number(c.eps), std::to_string(c.epochs),
                      fmt::format("{:.4f}", c.score), c.kept ? "yes" : "no"});
  return t;
}

}  // namespace

void add_query_commands(CLI::App& app) {
  auto a = std::make_shared<QueryArgs>();
  auto* query = app.add_subcommand("query", "Answer questions about a trial database");
  query->require_subcommand(1);
  // `automl query trials --db x.db` as well as `automl query --db x.db trials`: the views'
  // unknown options fall through to here (the views created below inherit it).
  query->fallthrough();
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
  trials->add_option("--stage", a->stage, "Only this stage")
      ->check(CLI::IsMember(all_names<Stage>()));
  trials->add_option("--status", a->status, "Only this status")
      ->check(CLI::IsMember(all_names<TrialStatus>()));
  trials->callback([a, print] { print(trials_table(*open_existing(a->database), *a)); });

  auto* epochs = query->add_subcommand("epochs", "Per-epoch records of one trial");
  epochs->add_option("trial", a->trial, "Trial id (see `automl query trials`)")->required();
  epochs->callback([a, print] { print(epochs_table(*open_existing(a->database), a->trial)); });

  auto add_view = [&](const char* name, const char* help,
                      storage::Table (*view)(storage::Storage&, const QueryArgs&)) {
    auto* command = query->add_subcommand(name, help);
    command->add_option("--experiment", a->experiment,
                        "Experiment by name (optional when the database holds one)");
    command->callback([a, print, view] { print(view(*open_existing(a->database), *a)); });
  };
  add_view("best", "Best result per method (mean and best over seeds)", best_table);
  add_view("results", "Final results, one row per method and seed", results_table);
  add_view("stages", "Stages and their decisions", stages_table);
  add_view("lrrt", "LR range test bounds (LR_min, LR_max, LR_top, eps)", bounds_table);
  add_view("table-d", "LR range test table D: one row per (trial, LR)", table_d);
  add_view("c1c2", "C1/C2 candidates and their scores per round", c1c2_table);

  auto* sql = query->add_subcommand("sql", "Run one read-only SQL statement");
  sql->add_option("statement", a->sql, "e.g. \"SELECT * FROM epochs WHERE trial_id = 1\"")
      ->required();
  sql->callback([a, print] { print(open_existing(a->database)->query(a->sql)); });
}

}  // namespace automl::cli
