#pragma once
// CPU neighbour searches behind the KSG estimators, on raw row-major float64 arrays (no
// LibTorch). Every distance is the max-norm max_c |a_c - b_c| evaluated in float64; since max is
// exact and |a - b| == |b - a| in IEEE arithmetic, every engine here (and the CUDA kernels) gets
// bit-identical distances and therefore identical counts.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "mi/scan.h"

namespace automl::mi::detail {

// kScan: the tiled scan (mi/scan.h); kGrouped: the grouped engine (mi/ksg_grouped.h). Both
// compute KSG counts only (kth_distances / range_counts refuse them).
enum class CpuAlgo { kAuto, kKdTree, kBruteForce, kScan, kGrouped };

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
// Returns the engine that computed them; *report (when not null) gets kAuto's probe (not run
// when kAuto takes the grouped engine, which it tries first). A forced kGrouped throws
// std::invalid_argument on input it cannot compute exactly.
CpuAlgo ksg_counts_cpu(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                       std::int64_t n, int k, CpuAlgo algo, int threads, double* eps,
                       std::int64_t* nx, std::int64_t* ny, EngineProbe* report = nullptr);

// The engine kAuto would pick for these inputs (runs only its probe); *report gets the probe.
// probe_both: also probe the scan where the tree clearly wins (calibration needs both counts);
// it skips the grouped engine. Otherwise the grouped engine is tried in full (it is exact only
// once its counts are known), so this can cost as much as the counts.
CpuAlgo choose_cpu_engine(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                          std::int64_t n, int k, EngineProbe* report = nullptr,
                          bool probe_both = false);

// out[i] = k-th smallest distance from point i to the other points (self excluded). k < n.
void kth_distances(const double* pts, std::int64_t n, std::int64_t d, int k, CpuAlgo algo,
                   int threads, double* out);

// out[i] = #{j != i : dist(i, j) < radius[i]}.
void range_counts(const double* pts, std::int64_t n, std::int64_t d, const double* radius,
                  CpuAlgo algo, int threads, std::int64_t* out);

// range_counts in two steps, so that the set-up (the structure the search needs) can run while
// the radii are still being computed. The engine: up to kScanCountMaxRows rows and 32
// dimensions, the scan's pass 2 (each pair once, float32 filter, exact float64 where it cannot
// decide; rows in slabs of the widest coordinate); else what range_counts takes (the k-d tree
// up to 32 dimensions, the blocked brute force above; also where the scan cannot bound the
// coordinates). All give the same counts.
class RangeCounter {
 public:
  RangeCounter(const double* pts, std::int64_t n, std::int64_t d);
  ~RangeCounter();
  RangeCounter(const RangeCounter&) = delete;
  RangeCounter& operator=(const RangeCounter&) = delete;
  // out[i] = #{j != i : dist(i, j) < radius[i]}.
  void count(const double* radius, int threads, std::int64_t* out) const;

 private:
  struct Engines;
  std::unique_ptr<Engines> engines_;
};

// Rows up to which RangeCounter takes the scan. Where neither prunes (softmax outputs, 10
// columns, one thread, whole grouped estimate), the scan's work grows as n^2 and the tree's
// more slowly: 2.25 vs 2.54 ms at 2000 rows, 5.24 vs 5.08 at 3000 (bench_mi, 2026-12-01).
constexpr std::int64_t kScanCountMaxRows = 2048;

// Runs f(begin, end) over [0, n) in chunks on `threads` threads (0 = all cores).
void parallel_chunks(std::int64_t n, int threads, std::int64_t chunk,
                     const std::function<void(std::int64_t, std::int64_t)>& f);
// The same with f(worker, begin, end), worker in [0, resolve_threads(threads)): per-thread
// buffers can be indexed by it.
void parallel_workers(std::int64_t n, int threads, std::int64_t chunk,
                      const std::function<void(int, std::int64_t, std::int64_t)>& f);

}  // namespace automl::mi::detail
