// SQLite backend: WAL journal so readers never block the writer, a busy timeout so concurrent
// writers wait instead of failing, and a schema versioned by PRAGMA user_version.
#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <filesystem>

#include "common/error.h"
#include "storage/storage.h"

namespace automl::storage {
namespace {

constexpr int kBusyTimeoutMs = 60'000;

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
};

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(const std::string& path)
      : path_(path), db_(open(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE)) {
    db_.exec("PRAGMA journal_mode=WAL");
    db_.exec("PRAGMA synchronous=NORMAL");
    db_.exec("PRAGMA foreign_keys=ON");
    migrate();
  }

  std::int64_t create_experiment(const std::string& name, const std::string& config) override {
    SQLite::Statement insert(db_, "INSERT INTO experiments (name, config) VALUES (?, ?)");
    insert.bind(1, name);
    insert.bind(2, config);
    insert.exec();
    return db_.getLastInsertRowid();
  }

  std::optional<ExperimentRow> find_experiment(const std::string& name) override {
    auto rows = select_experiments("WHERE name = ?", name);
    if (rows.empty()) return std::nullopt;
    return rows.front();
  }

  void set_experiment_status(std::int64_t id, const std::string& status) override {
    SQLite::Statement update(db_, "UPDATE experiments SET status = ? WHERE id = ?");
    update.bind(1, status);
    update.bind(2, id);
    update.exec();
  }

  std::vector<ExperimentRow> experiments() override { return select_experiments("", ""); }

  std::int64_t add_trial(const TrialRow& t) override {
    SQLite::Statement insert(db_,
                             "INSERT INTO trials (experiment_id, stage, label, status, seed, "
                             "config) VALUES (?, ?, ?, 'pending', ?, ?)");
    insert.bind(1, t.experiment_id);
    insert.bind(2, t.stage);
    insert.bind(3, t.label);
    insert.bind(4, static_cast<std::int64_t>(t.seed));
    insert.bind(5, t.config);
    insert.exec();
    return db_.getLastInsertRowid();
  }

  void start_trial(std::int64_t id, const std::string& device) override {
    SQLite::Statement update(db_, "UPDATE trials SET status = 'running', device = ? WHERE id = ?");
    update.bind(1, device);
    update.bind(2, id);
    update.exec();
  }

  void finish_trial(std::int64_t id, const std::string& status, const std::string& reason,
                    double seconds, const std::string& summary) override {
    SQLite::Statement update(
        db_, "UPDATE trials SET status = ?, reason = ?, seconds = ?, summary = ? WHERE id = ?");
    update.bind(1, status);
    update.bind(2, reason);
    update.bind(3, seconds);
    update.bind(4, summary);
    update.bind(5, id);
    update.exec();
  }

  std::vector<TrialRow> trials(const TrialFilter& filter) override {
    std::string sql =
        "SELECT id, experiment_id, stage, label, status, seed, config, device, reason, seconds, "
        "summary FROM trials WHERE 1=1";
    if (filter.experiment_id) sql += " AND experiment_id = :experiment";
    if (filter.stage) sql += " AND stage = :stage";
    if (filter.status) sql += " AND status = :status";
    SQLite::Statement select(db_, sql + " ORDER BY id");
    if (filter.experiment_id) select.bind(":experiment", *filter.experiment_id);
    if (filter.stage) select.bind(":stage", *filter.stage);
    if (filter.status) select.bind(":status", *filter.status);
    std::vector<TrialRow> rows;
    while (select.executeStep()) {
      TrialRow t;
      t.id = select.getColumn(0).getInt64();
      t.experiment_id = select.getColumn(1).getInt64();
      t.stage = select.getColumn(2).getString();
      t.label = select.getColumn(3).getString();
      t.status = select.getColumn(4).getString();
      t.seed = static_cast<std::uint64_t>(select.getColumn(5).getInt64());
      t.config = select.getColumn(6).getString();
      t.device = select.getColumn(7).getString();
      t.reason = select.getColumn(8).getString();
      t.seconds = select.getColumn(9).getDouble();
      t.summary = select.getColumn(10).getString();
      rows.push_back(std::move(t));
    }
    return rows;
  }

  void add_epoch(const EpochRow& e) override {
    SQLite::Statement insert(db_,
                             "INSERT INTO epochs (trial_id, epoch, lr, train_loss, "
                             "train_accuracy, test_loss, test_accuracy, ity, seconds, mi_seconds, "
                             "extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, e.trial_id);
    insert.bind(2, e.epoch);
    insert.bind(3, e.lr);
    insert.bind(4, e.train_loss);
    insert.bind(5, e.train_accuracy);
    insert.bind(6, e.test_loss);
    insert.bind(7, e.test_accuracy);
    insert.bind(8, e.ity);
    insert.bind(9, e.seconds);
    insert.bind(10, e.mi_seconds);
    insert.bind(11, e.extra);
    insert.exec();
  }

  std::vector<EpochRow> epochs(std::int64_t trial_id) override {
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
    return rows;
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
    SQLite::Transaction transaction(db_);  // one writer migrates; others wait, then see it done
    int version = db_.execAndGet("PRAGMA user_version").getInt();
    if (version > target)
      throw InputError(path_, fmt::format("database schema version {} is newer than this "
                                          "automl ({}): upgrade automl",
                                          version, target));
    for (; version < target; ++version) db_.exec(kMigrations[version]);
    db_.exec(fmt::format("PRAGMA user_version = {}", target));
    transaction.commit();
  }

  std::vector<ExperimentRow> select_experiments(const std::string& where, const std::string& name) {
    SQLite::Statement select(db_, "SELECT id, name, config, status, created_at FROM experiments " +
                                      where + " ORDER BY id");
    if (!where.empty()) select.bind(1, name);
    std::vector<ExperimentRow> rows;
    while (select.executeStep()) {
      rows.push_back({select.getColumn(0).getInt64(), select.getColumn(1).getString(),
                      select.getColumn(2).getString(), select.getColumn(3).getString(),
                      select.getColumn(4).getString()});
    }
    return rows;
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
