// bench_mi: milliseconds per KSG estimate (jitter + neighbour counts + digamma sums) on the CPU
// and, when built with CUDA and a device is present, on the GPU, for three kinds of input:
//   softmax  T = softmax outputs of a 10-class "network" (Gaussian logits, +2 on the true class),
//            Y = one-hot labels: what the engine measures after every epoch. Low intrinsic
//            dimension: the k-d tree prunes well.
//   gauss1h  T ~ N(0, I), Y = one-hot labels: no cluster structure in T.
//   gauss    T ~ N(0, I), Y = 0.6 T[:, :dY] + 0.8 N(0, I): correlated Gaussians, the true MI is
//            -dY/2 ln(1 - 0.36) nats; high intrinsic dimension, the hard case for trees.
// Each row prints the engine the estimator picked (by its probe), the median and best wall ms,
// the median process CPU ms per estimate (all threads; less sensitive to other load) and the MI.
//   bench_mi [--threads N] [--reps R] [--kind softmax|gauss1h|gauss] [--max-n N] [--dt D]
//            [--only-gpu] [--gaussian]   (= --kind gauss1h, the option's old meaning)
//   bench_mi --calibrate [--reps R]
// --calibrate times the k-d tree and the scan alone (one thread, best CPU time of R) on a grid
// of inputs and prints them beside the probe's work counts per query, for bench/mi_calibrate.py
// to fit the engine choice's cost constants (mi/ksg_cpu.cpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mi/ksg_cpu.h"
#include "mi/mi.h"
#include "mi/threads.h"

namespace mi = automl::mi;

namespace {

long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

struct Case {
  std::string kind;
  std::int64_t n, dt, dy;
};

struct Data {
  at::Tensor t, y;
};

// T rows: softmax of Gaussian logits shifted +2 on the label (softmax) or plain N(0, 1), drawn
// label by label as the benchmark always did (the softmax and gauss1h rows reproduce the earlier
// figures' inputs exactly). gauss: Y = 0.6 T[:, :dY] + 0.8 N(0, 1), drawn after T.
Data make_data(const Case& c, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  const bool softmax = c.kind == "softmax";
  at::Tensor labels = at::empty({c.n}, at::TensorOptions().dtype(at::kLong));
  at::Tensor t = at::empty({c.n, c.dt}, at::TensorOptions().dtype(at::kDouble));
  double* pt = t.data_ptr<double>();
  for (std::int64_t i = 0; i < c.n; ++i) {
    const auto l = static_cast<std::int64_t>(gen() % 10);
    labels.data_ptr<std::int64_t>()[i] = l;
    double* row = pt + i * c.dt;
    for (std::int64_t j = 0; j < c.dt; ++j) row[j] = g(gen) + (softmax && j % 10 == l ? 2.0 : 0.0);
    if (!softmax) continue;
    const double mx = *std::max_element(row, row + c.dt);
    double s = 0;
    for (std::int64_t j = 0; j < c.dt; ++j) s += (row[j] = std::exp(row[j] - mx));
    for (std::int64_t j = 0; j < c.dt; ++j) row[j] /= s;
  }
  if (c.kind != "gauss") return {t, mi::one_hot(labels, c.dy)};
  at::Tensor y = at::empty({c.n, c.dy}, at::TensorOptions().dtype(at::kDouble));
  double* py = y.data_ptr<double>();
  for (std::int64_t i = 0; i < c.n; ++i)
    for (std::int64_t j = 0; j < c.dy; ++j)
      py[i * c.dy + j] = 0.6 * pt[i * c.dt + j] + 0.8 * g(gen);
  return {t, y};
}

double cpu_ms_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

struct Timing {
  double median_ms = 0, best_ms = 0, cpu_ms = 0, value = 0;
};

// Median and best wall ms per estimate, median process CPU ms; stops early after 20 s.
Timing time_ksg(const Data& d, const mi::KsgOptions& o, int reps) {
  std::vector<double> ms, cms;
  Timing r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < reps; ++i) {
    const double c0 = cpu_ms_now();
    const auto a = std::chrono::steady_clock::now();
    r.value = mi::ksg(d.t, d.y, o);
    const auto b = std::chrono::steady_clock::now();
    cms.push_back(cpu_ms_now() - c0);
    ms.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    if (b > deadline) break;
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cms.begin(), cms.end());
  r.median_ms = ms[ms.size() / 2];
  r.best_ms = ms[0];
  r.cpu_ms = cms[cms.size() / 2];
  return r;
}

// The CPU engine ksg() picks for these inputs (its probe on the jittered data), by name.
const char* engine_of(const Data& d, const mi::KsgOptions& o) {
  const at::Tensor t = mi::add_jitter(d.t, o.jitter_amplitude, o.seed);
  const at::Tensor y = mi::add_jitter(d.y, o.jitter_amplitude, o.seed, t.numel());
  switch (mi::detail::choose_cpu_engine(t.data_ptr<double>(), t.size(1), y.data_ptr<double>(),
                                        y.size(1), t.size(0), o.k)) {
    case mi::detail::CpuAlgo::kKdTree:
      return "kdtree";
    case mi::detail::CpuAlgo::kScan:
      return "scan";
    case mi::detail::CpuAlgo::kBruteForce:
      return "brute";
    case mi::detail::CpuAlgo::kGrouped:
      return "grouped";
    default:
      return "?";
  }
}

void print_row(const char* device, const Case& c, const char* engine, const Timing& t) {
  std::printf("%-5s %-8s %6lld %5lld %4lld %-7s %10.3f %10.3f %10.3f %11.6f\n", device,
              c.kind.c_str(), static_cast<long long>(c.n), static_cast<long long>(c.dt),
              static_cast<long long>(c.dy), engine, t.median_ms, t.best_ms, t.cpu_ms, t.value);
}

void run_cpu(const Case& c, const Data& d, const mi::KsgOptions& o, int reps) {
  const bool big = c.n >= 50000;
  long base = 0;
  if (big) {
    base = status_kb("VmRSS:");
    reset_peak_rss();
  }
  const Timing t = time_ksg(d, o, reps);
  print_row("cpu", c, engine_of(d, o), t);
  if (big)
    std::printf("      peak RSS (VmHWM) %.1f MiB, process RSS before %.1f MiB\n",
                status_kb("VmHWM:") / 1024.0, base / 1024.0);
}

void run_gpu(const Case& c, const Data& d, const mi::KsgOptions& o, int reps) {
  const at::Device dev(at::kCUDA, 0);
  const Data dg{d.t.to(dev), d.y.to(dev)};
  time_ksg(dg, o, 2);  // warm-up (context, allocator)
  print_row("cuda", c, "cuda", time_ksg(dg, o, std::max(reps, 5)));
}

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// Best single-thread CPU ms of `reps` runs of one CPU engine on jittered inputs.
double engine_ms(const at::Tensor& t, const at::Tensor& y, mi::detail::CpuAlgo algo, int reps) {
  const std::int64_t n = t.size(0);
  std::vector<double> eps(n);
  std::vector<std::int64_t> nx(n), ny(n);
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const double c0 = thread_cpu_ms();
    mi::detail::ksg_counts_cpu(t.data_ptr<double>(), t.size(1), y.data_ptr<double>(), y.size(1), n,
                               3, algo, 1, eps.data(), nx.data(), ny.data());
    best = std::min(best, thread_cpu_ms() - c0);
  }
  return best;
}

int calibrate(int reps) {
  const std::vector<Case> grid = {
      {"softmax", 500, 10, 10},   {"softmax", 1000, 10, 10},  {"softmax", 4000, 10, 10},
      {"softmax", 10000, 10, 10}, {"softmax", 30000, 10, 10}, {"gauss1h", 1000, 10, 10},
      {"gauss1h", 4000, 10, 10},  {"gauss1h", 10000, 10, 10}, {"gauss1h", 3000, 4, 10},
      {"gauss", 300, 10, 10},     {"gauss", 1000, 10, 10},    {"gauss", 4000, 10, 10},
      {"gauss", 10000, 10, 10},   {"gauss", 2000, 8, 8},      {"gauss", 1000, 1, 1},
      {"gauss", 10000, 1, 1},     {"gauss", 50000, 1, 1},     {"gauss", 10000, 2, 2},
      {"gauss", 2000, 4, 4},      {"gauss", 10000, 4, 4},     {"gauss", 10000, 6, 6},
      {"gauss", 3000, 6, 6},
  };
  std::printf(
      "# n dT dY tree_ms scan_ms | per probe query: tree_leaf_coords tree_nodes "
      "knn_coords knn_candidates knn_exact count_coords count_boxes count_exact\n");
  for (const Case& c : grid) {
    const Data d = make_data(c, 1);
    const at::Tensor t = mi::add_jitter(d.t, 1e-10, 0);
    const at::Tensor y = mi::add_jitter(d.y, 1e-10, 0, t.numel());
    const int r = std::max(1, static_cast<int>(std::min<std::int64_t>(reps, 2000000 / c.n)));
    const double tree = engine_ms(t, y, mi::detail::CpuAlgo::kKdTree, r);
    const double scan = engine_ms(t, y, mi::detail::CpuAlgo::kScan, r);
    mi::detail::EngineProbe p;
    mi::detail::choose_cpu_engine(t.data_ptr<double>(), t.size(1), y.data_ptr<double>(), y.size(1),
                                  c.n, 3, &p, /*probe_both=*/true);
    const double q = static_cast<double>(p.queries);
    std::printf("%s %lld %lld %lld %.4f %.4f %.2f %.3f %.2f %.3f %.3f %.2f %.3f %.3f\n",
                c.kind.c_str(), static_cast<long long>(c.n), static_cast<long long>(c.dt),
                static_cast<long long>(c.dy), tree, scan,
                p.tree.leaf_blocks * 32.0 * (c.dt + c.dy) / q, p.tree.nodes / q,
                p.scan_knn.coords / q, p.scan_knn.candidates / q, p.scan_knn.exact / q,
                p.scan_count.coords / q, p.scan_count.box_checks / q, p.scan_count.exact / q);
    std::fflush(stdout);
  }
  return 0;
}

const std::vector<Case> kCases = {
    {"softmax", 1000, 10, 10},   {"softmax", 10000, 10, 10}, {"softmax", 1000, 784, 10},
    {"softmax", 1000, 4096, 10}, {"softmax", 50000, 10, 10}, {"gauss1h", 1000, 10, 10},
    {"gauss1h", 10000, 10, 10},  {"gauss1h", 50000, 10, 10}, {"gauss", 1000, 10, 10},
    {"gauss", 10000, 10, 10},    {"gauss", 50000, 10, 10},   {"gauss", 10000, 2, 2},
};

int usage() {
  std::fprintf(stderr,
               "usage: bench_mi [--threads N] [--reps R] [--kind softmax|gauss1h|gauss] "
               "[--max-n N] [--dt D] [--only-gpu] [--gaussian] | --calibrate [--reps R]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, reps = 11;
  std::int64_t max_n = 1 << 30, only_dt = 0;
  bool calibrate_mode = false;
  std::string kind;
  bool only_gpu = false;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--threads" && a + 1 < argc)
      threads = std::atoi(argv[++a]);
    else if (arg == "--reps" && a + 1 < argc)
      reps = std::max(1, std::atoi(argv[++a]));
    else if (arg == "--kind" && a + 1 < argc)
      kind = argv[++a];
    else if (arg == "--max-n" && a + 1 < argc)
      max_n = std::atoll(argv[++a]);
    else if (arg == "--dt" && a + 1 < argc)
      only_dt = std::atoll(argv[++a]);
    else if (arg == "--calibrate")
      calibrate_mode = true;
    else if (arg == "--gaussian")
      kind = "gauss1h";
    else if (arg == "--only-gpu")
      only_gpu = true;
    else
      return usage();
  }
  if (!kind.empty() && kind != "softmax" && kind != "gauss1h" && kind != "gauss") return usage();
  if (calibrate_mode) return calibrate(reps);
  const bool gpu = mi::cuda_available();
  std::printf("bench_mi: k = 3, CPU threads = %d (%d used), scan kernel %s%s\n", threads,
              mi::resolve_threads(threads), mi::detail::scan_isa(),
              gpu ? ", GPU present" : ", no GPU (CPU rows only)");
  std::printf("%-5s %-8s %6s %5s %4s %-7s %10s %10s %10s %11s\n", "dev", "kind", "n", "dT", "dY",
              "engine", "median ms", "best ms", "cpu-ms", "MI (nats)");
  mi::KsgOptions o;
  o.threads = threads;
  for (const Case& c : kCases) {
    if ((!kind.empty() && c.kind != kind) || c.n > max_n || (only_dt != 0 && c.dt != only_dt))
      continue;
    const Data d = make_data(c, 1);
    const int r = c.n >= 50000 ? std::min(reps, 3) : reps;
    if (!only_gpu) run_cpu(c, d, o, r);
    if (gpu) run_gpu(c, d, o, r);
    std::fflush(stdout);
  }
  return 0;
}
