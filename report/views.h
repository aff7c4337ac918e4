#pragma once
// The views of `automl query` and of the dashboard's /api/, built once from the Storage
// interface as typed tables: every column has a type (integer, real, text, boolean), and a cell
// is null where nothing was measured (epoch 0's training metrics, the test set of a trial that
// never evaluates it, accuracy in a regression, MAE in a classification, a non-finite value).
// JSON and CSV print full-precision numbers, `null`/empty for null and true/false for flags.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "storage/storage.h"

namespace automl::report {

// What a trial measures, read from its stored configuration: which columns of its epochs hold
// a value and which are the zeros of a record never filled in.
struct Measures {
  bool test = true;         // evaluate_test
  bool regression = false;  // MAE instead of accuracy
  bool validation = false;  // a validation split is held out
  bool mi = true;           // ITY and the MI policy's state
};
// A configuration this release cannot read counts as measuring everything.
Measures measures_of(const storage::TrialRow& trial);

enum class ColumnType { integer, real, text, boolean };

struct Column {
  std::string name;
  ColumnType type = ColumnType::text;
  // How the terminal table shows a real (fmt spec); JSON and CSV always print full precision.
  std::string text_format = "{:.6g}";
  std::size_t text_width = 0;  // the terminal table cuts longer text here ("..."); 0 = never
};

// A cell: null, or a value of its column's type.
using Cell = std::variant<std::monostate, std::int64_t, double, std::string, bool>;

struct View {
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;
};

// A real that is null when not finite (JSON has no NaN) or not measured.
Cell real(double value, bool measured = true);

// `automl query experiments`: id, name, status, created_at, trials.
View experiments_view(storage::Storage& db);
// `automl query trials`.
View trials_view(storage::Storage& db, const storage::TrialFilter& filter);
// `automl query epochs ID`: one trial's epochs; an unknown trial gives no rows.
View epochs_view(storage::Storage& db, std::int64_t trial_id);
// The same from rows already read.
View epochs_view(const storage::TrialRow& trial, const std::vector<storage::EpochRow>& epochs);
// One row per (epoch, parameter group) of a trial: LR, ITY, d_p, d_s, decision.
View epoch_groups_view(storage::Storage& db, std::int64_t trial_id);
View epoch_groups_view(const std::vector<storage::EpochRow>& epochs);
View stages_view(storage::Storage& db, std::int64_t experiment_id);
View best_view(storage::Storage& db, std::int64_t experiment_id);
View results_view(storage::Storage& db, std::int64_t experiment_id);
View lrrt_view(storage::Storage& db, std::int64_t experiment_id);  // the LRRT's bounds
View table_d_view(storage::Storage& db, std::int64_t experiment_id);
View c1c2_view(storage::Storage& db, std::int64_t experiment_id);

// The views above that describe one experiment, under the name `automl query NAME` and
// `/api/NAME` give them.
struct ExperimentView {
  const char* name;
  const char* help;
  View (*build)(storage::Storage& db, std::int64_t experiment_id);
};
const std::vector<ExperimentView>& experiment_views();
// The experiment a question means when it names none: the database's only one (nullopt when it
// holds several, or none).
std::optional<storage::ExperimentRow> only_experiment(storage::Storage& db);
// `automl query sql`: SQLite gives text back, so every column is text (empty = NULL is lost).
View sql_view(const storage::Table& table);

// An array of one object per row, keys in column order; indent < 0: one line.
std::string view_json(const View& view, int indent = -1);
// A header line, then one line per row; null is an empty cell, booleans true/false.
std::string view_csv(const View& view);
// The cells as the terminal table shows them ("-" for null).
std::vector<std::vector<std::string>> view_text_cells(const View& view);

}  // namespace automl::report
