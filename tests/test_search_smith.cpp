// Smith's LR sweep: the LR sequence, the smoothing and stop rule, and the suggestion, against
// values worked out by hand (numpy.gradient's rule for the steepest descent); then a real sweep
// on Fashion-MNIST.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "search/smith.h"
#include "test_support.h"

using namespace automl;

TEST_CASE("Smith's LRs grow exponentially from lr_start to lr_end", "[search][smith]") {
  search::SmithConfig c;
  c.lr_start = 1e-4;
  c.lr_end = 1;
  c.steps = 5;
  const auto lrs = search::smith_lrs(c);
  REQUIRE(lrs.size() == 5);
  const double expected[] = {1e-4, 1e-3, 1e-2, 1e-1, 1};
  for (std::size_t i = 0; i < lrs.size(); ++i) CHECK(lrs[i] == Approx(expected[i]));
}

TEST_CASE("The sweep's loss is a bias-corrected average and stops past stop_factor x its best",
          "[search][smith]") {
  search::SmithConfig c;
  c.beta = 0.5;
  c.stop_factor = 1.5;
  c.skip_begin = 0;
  c.skip_end = 0;
  search::SmithRecorder recorder(c);
  // avg 0.5*0 + 0.5*2 = 1, / (1 - 0.5) = 2; then 0.5*1 + 0.5*1 = 1, / 0.75 = 4/3 (the best);
  // then 0.5*1 + 0.5*3 = 2, / 0.875 = 16/7 > 1.5 * 4/3 = 2: stop.
  CHECK(recorder.add(0.1, 2));
  CHECK(recorder.add(0.2, 1));
  CHECK_FALSE(recorder.add(0.4, 3));
  const auto sweep = recorder.result();
  REQUIRE(sweep.smoothed.size() == 3);
  CHECK(sweep.smoothed[0] == Approx(2));
  CHECK(sweep.smoothed[1] == Approx(4.0 / 3));
  CHECK(sweep.smoothed[2] == Approx(16.0 / 7));
  CHECK(sweep.stopped_early);
  // numpy.gradient([2, 4/3, 16/7]) = [-2/3, 1/7, 20/21]: the steepest descent is step 0.
  REQUIRE(sweep.suggested);
  CHECK(*sweep.suggested == 0);
  CHECK(sweep.suggestion() == 0.1);
}

TEST_CASE("A diverged loss stops the sweep", "[search][smith]") {
  search::SmithRecorder recorder({});
  CHECK(recorder.add(1e-3, 2.3));
  CHECK_FALSE(recorder.add(1e-2, std::numeric_limits<double>::quiet_NaN()));
  CHECK(recorder.result().stopped_early);
}

TEST_CASE("The suggestion is numpy.gradient's argmin inside the skips", "[search][smith]") {
  const std::vector<double> smoothed{5, 4, 2, 1.5, 1.4, 3};
  // numpy.gradient(smoothed) = [-1, -1.5, -1.25, -0.3, 0.75, 1.6].
  CHECK(search::steepest_descent(smoothed, 0, 0) == std::optional<std::size_t>(1));
  // numpy.gradient([4, 2, 1.5, 1.4]) = [-2, -1.25, -0.3, -0.1]: its first element, step 1.
  CHECK(search::steepest_descent(smoothed, 1, 1) == std::optional<std::size_t>(1));
  // numpy.gradient([2, 1.5, 1.4]) = [-0.5, -0.3, -0.1]: step 2.
  CHECK(search::steepest_descent(smoothed, 2, 1) == std::optional<std::size_t>(2));
  // Non-finite steps are left out and the index stays the step's: [5, 3, 2.5] at steps 0, 2, 3
  // has gradient [-2, -1.25, -0.5]; [3, 2.5, 1] at steps 1, 2, 3 has [-0.5, -1, -1.5].
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(search::steepest_descent({5, nan, 3, 2.5}, 0, 0) == std::optional<std::size_t>(0));
  CHECK(search::steepest_descent({nan, 3, 2.5, 1}, 0, 0) == std::optional<std::size_t>(3));
  CHECK_FALSE(search::steepest_descent({5, 4, 3}, 2, 0));  // one step left
}

TEST_CASE("A sweep on Fashion-MNIST starts at the untrained loss and stops once it diverges",
          "[search][smith]") {
  AUTOML_SKIP_WITHOUT(test::fashion_mnist());
  trials::TrialConfig base;
  base.data.path = test::fashion_mnist_dir();
  base.data.train_subset = 2000;
  base.data.test_subset = 100;
  base.model.name = "lenet";
  base.optimizer.momentum = 0.9;
  base.batch_size = 32;
  base.seed = 5;
  base.mi.enabled = false;
  search::SmithConfig c;
  c.lr_start = 1e-5;
  c.lr_end = 1e4;
  c.steps = 120;  // more than one pass over 2000 images (63 batches)
  const auto sweep = search::run_smith_sweep(base, c);
  const auto lrs = search::smith_lrs(c);
  REQUIRE(sweep.lrs.size() >= 20);
  for (std::size_t i = 0; i < sweep.lrs.size(); ++i) CHECK(sweep.lrs[i] == lrs[i]);
  // Ten classes, untrained: the loss is about ln 10 while the LR is tiny.
  CHECK(sweep.smoothed[5] == Approx(std::log(10.0)).margin(0.15));
  INFO("stopped at LR " << sweep.lrs.back() << ", smoothed loss " << sweep.smoothed.back());
  CHECK(sweep.stopped_early);  // SGD with momentum does not survive LR 1e4
  CHECK(sweep.lrs.size() < lrs.size());
  REQUIRE(sweep.suggested);
  CHECK(sweep.suggestion() > 1e-4);
  CHECK(sweep.suggestion() < sweep.lrs.back());
  // Deterministic by seed.
  CHECK(search::run_smith_sweep(base, c).losses == sweep.losses);
}
