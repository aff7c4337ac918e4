#pragma once
// CPU neighbour searches behind the KSG estimators, on raw row-major float64 arrays (no
// LibTorch). Every distance is the max-norm max_c |a_c - b_c| evaluated in float64; since max is
// exact and |a - b| == |b - a| in IEEE arithmetic, every engine here (and the CUDA kernels) gets
// bit-identical distances and therefore identical counts.
#include <cstdint>
#include <functional>

namespace automl::mi::detail {

enum class CpuAlgo { kAuto, kKdTree, kBruteForce };

// Joint dimension above which kAuto switches from k-d trees to blocked brute force.
constexpr std::int64_t kKdTreeMaxDim = 32;

// KSG estimator-1 counts: eps[i] = k-th smallest joint distance max(dx_ij, dy_ij) over j != i;
// nx[i] = #{j != i : dx_ij < eps[i]}, ny[i] likewise. x: [n, dx], y: [n, dy] row-major.
void ksg_counts_cpu(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                    std::int64_t n, int k, CpuAlgo algo, int threads, double* eps, std::int64_t* nx,
                    std::int64_t* ny);

// out[i] = k-th smallest distance from point i to the other points (self excluded). k < n.
void kth_distances(const double* pts, std::int64_t n, std::int64_t d, int k, CpuAlgo algo,
                   int threads, double* out);

// out[i] = #{j != i : dist(i, j) < radius[i]}.
void range_counts(const double* pts, std::int64_t n, std::int64_t d, const double* radius,
                  CpuAlgo algo, int threads, std::int64_t* out);

// Runs f(begin, end) over [0, n) in chunks on `threads` threads (0 = all cores).
void parallel_chunks(std::int64_t n, int threads, std::int64_t chunk,
                     const std::function<void(std::int64_t, std::int64_t)>& f);

}  // namespace automl::mi::detail
