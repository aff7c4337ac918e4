// Long-lived workers (engine/worker.h, engine/process_runner.h): one process per slot runs trial
// after trial, and a trial there gives exactly what it gives in a fresh process; the engine's
// side of the socket protocol, with a scripted stand-in worker; the data cache; a worker that
// claims from the database by itself.
#include <torch/torch.h>  // before Catch2: glog's CHECK must not replace Catch2's
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/data_cache.h"
#include "engine/engine.h"
#include "engine/process_runner.h"
#include "engine/worker.h"
#include "experiments/experiment.h"
#include "storage/storage.h"
#include "test_support.h"
#include "trials/config_json.h"
#include "trials/data.h"

using namespace automl;
using namespace automl::engine;

namespace {

// build/tests/automl_tests -> build/automl
std::string automl_binary() {
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "automl").string();
}

// A small Fashion-MNIST trial with MI, so that every part of the loop runs.
trials::TrialConfig small_trial() {
  auto e = experiments::parse_experiment("name: w\ndata: {path: " + test::fashion_mnist_dir() +
                                             ", train_subset: 400, test_subset: 200}\n"
                                             "model: {name: lenet}\n"
                                             "optimizer: {name: sgd, lr: 0.05, momentum: 0.9}\n"
                                             "mi: {samples: 100}\n"
                                             "epochs: 2\nbatch_size: 32\nseed: 1\n",
                                         "w.yaml");
  return e.trial;
}

// Another data set (normalised, another subset and seed), model and optimizer.
trials::TrialConfig other_trial() {
  auto t = small_trial();
  t.seed = 2;
  t.data.normalize = true;
  t.data.train_subset = 300;
  t.policy.layerwise = true;
  t.optimizer.name = "adam";
  t.optimizer.lr = 0.001;
  return t;
}

std::int64_t add_trial(storage::Storage& db, std::int64_t experiment, const std::string& label,
                       const trials::TrialConfig& config) {
  storage::TrialRow row;
  row.experiment_id = experiment;
  row.stage = Stage::mi_sgd;
  row.label = label;
  row.seed = config.seed;
  row.config = nlohmann::json(config).dump();
  return db.add_trial(row);
}

Exit wait_exit(ProcessRunner& runner, double limit = 300) {
  for (double waited = 0; waited < limit; waited += 0.5)
    if (const auto exit = runner.wait(0.5)) return *exit;
  FAIL("no trial ended within " << limit << " s");
  return {};
}

Exit run_on(ProcessRunner& runner, const Slot& slot, std::int64_t trial) {
  REQUIRE(runner.start({trial, "t", slot}));
  const auto exit = wait_exit(runner);
  CHECK(exit.trial_id == trial);
  return exit;
}

// Runs `automl worker` with `args` in a process of its own; returns its exit status (-N for a
// signal). `started` is called with its pid.
int run_worker_process(const std::vector<std::string>& args,
                       const std::function<void(pid_t)>& started = {}) {
  auto command = args;
  command.insert(command.begin(), {automl_binary(), "worker"});
  std::vector<char*> argv;
  for (auto& arg : command) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  if (started) started(pid);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Every number of every epoch, bit for bit.
void check_same_epochs(storage::Storage& db, std::int64_t a, std::int64_t b) {
  INFO("trials " << a << " and " << b);
  const auto x = db.epochs(a), y = db.epochs(b);
  REQUIRE(x.size() == y.size());
  REQUIRE(!x.empty());
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("epoch " << x[i].epoch);
    CHECK(x[i].epoch == y[i].epoch);
    CHECK(x[i].lr == y[i].lr);
    CHECK(x[i].train_loss == y[i].train_loss);
    CHECK(x[i].train_accuracy == y[i].train_accuracy);
    CHECK(x[i].test_loss == y[i].test_loss);
    CHECK(x[i].test_accuracy == y[i].test_accuracy);
    CHECK(x[i].ity == y[i].ity);
    CHECK(x[i].bound == y[i].bound);
    CHECK(x[i].validation_accuracy == y[i].validation_accuracy);
    REQUIRE(x[i].groups.size() == y[i].groups.size());
    for (std::size_t g = 0; g < x[i].groups.size(); ++g) {
      CHECK(x[i].groups[g].lr == y[i].groups[g].lr);
      CHECK(x[i].groups[g].ity == y[i].groups[g].ity);
      CHECK(x[i].groups[g].d_p == y[i].groups[g].d_p);
      CHECK(x[i].groups[g].d_s == y[i].groups[g].d_s);
    }
  }
}

ProcessRunnerOptions runner_options(const test::TempDir& dir, const std::string& executable) {
  ProcessRunnerOptions options;
  options.executable = executable;
  options.database = dir.file("t.db");
  options.checkpoint_dir = dir.file("checkpoints");
  options.threads = 1;
  options.heartbeat_seconds = 0.5;
  return options;
}

}  // namespace

TEST_CASE("A trial in a warm worker gives the epochs it gives in a fresh process, bit for bit",
          "[engine][worker][slow]") {
  AUTOML_SKIP_WITHOUT(test::fashion_mnist());
  REQUIRE(std::filesystem::exists(automl_binary()));
  test::TempDir dir;
  const auto options = runner_options(dir, automl_binary());
  auto db = storage::open_sqlite(options.database);
  const auto experiment = db->create_experiment("warm", "name: warm\n");
  const auto first = add_trial(*db, experiment, "first", small_trial());
  const auto other = add_trial(*db, experiment, "other", other_trial());
  const auto again = add_trial(*db, experiment, "again", small_trial());  // a cache hit
  const auto fresh = add_trial(*db, experiment, "fresh", small_trial());
  const auto other_fresh = add_trial(*db, experiment, "other fresh", other_trial());

  // One worker runs three trials: the last after another data set, model and optimizer.
  ProcessRunner runner(options);
  const auto slot = make_slots("cpu", 0, 1, 1).front();
  std::vector<int> pids;
  for (const auto trial : {first, other, again}) {
    CHECK(run_on(runner, slot, trial).exit_code == kWorkerFinished);
    pids.push_back(runner.worker_pid(slot.name));
  }
  CHECK(pids == std::vector<int>(3, pids.front()));
  CHECK(db->trial(first)->worker == db->trial(again)->worker);
  runner.stop_all();

  // Fresh processes, as every trial had before.
  for (const auto trial : {fresh, other_fresh})
    REQUIRE(run_worker_process({"--db", options.database, "--trial", std::to_string(trial),
                                "--threads", "1"}) == kWorkerFinished);

  for (const auto trial : {first, other, again, fresh, other_fresh})
    REQUIRE(db->trial(trial)->status == TrialStatus::done);
  check_same_epochs(*db, first, fresh);
  check_same_epochs(*db, again, fresh);
  check_same_epochs(*db, other, other_fresh);
  const auto summary = [&](std::int64_t id) {
    auto j = nlohmann::json::parse(db->trial(id)->summary);
    j.erase("seconds");
    return j;
  };
  CHECK(summary(first) == summary(fresh));
  CHECK(summary(again) == summary(fresh));
  // Each trial's output went to its own log, as with a process per trial.
  for (const auto trial : {first, other, again})
    CHECK(std::filesystem::exists(options.checkpoint_dir + "/logs/trial-" + std::to_string(trial) +
                                  ".log"));
}

TEST_CASE("A trial that throws fails alone: the slot's next trial runs in a fresh worker",
          "[engine][worker][faults][slow]") {
  AUTOML_SKIP_WITHOUT(test::fashion_mnist());
  test::TempDir dir;
  const auto options = runner_options(dir, automl_binary());
  auto db = storage::open_sqlite(options.database);
  const auto experiment = db->create_experiment("throws", "name: throws\n");
  auto broken = small_trial();
  broken.data.path = dir.file("no such data");
  const auto bad = add_trial(*db, experiment, "bad", broken);
  const auto good = add_trial(*db, experiment, "good", small_trial());

  ProcessRunner runner(options);
  const auto slot = make_slots("cpu", 0, 1, 1).front();
  CHECK(run_on(runner, slot, bad).exit_code == kWorkerFailed);
  const int failed_pid = runner.worker_pid(slot.name);
  CHECK(run_on(runner, slot, good).exit_code == kWorkerFinished);
  CHECK(runner.worker_pid(slot.name) != failed_pid);
  CHECK(db->trial(bad)->status == TrialStatus::failed);
  CHECK_THAT(db->trial(bad)->reason, Catch::Matchers::Contains("no such data"));
  CHECK(db->trial(good)->status == TrialStatus::done);
}

TEST_CASE("The engine hands a slot's worker trial after trial and replaces one that dies",
          "[engine][worker][faults]") {
  test::TempDir dir;
  // Stands in for `automl worker --serve-fd 3`: answers "<id> 0" on fd 3, except for trial 2
  // (it dies of SIGKILL), 5 (it hangs) and 6 (it answers 1, then exits 1 as a worker does
  // after a trial threw).
  const auto worker = dir.file("worker.sh");
  test::write_text(worker,
                   "#!/bin/bash\n"
                   "while read -r verb id <&3; do\n"
                   "  case $id in\n"
                   "    2) kill -9 $$ ;;\n"
                   "    5) exec sleep 60 ;;\n"
                   "    6) echo \"$id 1\" >&3; exit 1 ;;\n"
                   "    *) echo \"$id 0\" >&3 ;;\n"
                   "  esac\n"
                   "done\n");
  std::filesystem::permissions(worker, std::filesystem::perms::owner_all);
  ProcessRunner runner(runner_options(dir, worker));
  const auto slot = make_slots("cpu", 0, 1, 1).front();

  const auto one = run_on(runner, slot, 1);
  CHECK(one.exit_code == 0);
  const int pid = runner.worker_pid(slot.name);
  CHECK(one.worker == worker_identity(pid));
  CHECK(run_on(runner, slot, 3).exit_code == 0);
  CHECK(runner.worker_pid(slot.name) == pid);  // the same process

  const auto died = run_on(runner, slot, 2);
  CHECK(died.exit_code == -SIGKILL);
  CHECK_THAT(died.how, Catch::Matchers::Contains("signal 9"));
  CHECK(died.worker == worker_identity(pid));
  CHECK(runner.worker_pid(slot.name) == 0);

  CHECK(run_on(runner, slot, 4).exit_code == 0);
  const int replacement = runner.worker_pid(slot.name);
  CHECK(replacement != pid);

  // A hung worker is abandoned: killed, and its trial ends as a death.
  REQUIRE(runner.start({5, "hangs", slot}));
  CHECK_FALSE(runner.wait(0.3));
  runner.abandon(5);
  CHECK(wait_exit(runner, 10).exit_code == -SIGKILL);

  // An answer is the trial's exit, though the worker ends right after it.
  CHECK(run_on(runner, slot, 6).exit_code == 1);
  CHECK(run_on(runner, slot, 7).exit_code == 0);
  runner.stop_all();  // ends the idle worker
  CHECK(runner.worker_pid(slot.name) == 0);
}

TEST_CASE("The data cache gives what load_splits gives, a copy each time, one decoding per files",
          "[engine][worker]") {
  int loads = 0;
  const auto counted = [&](const trials::DataConfig& data, std::uint64_t seed) {
    ++loads;
    return trials::load_source(data, seed);
  };
  DataCacheLimits limits;
  limits.entries = 2;
  DataCache cache(limits, counted);
  trials::DataConfig data;
  data.path = test::tiny_idx_dir();
  data.train_subset = 12;
  data.validation_fraction = 0.25;

  const auto expected = trials::load_splits(data, 1);
  auto first = cache.get(data, 1);
  CHECK(torch::equal(first.train.inputs, expected.train.inputs));
  CHECK(torch::equal(first.validation.targets, expected.validation.targets));
  CHECK(torch::equal(first.test.inputs, expected.test.inputs));
  // What one trial does to its data stays with it, also to a split taken whole (the test set).
  first.train.inputs.add_(1);
  first.test.inputs.add_(1);
  const auto second = cache.get(data, 1);
  CHECK(torch::equal(second.train.inputs, expected.train.inputs));
  CHECK(torch::equal(second.test.inputs, expected.test.inputs));
  CHECK(loads == 1);

  // Other seeds and normalisation draw their splits from the same decoded files.
  CHECK(torch::equal(cache.get(data, 2).train.inputs, trials::load_splits(data, 2).train.inputs));
  auto normalized = data;
  normalized.normalize = true;
  CHECK(torch::equal(cache.get(normalized, 1).train.inputs,
                     trials::load_splits(normalized, 1).train.inputs));
  CHECK(loads == 1);

  // Other files are another source; the least recently used goes.
  auto elsewhere = data, third = data;
  elsewhere.path = data.path + "/.";
  third.path = data.path + "/./.";
  cache.get(elsewhere, 1);
  cache.get(third, 1);
  CHECK(loads == 3);
  CHECK(cache.size() == 2);
  cache.get(data, 1);
  CHECK(loads == 4);
  cache.get(third, 1);
  CHECK(loads == 4);

  limits.bytes = 1;  // over the bound, only the newest stays
  DataCache small(limits, counted);
  small.get(data, 1);
  small.get(elsewhere, 1);
  CHECK(small.size() == 1);
}

// The checkpoints of the experiment `name` stored in `database`, as the engine places them.
std::string checkpoints_of(storage::Storage& db, const std::string& database,
                           const std::string& name) {
  experiments::ExperimentConfig e;
  e.database = database;
  return checkpoint_dir(e, *db.find_experiment(name));
}

TEST_CASE(
    "A worker claims an experiment's released trials until it is idle, and gives its trial "
    "back on SIGTERM",
    "[engine][worker][slow]") {
  AUTOML_SKIP_WITHOUT(test::fashion_mnist());
  test::TempDir dir;
  const auto database = dir.file("t.db");
  auto db = storage::open_sqlite(database);
  const auto experiment = db->create_experiment("claims", "name: claims\n");
  auto quick = small_trial();
  quick.epochs = 1;
  const auto a = add_trial(*db, experiment, "a", quick);
  const auto b = add_trial(*db, experiment, "b", quick);
  const auto unreleased = add_trial(*db, experiment, "unreleased", quick);
  REQUIRE(db->queue_trial(a));
  REQUIRE(db->queue_trial(b));
  const auto checkpoints = checkpoints_of(*db, database, "claims");

  const auto start = std::chrono::steady_clock::now();
  CHECK(run_worker_process({"--db", database, "--experiment", "claims", "--idle-exit", "1",
                            "--threads", "1"}) == 0);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::seconds(1));
  for (const auto id : {a, b}) {
    const auto t = *db->trial(id);
    CHECK(t.status == TrialStatus::done);
    CHECK(t.device_seconds > 0);  // no engine timed it: the worker did
    CHECK(std::filesystem::exists(checkpoints + "/logs/trial-" + std::to_string(id) + ".log"));
  }
  CHECK(db->trial(a)->worker == db->trial(b)->worker);
  CHECK(db->trial(unreleased)->status == TrialStatus::pending);  // never released: never run

  // SIGTERM mid-trial: the trial stops after its epoch and goes back, checkpointed, with its
  // attempt given back; the next worker resumes it.
  auto slow = small_trial();
  slow.data.train_subset = 1500;
  slow.epochs = 6;
  const auto c = add_trial(*db, experiment, "c", slow);
  REQUIRE(db->queue_trial(c));
  const auto args =
      std::vector<std::string>{"--db",        database, "--experiment", std::to_string(experiment),
                               "--idle-exit", "0",      "--threads",    "1"};
  const int code = run_worker_process(args, [&](pid_t pid) {
    for (int i = 0; i < 1200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const auto epochs = db->epochs(c);
      if (!epochs.empty() && epochs.back().epoch >= 1) break;
    }
    kill(pid, SIGTERM);
  });
  CHECK(code == 0);
  auto t = *db->trial(c);
  CHECK(t.status == TrialStatus::pending);
  CHECK(t.attempts == 0);
  CHECK(std::filesystem::exists(checkpoint_path(checkpoints, c)));
  REQUIRE(db->queue_trial(c));  // the coordinator releases it again
  CHECK(run_worker_process(args) == 0);
  t = *db->trial(c);
  CHECK(t.status == TrialStatus::done);
  CHECK(t.attempts == 1);
  const auto epochs = db->epochs(c);
  REQUIRE(epochs.size() == 7);  // 0 (MI before training) to 6, each once
  for (std::size_t k = 0; k < epochs.size(); ++k) CHECK(epochs[k].epoch == static_cast<int>(k));
}

TEST_CASE("A worker refuses a released trial whose configuration another release wrote",
          "[engine][worker]") {
  test::TempDir dir;
  const auto database = dir.file("t.db");
  auto db = storage::open_sqlite(database);
  const auto experiment = db->create_experiment("mixed", "name: mixed\n");
  auto newer = nlohmann::json(small_trial());
  newer["format"] = trials::kTrialConfigFormat + 1;
  newer["mi"]["a_later_option"] = true;
  storage::TrialRow row;
  row.experiment_id = experiment;
  row.stage = Stage::mi_sgd;
  row.label = "newer";
  row.config = newer.dump();
  const auto id = db->add_trial(row);
  REQUIRE(db->queue_trial(id));
  CHECK(run_worker_process({"--db", database, "--experiment", "mixed", "--idle-exit", "5",
                            "--threads", "1"}) == kWorkerRefused);
  const auto t = *db->trial(id);
  CHECK(t.status == TrialStatus::pending);  // left for a worker that can read it
  CHECK(t.attempts == 0);                   // and its refusal cost it nothing
  CHECK(t.reason.find("format " + std::to_string(trials::kTrialConfigFormat + 1)) !=
        std::string::npos);
  CHECK(db->epochs(id).empty());
}
