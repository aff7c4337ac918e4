// SQLite backend: WAL journal so readers never block the writer, a busy timeout so concurrent
// writers wait instead of failing, and a schema versioned by PRAGMA user_version.
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

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool is_busy(const SQLite::Exception& e) {
  const int code = e.getErrorCode() & 0xff;
  return code == SQLITE_BUSY || code == SQLITE_LOCKED;
}

// Runs `work`, again after a short pause while another connection holds the lock past the busy
// timeout (SQLite also answers BUSY at once when a deferred reader would deadlock a writer).
template <typename Work>
auto with_retry(Work&& work) -> decltype(work()) {
  for (int attempt = 0;; ++attempt) {
    try {
      return work();
    } catch (const SQLite::Exception& e) {
      if (!is_busy(e) || attempt >= kBusyRetries) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
    }
  }
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

const char* const kTrialColumns =
    "id, experiment_id, stage, label, status, seed, config, device, reason, seconds, summary, "
    "worker, attempts, heartbeat, device_seconds, estimated_seconds";

TrialRow read_trial(SQLite::Statement& s) {
  TrialRow t;
  t.id = s.getColumn(0).getInt64();
  t.experiment_id = s.getColumn(1).getInt64();
  t.stage = s.getColumn(2).getString();
  t.label = s.getColumn(3).getString();
  t.status = s.getColumn(4).getString();
  t.seed = static_cast<std::uint64_t>(s.getColumn(5).getInt64());
  t.config = s.getColumn(6).getString();
  t.device = s.getColumn(7).getString();
  t.reason = s.getColumn(8).getString();
  t.seconds = s.getColumn(9).getDouble();
  t.summary = s.getColumn(10).getString();
  t.worker = s.getColumn(11).getString();
  t.attempts = s.getColumn(12).getInt();
  t.heartbeat = s.getColumn(13).getDouble();
  t.device_seconds = s.getColumn(14).getDouble();
  t.estimated_seconds = s.getColumn(15).getDouble();
  return t;
}

// Binds the values of `args` to the statement's parameters 1..n.
template <typename... Args>
void bind_all(SQLite::Statement& s, const Args&... args) {
  int index = 0;
  (s.bind(++index, args), ...);
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
};

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(const std::string& path)
      : path_(path), db_(open(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE)) {
    with_retry([&] { db_.exec("PRAGMA journal_mode=WAL"); });
    db_.exec("PRAGMA synchronous=NORMAL");
    db_.exec("PRAGMA foreign_keys=ON");
    with_retry([&] { migrate(); });
  }

  std::int64_t create_experiment(const std::string& name, const std::string& config) override {
    return with_retry([&] {
      SQLite::Statement insert(db_, "INSERT INTO experiments (name, config) VALUES (?, ?)");
      bind_all(insert, name, config);
      insert.exec();
      return db_.getLastInsertRowid();
    });
  }

  std::optional<ExperimentRow> find_experiment(const std::string& name) override {
    auto rows = select_experiments("WHERE name = ?", name);
    if (rows.empty()) return std::nullopt;
    return rows.front();
  }

  void set_experiment_status(std::int64_t id, const std::string& status) override {
    write("UPDATE experiments SET status = ? WHERE id = ?", status, id);
  }

  std::vector<ExperimentRow> experiments() override { return select_experiments("", ""); }

  std::int64_t add_trial(const TrialRow& t) override {
    return with_retry([&] {
      SQLite::Statement insert(db_,
                               "INSERT INTO trials (experiment_id, stage, label, status, seed, "
                               "config, estimated_seconds) VALUES (?, ?, ?, 'pending', ?, ?, ?)");
      bind_all(insert, t.experiment_id, t.stage, t.label, static_cast<std::int64_t>(t.seed),
               t.config, t.estimated_seconds);
      insert.exec();
      return db_.getLastInsertRowid();
    });
  }

  std::vector<std::int64_t> add_trials(const std::vector<TrialRow>& trials) override {
    return with_retry([&] {
      WriteTransaction transaction(db_);
      std::vector<std::int64_t> ids;
      for (const auto& t : trials) {
        SQLite::Statement insert(db_,
                                 "INSERT OR IGNORE INTO trials (experiment_id, stage, label, "
                                 "status, seed, config, estimated_seconds) VALUES (?, ?, ?, "
                                 "'pending', ?, ?, ?)");
        bind_all(insert, t.experiment_id, t.stage, t.label, static_cast<std::int64_t>(t.seed),
                 t.config, t.estimated_seconds);
        insert.exec();
        SQLite::Statement find(db_, "SELECT id FROM trials WHERE experiment_id = ? AND label = ?");
        bind_all(find, t.experiment_id, t.label);
        find.executeStep();
        ids.push_back(find.getColumn(0).getInt64());
      }
      transaction.commit();
      return ids;
    });
  }

  void start_trial(std::int64_t id, const std::string& device) override {
    write(
        "UPDATE trials SET status = 'running', device = ?, heartbeat = ?, "
        "started_at = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?",
        device, unix_now(), id);
  }

  void finish_trial(std::int64_t id, const std::string& status, const std::string& reason,
                    double seconds, const std::string& summary) override {
    write(
        "UPDATE trials SET status = ?, reason = ?, seconds = ?, summary = ?, "
        "finished_at = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?",
        status, reason, seconds, summary, id);
  }

  std::vector<TrialRow> trials(const TrialFilter& filter) override {
    std::string sql = std::string("SELECT ") + kTrialColumns + " FROM trials WHERE 1=1";
    if (filter.experiment_id) sql += " AND experiment_id = :experiment";
    if (filter.stage) sql += " AND stage = :stage";
    if (filter.status) sql += " AND status = :status";
    return with_retry([&] {
      SQLite::Statement select(db_, sql + " ORDER BY id");
      if (filter.experiment_id) select.bind(":experiment", *filter.experiment_id);
      if (filter.stage) select.bind(":stage", *filter.stage);
      if (filter.status) select.bind(":status", *filter.status);
      std::vector<TrialRow> rows;
      while (select.executeStep()) rows.push_back(read_trial(select));
      return rows;
    });
  }

  std::optional<TrialRow> trial(std::int64_t id) override {
    return with_retry([&]() -> std::optional<TrialRow> {
      SQLite::Statement select(
          db_, std::string("SELECT ") + kTrialColumns + " FROM trials WHERE id = ?");
      select.bind(1, id);
      if (!select.executeStep()) return std::nullopt;
      return read_trial(select);
    });
  }

  std::optional<TrialRow> claim_trial(const ClaimRequest& r) override {
    return with_retry([&]() -> std::optional<TrialRow> {
      WriteTransaction transaction(db_);
      SQLite::Statement pick(db_, r.trial_id > 0
                                      ? "SELECT id FROM trials WHERE id = ? AND status = 'pending'"
                                      : "SELECT id FROM trials WHERE experiment_id = ? AND status "
                                        "= 'pending' ORDER BY id LIMIT 1");
      pick.bind(1, r.trial_id > 0 ? r.trial_id : r.experiment_id);
      if (!pick.executeStep()) return std::nullopt;
      const auto id = pick.getColumn(0).getInt64();
      SQLite::Statement update(db_,
                               "UPDATE trials SET status = 'running', worker = ?, device = ?, "
                               "attempts = attempts + 1, heartbeat = ?, reason = '', "
                               "started_at = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?");
      bind_all(update, r.worker, r.device, unix_now(), id);
      update.exec();
      transaction.commit();
      return trial(id);
    });
  }

  bool heartbeat(std::int64_t id, const std::string& worker) override {
    return with_retry([&] {
      SQLite::Statement update(db_,
                               "UPDATE trials SET heartbeat = ? WHERE id = ? AND worker = ? AND "
                               "status = 'running'");
      bind_all(update, unix_now(), id, worker);
      return update.exec() == 1;
    });
  }

  std::vector<TrialRow> requeue_stale(std::int64_t experiment_id, double max_age) override {
    return with_retry([&] {
      WriteTransaction transaction(db_);
      SQLite::Statement select(db_, std::string("SELECT ") + kTrialColumns +
                                        " FROM trials WHERE experiment_id = ? AND status = "
                                        "'running' AND heartbeat < ?");
      bind_all(select, experiment_id, unix_now() - max_age);
      std::vector<TrialRow> stale;
      while (select.executeStep()) stale.push_back(read_trial(select));
      for (const auto& t : stale) {
        SQLite::Statement update(db_,
                                 "UPDATE trials SET status = 'pending', reason = ? WHERE id = ?");
        bind_all(update, fmt::format("worker {} stopped sending heartbeats", t.worker), t.id);
        update.exec();
      }
      transaction.commit();
      return stale;
    });
  }

  void release_trial(std::int64_t id, const std::string& reason, int max_attempts) override {
    write(
        "UPDATE trials SET status = CASE WHEN attempts >= ? THEN 'failed' ELSE 'pending' END, "
        "reason = ? WHERE id = ? AND status = 'running'",
        max_attempts, reason, id);
  }

  void add_device_seconds(std::int64_t id, double device_seconds) override {
    write("UPDATE trials SET device_seconds = device_seconds + ? WHERE id = ?", device_seconds, id);
  }

  double device_seconds(std::int64_t experiment_id) override {
    return with_retry([&] {
      SQLite::Statement select(
          db_, "SELECT COALESCE(SUM(device_seconds), 0) FROM trials WHERE experiment_id = ?");
      select.bind(1, experiment_id);
      select.executeStep();
      return select.getColumn(0).getDouble();
    });
  }

  void add_epoch(const EpochRow& e) override {
    with_retry([&] {
      WriteTransaction transaction(db_);
      SQLite::Statement insert(db_,
                               "INSERT INTO epochs (trial_id, epoch, lr, train_loss, "
                               "train_accuracy, test_loss, test_accuracy, ity, seconds, "
                               "mi_seconds, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      bind_all(insert, e.trial_id, e.epoch, e.lr, e.train_loss, e.train_accuracy, e.test_loss,
               e.test_accuracy, e.ity, e.seconds, e.mi_seconds, e.extra);
      insert.exec();
      for (const auto& g : e.groups) {
        SQLite::Statement group(db_,
                                "INSERT INTO epoch_groups (trial_id, epoch, name, lr, ity, d_p, "
                                "d_p_raw, d_s, decision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        bind_all(group, e.trial_id, e.epoch, g.name, g.lr, g.ity, g.d_p, g.d_p_raw, g.d_s,
                 g.decision);
        group.exec();
      }
      transaction.commit();
    });
  }

  std::vector<EpochRow> epochs(std::int64_t trial_id) override {
    return with_retry([&] {
      SQLite::Statement select(db_,
                               "SELECT trial_id, epoch, lr, train_loss, train_accuracy, test_loss, "
                               "test_accuracy, ity, seconds, mi_seconds, extra FROM epochs WHERE "
                               "trial_id = ? ORDER BY epoch");
      select.bind(1, trial_id);
      std::vector<EpochRow> rows;
      while (select.executeStep()) {
        EpochRow e;
        e.trial_id = select.getColumn(0).getInt64();
        e.epoch = select.getColumn(1).getInt();
        e.lr = select.getColumn(2).getDouble();
        e.train_loss = select.getColumn(3).getDouble();
        e.train_accuracy = select.getColumn(4).getDouble();
        e.test_loss = select.getColumn(5).getDouble();
        e.test_accuracy = select.getColumn(6).getDouble();
        e.ity = select.getColumn(7).getDouble();
        e.seconds = select.getColumn(8).getDouble();
        e.mi_seconds = select.getColumn(9).getDouble();
        e.extra = select.getColumn(10).getString();
        rows.push_back(std::move(e));
      }
      SQLite::Statement groups(db_,
                               "SELECT epoch, name, lr, ity, d_p, d_p_raw, d_s, decision FROM "
                               "epoch_groups WHERE trial_id = ? ORDER BY epoch, rowid");
      groups.bind(1, trial_id);
      while (groups.executeStep()) {
        const int epoch = groups.getColumn(0).getInt();
        for (auto& e : rows) {
          if (e.epoch != epoch) continue;
          e.groups.push_back({groups.getColumn(1).getString(), groups.getColumn(2).getDouble(),
                              groups.getColumn(3).getDouble(), groups.getColumn(4).getDouble(),
                              groups.getColumn(5).getDouble(), groups.getColumn(6).getDouble(),
                              groups.getColumn(7).getString()});
        }
      }
      return rows;
    });
  }

  void delete_epochs_after(std::int64_t trial_id, int epoch) override {
    with_retry([&] {
      WriteTransaction transaction(db_);
      SQLite::Statement groups(db_, "DELETE FROM epoch_groups WHERE trial_id = ? AND epoch > ?");
      bind_all(groups, trial_id, epoch);
      groups.exec();
      SQLite::Statement epochs(db_, "DELETE FROM epochs WHERE trial_id = ? AND epoch > ?");
      bind_all(epochs, trial_id, epoch);
      epochs.exec();
      transaction.commit();
    });
  }

  std::int64_t epochs_run(std::int64_t experiment_id) override {
    return with_retry([&] {
      SQLite::Statement select(db_,
                               "SELECT COUNT(*) FROM epochs JOIN trials ON trials.id = "
                               "epochs.trial_id WHERE trials.experiment_id = ? AND epochs.epoch "
                               "> 0");
      select.bind(1, experiment_id);
      select.executeStep();
      return select.getColumn(0).getInt64();
    });
  }

  void set_stage(std::int64_t experiment_id, const std::string& stage,
                 const std::string& status) override {
    write(
        "INSERT INTO stages (experiment_id, name, status) VALUES (?, ?, ?) ON CONFLICT "
        "(experiment_id, name) DO UPDATE SET status = excluded.status, "
        "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
        experiment_id, stage, status);
  }

  void save_decision(const StageDecision& d) override {
    with_retry([&] {
      WriteTransaction transaction(db_);
      run("INSERT INTO stages (experiment_id, name, status, decision) VALUES (?, ?, ?, ?) ON "
          "CONFLICT (experiment_id, name) DO UPDATE SET status = excluded.status, decision = "
          "excluded.decision, updated_at = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
          d.experiment_id, d.stage, d.status, d.decision);
      for (const auto& r : d.lrrt_table)
        run("INSERT OR REPLACE INTO lrrt_table VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            d.experiment_id, r.trial, r.lr, r.crashed ? 1 : 0, r.min_ds, r.initial_loss,
            r.final_loss, r.initial_ity, r.final_ity, r.initial_accuracy, r.final_accuracy);
      for (const auto& b : d.lrrt_bounds)
        run("INSERT OR REPLACE INTO lrrt_bounds VALUES (?, ?, ?, ?, ?, ?, ?, ?)", d.experiment_id,
            b.scope, b.attribute, b.lr_min, b.lr_max, b.lr_top, b.eps, b.warning);
      for (const auto& c : d.c1c2)
        run("INSERT OR REPLACE INTO c1c2_candidates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            d.experiment_id, c.round, c.c1, c.c2, c.lr_min, c.lr_max, c.lr_top, c.eps, c.epochs,
            c.score, c.kept ? 1 : 0);
      for (const auto& r : d.results)
        run("INSERT OR REPLACE INTO results VALUES (?, ?, ?, (SELECT id FROM trials WHERE "
            "experiment_id = ? AND label = ?), ?, ?, ?, ?, ?)",
            d.experiment_id, r.method, static_cast<std::int64_t>(r.seed), d.experiment_id, r.label,
            r.lr, r.final_test_accuracy, r.best_test_accuracy, r.final_test_mae, r.status);
      transaction.commit();
    });
  }

  std::vector<StageRow> stages(std::int64_t experiment_id) override {
    return select_rows<StageRow>(
        "SELECT experiment_id, name, status, decision, updated_at FROM stages WHERE "
        "experiment_id = ? ORDER BY rowid",
        experiment_id, [](SQLite::Statement& s) {
          return StageRow{s.getColumn(0).getInt64(), s.getColumn(1).getString(),
                          s.getColumn(2).getString(), s.getColumn(3).getString(),
                          s.getColumn(4).getString()};
        });
  }

  std::vector<LrrtRow> lrrt_table(std::int64_t experiment_id) override {
    return select_rows<LrrtRow>(
        "SELECT trial, lr, crashed, min_ds, initial_loss, final_loss, initial_ity, final_ity, "
        "initial_accuracy, final_accuracy FROM lrrt_table WHERE experiment_id = ? ORDER BY trial, "
        "lr",
        experiment_id, [](SQLite::Statement& s) {
          return LrrtRow{s.getColumn(0).getInt(),      s.getColumn(1).getDouble(),
                         s.getColumn(2).getInt() != 0, s.getColumn(3).getDouble(),
                         s.getColumn(4).getDouble(),   s.getColumn(5).getDouble(),
                         s.getColumn(6).getDouble(),   s.getColumn(7).getDouble(),
                         s.getColumn(8).getDouble(),   s.getColumn(9).getDouble()};
        });
  }

  std::vector<LrrtBoundsRow> lrrt_bounds(std::int64_t experiment_id) override {
    return select_rows<LrrtBoundsRow>(
        "SELECT scope, attribute, lr_min, lr_max, lr_top, eps, warning FROM lrrt_bounds WHERE "
        "experiment_id = ? ORDER BY rowid",
        experiment_id, [](SQLite::Statement& s) {
          return LrrtBoundsRow{s.getColumn(0).getString(), s.getColumn(1).getString(),
                               s.getColumn(2).getDouble(), s.getColumn(3).getDouble(),
                               s.getColumn(4).getDouble(), s.getColumn(5).getDouble(),
                               s.getColumn(6).getString()};
        });
  }

  std::vector<C1C2Row> c1c2_candidates(std::int64_t experiment_id) override {
    return select_rows<C1C2Row>(
        "SELECT round, c1, c2, lr_min, lr_max, lr_top, eps, epochs, score, kept FROM "
        "c1c2_candidates WHERE experiment_id = ? ORDER BY round, score DESC",
        experiment_id, [](SQLite::Statement& s) {
          return C1C2Row{s.getColumn(0).getInt(),    s.getColumn(1).getDouble(),
                         s.getColumn(2).getDouble(), s.getColumn(3).getDouble(),
                         s.getColumn(4).getDouble(), s.getColumn(5).getDouble(),
                         s.getColumn(6).getDouble(), s.getColumn(7).getInt(),
                         s.getColumn(8).getDouble(), s.getColumn(9).getInt() != 0};
        });
  }

  std::vector<ResultRow> results(std::int64_t experiment_id) override {
    return select_rows<ResultRow>(
        "SELECT method, seed, trial_id, lr, final_test_accuracy, best_test_accuracy, "
        "final_test_mae, status FROM results WHERE experiment_id = ? ORDER BY method, seed",
        experiment_id, [](SQLite::Statement& s) {
          return ResultRow{
              s.getColumn(0).getString(), static_cast<std::uint64_t>(s.getColumn(1).getInt64()),
              s.getColumn(2).getInt64(),  "",
              s.getColumn(3).getDouble(), s.getColumn(4).getDouble(),
              s.getColumn(5).getDouble(), s.getColumn(6).getDouble(),
              s.getColumn(7).getString()};
        });
  }

  Table query(const std::string& sql) override {
    // A separate read-only connection: SQLite itself refuses any write through it.
    SQLite::Database reader = open(path_, SQLite::OPEN_READONLY);
    try {
      SQLite::Statement select(reader, sql);
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
      throw InputError("--sql", e.what());
    }
  }

 private:
  static SQLite::Database open(const std::string& path, int flags) {
    try {
      return SQLite::Database(path, flags, kBusyTimeoutMs);
    } catch (const SQLite::Exception& e) {
      throw InputError(path, fmt::format("cannot open database: {}", e.what()));
    }
  }

  void migrate() {
    const int target = static_cast<int>(std::size(kMigrations));
    // IMMEDIATE: one opener migrates while the others wait for the lock, then see it done.
    WriteTransaction transaction(db_);
    int version = db_.execAndGet("PRAGMA user_version").getInt();
    if (version > target)
      throw InputError(path_, fmt::format("database schema version {} is newer than this "
                                          "automl ({}): upgrade automl",
                                          version, target));
    for (; version < target; ++version) db_.exec(kMigrations[version]);
    db_.exec(fmt::format("PRAGMA user_version = {}", target));
    transaction.commit();
  }

  // One statement inside the caller's transaction.
  template <typename... Args>
  void run(const char* sql, const Args&... args) {
    SQLite::Statement statement(db_, sql);
    bind_all(statement, args...);
    statement.exec();
  }

  // One statement in its own (autocommit) transaction, retried while the database is busy.
  template <typename... Args>
  void write(const char* sql, const Args&... args) {
    with_retry([&] { run(sql, args...); });
  }

  template <typename Row, typename Read>
  std::vector<Row> select_rows(const char* sql, std::int64_t experiment_id, Read read) {
    return with_retry([&] {
      SQLite::Statement select(db_, sql);
      select.bind(1, experiment_id);
      std::vector<Row> rows;
      while (select.executeStep()) rows.push_back(read(select));
      return rows;
    });
  }

  std::vector<ExperimentRow> select_experiments(const std::string& where, const std::string& name) {
    return with_retry([&] {
      SQLite::Statement select(db_,
                               "SELECT id, name, config, status, created_at FROM "
                               "experiments " +
                                   where + " ORDER BY id");
      if (!where.empty()) select.bind(1, name);
      std::vector<ExperimentRow> rows;
      while (select.executeStep()) {
        rows.push_back({select.getColumn(0).getInt64(), select.getColumn(1).getString(),
                        select.getColumn(2).getString(), select.getColumn(3).getString(),
                        select.getColumn(4).getString()});
      }
      return rows;
    });
  }

  std::string path_;
  SQLite::Database db_;
};

}  // namespace

std::unique_ptr<Storage> open_sqlite(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    std::filesystem::create_directories(parent);
  return std::make_unique<SqliteStorage>(path);
}

}  // namespace automl::storage
