// The typed views of `automl query` and /api/ (report/views.h).
#include "report/views.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "trials/config_json.h"

// GCC 12 reports std::variant cells built in initializer lists as "maybe used uninitialized"
// (a known false positive of its string SSO analysis); nothing here is.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace automl::report {
namespace {

using Type = ColumnType;

Cell text(std::string_view value) {
  return std::string(value);
}

Cell integer(std::int64_t value) {
  return value;
}

nlohmann::ordered_json cell_json(const Cell& cell) {
  return std::visit(
      [](const auto& v) -> nlohmann::ordered_json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>)
          return nullptr;
        else
          return v;
      },
      cell);
}

// Shortest text that reads back as the same double.
std::string full_precision(double v) {
  return fmt::format("{}", v);
}

std::string csv_quoted(const std::string& cell) {
  if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string cell_csv(const Cell& cell) {
  if (const auto* v = std::get_if<std::int64_t>(&cell)) return std::to_string(*v);
  if (const auto* v = std::get_if<double>(&cell)) return full_precision(*v);
  if (const auto* v = std::get_if<bool>(&cell)) return *v ? "true" : "false";
  if (const auto* v = std::get_if<std::string>(&cell)) return csv_quoted(*v);
  return "";
}

std::string cell_text(const Cell& cell, const Column& column) {
  if (const auto* v = std::get_if<double>(&cell))
    return fmt::format(fmt::runtime(column.text_format), *v);
  if (const auto* v = std::get_if<bool>(&cell)) return *v ? "yes" : "no";
  if (const auto* v = std::get_if<std::string>(&cell))
    return column.text_width > 3 && v->size() > column.text_width
               ? v->substr(0, column.text_width - 3) + "..."
               : *v;
  if (std::holds_alternative<std::monostate>(cell)) return "-";
  return cell_csv(cell);
}

}  // namespace

Measures measures_of(const storage::TrialRow& trial) {
  trials::TrialConfig c;
  try {
    c = trials::read_trial_config(trial.config);
  } catch (const std::exception&) {
    return {};  // a configuration this release cannot read: every column as measured
  }
  return {c.evaluate_test, c.data.is_regression(), c.data.validation_fraction > 0, c.mi.enabled};
}

Cell real(double value, bool measured) {
  if (!measured || !std::isfinite(value)) return {};
  return value;
}

View experiments_view(storage::Storage& db) {
  View v{{{"id", Type::integer},
          {"name", Type::text},
          {"status", Type::text},
          {"created_at", Type::text},
          {"trials", Type::integer}},
         {}};
  for (const auto& e : db.experiments()) {
    storage::TrialFilter filter;
    filter.experiment_id = e.id;
    v.rows.push_back({integer(e.id), text(e.name), text(name(e.status)), text(e.created_at),
                      integer(static_cast<std::int64_t>(db.trials(filter).size()))});
  }
  return v;
}

View trials_view(storage::Storage& db, const storage::TrialFilter& filter) {
  View v{{{"id", Type::integer},
          {"experiment", Type::integer},
          {"stage", Type::text},
          {"label", Type::text},
          {"status", Type::text},
          {"method", Type::text},
          {"seed", Type::integer},
          {"lr", Type::real},
          {"device", Type::text},
          {"worker", Type::text},
          {"attempts", Type::integer},
          {"seconds", Type::real, "{:.2f}"},
          {"device_seconds", Type::real, "{:.2f}"},
          {"reason", Type::text}},
         {}};
  for (const auto& r : db.trials(filter)) {
    const bool started = r.status != TrialStatus::pending || r.attempts > 0;
    v.rows.push_back({integer(r.id), integer(r.experiment_id), text(name(r.stage)), text(r.label),
                      text(name(r.status)), text(name(r.method)),
                      integer(static_cast<std::int64_t>(r.seed)), real(r.lr), text(r.device),
                      text(r.worker), integer(r.attempts), real(r.seconds, started),
                      real(r.device_seconds, started), text(r.reason)});
  }
  return v;
}

View epochs_view(storage::Storage& db, std::int64_t trial_id) {
  const auto trial = db.trial(trial_id);
  return trial ? epochs_view(*trial, db.epochs(trial_id)) : epochs_view(storage::TrialRow{}, {});
}

View epochs_view(const storage::TrialRow& trial, const std::vector<storage::EpochRow>& epochs) {
  View v{{{"trial", Type::integer},
          {"epoch", Type::integer},
          {"lr", Type::real},
          {"train_loss", Type::real, "{:.5f}"},
          {"train_acc", Type::real, "{:.4f}"},
          {"test_loss", Type::real, "{:.5f}"},
          {"test_acc", Type::real, "{:.4f}"},
          {"train_mae", Type::real, "{:.5g}"},
          {"test_mae", Type::real, "{:.5g}"},
          {"validation_acc", Type::real, "{:.4f}"},
          {"validation_mae", Type::real, "{:.5g}"},
          {"ity", Type::real, "{:.5f}"},
          {"bound", Type::real, "{:.5f}"},
          {"seconds", Type::real, "{:.3f}"},
          {"mi_seconds", Type::real, "{:.4f}"}},
         {}};
  const auto m = measures_of(trial);
  for (const auto& e : epochs) {
    const bool trained = e.epoch > 0;  // epoch 0 is the pre-training MI record
    const bool mi = m.mi && std::isfinite(e.train_loss);
    v.rows.push_back({integer(e.trial_id), integer(e.epoch), real(e.lr, trained),
                      real(e.train_loss, trained), real(e.train_accuracy, trained && !m.regression),
                      real(e.test_loss, m.test), real(e.test_accuracy, m.test && !m.regression),
                      real(e.train_mae, trained && m.regression),
                      real(e.test_mae, m.test && m.regression),
                      real(e.validation_accuracy, m.validation && !m.regression),
                      real(e.validation_mae, m.validation && m.regression), real(e.ity, mi),
                      real(e.bound, mi), real(e.seconds), real(e.mi_seconds, m.mi)});
  }
  return v;
}

View epoch_groups_view(storage::Storage& db, std::int64_t trial_id) {
  return epoch_groups_view(db.epochs(trial_id));
}

View epoch_groups_view(const std::vector<storage::EpochRow>& epochs) {
  View v{{{"epoch", Type::integer},
          {"group", Type::text},
          {"lr", Type::real},
          {"ity", Type::real, "{:.5f}"},
          {"d_p", Type::real, "{:.4f}"},
          {"d_p_raw", Type::real, "{:.4f}"},
          {"d_s", Type::real, "{:.4f}"},
          {"decision", Type::text}},
         {}};
  for (const auto& e : epochs)
    for (const auto& g : e.groups) {
      // Epoch 0 has no LR yet and no history for d_p and d_s.
      const bool trained = e.epoch > 0;
      v.rows.push_back({integer(e.epoch), text(g.name), real(g.lr, trained), real(g.ity),
                        real(g.d_p, trained), real(g.d_p_raw, trained), real(g.d_s, trained),
                        text(g.decision)});
    }
  return v;
}

View stages_view(storage::Storage& db, std::int64_t experiment_id) {
  View v{{{"stage", Type::text},
          {"status", Type::text},
          {"updated_at", Type::text},
          {"decision", Type::text, "", 120}},
         {}};
  for (const auto& s : db.stages(experiment_id))
    v.rows.push_back(
        {text(name(s.stage)), text(name(s.status)), text(s.updated_at), text(s.decision)});
  return v;
}

// Best results: per method, the mean and the best final test accuracy over its seeds.
View best_view(storage::Storage& db, std::int64_t experiment_id) {
  View v{{{"method", Type::text},
          {"seeds", Type::integer},
          {"lr", Type::real},
          {"mean_test_acc", Type::real, "{:.4f}"},
          {"best_test_acc", Type::real, "{:.4f}"},
          {"best_seed", Type::integer},
          {"best_trial", Type::integer}},
         {}};
  const auto results = db.results(experiment_id);
  std::vector<Method> methods;
  for (const auto& r : results)
    if (std::find(methods.begin(), methods.end(), r.method) == methods.end())
      methods.push_back(r.method);
  std::vector<std::pair<double, std::vector<Cell>>> rows;
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
    rows.push_back({best->final_test_accuracy,
                    {text(name(method)), integer(n), real(best->lr), real(sum / n),
                     real(best->final_test_accuracy),
                     integer(static_cast<std::int64_t>(best->seed)), integer(best->trial_id)}});
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& x, const auto& y) { return x.first > y.first; });
  for (auto& row : rows) v.rows.push_back(std::move(row.second));
  return v;
}

View results_view(storage::Storage& db, std::int64_t experiment_id) {
  View v{{{"method", Type::text},
          {"seed", Type::integer},
          {"trial", Type::integer},
          {"lr", Type::real},
          {"final_test_acc", Type::real, "{:.4f}"},
          {"best_test_acc", Type::real, "{:.4f}"},
          {"final_test_mae", Type::real},
          {"status", Type::text}},
         {}};
  for (const auto& r : db.results(experiment_id)) {
    // A result's trial tells whether its score is an accuracy or an MAE.
    const auto trial = db.trial(r.trial_id);
    const bool regression = trial && measures_of(*trial).regression;
    v.rows.push_back({text(name(r.method)), integer(static_cast<std::int64_t>(r.seed)),
                      integer(r.trial_id), real(r.lr), real(r.final_test_accuracy, !regression),
                      real(r.best_test_accuracy, !regression), real(r.final_test_mae, regression),
                      text(name(r.status))});
  }
  return v;
}

View lrrt_view(storage::Storage& db, std::int64_t experiment_id) {
  View v{{{"scope", Type::text},
          {"attribute", Type::text},
          {"lr_min", Type::real},
          {"lr_max", Type::real},
          {"lr_top", Type::real},
          {"eps", Type::real},
          {"warning", Type::text}},
         {}};
  for (const auto& b : db.lrrt_bounds(experiment_id))
    v.rows.push_back({text(b.scope), text(b.attribute), real(b.lr_min), real(b.lr_max),
                      real(b.lr_top), real(b.eps), text(b.warning)});
  return v;
}

View table_d_view(storage::Storage& db, std::int64_t experiment_id) {
  View v{{{"trial", Type::integer},
          {"lr", Type::real},
          {"crashed", Type::boolean},
          {"min_ds", Type::real},
          {"initial_loss", Type::real},
          {"final_loss", Type::real},
          {"initial_ity", Type::real},
          {"final_ity", Type::real},
          {"initial_acc", Type::real},
          {"final_acc", Type::real}},
         {}};
  for (const auto& r : db.lrrt_table(experiment_id))
    v.rows.push_back({integer(r.trial), real(r.lr), r.crashed, real(r.min_ds), real(r.initial_loss),
                      real(r.final_loss), real(r.initial_ity), real(r.final_ity),
                      real(r.initial_accuracy), real(r.final_accuracy)});
  return v;
}

View c1c2_view(storage::Storage& db, std::int64_t experiment_id) {
  View v{{{"round", Type::integer},
          {"c1", Type::real},
          {"c2", Type::real},
          {"lr_min", Type::real},
          {"lr_max", Type::real},
          {"lr_top", Type::real},
          {"eps", Type::real},
          {"epochs", Type::integer},
          {"score", Type::real, "{:.4f}"},
          {"kept", Type::boolean}},
         {}};
  for (const auto& c : db.c1c2_candidates(experiment_id))
    // A crashed or failed candidate is stored with score -1: it has no validation accuracy.
    v.rows.push_back({integer(c.round), real(c.c1), real(c.c2), real(c.lr_min), real(c.lr_max),
                      real(c.lr_top), real(c.eps), integer(c.epochs), real(c.score, c.score >= 0),
                      c.kept});
  return v;
}

const std::vector<ExperimentView>& experiment_views() {
  static const std::vector<ExperimentView> views = {
      {"best", "Best result per method (mean and best over seeds)", best_view},
      {"results", "Final results, one row per method and seed", results_view},
      {"stages", "Stages and their decisions", stages_view},
      {"lrrt", "LR range test bounds (LR_min, LR_max, LR_top, eps)", lrrt_view},
      {"table-d", "LR range test table D: one row per (trial, LR)", table_d_view},
      {"c1c2", "C1/C2 candidates and their scores per round", c1c2_view},
  };
  return views;
}

std::optional<storage::ExperimentRow> only_experiment(storage::Storage& db) {
  auto all = db.experiments();
  if (all.size() != 1) return std::nullopt;
  return all.front();
}

View sql_view(const storage::Table& table) {
  View v;
  for (const auto& c : table.columns) v.columns.push_back({c, Type::text});
  for (const auto& row : table.rows) {
    std::vector<Cell> cells;
    for (const auto& cell : row) cells.push_back(cell);
    v.rows.push_back(std::move(cells));
  }
  return v;
}

std::string view_json(const View& view, int indent) {
  auto rows = nlohmann::ordered_json::array();
  for (const auto& row : view.rows) {
    auto object = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < row.size(); ++i) object[view.columns[i].name] = cell_json(row[i]);
    rows.push_back(std::move(object));
  }
  return rows.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string view_csv(const View& view) {
  std::string out;
  for (std::size_t i = 0; i < view.columns.size(); ++i)
    out += (i ? "," : "") + csv_quoted(view.columns[i].name);
  out += "\n";
  for (const auto& row : view.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + cell_csv(row[i]);
    out += "\n";
  }
  return out;
}

std::vector<std::vector<std::string>> view_text_cells(const View& view) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : view.rows) {
    std::vector<std::string> cells;
    for (std::size_t i = 0; i < row.size(); ++i)
      cells.push_back(cell_text(row[i], view.columns[i]));
    rows.push_back(std::move(cells));
  }
  return rows;
}

}  // namespace automl::report
