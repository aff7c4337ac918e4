// LibTorch-facing side of the MI module: argument checks, float64 conversion, the seeded jitter,
// dispatch to the CPU engines (mi/ksg_cpu.cpp) or the CUDA kernels (mi/ksg_cuda.cu), digamma
// sums, ksg_cd, label entropy and subset selection.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

#include "mi/jitter_hash.h"
#include "mi/ksg_cpu.h"
#include "mi/mi.h"
#if defined(AUTOML_WITH_CUDA) && AUTOML_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>

#include "mi/ksg_cuda.h"
#define AUTOML_MI_HAS_CUDA 1
#else
#define AUTOML_MI_HAS_CUDA 0
#endif

namespace automl::mi {
namespace {

using detail::CpuAlgo;

[[noreturn]] void throw_not_finite(const char* name) {
  throw std::invalid_argument(std::string("mi: ") + name + " contains NaN or infinite values");
}

// [n] -> [n, 1]; anything -> float64 contiguous on its own device; rejects NaN / inf.
at::Tensor as_matrix(const at::Tensor& t, const char* name) {
  if (!t.defined()) throw std::invalid_argument(std::string("mi: ") + name + " is undefined");
  at::Tensor m = t;
  if (m.dim() == 1) m = m.unsqueeze(1);
  if (m.dim() != 2)
    throw std::invalid_argument(std::string("mi: ") + name + " must be [n] or [n, d], got " +
                                std::to_string(t.dim()) + " dimensions");
  m = m.to(at::kDouble).contiguous();
  if (m.is_cuda() && m.numel() > 0 && !at::isfinite(m).all().item<bool>()) throw_not_finite(name);
  if (!m.is_cuda()) {
    const double* p = m.data_ptr<double>();
    for (std::int64_t e = 0, n = m.numel(); e < n; ++e)
      if (!std::isfinite(p[e])) throw_not_finite(name);
  }
  return m;
}

// out[e] = in[e] + amplitude * u(seed, e + offset) (SPEC.md 1), in and out may alias. The
// x86-64-v4 clone (AVX-512 with 64-bit multiplies and conversions) computes the same integer
// hash and the same two correctly rounded operations 8 lanes at a time (no FMA: the library
// builds with -ffp-contract=off), about 5x faster than the scalar loop.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("arch=x86-64-v4", "default")))
#endif
void add_jitter_to(const double* in, double* out, std::int64_t count, double amplitude,
                   std::uint64_t seed, std::uint64_t offset) {
  for (std::int64_t e = 0; e < count; ++e) {
    const double u = detail::uniform_from(seed, static_cast<std::uint64_t>(e) + offset);
    const double noise = amplitude * u;
    out[e] = in[e] + noise;
  }
}

// Row-major float64 copy of a CPU matrix with the seeded jitter added (SPEC.md 1).
std::vector<double> jittered_copy(const at::Tensor& m, const KsgOptions& o, std::uint64_t offset) {
  const double* p = m.data_ptr<double>();
  std::vector<double> out(p, p + m.numel());
  if (o.jitter)
    add_jitter_to(out.data(), out.data(), m.numel(), o.jitter_amplitude, o.seed, offset);
  return out;
}

void check_rows(const at::Tensor& a, const at::Tensor& b, int k) {
  if (a.size(0) != b.size(0))
    throw std::invalid_argument("mi: the two inputs have different numbers of rows (" +
                                std::to_string(a.size(0)) + " vs " + std::to_string(b.size(0)) +
                                ")");
  if (k < 1) throw std::invalid_argument("mi: k must be >= 1");
  if (a.size(0) <= k)
    throw std::invalid_argument("mi: need more than k = " + std::to_string(k) + " samples, got " +
                                std::to_string(a.size(0)));
}

void jitter_cpu_inplace(double* data, std::int64_t count, double amplitude, std::uint64_t seed,
                        std::uint64_t offset) {
  add_jitter_to(data, data, count, amplitude, seed, offset);
}

CpuAlgo cpu_algo(Method m) {
  switch (m) {
    case Method::kKdTree:
      return CpuAlgo::kKdTree;
    case Method::kBruteForce:
      return CpuAlgo::kBruteForce;
    case Method::kScan:
      return CpuAlgo::kScan;
    case Method::kGrouped:
      return CpuAlgo::kGrouped;
    default:
      return CpuAlgo::kAuto;
  }
}

Method method_of(CpuAlgo a) {
  switch (a) {
    case CpuAlgo::kKdTree:
      return Method::kKdTree;
    case CpuAlgo::kBruteForce:
      return Method::kBruteForce;
    case CpuAlgo::kScan:
      return Method::kScan;
    case CpuAlgo::kGrouped:
      return Method::kGrouped;
    default:
      throw std::logic_error("mi: the CPU engines report the engine they used");
  }
}

// Sum over values v of psi(v), grouped by value so each distinct psi is evaluated once; the
// grouping (ascending value) makes the sum independent of how the counts were computed.
double psi_sum(const std::vector<std::int64_t>& values, std::int64_t add) {
  if (values.empty()) return 0;
  const std::int64_t top = *std::max_element(values.begin(), values.end()) + add;
  std::vector<std::int64_t> hist(static_cast<std::size_t>(top + 1), 0);
  for (auto v : values) ++hist[static_cast<std::size_t>(v + add)];
  double s = 0;
  for (std::int64_t v = 0; v <= top; ++v)
    if (hist[v] != 0) s += static_cast<double>(hist[v]) * digamma(static_cast<double>(v));
  return s;
}

#if AUTOML_MI_HAS_CUDA
// The caller's current LibTorch stream on `device`: our kernels queue behind its work.
void* current_stream(c10::DeviceIndex device) {
  return static_cast<void*>(at::cuda::getCurrentCUDAStream(device).stream());
}

KsgCounts counts_cuda(const at::Tensor& x, const at::Tensor& y, int k) {
  const int device = x.is_cuda() ? x.device().index() : 0;
  const at::Device dev(at::kCUDA, static_cast<c10::DeviceIndex>(device < 0 ? 0 : device));
  const at::Tensor xd = x.to(dev).contiguous(), yd = y.to(dev).contiguous();
  const std::int64_t n = xd.size(0);
  KsgCounts c;
  c.eps.resize(n);
  c.nx.resize(n);
  c.ny.resize(n);
  c.method = Method::kCuda;
  detail::cuda_ksg_counts(static_cast<int>(dev.index()), xd.data_ptr<double>(), xd.size(1),
                          yd.data_ptr<double>(), yd.size(1), n, k, c.eps.data(), c.nx.data(),
                          c.ny.data(), current_stream(dev.index()));
  return c;
}
#endif

}  // namespace

double digamma(double x) {
  if (std::isnan(x)) return x;
  if (x <= 0 && x == std::floor(x)) return std::numeric_limits<double>::quiet_NaN();
  if (x < 0) {  // reflection
    const double pi = 3.14159265358979323846;
    return digamma(1 - x) - pi / std::tan(pi * x);
  }
  double r = 0;
  while (x < 10) {
    r -= 1 / x;
    x += 1;
  }
  // Asymptotic series: ln x - 1/(2x) - sum B_2j / (2j x^2j); truncation error < 1e-16 for x >= 10.
  const double f = 1 / (x * x);
  const double t =
      f * (-1.0 / 12 +
           f * (1.0 / 120 +
                f * (-1.0 / 252 +
                     f * (1.0 / 240 + f * (-1.0 / 132 + f * (691.0 / 32760 + f * (-1.0 / 12)))))));
  return r + std::log(x) - 0.5 / x + t;
}

double jitter_uniform(std::uint64_t seed, std::uint64_t index) {
  return detail::uniform_from(seed, index);
}

at::Tensor add_jitter(const at::Tensor& x, double amplitude, std::uint64_t seed,
                      std::uint64_t offset) {
  at::Tensor out = x.to(at::kDouble).contiguous().clone();
  if (out.numel() == 0) return out;
  if (out.is_cuda()) {
#if AUTOML_MI_HAS_CUDA
    detail::cuda_add_jitter(static_cast<int>(out.device().index()), out.data_ptr<double>(),
                            out.numel(), amplitude, seed, offset,
                            current_stream(out.device().index()));
    return out;
#else
    at::Tensor cpu = add_jitter(out.cpu(), amplitude, seed, offset);
    return cpu.to(out.device());
#endif
  }
  jitter_cpu_inplace(out.data_ptr<double>(), out.numel(), amplitude, seed, offset);
  return out;
}

bool cuda_available() {
#if AUTOML_MI_HAS_CUDA
  return detail::cuda_device_count() > 0;
#else
  return false;
#endif
}

KsgCounts ksg_counts(const at::Tensor& x_in, const at::Tensor& y_in, int k, Method method,
                     int threads) {
  const at::Tensor x0 = as_matrix(x_in, "x"), y0 = as_matrix(y_in, "y");
  check_rows(x0, y0, k);
  const bool want_cuda =
      method == Method::kCuda || (method == Method::kAuto && x0.is_cuda() && y0.is_cuda());
  if (want_cuda) {
#if AUTOML_MI_HAS_CUDA
    if (cuda_available()) return counts_cuda(x0, y0, k);
#endif
    if (method == Method::kCuda)
      throw std::runtime_error("mi: the CUDA path is not available in this build/machine");
  }
  const at::Tensor x = x0.cpu().contiguous(), y = y0.cpu().contiguous();
  const std::int64_t n = x.size(0);
  KsgCounts c;
  c.eps.resize(n);
  c.nx.resize(n);
  c.ny.resize(n);
  c.method = method_of(detail::ksg_counts_cpu(x.data_ptr<double>(), x.size(1), y.data_ptr<double>(),
                                              y.size(1), n, k, cpu_algo(method), threads,
                                              c.eps.data(), c.nx.data(), c.ny.data()));
  return c;
}

double ksg_from_counts(const KsgCounts& counts, int k) {
  const auto n = static_cast<std::int64_t>(counts.nx.size());
  const double s = psi_sum(counts.nx, 1) + psi_sum(counts.ny, 1);
  return digamma(k) + digamma(static_cast<double>(n)) - s / static_cast<double>(n);
}

double ksg(const at::Tensor& t, const at::Tensor& y, const KsgOptions& options) {
  at::Tensor tm = as_matrix(t, "t"), ym = as_matrix(y, "y");
  check_rows(tm, ym, options.k);
  bool gpu = tm.is_cuda() && ym.is_cuda() && cuda_available();
  if (!gpu) {  // CPU: jitter into plain buffers and count, without further tensor ops
    tm = tm.cpu();
    ym = ym.cpu();
    const std::int64_t n = tm.size(0);
    const std::vector<double> x = jittered_copy(tm, options, 0);
    const std::vector<double> yv =
        jittered_copy(ym, options, static_cast<std::uint64_t>(tm.numel()));
    KsgCounts c;
    c.eps.resize(n);
    c.nx.resize(n);
    c.ny.resize(n);
    detail::ksg_counts_cpu(x.data(), tm.size(1), yv.data(), ym.size(1), n, options.k,
                           CpuAlgo::kAuto, options.threads, c.eps.data(), c.nx.data(), c.ny.data());
    return ksg_from_counts(c, options.k);
  }
  if (options.jitter) {
    tm = add_jitter(tm, options.jitter_amplitude, options.seed, 0);
    ym = add_jitter(ym, options.jitter_amplitude, options.seed,
                    static_cast<std::uint64_t>(tm.numel()));
  }
  const KsgCounts c =
      ksg_counts(tm, ym, options.k, gpu ? Method::kCuda : Method::kAuto, options.threads);
  return ksg_from_counts(c, options.k);
}

double ksg_cd(const at::Tensor& t, const at::Tensor& labels, const KsgOptions& options) {
  at::Tensor tm = as_matrix(t, "t").cpu();
  if (!labels.defined() || labels.dim() != 1)
    throw std::invalid_argument("mi: ksg_cd labels must be a 1-D integer tensor");
  const at::Tensor lab = labels.to(at::kLong).cpu().contiguous();
  check_rows(tm, lab.unsqueeze(1), options.k);
  if (options.jitter) tm = add_jitter(tm, options.jitter_amplitude, options.seed, 0);
  const std::int64_t n = tm.size(0), d = tm.size(1);
  const std::int64_t* l = lab.data_ptr<std::int64_t>();
  std::map<std::int64_t, std::vector<std::int64_t>> classes;
  for (std::int64_t i = 0; i < n; ++i) classes[l[i]].push_back(i);
  // Keep samples whose label occurs more than once.
  std::vector<std::int64_t> kept;
  for (const auto& [label, members] : classes)
    if (members.size() > 1) kept.insert(kept.end(), members.begin(), members.end());
  std::sort(kept.begin(), kept.end());
  const auto m = static_cast<std::int64_t>(kept.size());
  if (m < 2) throw std::invalid_argument("mi: ksg_cd needs a label that occurs at least twice");
  const double* src = tm.data_ptr<double>();
  std::vector<std::int64_t> pos(n, -1);
  std::vector<double> pts(static_cast<std::size_t>(m * d));
  for (std::int64_t r = 0; r < m; ++r) {
    pos[kept[r]] = r;
    std::copy(src + kept[r] * d, src + (kept[r] + 1) * d, pts.begin() + r * d);
  }
  std::vector<double> radius(m);
  std::vector<std::int64_t> k_all(m), nc(m);
  for (const auto& [label, members] : classes) {
    const auto count = static_cast<std::int64_t>(members.size());
    if (count < 2) continue;
    const int kc = static_cast<int>(std::min<std::int64_t>(options.k, count - 1));
    std::vector<double> sub(static_cast<std::size_t>(count * d)), r(count);
    for (std::int64_t a = 0; a < count; ++a)
      std::copy(src + members[a] * d, src + (members[a] + 1) * d, sub.begin() + a * d);
    detail::kth_distances(sub.data(), count, d, kc, CpuAlgo::kAuto, options.threads, r.data());
    for (std::int64_t a = 0; a < count; ++a) {
      const std::int64_t p = pos[members[a]];
      radius[p] = r[a];
      k_all[p] = kc;
      nc[p] = count;
    }
  }
  std::vector<std::int64_t> within(m);
  detail::range_counts(pts.data(), m, d, radius.data(), CpuAlgo::kAuto, options.threads,
                       within.data());
  // m_i counts the point itself too (scikit-learn's query_radius with radius nextafter(r, 0)).
  const double inv = 1.0 / static_cast<double>(m);
  return digamma(static_cast<double>(m)) + psi_sum(k_all, 0) * inv - psi_sum(nc, 0) * inv -
         psi_sum(within, 1) * inv;
}

double label_entropy(const at::Tensor& labels) {
  if (!labels.defined() || labels.numel() == 0)
    throw std::invalid_argument("mi: label_entropy needs a non-empty label tensor");
  const at::Tensor lab = labels.reshape({-1}).to(at::kLong).cpu().contiguous();
  const std::int64_t n = lab.numel();
  const std::int64_t* l = lab.data_ptr<std::int64_t>();
  std::map<std::int64_t, std::int64_t> counts;
  for (std::int64_t i = 0; i < n; ++i) ++counts[l[i]];
  double h = 0;
  for (const auto& [label, c] : counts) {
    const double p = static_cast<double>(c) / static_cast<double>(n);
    h -= p * std::log(p);
  }
  return h;
}

at::Tensor one_hot(const at::Tensor& labels, std::int64_t num_classes) {
  if (!labels.defined() || labels.dim() != 1)
    throw std::invalid_argument("mi: one_hot needs 1-D labels");
  const at::Tensor lab = labels.to(at::kLong).cpu().contiguous();
  const std::int64_t n = lab.size(0);
  at::Tensor out = at::zeros({n, num_classes}, at::TensorOptions().dtype(at::kDouble));
  double* o = out.data_ptr<double>();
  const std::int64_t* l = lab.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    if (l[i] < 0 || l[i] >= num_classes)
      throw std::invalid_argument("mi: label " + std::to_string(l[i]) + " at row " +
                                  std::to_string(i) + " is outside [0, " +
                                  std::to_string(num_classes) + ")");
    o[i * num_classes + l[i]] = 1.0;
  }
  return out;
}

namespace {
// Deterministic generator for subset selection (splitmix64 stream; unbiased bounded ints).
struct SplitMix {
  std::uint64_t state;
  std::uint64_t next() { return detail::splitmix64(state++ * 0x9E3779B97F4A7C15ULL + 1); }
  std::uint64_t below(std::uint64_t bound) {  // uniform in [0, bound), rejection sampling
    const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % bound);
    std::uint64_t v;
    do v = next();
    while (v >= limit);
    return v % bound;
  }
};

// Picks `take` of `items` by a partial Fisher-Yates shuffle.
void pick(std::vector<std::int64_t>& items, std::int64_t take, SplitMix& rng,
          std::vector<std::int64_t>& out) {
  const auto size = static_cast<std::int64_t>(items.size());
  for (std::int64_t a = 0; a < take; ++a) {
    const auto b = a + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(size - a)));
    std::swap(items[a], items[b]);
    out.push_back(items[a]);
  }
}
}  // namespace

at::Tensor select_subset(std::int64_t population, std::int64_t n, std::uint64_t seed,
                         const at::Tensor& labels) {
  if (n < 0 || n > population)
    throw std::invalid_argument("mi: cannot select " + std::to_string(n) + " of " +
                                std::to_string(population) + " samples");
  SplitMix rng{detail::splitmix64(seed ^ 0x5851F42D4C957F2DULL)};
  std::vector<std::int64_t> out;
  out.reserve(n);
  if (!labels.defined()) {
    std::vector<std::int64_t> all(population);
    std::iota(all.begin(), all.end(), std::int64_t{0});
    pick(all, n, rng, out);
  } else {
    const at::Tensor lab = labels.reshape({-1}).to(at::kLong).cpu().contiguous();
    if (lab.numel() != population)
      throw std::invalid_argument("mi: select_subset labels must have `population` entries");
    const std::int64_t* l = lab.data_ptr<std::int64_t>();
    std::map<std::int64_t, std::vector<std::int64_t>> classes;
    for (std::int64_t i = 0; i < population; ++i) classes[l[i]].push_back(i);
    // Proportional allocation: floor shares, then the largest remainders (ties: class order).
    std::vector<std::int64_t> take;
    std::vector<std::pair<double, std::size_t>> rem;
    std::int64_t used = 0;
    for (const auto& [label, members] : classes) {
      const double share = static_cast<double>(n) * static_cast<double>(members.size()) /
                           static_cast<double>(population);
      const auto f = static_cast<std::int64_t>(std::floor(share));
      take.push_back(f);
      used += f;
      rem.emplace_back(share - static_cast<double>(f), take.size() - 1);
    }
    std::stable_sort(rem.begin(), rem.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::vector<std::int64_t>*> lists;
    for (auto& [label, members] : classes) lists.push_back(&members);
    for (std::size_t r = 0; used < n; r = (r + 1) % rem.size()) {
      const std::size_t c = rem[r].second;
      if (take[c] < static_cast<std::int64_t>(lists[c]->size())) {
        ++take[c];
        ++used;
      }
    }
    for (std::size_t c = 0; c < lists.size(); ++c) pick(*lists[c], take[c], rng, out);
  }
  std::sort(out.begin(), out.end());
  at::Tensor t = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  std::copy(out.begin(), out.end(), t.data_ptr<std::int64_t>());
  return t;
}

std::vector<CurvePoint> mi_curve(const at::Tensor& x, const at::Tensor& y,
                                 const std::vector<std::int64_t>& sizes, int repeats,
                                 std::uint64_t seed, const KsgOptions& options) {
  const at::Tensor xm = as_matrix(x, "x"), ym = as_matrix(y, "y");
  if (xm.size(0) != ym.size(0))
    throw std::invalid_argument("mi: mi_curve inputs have different numbers of rows");
  if (repeats < 1) throw std::invalid_argument("mi: mi_curve needs repeats >= 1");
  const std::int64_t population = xm.size(0);
  std::vector<CurvePoint> curve;
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    const std::int64_t n = sizes[s];
    if (n <= options.k || n > population)
      throw std::invalid_argument("mi: mi_curve size " + std::to_string(n) +
                                  " must be in (k, rows = " + std::to_string(population) + "]");
    CurvePoint p;
    p.n = n;
    for (int r = 0; r < repeats; ++r) {
      const std::uint64_t sub_seed =
          detail::splitmix64(seed ^ detail::splitmix64(static_cast<std::uint64_t>(n) * 1000003ULL +
                                                       static_cast<std::uint64_t>(r)));
      const at::Tensor idx = select_subset(population, n, sub_seed).to(xm.device());
      KsgOptions o = options;
      o.seed = sub_seed;
      p.values.push_back(ksg(xm.index_select(0, idx), ym.index_select(0, idx), o));
    }
    double mean = 0;
    for (double v : p.values) mean += v;
    mean /= repeats;
    double ss = 0;
    for (double v : p.values) ss += (v - mean) * (v - mean);
    p.mean = mean;
    p.sd = repeats > 1 ? std::sqrt(ss / (repeats - 1)) : 0.0;
    curve.push_back(std::move(p));
  }
  return curve;
}

}  // namespace automl::mi
