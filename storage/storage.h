#pragma once
// The trial database, behind an interface free of any backend's specifics: SQLite for one
// machine (storage/sqlite_storage.cpp), PostgreSQL for workers on many hosts
// (storage/postgres_storage.cpp). Every write is durable when the call returns.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/vocabulary.h"

namespace automl::storage {

// A database that cannot be opened, read or written (corrupt, full disk, locked past every
// retry, newer schema). The message names the file, or the server's URL with any password
// redacted. Never a trial's own failure.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ExperimentRow {
  std::int64_t id = 0;
  std::string name;
  std::string config;  // the experiment as loaded (YAML text), for the record and for resume
  ExperimentStatus status = ExperimentStatus::running;
  std::string created_at;
};

struct TrialRow {
  std::int64_t id = 0;
  std::int64_t experiment_id = 0;
  Stage stage = Stage::plan;
  std::string label;  // a name for people, unique within the experiment (e.g. "mi_sgd/seed=1")
  TrialStatus status = TrialStatus::pending;
  // What the trial is (schema version 3): its method, seed, initial LR and, in the LR range
  // test, which of its repeated trials (1-based; 0 elsewhere).
  Method method = Method::sgd;
  std::uint64_t seed = 0;
  double lr = 0;
  int repeat = 0;
  std::string config;  // the trial's configuration as JSON
  std::string device;
  std::string reason;   // why it failed or crashed
  double seconds = 0;   // wall seconds of its last run
  std::string summary;  // JSON summary when done
  // Scheduling state (schema version 2).
  std::string worker;            // "host:pid" of the worker that claimed it last
  int attempts = 0;              // how many times a worker claimed it
  double heartbeat = 0;          // unix seconds of the running worker's last sign of life
  double device_seconds = 0;     // seconds x the share of the device its slot held
  double estimated_seconds = 0;  // the engine's estimate when it planned the job
};

// One parameter group's MI-policy state in one epoch (layer-wise runs have one per layer).
struct EpochGroupRow {
  std::string name;
  double lr = 0, ity = 0, d_p = 0, d_p_raw = 0, d_s = 0;
  std::string decision;
};

struct EpochRow {
  std::int64_t trial_id = 0;
  int epoch = 0;
  double lr = 0;
  double train_loss = 0, train_accuracy = 0;
  double test_loss = 0, test_accuracy = 0;
  double ity = 0;
  double seconds = 0, mi_seconds = 0;
  // Schema version 3 (before: one JSON column `extra`).
  double bound = 0;
  double train_mae = 0, test_mae = 0;
  double validation_accuracy = 0, validation_mae = 0;
  std::vector<EpochGroupRow> groups;  // stored in the child table epoch_groups
};

// A stage of an experiment: planned when its inputs are decided, done when its decision is.
struct StageRow {
  std::int64_t experiment_id = 0;
  Stage stage = Stage::plan;
  StageStatus status = StageStatus::planned;
  std::string decision;  // JSON, when done
  std::string updated_at;
};

// One row of the LRRT's table D (SPEC.md 4): one (trial, LR) that completed, or crashed.
struct LrrtRow {
  int trial = 0;
  double lr = 0;
  bool crashed = false;
  double min_ds = 0;
  double initial_loss = 0, final_loss = 0;
  double initial_ity = 0, final_ity = 0;
  double initial_accuracy = 0, final_accuracy = 0;
};

// The LRRT's output for the model ("model") or one layer.
struct LrrtBoundsRow {
  std::string scope = "model";
  std::string attribute;
  double lr_min = 0, lr_max = 0, lr_top = 0, eps = 0;
  std::string warning;
};

// One C1/C2 candidate in one successive-halving round.
struct C1C2Row {
  int round = 0;
  double c1 = 0, c2 = 0;
  double lr_min = 0, lr_max = 0, lr_top = 0, eps = 0;
  int epochs = 0;
  double score = 0;
  bool kept = false;
};

// A final result: one method at one seed.
struct ResultRow {
  Method method = Method::mi_sgd;
  std::uint64_t seed = 0;
  std::int64_t trial_id = 0;  // read back; when saving, the trial is found by `label`
  std::string label;
  double lr = 0;
  double final_test_accuracy = 0, best_test_accuracy = 0, final_test_mae = 0;
  TrialStatus status = TrialStatus::done;
};

// Everything a stage decided, stored in one transaction with the stage's status.
struct StageDecision {
  std::int64_t experiment_id = 0;
  Stage stage = Stage::plan;
  StageStatus status = StageStatus::done;
  std::string decision = "{}";  // JSON
  std::vector<LrrtRow> lrrt_table;
  std::vector<LrrtBoundsRow> lrrt_bounds;
  std::vector<C1C2Row> c1c2;
  std::vector<ResultRow> results;
};

// What a worker asks for: one given trial (trial_id > 0), pending or queued; or (trial_id == 0)
// the oldest queued trial of the experiment, never a merely pending one.
struct ClaimRequest {
  std::int64_t experiment_id = 0;
  std::int64_t trial_id = 0;
  std::string worker;
  std::string device;
};

struct TrialFilter {
  std::optional<std::int64_t> experiment_id;
  std::optional<Stage> stage;
  std::optional<TrialStatus> status;
};

// A read-only query's result, for `automl query sql`.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual std::int64_t create_experiment(const std::string& name, const std::string& config) = 0;
  virtual std::optional<ExperimentRow> find_experiment(const std::string& name) = 0;
  virtual void set_experiment_status(std::int64_t experiment_id, ExperimentStatus status) = 0;
  virtual std::vector<ExperimentRow> experiments() = 0;

  // Adds a pending trial and returns its id.
  virtual std::int64_t add_trial(const TrialRow& trial) = 0;
  // Adds the trials whose label the experiment does not hold yet, all in one transaction (a
  // stage's jobs appear together); returns the ids of all of them, existing ones included.
  virtual std::vector<std::int64_t> add_trials(const std::vector<TrialRow>& trials) = 0;
  virtual void start_trial(std::int64_t trial_id, const std::string& device) = 0;
  virtual void finish_trial(std::int64_t trial_id, TrialStatus status, const std::string& reason,
                            double seconds, const std::string& summary) = 0;
  virtual std::vector<TrialRow> trials(const TrialFilter& filter) = 0;
  virtual std::optional<TrialRow> trial(std::int64_t trial_id) = 0;

  // Releases a pending trial to any worker (pending -> queued); false when it was not pending.
  virtual bool queue_trial(std::int64_t trial_id) = 0;
  // Atomically moves one trial to running for `request.worker` (attempts + 1, heartbeat now) and
  // returns it (see ClaimRequest for which); nullopt when there is none, or the asked-for one is
  // neither pending nor queued. Two workers never claim the same trial (SQLite: one IMMEDIATE
  // transaction; PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED).
  virtual std::optional<TrialRow> claim_trial(const ClaimRequest& request) = 0;
  // The running worker's sign of life, stamped with the database's clock (never the worker's);
  // false when the trial is no longer its own (requeued).
  virtual bool heartbeat(std::int64_t trial_id, const std::string& worker) = 0;
  // Running trials of the experiment whose heartbeat is older than `max_age_seconds` by the
  // database's clock go back to pending; returns them as they were.
  virtual std::vector<TrialRow> requeue_stale(std::int64_t experiment_id,
                                              double max_age_seconds) = 0;
  // A running trial goes back to pending, or to failed when it has used `max_attempts`.
  virtual void release_trial(std::int64_t trial_id, const std::string& reason,
                             int max_attempts) = 0;
  // A worker started for a pending trial died before it claimed it: that still counts as an
  // attempt (attempts + 1), and the trial fails once it has used `max_attempts`.
  virtual void count_failed_start(std::int64_t trial_id, const std::string& reason,
                                  int max_attempts) = 0;
  // A running trial whose engine was interrupted goes back to pending; that attempt is not
  // counted (attempts - 1), since nothing went wrong with the trial.
  virtual void return_trial(std::int64_t trial_id, const std::string& reason) = 0;
  // Adds to the trial's device-seconds (its run's wall seconds x its slot's share of the device).
  virtual void add_device_seconds(std::int64_t trial_id, double device_seconds) = 0;
  // Sum of device_seconds over the experiment's trials.
  virtual double device_seconds(std::int64_t experiment_id) = 0;

  // Records one finished epoch (and its groups); committed before it returns.
  virtual void add_epoch(const EpochRow& epoch) = 0;
  virtual std::vector<EpochRow> epochs(std::int64_t trial_id) = 0;
  // Drops the trial's epochs after `epoch` (a restarted trial recomputes them).
  virtual void delete_epochs_after(std::int64_t trial_id, int epoch) = 0;
  // Epochs committed over all trials of the experiment (epoch 0 records excluded).
  virtual std::int64_t epochs_run(std::int64_t experiment_id) = 0;

  // Stages and their decisions.
  virtual void set_stage(std::int64_t experiment_id, Stage stage, StageStatus status) = 0;
  virtual void save_decision(const StageDecision& decision) = 0;
  virtual std::vector<StageRow> stages(std::int64_t experiment_id) = 0;
  virtual std::vector<LrrtRow> lrrt_table(std::int64_t experiment_id) = 0;
  virtual std::vector<LrrtBoundsRow> lrrt_bounds(std::int64_t experiment_id) = 0;
  virtual std::vector<C1C2Row> c1c2_candidates(std::int64_t experiment_id) = 0;
  virtual std::vector<ResultRow> results(std::int64_t experiment_id) = 0;

  // The experiment's coordinator lease: true when `holder` holds it now, because it was free, or
  // its holder's last renewal is older than `ttl_seconds` by the database's clock, or it was
  // already `holder`'s (then it is renewed). Atomic: two callers never both get true.
  virtual bool acquire_lease(std::int64_t experiment_id, const std::string& holder,
                             double ttl_seconds) = 0;
  // Frees the lease if `holder` holds it; otherwise does nothing.
  virtual void release_lease(std::int64_t experiment_id, const std::string& holder) = 0;
  // Who holds the experiment's lease (expired or not), if anyone: a coordinator that finds its
  // holder dead on its own host need not wait for the lease to expire.
  virtual std::optional<std::string> lease_holder(std::int64_t experiment_id) = 0;

  // Runs one read-only SQL statement (rejected if it would write, or holds more than one).
  virtual Table query(const std::string& sql) = 0;
};

enum class Access {
  read_write,  // creates the file (SQLite) and migrates the schema as needed
  read_only,   // never writes: SQLite migrates an older schema in a copy held in memory;
               // PostgreSQL refuses an older schema (open it read-write once)
};

// Opens the database at `path`. An existing file is integrity-checked first (SQLite's
// quick_check): a corrupt one is refused with a StorageError naming it.
std::unique_ptr<Storage> open_sqlite(const std::string& path, Access access = Access::read_write);

// Opens the PostgreSQL database at `url` (postgresql://user@host:port/db?params, or any libpq
// connection string). Passwords come only from libpq's own places (PGPASSWORD, ~/.pgpass, the
// service file, the URL itself); messages show the URL with any password redacted. A build
// without libpqxx throws a StorageError saying so.
std::unique_ptr<Storage> open_postgres(const std::string& url, Access access = Access::read_write);

// PostgreSQL for a postgresql:// or postgres:// URL, SQLite for anything else (a path).
std::unique_ptr<Storage> open_storage(const std::string& location,
                                      Access access = Access::read_write);

// True when `location` names a PostgreSQL database (a postgresql:// or postgres:// URL).
bool is_postgres_url(const std::string& location);

// `url` with any password in it replaced by "***": what messages may show.
std::string redact_password(const std::string& url);

}  // namespace automl::storage
