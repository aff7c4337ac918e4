// Tests of the MI module (mi/mi.h) against independent truth: a plain O(n^2) reference written
// here, closed-form Gaussian and uniform-mixture MI values, and invariances of the estimator.
#include <ATen/ATen.h>
// LibTorch builds with glog define a CHECK macro of their own; Catch's must win in this file.
#undef CHECK
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "mi/ksg_cpu.h"
#include "mi/mi.h"
#include "test_support.h"

namespace mi = automl::mi;

namespace {

at::Tensor from_vector(const std::vector<double>& v, std::int64_t rows, std::int64_t cols) {
  at::Tensor t = at::empty({rows, cols}, at::TensorOptions().dtype(at::kDouble));
  std::copy(v.begin(), v.end(), t.data_ptr<double>());
  return t;
}

// d independent pairs (x_c, y_c) of standard normals with correlation r.
std::pair<at::Tensor, at::Tensor> gaussian_pairs(std::int64_t n, int d, double r,
                                                 std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> x(n * d), y(n * d);
  const double s = std::sqrt(1 - r * r);
  for (std::int64_t i = 0; i < n * d; ++i) {
    const double a = g(gen), b = g(gen);
    x[i] = a;
    y[i] = r * a + s * b;
  }
  return {from_vector(x, n, d), from_vector(y, n, d)};
}

// The definition of SPEC.md 1, written plainly: O(n^2), no pruning, no cleverness.
mi::KsgCounts naive_counts(const at::Tensor& x_in, const at::Tensor& y_in, int k) {
  const at::Tensor x = x_in.to(at::kDouble).contiguous(), y = y_in.to(at::kDouble).contiguous();
  const std::int64_t n = x.size(0), dx = x.size(1), dy = y.size(1);
  const double* px = x.data_ptr<double>();
  const double* py = y.data_ptr<double>();
  auto dist = [](const double* a, const double* b, std::int64_t d) {
    double m = 0;
    for (std::int64_t c = 0; c < d; ++c) m = std::max(m, std::fabs(a[c] - b[c]));
    return m;
  };
  mi::KsgCounts out;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> joint;
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i)
        joint.push_back(
            std::max(dist(px + i * dx, px + j * dx, dx), dist(py + i * dy, py + j * dy, dy)));
    std::sort(joint.begin(), joint.end());
    const double eps = joint[k - 1];
    std::int64_t nx = 0, ny = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      if (dist(px + i * dx, px + j * dx, dx) < eps) ++nx;
      if (dist(py + i * dy, py + j * dy, dy) < eps) ++ny;
    }
    out.eps.push_back(eps);
    out.nx.push_back(nx);
    out.ny.push_back(ny);
  }
  return out;
}

double naive_ksg(const mi::KsgCounts& c, int k) {
  double s = 0;
  for (std::size_t i = 0; i < c.nx.size(); ++i)
    s += std::lgamma(1.0) * 0 + mi::digamma(c.nx[i] + 1.0) + mi::digamma(c.ny[i] + 1.0);
  const double n = static_cast<double>(c.nx.size());
  return mi::digamma(k) + mi::digamma(n) - s / n;
}

void require_same_counts(const mi::KsgCounts& a, const mi::KsgCounts& b) {
  REQUIRE(a.eps.size() == b.eps.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < a.eps.size(); ++i)
    if (a.eps[i] != b.eps[i] || a.nx[i] != b.nx[i] || a.ny[i] != b.ny[i]) ++bad;
  CHECK(bad == 0);
}

at::Tensor random_labels(std::int64_t n, int classes, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  at::Tensor l = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  for (std::int64_t i = 0; i < n; ++i) l.data_ptr<std::int64_t>()[i] = gen() % classes;
  return l;
}

// Network-output-like T: softmax of Gaussian logits shifted towards the label.
at::Tensor softmax_outputs(const at::Tensor& labels, int classes, double signal,
                           std::uint64_t seed) {
  const std::int64_t n = labels.size(0);
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> v(n * classes);
  for (std::int64_t i = 0; i < n; ++i) {
    double mx = -1e300;
    for (int c = 0; c < classes; ++c) {
      v[i * classes + c] = g(gen) + (c == labels.data_ptr<std::int64_t>()[i] ? signal : 0.0);
      mx = std::max(mx, v[i * classes + c]);
    }
    double s = 0;
    for (int c = 0; c < classes; ++c) s += (v[i * classes + c] = std::exp(v[i * classes + c] - mx));
    for (int c = 0; c < classes; ++c) v[i * classes + c] /= s;
  }
  return from_vector(v, n, classes);
}

constexpr mi::Method kCpuMethods[] = {mi::Method::kKdTree, mi::Method::kBruteForce,
                                      mi::Method::kScan, mi::Method::kAuto};

// The scan engine with its plain C++ kernel (the one CPUs without AVX-512 run), 2 threads.
mi::KsgCounts portable_scan_counts(const at::Tensor& x, const at::Tensor& y, int k) {
  struct Portable {
    Portable() { automl::mi::detail::force_portable_scan(true); }
    ~Portable() { automl::mi::detail::force_portable_scan(false); }
  } portable;
  return mi::ksg_counts(x, y, k, mi::Method::kScan, 2);
}

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = "/tmp/automl_test_mi_" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("mi: digamma matches known values", "[mi]") {
  const double euler = 0.57721566490153286061;
  CHECK(mi::digamma(1) == Approx(-euler).epsilon(1e-15));
  CHECK(mi::digamma(0.5) == Approx(-euler - 2 * std::log(2.0)).epsilon(1e-14));
  double h = 0;
  for (int m = 1; m < 1000; ++m) h += 1.0 / m;
  CHECK(mi::digamma(1000) == Approx(-euler + h).epsilon(1e-14));
  CHECK(mi::digamma(3) == Approx(1.5 - euler).epsilon(1e-15));
}

TEST_CASE("mi: fast paths give exactly the naive reference counts", "[mi]") {
  const int k = 3;
  SECTION("low dimension, continuous") {
    auto [x, y] = gaussian_pairs(400, 2, 0.7, 11);
    x = mi::add_jitter(x, 1e-10, 5);
    y = mi::add_jitter(y, 1e-10, 5, x.numel());
    const auto ref = naive_counts(x, y, k);
    for (auto m : kCpuMethods)
      for (int threads : {1, 2}) require_same_counts(mi::ksg_counts(x, y, k, m, threads), ref);
    require_same_counts(portable_scan_counts(x, y, k), ref);
  }
  SECTION("softmax outputs against jittered one-hot labels (ties)") {
    const at::Tensor labels = random_labels(500, 10, 3);
    const at::Tensor t = mi::add_jitter(softmax_outputs(labels, 10, 2.0, 4), 1e-10, 9);
    const at::Tensor y = mi::add_jitter(mi::one_hot(labels, 10), 1e-10, 9, t.numel());
    const auto ref = naive_counts(t, y, k);
    for (auto m : kCpuMethods)
      for (int threads : {1, 2}) require_same_counts(mi::ksg_counts(t, y, k, m, threads), ref);
    require_same_counts(portable_scan_counts(t, y, k), ref);
    for (int threads : {1, 2})  // the grouped engine, which kAuto takes here
      require_same_counts(mi::ksg_counts(t, y, k, mi::Method::kGrouped, threads), ref);
  }
  SECTION("high dimension (brute force with early exit) and k = 5") {
    auto [x, y] = gaussian_pairs(300, 70, 0.5, 12);
    x = mi::add_jitter(x, 1e-10, 5);
    const auto ref = naive_counts(x, y, 5);
    for (auto m : kCpuMethods) require_same_counts(mi::ksg_counts(x, y, 5, m, 2), ref);
  }
  SECTION("no jitter, exact duplicates (zero distances)") {
    std::vector<double> xv, yv;
    for (int i = 0; i < 200; ++i) {
      xv.push_back(i % 7);
      yv.push_back((i % 7) % 3);
    }
    const at::Tensor x = from_vector(xv, 200, 1), y = from_vector(yv, 200, 1);
    const auto ref = naive_counts(x, y, k);
    for (auto m : kCpuMethods) require_same_counts(mi::ksg_counts(x, y, k, m, 2), ref);
    require_same_counts(portable_scan_counts(x, y, k), ref);
  }
  SECTION("tiny inputs (n = k + 1 .. 40), all engines") {
    for (std::int64_t n = 4; n <= 40; n += 3) {
      auto [x, y] = gaussian_pairs(n, 3, 0.5, static_cast<std::uint64_t>(n));
      const auto ref = naive_counts(x, y, k);
      for (auto m : kCpuMethods) require_same_counts(mi::ksg_counts(x, y, k, m, 2), ref);
      require_same_counts(portable_scan_counts(x, y, k), ref);
    }
  }
  SECTION("the value is the SPEC formula on the counts") {
    auto [x, y] = gaussian_pairs(300, 1, 0.6, 13);
    mi::KsgOptions o;
    o.jitter = false;
    CHECK(mi::ksg(x, y, o) == Approx(naive_ksg(naive_counts(x, y, 3), 3)).margin(1e-12));
  }
}

// Tolerance, d = 1 and 2: KSG's bias for Gaussians at k = 3 is O(1e-2) nats at n = 2500 in a
// 2- or 4-dimensional joint space (Kraskov et al. 2004, figs. 3-5) and the estimate's sd is
// ~0.02 nats, so max(0.05 nats, 10 % of the truth) is 2-3 sd plus the bias.
// d = 5 (10-dimensional joint space): KSG is known to underestimate strongly dependent,
// high-dimensional data (its sample need grows like exp(I); Gao, Ver Steeg & Galstyan, AISTATS
// 2015), and the naive reference above gives the same values, so this is the estimator, not the
// code. Measured at n = 4000: 0.58 / 3.11 / 5.62 nats for truths 0.72 / 4.15 / 9.79 (at n = 10000:
// 0.61 / 3.35 / 6.27, converging slowly). There the test asserts the known behaviour: ~0 for
// independent data, an underestimate that grows with r within documented relative bands, and
// monotonicity in r.
TEST_CASE("mi: KSG recovers the MI of correlated Gaussians", "[mi]") {
  for (int d : {1, 2, 5}) {
    double previous = -1;
    for (double r : {0.0, 0.5, 0.9, 0.99}) {
      const std::int64_t n = d == 5 ? 4000 : 2500;
      auto [x, y] = gaussian_pairs(n, d, r, 100 + d);
      const double truth = -0.5 * d * std::log(1 - r * r);
      const double est = mi::ksg(x, y);
      INFO("d = " << d << " r = " << r << " truth = " << truth << " estimate = " << est);
      if (d < 5 || r == 0.0) {
        CHECK(std::fabs(est - truth) <= std::max(0.05, 0.1 * truth));
      } else {
        const double band = r == 0.5 ? 0.25 : r == 0.9 ? 0.30 : 0.50;
        CHECK(est < truth);
        CHECK(est >= (1 - band) * truth);
      }
      CHECK(est > previous);
      previous = est;
    }
  }
}

// kAuto measures the k-d tree and the scan on a sample and takes the cheaper; whichever it takes,
// the counts must be the same bits as every other engine's. Low-dimensional Gaussians are the
// tree's case (it prunes almost everything), 10 + 10 correlated dimensions the scan's (nothing
// to prune). The closed form -d/2 ln(1 - r^2) is the independent truth; in 20 joint dimensions
// KSG underestimates strongly (see the test above): measured 1.054 nats for the truth 2.231 at
// n = 4000, so the band there is 35-65 % of the truth; in 2 dimensions it is within 5 %.
TEST_CASE("mi: the engine kAuto measures to be cheaper gives the same counts as the others",
          "[mi]") {
  struct Case {
    std::int64_t n;
    int d;
    double r;
    mi::Method expected;
    double low, high;  // accepted range of the estimate, as fractions of the truth
  };
  for (const Case& c : {Case{10000, 1, 0.9, mi::Method::kKdTree, 0.95, 1.05},
                        Case{4000, 10, 0.6, mi::Method::kScan, 0.35, 0.65}}) {
    auto [x, y] = gaussian_pairs(c.n, c.d, c.r, 40 + c.d);
    x = mi::add_jitter(x, 1e-10, 5);
    y = mi::add_jitter(y, 1e-10, 5, x.numel());
    const auto chosen = mi::ksg_counts(x, y, 3, mi::Method::kAuto, 2);
    CHECK(chosen.method == c.expected);
    for (auto m : {mi::Method::kKdTree, mi::Method::kScan}) {
      const auto other = mi::ksg_counts(x, y, 3, m, 1);
      CHECK(other.method == m);
      require_same_counts(other, chosen);
      CHECK(mi::ksg_from_counts(other, 3) == mi::ksg_from_counts(chosen, 3));
    }
    require_same_counts(portable_scan_counts(x, y, 3), chosen);
    const double truth = -0.5 * c.d * std::log(1 - c.r * c.r);
    const double est = mi::ksg_from_counts(chosen, 3);
    INFO("n = " << c.n << " d = " << c.d << " truth = " << truth << " estimate = " << est);
    CHECK(est >= c.low * truth);
    CHECK(est <= c.high * truth);
  }
}

TEST_CASE("mi: independent data gives ~0", "[mi]") {
  std::mt19937_64 gen(77);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> xv(3000 * 3), yv(3000);
  for (auto& v : xv) v = u(gen);
  for (auto& v : yv) v = u(gen);
  const double est = mi::ksg(from_vector(xv, 3000, 3), from_vector(yv, 3000, 1));
  CHECK(std::fabs(est) < 0.03);
}

TEST_CASE("mi: permuting samples does not change the estimate", "[mi]") {
  auto [x, y] = gaussian_pairs(1500, 2, 0.8, 21);
  std::vector<std::int64_t> perm(1500);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937_64(3));
  const at::Tensor p = at::tensor(perm, at::TensorOptions().dtype(at::kLong));
  mi::KsgOptions no_jitter;
  no_jitter.jitter = false;
  // Without jitter the counts are a permutation of each other: identical value, bit for bit.
  CHECK(mi::ksg(x, y, no_jitter) == mi::ksg(x.index_select(0, p), y.index_select(0, p), no_jitter));
  // With jitter the noise follows the row index, so only ties could move: same to 1e-9 here.
  CHECK(mi::ksg(x, y) == Approx(mi::ksg(x.index_select(0, p), y.index_select(0, p))).margin(1e-9));
}

TEST_CASE("mi: duplicated points and one-hot labels behave as the jitter intends", "[mi]") {
  SECTION("X = Y uniform on 5 values: I = ln 5") {
    std::vector<double> v;
    for (int i = 0; i < 2000; ++i) v.push_back(i % 5);
    const at::Tensor x = from_vector(v, 2000, 1);
    // Jitter separates the duplicates; each cluster then looks like independent noise, so the
    // estimate is psi(N) - psi(N/5) + O(noise) ~ ln 5.
    CHECK(mi::ksg(x, x.clone()) == Approx(std::log(5.0)).margin(0.05));
    mi::KsgOptions o;
    o.jitter = false;  // degenerate: eps = 0, every count 0; finite, no crash
    CHECK(std::isfinite(mi::ksg(x, x.clone(), o)));
  }
  SECTION("well separated classes: I(T; one-hot Y) = H(Y)") {
    const at::Tensor labels = random_labels(2000, 4, 8);
    const at::Tensor t =
        labels.to(at::kDouble).unsqueeze(1) * 10 + at::rand({2000, 2}).to(at::kDouble);
    const double h = mi::label_entropy(labels);
    CHECK(mi::ksg(t, mi::one_hot(labels, 4)) == Approx(h).margin(0.05));
    CHECK(mi::ksg_cd(t, labels) == Approx(h).margin(0.05));
  }
  SECTION("seeded: same seed is bit-identical for any thread count, another seed differs") {
    const at::Tensor labels = random_labels(1000, 10, 5);
    const at::Tensor t = softmax_outputs(labels, 10, 1.0, 6);
    const at::Tensor y = mi::one_hot(labels, 10);
    mi::KsgOptions o;
    o.seed = 42;
    o.threads = 1;
    const double a = mi::ksg(t, y, o);
    for (int threads : {2, 3, 0}) {
      o.threads = threads;
      CHECK(mi::ksg(t, y, o) == a);
    }
    CHECK(mi::ksg(t.to(at::kFloat), y, o) != 0);  // float input accepted
    // The same for data on which kAuto takes the scan (10 + 10 correlated Gaussians) and the
    // k-d tree (1 + 1): the engine choice does not depend on the thread count either.
    for (int d : {10, 1}) {
      auto [gx, gy] = gaussian_pairs(2000, d, 0.6, 7);
      o.threads = 1;
      const double g1 = mi::ksg(gx, gy, o);
      for (int threads : {2, 3, 0}) {
        o.threads = threads;
        CHECK(mi::ksg(gx, gy, o) == g1);
      }
    }
  }
}

TEST_CASE("mi: ksg_cd matches the closed form (Bernoulli label, uniform conditionals)", "[mi]") {
  // Y ~ Bernoulli(1/2); T | Y=0 ~ U[0,1), T | Y=1 ~ U[0.5,1.5). H(T) = 0.5 ln 2, H(T|Y) = 0.
  std::mt19937_64 gen(31);
  std::uniform_real_distribution<double> u(0, 1);
  const std::int64_t n = 5000;
  std::vector<double> t(n);
  at::Tensor labels = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  for (std::int64_t i = 0; i < n; ++i) {
    const int l = static_cast<int>(gen() & 1);
    labels.data_ptr<std::int64_t>()[i] = l;
    t[i] = u(gen) + 0.5 * l;
  }
  const double truth = 0.5 * std::log(2.0);
  CHECK(mi::ksg_cd(from_vector(t, n, 1), labels) == Approx(truth).margin(0.03));
  // A label that occurs once is dropped.
  at::Tensor l2 = labels.clone();
  l2.data_ptr<std::int64_t>()[0] = 7;
  CHECK(mi::ksg_cd(from_vector(t, n, 1), l2) == Approx(truth).margin(0.03));
}

TEST_CASE("mi: label entropy, one-hot and subset selection", "[mi]") {
  const at::Tensor labels = at::tensor(std::vector<std::int64_t>{0, 0, 1, 1, 2, 2, 2, 2});
  CHECK(mi::label_entropy(labels) == Approx(-(0.25 * std::log(0.25) * 2 + 0.5 * std::log(0.5))));
  const at::Tensor oh = mi::one_hot(labels, 3);
  CHECK(oh.size(0) == 8);
  CHECK(oh.sum().item<double>() == 8);
  CHECK(oh[4][2].item<double>() == 1);
  CHECK_THROWS(mi::one_hot(labels, 2));

  const at::Tensor a = mi::select_subset(1000, 100, 7);
  CHECK(a.size(0) == 100);
  CHECK(at::equal(a, mi::select_subset(1000, 100, 7)));
  CHECK(!at::equal(a, mi::select_subset(1000, 100, 8)));
  CHECK(at::equal(std::get<0>(a.sort()), a));
  const std::int64_t* pa = a.data_ptr<std::int64_t>();
  CHECK(std::set<std::int64_t>(pa, pa + a.numel()).size() == 100);

  const at::Tensor big = random_labels(1000, 3, 1);
  const at::Tensor s = mi::select_subset(1000, 100, 7, big);
  CHECK(s.size(0) == 100);
  const at::Tensor picked = big.index_select(0, s);
  for (int c = 0; c < 3; ++c) {
    const double share = (big == c).sum().item<double>() / 1000.0 * 100;
    CHECK(std::fabs((picked == c).sum().item<double>() - share) <= 1.0);
  }
}

TEST_CASE("mi: mi_curve gives mean and sd per size", "[mi]") {
  auto [x, y] = gaussian_pairs(1000, 1, 0.9, 3);
  const auto curve = mi::mi_curve(x, y, {100, 400}, 3, 1);
  REQUIRE(curve.size() == 2);
  CHECK(curve[1].n == 400);
  CHECK(curve[1].values.size() == 3);
  CHECK(curve[1].mean == Approx(-0.5 * std::log(1 - 0.81)).margin(0.15));
  CHECK(curve[1].sd >= 0);
  CHECK(curve[0].sd > 0);
}

TEST_CASE("mi: CSV tables", "[mi]") {
  const auto t = mi::read_csv_table(temp_file("ok.csv", "a, b\n1,2\n3.5, -4e-3\n\n"));
  CHECK(t.rows == 2);
  CHECK(t.cols == 2);
  CHECK((t.header == std::vector<std::string>{"a", "b"}));
  CHECK((t.values == std::vector<double>{1, 2, 3.5, -4e-3}));
  CHECK(mi::table_tensor(t).size(0) == 2);
  // What std::from_chars leaves to strtod (a '+' sign, hexadecimal) reads as before.
  const auto signs = mi::read_csv_table(temp_file("signs.csv", "+1.5, 0x1p3,-2e-310\n"));
  CHECK((signs.values == std::vector<double>{1.5, 8, -2e-310}));
  const auto plain = mi::read_csv_table(temp_file("plain.csv", "1\n2\n3\n"));
  CHECK(plain.header.empty());
  CHECK(plain.rows == 3);
  auto message = [](const std::string& name, const std::string& text) {
    const std::string path = temp_file(name, text);
    try {
      mi::read_csv_table(path);
    } catch (const automl::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message("bad.csv", "a,b\n1,2\n3,x\n"),
             Catch::Contains("bad.csv:3: column 2 ('b')") && Catch::Contains("'x'"));
  CHECK_THAT(message("ragged.csv", "1,2\n3\n"),
             Catch::Contains("ragged.csv:2") && Catch::Contains("1 cells, expected 2"));
  CHECK_THAT(message("empty.csv", ""), Catch::Contains("empty"));
  CHECK_THAT(message("header.csv", "a,b\n"), Catch::Contains("no data rows"));
  CHECK_THAT(message("nan.csv", "1\nnan\n"), Catch::Contains("nan.csv:2: column 1"));
  CHECK_THAT(message("missing.csv", "1,\n"), Catch::Contains("empty cell"));
  CHECK_THROWS_AS(mi::read_csv_table("/nonexistent/x.csv"), automl::InputError);
}

TEST_CASE("mi: data the scan's float filter cannot bound goes to the tree", "[mi]") {
  // A coordinate spanning more than float64's range: kAuto takes the tree, kScan refuses.
  std::vector<double> xv, yv;
  for (int i = 0; i < 300; ++i) {
    xv.push_back(i % 2 == 0 ? 1e308 : -1e308 + i);
    yv.push_back(i % 7);
  }
  const at::Tensor x = from_vector(xv, 300, 1), y = from_vector(yv, 300, 1);
  const auto reference = mi::ksg_counts(x, y, 3, mi::Method::kKdTree, 1);
  CHECK_THROWS_AS(mi::ksg_counts(x, y, 3, mi::Method::kScan, 1), std::invalid_argument);
  // Y on 7 levels: the grouped engine takes it, and its X counts fall back from the scan to the
  // tree.
  const auto grouped = mi::ksg_counts(x, y, 3, mi::Method::kAuto, 2);
  CHECK(grouped.method == mi::Method::kGrouped);
  require_same_counts(grouped, reference);
  // Continuous Y: kAuto takes the tree.
  const at::Tensor yc = at::randn({300, 1}, at::TensorOptions().dtype(at::kDouble));
  const auto chosen = mi::ksg_counts(x, yc, 3, mi::Method::kAuto, 2);
  CHECK(chosen.method == mi::Method::kKdTree);
  require_same_counts(chosen, mi::ksg_counts(x, yc, 3, mi::Method::kKdTree, 1));
}

namespace {

// Labels with sizes[c] rows of class c, in a seeded random order.
at::Tensor labels_of_sizes(const std::vector<std::int64_t>& sizes, std::uint64_t seed) {
  std::vector<std::int64_t> v;
  for (std::size_t c = 0; c < sizes.size(); ++c)
    v.insert(v.end(), sizes[c], static_cast<std::int64_t>(c));
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  return at::tensor(v);
}

// The grouped engine (forced) and kAuto against the brute force, bit for bit, threads 1 and 2;
// kAuto must have picked the grouped engine.
void require_grouped_exact(const at::Tensor& t, const at::Tensor& y, int k = 3) {
  const auto brute = mi::ksg_counts(t, y, k, mi::Method::kBruteForce, 2);
  for (int threads : {1, 2, 3}) {
    const auto grouped = mi::ksg_counts(t, y, k, mi::Method::kGrouped, threads);
    CHECK(grouped.method == mi::Method::kGrouped);
    require_same_counts(grouped, brute);
    const auto chosen = mi::ksg_counts(t, y, k, mi::Method::kAuto, threads);
    CHECK(chosen.method == mi::Method::kGrouped);
    require_same_counts(chosen, brute);
  }
}

// Input the grouped engine must decline: kAuto takes another engine (same counts as the brute
// force), a forced kGrouped throws.
void require_grouped_declines(const at::Tensor& t, const at::Tensor& y, const std::string& why,
                              int k = 3) {
  const auto brute = mi::ksg_counts(t, y, k, mi::Method::kBruteForce, 2);
  const auto chosen = mi::ksg_counts(t, y, k, mi::Method::kAuto, 2);
  CHECK(chosen.method != mi::Method::kGrouped);
  require_same_counts(chosen, brute);
  CHECK_THROWS_AS(mi::ksg_counts(t, y, k, mi::Method::kGrouped, 2), std::invalid_argument);
  CHECK_THROWS_WITH(mi::ksg_counts(t, y, k, mi::Method::kGrouped, 2),
                    Catch::Matchers::Contains(why));
}

at::Tensor jittered(const at::Tensor& x, std::uint64_t seed, std::uint64_t offset = 0) {
  return mi::add_jitter(x, 1e-10, seed, offset);
}

}  // namespace

TEST_CASE("mi: the grouped engine gives exactly the brute-force counts", "[mi]") {
  SECTION("softmax outputs against jittered one-hot labels, many inputs") {
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      const std::int64_t n = 150 + 350 * static_cast<std::int64_t>(seed);
      const at::Tensor labels = random_labels(n, 10, seed);
      const at::Tensor t = jittered(softmax_outputs(labels, 10, 0.5 * seed, seed + 100), seed);
      const at::Tensor y = jittered(mi::one_hot(labels, 10), seed, t.numel());
      require_grouped_exact(t, y);
    }
  }
  SECTION("classes of very different sizes, k = 1 .. 9") {
    const at::Tensor labels = labels_of_sizes({10, 40, 400, 2000, 12}, 21);
    const at::Tensor t = jittered(softmax_outputs(labels, 5, 2.0, 22), 23);
    const at::Tensor y = jittered(mi::one_hot(labels, 5), 23, t.numel());
    for (int k : {1, 3, 8, 9}) require_grouped_exact(t, y, k);
  }
  SECTION("groups larger than the small-group kNN (k-d tree per group), low-dimensional T") {
    const at::Tensor labels = random_labels(5000, 2, 31);
    const at::Tensor t =
        jittered(at::randn({5000, 3}, at::TensorOptions().dtype(at::kDouble)) * 0.05, 32);
    require_grouped_exact(t, jittered(mi::one_hot(labels, 2), 32, t.numel()));
  }
  SECTION("ties: duplicated T rows, with and without jitter on Y") {
    const at::Tensor labels = random_labels(600, 4, 41);
    std::vector<double> tv;
    for (int i = 0; i < 600; ++i)
      for (int c = 0; c < 3; ++c) tv.push_back((i * (c + 1)) % 5 * 0.25);
    const at::Tensor t = from_vector(tv, 600, 3);  // 125 distinct rows at most: exact ties
    require_grouped_exact(t, jittered(mi::one_hot(labels, 4), 42));
    require_grouped_exact(t, mi::one_hot(labels, 4));  // eps = 0 for many rows
  }
  SECTION("high-dimensional T (784): blocked brute force within the groups and for nx") {
    // Class means N(0, 1) per coordinate, spread 0.1 around them: within a class the max-norm
    // distances (~0.5) stay below the labels' separation of 1.
    const at::Tensor labels = random_labels(400, 5, 51);
    const auto f64 = at::TensorOptions().dtype(at::kDouble);
    const at::Tensor means = at::randn({5, 784}, f64);
    const at::Tensor t =
        jittered(means.index_select(0, labels) + 0.1 * at::randn({400, 784}, f64), 52);
    require_grouped_exact(t, jittered(mi::one_hot(labels, 5), 52, t.numel()));
  }
  SECTION("one-hot with a label absent from the rows (a column of jitter alone)") {
    const at::Tensor labels = random_labels(700, 9, 65);
    const at::Tensor t = jittered(softmax_outputs(labels, 10, 2.0, 66), 67);
    require_grouped_exact(t, jittered(mi::one_hot(labels, 10), 67, t.numel()));
  }
  SECTION("Y on integer levels in one column") {
    const at::Tensor labels = random_labels(800, 6, 61);
    const at::Tensor t = jittered(softmax_outputs(labels, 6, 1.5, 62), 63);
    require_grouped_exact(t, jittered(labels.to(at::kDouble).unsqueeze(1), 63, t.numel()));
  }
}

TEST_CASE("mi: the grouped engine declines what it cannot prove exact", "[mi]") {
  SECTION("a class with k or fewer members") {
    at::Tensor labels = random_labels(500, 3, 71);
    for (int i = 0; i < 3; ++i) labels.data_ptr<std::int64_t>()[i * 100] = 3;  // 3 rows, k = 3
    const at::Tensor t = jittered(softmax_outputs(labels, 4, 2.0, 72), 73);
    require_grouped_declines(t, jittered(mi::one_hot(labels, 4), 73, t.numel()), "has 3 rows");
  }
  SECTION("two clusters of Y closer than some k-th neighbour distance") {
    // Two tight clusters 0.02 apart; T uniform in 2-D, so k-th neighbour distances ~0.1.
    std::mt19937_64 gen(81);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<double> tv, yv;
    for (int i = 0; i < 400; ++i) {
      tv.push_back(u(gen));
      tv.push_back(u(gen));
      yv.push_back((i % 2 == 0 ? 0 : 0.021) + 0.001 * u(gen));
    }
    require_grouped_declines(from_vector(tv, 400, 2), from_vector(yv, 400, 1), "separation");
  }
  SECTION("a single class") {
    const at::Tensor labels = at::zeros({300}, at::TensorOptions().dtype(at::kLong));
    const at::Tensor t = jittered(at::rand({300, 2}).to(at::kDouble), 91);
    require_grouped_declines(t, jittered(mi::one_hot(labels, 3), 91, t.numel()), "declines");
  }
  SECTION("Gaussian Y (kAuto does not pick it), Gaussian T against one-hot Y at small n") {
    for (int d : {1, 2, 10}) {
      auto [x, y] = gaussian_pairs(2000, d, 0.6, 92);
      require_grouped_declines(jittered(x, 93), jittered(y, 93, x.numel()), "declines");
    }
    const at::Tensor labels = random_labels(1000, 10, 94);
    const at::Tensor t =
        jittered(at::randn({1000, 10}, at::TensorOptions().dtype(at::kDouble)), 95);
    require_grouped_declines(t, jittered(mi::one_hot(labels, 10), 95, t.numel()), "separation");
    // Groups large enough for the k-d tree: the sample of rows checked first declines.
    const at::Tensor big = random_labels(3000, 2, 96);
    const at::Tensor tb =
        jittered(at::randn({3000, 6}, at::TensorOptions().dtype(at::kDouble)), 97);
    require_grouped_declines(tb, jittered(mi::one_hot(big, 2), 97, tb.numel()), "separation");
  }
}

TEST_CASE("mi: the grouped engine's estimate matches the closed form and the brute force", "[mi]") {
  // Y ~ Bernoulli(1/2) as one-hot, T | Y=0 ~ U[0,1), T | Y=1 ~ U[0.5,1.5): I = 0.5 ln 2.
  std::mt19937_64 gen(101);
  std::uniform_real_distribution<double> u(0, 1);
  const std::int64_t n = 5000;
  std::vector<double> tv(n);
  at::Tensor labels = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  for (std::int64_t i = 0; i < n; ++i) {
    const int l = static_cast<int>(gen() & 1);
    labels.data_ptr<std::int64_t>()[i] = l;
    tv[i] = u(gen) + 0.5 * l;
  }
  const at::Tensor t = from_vector(tv, n, 1), y = mi::one_hot(labels, 2);
  mi::KsgOptions o;
  o.seed = 7;
  const double value = mi::ksg(t, y, o);
  CHECK(value == Approx(0.5 * std::log(2.0)).margin(0.03));
  // ksg() takes the grouped engine here; the value is the brute force's, bit for bit.
  const at::Tensor tj = mi::add_jitter(t, o.jitter_amplitude, o.seed);
  const at::Tensor yj = mi::add_jitter(y, o.jitter_amplitude, o.seed, t.numel());
  CHECK(mi::ksg_counts(tj, yj, 3, mi::Method::kAuto, 2).method == mi::Method::kGrouped);
  CHECK(value == mi::ksg_from_counts(mi::ksg_counts(tj, yj, 3, mi::Method::kBruteForce, 2), 3));
}

TEST_CASE("mi: the jitter is x + a * u(seed, e + offset), element by element", "[mi]") {
  // The vectorised jitter loop (an AVX-512 clone where the CPU has it) against the SPEC formula
  // written plainly, bit for bit; 1003 elements, so the vector loop has a scalar tail.
  const at::Tensor x = at::randn({59, 17}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor j = mi::add_jitter(x, 1e-10, 77, 12345);
  std::size_t bad = 0;
  for (std::int64_t e = 0; e < x.numel(); ++e) {
    const double noise = 1e-10 * mi::jitter_uniform(77, static_cast<std::uint64_t>(e) + 12345);
    volatile double want = x.data_ptr<double>()[e];
    want = want + noise;
    if (j.data_ptr<double>()[e] != want) ++bad;
  }
  CHECK(bad == 0);
}

TEST_CASE("mi: concurrent estimates share the worker pool safely", "[mi]") {
  const at::Tensor labels = random_labels(2000, 10, 111);
  const at::Tensor t = jittered(softmax_outputs(labels, 10, 2.0, 112), 113);
  const at::Tensor y = jittered(mi::one_hot(labels, 10), 113, t.numel());
  const auto reference = mi::ksg_counts(t, y, 3, mi::Method::kBruteForce, 1);
  std::vector<mi::KsgCounts> results(4);
  std::vector<std::thread> callers;
  for (std::size_t c = 0; c < results.size(); ++c)
    callers.emplace_back([&, c] {
      for (int r = 0; r < 5; ++r)
        results[c] =
            mi::ksg_counts(t, y, 3, c % 2 == 0 ? mi::Method::kAuto : mi::Method::kKdTree, 2);
    });
  for (auto& th : callers) th.join();
  for (const auto& r : results) require_same_counts(r, reference);
}

TEST_CASE("mi: argument errors", "[mi]") {
  const at::Tensor x = at::rand({10, 2}), y = at::rand({9, 1});
  CHECK_THROWS(mi::ksg(x, y));
  CHECK_THROWS(mi::ksg(at::rand({3, 1}), at::rand({3, 1})));  // n <= k
  CHECK_THROWS(mi::ksg_counts(at::rand({10, 1}), at::rand({10, 1}), 0));
}

TEST_CASE("mi: CUDA counts equal CPU counts exactly", "[mi][cuda]") {
  AUTOML_SKIP_WITHOUT(automl::test::cuda_device());
  const at::Tensor labels = random_labels(3000, 10, 3);
  const at::Tensor t = mi::add_jitter(softmax_outputs(labels, 10, 2.0, 4), 1e-10, 9);
  const at::Tensor y = mi::add_jitter(mi::one_hot(labels, 10), 1e-10, 9, t.numel());
  require_same_counts(mi::ksg_counts(t, y, 3, mi::Method::kCuda),
                      mi::ksg_counts(t, y, 3, mi::Method::kAuto));
  auto [x, z] = gaussian_pairs(700, 300, 0.5, 12);
  require_same_counts(mi::ksg_counts(x, z, 4, mi::Method::kCuda),
                      mi::ksg_counts(x, z, 4, mi::Method::kBruteForce));
  // Jitter on the device equals jitter on the host, and the full estimate agrees bit for bit.
  const at::Device dev(at::kCUDA, 0);
  CHECK(at::equal(mi::add_jitter(t.to(dev), 1e-10, 3).cpu(), mi::add_jitter(t, 1e-10, 3)));
  mi::KsgOptions o;
  o.seed = 5;
  CHECK(mi::ksg(t.to(dev), y.to(dev), o) == mi::ksg(t, y, o));
}
