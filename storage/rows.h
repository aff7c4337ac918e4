#pragma once
// What the SQLite and PostgreSQL backends share: the columns each table is read from, the SQL
// text that is the same in both dialects (`?` placeholders; the PostgreSQL backend numbers them),
// and how a row becomes a struct. A backend's reader R provides text(c), real(c), integer(c),
// int32(c), flag(c) by column name (NULL reads as 0 or "") and database() (the name to cite).
#include <fmt/format.h>

#include <string>

#include "common/vocabulary.h"
#include "storage/storage.h"

namespace automl::storage::rows {

// A stored name read back as E; an unknown one is an error that names the database.
template <typename E, typename R>
E enumerated(const R& r, const char* column) {
  const auto value = r.text(column);
  if (const auto parsed = try_parse<E>(value)) return *parsed;
  throw StorageError(fmt::format("database {}: column {} holds '{}', not a {} this automl knows",
                                 r.database(), column, value, Names<E>::kind));
}

inline constexpr const char* kTrialColumns =
    "id, experiment_id, stage, label, status, method, seed, lr, repeat, config, device, reason, "
    "seconds, summary, worker, attempts, heartbeat, device_seconds, estimated_seconds";

template <typename R>
TrialRow trial(const R& r) {
  TrialRow t;
  t.id = r.integer("id");
  t.experiment_id = r.integer("experiment_id");
  t.stage = enumerated<Stage>(r, "stage");
  t.label = r.text("label");
  t.status = enumerated<TrialStatus>(r, "status");
  t.method = enumerated<Method>(r, "method");
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

inline constexpr const char* kEpochColumns =
    "trial_id, epoch, lr, train_loss, train_accuracy, test_loss, test_accuracy, ity, seconds, "
    "mi_seconds, bound, train_mae, test_mae, validation_accuracy, validation_mae";

template <typename R>
EpochRow epoch(const R& r) {
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

// SQLite orders these by its implicit rowid; PostgreSQL has an explicit rowid BIGSERIAL column in
// the tables read in insertion order (stages, lrrt_bounds, epoch_groups), so the text is shared.
inline constexpr const char* kSelectGroups =
    "SELECT epoch, name, lr, ity, d_p, d_p_raw, d_s, decision FROM epoch_groups WHERE trial_id = "
    "? ORDER BY epoch, rowid";

template <typename R>
EpochGroupRow group(const R& r) {
  return {r.text("name"),    r.real("lr"),  r.real("ity"),     r.real("d_p"),
          r.real("d_p_raw"), r.real("d_s"), r.text("decision")};
}

inline constexpr const char* kSelectExperiments =
    "SELECT id, name, config, status, created_at FROM experiments ";

template <typename R>
ExperimentRow experiment(const R& r) {
  return {r.integer("id"), r.text("name"), r.text("config"),
          enumerated<ExperimentStatus>(r, "status"), r.text("created_at")};
}

inline constexpr const char* kSelectStages =
    "SELECT experiment_id, name, status, decision, updated_at FROM stages WHERE experiment_id = ? "
    "ORDER BY rowid";

template <typename R>
StageRow stage(const R& r) {
  return {r.integer("experiment_id"), enumerated<Stage>(r, "name"),
          enumerated<StageStatus>(r, "status"), r.text("decision"), r.text("updated_at")};
}

inline constexpr const char* kSelectLrrt =
    "SELECT trial, lr, crashed, min_ds, initial_loss, final_loss, initial_ity, final_ity, "
    "initial_accuracy, final_accuracy FROM lrrt_table WHERE experiment_id = ? ORDER BY trial, lr";

template <typename R>
LrrtRow lrrt(const R& r) {
  return {r.int32("trial"),        r.real("lr"),           r.flag("crashed"),
          r.real("min_ds"),        r.real("initial_loss"), r.real("final_loss"),
          r.real("initial_ity"),   r.real("final_ity"),    r.real("initial_accuracy"),
          r.real("final_accuracy")};
}

inline constexpr const char* kSelectBounds =
    "SELECT scope, attribute, lr_min, lr_max, lr_top, eps, warning FROM lrrt_bounds WHERE "
    "experiment_id = ? ORDER BY rowid";

template <typename R>
LrrtBoundsRow bounds(const R& r) {
  return {r.text("scope"),  r.text("attribute"), r.real("lr_min"), r.real("lr_max"),
          r.real("lr_top"), r.real("eps"),       r.text("warning")};
}

inline constexpr const char* kSelectC1C2 =
    "SELECT round, c1, c2, lr_min, lr_max, lr_top, eps, epochs, score, kept FROM c1c2_candidates "
    "WHERE experiment_id = ? ORDER BY round, score DESC";

template <typename R>
C1C2Row c1c2(const R& r) {
  return {r.int32("round"), r.real("c1"),  r.real("c2"),      r.real("lr_min"), r.real("lr_max"),
          r.real("lr_top"), r.real("eps"), r.int32("epochs"), r.real("score"),  r.flag("kept")};
}

inline constexpr const char* kSelectResults =
    "SELECT method, seed, trial_id, lr, final_test_accuracy, best_test_accuracy, final_test_mae, "
    "status FROM results WHERE experiment_id = ? ORDER BY method, seed";

template <typename R>
ResultRow result(const R& r) {
  ResultRow row;
  row.method = enumerated<Method>(r, "method");
  row.seed = static_cast<std::uint64_t>(r.integer("seed"));
  row.trial_id = r.integer("trial_id");
  row.lr = r.real("lr");
  row.final_test_accuracy = r.real("final_test_accuracy");
  row.best_test_accuracy = r.real("best_test_accuracy");
  row.final_test_mae = r.real("final_test_mae");
  row.status = enumerated<TrialStatus>(r, "status");
  return row;
}

// The database's clock in a dialect: the time as ISO 8601 UTC text, and as unix seconds. Every
// heartbeat and lease is stamped and compared by it, never by the caller's clock.
struct Clock {
  const char* text;
  const char* unix_seconds;
};

// Parameters: status (running), device, id.
inline std::string start_trial_sql(const Clock& now) {
  return fmt::format(
      "UPDATE trials SET status = ?, device = ?, heartbeat = {}, started_at = {} WHERE id = ?",
      now.unix_seconds, now.text);
}

// Parameters: status, reason, seconds, summary, id.
inline std::string finish_trial_sql(const Clock& now) {
  return fmt::format(
      "UPDATE trials SET status = ?, reason = ?, seconds = ?, summary = ?, finished_at = {} WHERE "
      "id = ?",
      now.text);
}

// The claim's update of the chosen trial. Parameters: status (running), worker, device; then the
// backend's WHERE.
inline std::string claim_sql(const Clock& now) {
  return fmt::format(
      "UPDATE trials SET status = ?, worker = ?, device = ?, attempts = attempts + 1, heartbeat = "
      "{}, reason = '', started_at = {} ",
      now.unix_seconds, now.text);
}

// Parameters: id, worker, status (running).
inline std::string heartbeat_sql(const Clock& now) {
  return fmt::format("UPDATE trials SET heartbeat = {} WHERE id = ? AND worker = ? AND status = ?",
                     now.unix_seconds);
}

// Parameters: experiment_id, status (running), max_age_seconds.
inline std::string stale_trials_sql(const Clock& now) {
  return fmt::format(
      "SELECT {} FROM trials WHERE experiment_id = ? AND status = ? AND heartbeat < {} - ?",
      kTrialColumns, now.unix_seconds);
}

// Parameters: experiment_id, stage, status.
inline std::string set_stage_sql(const Clock& now) {
  return fmt::format(
      "INSERT INTO stages (experiment_id, name, status) VALUES (?, ?, ?) ON CONFLICT "
      "(experiment_id, name) DO UPDATE SET status = excluded.status, updated_at = {}",
      now.text);
}

// Parameters: experiment_id, stage, status, decision.
inline std::string save_stage_sql(const Clock& now) {
  return fmt::format(
      "INSERT INTO stages (experiment_id, name, status, decision) VALUES (?, ?, ?, ?) ON CONFLICT "
      "(experiment_id, name) DO UPDATE SET status = excluded.status, decision = "
      "excluded.decision, updated_at = {}",
      now.text);
}

// The lease goes to `holder` when it is free, stale or already its own; RETURNING yields a row
// only then (an upsert whose WHERE fails updates and returns nothing). Parameters:
// experiment_id, holder, ttl_seconds.
inline std::string acquire_lease_sql(const Clock& now) {
  return fmt::format(
      "INSERT INTO leases (experiment_id, holder, renewed_at) VALUES (?, ?, {}) ON CONFLICT "
      "(experiment_id) DO UPDATE SET holder = excluded.holder, renewed_at = excluded.renewed_at "
      "WHERE leases.holder = excluded.holder OR leases.renewed_at < excluded.renewed_at - ? "
      "RETURNING holder",
      now.unix_seconds);
}

// Statements whose text is the same in both dialects. Statuses are bound as parameters.
inline constexpr const char* kQueueTrial =
    "UPDATE trials SET status = ? WHERE id = ? AND status = ?";
inline constexpr const char* kReleaseTrial =
    "UPDATE trials SET status = CASE WHEN attempts >= ? THEN ? ELSE ? END, reason = ? WHERE id = "
    "? AND status = ?";
inline constexpr const char* kCountFailedStart =
    "UPDATE trials SET attempts = attempts + 1, status = CASE WHEN attempts + 1 >= ? THEN ? ELSE "
    "? END, reason = ? WHERE id = ? AND status IN (?, ?)";
inline constexpr const char* kReturnTrial =
    "UPDATE trials SET status = ?, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 "
    "END, reason = ? WHERE id = ? AND status = ?";
inline constexpr const char* kAddDeviceSeconds =
    "UPDATE trials SET device_seconds = device_seconds + ? WHERE id = ?";
inline constexpr const char* kDeviceSeconds =
    "SELECT COALESCE(SUM(device_seconds), 0) FROM trials WHERE experiment_id = ?";
inline constexpr const char* kEpochsRun =
    "SELECT COUNT(*) FROM epochs JOIN trials ON trials.id = epochs.trial_id WHERE "
    "trials.experiment_id = ? AND epochs.epoch > 0";
inline constexpr const char* kReleaseLease =
    "DELETE FROM leases WHERE experiment_id = ? AND holder = ?";
inline constexpr const char* kLeaseHolder = "SELECT holder FROM leases WHERE experiment_id = ?";

// The columns each INSERT names (shared: the backends only differ in their conflict clause).
inline const std::vector<const char*> kEpochInsert = {"trial_id",
                                                      "epoch",
                                                      "lr",
                                                      "train_loss",
                                                      "train_accuracy",
                                                      "test_loss",
                                                      "test_accuracy",
                                                      "ity",
                                                      "seconds",
                                                      "mi_seconds",
                                                      "bound",
                                                      "train_mae",
                                                      "test_mae",
                                                      "validation_accuracy",
                                                      "validation_mae"};
inline const std::vector<const char*> kGroupInsert = {
    "trial_id", "epoch", "name", "lr", "ity", "d_p", "d_p_raw", "d_s", "decision"};
inline const std::vector<const char*> kTrialInsert = {
    "experiment_id", "stage", "label",  "status", "method",
    "seed",          "lr",    "repeat", "config", "estimated_seconds"};
inline const std::vector<const char*> kLrrtInsert = {
    "experiment_id", "trial",      "lr",          "crashed",   "min_ds",
    "initial_loss",  "final_loss", "initial_ity", "final_ity", "initial_accuracy",
    "final_accuracy"};
inline const std::vector<const char*> kBoundsInsert = {
    "experiment_id", "scope", "attribute", "lr_min", "lr_max", "lr_top", "eps", "warning"};
inline const std::vector<const char*> kC1C2Insert = {"experiment_id", "round",  "c1",     "c2",
                                                     "lr_min",        "lr_max", "lr_top", "eps",
                                                     "epochs",        "score",  "kept"};

// "VERB INTO table (a, b) VALUES (?, ?) tail" from the column list.
inline std::string insert_sql(const char* verb, const char* table,
                              const std::vector<const char*>& columns,
                              const std::string& tail = "") {
  std::string names, marks;
  for (const auto* c : columns) {
    names += (names.empty() ? "" : ", ") + std::string(c);
    marks += marks.empty() ? "?" : ", ?";
  }
  return fmt::format("{} INTO {} ({}) VALUES ({}){}", verb, table, names, marks,
                     tail.empty() ? "" : " " + tail);
}

// The results row of a stage decision; the trial is found by its label. Parameters:
// experiment_id, method, seed, experiment_id, label, lr, final/best accuracy, final MAE, status.
inline constexpr const char* kResultValues =
    "INTO results (experiment_id, method, seed, trial_id, lr, final_test_accuracy, "
    "best_test_accuracy, final_test_mae, status) VALUES (?, ?, ?, (SELECT id FROM trials WHERE "
    "experiment_id = ? AND label = ?), ?, ?, ?, ?, ?)";

}  // namespace automl::storage::rows
