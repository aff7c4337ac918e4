#pragma once
// CPU neighbour searches behind the KSG estimators, on raw row-major float64 arrays (no
// LibTorch). Every distance is the max-norm max_c |a_c - b_c| evaluated in float64; since max is
// exact and |a - b| == |b - a| in IEEE arithmetic, every engine here (and the CUDA kernels) gets
// bit-identical distances and therefore identical counts.
#include <cstdint>
#include <functional>

#include "mi/scan.h"

namespace automl::mi::detail {

// kScan: the tiled scan (mi/scan.h); KSG counts only (kth_distances / range_counts refuse it).
enum class CpuAlgo { kAuto, kKdTree, kBruteForce, kScan };

// Joint dimension above which kAuto takes the blocked brute force with early exit (the tree and
// the scan compute every coordinate of a pair; that one stops at the k-th distance). At or
// below it, kAuto measures the k-d tree and the scan on a sample (EngineProbe).
constexpr std::int64_t kKdTreeMaxDim = 32;

// What kAuto's probe measured on its sample of query batches (leaves of the joint k-d tree):
// the tree's kNN work and, unless the tree clearly won (it computed distances to under 10 % of
// the points per query), the scan's work, both weighed into comparable costs (zero when not
// probed), and the engine chosen.
struct TreeWork {
  std::int64_t nodes = 0;        // nodes a query batch visited (not pruned)
  std::int64_t leaf_blocks = 0;  // (query, leaf) pairs whose kLeaf distances were computed
};
struct EngineProbe {
  std::int64_t queries = 0;
  TreeWork tree;
  ScanWork scan_knn;    // pass 1 on the sample
  ScanWork scan_count;  // pass 2, the sample's own side
  double tree_cost = 0;
  double scan_cost = 0;
  CpuAlgo choice = CpuAlgo::kAuto;
};

// KSG estimator-1 counts: eps[i] = k-th smallest joint distance max(dx_ij, dy_ij) over j != i;
// nx[i] = #{j != i : dx_ij < eps[i]}, ny[i] likewise. x: [n, dx], y: [n, dy] row-major.
// Returns the engine that computed them; *report (when not null) gets kAuto's probe.
CpuAlgo ksg_counts_cpu(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                       std::int64_t n, int k, CpuAlgo algo, int threads, double* eps,
                       std::int64_t* nx, std::int64_t* ny, EngineProbe* report = nullptr);

// The engine kAuto would pick for these inputs (runs only its probe); *report gets the probe.
// probe_both: also probe the scan where the tree clearly wins (calibration needs both counts).
CpuAlgo choose_cpu_engine(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                          std::int64_t n, int k, EngineProbe* report = nullptr,
                          bool probe_both = false);

// out[i] = k-th smallest distance from point i to the other points (self excluded). k < n.
void kth_distances(const double* pts, std::int64_t n, std::int64_t d, int k, CpuAlgo algo,
                   int threads, double* out);

// out[i] = #{j != i : dist(i, j) < radius[i]}.
void range_counts(const double* pts, std::int64_t n, std::int64_t d, const double* radius,
                  CpuAlgo algo, int threads, std::int64_t* out);

// Runs f(begin, end) over [0, n) in chunks on `threads` threads (0 = all cores).
void parallel_chunks(std::int64_t n, int threads, std::int64_t chunk,
                     const std::function<void(std::int64_t, std::int64_t)>& f);
// The same with f(worker, begin, end), worker in [0, resolve_threads(threads)): per-thread
// buffers can be indexed by it.
void parallel_workers(std::int64_t n, int threads, std::int64_t chunk,
                      const std::function<void(int, std::int64_t, std::int64_t)>& f);

}  // namespace automl::mi::detail
