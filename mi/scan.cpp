// The tiled scan engine (mi/scan.h): data layout and the per-instruction-set kernels.
#include "mi/scan.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <vector>

#include "mi/kbest.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define AUTOML_MI_SCAN_AVX512 1
#include <immintrin.h>
#else
#define AUTOML_MI_SCAN_AVX512 0
#endif

namespace automl::mi::detail {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kU32 = 0x1p-24;  // unit roundoff of float32

// Bound on |float distance - exact distance * scale| for coordinates scaled into (-2, 2)
// (largest |v - centre| * scale = r in [1, 2)). Per coordinate, with u = 2^-24, e = 2^-53:
// centring and scaling cost e r + u r (1 + e) per value, so 2 (u + 2e) r for a difference;
// the float subtraction adds u (2 r + that); the exact distance itself is within 2 e r of the
// real one. The total is below (4u + 8e) r (1 + 2u); 6 u r covers it with room for the
// roundings of the thresholds. The max over coordinates keeps the bound (max is 1-Lipschitz).
// The absolute term covers float underflow of differences below 2^-126.
double filter_margin(double r) {
  return 6 * kU32 * r + 0x1p-120;
}

float round_up(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}
float round_down(double v) {
  float f = static_cast<float>(v);
  if (static_cast<double>(f) > v) f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  return f;
}
}  // namespace

float filter_above(const ScanPoints& p, double b) {
  return b == kInf ? std::numeric_limits<float>::infinity() : round_up(b * p.scale + p.margin);
}
float filter_below(const ScanPoints& p, double b) {
  return round_down(b * p.scale - p.margin);
}

// The k points of smallest float distance have exact distances <= (fk + margin) / scale, so eps
// is at most that; a point with exact distance <= eps then has a float distance <= fk + 2 margin.
// (fk + margin rounds in float64 by far less than the slack in margin.)
float candidate_threshold(const ScanPoints& p, double fk) {
  return fk == kInf ? std::numeric_limits<float>::infinity() : round_up(fk + 2 * p.margin);
}
double exact_upper_bound(const ScanPoints& p, double fk) {
  return fk == kInf ? kInf : (fk + p.margin) / p.scale;
}

ScanPoints::ScanPoints(const double* x, std::int64_t dx_, const double* y, std::int64_t dy_,
                       std::int64_t n_, const std::int64_t* order_)
    : n(n_), dx(dx_), dy(dy_), order(order_, order_ + n_) {
  stride = (n + kTile - 1) / kTile * kTile;
  dxp = (dx + 7) / 8 * 8;
  dyp = (dy + 7) / 8 * 8;
  tiles = stride / kTile;
  xrow.assign(static_cast<std::size_t>(stride * dxp), 0.0);
  yrow.assign(static_cast<std::size_t>(stride * dyp), 0.0);
  for (std::int64_t p = 0; p < n; ++p) {
    const std::int64_t i = order[p];
    std::copy(x + i * dx, x + (i + 1) * dx, xrow.begin() + p * dxp);
    std::copy(y + i * dy, y + (i + 1) * dy, yrow.begin() + p * dyp);
  }
  tile_boxes(xrow, dxp, xlo, xhi);
  tile_boxes(yrow, dyp, ylo, yhi);
  scale_to_float();
}

// Boxes of the points in each tile (padding positions excluded; padding coordinates 0).
void ScanPoints::tile_boxes(const std::vector<double>& rows, std::int64_t dp,
                            std::vector<double>& lo, std::vector<double>& hi) const {
  lo.assign(static_cast<std::size_t>(tiles * dp), 0.0);
  hi.assign(lo.size(), 0.0);
  for (std::int64_t t = 0; t < tiles; ++t) {
    const std::int64_t b = t * kTile, e = std::min(n, b + kTile);
    for (std::int64_t c = 0; c < dp; ++c) {
      double l = rows[b * dp + c], h = l;
      for (std::int64_t r = b + 1; r < e; ++r) {
        l = std::min(l, rows[r * dp + c]);
        h = std::max(h, rows[r * dp + c]);
      }
      lo[t * dp + c] = l;
      hi[t * dp + c] = h;
    }
  }
}

// The float columns: each coordinate centred on its midrange, all scaled by one power of two
// (so the joint distance max(dx, dy) is comparable), rounded to float32.
void ScanPoints::scale_to_float() {
  std::vector<double> centre_x(dx), centre_y(dy);
  double r = 0;
  auto centres = [&](const std::vector<double>& rows, std::int64_t d, std::int64_t dp,
                     std::vector<double>& centre) {
    for (std::int64_t c = 0; c < d; ++c) {
      double lo = rows[c], hi = lo;
      for (std::int64_t p = 1; p < n; ++p) {
        lo = std::min(lo, rows[p * dp + c]);
        hi = std::max(hi, rows[p * dp + c]);
      }
      centre[c] = lo + 0.5 * (hi - lo);
      r = std::max({r, hi - centre[c], centre[c] - lo});
    }
  };
  centres(xrow, dx, dxp, centre_x);
  centres(yrow, dy, dyp, centre_y);
  scale = r > 0 && std::isfinite(r) ? std::ldexp(1.0, -std::ilogb(r)) : 1.0;
  // A range that overflows, or one so small that its scale does (subnormal data without
  // jitter), leaves the filter without a bound.
  usable_ = std::isfinite(r) && std::isfinite(scale) && n < (std::int64_t{1} << 31);
  if (!usable_) return;
  margin = filter_margin(r * scale);
  auto columns = [&](const std::vector<double>& rows, std::int64_t d, std::int64_t dp,
                     const std::vector<double>& centre, std::vector<float>& cols) {
    cols.assign(static_cast<std::size_t>(d * stride), 0.0f);
    for (std::int64_t c = 0; c < d; ++c)  // column by column: the writes are sequential
      for (std::int64_t p = 0; p < n; ++p)
        cols[c * stride + p] = static_cast<float>((rows[p * dp + c] - centre[c]) * scale);
  };
  columns(xrow, dx, dxp, centre_x, xf);
  columns(yrow, dy, dyp, centre_y, yf);
}

ScanScratch::ScanScratch(const ScanPoints& p, int k)
    : kbest(static_cast<std::size_t>(kMaxQueries) * k),
      exact_kbest(k),
      cand(kMaxQueries),
      bx_lo(p.dxp),
      bx_hi(p.dxp),
      by_lo(p.dyp),
      by_hi(p.dyp) {}

ScanRadii::ScanRadii(const ScanPoints& p, const std::vector<double>& eps_pos)
    : eps(p.stride, 0.0),
      lo(p.stride, -std::numeric_limits<float>::infinity()),
      hi(p.stride, -std::numeric_limits<float>::infinity()),
      tile_max(p.tiles, 0.0) {
  for (std::int64_t i = 0; i < p.n; ++i) {
    eps[i] = eps_pos[i];
    lo[i] = filter_below(p, eps[i]);
    hi[i] = filter_above(p, eps[i]);
    tile_max[i / ScanPoints::kTile] = std::max(tile_max[i / ScanPoints::kTile], eps[i]);
  }
}

// Plain C++ lanes: any CPU; the compiler vectorises what it can.
namespace portable_isa {
template <typename T, int N>
struct Lanes {
  T v[N];
};
using V = Lanes<double, 8>;
using F = Lanes<float, 16>;

template <typename T, int N>
inline Lanes<T, N> lanes_load(const T* p) {
  Lanes<T, N> r;
  std::memcpy(r.v, p, sizeof r.v);
  return r;
}
template <typename L>
inline L lanes_max(L a, const L& b) {
  for (auto i = 0u; i < std::size(a.v); ++i) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
  return a;
}

inline V vzero() {
  return V{};
}
inline V vload(const double* p) {
  return lanes_load<double, 8>(p);
}
inline V vsub(V a, const V& b) {
  for (int i = 0; i < 8; ++i) a.v[i] -= b.v[i];
  return a;
}
inline V vmax(const V& a, const V& b) {
  return lanes_max(a, b);
}
inline V vmin(V a, const V& b) {
  for (int i = 0; i < 8; ++i) a.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
  return a;
}
inline void vstore(double* p, const V& a) {
  std::memcpy(p, a.v, sizeof a.v);
}
inline double vhmax(const V& a) {
  double m = a.v[0];
  for (int i = 1; i < 8; ++i) m = m > a.v[i] ? m : a.v[i];
  return m;
}

inline F fzero() {
  return F{};
}
inline F fload(const float* p) {
  return lanes_load<float, 16>(p);
}
inline F fsplat(float a) {
  F r;
  for (float& e : r.v) e = a;
  return r;
}
inline F fmax(const F& a, const F& b) {
  return lanes_max(a, b);
}
inline F fmax_absdiff(F acc, const F& a, const F& b) {
  for (int i = 0; i < 16; ++i) {
    const float d = std::fabs(a.v[i] - b.v[i]);
    acc.v[i] = acc.v[i] > d ? acc.v[i] : d;
  }
  return acc;
}
inline unsigned flt(const F& a, const F& b) {
  unsigned m = 0;
  for (int i = 0; i < 16; ++i) m |= (a.v[i] < b.v[i] ? 1u : 0u) << i;
  return m;
}
inline unsigned feq(const F& a, const F& b) {
  unsigned m = 0;
  for (int i = 0; i < 16; ++i) m |= (a.v[i] == b.v[i] ? 1u : 0u) << i;
  return m;
}
inline float fhmin_masked(const F& a, unsigned m) {
  float r = std::numeric_limits<float>::infinity();
  for (int i = 0; i < 16; ++i)
    if ((m >> i) & 1u) r = a.v[i] < r ? a.v[i] : r;
  return r;
}
inline void fstore(float* p, const F& a) {
  std::memcpy(p, a.v, sizeof a.v);
}
using I = Lanes<std::int32_t, 16>;
inline I iload(const std::int32_t* p) {
  return lanes_load<std::int32_t, 16>(p);
}
inline void istore(std::int32_t* p, const I& a) {
  std::memcpy(p, a.v, sizeof a.v);
}
inline I iadd_one(I a, unsigned m) {
  for (int i = 0; i < 16; ++i) a.v[i] += static_cast<std::int32_t>((m >> i) & 1u);
  return a;
}
inline int fcompress(float* d, std::int32_t* pos, unsigned m, const F& a, std::int32_t at) {
  int c = 0;
  for (; m != 0; m &= m - 1, ++c) {
    const int l = __builtin_ctz(m);
    d[c] = a.v[l];
    pos[c] = at + l;
  }
  return c;
}
#include "scan_kernel.inc"
}  // namespace portable_isa

#if AUTOML_MI_SCAN_AVX512
// AVX-512: everything from here to pop_options is compiled for AVX-512 F + DQ and only called
// after the CPU was checked for both.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq")
// GCC 12's intrinsics start from _mm512_undefined_pd(), which -Wmaybe-uninitialized flags
// (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace avx512_isa {
using V = __m512d;
using F = __m512;
inline V vzero() {
  return _mm512_setzero_pd();
}
inline V vload(const double* p) {
  return _mm512_loadu_pd(p);
}
inline V vsub(V a, V b) {
  return _mm512_sub_pd(a, b);
}
inline V vmax(V a, V b) {
  return _mm512_max_pd(a, b);
}
inline V vmin(V a, V b) {
  return _mm512_min_pd(a, b);
}
inline void vstore(double* p, V a) {
  _mm512_storeu_pd(p, a);
}
inline double vhmax(V a) {
  return _mm512_reduce_max_pd(a);
}

inline F fzero() {
  return _mm512_setzero_ps();
}
inline F fload(const float* p) {
  return _mm512_loadu_ps(p);
}
inline F fsplat(float a) {
  return _mm512_set1_ps(a);
}
inline F fmax(F a, F b) {
  return _mm512_max_ps(a, b);
}
// max(|acc|, |a - b|) with the sign cleared, in one VRANGEPS (imm 0b1011); acc >= 0, so this is
// max(acc, |a - b|) exactly.
inline F fmax_absdiff(F acc, F a, F b) {
  return _mm512_range_ps(acc, _mm512_sub_ps(a, b), 0x0B);
}
inline unsigned flt(F a, F b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
}
inline unsigned feq(F a, F b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ);
}
inline float fhmin_masked(F a, unsigned m) {
  return _mm512_mask_reduce_min_ps(static_cast<__mmask16>(m), a);
}
inline void fstore(float* p, F a) {
  _mm512_storeu_ps(p, a);
}
using I = __m512i;
inline I iload(const std::int32_t* p) {
  return _mm512_loadu_si512(p);
}
inline void istore(std::int32_t* p, I a) {
  _mm512_storeu_si512(p, a);
}
inline I iadd_one(I a, unsigned m) {
  return _mm512_mask_add_epi32(a, static_cast<__mmask16>(m), a, _mm512_set1_epi32(1));
}
// Compress into a register, then one full store: the memory form of VCOMPRESSPS is slow on
// some CPUs (AMD Zen 4). The 16 slots written are reserved by the caller.
inline int fcompress(float* d, std::int32_t* pos, unsigned m, F a, std::int32_t at) {
  const auto k = static_cast<__mmask16>(m);
  _mm512_storeu_ps(d, _mm512_maskz_compress_ps(k, a));
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  _mm512_storeu_si512(
      pos, _mm512_maskz_compress_epi32(k, _mm512_add_epi32(_mm512_set1_epi32(at), lane)));
  return __builtin_popcount(m);
}
#include "scan_kernel.inc"
}  // namespace avx512_isa
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

namespace {
std::atomic<bool> g_force_portable{false};

bool use_avx512() {
#if AUTOML_MI_SCAN_AVX512
  static const bool has =
      __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512dq") != 0;
  return has && !g_force_portable.load(std::memory_order_relaxed);
#else
  return false;
#endif
}
}  // namespace

// Each entry point runs the AVX-512 compilation of the kernel when the CPU has it.
#if AUTOML_MI_SCAN_AVX512
#define AUTOML_MI_SCAN_DISPATCH(call) \
  do {                                \
    if (use_avx512()) {               \
      avx512_isa::call;               \
    } else {                          \
      portable_isa::call;             \
    }                                 \
  } while (false)
#else
#define AUTOML_MI_SCAN_DISPATCH(call) portable_isa::call
#endif

void scan_knn(const ScanPoints& p, int k, std::int64_t begin, std::int64_t end,
              ScanScratch& scratch, double* eps_pos, ScanWork* work) {
  AUTOML_MI_SCAN_DISPATCH(knn_batch(p, k, begin, end, scratch, eps_pos, work));
}

void scan_count_row(const ScanPoints& p, const ScanRadii& r, std::int64_t a, std::int32_t* out_x,
                    std::int32_t* out_y, ScanWork* work) {
  AUTOML_MI_SCAN_DISPATCH(count_row(p, r, a, out_x, out_y, work));
}

void scan_count_row_x(const ScanPoints& p, const ScanRadii& r, std::int64_t a,
                      std::int32_t* out_x) {
  AUTOML_MI_SCAN_DISPATCH(count_row_x(p, r, a, out_x));
}

void scan_count_queries(const ScanPoints& p, const ScanRadii& r, std::int64_t begin,
                        std::int64_t end, std::int64_t first_tile, std::int64_t tile_stride,
                        ScanScratch& scratch, std::int32_t* out_x, std::int32_t* out_y,
                        ScanWork* work) {
  AUTOML_MI_SCAN_DISPATCH(
      count_queries(p, r, begin, end, first_tile, tile_stride, scratch, out_x, out_y, work));
}

const char* scan_isa() {
  return use_avx512() ? "avx512" : "portable";
}

void force_portable_scan(bool on) {
  g_force_portable.store(on, std::memory_order_relaxed);
}

}  // namespace automl::mi::detail
