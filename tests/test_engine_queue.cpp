// The coordinator's side of workers elsewhere: the scheduler releases trials through a
// QueueRunner and threads standing in for `automl worker --experiment` claim them from the
// database; the launchers' job script and commands, with a fake sbatch/scancel on PATH.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>

#include "engine/launcher.h"
#include "engine/queue_runner.h"
#include "engine/records.h"
#include "engine/scheduler.h"
#include "test_stage_fixtures.h"
#include "test_support.h"
#include "trials/config_json.h"

using namespace automl;
using namespace automl::engine;

namespace {

using test_stages::rounds_stage;

std::vector<StageSpec> two_stages() {
  return {rounds_stage(Stage::lrrt, {}, 2, 3), rounds_stage(Stage::mi_sgd, {Stage::lrrt}, 1, 2)};
}

// Workers on their own connections, claiming released trials until told to stop. With
// `one_silent`, the first worker claims one trial and then neither heartbeats nor finishes it
// (a host that died), and the others start claiming only after that.
class Workers {
 public:
  Workers(const std::string& database, std::int64_t experiment, int count, bool one_silent = false)
      : database_(database), experiment_(experiment), silent_claimed_(!one_silent) {
    for (int w = 0; w < count; ++w)
      threads_.emplace_back([this, w, one_silent] { work(w, one_silent && w == 0); });
  }
  ~Workers() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  int most_in_flight() const { return most_in_flight_; }

 private:
  void work(int w, bool silent) {
    auto db = storage::open_sqlite(database_);
    const auto worker = fmt::format("host{}:1", w);
    while (!stop_) {
      if (!silent && !silent_claimed_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      const auto trial = db->claim_trial({experiment_, 0, worker, "cpu"});
      if (!trial) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      note_in_flight(*db);
      if (silent) {
        silent = false;  // dies with this trial; the thread lives on as a fresh worker
        silent_claimed_ = true;
        continue;
      }
      trials::EpochRecord r;
      r.epoch = 1;
      r.lr = 0.1;
      r.test_accuracy = 0.5;
      db->add_epoch(epoch_row(trial->id, r));
      trials::TrialSummary summary;
      summary.epochs_run = 1;
      db->finish_trial(trial->id, TrialStatus::done, "", 0.01, summary_text(summary));
    }
  }
  // Trials released or running at once: never more than the coordinator's slots.
  void note_in_flight(storage::Storage& db) {
    storage::TrialFilter filter;
    filter.experiment_id = experiment_;
    int n = 0;
    for (const auto& t : db.trials(filter))
      n += t.status == TrialStatus::queued || t.status == TrialStatus::running;
    std::lock_guard<std::mutex> lock(mutex_);
    most_in_flight_ = std::max(most_in_flight_, n);
  }

  std::string database_;
  std::int64_t experiment_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> silent_claimed_;
  std::mutex mutex_;
  int most_in_flight_ = 0;
  std::vector<std::thread> threads_;
};

struct Fixture {
  test::TempDir dir;
  std::string database = dir.file("q.db");
  std::unique_ptr<storage::Storage> db = storage::open_sqlite(database);
  std::int64_t experiment = db->create_experiment("e", "name: e\n");
  std::vector<std::string> log;

  SchedulerOptions options() const {
    SchedulerOptions o;
    o.tick_seconds = 0.05;
    o.heartbeat_timeout = 0.5;
    return o;
  }
  std::vector<storage::TrialRow> trials() {
    storage::TrialFilter filter;
    filter.experiment_id = experiment;
    return db->trials(filter);
  }
  // One coordinator's run of two_stages() over 2 released-trial slots, to its end.
  RunReport coordinate(std::function<bool()> hold_lease = {}) {
    QueueRunner runner(*db, 0.01);
    Scheduler scheduler(*db, experiment, two_stages(), queue_slots(2), runner, options(),
                        [this](const std::string& line) { log.push_back(line); });
    scheduler.hold_lease = std::move(hold_lease);
    return scheduler.run();
  }
};

}  // namespace

TEST_CASE("A coordinator releases trials to workers that claim them, one per slot",
          "[engine][queue]") {
  Fixture f;
  Workers workers(f.database, f.experiment, 3);
  const auto report = f.coordinate();
  workers.stop();
  CHECK(report.complete);
  CHECK(report.trials_done == 8);  // 2 rounds x 3 + 2
  CHECK(workers.most_in_flight() <= 2);
  for (const auto& t : f.trials()) {
    INFO(t.label);
    CHECK(t.status == TrialStatus::done);
    CHECK(t.attempts == 1);  // claimed exactly once
  }
  for (const auto& stage : f.db->stages(f.experiment)) CHECK(stage.status == StageStatus::done);
}

TEST_CASE("A trial whose worker went silent is released again and finished by another",
          "[engine][queue]") {
  Fixture f;
  Workers workers(f.database, f.experiment, 2, /*one_silent=*/true);
  const auto report = f.coordinate();
  workers.stop();
  CHECK(report.complete);
  int retried = 0;
  for (const auto& t : f.trials()) {
    CHECK(t.status == TrialStatus::done);
    retried += t.attempts == 2;
  }
  CHECK(retried == 1);
}

TEST_CASE("A coordinator that loses its lease stops, and the next adopts what it released",
          "[engine][queue]") {
  Fixture f;
  int ticks = 0;
  const auto first = f.coordinate([&] { return ++ticks < 3; });  // taken over at its 3rd tick
  CHECK(first.lost_lease);
  CHECK_FALSE(first.complete);
  int queued = 0;
  for (const auto& t : f.trials()) queued += t.status == TrialStatus::queued;
  CHECK(queued == 2);  // released before it stopped; no worker took them yet
  Workers workers(f.database, f.experiment, 2);
  const auto second = f.coordinate();
  workers.stop();
  CHECK(second.complete);
  for (const auto& t : f.trials()) CHECK(t.attempts == 1);
}

TEST_CASE("The Slurm job script fills its template, and the worker command is quoted for a shell",
          "[engine][queue]") {
  WorkerPool pool;
  pool.executable = "/opt/automl/bin/automl";
  pool.database = "/shared/my runs/a.db";
  pool.experiment = "smoke";
  pool.workers = 8;
  pool.threads = 2;
  pool.idle_exit = 60;
  pool.checkpoint_dir = "/shared/checkpoints";
  SlurmOptions options;
  options.max_running = 3;
  options.output_dir = "/shared/logs";
  const auto script = slurm_job_script(options, pool);
  CHECK(script.rfind("#!/bin/bash\n", 0) == 0);
  CHECK(script.find("#SBATCH --array=0-7%3\n") != std::string::npos);
  CHECK(script.find("#SBATCH --cpus-per-task=2\n") != std::string::npos);
  CHECK(script.find("#SBATCH --job-name=automl-smoke\n") != std::string::npos);
  CHECK(script.find("#SBATCH --output=/shared/logs/slurm-%A_%a.out\n") != std::string::npos);
  CHECK(script.find("gpus-per-task") == std::string::npos);
  CHECK(script.find("exec /opt/automl/bin/automl worker --db '/shared/my runs/a.db' "
                    "--experiment smoke --idle-exit 60 --threads 2 --device cpu "
                    "--checkpoints /shared/checkpoints\n") != std::string::npos);
  pool.gpus_per_worker = 1;
  options.max_running = 0;
  options.job_script_template = "{{array}}|{{gpus_line}}|{{cpus_per_task}}";
  CHECK(slurm_job_script(options, pool) == "0-7|#SBATCH --gpus-per-task=1\n|2");
}

TEST_CASE("The Slurm launcher submits an array, refills it when workers are gone, cancels all",
          "[engine][queue]") {
  test::TempDir dir;
  // sbatch, squeue and scancel that record their arguments. sbatch answers as --parsable does,
  // with job ids 4242, 4243, ...; squeue lists one RUNNING line per task the file `alive`
  // counts (the tasks still pending or running).
  const auto bin = dir.file("bin");
  std::filesystem::create_directories(bin);
  const auto calls = dir.file("calls"), alive = dir.file("alive"), next = dir.file("next");
  test::write_text(next, "4242\n");
  test::write_text(alive, "3\n");
  test::write_text(bin + "/sbatch", "#!/bin/sh\necho \"sbatch $*\" >> " + calls + "\nid=$(cat " +
                                        next + ")\necho $((id + 1)) > " + next +
                                        "\necho \"$id;cluster\"\n");
  test::write_text(bin + "/squeue", "#!/bin/sh\necho \"squeue $*\" >> " + calls + "\nn=$(cat " +
                                        alive +
                                        ")\nwhile [ $n -gt 0 ]; do echo RUNNING; n=$((n - 1)); "
                                        "done\necho COMPLETED\n");
  test::write_text(bin + "/scancel", "#!/bin/sh\necho \"scancel $*\" >> " + calls + "\n");
  for (const auto* tool : {"/sbatch", "/squeue", "/scancel"})
    std::filesystem::permissions(bin + tool, std::filesystem::perms::owner_all);
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  setenv("PATH", (bin + ":" + path).c_str(), 1);
  std::vector<std::string> log;
  {
    SlurmOptions options;
    options.output_dir = dir.file("slurm");
    options.sbatch_arguments = {"--partition=debug"};
    options.check_seconds = 0;
    auto launcher = slurm_launcher(options, [&](const std::string& line) { log.push_back(line); });
    WorkerPool pool;
    pool.executable = "automl";
    pool.database = "postgresql://u@db/automl";
    pool.experiment = "smoke";
    pool.workers = 3;
    launcher->start(pool);
    launcher->keep_up(3);  // all 3 alive: nothing to do
    test::write_text(alive, "1\n");
    launcher->keep_up(2);  // 2 trials in flight, 1 worker left: 1 more
    launcher->keep_up(0);  // nothing in flight: nothing to do
    launcher->stop();
  }
  setenv("PATH", path.c_str(), 1);
  std::ifstream in(calls);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 6);
  CHECK(lines[0].rfind("sbatch --parsable --partition=debug " + dir.file("slurm") + "/workers-",
                       0) == 0);
  CHECK(lines[1] == "squeue -h -r -j 4242 -o %T");
  CHECK(lines[2] == "squeue -h -r -j 4242 -o %T");
  CHECK(lines[3].rfind("sbatch --parsable", 0) == 0);
  CHECK(lines[4] == "squeue -h -r -j 4242,4243 -o %T");
  CHECK(lines[5] == "scancel 4242 4243");
  // The refill is an array of the missing workers only.
  std::ifstream refill(lines[3].substr(lines[3].rfind(' ') + 1));
  const std::string script((std::istreambuf_iterator<char>(refill)), {});
  CHECK(script.find("#SBATCH --array=0-0\n") != std::string::npos);
  REQUIRE(log.size() >= 3);
  CHECK(log.front().find("job array 4242 of 3 worker(s)") != std::string::npos);
}

TEST_CASE("A stored configuration this release cannot read says why", "[engine][queue]") {
  trials::TrialConfig config;
  const auto current = nlohmann::json(config);
  CHECK(current.at("format") == trials::kTrialConfigFormat);
  CHECK(trials::unreadable_config(current).empty());
  auto older = current;
  older.erase("format");
  older["mi"].erase("k");  // an older release's configuration lacks a later key: defaults
  CHECK(trials::unreadable_config(older).empty());
  auto newer = current;
  newer["format"] = trials::kTrialConfigFormat + 1;
  CHECK(trials::unreadable_config(newer).find(
            fmt::format("format {}", trials::kTrialConfigFormat + 1)) != std::string::npos);
  auto unknown = current;
  unknown["mi"]["a_later_option"] = 1;
  CHECK(trials::unreadable_config(unknown).find("'mi.a_later_option'") != std::string::npos);
  CHECK_FALSE(trials::unreadable_config(nlohmann::json::parse("[1, 2]")).empty());
}
