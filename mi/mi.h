#pragma once
// Mutual information estimators (SPEC.md section 1): KSG estimator 1 (max-norm), the Ross (2014)
// continuous-vs-discrete estimator, plug-in label entropy, and helpers around them.
// All estimates are in nats and computed in float64. See docs/mi.md for the algorithms.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace automl::mi {

struct KsgOptions {
  int k = 3;
  bool jitter = true;  // uniform noise in [0, jitter_amplitude) on every coordinate (SPEC 1)
  double jitter_amplitude = 1e-10;
  std::uint64_t seed = 0;  // seeds the counter-based jitter generator (same on CPU and GPU)
  int threads = 0;         // 0 = all cores
};

// KSG estimator 1 (SPEC.md 1), nats. t: [n, dT], y: [n, dY] (1-D tensors are taken as [n, 1]),
// any dtype/device (computed in float64; CUDA tensors use the GPU path when built with CUDA,
// else they are copied to the CPU).
double ksg(const at::Tensor& t, const at::Tensor& y, const KsgOptions& options = {});

// Ross (2014) continuous-vs-discrete estimator, labels int64 [n] (SPEC.md 1 `ksg_cd`), nats.
// Max-norm in T; labels that occur once are dropped; not clamped at 0.
double ksg_cd(const at::Tensor& t, const at::Tensor& labels, const KsgOptions& options = {});

// Plug-in entropy H(Y) in nats of integer labels [n] (the `entropy` bound of SPEC.md 2).
double label_entropy(const at::Tensor& labels);

// One-hot float64 [n, num_classes] of int64 labels [n].
at::Tensor one_hot(const at::Tensor& labels, std::int64_t num_classes);

// Indices (int64 [n], sorted ascending) of a fixed subset of `n` of `population` samples drawn by
// seed; stratified by class (proportional allocation) when `labels` is defined.
at::Tensor select_subset(std::int64_t population, std::int64_t n, std::uint64_t seed,
                         const at::Tensor& labels = {});

// ---------------------------------------------------------------------------------------------
// Lower-level pieces (tests, benchmarks, other modules that want them).

// The jitter of SPEC.md 1: returns a float64 copy of x (on x's device) with
// amplitude * u added to element e (row-major flat index e + offset), u = jitter_uniform(seed, e +
// offset) in [0, 1). Counter-based, so CPU and GPU produce bit-identical results.
at::Tensor add_jitter(const at::Tensor& x, double amplitude, std::uint64_t seed,
                      std::uint64_t offset = 0);

// The counter-based uniform in [0, 1) behind add_jitter (splitmix64 of seed and index, 53 bits).
double jitter_uniform(std::uint64_t seed, std::uint64_t index);

// Which neighbour-search engine computes the KSG counts.
enum class Method {
  kAuto,        // CPU: the grouped engine when it applies; else blocked brute force above 32
                // joint dimensions; at or below, the k-d tree or the scan, whichever a probe on
                // a sample of the data finds cheaper.
                // CUDA tensors: the GPU.
  kKdTree,      // CPU k-d trees (joint kNN, marginal range counts)
  kBruteForce,  // CPU blocked brute force with early exit
  kCuda,        // the CUDA kernels (throws when not built with CUDA)
  kScan,        // CPU tiled scan: the pairs tile boxes leave, 16 float32 lanes per vector,
                // borderline ones redone in float64
  kGrouped,     // CPU, Y in separated groups (jittered one-hot labels): kNN and ny within each
                // group, proven exact by the groups' Y separation; on other input a forced
                // kGrouped throws std::invalid_argument
};

// Per-point KSG quantities on already-jittered float64 input: eps[i] = distance to the k-th
// nearest neighbour of i in the joint space (self excluded, max-norm); nx[i] / ny[i] = number of
// j != i with ||x_j - x_i||_inf < eps[i] (strict) in each marginal.
struct KsgCounts {
  std::vector<double> eps;
  std::vector<std::int64_t> nx;
  std::vector<std::int64_t> ny;
  Method method = Method::kAuto;  // the engine that computed them (never kAuto)
};
KsgCounts ksg_counts(const at::Tensor& x, const at::Tensor& y, int k, Method method = Method::kAuto,
                     int threads = 0);

// KSG value from counts: psi(k) + psi(n) - mean_i[psi(nx_i + 1) + psi(ny_i + 1)], summed in index
// order (deterministic).
double ksg_from_counts(const KsgCounts& counts, int k);

// Digamma function (accurate to ~1e-15 relative for x > 0).
double digamma(double x);

// True when this build has the CUDA path and a CUDA device is usable.
bool cuda_available();

// MI-vs-sample-size curve (paper Fig. 1): for each n in `sizes`, `repeats` subsets of n rows of
// (x, y) are drawn (subset seeds derived from `seed`), I(X;Y) estimated with KSG, and the mean and
// sample standard deviation reported. y is typically one-hot labels.
struct CurvePoint {
  std::int64_t n = 0;
  double mean = 0;
  double sd = 0;
  std::vector<double> values;
};
std::vector<CurvePoint> mi_curve(const at::Tensor& x, const at::Tensor& y,
                                 const std::vector<std::int64_t>& sizes, int repeats,
                                 std::uint64_t seed, const KsgOptions& options = {});

// A numeric table read from a CSV file (comma-separated; a first row with non-numeric cells is
// taken as a header). Errors (InputError) name file:line and the column.
struct Table {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::string> header;  // empty when the file has none
  std::vector<double> values;       // row-major rows*cols
};
Table read_csv_table(const std::string& path);
// The table as a float64 tensor [rows, cols].
at::Tensor table_tensor(const Table& table);

}  // namespace automl::mi
