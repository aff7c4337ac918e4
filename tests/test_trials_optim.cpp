// LARS against a hand computation, per-group options, and the non-MI LR policies.
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cmath>

#include "trials/optimizers.h"
#include "trials/policies.h"

using automl::trials::Lars;
using automl::trials::LarsOptions;

TEST_CASE("LARS: the first two steps equal a hand computation", "[trials][lars]") {
  auto w = torch::tensor({3.0, 4.0}, torch::kDouble).requires_grad_(true);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{w});
  Lars lars(groups, LarsOptions(0.1).momentum(0.9).weight_decay(0.01).trust_coefficient(0.001));
  const double g[2] = {0.3, 0.4};  // ||g|| = 0.5

  // Step 1: ||w|| = 5, local = 0.001*5/(0.5 + 0.01*5) = 0.005/0.55;
  // v = 0.1 * local * (g + 0.01 w) = 0.1 * (0.005/0.55) * [0.33, 0.44] = [0.0003, 0.0004].
  w.mutable_grad() = torch::tensor({g[0], g[1]}, torch::kDouble);
  lars.step();
  CHECK(w[0].item<double>() == Approx(3.0 - 0.0003).epsilon(1e-12));
  CHECK(w[1].item<double>() == Approx(4.0 - 0.0004).epsilon(1e-12));

  // Step 2: w = 0.9999 * [3, 4], ||w|| = 4.9995.
  const double w1[2] = {2.9997, 3.9996}, norm1 = 4.9995;
  const double local2 = 0.001 * norm1 / (0.5 + 0.01 * norm1);
  double expected[2];
  for (int i = 0; i < 2; ++i) {
    const double v1 = (i == 0 ? 0.0003 : 0.0004);
    const double v2 = 0.9 * v1 + 0.1 * local2 * (g[i] + 0.01 * w1[i]);
    expected[i] = w1[i] - v2;
  }
  w.mutable_grad() = torch::tensor({g[0], g[1]}, torch::kDouble);
  lars.step();
  CHECK(w[0].item<double>() == Approx(expected[0]).epsilon(1e-12));
  CHECK(w[1].item<double>() == Approx(expected[1]).epsilon(1e-12));
}

TEST_CASE("LARS: a zero weight or gradient norm uses local LR 1", "[trials][lars]") {
  auto w = torch::zeros({2}, torch::kDouble).requires_grad_(true);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{w});
  Lars lars(groups, LarsOptions(0.1).momentum(0.0));
  w.mutable_grad() = torch::tensor({1.0, -2.0}, torch::kDouble);
  lars.step();
  CHECK(w[0].item<double>() == Approx(-0.1));
  CHECK(w[1].item<double>() == Approx(0.2));
}

TEST_CASE("Per-group options survive add_param_group (LARS and SGD)", "[trials][lars]") {
  auto a = torch::tensor({3.0, 4.0}, torch::kDouble).requires_grad_(true);
  auto b = torch::tensor({3.0, 4.0}, torch::kDouble).requires_grad_(true);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{a});
  Lars lars(groups, LarsOptions(0.1).momentum(0.9).trust_coefficient(0.001));
  lars.add_param_group(torch::optim::OptimizerParamGroup(
      {b}, std::make_unique<LarsOptions>(LarsOptions(0.5).momentum(0.0).trust_coefficient(0.01))));
  REQUIRE(lars.param_groups().size() == 2);
  const auto& second = static_cast<const LarsOptions&>(lars.param_groups()[1].options());
  CHECK(second.lr() == 0.5);
  CHECK(second.momentum() == 0.0);
  CHECK(second.trust_coefficient() == 0.01);
  CHECK(static_cast<const LarsOptions&>(lars.param_groups()[0].options()).lr() == 0.1);

  // Both see gradient [0.3, 0.4]: local = eta * 5 / 0.5 = 10 eta.
  a.mutable_grad() = torch::tensor({0.3, 0.4}, torch::kDouble);
  b.mutable_grad() = torch::tensor({0.3, 0.4}, torch::kDouble);
  lars.step();
  CHECK(a[0].item<double>() == Approx(3.0 - 0.1 * 0.01 * 0.3).epsilon(1e-12));
  CHECK(b[0].item<double>() == Approx(3.0 - 0.5 * 0.1 * 0.3).epsilon(1e-12));

  // SGD through make_optimizer's group form keeps per-group LRs too.
  auto c = torch::ones({1}).requires_grad_(true);
  auto sgd = automl::trials::make_optimizer(automl::trials::OptimizerConfig{},
                                            std::vector<torch::Tensor>{c});
  sgd->add_param_group(torch::optim::OptimizerParamGroup(
      {torch::ones({1}).requires_grad_(true)},
      std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(0.7))));
  CHECK(automl::trials::group_lrs(*sgd) == std::vector<double>{0.01, 0.7});
}

TEST_CASE("Step, poly and constant policies set the hand-computed LRs", "[trials][policies]") {
  auto p = torch::zeros({1}).requires_grad_(true);
  torch::optim::SGD sgd(std::vector<torch::Tensor>{p}, torch::optim::SGDOptions(1.0));
  auto lr_at = [&](automl::trials::EpochScheduler& s, int epoch) {
    s.begin_epoch(epoch);
    return automl::trials::group_lrs(sgd).front();
  };
  SECTION("step: x0.5 every 2 epochs") {
    automl::trials::StepScheduler s(sgd, 0.1, 0.5, 2, {});
    CHECK(lr_at(s, 1) == Approx(0.1));
    CHECK(lr_at(s, 2) == Approx(0.1));
    CHECK(lr_at(s, 3) == Approx(0.05));
    CHECK(lr_at(s, 5) == Approx(0.025));
  }
  SECTION("step: x0.1 at milestones 2 and 4 (finished epochs)") {
    automl::trials::StepScheduler s(sgd, 0.1, 0.1, 30, {2, 4});
    CHECK(lr_at(s, 2) == Approx(0.1));
    CHECK(lr_at(s, 3) == Approx(0.01));
    CHECK(lr_at(s, 4) == Approx(0.01));
    CHECK(lr_at(s, 5) == Approx(0.001));
  }
  SECTION("poly: lr0 (1 - (e-1)/E)^2") {
    automl::trials::PolyScheduler s(sgd, 0.2, 2.0, 4);
    CHECK(lr_at(s, 1) == Approx(0.2));
    CHECK(lr_at(s, 2) == Approx(0.2 * 0.75 * 0.75));
    CHECK(lr_at(s, 4) == Approx(0.2 * 0.25 * 0.25));
  }
  SECTION("constant") {
    automl::trials::ConstantScheduler s(sgd, 0.03);
    CHECK(lr_at(s, 1) == Approx(0.03));
    CHECK(lr_at(s, 7) == Approx(0.03));
    CHECK(s.decisions() == std::vector<std::string>{"constant"});
  }
}
