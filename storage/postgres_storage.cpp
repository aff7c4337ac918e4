// PostgreSQL backend, for workers on many hosts: the same tables and columns as SQLite's latest
// schema (storage/rows.h holds the SQL and row mapping the two share), claims by SELECT ... FOR
// UPDATE SKIP LOCKED, every heartbeat and lease by the server's clock, migrations recorded in
// schema_version and run under an advisory lock. Every call commits before it returns; transient
// failures (serialization, deadlock, lost connection) are retried a bounded number of times.
// Messages name the database by its URL with any password redacted.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <pqxx/pqxx>
#include <thread>

#include "common/error.h"
#include "storage/rows.h"
#include "storage/storage.h"
#include "storage/url.h"

namespace automl::storage {
namespace {

constexpr int kRetries = 5;  // pauses of 50, 100, 200, 400, 800 ms between the tries
constexpr const char* kQueryTimeout = "60s";  // `automl query sql` never holds the server longer
// pg_advisory_xact_lock's key for migrations: "automl" in ASCII, one lock per database.
constexpr std::int64_t kMigrationLock = 0x6175746f6d6c;

// The server's clock. clock_timestamp(), not now(): now() is the transaction's start.
constexpr rows::Clock kClock = {
    "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    "extract(epoch FROM clock_timestamp())::DOUBLE PRECISION"};

struct Migration {
  int version;  // the schema version after it
  const char* sql;
};

// Append only; never edit a shipped one. The first creates SQLite's version 4 in one step (no
// PostgreSQL database ever held an older one); SQLite's implicit rowid, which orders stages,
// bounds and groups, is an explicit column here. trials_by_status ends in id, as SQLite's does
// implicitly (its rowid), so a claim walks the queue in id order without sorting it.
constexpr Migration kMigrations[] = {
    {4, R"sql(
    CREATE TABLE experiments (
      id BIGSERIAL PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      config TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'running',
      created_at TEXT NOT NULL
        DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
    CREATE TABLE trials (
      id BIGSERIAL PRIMARY KEY,
      experiment_id BIGINT NOT NULL REFERENCES experiments(id),
      stage TEXT NOT NULL,
      label TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending',
      seed BIGINT NOT NULL,
      config TEXT NOT NULL,
      device TEXT NOT NULL DEFAULT '',
      reason TEXT NOT NULL DEFAULT '',
      seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
      summary TEXT NOT NULL DEFAULT '{}',
      worker TEXT NOT NULL DEFAULT '',
      attempts BIGINT NOT NULL DEFAULT 0,
      heartbeat DOUBLE PRECISION NOT NULL DEFAULT 0,
      device_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
      estimated_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
      started_at TEXT,
      finished_at TEXT,
      method TEXT NOT NULL DEFAULT 'sgd',
      lr DOUBLE PRECISION NOT NULL DEFAULT 0,
      repeat BIGINT NOT NULL DEFAULT 0,
      UNIQUE (experiment_id, label));
    CREATE INDEX trials_by_status ON trials (experiment_id, status, id);
    CREATE TABLE epochs (
      trial_id BIGINT NOT NULL REFERENCES trials(id),
      epoch BIGINT NOT NULL,
      lr DOUBLE PRECISION NOT NULL,
      train_loss DOUBLE PRECISION, train_accuracy DOUBLE PRECISION,
      test_loss DOUBLE PRECISION, test_accuracy DOUBLE PRECISION,
      ity DOUBLE PRECISION,
      seconds DOUBLE PRECISION NOT NULL, mi_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
      bound DOUBLE PRECISION NOT NULL DEFAULT 0,
      train_mae DOUBLE PRECISION NOT NULL DEFAULT 0,
      test_mae DOUBLE PRECISION NOT NULL DEFAULT 0,
      validation_accuracy DOUBLE PRECISION NOT NULL DEFAULT 0,
      validation_mae DOUBLE PRECISION NOT NULL DEFAULT 0,
      PRIMARY KEY (trial_id, epoch));
    CREATE TABLE epoch_groups (
      rowid BIGSERIAL NOT NULL,
      trial_id BIGINT NOT NULL,
      epoch BIGINT NOT NULL,
      name TEXT NOT NULL,
      lr DOUBLE PRECISION NOT NULL, ity DOUBLE PRECISION, d_p DOUBLE PRECISION,
      d_p_raw DOUBLE PRECISION, d_s DOUBLE PRECISION,
      decision TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (trial_id, epoch, name),
      FOREIGN KEY (trial_id, epoch) REFERENCES epochs(trial_id, epoch) ON DELETE CASCADE);
    CREATE TABLE stages (
      rowid BIGSERIAL NOT NULL,
      experiment_id BIGINT NOT NULL REFERENCES experiments(id),
      name TEXT NOT NULL,
      status TEXT NOT NULL,
      decision TEXT NOT NULL DEFAULT '{}',
      updated_at TEXT NOT NULL
        DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      PRIMARY KEY (experiment_id, name));
    CREATE TABLE lrrt_table (
      experiment_id BIGINT NOT NULL REFERENCES experiments(id),
      trial BIGINT NOT NULL, lr DOUBLE PRECISION NOT NULL, crashed BIGINT NOT NULL,
      min_ds DOUBLE PRECISION, initial_loss DOUBLE PRECISION, final_loss DOUBLE PRECISION,
      initial_ity DOUBLE PRECISION, final_ity DOUBLE PRECISION,
      initial_accuracy DOUBLE PRECISION, final_accuracy DOUBLE PRECISION,
      PRIMARY KEY (experiment_id, trial, lr));
    CREATE TABLE lrrt_bounds (
      rowid BIGSERIAL NOT NULL,
      experiment_id BIGINT NOT NULL REFERENCES experiments(id),
      scope TEXT NOT NULL, attribute TEXT NOT NULL,
      lr_min DOUBLE PRECISION NOT NULL, lr_max DOUBLE PRECISION NOT NULL,
      lr_top DOUBLE PRECISION NOT NULL, eps DOUBLE PRECISION NOT NULL,
      warning TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (experiment_id, scope));
    CREATE TABLE c1c2_candidates (
      experiment_id BIGINT NOT NULL REFERENCES experiments(id),
      round BIGINT NOT NULL, c1 DOUBLE PRECISION NOT NULL, c2 DOUBLE PRECISION NOT NULL,
      lr_min DOUBLE PRECISION, lr_max DOUBLE PRECISION, lr_top DOUBLE PRECISION,
      eps DOUBLE PRECISION,
      epochs BIGINT NOT NULL, score DOUBLE PRECISION, kept BIGINT NOT NULL,
      PRIMARY KEY (experiment_id, round, c1, c2));
    CREATE TABLE results (
      experiment_id BIGINT NOT NULL REFERENCES experiments(id),
      method TEXT NOT NULL, seed BIGINT NOT NULL,
      trial_id BIGINT REFERENCES trials(id),
      lr DOUBLE PRECISION, final_test_accuracy DOUBLE PRECISION,
      best_test_accuracy DOUBLE PRECISION, final_test_mae DOUBLE PRECISION,
      status TEXT NOT NULL,
      PRIMARY KEY (experiment_id, method, seed));
    CREATE TABLE leases (
      experiment_id BIGINT PRIMARY KEY REFERENCES experiments(id),
      holder TEXT NOT NULL,
      renewed_at DOUBLE PRECISION NOT NULL);
    )sql"},
};
constexpr int kSchemaVersion = std::end(kMigrations)[-1].version;

// A parameter as libpq's text format: enums as their names, doubles in the shortest form that
// reads back equal, unsigned seeds as the signed BIGINT they are stored as.
template <typename T>
std::string param(const T& value) {
  if constexpr (std::is_enum_v<T>)
    return std::string(name(value));
  else if constexpr (std::is_same_v<T, bool>)
    return value ? "1" : "0";
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return std::to_string(static_cast<std::int64_t>(value));
  else if constexpr (std::is_arithmetic_v<T>)
    return fmt::format("{}", value);
  else
    return std::string(value);
}

template <typename... Args>
std::vector<std::string> params(const Args&... args) {
  return {param(args)...};
}

// The shared text's `?` placeholders as PostgreSQL's $1, $2, ... (none appears in a literal).
std::string numbered(const std::string& sql) {
  std::string out;
  int index = 0;
  bool quoted = false;
  for (const char c : sql) {
    if (c == '\'') quoted = !quoted;
    if (c == '?' && !quoted)
      out += "$" + std::to_string(++index);
    else
      out += c;
  }
  return out;
}

// Named-column reads of one row; NULL reads as 0 or "", as in SQLite.
struct RowReader {
  const pqxx::row& row;
  const std::string& name;
  const char* raw(const char* c) const {
    const auto field = row[c];
    return field.is_null() ? nullptr : field.c_str();
  }
  std::string text(const char* c) const {
    const char* value = raw(c);
    return value ? value : "";
  }
  double real(const char* c) const {
    const char* value = raw(c);
    return value ? std::strtod(value, nullptr) : 0;  // also reads NaN, Infinity
  }
  std::int64_t integer(const char* c) const {
    const char* value = raw(c);
    return value ? std::strtoll(value, nullptr, 10) : 0;
  }
  int int32(const char* c) const { return static_cast<int>(integer(c)); }
  bool flag(const char* c) const { return integer(c) != 0; }
  const std::string& database() const { return name; }
};

// SQLSTATE classes worth another try: serialization failure and deadlock (40), a lost connection
// (08), a server shutting down or restarting (57P01-57P03).
bool transient(const std::string& sqlstate) {
  return sqlstate.rfind("40", 0) == 0 || sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" ||
         sqlstate == "57P02" || sqlstate == "57P03";
}

// A refused login or a missing database will not change by trying again.
bool permanent_connect_failure(const std::string& message) {
  for (const char* word : {"authentication", "password", "does not exist", "permission denied"})
    if (message.find(word) != std::string::npos) return true;
  return false;
}

// The first word of a statement, lower-cased ("" when none).
std::string first_word(const std::string& sql) {
  auto start = sql.find_first_not_of(" \t\r\n(");
  if (start == std::string::npos) return "";
  std::string word;
  for (auto i = start; i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i)
    word += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i])));
  return word;
}

// "ON CONFLICT (keys) DO UPDATE SET c = excluded.c, ..." for the non-key columns: SQLite's INSERT
// OR REPLACE.
std::string replace_tail(const std::string& keys, const std::vector<const char*>& columns) {
  std::string sets;
  for (const auto* c : columns)
    if (("," + keys + ",").find(std::string(",") + c + ",") == std::string::npos)
      sets += (sets.empty() ? "" : ", ") + fmt::format("{0} = excluded.{0}", c);
  return fmt::format("ON CONFLICT ({}) DO UPDATE SET {}", keys, sets);
}

class PostgresStorage final : public Storage {
 public:
  PostgresStorage(const std::string& url, Access access)
      : url_(url), name_(redact_password(url)), secrets_(passwords_in(url)), access_(access) {
    guarded([&] {
      if (access_ == Access::read_write)
        migrate();
      else
        check_schema_for_reading();
    });
  }

  std::int64_t create_experiment(const std::string& name, const std::string& config) override {
    static const auto insert =
        rows::insert_sql("INSERT", "experiments", {"name", "config"}, "RETURNING id");
    return guarded([&] { return integer(exec(insert, params(name, config))); });
  }

  std::optional<ExperimentRow> find_experiment(const std::string& name) override {
    auto found =
        select<ExperimentRow>(std::string(rows::kSelectExperiments) + "WHERE name = ? ORDER BY id",
                              params(name), rows::experiment<RowReader>);
    if (found.empty()) return std::nullopt;
    return found.front();
  }

  void set_experiment_status(std::int64_t id, ExperimentStatus status) override {
    write("UPDATE experiments SET status = ? WHERE id = ?", params(status, id));
  }

  std::vector<ExperimentRow> experiments() override {
    return select<ExperimentRow>(std::string(rows::kSelectExperiments) + "ORDER BY id", {},
                                 rows::experiment<RowReader>);
  }

  std::int64_t add_trial(const TrialRow& t) override { return add_trials({t}).front(); }

  std::vector<std::int64_t> add_trials(const std::vector<TrialRow>& trials) override {
    static const auto insert = rows::insert_sql("INSERT", "trials", rows::kTrialInsert,
                                                "ON CONFLICT (experiment_id, label) DO NOTHING");
    return guarded([&] {
      pqxx::work transaction(connection());
      std::vector<std::int64_t> ids;
      for (const auto& t : trials) {
        exec(transaction, insert,
             params(t.experiment_id, t.stage, t.label, TrialStatus::pending, t.method, t.seed, t.lr,
                    t.repeat, t.config, t.estimated_seconds));
        ids.push_back(
            integer(exec(transaction, "SELECT id FROM trials WHERE experiment_id = ? AND label = ?",
                         params(t.experiment_id, t.label))));
      }
      transaction.commit();
      return ids;
    });
  }

  void start_trial(std::int64_t id, const std::string& device) override {
    write(rows::start_trial_sql(kClock), params(TrialStatus::running, device, id));
  }

  void finish_trial(std::int64_t id, TrialStatus status, const std::string& reason, double seconds,
                    const std::string& summary) override {
    write(rows::finish_trial_sql(kClock), params(status, reason, seconds, summary, id));
  }

  std::vector<TrialRow> trials(const TrialFilter& filter) override {
    std::string sql = std::string("SELECT ") + rows::kTrialColumns + " FROM trials WHERE 1=1";
    std::vector<std::string> values;
    if (filter.experiment_id) {
      sql += " AND experiment_id = ?";
      values.push_back(param(*filter.experiment_id));
    }
    if (filter.stage) {
      sql += " AND stage = ?";
      values.push_back(param(*filter.stage));
    }
    if (filter.status) {
      sql += " AND status = ?";
      values.push_back(param(*filter.status));
    }
    return select<TrialRow>(sql + " ORDER BY id", values, rows::trial<RowReader>);
  }

  std::optional<TrialRow> trial(std::int64_t id) override {
    auto found =
        select<TrialRow>(std::string("SELECT ") + rows::kTrialColumns + " FROM trials WHERE id = ?",
                         params(id), rows::trial<RowReader>);
    if (found.empty()) return std::nullopt;
    return found.front();
  }

  bool queue_trial(std::int64_t id) override {
    return write(rows::kQueueTrial, params(TrialStatus::queued, id, TrialStatus::pending)) == 1;
  }

  // One statement, so one transaction: the subquery locks the chosen row, skipping rows another
  // claim holds locked, and the update takes it; a concurrent claimer picks the next one.
  std::optional<TrialRow> claim_trial(const ClaimRequest& r) override {
    static const auto returning = std::string(" RETURNING ") + rows::kTrialColumns;
    static const auto given =
        rows::claim_sql(kClock) +
        "WHERE id = (SELECT id FROM trials WHERE id = ? AND status IN (?, ?) FOR UPDATE SKIP "
        "LOCKED)" +
        returning;
    static const auto oldest_queued =
        rows::claim_sql(kClock) +
        "WHERE id = (SELECT id FROM trials WHERE experiment_id = ? AND status = ? ORDER BY id "
        "LIMIT 1 FOR UPDATE SKIP LOCKED)" +
        returning;
    auto values = params(TrialStatus::running, r.worker, r.device);
    if (r.trial_id > 0) {
      for (auto& v : params(r.trial_id, TrialStatus::pending, TrialStatus::queued))
        values.push_back(std::move(v));
    } else {
      for (auto& v : params(r.experiment_id, TrialStatus::queued)) values.push_back(std::move(v));
    }
    auto claimed =
        select<TrialRow>(r.trial_id > 0 ? given : oldest_queued, values, rows::trial<RowReader>);
    if (claimed.empty()) return std::nullopt;
    return claimed.front();
  }

  bool heartbeat(std::int64_t id, const std::string& worker) override {
    return write(rows::heartbeat_sql(kClock), params(id, worker, TrialStatus::running)) == 1;
  }

  std::vector<TrialRow> requeue_stale(std::int64_t experiment_id, double max_age) override {
    static const auto stale_sql = rows::stale_trials_sql(kClock) + " ORDER BY id FOR UPDATE";
    return guarded([&] {
      pqxx::work transaction(connection());
      std::vector<TrialRow> stale;
      for (const auto& row :
           exec(transaction, stale_sql, params(experiment_id, TrialStatus::running, max_age)))
        stale.push_back(rows::trial(RowReader{row, name_}));
      for (const auto& t : stale)
        exec(transaction, "UPDATE trials SET status = ?, reason = ? WHERE id = ?",
             params(TrialStatus::pending,
                    fmt::format("worker {} stopped sending heartbeats", t.worker), t.id));
      transaction.commit();
      return stale;
    });
  }

  void release_trial(std::int64_t id, const std::string& reason, int max_attempts) override {
    write(rows::kReleaseTrial, params(max_attempts, TrialStatus::failed, TrialStatus::pending,
                                      reason, id, TrialStatus::running));
  }

  void count_failed_start(std::int64_t id, const std::string& reason, int max_attempts) override {
    write(rows::kCountFailedStart, params(max_attempts, TrialStatus::failed, TrialStatus::pending,
                                          reason, id, TrialStatus::pending, TrialStatus::queued));
  }

  void return_trial(std::int64_t id, const std::string& reason) override {
    write(rows::kReturnTrial, params(TrialStatus::pending, reason, id, TrialStatus::running));
  }

  void add_device_seconds(std::int64_t id, double device_seconds) override {
    write(rows::kAddDeviceSeconds, params(device_seconds, id));
  }

  double device_seconds(std::int64_t experiment_id) override {
    return guarded([&] {
      return std::strtod(exec(rows::kDeviceSeconds, params(experiment_id)).front().front().c_str(),
                         nullptr);
    });
  }

  void add_epoch(const EpochRow& e) override {
    static const auto epoch = rows::insert_sql("INSERT", "epochs", rows::kEpochInsert);
    static const auto group = rows::insert_sql("INSERT", "epoch_groups", rows::kGroupInsert);
    guarded([&] {
      pqxx::work transaction(connection());
      exec(transaction, epoch,
           params(e.trial_id, e.epoch, e.lr, e.train_loss, e.train_accuracy, e.test_loss,
                  e.test_accuracy, e.ity, e.seconds, e.mi_seconds, e.bound, e.train_mae, e.test_mae,
                  e.validation_accuracy, e.validation_mae));
      for (const auto& g : e.groups)
        exec(transaction, group,
             params(e.trial_id, e.epoch, g.name, g.lr, g.ity, g.d_p, g.d_p_raw, g.d_s, g.decision));
      transaction.commit();
    });
  }

  std::vector<EpochRow> epochs(std::int64_t trial_id) override {
    return guarded([&] {
      // One snapshot for the epochs and their groups (READ COMMITTED would take one each).
      pqxx::transaction<pqxx::repeatable_read> transaction(connection());
      std::vector<EpochRow> epochs;
      for (const auto& row : exec(transaction,
                                  std::string("SELECT ") + rows::kEpochColumns +
                                      " FROM epochs WHERE trial_id = ? ORDER BY epoch",
                                  params(trial_id)))
        epochs.push_back(rows::epoch(RowReader{row, name_}));
      for (const auto& row : exec(transaction, rows::kSelectGroups, params(trial_id))) {
        const RowReader r{row, name_};
        const int epoch = r.int32("epoch");
        for (auto& e : epochs)
          if (e.epoch == epoch) e.groups.push_back(rows::group(r));
      }
      transaction.commit();
      return epochs;
    });
  }

  void delete_epochs_after(std::int64_t trial_id, int epoch) override {
    guarded([&] {
      pqxx::work transaction(connection());
      exec(transaction, "DELETE FROM epoch_groups WHERE trial_id = ? AND epoch > ?",
           params(trial_id, epoch));
      exec(transaction, "DELETE FROM epochs WHERE trial_id = ? AND epoch > ?",
           params(trial_id, epoch));
      transaction.commit();
    });
  }

  std::int64_t epochs_run(std::int64_t experiment_id) override {
    return guarded([&] { return integer(exec(rows::kEpochsRun, params(experiment_id))); });
  }

  void set_stage(std::int64_t experiment_id, Stage stage, StageStatus status) override {
    write(rows::set_stage_sql(kClock), params(experiment_id, stage, status));
  }

  void save_decision(const StageDecision& d) override {
    guarded([&] {
      pqxx::work transaction(connection());
      exec(transaction, rows::save_stage_sql(kClock),
           params(d.experiment_id, d.stage, d.status, d.decision));
      save_decision_tables(transaction, d);
      transaction.commit();
    });
  }

  std::vector<StageRow> stages(std::int64_t experiment_id) override {
    return select<StageRow>(rows::kSelectStages, params(experiment_id), rows::stage<RowReader>);
  }

  std::vector<LrrtRow> lrrt_table(std::int64_t experiment_id) override {
    return select<LrrtRow>(rows::kSelectLrrt, params(experiment_id), rows::lrrt<RowReader>);
  }

  std::vector<LrrtBoundsRow> lrrt_bounds(std::int64_t experiment_id) override {
    return select<LrrtBoundsRow>(rows::kSelectBounds, params(experiment_id),
                                 rows::bounds<RowReader>);
  }

  std::vector<C1C2Row> c1c2_candidates(std::int64_t experiment_id) override {
    return select<C1C2Row>(rows::kSelectC1C2, params(experiment_id), rows::c1c2<RowReader>);
  }

  std::vector<ResultRow> results(std::int64_t experiment_id) override {
    return select<ResultRow>(rows::kSelectResults, params(experiment_id), rows::result<RowReader>);
  }

  // One upsert: PostgreSQL locks the conflicting row and re-checks the WHERE against its latest
  // version, so of two callers at once only one sees the lease free.
  bool acquire_lease(std::int64_t experiment_id, const std::string& holder,
                     double ttl_seconds) override {
    static const auto acquire = rows::acquire_lease_sql(kClock);
    return guarded(
        [&] { return !exec(acquire, params(experiment_id, holder, ttl_seconds)).empty(); });
  }

  void release_lease(std::int64_t experiment_id, const std::string& holder) override {
    write(rows::kReleaseLease, params(experiment_id, holder));
  }

  std::optional<std::string> lease_holder(std::int64_t experiment_id) override {
    return guarded([&]() -> std::optional<std::string> {
      const auto found = exec(rows::kLeaseHolder, params(experiment_id));
      if (found.empty()) return std::nullopt;
      return found[0][0].as<std::string>();
    });
  }

  // On a connection of its own, read-only for the whole session (a set_config() in the statement
  // cannot outlive it), in a READ ONLY transaction with a statement_timeout. The extended
  // protocol refuses a second statement instead of running or dropping it.
  Table query(const std::string& sql) override {
    const auto word = first_word(sql);
    if (word != "select" && word != "with" && word != "values" && word != "table")
      throw InputError("query sql",
                       fmt::format("'{}' is not a read: only one read-only SELECT (or WITH, "
                                   "VALUES, TABLE) is accepted; a misspelling is a syntax error",
                                   sql.substr(0, 40)));
    auto reader = guarded([&] { return open_connection(Access::read_only); });
    try {
      pqxx::read_transaction transaction(*reader);
      transaction.exec(fmt::format("SET LOCAL statement_timeout = '{}'", kQueryTimeout));
      const auto result = transaction.exec_params(sql);
      transaction.commit();
      return table(result);
    } catch (const pqxx::sql_error& e) {
      throw query_error(e);
    } catch (const pqxx::broken_connection& e) {
      throw failure(e);
    }
  }

 private:
  // A connection with the session's settings (guarded() opens a fresh one after a loss).
  std::unique_ptr<pqxx::connection> open_connection(Access access) const {
    auto connection = std::make_unique<pqxx::connection>(url_);
    connection->set_variable("client_min_messages", "warning");  // no NOTICEs on stderr
    if (access == Access::read_only)
      connection->set_variable("default_transaction_read_only", "on");
    return connection;
  }

  pqxx::connection& connection() {
    if (!connection_) connection_ = open_connection(access_);
    return *connection_;
  }

  InputError query_error(const pqxx::sql_error& e) const {
    const std::string message = scrub(e.what());
    if (message.find("multiple commands") != std::string::npos)
      return InputError("query sql", "more than one statement: run them one at a time");
    if (e.sqlstate() == "57014")
      return InputError("query sql",
                        fmt::format("it ran longer than {} and was cancelled", kQueryTimeout));
    return InputError("query sql",
                      fmt::format("{} (only one read-only SELECT is accepted)", message));
  }

  static Table table(const pqxx::result& result) {
    Table table;
    for (pqxx::row::size_type c = 0; c < result.columns(); ++c)
      table.columns.emplace_back(result.column_name(c));
    for (const auto& row : result) {
      std::vector<std::string> values;
      for (const auto& field : row) values.emplace_back(field.is_null() ? "" : field.c_str());
      table.rows.push_back(std::move(values));
    }
    return table;
  }

  // The message without any password that libpq or the server may have echoed.
  std::string scrub(std::string message) const {
    for (const auto& secret : secrets_)
      for (auto at = message.find(secret); at != std::string::npos; at = message.find(secret))
        message.replace(at, secret.size(), "***");
    return message;
  }

  StorageError failure(const std::exception& e) const {
    return StorageError(fmt::format("database {}: {}", name_, scrub(e.what())));
  }

  // Runs `work`, again (after a growing pause, on a fresh connection where it was lost) when it
  // failed for a reason that may pass; any libpqxx error becomes a StorageError naming the
  // database. A commit whose outcome is unknown is never retried: it may have happened.
  template <typename Work>
  auto guarded(Work&& work) -> decltype(work()) {
    for (int attempt = 0;; ++attempt) {
      try {
        return work();
      } catch (const pqxx::in_doubt_error& e) {
        connection_.reset();
        throw failure(e);
      } catch (const pqxx::broken_connection& e) {
        connection_.reset();
        if (permanent_connect_failure(e.what()) || attempt >= kRetries) throw failure(e);
      } catch (const pqxx::transaction_rollback& e) {  // serialization failure, deadlock
        if (attempt >= kRetries) throw failure(e);
      } catch (const pqxx::sql_error& e) {
        if (!transient(e.sqlstate()) || attempt >= kRetries) throw failure(e);
        connection_.reset();
      } catch (const pqxx::pqxx_exception& e) {
        throw failure(e.base());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));  // see kRetries
    }
  }

  pqxx::result exec(pqxx::transaction_base& transaction, const std::string& sql,
                    const std::vector<std::string>& values) {
    return transaction.exec_params(numbered(sql), pqxx::prepare::make_dynamic_params(values));
  }

  // One statement in a transaction of its own. Not autocommit: a connection lost while an
  // autocommit statement ran leaves unknown whether it happened, and guarded() would run it
  // again (a second claim, an attempt counted twice). Lost before COMMIT, it did not happen
  // and runs again; lost during COMMIT, libpqxx says in_doubt and it is not retried.
  pqxx::result exec(const std::string& sql, const std::vector<std::string>& values) {
    pqxx::work transaction(connection());
    auto result = exec(transaction, sql, values);
    transaction.commit();
    return result;
  }

  // One statement in its own transaction; returns the rows it changed.
  std::size_t write(const std::string& sql, const std::vector<std::string>& values) {
    return guarded([&] { return static_cast<std::size_t>(exec(sql, values).affected_rows()); });
  }

  template <typename Row, typename Read>
  std::vector<Row> select(const std::string& sql, const std::vector<std::string>& values,
                          Read read) {
    return guarded([&] {
      std::vector<Row> out;
      for (const auto& row : exec(sql, values)) out.push_back(read(RowReader{row, name_}));
      return out;
    });
  }

  std::int64_t integer(const pqxx::result& result) const {
    return result.empty() ? 0 : std::strtoll(result.front().front().c_str(), nullptr, 10);
  }

  // The version schema_version records; 0 for a database automl never opened.
  int schema_version(pqxx::transaction_base& transaction) {
    if (transaction.exec("SELECT to_regclass('schema_version')").front().front().is_null())
      return 0;
    const auto version = static_cast<int>(
        integer(transaction.exec("SELECT COALESCE(MAX(version), 0) FROM schema_version")));
    if (version > kSchemaVersion)
      throw StorageError(fmt::format(
          "database {}: schema version {} is newer than this automl ({}): upgrade automl", name_,
          version, kSchemaVersion));
    return version;
  }

  // Under a transaction-scoped advisory lock: of many workers opening a fresh database at once,
  // one migrates while the others wait, then find it done. The lock is skipped when the
  // database is already current.
  void migrate() {
    {
      pqxx::nontransaction look(connection());
      const int version = schema_version(look);
      look.commit();
      if (version == kSchemaVersion) return;
    }
    pqxx::work transaction(connection());
    transaction.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kMigrationLock));
    transaction.exec(fmt::format(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_at TEXT "
        "NOT NULL DEFAULT {})",
        kClock.text));
    const int version = schema_version(transaction);
    for (const auto& m : kMigrations) {
      if (m.version <= version) continue;
      transaction.exec(m.sql);
      exec(transaction, "INSERT INTO schema_version (version) VALUES (?)", params(m.version));
    }
    transaction.commit();
  }

  // A reader never writes, so it cannot migrate: an older schema is refused with what to do.
  void check_schema_for_reading() {
    pqxx::nontransaction look(connection());
    const int version = schema_version(look);
    look.commit();
    if (version < kSchemaVersion)
      throw StorageError(fmt::format(
          "database {}: schema version {} is older than this automl's ({}), and a read-only "
          "open never migrates: open it read-write once (e.g. automl run) to migrate it",
          name_, version, kSchemaVersion));
  }

  void save_decision_tables(pqxx::transaction_base& transaction, const StageDecision& d) {
    static const auto lrrt =
        rows::insert_sql("INSERT", "lrrt_table", rows::kLrrtInsert,
                         replace_tail("experiment_id,trial,lr", rows::kLrrtInsert));
    static const auto bounds =
        rows::insert_sql("INSERT", "lrrt_bounds", rows::kBoundsInsert,
                         replace_tail("experiment_id,scope", rows::kBoundsInsert));
    static const auto c1c2 =
        rows::insert_sql("INSERT", "c1c2_candidates", rows::kC1C2Insert,
                         replace_tail("experiment_id,round,c1,c2", rows::kC1C2Insert));
    static const auto result = std::string("INSERT ") + rows::kResultValues + " " +
                               replace_tail("experiment_id,method,seed",
                                            {"trial_id", "lr", "final_test_accuracy",
                                             "best_test_accuracy", "final_test_mae", "status"});
    for (const auto& r : d.lrrt_table)
      exec(transaction, lrrt,
           params(d.experiment_id, r.trial, r.lr, r.crashed, r.min_ds, r.initial_loss, r.final_loss,
                  r.initial_ity, r.final_ity, r.initial_accuracy, r.final_accuracy));
    for (const auto& b : d.lrrt_bounds)
      exec(transaction, bounds,
           params(d.experiment_id, b.scope, b.attribute, b.lr_min, b.lr_max, b.lr_top, b.eps,
                  b.warning));
    for (const auto& c : d.c1c2)
      exec(transaction, c1c2,
           params(d.experiment_id, c.round, c.c1, c.c2, c.lr_min, c.lr_max, c.lr_top, c.eps,
                  c.epochs, c.score, c.kept));
    for (const auto& r : d.results)
      exec(transaction, result,
           params(d.experiment_id, r.method, r.seed, d.experiment_id, r.label, r.lr,
                  r.final_test_accuracy, r.best_test_accuracy, r.final_test_mae, r.status));
  }

  std::string url_;   // held only to (re)connect: never printed, logged or stored
  std::string name_;  // the URL with any password redacted: what messages show
  std::vector<std::string> secrets_;
  Access access_;
  std::unique_ptr<pqxx::connection> connection_;
};

}  // namespace

std::unique_ptr<Storage> open_postgres(const std::string& url, Access access) {
  return std::make_unique<PostgresStorage>(url, access);
}

}  // namespace automl::storage
