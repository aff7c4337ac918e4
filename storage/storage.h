#pragma once
// The trial database, behind an interface free of any backend's specifics: SQLite today
// (storage/sqlite_storage.cpp); a PostgreSQL backend for workers on many hosts can implement the
// same calls. Every write is durable when the call returns.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace automl::storage {

struct ExperimentRow {
  std::int64_t id = 0;
  std::string name;
  std::string config;  // the experiment as loaded (YAML text), for the record and for resume
  std::string status;  // running | done | failed
  std::string created_at;
};

struct TrialRow {
  std::int64_t id = 0;
  std::int64_t experiment_id = 0;
  std::string stage;   // e.g. "main", "lrrt", "c1c2", "mi_sgd", "baseline_search"
  std::string label;   // human-readable, unique within the experiment (e.g. "mi_sgd/seed=1")
  std::string status;  // pending | running | done | failed | crashed
  std::uint64_t seed = 0;
  std::string config;  // the trial's configuration as JSON
  std::string device;
  std::string reason;   // why it failed or crashed
  double seconds = 0;   // device-seconds spent
  std::string summary;  // JSON summary when done
};

struct EpochRow {
  std::int64_t trial_id = 0;
  int epoch = 0;
  double lr = 0;
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;
  double ity = 0;
  double seconds = 0, mi_seconds = 0;
  std::string extra;  // JSON: everything else the trial reported (per-layer MI state, MAE, ...)
};

struct TrialFilter {
  std::optional<std::int64_t> experiment_id;
  std::optional<std::string> stage;
  std::optional<std::string> status;
};

// A read-only query's result, for `automl query --sql`.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual std::int64_t create_experiment(const std::string& name, const std::string& config) = 0;
  virtual std::optional<ExperimentRow> find_experiment(const std::string& name) = 0;
  virtual void set_experiment_status(std::int64_t experiment_id, const std::string& status) = 0;
  virtual std::vector<ExperimentRow> experiments() = 0;

  // Adds a pending trial and returns its id.
  virtual std::int64_t add_trial(const TrialRow& trial) = 0;
  virtual void start_trial(std::int64_t trial_id, const std::string& device) = 0;
  virtual void finish_trial(std::int64_t trial_id, const std::string& status,
                            const std::string& reason, double seconds,
                            const std::string& summary) = 0;
  virtual std::vector<TrialRow> trials(const TrialFilter& filter) = 0;

  // Records one finished epoch; committed before it returns.
  virtual void add_epoch(const EpochRow& epoch) = 0;
  virtual std::vector<EpochRow> epochs(std::int64_t trial_id) = 0;

  // Runs one read-only SQL statement (rejected if it would write).
  virtual Table query(const std::string& sql) = 0;
};

// Opens (creating and migrating as needed) the database at `path`.
std::unique_ptr<Storage> open_sqlite(const std::string& path);

}  // namespace automl::storage
