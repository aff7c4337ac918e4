#pragma once
// The tiled scan engine of the KSG counts (no LibTorch): every query is compared with every point
// except where the bounding boxes of tiles of 64 points prove that none of them can matter.
//
// Distances are first computed in float32 (16 per AVX-512 vector, two queries per loaded vector)
// on centred coordinates scaled by a power of two, as a filter: `margin` bounds the difference
// between that float distance and the exact float64 one, so every decision the filter cannot
// make for sure (a candidate for the k best, a count near eps) is redone with the exact
// max_c |a_c - b_c| in float64, the expression every other engine evaluates. The counts are
// therefore the same bits as theirs (docs/mi.md, "Exactness across engines").
//
// Two passes. Pass 1 (scan_knn): eps of each query, from its float k best and the exact distances
// of the few candidates within the margin; Y is computed only for tiles where some point is near
// enough in X. Pass 2 (scan_count_row): with every eps known, each pair of points is seen once
// and counts for both (d < eps_i for i, d < eps_j for j), with per-thread counters. The scan
// needs n < 2^31 (positions are int32) and finite coordinate ranges (ScanPoints::usable).
#include <algorithm>
#include <cstdint>
#include <vector>

namespace automl::mi::detail {

// The points of (x, y) reordered by `order` (position p holds point order[p]): float32 columns
// for the filter, float64 rows for exact distances and boxes, tiles of kTile positions.
class ScanPoints {
 public:
  static constexpr int kLanes = 16;  // float32 lanes of one AVX-512 vector
  static constexpr int kTile = 64;   // points per tile: one box check per 64 pairs

  ScanPoints(const double* x, std::int64_t dx, const double* y, std::int64_t dy, std::int64_t n,
             const std::int64_t* order);

  // False when the filter cannot bound its error: a coordinate range that overflows float64, or
  // one so small (subnormal, only without jitter) that the scale overflows; or n >= 2^31. The
  // scan refuses such data (kScan throws) and kAuto takes the k-d tree.
  bool usable() const { return usable_; }

  std::int64_t n = 0, dx = 0, dy = 0;
  std::int64_t stride = 0;        // padded number of positions (a multiple of kTile)
  std::int64_t dxp = 0, dyp = 0;  // dx, dy rounded up to 8 (float64 vectors of the boxes)
  std::int64_t tiles = 0;
  std::vector<std::int64_t> order;  // position -> original index
  std::vector<double> xrow, yrow;   // [stride][dxp] / [stride][dyp] exact rows, zero padded
  std::vector<double> xlo, xhi;     // [tile][dxp] tight boxes (exact), padding 0
  std::vector<double> ylo, yhi;     // [tile][dyp]
  std::vector<float> xf, yf;        // [d][stride]: fl32((v - centre_c) * scale), zero padded
  double scale = 1;                 // a power of two: the largest |v - centre_c| becomes [1, 2)
  double margin = 0;                // |float distance - exact distance * scale| <= margin, any pair

 private:
  void tile_boxes(const std::vector<double>& rows, std::int64_t dp, std::vector<double>& lo,
                  std::vector<double>& hi) const;
  void scale_to_float();
  bool usable_ = true;
};

// What a scan did, for the engine choice: float pair-coordinates computed, box checks (one per
// query batch or tile row and tile), exact float64 distances and candidates for the k best.
struct ScanWork {
  std::int64_t coords = 0;
  std::int64_t box_checks = 0;
  std::int64_t exact = 0;
  std::int64_t candidates = 0;
};

// Candidates for the k best of one query: float distances and positions, packed.
struct PointList {
  std::vector<float> dist;
  std::vector<std::int32_t> pos;
  std::int64_t len = 0;
  // Room for `more` entries plus a full vector's worth (stores write 16 lanes).
  void reserve(std::int64_t more) {
    if (static_cast<std::int64_t>(dist.size()) >= len + more + 16) return;
    const std::size_t size = std::max<std::size_t>(2 * dist.size(), len + more + 16);
    dist.resize(size);
    pos.resize(size);
  }
};

// Per-thread buffers of pass 1, kept across batches so the steady state allocates nothing.
struct ScanScratch {
  static constexpr int kMaxQueries = 32;
  ScanScratch(const ScanPoints& p, int k);
  std::vector<double> kbest;                       // [kMaxQueries][k]: float k best
  std::vector<double> exact_kbest;                 // [k]
  std::vector<PointList> cand;                     // [kMaxQueries]
  std::vector<double> bx_lo, bx_hi, by_lo, by_hi;  // the batch's boxes
};

// Pass 1: eps_pos[p] (by position) for the queries at positions [begin, end), end - begin <=
// ScanScratch::kMaxQueries. Adds what it did to *work when work != nullptr. p.usable().
void scan_knn(const ScanPoints& p, int k, std::int64_t begin, std::int64_t end,
              ScanScratch& scratch, double* eps_pos, ScanWork* work);

// Pass 2's view of the eps of every position: the float thresholds around each (a count is sure
// below lo, impossible from hi on, decided exactly in between) and each tile's largest eps.
struct ScanRadii {
  ScanRadii(const ScanPoints& p, const std::vector<double>& eps_pos);
  std::vector<double> eps;       // [stride], padding 0
  std::vector<float> lo, hi;     // [stride]: filter_below / filter_above of eps
  std::vector<double> tile_max;  // [tiles]
};

// Pass 2 for tile row a: adds to out_x / out_y (this thread's counts by position, [stride]) the
// counts of the pairs (i in tile a, j in tile b >= a), for both points when b > a.
void scan_count_row(const ScanPoints& p, const ScanRadii& r, std::int64_t a, std::int32_t* out_x,
                    std::int32_t* out_y, ScanWork* work);

// scan_count_row for X alone (out_x only); a ScanPoints built with dy = 0 suffices.
void scan_count_row_x(const ScanPoints& p, const ScanRadii& r, std::int64_t a, std::int32_t* out_x);

// The queries' own side of pass 2, for positions [begin, end) (only their eps are needed),
// against every tile_stride-th tile from first_tile: what pass 2 costs per query, for the probe
// (which scales by tile_stride). Adds to out_x / out_y.
void scan_count_queries(const ScanPoints& p, const ScanRadii& r, std::int64_t begin,
                        std::int64_t end, std::int64_t first_tile, std::int64_t tile_stride,
                        ScanScratch& scratch, std::int32_t* out_x, std::int32_t* out_y,
                        ScanWork* work);

// The filter thresholds for an exact distance bound b, in the scaled float units: a pair whose
// exact distance is below b has a float distance below filter_above(b); one whose float
// distance is below filter_below(b) has an exact distance below b.
float filter_above(const ScanPoints& p, double b);
float filter_below(const ScanPoints& p, double b);
// For the k-th smallest float joint distance fk seen so far (+inf before k): every point whose
// exact joint distance is <= the final eps has a float distance below candidate_threshold(fk),
// and eps <= exact_upper_bound(fk).
float candidate_threshold(const ScanPoints& p, double fk);
double exact_upper_bound(const ScanPoints& p, double fk);

// The instruction set the scan runs with: "avx512" when the CPU has AVX-512 F and DQ, else
// "portable" (the same operations in plain C++, bit-identical results).
const char* scan_isa();
// Tests: force the portable kernel (true) or restore the automatic choice (false).
void force_portable_scan(bool on);

}  // namespace automl::mi::detail
