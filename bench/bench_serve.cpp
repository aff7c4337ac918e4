// bench_serve: milliseconds per request of `automl serve`'s routes over HTTP, against a database
// written by make_trials_db (2,000 trials by default):
//   build/bench/make_trials_db /tmp/trials.db && build/bench/bench_serve --db /tmp/trials.db
// Prints, per route, the median and the slowest of --reps requests (each on a new connection,
// as the page's fetches may be), and the experiment page's requests added up.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "loopback_http.h"  // tests/
#include "serve/serve.h"

namespace {

// Sends one GET and reads the whole answer; returns its status and size.
std::pair<int, std::size_t> fetch(std::uint16_t port, const std::string& target) {
  const auto answer = automl::test::http_exchange(
      port, "GET " + target + " HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
  return {automl::test::http_status(answer), answer.size()};
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string database;
  int reps = 20;
  std::int64_t trial = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--db") database = argv[i + 1];
    if (key == "--reps") reps = std::atoi(argv[i + 1]);
    if (key == "--trial") trial = std::atoll(argv[i + 1]);
  }
  if (database.empty()) {
    std::cerr << "usage: bench_serve --db PATH [--reps 20] [--trial ID]\n";
    return 2;
  }
  automl::serve::Options options;
  options.database = database;
  options.port = 0;
  automl::serve::Server server(options);
  std::thread thread([&] { server.run(); });
  const auto port = server.port();
  const std::string e = "?experiment=bench", t = "?trial=" + std::to_string(trial);
  const std::vector<std::string> routes = {
      "/api/experiments",      "/api/trials" + e, "/api/epochs" + t,          "/api/groups" + t,
      "/api/stages" + e,       "/api/lrrt" + e,   "/api/table-d" + e,         "/api/c1c2" + e,
      "/api/results" + e,      "/api/best" + e,   "/api/progress" + e,        "/api/version" + e,
      "/api/version" + t,      "/api/version",    "/fragment/experiment" + e, "/fragment/trial" + t,
      "/experiment?name=bench"};
  // What the experiment page fetches to render (serve/dashboard.cpp, renderExperiment).
  const std::vector<std::string> page = {"/experiment?name=bench", "/api/version" + e,
                                         "/api/progress" + e, "/api/results" + e,
                                         "/fragment/experiment" + e};
  fmt::print("bench_serve: {} ({} requests per route)\n", database, reps);
  fmt::print("{:<32} {:>8} {:>10} {:>10}\n", "route", "status", "median ms", "max ms");
  double worst_api = 0;
  for (const auto& route : routes) {
    std::vector<double> ms;
    int status = 0;
    std::size_t bytes = 0;
    for (int r = 0; r < reps; ++r) {
      const auto start = std::chrono::steady_clock::now();
      std::tie(status, bytes) = fetch(port, route);
      ms.push_back(ms_since(start));
    }
    std::sort(ms.begin(), ms.end());
    worst_api = std::max(worst_api, ms.back());
    fmt::print("{:<32} {:>8} {:>10.1f} {:>10.1f}  ({} bytes)\n", route, status, ms[ms.size() / 2],
               ms.back(), bytes);
  }
  std::vector<double> totals;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (const auto& route : page) fetch(port, route);
    totals.push_back(ms_since(start));
  }
  std::sort(totals.begin(), totals.end());
  fmt::print(
      "slowest request: {:.1f} ms; experiment page's requests in sequence: median {:.1f} ms, "
      "max {:.1f} ms\n",
      worst_api, totals[totals.size() / 2], totals.back());
  server.stop();
  thread.join();
  return 0;
}
