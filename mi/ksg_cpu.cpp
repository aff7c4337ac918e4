#include "mi/ksg_cpu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mi/kbest.h"
#include "mi/ksg_grouped.h"
#include "mi/scan.h"
#include "mi/threads.h"
#include "mi/worker_pool.h"

// Hot loops get an AVX-512 / AVX2 clone picked at load time (GCC ifunc); the default clone keeps
// the library runnable on any x86-64. Other compilers/targets just get the plain function.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define AUTOML_MI_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AUTOML_MI_CLONES
#endif
#if defined(__GNUC__) && !defined(__clang__)
// The 4 x double helpers below are always inlined; the ABI note about AVX returns is moot.
#pragma GCC diagnostic ignored "-Wpsabi"
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

// 4 x float64 via GCC/Clang vector extensions (SSE2 pairs, AVX2 or AVX-512 per clone). Same
// operations as the scalar code: a - b, |.| by clearing the sign bit, max as (a > b ? a : b).
using v4d = double __attribute__((vector_size(32)));
using v4du = double __attribute__((vector_size(32), aligned(8), may_alias));
using v4l = long long __attribute__((vector_size(32)));
AUTOML_MI_INLINE v4d load4(const double* p) {
  return *reinterpret_cast<const v4du*>(p);
}
AUTOML_MI_INLINE v4d vabs(v4d x) {
  return reinterpret_cast<v4d>(reinterpret_cast<v4l>(x) & 0x7fffffffffffffffLL);
}
AUTOML_MI_INLINE v4d vmax(v4d a, v4d b) {
  return a > b ? a : b;
}
AUTOML_MI_INLINE double hmax_fast(v4d a) {  // same value as hmax: max is exact
  const v4d b = vmax(a, __builtin_shuffle(a, v4l{2, 3, 0, 1}));
  return maxd(b[0], b[1]);
}
AUTOML_MI_INLINE double hmax(v4d a) {
  return hmax_fast(a);
}

// Tight box of the rows idx[0..count) of a row-major [*, d] array (ISA-cloned: the min / max
// loops vectorise only with AVX).
AUTOML_MI_CLONES void box_of_rows(const double* __restrict pts, const std::int64_t* idx,
                                  std::int64_t count, std::int64_t d, double* __restrict lo,
                                  double* __restrict hi) {
  for (std::int64_t c = 0; c < d; ++c) {
    lo[c] = kInf;
    hi[c] = -kInf;
  }
  for (std::int64_t p = 0; p < count; ++p) {
    const double* __restrict row = pts + idx[p] * d;
    for (std::int64_t c = 0; c < d; ++c) {
      lo[c] = row[c] < lo[c] ? row[c] : lo[c];
      hi[c] = row[c] > hi[c] ? row[c] : hi[c];
    }
  }
}

// ------------------------------------------------------------------------------------------
// k-d tree with bucket leaves, tight bounding boxes and points stored column-major in tree order
// (so the leaf distance loops run over points and vectorise without reductions).
class KdTree {
 public:
  // 32 measured best (callgrind instruction counts, n = 1000 and 10000, d = 10 + 10): 16 costs
  // 9 % more at n = 1000, 64 costs 10 % more at n = 10000.
  static constexpr int kLeaf = 32;

  KdTree(const double* pts, std::int64_t n, std::int64_t d) : n_(n), d_(d), dp_((d + 3) / 4 * 4) {
    idx_.resize(n);
    std::iota(idx_.begin(), idx_.end(), std::int64_t{0});
    // Midpoint splits give about 2 n / kLeaf nodes; reserving twice that avoids most regrowth.
    nodes_.reserve(static_cast<std::size_t>(4 * (n / kLeaf + 1)));
    lo_.reserve(nodes_.capacity() * dp_);
    hi_.reserve(nodes_.capacity() * dp_);
    build(pts, 0, n, 0);
    nodes_.shrink_to_fit();
    for (std::size_t id = 0; id < nodes_.size(); ++id)
      if (nodes_[id].left < 0) leaves_.push_back(static_cast<std::int32_t>(id));
    stride_ = n + kLeaf;  // zero tail: leaf kernels always read kLeaf lanes
    soa_.assign(static_cast<std::size_t>(stride_ * d), 0.0);
    for (std::int64_t p = 0; p < n; ++p) {
      const double* row = pts + idx_[p] * d;
      for (std::int64_t c = 0; c < d; ++c) soa_[c * stride_ + p] = row[c];
    }
  }

  std::int64_t padded_dim() const { return dp_; }
  const std::vector<std::int64_t>& order() const { return idx_; }  // tree position -> index

  // Leaf-batched searches: all queries of one leaf of this tree share one traversal (pruned by
  // box-to-box bounds, then per query by point-to-box bounds), and distances are computed as
  // dense query x leaf blocks. Results are written by original index.
  const std::vector<std::int32_t>& leaves() const { return leaves_; }
  // Tree positions [first, second) of the points of leaf `l` (an index into leaves()).
  std::pair<std::int64_t, std::int64_t> leaf_range(std::int64_t l) const {
    const Node& node = nodes_[leaves_[l]];
    return {node.begin, node.end};
  }

  // out[i] = k-th smallest distance from i to the other points, for the points i of leaf `ql`.
  // scratch: kLeaf * k doubles; qbuf: kLeaf * padded_dim() doubles.
  // *work (when not null) grows by the nodes this batch visited and the (query, leaf) distance
  // blocks computed: the measure of the tree's pruning that the engine choice uses.
  AUTOML_MI_INLINE void knn_leaf(std::int32_t ql, int k, double* out, double* scratch, double* qbuf,
                                 TreeWork* work = nullptr) const {
    const Node& Q = nodes_[ql];
    const int m = static_cast<int>(Q.end - Q.begin);
    gather(Q, qbuf);
    KBest best[kLeaf];
    for (int t = 0; t < m; ++t) best[t] = KBest{scratch + static_cast<std::ptrdiff_t>(t) * k, k};
    double bmax = kInf;
    StackEntry stack[kMaxStack];
    int top = 0;
    stack[top++] = {0, 0.0};
    double dist[kLeaf];
    while (top > 0) {
      const StackEntry e = stack[--top];
      if (e.lb >= bmax) continue;
      if (work != nullptr) ++work->nodes;
      const Node& node = nodes_[e.node];
      if (node.left < 0) {
        const std::int64_t len = node.end - node.begin;
        for (int t = 0; t < m; ++t) {
          KBest& b = best[t];
          const double* q = qbuf + t * dp_;
          if (lower_bound(e.node, q) >= b.bound()) continue;
          if (work != nullptr) ++work->leaf_blocks;
          leaf_distances(node, q, dist);
          const std::int64_t self = Q.begin + t;
          for (std::int64_t u = 0; u < len; ++u)
            if (dist[u] < b.bound() && node.begin + u != self) b.push(dist[u]);
        }
        bmax = 0;
        for (int t = 0; t < m; ++t) bmax = maxd(bmax, best[t].bound());
        continue;
      }
      const double lbl = box_lower_bound(node.left, ql);
      const double lbr = box_lower_bound(node.right, ql);
      if (lbl <= lbr) {
        if (lbr < bmax) stack[top++] = {node.right, lbr};
        if (lbl < bmax) stack[top++] = {node.left, lbl};
      } else {
        if (lbl < bmax) stack[top++] = {node.left, lbl};
        if (lbr < bmax) stack[top++] = {node.right, lbr};
      }
    }
    for (int t = 0; t < m; ++t) out[idx_[Q.begin + t]] = best[t].bound();
  }

  // out[i] = #{j != i : dist(i, j) < radius[i]} for the points i of leaf `ql`.
  AUTOML_MI_INLINE void count_leaf(std::int32_t ql, const double* radius, std::int64_t* out,
                                   double* qbuf) const {
    const Node& Q = nodes_[ql];
    const int m = static_cast<int>(Q.end - Q.begin);
    double r[kLeaf];
    std::int64_t cnt[kLeaf];
    gather(Q, qbuf);
    double rmin = kInf, rmax = 0;
    for (int t = 0; t < m; ++t) {
      r[t] = radius[idx_[Q.begin + t]];
      cnt[t] = 0;
      rmin = std::min(rmin, r[t]);
      rmax = std::max(rmax, r[t]);
    }
    std::int32_t stack[kMaxStack];
    int top = 0;
    stack[top++] = 0;
    double dist[kLeaf];
    while (top > 0) {
      const std::int32_t id = stack[--top];
      const Node& node = nodes_[id];
      double lb, ub;
      box_bounds(id, ql, lb, ub);
      if (lb >= rmax) continue;
      const std::int64_t len = node.end - node.begin;
      if (ub < rmin) {  // every query of Q sees every point of node (minus itself if inside)
        const bool contains = node.begin <= Q.begin && Q.end <= node.end;
        for (int t = 0; t < m; ++t) cnt[t] += len - (contains ? 1 : 0);
        continue;
      }
      if (node.left >= 0) {
        stack[top++] = node.left;
        stack[top++] = node.right;
        continue;
      }
      for (int t = 0; t < m; ++t) {
        const double* q = qbuf + t * dp_;
        double plb, pub;
        point_bounds(id, q, plb, pub);
        if (plb >= r[t]) continue;
        const std::int64_t self = Q.begin + t;
        const bool has_self = self >= node.begin && self < node.end;
        if (pub < r[t]) {
          cnt[t] += len - (has_self ? 1 : 0);
          continue;
        }
        leaf_distances(node, q, dist);
        const double rt = r[t];
        const v4d rv = {rt, rt, rt, rt};
        const v4l lenv = {len, len, len, len};
        v4l hits = {0, 0, 0, 0};
        for (int g = 0; g < kLeaf; g += 4) {  // true lanes are -1
          const v4l lane = {g, g + 1, g + 2, g + 3};
          hits += (load4(dist + g) < rv) & (lane < lenv);
        }
        std::int64_t c = -(hits[0] + hits[1] + hits[2] + hits[3]);
        if (has_self && dist[self - node.begin] < r[t]) --c;
        cnt[t] += c;
      }
    }
    for (int t = 0; t < m; ++t) out[idx_[Q.begin + t]] = cnt[t];
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
    const double* lo = &lo_[static_cast<std::size_t>(node) * dp_];
    const double* hi = &hi_[static_cast<std::size_t>(node) * dp_];
    v4d l = {0, 0, 0, 0};
    for (std::int64_t c = 0; c < dp_; c += 4) {
      const v4d z = load4(q + c);
      l = vmax(l, vmax(load4(lo + c) - z, z - load4(hi + c)));
    }
    return hmax(l);
  }

  // Query points of a leaf, row-major and padded to dp_.
  AUTOML_MI_INLINE void gather(const Node& Q, double* qbuf) const {
    const int m = static_cast<int>(Q.end - Q.begin);
    for (int t = 0; t < m; ++t)
      for (std::int64_t c = 0; c < dp_; ++c)
        qbuf[t * dp_ + c] = c < d_ ? soa_[c * stride_ + Q.begin + t] : 0.0;
  }

  // Bounds on dist(p, q) for p in box a and q in box b (fl is monotone, so they hold for the
  // rounded distances too).
  AUTOML_MI_INLINE double box_lower_bound(std::int32_t a, std::int32_t b) const {
    const double* la = &lo_[static_cast<std::size_t>(a) * dp_];
    const double* ha = &hi_[static_cast<std::size_t>(a) * dp_];
    const double* lb = &lo_[static_cast<std::size_t>(b) * dp_];
    const double* hb = &hi_[static_cast<std::size_t>(b) * dp_];
    v4d l = {0, 0, 0, 0};
    for (std::int64_t c = 0; c < dp_; c += 4)
      l = vmax(l, vmax(load4(la + c) - load4(hb + c), load4(lb + c) - load4(ha + c)));
    return hmax(l);
  }
  AUTOML_MI_INLINE void box_bounds(std::int32_t a, std::int32_t b, double& lower,
                                   double& upper) const {
    const double* la = &lo_[static_cast<std::size_t>(a) * dp_];
    const double* ha = &hi_[static_cast<std::size_t>(a) * dp_];
    const double* lb = &lo_[static_cast<std::size_t>(b) * dp_];
    const double* hb = &hi_[static_cast<std::size_t>(b) * dp_];
    v4d l = {0, 0, 0, 0}, u = l;
    for (std::int64_t c = 0; c < dp_; c += 4) {
      const v4d xa = load4(la + c), ya = load4(ha + c), xb = load4(lb + c), yb = load4(hb + c);
      l = vmax(l, vmax(xa - yb, xb - ya));
      u = vmax(u, vmax(ya - xb, yb - xa));
    }
    lower = hmax(l);
    upper = hmax(u);
  }
  AUTOML_MI_INLINE void point_bounds(std::int32_t node, const double* q, double& lower,
                                     double& upper) const {
    const double* lo = &lo_[static_cast<std::size_t>(node) * dp_];
    const double* hi = &hi_[static_cast<std::size_t>(node) * dp_];
    v4d l = {0, 0, 0, 0}, u = l;
    for (std::int64_t c = 0; c < dp_; c += 4) {
      const v4d x = load4(lo + c), y = load4(hi + c), z = load4(q + c);
      l = vmax(l, vmax(x - z, z - y));
      u = vmax(u, vmax(z - x, y - z));
    }
    lower = hmax(l);
    upper = hmax(u);
  }

  // dist[t] = distance from q to the t-th point of the leaf, for all kLeaf lanes (lanes past the
  // leaf's end hold meaningless values; callers ignore them). Fixed trip counts keep the
  // accumulators in vector registers.
  AUTOML_MI_INLINE void leaf_distances(const Node& node, const double* q, double* dist) const {
    v4d acc[kLeaf / 4];
    for (int g = 0; g < kLeaf / 4; ++g) acc[g] = v4d{0, 0, 0, 0};
    const double* col = soa_.data() + node.begin;
    for (std::int64_t c = 0; c < d_; ++c, col += stride_) {
      const double qc = q[c];
      const v4d qv = {qc, qc, qc, qc};
      for (int g = 0; g < kLeaf / 4; ++g)
        acc[g] = vmax(acc[g], vabs(load4(col + std::ptrdiff_t{4} * g) - qv));
    }
    for (int g = 0; g < kLeaf / 4; ++g)
      *reinterpret_cast<v4du*>(dist + std::ptrdiff_t{4} * g) = acc[g];
  }

  void bounding_box(const double* pts, std::int64_t begin, std::int64_t end, double* lo,
                    double* hi) const {
    box_of_rows(pts, idx_.data() + begin, end - begin, d_, lo, hi);
  }

  std::int32_t build(const double* pts, std::int64_t begin, std::int64_t end, int depth) {
    const auto id = static_cast<std::int32_t>(nodes_.size());
    nodes_.push_back({begin, end});
    lo_.resize(lo_.size() + dp_, 0.0);  // this node's box, padding coordinates 0
    hi_.resize(hi_.size() + dp_, 0.0);
    bounding_box(pts, begin, end, &lo_[static_cast<std::size_t>(id) * dp_],
                 &hi_[static_cast<std::size_t>(id) * dp_]);
    const double* lo = &lo_[static_cast<std::size_t>(id) * dp_];
    const double* hi = &hi_[static_cast<std::size_t>(id) * dp_];
    if (end - begin > kLeaf) {
      std::int64_t dim = 0;
      for (std::int64_t c = 1; c < d_; ++c)
        if (hi[c] - lo[c] > hi[dim] - lo[dim]) dim = c;
      // Identical points (zero spread) are split by position so leaves never exceed kLeaf.
      std::int64_t mid = begin + (end - begin) / 2;
      if (hi[dim] > lo[dim]) {
        auto value = [&](std::int64_t i) { return pts[i * d_ + dim]; };
        mid = begin;
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
      }
      {
        const std::int32_t l = build(pts, begin, mid, depth + 1);
        const std::int32_t r = build(pts, mid, end, depth + 1);
        nodes_[id].left = l;
        nodes_[id].right = r;
      }
    }
    return id;
  }

  std::int64_t n_, d_, dp_, stride_ = 0;
  std::vector<std::int32_t> leaves_;  // leaf node ids in tree order
  std::vector<std::int64_t> idx_;     // tree position -> original index
  std::vector<double> soa_;           // [d][n] in tree order
  std::vector<Node> nodes_;
  std::vector<double> lo_;  // [node][d] lower corners of the tight bounding boxes
  std::vector<double> hi_;  // [node][d] upper corners
};

// ------------------------------------------------------------------------------------------
// Blocked brute force for high dimensions: rows padded with zeros to a multiple of kChunk
// coordinates, coordinates ordered by decreasing variance (so partial maxima pass the bound
// early), distances accumulated kChunk coordinates at a time with an exit as soon as the partial
// maximum reaches the bound. Queries are processed in blocks so each candidate row is read once
// per block (it stays in L1 while the block's query rows stay in L2).
constexpr int kChunk = 16;
constexpr int kQueryBlock = 16;

struct RowPoints {
  std::int64_t n = 0, d = 0, dp = 0;
  std::vector<double> data;

  // Row r holds point order[r] (order == nullptr: the identity).
  RowPoints(const double* pts, std::int64_t n_, std::int64_t d_,
            const std::int64_t* order = nullptr)
      : n(n_), d(d_) {
    dp = (d + kChunk - 1) / kChunk * kChunk;
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
    data.assign(static_cast<std::size_t>(n * dp), 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t src = order == nullptr ? i : order[i];
      for (std::int64_t c = 0; c < d; ++c) data[i * dp + c] = pts[src * d + dims[c]];
    }
  }
  AUTOML_MI_INLINE const double* row(std::int64_t i) const { return data.data() + i * dp; }
};

// max_c |a_c - b_c| over dp coordinates, or +inf as soon as a partial maximum reaches `bound`.
AUTOML_MI_INLINE double dist_bounded(const double* a, const double* b, std::int64_t dp,
                                     double bound) {
  v4d m = {0, 0, 0, 0};
  for (std::int64_t c = 0; c < dp; c += kChunk) {
    const v4d x0 = vabs(load4(a + c) - load4(b + c));
    const v4d x1 = vabs(load4(a + c + 4) - load4(b + c + 4));
    const v4d x2 = vabs(load4(a + c + 8) - load4(b + c + 8));
    const v4d x3 = vabs(load4(a + c + 12) - load4(b + c + 12));
    m = vmax(m, vmax(vmax(x0, x1), vmax(x2, x3)));
    if (hmax_fast(m) >= bound) return kInf;
  }
  return hmax(m);
}

AUTOML_MI_CLONES void knn_leaves(const KdTree& tree, int k, std::int64_t begin, std::int64_t end,
                                 double* out, TreeWork* work = nullptr) {
  std::vector<double> scratch(static_cast<std::size_t>(KdTree::kLeaf) * k),
      qbuf(static_cast<std::size_t>(KdTree::kLeaf * tree.padded_dim()));
  for (std::int64_t l = begin; l < end; ++l)
    tree.knn_leaf(tree.leaves()[l], k, out, scratch.data(), qbuf.data(), work);
}

AUTOML_MI_CLONES void count_leaves(const KdTree& tree, const double* radius, std::int64_t begin,
                                   std::int64_t end, std::int64_t* out) {
  std::vector<double> qbuf(static_cast<std::size_t>(KdTree::kLeaf * tree.padded_dim()));
  for (std::int64_t l = begin; l < end; ++l)
    tree.count_leaf(tree.leaves()[l], radius, out, qbuf.data());
}

// Rows are in `order` (points with equal / similar Y adjacent); the candidates of a query block
// are scanned starting at the block itself, so the k-th bound is tight early. Results are
// written by original index order[row].
AUTOML_MI_CLONES void ksg_brute_range(const RowPoints& px, const RowPoints& py,
                                      const std::int64_t* order, int k, std::int64_t begin,
                                      std::int64_t end, double* eps, std::int64_t* nx,
                                      std::int64_t* ny) {
  const std::int64_t n = px.n;
  std::vector<double> scratch(static_cast<std::size_t>(kQueryBlock) * k),
      bx(static_cast<std::size_t>(kQueryBlock * n)), by(bx.size());
  KBest best[kQueryBlock];
  for (std::int64_t i0 = begin; i0 < end; i0 += kQueryBlock) {
    const int qn = static_cast<int>(std::min<std::int64_t>(kQueryBlock, end - i0));
    for (int t = 0; t < qn; ++t)
      best[t] = KBest{scratch.data() + static_cast<std::ptrdiff_t>(t) * k, k};
    for (std::int64_t jj = 0; jj < n; ++jj) {
      const std::int64_t j = i0 + jj < n ? i0 + jj : i0 + jj - n;
      const double* xj = px.row(j);
      const double* yj = py.row(j);
      for (int t = 0; t < qn; ++t) {
        const std::int64_t i = i0 + t;
        double& ax = bx[t * n + j];
        double& ay = by[t * n + j];
        if (j == i) {
          ax = ay = kInf;
          continue;
        }
        const double bound = best[t].bound();
        ax = dist_bounded(px.row(i), xj, px.dp, bound);
        ay = dist_bounded(py.row(i), yj, py.dp, bound);
        const double joint = maxd(ax, ay);
        if (joint < bound) best[t].push(joint);
      }
    }
    for (int t = 0; t < qn; ++t) {
      const double e = best[t].bound();
      const double* rx = bx.data() + t * n;
      const double* ry = by.data() + t * n;
      std::int64_t cx = 0, cy = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        cx += rx[j] < e ? 1 : 0;
        cy += ry[j] < e ? 1 : 0;
      }
      eps[order[i0 + t]] = e;
      nx[order[i0 + t]] = cx;
      ny[order[i0 + t]] = cy;
    }
  }
}

AUTOML_MI_CLONES void kth_brute_range(const RowPoints& p, int k, std::int64_t begin,
                                      std::int64_t end, double* out) {
  std::vector<double> scratch(static_cast<std::size_t>(kQueryBlock) * k);
  KBest best[kQueryBlock];
  for (std::int64_t i0 = begin; i0 < end; i0 += kQueryBlock) {
    const int qn = static_cast<int>(std::min<std::int64_t>(kQueryBlock, end - i0));
    for (int t = 0; t < qn; ++t)
      best[t] = KBest{scratch.data() + static_cast<std::ptrdiff_t>(t) * k, k};
    for (std::int64_t j = 0; j < p.n; ++j)
      for (int t = 0; t < qn; ++t) {
        if (j == i0 + t) continue;
        const double bound = best[t].bound();
        const double a = dist_bounded(p.row(i0 + t), p.row(j), p.dp, bound);
        if (a < bound) best[t].push(a);
      }
    for (int t = 0; t < qn; ++t) out[i0 + t] = best[t].bound();
  }
}

AUTOML_MI_CLONES void count_brute_range(const RowPoints& p, const double* radius,
                                        std::int64_t begin, std::int64_t end, std::int64_t* out) {
  for (std::int64_t i0 = begin; i0 < end; i0 += kQueryBlock) {
    const int qn = static_cast<int>(std::min<std::int64_t>(kQueryBlock, end - i0));
    std::int64_t c[kQueryBlock] = {};
    for (std::int64_t j = 0; j < p.n; ++j)
      for (int t = 0; t < qn; ++t) {
        const std::int64_t i = i0 + t;
        if (j != i && dist_bounded(p.row(i), p.row(j), p.dp, radius[i]) < radius[i]) ++c[t];
      }
    for (int t = 0; t < qn; ++t) out[i0 + t] = c[t];
  }
}

bool use_tree(CpuAlgo algo, std::int64_t d) {
  if (algo == CpuAlgo::kScan || algo == CpuAlgo::kGrouped)
    throw std::invalid_argument("mi: the scan and grouped engines compute the KSG counts only");
  if (algo == CpuAlgo::kKdTree) return true;
  if (algo == CpuAlgo::kBruteForce) return false;
  return d <= kKdTreeMaxDim;
}

void check_args(std::int64_t n, int k) {
  if (k < 1) throw std::invalid_argument("mi: k must be >= 1");
  if (n <= k) throw std::invalid_argument("mi: need more than k samples");
}

// One search over the points `pts` on the engine `algo` picks: leaf_work(tree, b, e) over the
// leaves of a k-d tree (4 leaves a chunk), or row_work(rows, b, e) over the rows (16 a chunk).
template <typename LeafWork, typename RowWork>
void on_tree_or_rows(const double* pts, std::int64_t n, std::int64_t d, CpuAlgo algo, int threads,
                     const LeafWork& leaf_work, const RowWork& row_work) {
  if (use_tree(algo, d)) {
    const KdTree tree(pts, n, d);
    parallel_chunks(static_cast<std::int64_t>(tree.leaves().size()), threads, 4,
                    [&](std::int64_t b, std::int64_t e) { leaf_work(tree, b, e); });
  } else {
    const RowPoints rows(pts, n, d);
    parallel_chunks(n, threads, 16, [&](std::int64_t b, std::int64_t e) { row_work(rows, b, e); });
  }
}

struct Outputs {
  double* eps;
  std::int64_t* nx;
  std::int64_t* ny;
};

// Rows (x_i, y_i) side by side.
std::vector<double> joint_rows(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                               std::int64_t n) {
  const std::int64_t dj = dx + dy;
  std::vector<double> joint(static_cast<std::size_t>(n * dj));
  for (std::int64_t i = 0; i < n; ++i) {
    std::copy(x + i * dx, x + (i + 1) * dx, joint.begin() + i * dj);
    std::copy(y + i * dy, y + (i + 1) * dy, joint.begin() + i * dj + dx);
  }
  return joint;
}

// k-d tree engine: kNN over the leaves of the joint tree, then range counts over the leaves of the
// X and the Y tree.
void tree_engine(const KdTree& tj, const KdTree& tx, const KdTree& ty, int k, int threads,
                 Outputs out) {
  const auto lj = static_cast<std::int64_t>(tj.leaves().size());
  parallel_chunks(lj, threads, 4,
                  [&](std::int64_t b, std::int64_t e) { knn_leaves(tj, k, b, e, out.eps); });
  const auto lx = static_cast<std::int64_t>(tx.leaves().size());
  const auto ly = static_cast<std::int64_t>(ty.leaves().size());
  parallel_chunks(lx + ly, threads, 4, [&](std::int64_t b, std::int64_t e) {
    if (b < lx) count_leaves(tx, out.eps, b, std::min(e, lx), out.nx);
    if (e > lx) count_leaves(ty, out.eps, std::max(b, lx) - lx, e - lx, out.ny);
  });
}

// Pass 1 of the scan over the leaves of the joint tree (the query batches), skipping those with
// done[l] set (already computed by the probe): eps by position.
void scan_pass1(const KdTree& tj, const ScanPoints& sp, int k, int threads,
                const std::vector<char>& done, std::vector<double>& eps_pos) {
  const auto leaves = static_cast<std::int64_t>(tj.leaves().size());
  std::vector<std::unique_ptr<ScanScratch>> scratch(mi::resolve_threads(threads));
  parallel_workers(leaves, threads, 4, [&](int w, std::int64_t b, std::int64_t e) {
    if (!scratch[w]) scratch[w] = std::make_unique<ScanScratch>(sp, k);
    for (std::int64_t l = b; l < e; ++l) {
      if (done[l]) continue;
      const auto [qb, qe] = tj.leaf_range(l);
      scan_knn(sp, k, qb, qe, *scratch[w], eps_pos.data(), nullptr);
    }
  });
}

// Pass 2 over the tile rows (the first rows are the longest: dynamic chunks of one row keep the
// threads balanced), then the per-thread counts summed (integers: any order gives the same).
void scan_pass2(const ScanPoints& sp, const std::vector<double>& eps_pos, int threads,
                Outputs out) {
  const ScanRadii radii(sp, eps_pos);
  const int workers = mi::resolve_threads(threads);
  std::vector<std::vector<std::int32_t>> cx(workers), cy(workers);
  parallel_workers(sp.tiles, threads, 1, [&](int w, std::int64_t b, std::int64_t e) {
    if (cx[w].empty()) {
      cx[w].assign(sp.stride, 0);
      cy[w].assign(sp.stride, 0);
    }
    for (std::int64_t a = b; a < e; ++a)
      scan_count_row(sp, radii, a, cx[w].data(), cy[w].data(), nullptr);
  });
  for (std::int64_t p = 0; p < sp.n; ++p) {
    std::int64_t sx = 0, sy = 0;
    for (int w = 0; w < workers; ++w) {
      if (cx[w].empty()) continue;
      sx += cx[w][p];
      sy += cy[w][p];
    }
    const std::int64_t i = sp.order[p];
    out.eps[i] = eps_pos[p];
    out.nx[i] = sx;
    out.ny[i] = sy;
  }
}

// Cost per unit of the probe's counts in nanoseconds of one core, fitted by bench/mi_calibrate.py
// (non-negative least squares on the relative error) to the single-thread times of both engines
// that `bench_mi --calibrate` measures on 22 inputs (docs/mi.md, "Algorithms"). Tree:
// per query, each (query, leaf) block of kLeaf x dj distances and each node x dj a batch visits
// (the marginal counts track the kNN work). Scan: per query, each float pair-coordinate of pass
// 1 and of pass 2, each box check of pass 2 and each exact distance coordinate (the fit gives the
// candidates for the k best no weight of their own).
constexpr double kTreeQueryCost = 544, kTreeLeafCoordCost = 0.176, kTreeNodeCost = 19.2;
constexpr double kScanQueryCost = 510, kScanKnnCoordCost = 0.0496, kScanCountCoordCost = 0.0687;
constexpr double kScanCountBoxCost = 207, kScanExactCost = 0.624;

// Tiles the probe's pass 2 computes per sampled batch (every tiles / kProbeTiles-th).
constexpr std::int64_t kProbeTiles = 64;

double tree_cost(const EngineProbe& p, double dj) {
  return static_cast<double>(p.queries) * kTreeQueryCost +
         static_cast<double>(p.tree.leaf_blocks) * KdTree::kLeaf * dj * kTreeLeafCoordCost +
         static_cast<double>(p.tree.nodes) * dj * kTreeNodeCost;
}

// Pass 2 is measured on the sample's own side: half of it is the sample's share of pass 2,
// where each pair counts for both points.
double scan_cost(const EngineProbe& p, double dj) {
  const ScanWork &k = p.scan_knn, &c = p.scan_count;
  return static_cast<double>(p.queries) * kScanQueryCost +
         static_cast<double>(k.coords) * kScanKnnCoordCost +
         0.5 * static_cast<double>(c.coords) * kScanCountCoordCost +
         0.5 * static_cast<double>(c.box_checks) * kScanCountBoxCost +
         (static_cast<double>(k.exact) + 0.5 * static_cast<double>(c.exact)) * dj * kScanExactCost;
}

// The probe's sample: about n / 64 queries, at least 64 and at most 256, in whole leaves evenly
// spaced in the tree order; enough for costs within ~10 %, while the loser's share of the work
// is wasted.
std::vector<std::int64_t> sample_leaves(const KdTree& tj, std::int64_t n) {
  const auto leaves = static_cast<std::int64_t>(tj.leaves().size());
  const std::int64_t want = std::clamp<std::int64_t>(n / 64, 64, 256);
  const std::int64_t samples = std::clamp<std::int64_t>((want * leaves + n - 1) / n, 1, leaves);
  std::vector<std::int64_t> sample;
  for (std::int64_t j = 0; j < samples; ++j) sample.push_back((2 * j + 1) * leaves / (2 * samples));
  return sample;
}

// The tree's kNN on the sample: work counted, results dropped.
void probe_tree(const KdTree& tj, int k, const std::vector<std::int64_t>& sample, EngineProbe& p) {
  std::vector<double> eps(static_cast<std::size_t>(tj.order().size()));
  for (const std::int64_t l : sample) {
    knn_leaves(tj, k, l, l + 1, eps.data(), &p.tree);
    const auto [qb, qe] = tj.leaf_range(l);
    p.queries += qe - qb;
  }
}

// A tree whose kNN computes distances to fewer than this fraction of the points per query won on
// every calibration input (its marginal counts prune as well); the scan is then not probed.
constexpr double kTreeClearFraction = 0.1;

bool tree_clearly_cheaper(const EngineProbe& p, std::int64_t n) {
  const double per_query = static_cast<double>(p.tree.leaf_blocks) * KdTree::kLeaf /
                           static_cast<double>(std::max<std::int64_t>(p.queries, 1));
  return per_query < kTreeClearFraction * static_cast<double>(n);
}

// The scan on the sample: pass 1 kept (done[l] = 1, eps_pos), pass 2 measured on the sample's
// own side, on every stride-th tile (the offset moving with the sample) and scaled back: its
// distance work is what the probe would otherwise spend most on, and is lost if the tree wins.
void probe_scan(const KdTree& tj, const ScanPoints& sp, int k,
                const std::vector<std::int64_t>& sample, std::vector<char>& done,
                std::vector<double>& eps_pos, EngineProbe& p) {
  ScanScratch scratch(sp, k);
  for (const std::int64_t l : sample) {
    const auto [qb, qe] = tj.leaf_range(l);
    scan_knn(sp, k, qb, qe, scratch, eps_pos.data(), &p.scan_knn);
    done[l] = 1;
  }
  const ScanRadii radii(sp, eps_pos);  // only the sample's entries are used
  const std::int64_t stride = std::max<std::int64_t>(1, sp.tiles / kProbeTiles);
  std::vector<std::int32_t> cx(sp.stride), cy(sp.stride);
  for (std::size_t j = 0; j < sample.size(); ++j) {
    const auto [qb, qe] = tj.leaf_range(sample[j]);
    scan_count_queries(sp, radii, qb, qe, static_cast<std::int64_t>(j), stride, scratch, cx.data(),
                       cy.data(), &p.scan_count);
  }
  p.scan_count.coords *= stride;
  p.scan_count.box_checks *= stride;
  p.scan_count.exact *= stride;
}

}  // namespace

void parallel_workers(std::int64_t n, int threads, std::int64_t chunk,
                      const std::function<void(int, std::int64_t, std::int64_t)>& f) {
  if (n <= 0) return;
  chunk = std::max<std::int64_t>(chunk, 1);
  const std::int64_t nchunks = (n + chunk - 1) / chunk;
  const int nt = static_cast<int>(std::min<std::int64_t>(mi::resolve_threads(threads), nchunks));
  std::atomic<std::int64_t> next{0};
  auto work = [&](int worker) {
    for (;;) {
      const std::int64_t c = next.fetch_add(1);
      if (c >= nchunks) return;
      f(worker, c * chunk, std::min(n, (c + 1) * chunk));
    }
  };
  if (nt <= 1) {
    work(0);
    return;
  }
  if (run_on_pool(nt, work)) return;
  std::vector<std::thread> pool;
  pool.reserve(nt - 1);
  for (int t = 1; t < nt; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
}

void parallel_chunks(std::int64_t n, int threads, std::int64_t chunk,
                     const std::function<void(std::int64_t, std::int64_t)>& f) {
  parallel_workers(n, threads, chunk, [&](int, std::int64_t b, std::int64_t e) { f(b, e); });
}

namespace {

// What the tree and the scan start from: the joint tree (whose leaves are both engines' query
// batches), the scan's points, the marginal trees when the tree may run, and what the probe
// already computed.
struct Prepared {
  std::vector<double> joint;
  std::unique_ptr<KdTree> tj, tx, ty;
  std::unique_ptr<ScanPoints> sp;
  std::vector<char> done;
  std::vector<double> eps_pos;
  CpuAlgo choice = CpuAlgo::kAuto;
};

// Builds what `algo` needs and, for kAuto, runs the probe. With more than one thread kAuto builds
// the marginal trees while the probe runs (they are ready if the tree wins, and the core would
// otherwise wait); with one thread only once the tree has won.
Prepared prepare(const double* x, std::int64_t dx, const double* y, std::int64_t dy, std::int64_t n,
                 int k, CpuAlgo algo, int threads, EngineProbe* report, bool probe_both = false) {
  Prepared pr;
  pr.choice = algo;
  const int build_threads = n >= 512 ? threads : 1;  // below, a thread costs more than a tree
  const bool marginal_trees = algo == CpuAlgo::kKdTree ||
                              (algo == CpuAlgo::kAuto && mi::resolve_threads(build_threads) > 1);
  // kAuto: the tree's probe first; the scan's only when the tree does not clearly win.
  auto joint_side = [&] {
    pr.joint = joint_rows(x, dx, y, dy, n);
    pr.tj = std::make_unique<KdTree>(pr.joint.data(), n, dx + dy);
    if (algo == CpuAlgo::kKdTree) return;
    EngineProbe probe;
    const std::vector<std::int64_t> sample = sample_leaves(*pr.tj, n);
    if (algo == CpuAlgo::kAuto) {
      probe_tree(*pr.tj, k, sample, probe);
      pr.choice = CpuAlgo::kKdTree;
    }
    if (algo == CpuAlgo::kScan || probe_both || !tree_clearly_cheaper(probe, n)) {
      pr.sp = std::make_unique<ScanPoints>(x, dx, y, dy, n, pr.tj->order().data());
      pr.done.assign(pr.tj->leaves().size(), 0);
      pr.eps_pos.assign(n, 0.0);
      // The scan refuses coordinates whose range overflows float64 (kAuto: the tree runs).
      if (algo == CpuAlgo::kAuto && pr.sp->usable()) {
        probe_scan(*pr.tj, *pr.sp, k, sample, pr.done, pr.eps_pos, probe);
        const double dj = static_cast<double>(dx + dy);
        probe.tree_cost = tree_cost(probe, dj);
        probe.scan_cost = scan_cost(probe, dj);
        pr.choice = probe.tree_cost < probe.scan_cost ? CpuAlgo::kKdTree : CpuAlgo::kScan;
      }
    }
    probe.choice = pr.choice;
    if (report != nullptr && algo == CpuAlgo::kAuto) *report = probe;
  };
  auto build_marginal = [&](std::int64_t t) {
    (t == 0 ? pr.tx : pr.ty) = std::make_unique<KdTree>(t == 0 ? x : y, n, t == 0 ? dx : dy);
  };
  parallel_chunks(marginal_trees ? 3 : 1, build_threads, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e; ++t) {
      if (t == 0)
        joint_side();
      else
        build_marginal(t - 1);
    }
  });
  if (pr.choice == CpuAlgo::kKdTree && !pr.tx)
    parallel_chunks(2, build_threads, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t t = b; t < e; ++t) build_marginal(t);
    });
  return pr;
}

}  // namespace

namespace {

// kAuto and kGrouped: the grouped engine when Y falls apart into groups it can prove exact.
// True when it computed the counts; a forced kGrouped throws where kAuto moves on.
bool try_grouped(const double* x, std::int64_t dx, const double* y, std::int64_t dy, std::int64_t n,
                 int k, CpuAlgo algo, int threads, const Outputs& out) {
  if (algo != CpuAlgo::kAuto && algo != CpuAlgo::kGrouped) return false;
  const YGroups groups = group_rows(y, dy, n, k);
  const bool forced = algo == CpuAlgo::kGrouped;
  if (!groups.declined.empty()) {
    if (forced) throw std::invalid_argument("mi: the grouped engine declines: " + groups.declined);
    return false;
  }
  if (grouped_counts(x, dx, y, dy, n, k, groups, threads, out.eps, out.nx, out.ny)) return true;
  if (forced)
    throw std::invalid_argument(
        "mi: the grouped engine declines: a k-th neighbour distance exceeds its group's "
        "separation in Y");
  return false;
}

}  // namespace

CpuAlgo ksg_counts_cpu(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                       std::int64_t n, int k, CpuAlgo algo, int threads, double* eps,
                       std::int64_t* nx, std::int64_t* ny, EngineProbe* report) {
  check_args(n, k);
  const Outputs out{eps, nx, ny};
  if (try_grouped(x, dx, y, dy, n, k, algo, threads, out)) return CpuAlgo::kGrouped;
  if (algo == CpuAlgo::kBruteForce || (algo == CpuAlgo::kAuto && dx + dy > kKdTreeMaxDim)) {
    // Order the points as the leaves of a k-d tree on Y (with class labels: class by class).
    const std::vector<std::int64_t> order = KdTree(y, n, dy).order();
    const RowPoints px(x, n, dx, order.data()), py(y, n, dy, order.data());
    parallel_chunks(n, threads, 16, [&](std::int64_t b, std::int64_t e) {
      ksg_brute_range(px, py, order.data(), k, b, e, eps, nx, ny);
    });
    return CpuAlgo::kBruteForce;
  }
  Prepared pr = prepare(x, dx, y, dy, n, k, algo, threads, report);
  if (pr.choice == CpuAlgo::kKdTree) {  // recomputes the probe's sample too
    tree_engine(*pr.tj, *pr.tx, *pr.ty, k, threads, out);
    return CpuAlgo::kKdTree;
  }
  if (!pr.sp->usable())
    throw std::invalid_argument(
        "mi: the scan engine needs n < 2^31 and every coordinate's range finite in float64");
  scan_pass1(*pr.tj, *pr.sp, k, threads, pr.done, pr.eps_pos);
  scan_pass2(*pr.sp, pr.eps_pos, threads, out);
  return CpuAlgo::kScan;
}

namespace {

// Rows in slabs along the coordinate of widest range: a counting sort into about n / 8 equal
// buckets (O(n), where the k-d tree's order costs O(n d log n)), so that the scan's tiles of 64
// consecutive rows are thin in that coordinate and far tiles are skipped. Any order gives the
// same counts; this one only decides how much the tile boxes prune.
std::vector<std::int64_t> slab_order(const double* pts, std::int64_t n, std::int64_t d) {
  std::int64_t widest = 0;
  double lo = 0, hi = 0, widest_range = -1;
  for (std::int64_t c = 0; c < d; ++c) {
    double l = pts[c], h = pts[c];
    for (std::int64_t i = 1; i < n; ++i) {
      l = std::min(l, pts[i * d + c]);
      h = std::max(h, pts[i * d + c]);
    }
    if (h - l > widest_range) {
      widest = c;
      widest_range = h - l;
      lo = l;
      hi = h;
    }
  }
  const std::int64_t buckets = std::max<std::int64_t>(1, n / 8);
  const double scale =
      hi > lo && std::isfinite(hi - lo) ? static_cast<double>(buckets) / (hi - lo) : 0;
  auto bucket = [&](std::int64_t i) {
    const double t = (pts[i * d + widest] - lo) * scale;
    return t >= static_cast<double>(buckets - 1) ? buckets - 1
                                                 : static_cast<std::int64_t>(std::max(t, 0.0));
  };
  std::vector<std::int64_t> start(buckets + 1, 0), order(n);
  for (std::int64_t i = 0; i < n; ++i) ++start[bucket(i) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  for (std::int64_t i = 0; i < n; ++i) order[start[bucket(i)]++] = i;
  return order;
}

}  // namespace

// One of the three: the scan (order + points), the k-d tree, or the brute force's rows.
struct RangeCounter::Engines {
  std::vector<std::int64_t> order;  // the scan's position -> row
  std::unique_ptr<ScanPoints> scan;
  std::unique_ptr<KdTree> tree;
  std::unique_ptr<RowPoints> rows;
};

RangeCounter::RangeCounter(const double* pts, std::int64_t n, std::int64_t d)
    : engines_(std::make_unique<Engines>()) {
  Engines& e = *engines_;
  if (n <= kScanCountMaxRows && d <= kKdTreeMaxDim) {
    e.order = slab_order(pts, n, d);
    e.scan = std::make_unique<ScanPoints>(pts, d, pts, 0, n, e.order.data());
    if (e.scan->usable()) return;
    e.scan.reset();
  }
  if (d <= kKdTreeMaxDim)
    e.tree = std::make_unique<KdTree>(pts, n, d);
  else
    e.rows = std::make_unique<RowPoints>(pts, n, d);
}

RangeCounter::~RangeCounter() = default;

void RangeCounter::count(const double* radius, int threads, std::int64_t* out) const {
  const Engines& e = *engines_;
  if (e.tree) {
    parallel_chunks(
        static_cast<std::int64_t>(e.tree->leaves().size()), threads, 4,
        [&](std::int64_t b, std::int64_t end) { count_leaves(*e.tree, radius, b, end, out); });
    return;
  }
  if (e.rows) {
    parallel_chunks(e.rows->n, threads, 16, [&](std::int64_t b, std::int64_t end) {
      count_brute_range(*e.rows, radius, b, end, out);
    });
    return;
  }
  const ScanPoints& sp = *e.scan;
  std::vector<double> radius_pos(sp.n);
  for (std::int64_t p = 0; p < sp.n; ++p) radius_pos[p] = radius[e.order[p]];
  const ScanRadii radii(sp, radius_pos);
  std::vector<std::vector<std::int32_t>> counts(mi::resolve_threads(threads));
  // Dynamic chunks of one tile row: the first rows are the longest.
  parallel_workers(sp.tiles, threads, 1, [&](int w, std::int64_t b, std::int64_t end) {
    if (counts[w].empty()) counts[w].assign(sp.stride, 0);
    for (std::int64_t a = b; a < end; ++a) scan_count_row_x(sp, radii, a, counts[w].data());
  });
  for (std::int64_t p = 0; p < sp.n; ++p) {
    std::int64_t sum = 0;  // integers: the order of the per-thread counts does not matter
    for (const auto& c : counts)
      if (!c.empty()) sum += c[p];
    out[e.order[p]] = sum;
  }
}

CpuAlgo choose_cpu_engine(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                          std::int64_t n, int k, EngineProbe* report, bool probe_both) {
  check_args(n, k);
  if (!probe_both) {
    std::vector<double> eps(n);
    std::vector<std::int64_t> nx(n), ny(n);
    if (try_grouped(x, dx, y, dy, n, k, CpuAlgo::kAuto, 1,
                    Outputs{eps.data(), nx.data(), ny.data()}))
      return CpuAlgo::kGrouped;
  }
  if (dx + dy > kKdTreeMaxDim) return CpuAlgo::kBruteForce;
  return prepare(x, dx, y, dy, n, k, CpuAlgo::kAuto, 1, report, probe_both).choice;
}

void kth_distances(const double* pts, std::int64_t n, std::int64_t d, int k, CpuAlgo algo,
                   int threads, double* out) {
  check_args(n, k);
  on_tree_or_rows(
      pts, n, d, algo, threads,
      [&](const KdTree& tree, std::int64_t b, std::int64_t e) { knn_leaves(tree, k, b, e, out); },
      [&](const RowPoints& p, std::int64_t b, std::int64_t e) {
        kth_brute_range(p, k, b, e, out);
      });
}

void range_counts(const double* pts, std::int64_t n, std::int64_t d, const double* radius,
                  CpuAlgo algo, int threads, std::int64_t* out) {
  if (n <= 0) return;
  on_tree_or_rows(
      pts, n, d, algo, threads,
      [&](const KdTree& tree, std::int64_t b, std::int64_t e) {
        count_leaves(tree, radius, b, e, out);
      },
      [&](const RowPoints& p, std::int64_t b, std::int64_t e) {
        count_brute_range(p, radius, b, e, out);
      });
}

}  // namespace automl::mi::detail

namespace automl::mi {

int resolve_threads(int threads, int sharers) {
  if (threads > 0) return threads;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, sharers));
}

}  // namespace automl::mi
