// SQLite backend: WAL journal so readers never block the writer, a busy timeout so concurrent
// writers wait instead of failing, and a schema versioned by PRAGMA user_version. Every value
// is read back by column name, and every INSERT names its columns.
#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "common/error.h"
#include "storage/storage.h"

namespace automl::storage {
namespace {

constexpr int kBusyTimeoutMs = 60'000;
constexpr int kBusyRetries = 20;
constexpr const char* kNow = "strftime('%Y-%m-%dT%H:%M:%SZ','now')";

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool is_busy(const SQLite::Exception& e) {
  const int code = e.getErrorCode() & 0xff;
  return code == SQLITE_BUSY || code == SQLITE_LOCKED;
}

// BEGIN IMMEDIATE: takes the write lock up front, so a transaction that reads before it writes
// never dies of a lock upgrade; rolled back unless committed.
class WriteTransaction {
 public:
  explicit WriteTransaction(SQLite::Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
  ~WriteTransaction() {
    if (!done_) {
      try {
        db_.exec("ROLLBACK");
      } catch (...) {  // nothing to do: the connection closes the transaction anyway
      }
    }
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit() {
    db_.exec("COMMIT");
    done_ = true;
  }

 private:
  SQLite::Database& db_;
  bool done_ = false;
};

// Binds the values of `args` to the statement's parameters 1..n; enums as their names.
template <typename T>
void bind_one(SQLite::Statement& s, int index, const T& value) {
  if constexpr (std::is_enum_v<T>)
    s.bind(index, std::string(name(value)));
  else if constexpr (std::is_same_v<T, bool>)
    s.bind(index, value ? 1 : 0);
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    s.bind(index, static_cast<std::int64_t>(value));
  else
    s.bind(index, value);
}

template <typename... Args>
void bind_all(SQLite::Statement& s, const Args&... args) {
  int index = 0;
  (bind_one(s, ++index, args), ...);
}

// "INSERT OR REPLACE INTO table (a, b) VALUES (?, ?)" from the column list.
std::string insert_sql(const char* verb, const char* table, const std::vector<const char*>& cols) {
  std::string names, marks;
  for (const auto* c : cols) {
    names += (names.empty() ? "" : ", ") + std::string(c);
    marks += marks.empty() ? "?" : ", ?";
  }
  return fmt::format("{} INTO {} ({}) VALUES ({})", verb, table, names, marks);
}

// Named-column reads of the current row.
struct RowReader {
  const SQLite::Statement& s;
  const std::string& path;
  std::string text(const char* c) const { return s.getColumn(c).getString(); }
  double real(const char* c) const { return s.getColumn(c).getDouble(); }
  std::int64_t integer(const char* c) const { return s.getColumn(c).getInt64(); }
  int int32(const char* c) const { return s.getColumn(c).getInt(); }
  bool flag(const char* c) const { return s.getColumn(c).getInt() != 0; }
  template <typename E>
  E enumerated(const char* c) const {
    const auto value = text(c);
    if (const auto parsed = try_parse<E>(value)) return *parsed;
    throw StorageError(fmt::format("database {}: column {} holds '{}', not a {} this automl knows",
                                   path, c, value, Names<E>::kind));
  }
};

const char* const kTrialColumns =
    "id, experiment_id, stage, label, status, method, seed, lr, repeat, config, device, reason, "
    "seconds, summary, worker, attempts, heartbeat, device_seconds, estimated_seconds";

TrialRow read_trial(const RowReader& r) {
  TrialRow t;
  t.id = r.integer("id");
  t.experiment_id = r.integer("experiment_id");
  t.stage = r.enumerated<Stage>("stage");
  t.label = r.text("label");
  t.status = r.enumerated<TrialStatus>("status");
  t.method = r.enumerated<Method>("method");
  t.seed = static_cast<std::uint64_t>(r.integer("seed"));
  t.lr = r.real("lr");
  t.repeat = r.int32("repeat");
  t.config = r.text("config");
  t.device = r.text("device");
  t.reason = r.text("reason");
  t.seconds = r.real("seconds");
  t.summary = r.text("summary");
  t.worker = r.text("worker");
  t.attempts = r.int32("attempts");
  t.heartbeat = r.real("heartbeat");
  t.device_seconds = r.real("device_seconds");
  t.estimated_seconds = r.real("estimated_seconds");
  return t;
}

const char* const kEpochColumns =
    "trial_id, epoch, lr, train_loss, train_accuracy, test_loss, test_accuracy, ity, seconds, "
    "mi_seconds, bound, train_mae, test_mae, validation_accuracy, validation_mae";

EpochRow read_epoch(const RowReader& r) {
  EpochRow e;
  e.trial_id = r.integer("trial_id");
  e.epoch = r.int32("epoch");
  e.lr = r.real("lr");
  e.train_loss = r.real("train_loss");
  e.train_accuracy = r.real("train_accuracy");
  e.test_loss = r.real("test_loss");
  e.test_accuracy = r.real("test_accuracy");
  e.ity = r.real("ity");
  e.seconds = r.real("seconds");
  e.mi_seconds = r.real("mi_seconds");
  e.bound = r.real("bound");
  e.train_mae = r.real("train_mae");
  e.test_mae = r.real("test_mae");
  e.validation_accuracy = r.real("validation_accuracy");
  e.validation_mae = r.real("validation_mae");
  return e;
}

// Migration i brings the schema from version i to i + 1. Append only; never edit a shipped one.
const char* const kMigrations[] = {
    R"sql(
    CREATE TABLE experiments (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      config TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'running',
      created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')));
    CREATE TABLE trials (
      id INTEGER PRIMARY KEY,
      experiment_id INTEGER NOT NULL REFERENCES experiments(id),
      stage TEXT NOT NULL,
      label TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending',
      seed INTEGER NOT NULL,
      config TEXT NOT NULL,
      device TEXT NOT NULL DEFAULT '',
      reason TEXT NOT NULL DEFAULT '',
      seconds REAL NOT NULL DEFAULT 0,
      summary TEXT NOT NULL DEFAULT '{}',
      UNIQUE (experiment_id, label));
    CREATE TABLE epochs (
      trial_id INTEGER NOT NULL REFERENCES trials(id),
      epoch INTEGER NOT NULL,
      lr REAL NOT NULL,
      train_loss REAL, train_accuracy REAL,
      test_loss REAL, test_accuracy REAL,
      ity REAL,
      seconds REAL NOT NULL, mi_seconds REAL NOT NULL DEFAULT 0,
      extra TEXT NOT NULL DEFAULT '{}',
      PRIMARY KEY (trial_id, epoch));
    )sql",
    // 2: scheduling state of trials, stages and their decisions, per-layer epoch records.
    R"sql(
    ALTER TABLE trials ADD COLUMN worker TEXT NOT NULL DEFAULT '';
    ALTER TABLE trials ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE trials ADD COLUMN heartbeat REAL NOT NULL DEFAULT 0;
    ALTER TABLE trials ADD COLUMN device_seconds REAL NOT NULL DEFAULT 0;
    ALTER TABLE trials ADD COLUMN estimated_seconds REAL NOT NULL DEFAULT 0;
    ALTER TABLE trials ADD COLUMN started_at TEXT;
    ALTER TABLE trials ADD COLUMN finished_at TEXT;
    CREATE INDEX trials_by_status ON trials (experiment_id, status);
    CREATE TABLE epoch_groups (
      trial_id INTEGER NOT NULL,
      epoch INTEGER NOT NULL,
      name TEXT NOT NULL,
      lr REAL NOT NULL, ity REAL, d_p REAL, d_p_raw REAL, d_s REAL,
      decision TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (trial_id, epoch, name),
      FOREIGN KEY (trial_id, epoch) REFERENCES epochs(trial_id, epoch) ON DELETE CASCADE);
    CREATE TABLE stages (
      experiment_id INTEGER NOT NULL REFERENCES experiments(id),
      name TEXT NOT NULL,
      status TEXT NOT NULL,
      decision TEXT NOT NULL DEFAULT '{}',
      updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
      PRIMARY KEY (experiment_id, name));
    CREATE TABLE lrrt_table (
      experiment_id INTEGER NOT NULL REFERENCES experiments(id),
      trial INTEGER NOT NULL, lr REAL NOT NULL, crashed INTEGER NOT NULL,
      min_ds REAL, initial_loss REAL, final_loss REAL, initial_ity REAL, final_ity REAL,
      initial_accuracy REAL, final_accuracy REAL,
      PRIMARY KEY (experiment_id, trial, lr));
    CREATE TABLE lrrt_bounds (
      experiment_id INTEGER NOT NULL REFERENCES experiments(id),
      scope TEXT NOT NULL, attribute TEXT NOT NULL,
      lr_min REAL NOT NULL, lr_max REAL NOT NULL, lr_top REAL NOT NULL, eps REAL NOT NULL,
      warning TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (experiment_id, scope));
    CREATE TABLE c1c2_candidates (
      experiment_id INTEGER NOT NULL REFERENCES experiments(id),
      round INTEGER NOT NULL, c1 REAL NOT NULL, c2 REAL NOT NULL,
      lr_min REAL, lr_max REAL, lr_top REAL, eps REAL,
      epochs INTEGER NOT NULL, score REAL, kept INTEGER NOT NULL,
      PRIMARY KEY (experiment_id, round, c1, c2));
    CREATE TABLE results (
      experiment_id INTEGER NOT NULL REFERENCES experiments(id),
      method TEXT NOT NULL, seed INTEGER NOT NULL,
      trial_id INTEGER REFERENCES trials(id),
      lr REAL, final_test_accuracy REAL, best_test_accuracy REAL, final_test_mae REAL,
      status TEXT NOT NULL,
      PRIMARY KEY (experiment_id, method, seed));
    )sql",
    // 3: what a trial is becomes columns (its method, LR and LRRT repeat were only in its label
    // and config), and the epochs' JSON `extra` becomes typed columns. Version 2 labels are
    // "lrrt/t=1/lr=0.01", "c1c2/r=0/c=3", "mi_sgd_layerwise/seed=1", "baseline/adam/seed=1",
    // "baseline_search/adam/lr=0.001", "calibrate": read once here, never again.
    R"sql(
    ALTER TABLE trials ADD COLUMN method TEXT NOT NULL DEFAULT 'sgd';
    ALTER TABLE trials ADD COLUMN lr REAL NOT NULL DEFAULT 0;
    ALTER TABLE trials ADD COLUMN repeat INTEGER NOT NULL DEFAULT 0;
    UPDATE trials SET lr = COALESCE(json_extract(config, '$.optimizer.lr'), 0);
    UPDATE trials SET method = CASE
      WHEN stage IN ('baseline', 'baseline_search') THEN
        substr(label, instr(label, '/') + 1,
               instr(substr(label, instr(label, '/') + 1), '/') - 1)
      WHEN stage = 'mi_sgd' THEN substr(label, 1, instr(label, '/') - 1)
      WHEN stage = 'c1c2' THEN 'mi_sgd'
      ELSE 'sgd' END;
    UPDATE trials SET repeat = CAST(substr(label, 8, instr(substr(label, 8), '/') - 1) AS INTEGER)
      WHERE stage = 'lrrt' AND label LIKE 'lrrt/t=%/%';
    ALTER TABLE epochs ADD COLUMN bound REAL NOT NULL DEFAULT 0;
    ALTER TABLE epochs ADD COLUMN train_mae REAL NOT NULL DEFAULT 0;
    ALTER TABLE epochs ADD COLUMN test_mae REAL NOT NULL DEFAULT 0;
    ALTER TABLE epochs ADD COLUMN validation_accuracy REAL NOT NULL DEFAULT 0;
    ALTER TABLE epochs ADD COLUMN validation_mae REAL NOT NULL DEFAULT 0;
    UPDATE epochs SET
      bound = COALESCE(json_extract(extra, '$.bound'), 0),
      train_mae = COALESCE(json_extract(extra, '$.train_mae'), 0),
      test_mae = COALESCE(json_extract(extra, '$.test_mae'), 0),
      validation_accuracy = COALESCE(json_extract(extra, '$.validation_accuracy'), 0),
      validation_mae = COALESCE(json_extract(extra, '$.validation_mae'), 0);
    ALTER TABLE epochs DROP COLUMN extra;
    )sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// Statements a reader may run: reads only (no PRAGMA, ATTACH, VACUUM INTO or writes of any kind).
int allow_reads_only(void*, int action, const char*, const char*, const char*, const char*) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    default:
      return SQLITE_DENY;
  }
}

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(const std::string& path, Access access)
      : path_(path), access_(access), db_(open(path, access)) {
    guarded([&] {
      check_integrity();
      if (access_ == Access::read_write) {
        with_retry([&] { db_->exec("PRAGMA journal_mode=WAL"); });
        db_->exec("PRAGMA synchronous=NORMAL");
        db_->exec("PRAGMA foreign_keys=ON");
        with_retry([&] { migrate(*db_); });
      } else {
        open_for_reading();
      }
    });
  }

  std::int64_t create_experiment(const std::string& name, const std::string& config) override {
    return guarded([&] {
      run(insert_sql("INSERT", "experiments", {"name", "config"}), name, config);
      return db_->getLastInsertRowid();
    });
  }

  std::optional<ExperimentRow> find_experiment(const std::string& name) override {
    auto rows = select_experiments("WHERE name = ?", name);
    if (rows.empty()) return std::nullopt;
    return rows.front();
  }

  void set_experiment_status(std::int64_t id, ExperimentStatus status) override {
    write("UPDATE experiments SET status = ? WHERE id = ?", status, id);
  }

  std::vector<ExperimentRow> experiments() override { return select_experiments("", ""); }

  std::int64_t add_trial(const TrialRow& t) override { return add_trials({t}).front(); }

  std::vector<std::int64_t> add_trials(const std::vector<TrialRow>& trials) override {
    const auto insert = insert_sql("INSERT OR IGNORE", "trials",
                                   {"experiment_id", "stage", "label", "status", "method", "seed",
                                    "lr", "repeat", "config", "estimated_seconds"});
    return guarded([&] {
      WriteTransaction transaction(*db_);
      std::vector<std::int64_t> ids;
      for (const auto& t : trials) {
        run(insert, t.experiment_id, t.stage, t.label, TrialStatus::pending, t.method, t.seed, t.lr,
            t.repeat, t.config, t.estimated_seconds);
        SQLite::Statement find(*db_, "SELECT id FROM trials WHERE experiment_id = ? AND label = ?");
        bind_all(find, t.experiment_id, t.label);
        find.executeStep();
        ids.push_back(find.getColumn(0).getInt64());
      }
      transaction.commit();
      return ids;
    });
  }

  void start_trial(std::int64_t id, const std::string& device) override {
    write(fmt::format("UPDATE trials SET status = ?, device = ?, heartbeat = ?, started_at = {} "
                      "WHERE id = ?",
                      kNow),
          TrialStatus::running, device, unix_now(), id);
  }

  void finish_trial(std::int64_t id, TrialStatus status, const std::string& reason, double seconds,
                    const std::string& summary) override {
    write(fmt::format("UPDATE trials SET status = ?, reason = ?, seconds = ?, summary = ?, "
                      "finished_at = {} WHERE id = ?",
                      kNow),
          status, reason, seconds, summary, id);
  }

  std::vector<TrialRow> trials(const TrialFilter& filter) override {
    std::string sql = std::string("SELECT ") + kTrialColumns + " FROM trials WHERE 1=1";
    if (filter.experiment_id) sql += " AND experiment_id = :experiment";
    if (filter.stage) sql += " AND stage = :stage";
    if (filter.status) sql += " AND status = :status";
    return guarded([&] {
      SQLite::Statement select(*db_, sql + " ORDER BY id");
      if (filter.experiment_id) select.bind(":experiment", *filter.experiment_id);
      if (filter.stage) select.bind(":stage", std::string(name(*filter.stage)));
      if (filter.status) select.bind(":status", std::string(name(*filter.status)));
      return read_all<TrialRow>(select, read_trial);
    });
  }

  std::optional<TrialRow> trial(std::int64_t id) override {
    return guarded([&]() -> std::optional<TrialRow> {
      SQLite::Statement select(
          *db_, std::string("SELECT ") + kTrialColumns + " FROM trials WHERE id = ?");
      select.bind(1, id);
      if (!select.executeStep()) return std::nullopt;
      return read_trial({select, path_});
    });
  }

  std::optional<TrialRow> claim_trial(const ClaimRequest& r) override {
    return guarded([&]() -> std::optional<TrialRow> {
      WriteTransaction transaction(*db_);
      SQLite::Statement pick(*db_, r.trial_id > 0
                                       ? "SELECT id FROM trials WHERE id = ? AND status = ?"
                                       : "SELECT id FROM trials WHERE experiment_id = ? AND "
                                         "status = ? ORDER BY id LIMIT 1");
      bind_all(pick, r.trial_id > 0 ? r.trial_id : r.experiment_id, TrialStatus::pending);
      if (!pick.executeStep()) return std::nullopt;
      const auto id = pick.getColumn(0).getInt64();
      run(fmt::format("UPDATE trials SET status = ?, worker = ?, device = ?, attempts = attempts "
                      "+ 1, heartbeat = ?, reason = '', started_at = {} WHERE id = ?",
                      kNow),
          TrialStatus::running, r.worker, r.device, unix_now(), id);
      transaction.commit();
      return trial(id);
    });
  }

  bool heartbeat(std::int64_t id, const std::string& worker) override {
    return guarded([&] {
      SQLite::Statement update(*db_,
                               "UPDATE trials SET heartbeat = ? WHERE id = ? AND worker = ? AND "
                               "status = ?");
      bind_all(update, unix_now(), id, worker, TrialStatus::running);
      return update.exec() == 1;
    });
  }

  std::vector<TrialRow> requeue_stale(std::int64_t experiment_id, double max_age) override {
    return guarded([&] {
      WriteTransaction transaction(*db_);
      SQLite::Statement select(*db_, std::string("SELECT ") + kTrialColumns +
                                         " FROM trials WHERE experiment_id = ? AND status = ? "
                                         "AND heartbeat < ?");
      bind_all(select, experiment_id, TrialStatus::running, unix_now() - max_age);
      auto stale = read_all<TrialRow>(select, read_trial);
      for (const auto& t : stale)
        run("UPDATE trials SET status = ?, reason = ? WHERE id = ?", TrialStatus::pending,
            fmt::format("worker {} stopped sending heartbeats", t.worker), t.id);
      transaction.commit();
      return stale;
    });
  }

  void release_trial(std::int64_t id, const std::string& reason, int max_attempts) override {
    write(
        "UPDATE trials SET status = CASE WHEN attempts >= ? THEN ? ELSE ? END, reason = ? "
        "WHERE id = ? AND status = ?",
        max_attempts, TrialStatus::failed, TrialStatus::pending, reason, id, TrialStatus::running);
  }

  void count_failed_start(std::int64_t id, const std::string& reason, int max_attempts) override {
    write(
        "UPDATE trials SET attempts = attempts + 1, status = CASE WHEN attempts + 1 >= ? THEN ? "
        "ELSE ? END, reason = ? WHERE id = ? AND status = ?",
        max_attempts, TrialStatus::failed, TrialStatus::pending, reason, id, TrialStatus::pending);
  }

  void return_trial(std::int64_t id, const std::string& reason) override {
    write(
        "UPDATE trials SET status = ?, attempts = MAX(attempts - 1, 0), reason = ? WHERE id = ? "
        "AND status = ?",
        TrialStatus::pending, reason, id, TrialStatus::running);
  }

  void add_device_seconds(std::int64_t id, double device_seconds) override {
    write("UPDATE trials SET device_seconds = device_seconds + ? WHERE id = ?", device_seconds, id);
  }

  double device_seconds(std::int64_t experiment_id) override {
    return scalar<double>(
        "SELECT COALESCE(SUM(device_seconds), 0) FROM trials WHERE experiment_id = ?",
        experiment_id);
  }

  void add_epoch(const EpochRow& e) override {
    const auto epoch =
        insert_sql("INSERT", "epochs",
                   {"trial_id", "epoch", "lr", "train_loss", "train_accuracy", "test_loss",
                    "test_accuracy", "ity", "seconds", "mi_seconds", "bound", "train_mae",
                    "test_mae", "validation_accuracy", "validation_mae"});
    const auto group =
        insert_sql("INSERT", "epoch_groups",
                   {"trial_id", "epoch", "name", "lr", "ity", "d_p", "d_p_raw", "d_s", "decision"});
    guarded([&] {
      WriteTransaction transaction(*db_);
      run(epoch, e.trial_id, e.epoch, e.lr, e.train_loss, e.train_accuracy, e.test_loss,
          e.test_accuracy, e.ity, e.seconds, e.mi_seconds, e.bound, e.train_mae, e.test_mae,
          e.validation_accuracy, e.validation_mae);
      for (const auto& g : e.groups)
        run(group, e.trial_id, e.epoch, g.name, g.lr, g.ity, g.d_p, g.d_p_raw, g.d_s, g.decision);
      transaction.commit();
    });
  }

  std::vector<EpochRow> epochs(std::int64_t trial_id) override {
    return guarded([&] {
      SQLite::Statement select(*db_, std::string("SELECT ") + kEpochColumns +
                                         " FROM epochs WHERE trial_id = ? ORDER BY epoch");
      select.bind(1, trial_id);
      auto rows = read_all<EpochRow>(select, read_epoch);
      SQLite::Statement groups(*db_,
                               "SELECT epoch, name, lr, ity, d_p, d_p_raw, d_s, decision FROM "
                               "epoch_groups WHERE trial_id = ? ORDER BY epoch, rowid");
      groups.bind(1, trial_id);
      while (groups.executeStep()) {
        const RowReader r{groups, path_};
        const int epoch = r.int32("epoch");
        for (auto& e : rows)
          if (e.epoch == epoch)
            e.groups.push_back({r.text("name"), r.real("lr"), r.real("ity"), r.real("d_p"),
                                r.real("d_p_raw"), r.real("d_s"), r.text("decision")});
      }
      return rows;
    });
  }

  void delete_epochs_after(std::int64_t trial_id, int epoch) override {
    guarded([&] {
      WriteTransaction transaction(*db_);
      run("DELETE FROM epoch_groups WHERE trial_id = ? AND epoch > ?", trial_id, epoch);
      run("DELETE FROM epochs WHERE trial_id = ? AND epoch > ?", trial_id, epoch);
      transaction.commit();
    });
  }

  std::int64_t epochs_run(std::int64_t experiment_id) override {
    return scalar<std::int64_t>(
        "SELECT COUNT(*) FROM epochs JOIN trials ON trials.id = epochs.trial_id WHERE "
        "trials.experiment_id = ? AND epochs.epoch > 0",
        experiment_id);
  }

  void set_stage(std::int64_t experiment_id, Stage stage, StageStatus status) override {
    write(fmt::format("INSERT INTO stages (experiment_id, name, status) VALUES (?, ?, ?) ON "
                      "CONFLICT (experiment_id, name) DO UPDATE SET status = excluded.status, "
                      "updated_at = {}",
                      kNow),
          experiment_id, stage, status);
  }

  void save_decision(const StageDecision& d) override {
    guarded([&] {
      WriteTransaction transaction(*db_);
      run(fmt::format("INSERT INTO stages (experiment_id, name, status, decision) VALUES (?, ?, "
                      "?, ?) ON CONFLICT (experiment_id, name) DO UPDATE SET status = "
                      "excluded.status, decision = excluded.decision, updated_at = {}",
                      kNow),
          d.experiment_id, d.stage, d.status, d.decision);
      save_decision_tables(d);
      transaction.commit();
    });
  }

  std::vector<StageRow> stages(std::int64_t experiment_id) override {
    return select_rows<StageRow>(
        "SELECT experiment_id, name, status, decision, updated_at FROM stages WHERE "
        "experiment_id = ? ORDER BY rowid",
        experiment_id, [](const RowReader& r) {
          return StageRow{r.integer("experiment_id"), r.enumerated<Stage>("name"),
                          r.enumerated<StageStatus>("status"), r.text("decision"),
                          r.text("updated_at")};
        });
  }

  std::vector<LrrtRow> lrrt_table(std::int64_t experiment_id) override {
    return select_rows<LrrtRow>(
        "SELECT trial, lr, crashed, min_ds, initial_loss, final_loss, initial_ity, final_ity, "
        "initial_accuracy, final_accuracy FROM lrrt_table WHERE experiment_id = ? ORDER BY trial, "
        "lr",
        experiment_id, [](const RowReader& r) {
          return LrrtRow{r.int32("trial"),           r.real("lr"),
                         r.flag("crashed"),          r.real("min_ds"),
                         r.real("initial_loss"),     r.real("final_loss"),
                         r.real("initial_ity"),      r.real("final_ity"),
                         r.real("initial_accuracy"), r.real("final_accuracy")};
        });
  }

  std::vector<LrrtBoundsRow> lrrt_bounds(std::int64_t experiment_id) override {
    return select_rows<LrrtBoundsRow>(
        "SELECT scope, attribute, lr_min, lr_max, lr_top, eps, warning FROM lrrt_bounds WHERE "
        "experiment_id = ? ORDER BY rowid",
        experiment_id, [](const RowReader& r) {
          return LrrtBoundsRow{r.text("scope"),  r.text("attribute"), r.real("lr_min"),
                               r.real("lr_max"), r.real("lr_top"),    r.real("eps"),
                               r.text("warning")};
        });
  }

  std::vector<C1C2Row> c1c2_candidates(std::int64_t experiment_id) override {
    return select_rows<C1C2Row>(
        "SELECT round, c1, c2, lr_min, lr_max, lr_top, eps, epochs, score, kept FROM "
        "c1c2_candidates WHERE experiment_id = ? ORDER BY round, score DESC",
        experiment_id, [](const RowReader& r) {
          return C1C2Row{r.int32("round"), r.real("c1"),     r.real("c2"),  r.real("lr_min"),
                         r.real("lr_max"), r.real("lr_top"), r.real("eps"), r.int32("epochs"),
                         r.real("score"),  r.flag("kept")};
        });
  }

  std::vector<ResultRow> results(std::int64_t experiment_id) override {
    return select_rows<ResultRow>(
        "SELECT method, seed, trial_id, lr, final_test_accuracy, best_test_accuracy, "
        "final_test_mae, status FROM results WHERE experiment_id = ? ORDER BY method, seed",
        experiment_id, [](const RowReader& r) {
          ResultRow row;
          row.method = r.enumerated<Method>("method");
          row.seed = static_cast<std::uint64_t>(r.integer("seed"));
          row.trial_id = r.integer("trial_id");
          row.lr = r.real("lr");
          row.final_test_accuracy = r.real("final_test_accuracy");
          row.best_test_accuracy = r.real("best_test_accuracy");
          row.final_test_mae = r.real("final_test_mae");
          row.status = r.enumerated<TrialStatus>("status");
          return row;
        });
  }

  Table query(const std::string& sql) override {
    // A separate read-only connection that allows nothing but reads.
    auto reader = open(path_, Access::read_only);
    sqlite3_set_authorizer(reader->getHandle(), allow_reads_only, nullptr);
    try {
      SQLite::Statement select(*reader, only_statement(*reader, sql));
      Table table;
      for (int c = 0; c < select.getColumnCount(); ++c)
        table.columns.emplace_back(select.getColumnName(c));
      while (select.executeStep()) {
        std::vector<std::string> row;
        for (int c = 0; c < select.getColumnCount(); ++c) {
          const auto column = select.getColumn(c);
          row.push_back(column.isNull() ? "" : column.getString());
        }
        table.rows.push_back(std::move(row));
      }
      return table;
    } catch (const SQLite::Exception& e) {
      throw InputError("query sql",
                       fmt::format("{} (only one read-only SELECT is accepted)", e.what()));
    }
  }

 private:
  static std::unique_ptr<SQLite::Database> open(const std::string& path, Access access) {
    const int flags = access == Access::read_write ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE
                                                   : SQLite::OPEN_READONLY;
    try {
      auto db = std::make_unique<SQLite::Database>(path, flags, kBusyTimeoutMs);
      if (access == Access::read_only) db->exec("PRAGMA query_only = ON");
      return db;
    } catch (const SQLite::Exception& e) {
      throw StorageError(fmt::format("database {}: cannot open it: {}", path, e.what()));
    }
  }

  // The text of a single statement; a second one after it is refused, not silently dropped.
  // Compiled on the reader's own connection (its tables, its authorizer): a statement that does
  // not compile or is not allowed fails here with SQLite's message.
  static std::string only_statement(SQLite::Database& reader, const std::string& sql) {
    const char* tail = nullptr;
    sqlite3_stmt* statement = nullptr;
    const int prepared = sqlite3_prepare_v2(reader.getHandle(), sql.c_str(), -1, &statement, &tail);
    const std::string rest_of_text = prepared == SQLITE_OK && tail ? tail : "";
    sqlite3_finalize(statement);
    if (prepared != SQLITE_OK)
      throw InputError("query sql", fmt::format("{} (only one read-only SELECT is accepted)",
                                                sqlite3_errmsg(reader.getHandle())));
    auto rest = rest_of_text;
    rest.erase(0, rest.find_first_not_of(" \t\r\n;"));
    if (!rest.empty())
      throw InputError("query sql", fmt::format("more than one statement ('{}' follows the "
                                                "first): run them one at a time",
                                                rest.substr(0, 40)));
    return sql;
  }

  // Runs `work`, turning any SQLite error into a StorageError that names the database.
  template <typename Work>
  auto guarded(Work&& work) -> decltype(work()) {
    try {
      return with_retry(work);
    } catch (const SQLite::Exception& e) {
      throw StorageError(fmt::format("database {}: {}", path_, e.what()));
    }
  }

  // Runs `work`, again after a short pause while another connection holds the lock past the
  // busy timeout (SQLite also answers BUSY at once when a deferred reader would deadlock a
  // writer).
  template <typename Work>
  static auto with_retry(Work&& work) -> decltype(work()) {
    for (int attempt = 0;; ++attempt) {
      try {
        return work();
      } catch (const SQLite::Exception& e) {
        if (!is_busy(e) || attempt >= kBusyRetries) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
      }
    }
  }

  void check_integrity() {
    std::string verdict;
    try {
      verdict = with_retry([&] { return db_->execAndGet("PRAGMA quick_check").getString(); });
    } catch (const SQLite::Exception& e) {
      verdict = e.what();  // "file is not a database", "database disk image is malformed"
    }
    if (verdict != "ok")
      throw StorageError(
          fmt::format("database {} is corrupt (SQLite quick_check: {}); restore it "
                      "from a copy, or run the experiment into a new database",
                      path_, verdict));
  }

  int schema_version(SQLite::Database& db) {
    const int version = db.execAndGet("PRAGMA user_version").getInt();
    if (version > kSchemaVersion)
      throw StorageError(
          fmt::format("database {}: schema version {} is newer than this automl "
                      "({}): upgrade automl",
                      path_, version, kSchemaVersion));
    return version;
  }

  void migrate(SQLite::Database& db) {
    // IMMEDIATE: one opener migrates while the others wait for the lock, then see it done.
    WriteTransaction transaction(db);
    for (int version = schema_version(db); version < kSchemaVersion; ++version)
      db.exec(kMigrations[version]);
    db.exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion));
    transaction.commit();
  }

  // A reader never writes the file: an older schema is read through a migrated copy in memory.
  void open_for_reading() {
    if (schema_version(*db_) == kSchemaVersion) return;
    auto copy = std::make_unique<SQLite::Database>(":memory:", SQLite::OPEN_READWRITE);
    SQLite::Backup(*copy, *db_).executeStep();
    migrate(*copy);
    db_ = std::move(copy);
  }

  void save_decision_tables(const StageDecision& d) {
    static const auto lrrt = insert_sql(
        "INSERT OR REPLACE", "lrrt_table",
        {"experiment_id", "trial", "lr", "crashed", "min_ds", "initial_loss", "final_loss",
         "initial_ity", "final_ity", "initial_accuracy", "final_accuracy"});
    static const auto bounds = insert_sql(
        "INSERT OR REPLACE", "lrrt_bounds",
        {"experiment_id", "scope", "attribute", "lr_min", "lr_max", "lr_top", "eps", "warning"});
    static const auto c1c2 = insert_sql("INSERT OR REPLACE", "c1c2_candidates",
                                        {"experiment_id", "round", "c1", "c2", "lr_min", "lr_max",
                                         "lr_top", "eps", "epochs", "score", "kept"});
    for (const auto& r : d.lrrt_table)
      run(lrrt, d.experiment_id, r.trial, r.lr, r.crashed, r.min_ds, r.initial_loss, r.final_loss,
          r.initial_ity, r.final_ity, r.initial_accuracy, r.final_accuracy);
    for (const auto& b : d.lrrt_bounds)
      run(bounds, d.experiment_id, b.scope, b.attribute, b.lr_min, b.lr_max, b.lr_top, b.eps,
          b.warning);
    for (const auto& c : d.c1c2)
      run(c1c2, d.experiment_id, c.round, c.c1, c.c2, c.lr_min, c.lr_max, c.lr_top, c.eps, c.epochs,
          c.score, c.kept);
    for (const auto& r : d.results)
      run("INSERT OR REPLACE INTO results (experiment_id, method, seed, trial_id, lr, "
          "final_test_accuracy, best_test_accuracy, final_test_mae, status) VALUES (?, ?, ?, "
          "(SELECT id FROM trials WHERE experiment_id = ? AND label = ?), ?, ?, ?, ?, ?)",
          d.experiment_id, r.method, r.seed, d.experiment_id, r.label, r.lr, r.final_test_accuracy,
          r.best_test_accuracy, r.final_test_mae, r.status);
  }

  // One statement inside the caller's transaction.
  template <typename... Args>
  void run(const std::string& sql, const Args&... args) {
    SQLite::Statement statement(*db_, sql);
    bind_all(statement, args...);
    statement.exec();
  }

  // One statement in its own (autocommit) transaction, retried while the database is busy.
  template <typename... Args>
  void write(const std::string& sql, const Args&... args) {
    guarded([&] { run(sql, args...); });
  }

  template <typename T>
  T scalar(const char* sql, std::int64_t experiment_id) {
    return guarded([&] {
      SQLite::Statement select(*db_, sql);
      select.bind(1, experiment_id);
      select.executeStep();
      if constexpr (std::is_floating_point_v<T>)
        return select.getColumn(0).getDouble();
      else
        return static_cast<T>(select.getColumn(0).getInt64());
    });
  }

  template <typename Row, typename Read>
  std::vector<Row> read_all(SQLite::Statement& select, Read read) {
    std::vector<Row> rows;
    while (select.executeStep()) rows.push_back(read(RowReader{select, path_}));
    return rows;
  }

  template <typename Row, typename Read>
  std::vector<Row> select_rows(const char* sql, std::int64_t experiment_id, Read read) {
    return guarded([&] {
      SQLite::Statement select(*db_, sql);
      select.bind(1, experiment_id);
      return read_all<Row>(select, read);
    });
  }

  std::vector<ExperimentRow> select_experiments(const std::string& where, const std::string& name) {
    return guarded([&] {
      SQLite::Statement select(
          *db_,
          "SELECT id, name, config, status, created_at FROM experiments " + where + " ORDER BY id");
      if (!where.empty()) select.bind(1, name);
      return read_all<ExperimentRow>(select, [](const RowReader& r) {
        return ExperimentRow{r.integer("id"), r.text("name"), r.text("config"),
                             r.enumerated<ExperimentStatus>("status"), r.text("created_at")};
      });
    });
  }

  std::string path_;
  Access access_;
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace

std::unique_ptr<Storage> open_sqlite(const std::string& path, Access access) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (access == Access::read_only && !std::filesystem::exists(path))
    throw StorageError(fmt::format("database {} does not exist", path));
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    std::filesystem::create_directories(parent);
  return std::make_unique<SqliteStorage>(path, access);
}

}  // namespace automl::storage
