#include "mi/ksg_cpu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

// Hot loops get an AVX-512 / AVX2 clone picked at load time (GCC ifunc); the default clone keeps
// the library runnable on any x86-64. Other compilers/targets just get the plain function.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define AUTOML_MI_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AUTOML_MI_CLONES
#endif
#if defined(__GNUC__)
#define AUTOML_MI_INLINE __attribute__((always_inline)) inline
#else
#define AUTOML_MI_INLINE inline
#endif

namespace automl::mi::detail {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

AUTOML_MI_INLINE double maxd(double a, double b) {
  return a > b ? a : b;
}

// Keeps the k smallest values seen (sorted ascending); bound() is the k-th (inf until k seen).
struct KBest {
  double* v;
  int k;
  int size = 0;
  AUTOML_MI_INLINE double bound() const { return size < k ? kInf : v[k - 1]; }
  AUTOML_MI_INLINE void push(double d) {  // caller checked d < bound()
    int pos = size < k ? size++ : k - 1;
    while (pos > 0 && v[pos - 1] > d) {
      v[pos] = v[pos - 1];
      --pos;
    }
    v[pos] = d;
  }
};

// ------------------------------------------------------------------------------------------
// k-d tree with bucket leaves, tight bounding boxes and points stored column-major in tree order
// (so the leaf distance loops run over points and vectorise without reductions).
class KdTree {
 public:
  static constexpr int kLeaf = 16;

  KdTree(const double* pts, std::int64_t n, std::int64_t d) : n_(n), d_(d) {
    idx_.resize(n);
    std::iota(idx_.begin(), idx_.end(), std::int64_t{0});
    nodes_.reserve(static_cast<std::size_t>(4 * (n / kLeaf + 1)));
    build(pts, 0, n, 0);
    soa_.resize(static_cast<std::size_t>(n * d));
    pos_.resize(n);
    for (std::int64_t p = 0; p < n; ++p) {
      pos_[idx_[p]] = p;
      const double* row = pts + idx_[p] * d;
      for (std::int64_t c = 0; c < d; ++c) soa_[c * n + p] = row[c];
    }
  }

  const std::vector<std::int64_t>& order() const { return idx_; }

  // k-th smallest distance from q to the points other than original index `self`.
  AUTOML_MI_INLINE double kth(const double* q, std::int64_t self, int k, double* scratch) const {
    KBest best{scratch, k};
    StackEntry stack[kMaxStack];
    int top = 0;
    stack[top++] = {0, 0.0};
    double dist[kLeaf];
    const std::int64_t self_pos = pos_[self];
    while (top > 0) {
      const StackEntry e = stack[--top];
      if (e.lb >= best.bound()) continue;
      const Node& node = nodes_[e.node];
      if (node.left < 0) {
        leaf_distances(node, q, dist);
        const std::int64_t m = node.end - node.begin;
        for (std::int64_t t = 0; t < m; ++t) {
          if (dist[t] < best.bound() && node.begin + t != self_pos) best.push(dist[t]);
        }
        continue;
      }
      const double lbl = lower_bound(node.left, q);
      const double lbr = lower_bound(node.right, q);
      if (lbl <= lbr) {
        stack[top++] = {node.right, lbr};
        stack[top++] = {node.left, lbl};
      } else {
        stack[top++] = {node.left, lbl};
        stack[top++] = {node.right, lbr};
      }
    }
    return best.bound();
  }

  // #{j != self : dist(q, p_j) < r}.
  AUTOML_MI_INLINE std::int64_t count_less(const double* q, std::int64_t self, double r) const {
    std::int64_t count = 0;
    std::int32_t stack[kMaxStack];
    int top = 0;
    stack[top++] = 0;
    double dist[kLeaf];
    const std::int64_t self_pos = pos_[self];
    while (top > 0) {
      const Node& node = nodes_[stack[--top]];
      const auto off = static_cast<std::size_t>(&node - nodes_.data()) * d_;
      const double* lo = &lo_[off];
      const double* hi = &hi_[off];
      double lb = 0, ub = 0;
      for (std::int64_t c = 0; c < d_; ++c) {
        const double a = lo[c] - q[c], b = q[c] - hi[c];
        lb = maxd(lb, maxd(a, b));
        ub = maxd(ub, maxd(-a, -b));
      }
      if (lb >= r) continue;
      const bool has_self = self_pos >= node.begin && self_pos < node.end;
      if (ub < r) {
        count += node.end - node.begin - (has_self ? 1 : 0);
        continue;
      }
      if (node.left < 0) {
        leaf_distances(node, q, dist);
        const std::int64_t m = node.end - node.begin;
        std::int64_t c = 0;
        for (std::int64_t t = 0; t < m; ++t) c += dist[t] < r ? 1 : 0;
        if (has_self && dist[self_pos - node.begin] < r) --c;
        count += c;
        continue;
      }
      stack[top++] = node.left;
      stack[top++] = node.right;
    }
    return count;
  }

 private:
  static constexpr int kMaxStack = 512;
  static constexpr int kMidpointDepth = 48;  // deeper than this, split at the median (bounded)

  struct Node {
    std::int64_t begin, end;
    std::int32_t left = -1, right = -1;
  };
  struct StackEntry {
    std::int32_t node;
    double lb;
  };

  AUTOML_MI_INLINE double lower_bound(std::int32_t node, const double* q) const {
    const double* lo = &lo_[static_cast<std::size_t>(node) * d_];
    const double* hi = &hi_[static_cast<std::size_t>(node) * d_];
    double lb = 0;
    for (std::int64_t c = 0; c < d_; ++c) lb = maxd(lb, maxd(lo[c] - q[c], q[c] - hi[c]));
    return lb;
  }

  AUTOML_MI_INLINE void leaf_distances(const Node& node, const double* q, double* dist) const {
    const std::int64_t m = node.end - node.begin;
    for (std::int64_t t = 0; t < kLeaf; ++t) dist[t] = 0;
    const double* col = soa_.data() + node.begin;
    for (std::int64_t c = 0; c < d_; ++c, col += n_) {
      const double qc = q[c];
      for (std::int64_t t = 0; t < m; ++t) dist[t] = maxd(dist[t], std::fabs(col[t] - qc));
    }
  }

  std::int32_t build(const double* pts, std::int64_t begin, std::int64_t end, int depth) {
    const auto id = static_cast<std::int32_t>(nodes_.size());
    nodes_.push_back({begin, end});
    std::vector<double> lo(d_, kInf), hi(d_, -kInf);
    for (std::int64_t p = begin; p < end; ++p) {
      const double* row = pts + idx_[p] * d_;
      for (std::int64_t c = 0; c < d_; ++c) {
        lo[c] = std::min(lo[c], row[c]);
        hi[c] = std::max(hi[c], row[c]);
      }
    }
    lo_.insert(lo_.end(), lo.begin(), lo.end());
    hi_.insert(hi_.end(), hi.begin(), hi.end());
    if (end - begin > kLeaf) {
      std::int64_t dim = 0;
      for (std::int64_t c = 1; c < d_; ++c)
        if (hi[c] - lo[c] > hi[dim] - lo[dim]) dim = c;
      if (hi[dim] > lo[dim]) {
        auto value = [&](std::int64_t i) { return pts[i * d_ + dim]; };
        std::int64_t mid = begin;
        if (depth < kMidpointDepth) {
          const double split = lo[dim] + 0.5 * (hi[dim] - lo[dim]);
          mid = std::partition(idx_.begin() + begin, idx_.begin() + end,
                               [&](std::int64_t i) { return value(i) < split; }) -
                idx_.begin();
        }
        if (mid == begin || mid == end) {
          mid = begin + (end - begin) / 2;
          std::nth_element(idx_.begin() + begin, idx_.begin() + mid, idx_.begin() + end,
                           [&](std::int64_t a, std::int64_t b) { return value(a) < value(b); });
        }
        const std::int32_t l = build(pts, begin, mid, depth + 1);
        const std::int32_t r = build(pts, mid, end, depth + 1);
        nodes_[id].left = l;
        nodes_[id].right = r;
      }
    }
    return id;
  }

  std::int64_t n_, d_;
  std::vector<std::int64_t> idx_;  // tree position -> original index
  std::vector<std::int64_t> pos_;  // original index -> tree position
  std::vector<double> soa_;        // [d][n] in tree order
  std::vector<Node> nodes_;
  std::vector<double> lo_;  // [node][d] lower corners of the tight bounding boxes
  std::vector<double> hi_;  // [node][d] upper corners
};

// ------------------------------------------------------------------------------------------
// Blocked brute force: coordinates split into chunks of 32 (zero padded), stored chunk-major
// ([chunk][point][32]) so the first chunks of all points, where most early exits happen, stay
// in cache. Dimensions are ordered by decreasing variance so a distance passes the bound early.
constexpr int kChunk = 32;

struct ChunkedPoints {
  std::int64_t n = 0, d = 0, chunks = 0;
  std::vector<double> data;

  ChunkedPoints(const double* pts, std::int64_t n_, std::int64_t d_) : n(n_), d(d_) {
    chunks = (d + kChunk - 1) / kChunk;
    std::vector<double> mean(d, 0.0), var(d, 0.0);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t c = 0; c < d; ++c) mean[c] += pts[i * d + c];
    for (auto& m : mean) m /= static_cast<double>(std::max<std::int64_t>(n, 1));
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t c = 0; c < d; ++c) {
        const double t = pts[i * d + c] - mean[c];
        var[c] += t * t;
      }
    std::vector<std::int64_t> dims(d);
    std::iota(dims.begin(), dims.end(), std::int64_t{0});
    std::stable_sort(dims.begin(), dims.end(),
                     [&](std::int64_t a, std::int64_t b) { return var[a] > var[b]; });
    data.assign(static_cast<std::size_t>(chunks * n * kChunk), 0.0);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t c = 0; c < d; ++c)
        data[static_cast<std::size_t>(((c / kChunk) * n + i) * kChunk + c % kChunk)] =
            pts[i * d + dims[c]];
  }
  AUTOML_MI_INLINE const double* at(std::int64_t chunk, std::int64_t i) const {
    return data.data() + (chunk * n + i) * kChunk;
  }
};

AUTOML_MI_INLINE double chunk_maxabs(const double* a, const double* b) {
  double m[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int c = 0; c < kChunk; c += 8)
    for (int l = 0; l < 8; ++l) m[l] = maxd(m[l], std::fabs(a[c + l] - b[c + l]));
  return maxd(maxd(maxd(m[0], m[1]), maxd(m[2], m[3])), maxd(maxd(m[4], m[5]), maxd(m[6], m[7])));
}

// Distance from point i to j, or +inf as soon as a partial maximum reaches `bound`.
AUTOML_MI_INLINE double dist_bounded(const ChunkedPoints& p, std::int64_t i, std::int64_t j,
                                     double bound) {
  double m = 0;
  for (std::int64_t c = 0; c < p.chunks; ++c) {
    m = maxd(m, chunk_maxabs(p.at(c, i), p.at(c, j)));
    if (m >= bound) return kInf;
  }
  return m;
}

// ------------------------------------------------------------------------------------------
// Range workers (cloned per ISA).

AUTOML_MI_CLONES void ksg_kd_range(const KdTree& joint, const KdTree& tx, const KdTree& ty,
                                   const double* jpts, std::int64_t dj, const double* x,
                                   std::int64_t dx, const double* y, std::int64_t dy, int k,
                                   std::int64_t begin, std::int64_t end, double* eps,
                                   std::int64_t* nx, std::int64_t* ny) {
  std::vector<double> scratch(k);
  const auto& order = joint.order();
  for (std::int64_t t = begin; t < end; ++t) {
    const std::int64_t i = order[t];
    const double e = joint.kth(jpts + i * dj, i, k, scratch.data());
    eps[i] = e;
    nx[i] = tx.count_less(x + i * dx, i, e);
    ny[i] = ty.count_less(y + i * dy, i, e);
  }
}

AUTOML_MI_CLONES void ksg_brute_range(const ChunkedPoints& px, const ChunkedPoints& py, int k,
                                      std::int64_t begin, std::int64_t end, double* eps,
                                      std::int64_t* nx, std::int64_t* ny) {
  const std::int64_t n = px.n;
  std::vector<double> scratch(k), bx(n), by(n);
  for (std::int64_t i = begin; i < end; ++i) {
    KBest best{scratch.data(), k};
    for (std::int64_t j = 0; j < n; ++j) {
      if (j == i) {
        bx[j] = by[j] = kInf;
        continue;
      }
      const double bound = best.bound();
      const double a = dist_bounded(px, i, j, bound);
      const double b = dist_bounded(py, i, j, bound);
      bx[j] = a;
      by[j] = b;
      const double joint = maxd(a, b);
      if (joint < bound) best.push(joint);
    }
    const double e = best.bound();
    std::int64_t cx = 0, cy = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      cx += bx[j] < e ? 1 : 0;
      cy += by[j] < e ? 1 : 0;
    }
    eps[i] = e;
    nx[i] = cx;
    ny[i] = cy;
  }
}

AUTOML_MI_CLONES void kth_kd_range(const KdTree& tree, const double* pts, std::int64_t d, int k,
                                   std::int64_t begin, std::int64_t end, double* out) {
  std::vector<double> scratch(k);
  const auto& order = tree.order();
  for (std::int64_t t = begin; t < end; ++t) {
    const std::int64_t i = order[t];
    out[i] = tree.kth(pts + i * d, i, k, scratch.data());
  }
}

AUTOML_MI_CLONES void kth_brute_range(const ChunkedPoints& p, int k, std::int64_t begin,
                                      std::int64_t end, double* out) {
  std::vector<double> scratch(k);
  for (std::int64_t i = begin; i < end; ++i) {
    KBest best{scratch.data(), k};
    for (std::int64_t j = 0; j < p.n; ++j) {
      if (j == i) continue;
      const double bound = best.bound();
      const double a = dist_bounded(p, i, j, bound);
      if (a < bound) best.push(a);
    }
    out[i] = best.bound();
  }
}

AUTOML_MI_CLONES void count_kd_range(const KdTree& tree, const double* pts, std::int64_t d,
                                     const double* radius, std::int64_t begin, std::int64_t end,
                                     std::int64_t* out) {
  const auto& order = tree.order();
  for (std::int64_t t = begin; t < end; ++t) {
    const std::int64_t i = order[t];
    out[i] = tree.count_less(pts + i * d, i, radius[i]);
  }
}

AUTOML_MI_CLONES void count_brute_range(const ChunkedPoints& p, const double* radius,
                                        std::int64_t begin, std::int64_t end, std::int64_t* out) {
  for (std::int64_t i = begin; i < end; ++i) {
    std::int64_t c = 0;
    for (std::int64_t j = 0; j < p.n; ++j)
      if (j != i && dist_bounded(p, i, j, radius[i]) < radius[i]) ++c;
    out[i] = c;
  }
}

bool use_tree(CpuAlgo algo, std::int64_t d) {
  if (algo == CpuAlgo::kKdTree) return true;
  if (algo == CpuAlgo::kBruteForce) return false;
  return d <= kKdTreeMaxDim;
}

void check_args(std::int64_t n, int k) {
  if (k < 1) throw std::invalid_argument("mi: k must be >= 1");
  if (n <= k) throw std::invalid_argument("mi: need more than k samples");
}

}  // namespace

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void parallel_chunks(std::int64_t n, int threads, std::int64_t chunk,
                     const std::function<void(std::int64_t, std::int64_t)>& f) {
  if (n <= 0) return;
  chunk = std::max<std::int64_t>(chunk, 1);
  const std::int64_t nchunks = (n + chunk - 1) / chunk;
  const int nt = static_cast<int>(std::min<std::int64_t>(resolve_threads(threads), nchunks));
  std::atomic<std::int64_t> next{0};
  auto work = [&] {
    for (;;) {
      const std::int64_t c = next.fetch_add(1);
      if (c >= nchunks) return;
      f(c * chunk, std::min(n, (c + 1) * chunk));
    }
  };
  if (nt <= 1) {
    work();
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(nt - 1);
  for (int t = 1; t < nt; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
}

void ksg_counts_cpu(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                    std::int64_t n, int k, CpuAlgo algo, int threads, double* eps, std::int64_t* nx,
                    std::int64_t* ny) {
  check_args(n, k);
  if (use_tree(algo, dx + dy)) {
    const std::int64_t dj = dx + dy;
    std::vector<double> joint(static_cast<std::size_t>(n * dj));
    for (std::int64_t i = 0; i < n; ++i) {
      std::copy(x + i * dx, x + (i + 1) * dx, joint.begin() + i * dj);
      std::copy(y + i * dy, y + (i + 1) * dy, joint.begin() + i * dj + dx);
    }
    const KdTree tj(joint.data(), n, dj), tx(x, n, dx), ty(y, n, dy);
    parallel_chunks(n, threads, 64, [&](std::int64_t b, std::int64_t e) {
      ksg_kd_range(tj, tx, ty, joint.data(), dj, x, dx, y, dy, k, b, e, eps, nx, ny);
    });
  } else {
    const ChunkedPoints px(x, n, dx), py(y, n, dy);
    parallel_chunks(n, threads, 16, [&](std::int64_t b, std::int64_t e) {
      ksg_brute_range(px, py, k, b, e, eps, nx, ny);
    });
  }
}

void kth_distances(const double* pts, std::int64_t n, std::int64_t d, int k, CpuAlgo algo,
                   int threads, double* out) {
  check_args(n, k);
  if (use_tree(algo, d)) {
    const KdTree tree(pts, n, d);
    parallel_chunks(n, threads, 64, [&](std::int64_t b, std::int64_t e) {
      kth_kd_range(tree, pts, d, k, b, e, out);
    });
  } else {
    const ChunkedPoints p(pts, n, d);
    parallel_chunks(n, threads, 16,
                    [&](std::int64_t b, std::int64_t e) { kth_brute_range(p, k, b, e, out); });
  }
}

void range_counts(const double* pts, std::int64_t n, std::int64_t d, const double* radius,
                  CpuAlgo algo, int threads, std::int64_t* out) {
  if (n <= 0) return;
  if (use_tree(algo, d)) {
    const KdTree tree(pts, n, d);
    parallel_chunks(n, threads, 64, [&](std::int64_t b, std::int64_t e) {
      count_kd_range(tree, pts, d, radius, b, e, out);
    });
  } else {
    const ChunkedPoints p(pts, n, d);
    parallel_chunks(n, threads, 16, [&](std::int64_t b, std::int64_t e) {
      count_brute_range(p, radius, b, e, out);
    });
  }
}

}  // namespace automl::mi::detail
