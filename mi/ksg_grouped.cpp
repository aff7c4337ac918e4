#include "mi/ksg_grouped.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>

#include "mi/kbest.h"
#include "mi/ksg_cpu.h"

namespace automl::mi::detail {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Buckets per dimension: a run of occupied buckets is one 1-D cluster, so levels further apart
// than range / kBuckets fall into different clusters (0 / 1 of one-hot labels, up to ~100
// evenly spaced levels), while continuous values fill the buckets and form one cluster.
constexpr int kBuckets = 256;

// Columns whose range is below this fraction of the widest column's are left out of the key: a
// label absent from the rows leaves a one-hot column of jitter alone, whose buckets would split
// every group. (Leaving a column out only makes groups coarser; the bounds still decide.)
constexpr double kNarrowColumn = 1e-6;

// More groups than this: the O(groups^2 dy) bounds would cost more than they save.
constexpr std::int64_t kMaxGroups = 1024;

struct Range {
  double lo = kInf, hi = -kInf;
};

std::vector<Range> column_ranges(const double* y, std::int64_t dy, std::int64_t n) {
  std::vector<Range> r(dy);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < dy; ++c) {
      r[c].lo = std::min(r[c].lo, y[i * dy + c]);
      r[c].hi = std::max(r[c].hi, y[i * dy + c]);
    }
  return r;
}

int bucket_of(double v, const Range& r, double scale) {
  const double t = (v - r.lo) * scale;
  if (!(t >= 0)) return 0;  // also NaN: any bucket is valid, the bounds decide
  return t >= kBuckets - 1 ? kBuckets - 1 : static_cast<int>(t);
}

// Mixes column c's cluster id of every row into key[row].
void mix_column_clusters(const double* y, std::int64_t dy, std::int64_t n, std::int64_t c,
                         const Range& r, std::vector<std::uint64_t>& key) {
  if (!(r.hi > r.lo)) return;  // constant column: one cluster
  const double scale = kBuckets / (r.hi - r.lo);
  std::vector<char> occupied(kBuckets, 0);
  for (std::int64_t i = 0; i < n; ++i) occupied[bucket_of(y[i * dy + c], r, scale)] = 1;
  std::vector<std::uint64_t> cluster(kBuckets, 0);
  for (int b = 1; b < kBuckets; ++b)  // an empty bucket before an occupied one starts a run
    cluster[b] = cluster[b - 1] + (occupied[b] != 0 && occupied[b - 1] == 0 ? 1 : 0);
  for (std::int64_t i = 0; i < n; ++i)
    key[i] = key[i] * 0x100000001B3ULL + cluster[bucket_of(y[i * dy + c], r, scale)] + 1;
}

// Rows with equal keys form a group (a hash collision merges two groups: still exact, since
// the bounds are taken from the merged group's rows). Declines above `max_groups`. The keys go
// through an open-addressing table of at least twice max_groups slots.
bool assign_groups(const std::vector<std::uint64_t>& key, std::int64_t max_groups, YGroups& g) {
  int bits = 4;
  while ((std::int64_t{1} << bits) < 2 * max_groups) ++bits;
  const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
  std::vector<std::uint64_t> slot_key(mask + 1);
  std::vector<std::int32_t> slot_group(mask + 1, -1);
  std::vector<std::int64_t> sizes;
  g.group_of.resize(key.size());
  for (std::size_t i = 0; i < key.size(); ++i) {
    std::uint64_t h = (key[i] * 0x9E3779B97F4A7C15ULL) >> (64 - bits);
    while (slot_group[h] >= 0 && slot_key[h] != key[i]) h = (h + 1) & mask;
    if (slot_group[h] < 0) {
      if (static_cast<std::int64_t>(sizes.size()) >= max_groups) return false;
      slot_group[h] = static_cast<std::int32_t>(sizes.size());
      slot_key[h] = key[i];
      sizes.push_back(0);
    }
    g.group_of[i] = slot_group[h];
    ++sizes[slot_group[h]];
  }
  g.members.resize(sizes.size());
  for (std::size_t a = 0; a < sizes.size(); ++a) g.members[a].reserve(sizes[a]);
  for (std::size_t i = 0; i < key.size(); ++i)
    g.members[g.group_of[i]].push_back(static_cast<std::int64_t>(i));
  return true;
}

// Per group and column, the [lo, hi] of its rows; then the bounds of YGroups. For a in group A
// and b in group B with hi_A <= lo_B in column c, b_c - a_c >= lo_B - hi_A, and rounding is
// monotone, so the computed |a_c - b_c| >= fl(lo_B - hi_A): a bound on the rounded distance.
void group_bounds(const double* y, std::int64_t dy, YGroups& g) {
  const auto groups = static_cast<std::int64_t>(g.members.size());
  std::vector<Range> box(static_cast<std::size_t>(groups * dy));
  for (std::size_t i = 0; i < g.group_of.size(); ++i)
    for (std::int64_t c = 0; c < dy; ++c) {
      Range& r = box[g.group_of[i] * dy + c];
      r.lo = std::min(r.lo, y[i * dy + c]);
      r.hi = std::max(r.hi, y[i * dy + c]);
    }
  g.separation.assign(groups, kInf);
  g.extent.assign(groups, 0.0);
  for (std::int64_t a = 0; a < groups; ++a) {
    for (std::int64_t c = 0; c < dy; ++c)
      g.extent[a] = std::max(g.extent[a], box[a * dy + c].hi - box[a * dy + c].lo);
    for (std::int64_t b = a + 1; b < groups; ++b) {
      double gap = 0;
      for (std::int64_t c = 0; c < dy; ++c) {
        const Range &ra = box[a * dy + c], &rb = box[b * dy + c];
        gap = std::max({gap, rb.lo - ra.hi, ra.lo - rb.hi});
      }
      g.separation[a] = std::min(g.separation[a], gap);
      g.separation[b] = std::min(g.separation[b], gap);
    }
  }
}

YGroups declined(const std::string& why) {
  YGroups g;
  g.declined = why;
  return g;
}

}  // namespace

YGroups group_rows(const double* y, std::int64_t dy, std::int64_t n, int k) {
  std::vector<std::uint64_t> key(n, 0);
  const std::vector<Range> ranges = column_ranges(y, dy, n);
  double widest = 0;
  for (const Range& r : ranges) widest = std::max(widest, r.hi - r.lo);
  for (std::int64_t c = 0; c < dy; ++c)
    if (ranges[c].hi - ranges[c].lo >= kNarrowColumn * widest)
      mix_column_clusters(y, dy, n, c, ranges[c], key);
  YGroups g;
  const std::int64_t max_groups = std::min(kMaxGroups, n / (k + 1));
  if (!assign_groups(key, max_groups, g))
    return declined("Y has more than " + std::to_string(max_groups) + " groups");
  if (g.members.size() < 2) return declined("Y forms a single group");
  for (const auto& m : g.members)
    if (static_cast<std::int64_t>(m.size()) <= k)
      return declined("a group of Y has " + std::to_string(m.size()) +
                      " rows, k = " + std::to_string(k) + " needs more");
  group_bounds(y, dy, g);
  return g;
}

namespace {

// Rows `rows` of a row-major [*, d] array, contiguous.
std::vector<double> gather_rows(const double* pts, std::int64_t d,
                                const std::vector<std::int64_t>& rows) {
  std::vector<double> out(rows.size() * static_cast<std::size_t>(d));
  for (std::size_t a = 0; a < rows.size(); ++a)
    std::copy(pts + rows[a] * d, pts + (rows[a] + 1) * d, out.begin() + a * d);
  return out;
}

// Rows `rows` of (x, y) side by side.
std::vector<double> gather_joint(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                                 const std::vector<std::int64_t>& rows) {
  const std::int64_t dj = dx + dy;
  std::vector<double> out(rows.size() * static_cast<std::size_t>(dj));
  for (std::size_t a = 0; a < rows.size(); ++a) {
    std::copy(x + rows[a] * dx, x + (rows[a] + 1) * dx, out.begin() + a * dj);
    std::copy(y + rows[a] * dy, y + (rows[a] + 1) * dy, out.begin() + a * dj + dx);
  }
  return out;
}

// Groups up to this size (and joint dimension up to kKdTreeMaxDim) take the all-pairs kNN
// below; larger ones the k-d tree of kth_distances, whose pruning then pays for its build
// (softmax outputs, one thread: groups of ~300 rows are 13 % faster all-pairs, of ~1000 rows
// 9 % faster on the tree; bench_mi, 2026-12-01).
constexpr std::int64_t kSmallGroup = 512;

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define AUTOML_MI_GROUPED_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define AUTOML_MI_GROUPED_CLONES
#endif

// dist[j] = max_c |cols[c][j] - cols[c][a]| over d columns of length m (the max-norm every
// engine evaluates; max is exact, so the order of coordinates does not matter). Returns how
// many of them (a itself included) are <= `extent`.
AUTOML_MI_GROUPED_CLONES std::int64_t column_distances(const double* cols, std::int64_t m,
                                                       std::int64_t d, std::int64_t a,
                                                       double extent, double* __restrict dist) {
  std::fill(dist, dist + m, 0.0);
  for (std::int64_t c = 0; c < d; ++c) {
    const double* __restrict col = cols + c * m;
    const double q = col[a];
    for (std::int64_t j = 0; j < m; ++j) {
      const double t = std::fabs(col[j] - q);
      dist[j] = t > dist[j] ? t : dist[j];
    }
  }
  std::int64_t within = 0;
  for (std::int64_t j = 0; j < m; ++j) within += dist[j] <= extent ? 1 : 0;
  return within;
}

// Rows are padded with +inf to a multiple of kLanes for the selection below.
constexpr std::int64_t kLanes = 8;
// k up to this takes the vector selection; above, a sorted k best per row (KBest).
constexpr int kVectorK = 8;

using v4d = double __attribute__((vector_size(32)));
using v4du = double __attribute__((vector_size(32), aligned(8), may_alias));

// Per lane of 8, the K smallest of dist[lane], dist[lane + 8], ... kept sorted by a min/max
// insertion network (branch-free; each step only permutes values, so the lanes hold exactly
// the K smallest of their entries, ties included). The k-th smallest of the row is the k-th
// smallest of these 8 K values.
template <int K>
AUTOML_MI_KBEST_INLINE double kth_by_lanes(const double* dist, std::int64_t padded, double* store) {
  const v4d inf = {kInf, kInf, kInf, kInf};
  v4d best[K][2];
  for (auto& b : best) b[0] = b[1] = inf;
  for (std::int64_t j = 0; j < padded; j += kLanes) {
    v4d v[2] = {*reinterpret_cast<const v4du*>(dist + j),
                *reinterpret_cast<const v4du*>(dist + j + 4)};
    for (int r = 0; r < K; ++r)
      for (int h = 0; h < 2; ++h) {
        const auto lower = v[h] < best[r][h];
        const v4d kept = lower ? v[h] : best[r][h];
        v[h] = lower ? best[r][h] : v[h];
        best[r][h] = kept;
      }
  }
  KBest kb{store, K};
  for (int r = 0; r < K; ++r)
    for (int h = 0; h < 2; ++h)
      for (int t = 0; t < 4; ++t)
        if (best[r][h][t] < kb.bound()) kb.push(best[r][h][t]);
  return kb.bound();
}

// The k-th smallest of dist[0..padded) (store: k doubles).
AUTOML_MI_GROUPED_CLONES double kth_of_row(const double* dist, std::int64_t padded, int k,
                                           double* store) {
  switch (k) {
    case 1:
      return kth_by_lanes<1>(dist, padded, store);
    case 2:
      return kth_by_lanes<2>(dist, padded, store);
    case 3:
      return kth_by_lanes<3>(dist, padded, store);
    case 4:
      return kth_by_lanes<4>(dist, padded, store);
    case 5:
      return kth_by_lanes<5>(dist, padded, store);
    case 6:
      return kth_by_lanes<6>(dist, padded, store);
    case 7:
      return kth_by_lanes<7>(dist, padded, store);
    case 8:
      return kth_by_lanes<8>(dist, padded, store);
    default:
      break;
  }
  KBest kb{store, k};
  for (std::int64_t j = 0; j < padded; ++j)
    if (dist[j] < kb.bound()) kb.push(dist[j]);
  return kb.bound();
}

// Rows `rows` of a row-major [*, d] array as d columns of length rows.size().
std::vector<double> gather_columns(const double* pts, std::int64_t d,
                                   const std::vector<std::int64_t>& rows) {
  const auto m = static_cast<std::int64_t>(rows.size());
  std::vector<double> cols(static_cast<std::size_t>(m * d));
  for (std::int64_t a = 0; a < m; ++a)
    for (std::int64_t c = 0; c < d; ++c) cols[c * m + a] = pts[rows[a] * d + c];
  return cols;
}

// max(dist, max_c |a_c - b_c|): the joint distance from the X distance where Y may decide, or
// (from 0) the distance in one marginal.
AUTOML_MI_KBEST_INLINE double joint_distance(double dist, const double* ya, const double* yj,
                                             std::int64_t dy) {
  for (std::int64_t c = 0; c < dy; ++c) dist = std::max(dist, std::fabs(ya[c] - yj[c]));
  return dist;
}

// k-th smallest joint distance from each row of a small group to the others, all pairs.
// Within the group every Y distance is at most `extent`, so where the X distance exceeds it,
// it is the joint distance max(dx, dy) exactly; in the rare row where some X distance does
// not, Y is computed for those pairs before the selection.
void small_group_kth(const double* x, std::int64_t dx, const double* y, std::int64_t dy, int k,
                     const std::vector<std::int64_t>& rows, double extent, double* out) {
  const auto m = static_cast<std::int64_t>(rows.size());
  const std::int64_t padded = (m + kLanes - 1) / kLanes * kLanes;
  const std::vector<double> xc = gather_columns(x, dx, rows);
  std::vector<double> dist(padded, kInf), store(k);
  for (std::int64_t a = 0; a < m; ++a) {
    const bool y_decides = column_distances(xc.data(), m, dx, a, extent, dist.data()) > 1;
    dist[a] = kInf;  // self excluded
    if (y_decides)
      for (std::int64_t j = 0; j < m; ++j)
        if (!(dist[j] > extent))
          dist[j] = joint_distance(dist[j], y + rows[a] * dy, y + rows[j] * dy, dy);
    out[a] = kth_of_row(dist.data(), padded, k, store.data());
  }
}

// k-th smallest joint distance from each row of group g to the others.
void group_kth(const double* x, std::int64_t dx, const double* y, std::int64_t dy, int k,
               const YGroups& groups, std::int64_t g, double* out) {
  const std::vector<std::int64_t>& rows = groups.members[g];
  const auto m = static_cast<std::int64_t>(rows.size());
  if (m <= kSmallGroup && dx + dy <= kKdTreeMaxDim) {
    small_group_kth(x, dx, y, dy, k, rows, groups.extent[g], out);
    return;
  }
  const std::vector<double> joint = gather_joint(x, dx, y, dy, rows);
  kth_distances(joint.data(), m, dx + dy, k, CpuAlgo::kAuto, 1, out);
}

// Rows per large group whose eps is checked against the separation before the group's search.
constexpr std::int64_t kSampleRows = 8;

// Whether kSampleRows evenly spaced rows of a large group have their k-th joint distance within
// the group (all pairs) at most its separation. Where some eps exceeds it (Gaussian T against
// labels), the sample usually shows it at a small part of the search's cost, which is then saved.
bool sample_within_separation(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                              int k, const YGroups& groups, std::int64_t g) {
  const std::vector<std::int64_t>& rows = groups.members[g];
  const auto m = static_cast<std::int64_t>(rows.size());
  std::vector<double> store(k);
  for (std::int64_t s = 0; s < kSampleRows; ++s) {
    const std::int64_t a = s * m / kSampleRows;
    KBest best{store.data(), k};
    for (std::int64_t j = 0; j < m; ++j) {
      if (j == a) continue;
      const double d = joint_distance(joint_distance(0.0, x + rows[a] * dx, x + rows[j] * dx, dx),
                                      y + rows[a] * dy, y + rows[j] * dy, dy);
      if (d < best.bound()) best.push(d);
    }
    if (!(best.bound() <= groups.separation[g])) return false;
  }
  return true;
}

// eps and ny of the rows of group g (one thread); false when some eps exceeds the separation.
bool group_eps_ny(const double* x, std::int64_t dx, const double* y, std::int64_t dy, int k,
                  const YGroups& groups, std::int64_t g, double* eps, std::int64_t* ny) {
  const std::vector<std::int64_t>& rows = groups.members[g];
  const auto m = static_cast<std::int64_t>(rows.size());
  if (m > kSmallGroup && !sample_within_separation(x, dx, y, dy, k, groups, g)) return false;
  std::vector<double> r(m);
  group_kth(x, dx, y, dy, k, groups, g, r.data());
  bool whole_group = true;  // every row of the group is nearer than eps in Y
  for (std::int64_t a = 0; a < m; ++a) {
    if (!(r[a] <= groups.separation[g])) return false;
    whole_group = whole_group && r[a] > groups.extent[g];
    eps[rows[a]] = r[a];
  }
  std::vector<std::int64_t> count(m, m - 1);
  if (!whole_group) {
    const std::vector<double> ys = gather_rows(y, dy, rows);
    range_counts(ys.data(), m, dy, r.data(), CpuAlgo::kAuto, 1, count.data());
  }
  for (std::int64_t a = 0; a < m; ++a) ny[rows[a]] = count[a];
  return true;
}

}  // namespace

bool grouped_counts(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                    std::int64_t n, int k, const YGroups& groups, int threads, double* eps,
                    std::int64_t* nx, std::int64_t* ny) {
  // In X the groups separate nothing: nx is a range count over all rows, whose set-up is task 0
  // beside the groups' kNN.
  std::unique_ptr<RangeCounter> counter;
  std::atomic<bool> exact{true};
  const auto tasks = static_cast<std::int64_t>(groups.members.size()) + 1;
  parallel_chunks(tasks, threads, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t t = b; t < e && exact.load(); ++t) {
      if (t == 0)
        counter = std::make_unique<RangeCounter>(x, n, dx);
      else if (!group_eps_ny(x, dx, y, dy, k, groups, t - 1, eps, ny))
        exact.store(false);
    }
  });
  if (!exact.load()) return false;
  counter->count(eps, threads, nx);
  return true;
}

}  // namespace automl::mi::detail
