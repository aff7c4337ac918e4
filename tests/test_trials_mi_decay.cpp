// Algorithm 1 (SPEC.md 3): LR sequences from given ITY traces against hand computations, for
// every option, model-wise (one group) and layer-wise (one scheduler group per layer).
#include <torch/optim/sgd.h>
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include "trials/mi_decay.h"
#include "trials/optimizers.h"
#include "trials/policies.h"

using automl::trials::mi_decay_step;
using automl::trials::mi_metrics;
using automl::trials::MiDecay;
using automl::trials::MiDecayOptions;

namespace {

// lr_min 0.001, lr_max 0.1, lr_top 0.05, eps 0.01, E = 10, bound 2 nats.
MiDecayOptions options(bool start_from_mi, bool time_decay) {
  MiDecayOptions o;
  o.lr_min = 0.001;
  o.lr_max = 0.1;
  o.lr_top = 0.05;
  o.eps = 0.01;
  o.epochs = 10;
  o.start_from_mi = start_from_mi;
  o.time_decay = time_decay;
  return o;
}

// ITY_0..ITY_8: rises, stalls (d_s < eps), rises, dips (d_s < 0), hits 0 (the guard), then
// overshoots the bound (d_p_raw < 0, clamped to 0) and stays (d_s = 0).
const std::vector<double> kTrace = {0.2, 1.0, 1.5, 1.505, 1.8, 1.79, 0.0, 2.5, 2.5};

struct Expected {
  double lr, d_p, d_p_raw, d_s;
  const char* decision;
};

// Worked by hand from SPEC.md 3 (d_p from the max so far; d_s from the last two values).
std::vector<Expected> by_hand(bool start_from_mi, bool time_decay) {
  const double t4 = time_decay ? 1 - 4.0 / 10 : 1, t6 = time_decay ? 1 - 6.0 / 10 : 1,
               t7 = time_decay ? 1 - 7.0 / 10 : 1;
  const double lr1 = start_from_mi ? 0.2 / 2 * 0.1 : 0.05;
  const double lr4 = 0.2475 * t4 * 0.1, lr6 = 0.1 * t6 * 0.1, lr7 = 0.1 * t7 * 0.1;
  return {
      {lr1, 0.9, 0.9, 1.0, start_from_mi ? "mi" : "top"},  // e = 1: history ITY_0
      {0.05, 0.5, 0.5, 0.8, "dp"},                         // e = 2: 1 - 1.0/2
      {0.05, 0.25, 0.25, 0.5 / 1.5, "hold"},               // e = 3: d_s 0.333 >= eps
      {lr4, 0.2475, 0.2475, 0.005 / 1.505, "decay"},       // e = 4: d_s 0.0033 < eps
      {lr4, 0.1, 0.1, 0.295 / 1.8, "hold"},                // e = 5
      {lr6, 0.1, 0.1, -0.01 / 1.79, "decay"},              // e = 6: d_s < 0
      {lr7, 0.1, 0.1, 0.0, "decay"},                       // e = 7: ITY_6 = 0: guard
      {lr7, 0.0, -0.25, 1.0, "hold"},                      // e = 8: (2.5 - 0)/2.5
      {0.001, 0.0, -0.25, 0.0, "decay"},                   // e = 9: 0 * ... -> LR_min
  };
}

void check_sequence(bool start_from_mi, bool time_decay) {
  MiDecay policy(options(start_from_mi, time_decay), 2.0);
  const auto expected = by_hand(start_from_mi, time_decay);
  for (std::size_t e = 1; e <= expected.size(); ++e) {
    policy.record(kTrace[e - 1]);
    const auto step = policy.next();
    const auto& want = expected[e - 1];
    INFO("epoch " << e);
    CHECK(step.lr == Approx(want.lr).epsilon(1e-12));
    CHECK(step.metrics.d_p == Approx(want.d_p).margin(1e-12));
    CHECK(step.metrics.d_p_raw == Approx(want.d_p_raw).margin(1e-12));
    CHECK(step.metrics.d_s == Approx(want.d_s).margin(1e-12));
    CHECK(step.decision == want.decision);
  }
}

}  // namespace

TEST_CASE("Algorithm 1 LR sequence, start top, time decay by epoch", "[trials][mi_decay]") {
  check_sequence(false, true);
}
TEST_CASE("Algorithm 1 LR sequence, start mi, time decay by epoch", "[trials][mi_decay]") {
  check_sequence(true, true);
}
TEST_CASE("Algorithm 1 LR sequence, start top, no time decay", "[trials][mi_decay]") {
  check_sequence(false, false);
}
TEST_CASE("Algorithm 1 LR sequence, start mi, no time decay", "[trials][mi_decay]") {
  check_sequence(true, false);
}

TEST_CASE("Algorithm 1 edge cases: guard flag, start mi clamps, LR_min floor",
          "[trials][mi_decay]") {
  SECTION("the ITY <= 0 guard is flagged") {
    const auto m = mi_metrics({0.5, -0.2}, 1.0);
    CHECK(m.guarded);
    CHECK(m.d_s == 0.0);
    CHECK_FALSE(mi_metrics({0.5, 0.6}, 1.0).guarded);
  }
  SECTION("start mi with ITY_0 above the bound starts at LR_max, not above") {
    const auto step = mi_decay_step({3.0}, 2.0, 0, options(true, true));
    CHECK(step.lr == Approx(0.1));
    CHECK(step.metrics.d_p_raw == Approx(-0.5));
  }
  SECTION("start mi with ITY_0 = 0 starts at LR_min") {
    CHECK(mi_decay_step({0.0}, 2.0, 0, options(true, true)).lr == Approx(0.001));
  }
  SECTION("at e = E the time factor is 0: LR_min") {
    auto o = options(false, true);
    o.epochs = 3;
    CHECK(mi_decay_step({0.1, 0.5, 0.5}, 2.0, 0.05, o).lr == Approx(0.001));
  }
  SECTION("bad inputs") {
    CHECK_THROWS(mi_metrics({}, 1.0));
    CHECK_THROWS(mi_metrics({0.1}, 0.0));
  }
}

TEST_CASE("MiDecayScheduler: layer-wise, every group follows its own ITY history",
          "[trials][mi_decay]") {
  // Three layers (groups); the scheduler sets each group's LR in the optimizer.
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (int g = 0; g < 3; ++g) groups.emplace_back(std::vector<torch::Tensor>{torch::zeros({2})});
  torch::optim::SGD sgd(groups, torch::optim::SGDOptions(1.0));
  automl::trials::MiDecayScheduler scheduler(sgd, options(false, true), 2.0);

  // Layer 0 follows kTrace; layer 1 saturates at once; layer 2 keeps rising.
  const std::vector<std::vector<double>> traces = {
      {0.2, 1.0, 1.5, 1.505}, {1.0, 1.0, 1.0, 1.0}, {0.1, 0.2, 0.4, 0.8}};
  // Hand computation, epochs 1..4 (E = 10):
  const std::vector<std::vector<double>> lrs = {
      {0.05, 0.05, 0.05, 0.2475 * 0.6 * 0.1},
      // e=2: d_p = 0.5 -> 0.05; e=3: d_s = 0 -> 0.5*0.7*0.1; e=4: d_s = 0 -> 0.5*0.6*0.1
      {0.05, 0.05, 0.5 * 0.7 * 0.1, 0.5 * 0.6 * 0.1},
      // e=2: d_p = 0.9 -> 0.09; e=3: d_s = 0.5 -> hold; e=4: d_s = 0.5 -> hold
      {0.05, 0.09, 0.09, 0.09}};
  for (int e = 1; e <= 4; ++e) {
    scheduler.observe({traces[0][e - 1], traces[1][e - 1], traces[2][e - 1]});
    scheduler.begin_epoch(e);
    const auto got = automl::trials::group_lrs(sgd);
    REQUIRE(got.size() == 3);
    for (int g = 0; g < 3; ++g) {
      INFO("epoch " << e << " group " << g);
      CHECK(got[g] == Approx(lrs[g][e - 1]).epsilon(1e-12));
    }
  }
  CHECK(scheduler.decisions() == std::vector<std::string>{"decay", "decay", "hold"});
}
