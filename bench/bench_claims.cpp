// bench_claims: N worker processes claim M short trials from one database, as a fleet of workers
// would: the trials are added pending, then queued, and each worker claims until none is left,
// "finishing" each trial at once. Checks that every trial was claimed exactly once and that no
// call failed; prints claims/s and the per-claim latency for each backend.
//
//   bench_claims --db LOCATION [--workers 32] [--trials 2000]        (a SQLite path or a URL)
//   bench_claims --both --postgres URL [--sqlite PATH] [--workers 32] [--trials 2000]
//
// bench/claims.sh runs --both against a throwaway PostgreSQL (tests/postgres_fixture.sh).
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "storage/storage.h"

using namespace automl;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::vector<std::string> locations;
  int workers = 32;
  int trials = 2000;
};

struct Outcome {
  std::string backend;
  double seconds = 0;          // from the start signal until the last worker exited
  std::vector<double> claims;  // seconds each successful claim took, all workers
  int errors = 0;
  bool exactly_once = false;
  std::string problem;         // what the check found wrong
  double server_seconds = -1;  // PostgreSQL: the executor's mean time per claim, when known
};

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void write_all(int fd, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const auto n = write(fd, bytes, size);
    if (n <= 0) _exit(3);
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
}

bool read_all(int fd, void* data, std::size_t size) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    const auto n = read(fd, bytes, size);
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// One worker: its own connection (then a byte on `ready`), then (after the start byte) claim,
// finish, repeat. Reports its error count and each claim's seconds on `report`.
int worker(const std::string& location, std::int64_t experiment, int index, int ready, int start,
           int report) {
  std::vector<double> latencies;
  std::int32_t errors = 0;
  try {
    auto db = storage::open_storage(location);
    write_all(ready, "r", 1);
    char go = 0;
    if (read(start, &go, 1) != 1) return 3;
    const auto name = "bench:" + std::to_string(index);
    for (;;) {
      const auto begin = Clock::now();
      const auto trial = db->claim_trial({experiment, 0, name, "cpu"});
      if (!trial) break;
      latencies.push_back(since(begin));
      db->finish_trial(trial->id, TrialStatus::done, "", 0, "{}");
    }
  } catch (const std::exception& e) {
    std::cerr << "worker " << index << ": " << e.what() << "\n";
    ++errors;
  }
  const auto count = static_cast<std::int32_t>(latencies.size());
  write_all(report, &errors, sizeof errors);
  write_all(report, &count, sizeof count);
  write_all(report, latencies.data(), latencies.size() * sizeof(double));
  return 0;
}

std::int64_t prepare(storage::Storage& db, int trials) {
  const auto name = "bench_claims-" + std::to_string(getpid()) + "-" +
                    std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  const auto experiment = db.create_experiment(name, "name: " + name + "\n");
  std::vector<storage::TrialRow> rows(static_cast<std::size_t>(trials));
  for (int t = 0; t < trials; ++t) {
    rows[t].experiment_id = experiment;
    rows[t].stage = Stage::lrrt;
    rows[t].label = "t" + std::to_string(t);
    rows[t].config = "{}";
  }
  for (const auto id : db.add_trials(rows)) db.queue_trial(id);
  return experiment;
}

// Every trial done, claimed once (attempts 1), and as many claims reported as there are trials.
void check(storage::Storage& db, std::int64_t experiment, int trials, Outcome& outcome) {
  storage::TrialFilter filter;
  filter.experiment_id = experiment;
  int done_once = 0;
  for (const auto& t : db.trials(filter))
    done_once += t.status == TrialStatus::done && t.attempts == 1;
  outcome.exactly_once = done_once == trials && static_cast<int>(outcome.claims.size()) == trials;
  if (!outcome.exactly_once)
    outcome.problem = std::to_string(done_once) + " of " + std::to_string(trials) +
                      " trials done after one claim; " + std::to_string(outcome.claims.size()) +
                      " claims reported";
}

// The server's own mean time per queued-trial claim (pg_stat_statements, which
// tests/postgres_fixture.sh loads): executor time only, without the round trip or the commit's
// WAL flush. -1 where the view is absent (or the backend is SQLite).
double server_seconds_per_claim(storage::Storage& db) {
  try {
    const auto table = db.query(
        "SELECT SUM(total_exec_time) / NULLIF(SUM(calls), 0) FROM pg_stat_statements WHERE query "
        "LIKE 'UPDATE trials SET status%ORDER BY id LIMIT%FOR UPDATE SKIP LOCKED%'");
    if (table.rows.empty() || table.rows[0][0].empty()) return -1;
    return std::stod(table.rows[0][0]) / 1e3;
  } catch (const std::exception&) {
    return -1;
  }
}

Outcome run(const std::string& location, const Options& options) {
  Outcome outcome;
  outcome.backend = storage::is_postgres_url(location) ? "postgresql" : "sqlite";
  auto db = storage::open_storage(location);
  const auto experiment = prepare(*db, options.trials);

  int ready[2], start[2], report[2];
  if (pipe(ready) != 0 || pipe(start) != 0) throw std::runtime_error("pipe");
  std::vector<pid_t> children;
  std::vector<int> reports;
  for (int w = 0; w < options.workers; ++w) {
    if (pipe(report) != 0) throw std::runtime_error("pipe");
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork");
    if (pid == 0) {
      close(ready[0]);
      close(start[1]);
      close(report[0]);
      _exit(worker(location, experiment, w, ready[1], start[0], report[1]));
    }
    close(report[1]);
    children.push_back(pid);
    reports.push_back(report[0]);
  }
  close(ready[1]);
  close(start[0]);
  // Every worker connects first; the clock starts when they are released together. (A worker
  // that failed to connect closes its end early: the read ends short, and it reports an error.)
  std::string connected(static_cast<std::size_t>(options.workers), ' ');
  read_all(ready[0], connected.data(), connected.size());
  close(ready[0]);
  const auto begin = Clock::now();
  const std::string go(static_cast<std::size_t>(options.workers), 'g');
  write_all(start[1], go.data(), go.size());
  close(start[1]);
  for (std::size_t w = 0; w < children.size(); ++w) {
    std::int32_t errors = 0, count = 0;
    if (!read_all(reports[w], &errors, sizeof errors) ||
        !read_all(reports[w], &count, sizeof count))
      errors = 1;
    std::vector<double> latencies(static_cast<std::size_t>(std::max(count, 0)));
    if (!read_all(reports[w], latencies.data(), latencies.size() * sizeof(double))) ++errors;
    outcome.errors += errors;
    outcome.claims.insert(outcome.claims.end(), latencies.begin(), latencies.end());
    close(reports[w]);
  }
  for (const auto pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++outcome.errors;
  }
  outcome.seconds = since(begin);
  check(*db, experiment, options.trials, outcome);
  if (outcome.backend == "postgresql") outcome.server_seconds = server_seconds_per_claim(*db);
  return outcome;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

void print(const std::vector<Outcome>& outcomes, const Options& options) {
  std::printf("%d workers (processes), %d trials, claim + finish per trial\n", options.workers,
              options.trials);
  std::printf("%-11s %9s %10s %13s %12s %12s %15s %7s %s\n", "backend", "seconds", "claims/s",
              "claim mean ms", "claim p50 ms", "claim p99 ms", "server ms/claim", "errors",
              "each claimed once");
  for (const auto& o : outcomes) {
    const double mean = o.claims.empty() ? 0
                                         : std::accumulate(o.claims.begin(), o.claims.end(), 0.0) /
                                               static_cast<double>(o.claims.size());
    const auto server =
        o.server_seconds < 0 ? std::string("n/a") : fmt::format("{:.3f}", 1e3 * o.server_seconds);
    std::printf("%-11s %9.3f %10.0f %13.3f %12.3f %12.3f %15s %7d %s\n", o.backend.c_str(),
                o.seconds, static_cast<double>(o.claims.size()) / o.seconds, 1e3 * mean,
                1e3 * percentile(o.claims, 0.5), 1e3 * percentile(o.claims, 0.99), server.c_str(),
                o.errors, o.exactly_once ? "yes" : ("NO: " + o.problem).c_str());
  }
}

int usage() {
  std::cerr << "usage: bench_claims --db LOCATION [--workers N] [--trials M]\n"
               "       bench_claims --both --postgres URL [--sqlite PATH] [--workers N] "
               "[--trials M]\n";
  return 2;
}

}  // namespace

int main(int argc, char* argv[]) {
  Options options;
  bool both = false;
  std::string sqlite, postgres;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--both")
      both = true;
    else if (arg == "--db" && has_value)
      options.locations.push_back(argv[++i]);
    else if (arg == "--sqlite" && has_value)
      sqlite = argv[++i];
    else if (arg == "--postgres" && has_value)
      postgres = argv[++i];
    else if (arg == "--workers" && has_value)
      options.workers = std::stoi(argv[++i]);
    else if (arg == "--trials" && has_value)
      options.trials = std::stoi(argv[++i]);
    else
      return usage();
  }
  const auto scratch =
      std::filesystem::temp_directory_path() / ("bench_claims-" + std::to_string(getpid()));
  if (both) {
    if (postgres.empty()) return usage();
    if (sqlite.empty()) {
      std::filesystem::create_directories(scratch);
      sqlite = (scratch / "claims.db").string();
    }
    options.locations = {sqlite, postgres};
  }
  if (options.locations.empty()) return usage();
  std::vector<Outcome> outcomes;
  bool ok = true;
  try {
    for (const auto& location : options.locations) {
      outcomes.push_back(run(location, options));
      ok = ok && outcomes.back().errors == 0 && outcomes.back().exactly_once;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_claims: " << e.what() << "\n";
    ok = false;
  }
  print(outcomes, options);
  std::filesystem::remove_all(scratch);
  return ok ? 0 : 1;
}
