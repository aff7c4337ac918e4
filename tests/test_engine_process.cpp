// The real thing: `automl run` on a tiny experiment (Fashion-MNIST subset, LeNet, 2 epochs per
// job) is killed with SIGKILL (engine and workers) in the middle, then run again: the
// experiment completes, no finished job runs again, and every trial has each epoch exactly once.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "storage/storage.h"
#include "test_support.h"

using namespace automl;

namespace {

// build/tests/automl_tests -> build/automl
std::string automl_binary() {
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "automl").string();
}

// Starts `automl run` in its own process group (so one kill reaches its workers too).
pid_t start_run(const std::string& yaml, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    freopen(log.c_str(), "a", stdout);
    freopen(log.c_str(), "a", stderr);
    const auto binary = automl_binary();
    execl(binary.c_str(), binary.c_str(), "run", yaml.c_str(), "--heartbeat-timeout", "2",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string tiny_experiment(const std::string& database) {
  return "name: tiny\n"
         "database: " +
         database +
         "\n"
         "data:\n  format: idx\n  path: " +
         test::fashion_mnist_dir() +
         "\n"
         "  train_subset: 600\n  test_subset: 300\n"
         "model:\n  name: lenet\n"
         "optimizer:\n  name: sgd\n  momentum: 0.9\n"
         "mi:\n  samples: 200\n"
         "epochs: 2\nbatch_size: 64\nseeds: [1]\nthreads: 1\n"
         "methods:\n  mi_sgd: true\n  mi_sgd_layerwise: false\n  baselines: true\n"
         "lrrt:\n  mode: quick\n  quick_epochs: 2\n  lrs: [0.01, 0.1]\n"
         "c1c2:\n  enabled: false\n"
         "baselines:\n  optimizers: [adam]\n  candidates: 2\n  search_epochs: 2\n"
         "devices:\n  kind: cpu\n  cpu_slots: 2\n";
}

}  // namespace

TEST_CASE("A run killed with SIGKILL resumes to completion without repeating work",
          "[engine][slow]") {
  AUTOML_SKIP_WITHOUT(test::fashion_mnist());
  REQUIRE(std::filesystem::exists(automl_binary()));
  test::TempDir dir;
  const auto database = dir.file("tiny.db");
  const auto yaml = dir.file("tiny.yaml");
  const auto log = dir.file("run.log");
  test::write_text(yaml, tiny_experiment(database));

  // First run: kill engine and workers once some jobs are done and others are mid-epoch.
  const pid_t first = start_run(yaml, log);
  std::map<std::int64_t, std::string> done_before;
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!std::filesystem::exists(database)) continue;
    auto db = storage::open_sqlite(database);
    int running = 0;
    done_before.clear();
    for (const auto& t : db->trials({})) {
      running += t.status == TrialStatus::running;
      if (t.status == TrialStatus::done) done_before[t.id] = t.label;
    }
    if (done_before.size() >= 3 && running > 0) break;
  }
  REQUIRE(done_before.size() >= 3);
  kill(-first, SIGKILL);
  wait_exit(first);
  std::int64_t running_at_kill = 0;
  {
    auto db = storage::open_sqlite(database);
    for (const auto& t : db->trials({})) running_at_kill += t.status == TrialStatus::running;
    done_before.clear();
    for (const auto& t : db->trials({}))
      if (t.status == TrialStatus::done) done_before[t.id] = t.label;
  }
  CHECK(running_at_kill > 0);

  // Second run: resumes (stale heartbeats go back to pending) and completes.
  const int code = wait_exit(start_run(yaml, log));
  std::ifstream log_file(log);
  INFO(std::string(std::istreambuf_iterator<char>(log_file), {}));
  REQUIRE(code == 0);
  auto db = storage::open_sqlite(database);
  REQUIRE(db->experiments().at(0).status == ExperimentStatus::done);
  const auto trials = db->trials({});
  // lrrt 2 trials x 2 LRs, mi_sgd 1, adam search 2 + 1 final.
  CHECK(trials.size() == 8);
  int restarted = 0;
  for (const auto& t : trials) {
    INFO(t.label);
    CHECK(t.status == TrialStatus::done);
    if (done_before.count(t.id)) CHECK(t.attempts == 1);  // never run twice
    restarted += t.attempts > 1;
    // Epochs 1 and 2 once each, and epoch 0 (before training) where the trial measures MI.
    const bool mi = nlohmann::json::parse(t.config).at("mi").at("enabled").get<bool>();
    const int first = mi ? 0 : 1;
    const auto epochs = db->epochs(t.id);
    REQUIRE(epochs.size() == static_cast<std::size_t>(3 - first));
    for (std::size_t k = 0; k < epochs.size(); ++k)
      CHECK(epochs[k].epoch == static_cast<int>(k) + first);
  }
  CHECK(restarted >= 1);
  CHECK(db->results(trials[0].experiment_id).size() == 2);  // mi_sgd and adam, seed 1
  CHECK(db->lrrt_bounds(trials[0].experiment_id).size() == 1);
}
