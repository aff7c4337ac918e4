// bench_mi: milliseconds per KSG estimate (jitter + neighbour counts + digamma sums) for the
// shapes of issue 3, on the CPU and, when built with CUDA and a device is present, on the GPU.
// Inputs as in real use: T = softmax outputs of a 10-class "network" (Gaussian logits with a
// +2 shift on the true class), Y = one-hot labels (jittered by the estimator).
//   bench_mi [--threads N] [--gaussian] [--reps R] [--only-gpu]
// --gaussian uses T ~ N(0, 1) instead (no cluster structure to exploit).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "mi/mi.h"

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

struct Data {
  at::Tensor t, y;
};

Data make_data(std::int64_t n, std::int64_t dt, bool gaussian, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  const int classes = 10;
  at::Tensor labels = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  at::Tensor t = at::empty({n, dt}, at::TensorOptions().dtype(at::kDouble));
  double* pt = t.data_ptr<double>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t l = static_cast<std::int64_t>(gen() % classes);
    labels.data_ptr<std::int64_t>()[i] = l;
    double* row = pt + i * dt;
    double mx = -1e300;
    for (std::int64_t c = 0; c < dt; ++c) {
      row[c] = g(gen) + (!gaussian && c % classes == l ? 2.0 : 0.0);
      mx = std::max(mx, row[c]);
    }
    if (gaussian) continue;
    double s = 0;
    for (std::int64_t c = 0; c < dt; ++c) s += (row[c] = std::exp(row[c] - mx));
    for (std::int64_t c = 0; c < dt; ++c) row[c] /= s;
  }
  return {t, mi::one_hot(labels, classes)};
}

double cpu_ms_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

// Median wall ms per estimate; *cpu gets the median process CPU ms (all threads) per estimate,
// which is less sensitive to other load on the machine.
double time_ms(const Data& d, const mi::KsgOptions& o, int reps, double* value, double* cpu) {
  std::vector<double> ms, cms;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int r = 0; r < reps; ++r) {
    const double c0 = cpu_ms_now();
    const auto a = std::chrono::steady_clock::now();
    *value = mi::ksg(d.t, d.y, o);
    const auto b = std::chrono::steady_clock::now();
    cms.push_back(cpu_ms_now() - c0);
    ms.push_back(std::chrono::duration<double, std::milli>(b - a).count());
    if (b > deadline) break;
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cms.begin(), cms.end());
  *cpu = cms[cms.size() / 2];
  return ms[ms.size() / 2];  // median
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0, reps = 11;
  bool gaussian = false, only_gpu = false;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--threads" && a + 1 < argc)
      threads = std::atoi(argv[++a]);
    else if (arg == "--reps" && a + 1 < argc)
      reps = std::max(1, std::atoi(argv[++a]));
    else if (arg == "--gaussian")
      gaussian = true;
    else if (arg == "--only-gpu")
      only_gpu = true;
    else {
      std::fprintf(stderr, "usage: bench_mi [--threads N] [--gaussian] [--reps R] [--only-gpu]\n");
      return 2;
    }
  }
  const bool gpu = mi::cuda_available();
  std::printf("bench_mi: T = %s, Y = one-hot(10) jittered, k = 3, CPU threads = %d%s\n",
              gaussian ? "Gaussian" : "softmax outputs", threads,
              gpu ? ", GPU present" : ", no GPU (CPU rows only)");
  std::printf("%-8s %7s %5s %5s %12s %12s %12s\n", "device", "n", "dT", "dY", "ms/estimate",
              "cpu-ms", "MI (nats)");
  const std::int64_t shapes[][2] = {
      {1000, 10}, {10000, 10}, {1000, 784}, {1000, 4096}, {50000, 10}};
  mi::KsgOptions o;
  o.threads = threads;
  for (const auto& s : shapes) {
    const Data d = make_data(s[0], s[1], gaussian, 1);
    const int r = s[0] >= 50000 ? 3 : reps;
    if (!only_gpu) {
      double value = 0;
      const bool big = s[0] >= 50000;
      long base = 0;
      if (big) {
        base = status_kb("VmRSS:");
        reset_peak_rss();
      }
      double cpu = 0;
      const double ms = time_ms(d, o, r, &value, &cpu);
      std::printf("%-8s %7lld %5lld %5d %12.3f %12.3f %12.6f\n", "cpu",
                  static_cast<long long>(s[0]), static_cast<long long>(s[1]), 10, ms, cpu, value);
      if (big)
        std::printf(
            "  peak RSS (VmHWM) during (%lld,%lld,10): %.1f MiB (process RSS before: "
            "%.1f MiB)\n",
            static_cast<long long>(s[0]), static_cast<long long>(s[1]),
            status_kb("VmHWM:") / 1024.0, base / 1024.0);
    }
    if (gpu) {
      const Data dg{d.t.to(at::Device(at::kCUDA, 0)), d.y.to(at::Device(at::kCUDA, 0))};
      double value = 0;
      double cpu = 0;
      time_ms(dg, o, 2, &value, &cpu);  // warm-up (context, allocator)
      const double ms = time_ms(dg, o, std::max(r, 5), &value, &cpu);
      std::printf("%-8s %7lld %5lld %5d %12.3f %12.3f %12.6f\n", "cuda",
                  static_cast<long long>(s[0]), static_cast<long long>(s[1]), 10, ms, cpu, value);
    }
    std::fflush(stdout);
  }
  return 0;
}
