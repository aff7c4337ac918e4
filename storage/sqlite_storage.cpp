// SQLite backend (the SQL and row mapping it shares with PostgreSQL are in storage/rows.h): WAL
// journal so readers never block the writer, a busy timeout so concurrent writers wait instead of
// failing, and a schema versioned by PRAGMA user_version. Every value is read back by column name,
// and every INSERT names its columns.
#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "common/error.h"
#include "storage/rows.h"
#include "storage/storage.h"

namespace automl::storage {
namespace {

constexpr int kBusyTimeoutMs = 60'000;
constexpr int kBusyRetries = 20;
// The database's clock, which for SQLite is the host's (julianday keeps the fraction of a second).
constexpr rows::Clock kClock = {"strftime('%Y-%m-%dT%H:%M:%SZ','now')",
                                "((julianday('now') - 2440587.5) * 86400.0)"};

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

// Named-column reads of the current row.
struct RowReader {
  const SQLite::Statement& s;
  const std::string& path;
  std::string text(const char* c) const { return s.getColumn(c).getString(); }
  double real(const char* c) const { return s.getColumn(c).getDouble(); }
  std::int64_t integer(const char* c) const { return s.getColumn(c).getInt64(); }
  int int32(const char* c) const { return s.getColumn(c).getInt(); }
  bool flag(const char* c) const { return s.getColumn(c).getInt() != 0; }
  const std::string& database() const { return path; }
};

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
    // 4: the coordinator's lease on an experiment (trials gain the status 'queued': no DDL).
    R"sql(
    CREATE TABLE leases (
      experiment_id INTEGER PRIMARY KEY REFERENCES experiments(id),
      holder TEXT NOT NULL,
      renewed_at REAL NOT NULL);
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
      run(rows::insert_sql("INSERT", "experiments", {"name", "config"}), name, config);
      return db_->getLastInsertRowid();
    });
  }

  std::optional<ExperimentRow> find_experiment(const std::string& name) override {
    auto found = select_experiments("WHERE name = ?", name);
    if (found.empty()) return std::nullopt;
    return found.front();
  }

  void set_experiment_status(std::int64_t id, ExperimentStatus status) override {
    write("UPDATE experiments SET status = ? WHERE id = ?", status, id);
  }

  std::vector<ExperimentRow> experiments() override { return select_experiments("", ""); }

  std::int64_t add_trial(const TrialRow& t) override { return add_trials({t}).front(); }

  std::vector<std::int64_t> add_trials(const std::vector<TrialRow>& trials) override {
    static const auto insert = rows::insert_sql("INSERT OR IGNORE", "trials", rows::kTrialInsert);
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
    write(rows::start_trial_sql(kClock), TrialStatus::running, device, id);
  }

  void finish_trial(std::int64_t id, TrialStatus status, const std::string& reason, double seconds,
                    const std::string& summary) override {
    write(rows::finish_trial_sql(kClock), status, reason, seconds, summary, id);
  }

  std::vector<TrialRow> trials(const TrialFilter& filter) override {
    std::string sql = std::string("SELECT ") + rows::kTrialColumns + " FROM trials WHERE 1=1";
    if (filter.experiment_id) sql += " AND experiment_id = :experiment";
    if (filter.stage) sql += " AND stage = :stage";
    if (filter.status) sql += " AND status = :status";
    return guarded([&] {
      SQLite::Statement select(*db_, sql + " ORDER BY id");
      if (filter.experiment_id) select.bind(":experiment", *filter.experiment_id);
      if (filter.stage) select.bind(":stage", std::string(name(*filter.stage)));
      if (filter.status) select.bind(":status", std::string(name(*filter.status)));
      return read_all<TrialRow>(select, rows::trial<RowReader>);
    });
  }

  std::optional<TrialRow> trial(std::int64_t id) override {
    return guarded([&]() -> std::optional<TrialRow> {
      SQLite::Statement select(
          *db_, std::string("SELECT ") + rows::kTrialColumns + " FROM trials WHERE id = ?");
      select.bind(1, id);
      if (!select.executeStep()) return std::nullopt;
      return rows::trial(RowReader{select, path_});
    });
  }

  bool queue_trial(std::int64_t id) override {
    return write(rows::kQueueTrial, TrialStatus::queued, id, TrialStatus::pending) == 1;
  }

  std::optional<TrialRow> claim_trial(const ClaimRequest& r) override {
    static const auto claim = rows::claim_sql(kClock) + "WHERE id = ?";
    return guarded([&]() -> std::optional<TrialRow> {
      WriteTransaction transaction(*db_);
      SQLite::Statement pick(*db_, r.trial_id > 0
                                       ? "SELECT id FROM trials WHERE id = ? AND status IN (?, ?)"
                                       : "SELECT id FROM trials WHERE experiment_id = ? AND "
                                         "status = ? ORDER BY id LIMIT 1");
      if (r.trial_id > 0)
        bind_all(pick, r.trial_id, TrialStatus::pending, TrialStatus::queued);
      else
        bind_all(pick, r.experiment_id, TrialStatus::queued);
      if (!pick.executeStep()) return std::nullopt;
      const auto id = pick.getColumn(0).getInt64();
      run(claim, TrialStatus::running, r.worker, r.device, id);
      transaction.commit();
      return trial(id);
    });
  }

  bool heartbeat(std::int64_t id, const std::string& worker) override {
    static const auto beat = rows::heartbeat_sql(kClock);
    return write(beat, id, worker, TrialStatus::running) == 1;
  }

  std::vector<TrialRow> requeue_stale(std::int64_t experiment_id, double max_age) override {
    return guarded([&] {
      WriteTransaction transaction(*db_);
      SQLite::Statement select(*db_, rows::stale_trials_sql(kClock));
      bind_all(select, experiment_id, TrialStatus::running, max_age);
      auto stale = read_all<TrialRow>(select, rows::trial<RowReader>);
      for (const auto& t : stale)
        run("UPDATE trials SET status = ?, reason = ? WHERE id = ?", TrialStatus::pending,
            fmt::format("worker {} stopped sending heartbeats", t.worker), t.id);
      transaction.commit();
      return stale;
    });
  }

  void release_trial(std::int64_t id, const std::string& reason, int max_attempts) override {
    write(rows::kReleaseTrial, max_attempts, TrialStatus::failed, TrialStatus::pending, reason, id,
          TrialStatus::running);
  }

  void count_failed_start(std::int64_t id, const std::string& reason, int max_attempts) override {
    write(rows::kCountFailedStart, max_attempts, TrialStatus::failed, TrialStatus::pending, reason,
          id, TrialStatus::pending, TrialStatus::queued);
  }

  void return_trial(std::int64_t id, const std::string& reason) override {
    write(rows::kReturnTrial, TrialStatus::pending, reason, id, TrialStatus::running);
  }

  void add_device_seconds(std::int64_t id, double device_seconds) override {
    write(rows::kAddDeviceSeconds, device_seconds, id);
  }

  double device_seconds(std::int64_t experiment_id) override {
    return scalar<double>(rows::kDeviceSeconds, experiment_id);
  }

  void add_epoch(const EpochRow& e) override {
    static const auto epoch = rows::insert_sql("INSERT", "epochs", rows::kEpochInsert);
    static const auto group = rows::insert_sql("INSERT", "epoch_groups", rows::kGroupInsert);
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
      SQLite::Statement select(*db_, std::string("SELECT ") + rows::kEpochColumns +
                                         " FROM epochs WHERE trial_id = ? ORDER BY epoch");
      select.bind(1, trial_id);
      auto epochs = read_all<EpochRow>(select, rows::epoch<RowReader>);
      SQLite::Statement groups(*db_, rows::kSelectGroups);
      groups.bind(1, trial_id);
      while (groups.executeStep()) {
        const RowReader r{groups, path_};
        const int epoch = r.int32("epoch");
        for (auto& e : epochs)
          if (e.epoch == epoch) e.groups.push_back(rows::group(r));
      }
      return epochs;
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
    return scalar<std::int64_t>(rows::kEpochsRun, experiment_id);
  }

  void set_stage(std::int64_t experiment_id, Stage stage, StageStatus status) override {
    write(rows::set_stage_sql(kClock), experiment_id, stage, status);
  }

  void save_decision(const StageDecision& d) override {
    guarded([&] {
      WriteTransaction transaction(*db_);
      run(rows::save_stage_sql(kClock), d.experiment_id, d.stage, d.status, d.decision);
      save_decision_tables(d);
      transaction.commit();
    });
  }

  std::vector<StageRow> stages(std::int64_t experiment_id) override {
    return select_rows<StageRow>(rows::kSelectStages, experiment_id, rows::stage<RowReader>);
  }

  std::vector<LrrtRow> lrrt_table(std::int64_t experiment_id) override {
    return select_rows<LrrtRow>(rows::kSelectLrrt, experiment_id, rows::lrrt<RowReader>);
  }

  std::vector<LrrtBoundsRow> lrrt_bounds(std::int64_t experiment_id) override {
    return select_rows<LrrtBoundsRow>(rows::kSelectBounds, experiment_id, rows::bounds<RowReader>);
  }

  std::vector<C1C2Row> c1c2_candidates(std::int64_t experiment_id) override {
    return select_rows<C1C2Row>(rows::kSelectC1C2, experiment_id, rows::c1c2<RowReader>);
  }

  std::vector<ResultRow> results(std::int64_t experiment_id) override {
    return select_rows<ResultRow>(rows::kSelectResults, experiment_id, rows::result<RowReader>);
  }

  bool acquire_lease(std::int64_t experiment_id, const std::string& holder,
                     double ttl_seconds) override {
    static const auto acquire = rows::acquire_lease_sql(kClock);
    return guarded([&] {
      WriteTransaction transaction(*db_);
      SQLite::Statement upsert(*db_, acquire);
      bind_all(upsert, experiment_id, holder, ttl_seconds);
      const bool held = upsert.executeStep();
      upsert.reset();  // a RETURNING statement writes when it is stepped to its end or reset
      transaction.commit();
      return held;
    });
  }

  void release_lease(std::int64_t experiment_id, const std::string& holder) override {
    write(rows::kReleaseLease, experiment_id, holder);
  }

  std::optional<std::string> lease_holder(std::int64_t experiment_id) override {
    return guarded([&]() -> std::optional<std::string> {
      SQLite::Statement select(*db_, rows::kLeaseHolder);
      bind_all(select, experiment_id);
      if (!select.executeStep()) return std::nullopt;
      return select.getColumn(0).getString();
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
    static const auto lrrt = rows::insert_sql("INSERT OR REPLACE", "lrrt_table", rows::kLrrtInsert);
    static const auto bounds =
        rows::insert_sql("INSERT OR REPLACE", "lrrt_bounds", rows::kBoundsInsert);
    static const auto c1c2 =
        rows::insert_sql("INSERT OR REPLACE", "c1c2_candidates", rows::kC1C2Insert);
    static const auto result = std::string("INSERT OR REPLACE ") + rows::kResultValues;
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
      run(result, d.experiment_id, r.method, r.seed, d.experiment_id, r.label, r.lr,
          r.final_test_accuracy, r.best_test_accuracy, r.final_test_mae, r.status);
  }

  // One statement inside the caller's transaction.
  template <typename... Args>
  int run(const std::string& sql, const Args&... args) {
    SQLite::Statement statement(*db_, sql);
    bind_all(statement, args...);
    return statement.exec();
  }

  // One statement in its own (autocommit) transaction, retried while the database is busy;
  // returns the rows it changed.
  template <typename... Args>
  int write(const std::string& sql, const Args&... args) {
    return guarded([&] { return run(sql, args...); });
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
    std::vector<Row> out;
    while (select.executeStep()) out.push_back(read(RowReader{select, path_}));
    return out;
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
      SQLite::Statement select(*db_, rows::kSelectExperiments + where + " ORDER BY id");
      if (!where.empty()) select.bind(1, name);
      return read_all<ExperimentRow>(select, rows::experiment<RowReader>);
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
