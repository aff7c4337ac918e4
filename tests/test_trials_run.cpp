// Whole trials on real data: MI-SGD on a Fashion-MNIST subset learns and its LRs follow
// Algorithm 1 from the ITY it records; layer-wise mode; same seed, same records; resume;
// crash detection; validation; regression on the diabetes table.
#include <dlfcn.h>
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "mi/mi.h"
#include "test_support.h"
#include "trials/crash.h"
#include "trials/data.h"
#include "trials/network.h"
#include "trials/optimizers.h"
#include "trials/random.h"
#include "trials/trial.h"

using automl::trials::EpochRecord;
using automl::trials::run_trial;
using automl::trials::TrialConfig;

namespace {

TrialConfig fashion(std::int64_t train, int epochs) {
  TrialConfig c;
  c.data.path = automl::test::fashion_mnist_dir();
  c.data.train_subset = train;
  c.data.test_subset = 1000;
  c.model.name = "lenet";
  c.optimizer.momentum = 0.9;
  c.optimizer.nesterov = true;
  c.optimizer.lr = 0.05;
  c.epochs = epochs;
  c.batch_size = 32;
  c.seed = 3;
  c.mi.samples = 500;
  c.mi.stratified = true;
  return c;
}

std::vector<EpochRecord> collect(const TrialConfig& c,
                                 automl::trials::TrialSummary* summary = nullptr,
                                 const automl::trials::TrialRuntime& runtime = {}) {
  // One intra-op thread: CTest runs test processes in parallel, and OpenMP threads competing for
  // the same cores slow LibTorch down by an order of magnitude.
  automl::trials::set_threads(1);
  std::vector<EpochRecord> records;
  const auto s = run_trial(
      c, [&](const EpochRecord& r) { records.push_back(r); }, runtime);
  if (summary) *summary = s;
  return records;
}

// Algorithm 1 written out again, independently of trials/mi_decay: the LR epoch e should use.
double algorithm1_lr(const std::vector<double>& ity, double bound, int e, int epochs,
                     double previous, const automl::trials::PolicyConfig& p) {
  double best = ity[0];
  for (int i = 0; i < e; ++i) best = std::max(best, ity[i]);
  const double d_p = std::min(1.0, std::max(0.0, 1 - best / bound));
  if (e == 1) return p.lr_top;
  if (e == 2) return std::max(d_p * p.lr_max, p.lr_min);
  const double d_s = ity[e - 1] <= 0 ? 0 : (ity[e - 1] - ity[e - 2]) / ity[e - 1];
  if (d_s < p.eps) return std::max(d_p * (1.0 - double(e) / epochs) * p.lr_max, p.lr_min);
  return previous;
}

}  // namespace

TEST_CASE("MI-SGD on 2000 Fashion-MNIST images learns, ITY rises, LRs follow Algorithm 1",
          "[trials][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  auto c = fashion(2000, 3);
  c.policy.name = "mi";
  c.policy.lr_min = 0.001;
  c.policy.lr_max = 0.1;
  c.policy.lr_top = 0.05;
  c.policy.eps = 0.05;
  automl::trials::TrialSummary summary;
  const auto records = collect(c, &summary);
  REQUIRE(summary.status == automl::TrialStatus::done);
  REQUIRE(records.size() == 4);  // epoch 0 (before training) and 1..3
  CHECK(records[0].epoch == 0);
  // Stratified 500 of 10 balanced classes: the entropy bound is ln 10.
  CHECK(records[0].bound == Approx(std::log(10.0)).epsilon(1e-3));
  CHECK(records.back().test_accuracy > 0.6);  // chance is 0.1
  CHECK(records.back().ity > records[0].ity + 0.5);
  std::vector<double> ity;
  for (const auto& r : records) ity.push_back(r.ity);
  double previous = 0;
  for (int e = 1; e <= 3; ++e) {
    INFO("epoch " << e);
    const auto& r = records[e];
    REQUIRE(r.groups.size() == 1);
    CHECK(r.groups[0].ity == r.ity);
    CHECK(r.mi_seconds > 0);
    CHECK(r.mi_seconds < r.seconds);
    const double expected = algorithm1_lr(ity, records[0].bound, e, 3, previous, c.policy);
    CHECK(r.lr == Approx(expected).epsilon(1e-12));
    previous = expected;
    CHECK(r.groups[0].d_p ==
          Approx(std::max(0.0,
                          1 - *std::max_element(ity.begin(), ity.begin() + e) / records[0].bound)));
  }
  CHECK(records[1].groups[0].decision == "top");
  CHECK(records[2].groups[0].decision == "dp");
}

TEST_CASE("Same seed, same records (CPU)", "[trials][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  auto c = fashion(300, 2);
  c.policy.name = "mi";
  c.data.augment = true;
  const auto first = collect(c), again = collect(c);
  REQUIRE(again.size() == 3);
  REQUIRE(first.size() == 3);
  for (std::size_t i = 0; i < again.size(); ++i) {
    CHECK(again[i].train_loss == first[i].train_loss);
    CHECK(again[i].ity == first[i].ity);
    CHECK(again[i].lr == first[i].lr);
    CHECK(again[i].test_accuracy == first[i].test_accuracy);
  }
  c.seed = 4;
  CHECK(collect(c).back().train_loss != first.back().train_loss);
}

// The training loop as LibTorch's documentation writes it (zero_grad, forward, loss, backward,
// step; loss and accuracy summed out of place on the device), over the trial's order and seeds.
// The trial's loop drops gradients instead of zeroing them and sums in place: the records must
// not change by a bit.
std::vector<std::pair<double, double>> plain_loop(const TrialConfig& c) {
  const auto splits = automl::trials::load_splits(c.data, c.seed);
  const auto& x = splits.train.inputs;
  const auto& y = splits.train.targets;
  torch::manual_seed(c.seed);
  auto net = automl::trials::make_network(c.model, {}, splits.train.num_classes);
  auto optimizer = automl::trials::make_optimizer(c.optimizer, net->parameters());
  std::vector<std::pair<double, double>> epochs;
  for (int e = 1; e <= c.epochs; ++e) {
    const auto seed = c.seed * 1000003ULL + static_cast<std::uint64_t>(e);
    torch::manual_seed(seed);
    net->train();
    const auto order = torch::tensor(automl::trials::seeded_permutation(x.size(0), seed));
    torch::Tensor loss_sum, correct;
    for (std::int64_t begin = 0; begin < x.size(0); begin += c.batch_size) {
      const auto idx =
          order.slice(0, begin, std::min<std::int64_t>(begin + c.batch_size, x.size(0)));
      const auto inputs = x.index_select(0, idx), targets = y.index_select(0, idx);
      optimizer->zero_grad();
      const auto outputs = net->forward(inputs);
      const auto loss = torch::nn::functional::cross_entropy(outputs, targets);
      loss.backward();
      optimizer->step();
      const auto l = loss.detach() * idx.size(0);
      const auto k = outputs.detach().argmax(1).eq(targets).sum();
      loss_sum = loss_sum.defined() ? loss_sum + l : l;
      correct = correct.defined() ? correct + k : k;
    }
    const double n = static_cast<double>(x.size(0));
    epochs.emplace_back(loss_sum.item<double>() / n, correct.item<double>() / n);
  }
  return epochs;
}

TEST_CASE("The trial's training loop gives the plain LibTorch loop's numbers bit for bit",
          "[trials][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  for (const std::string optimizer : {"sgd", "adam"}) {
    auto c = fashion(1000, 2);  // batch 32 ...
    c.batch_size = 48;          // ... 48: a short last batch of 40
    c.mi.enabled = false;
    c.evaluate_test = false;
    c.optimizer.name = optimizer;
    if (optimizer == "adam") c.optimizer.lr = 1e-3;
    const auto trial = collect(c);
    const auto plain = plain_loop(c);
    REQUIRE(trial.size() == plain.size());
    for (std::size_t e = 0; e < trial.size(); ++e) {
      INFO(optimizer << " epoch " << e + 1);
      CHECK(trial[e].train_loss == plain[e].first);
      CHECK(trial[e].train_accuracy == plain[e].second);
    }
  }
}

// With fewer LibTorch threads than cores, an OpenBLAS pool of one thread per core would compete
// with them, and its GEMM results would depend on the machine instead of on `threads`.
TEST_CASE("set_threads sizes OpenBLAS's thread pool too", "[trials][run]") {
  using Get = int (*)();
  const auto get = reinterpret_cast<Get>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (!get) {
    automl::test::skip("OpenBLAS: this LibTorch uses another BLAS, with no pool to size");
    return;
  }
  automl::trials::set_threads(2);
  CHECK(get() == 2);
  CHECK(torch::get_num_threads() == 2);
  automl::trials::set_threads(1);
  CHECK(get() == 1);
  CHECK(torch::get_num_threads() == 1);
}

TEST_CASE("Bound ksg_xy is KSG I(X, Y) on the MI subset, and start: mi starts from ITY_0",
          "[trials][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  auto c = fashion(300, 1);
  c.mi.samples = 200;
  c.policy.name = "mi";
  c.policy.bound = "ksg_xy";
  c.policy.start = "mi";
  const auto records = collect(c);
  REQUIRE(records.size() == 2);

  // The same subset drawn again with mi/ directly: the trial's training split, the trial's seed.
  const auto splits = automl::trials::load_splits(c.data, c.seed);
  const auto picked =
      automl::mi::select_subset(splits.train.size(), 200, c.seed, splits.train.targets);
  automl::mi::KsgOptions options;
  options.seed = c.seed;
  const double ixy = automl::mi::ksg(
      splits.train.inputs.index_select(0, picked).flatten(1),
      automl::mi::one_hot(splits.train.targets.index_select(0, picked), 10), options);
  CHECK(records[0].bound == Approx(ixy).epsilon(1e-12));
  const double ratio = std::clamp(records[0].ity / ixy, 0.0, 1.0);
  CHECK(records[1].lr == Approx(std::max(ratio * c.policy.lr_max, c.policy.lr_min)));
  CHECK(records[1].groups[0].decision == "mi");
}

TEST_CASE("Layer-wise MI-SGD: one group per layer, each with its own ITY and LR", "[trials][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  auto c = fashion(500, 3);
  c.policy.name = "mi";
  c.policy.layerwise = true;
  c.policy.lr_top = 0.02;
  c.mi.layer_features = "channel_mean";
  const auto records = collect(c);
  REQUIRE(records.size() == 4);
  for (const auto& r : records) {
    REQUIRE(r.groups.size() == 4);
    CHECK(r.groups[0].name == "conv1");
    CHECK(r.groups[3].name == "fc2");
    CHECK(r.groups[3].ity == r.ity);  // the last layer's T is the model's
  }
  // Epoch 2's LR per layer: max(d_p * LR_max, LR_min) from that layer's own ITY_0, ITY_1.
  std::set<double> distinct;
  for (std::size_t g = 0; g < 4; ++g) {
    const double best = std::max(records[0].groups[g].ity, records[1].groups[g].ity);
    const double d_p = std::clamp(1 - best / records[0].bound, 0.0, 1.0);
    CHECK(records[2].groups[g].lr == Approx(std::max(d_p * c.policy.lr_max, c.policy.lr_min)));
    distinct.insert(records[2].groups[g].lr);
  }
  CHECK(distinct.size() > 1);
}

TEST_CASE("Resume: 2 epochs + resume for the 3rd equals 3 epochs straight", "[trials][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  automl::test::TempDir dir;
  auto c = fashion(300, 3);
  c.mi.samples = 200;
  c.policy.name = "mi";
  c.policy.eps = 0.5;  // so that the third epoch's rule depends on the restored history
  c.data.augment = true;
  const auto straight = collect(c);
  REQUIRE(straight.size() == 4);

  automl::trials::TrialRuntime runtime;
  runtime.checkpoint_path = dir.file("trial.pt");
  int asked = 0;
  runtime.should_stop = [&] { return ++asked == 2; };
  automl::trials::TrialSummary first;
  const auto part1 = collect(c, &first, runtime);
  CHECK(first.stopped);
  REQUIRE(part1.size() == 3);  // epochs 0, 1, 2
  CHECK(std::filesystem::exists(runtime.checkpoint_path));

  runtime.should_stop = nullptr;
  automl::trials::TrialSummary second;
  const auto part2 = collect(c, &second, runtime);
  CHECK(second.status == automl::TrialStatus::done);
  CHECK_FALSE(second.stopped);
  CHECK(second.epochs_run == 3);
  REQUIRE(part2.size() == 1);  // only epoch 3: earlier epochs are not reported again
  const auto& a = straight[3];
  const auto& b = part2[0];
  CHECK(b.epoch == 3);
  CHECK(b.train_loss == a.train_loss);
  CHECK(b.test_accuracy == a.test_accuracy);
  CHECK(b.ity == a.ity);
  CHECK(b.lr == a.lr);
  CHECK(b.groups[0].d_s == a.groups[0].d_s);
  CHECK(b.groups[0].decision == a.groups[0].decision);

  // A finished trial's checkpoint returns its summary at once.
  const auto part3 = collect(c, nullptr, runtime);
  CHECK(part3.empty());
}

TEST_CASE("A constant-LR trial records ITY, d_p and d_s as Algorithm 2 lists them",
          "[trials][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::fashion_mnist());
  auto c = fashion(500, 3);
  c.data.validation_fraction = 0.2;
  const auto records = collect(c);
  REQUIRE(records.size() == 4);
  CHECK(records[1].groups[0].d_s == 1.0);  // e = 1: d_s = 1
  CHECK(records[1].groups[0].d_p == Approx(1 - records[0].ity / records[0].bound));
  const double d_s3 = (records[2].ity - records[1].ity) / records[2].ity;
  CHECK(records[3].groups[0].d_s == Approx(d_s3));
  for (int e = 1; e <= 3; ++e) {
    CHECK(records[e].lr == 0.05);
    CHECK(records[e].groups[0].decision == "constant");
  }
  CHECK(records[3].validation_accuracy > 0.3);  // 100 held-out images, chance 0.1
}

TEST_CASE("Crash rules of SPEC.md 4, by hand", "[trials][crash]") {
  SECTION("non-finite loss") {
    automl::trials::CrashDetector d(10);
    CHECK(d.check(1, std::nan(""), 0.1) == "non-finite training loss at epoch 1");
  }
  SECTION("loss above 10x the first epoch's") {
    automl::trials::CrashDetector d(10);
    CHECK(d.check(1, 2.0, 0.1).empty());
    CHECK(d.check(2, 20.0, 0.1).empty());  // exactly 10x is not above
    CHECK_THAT(d.check(3, 20.5, 0.1), Catch::Contains("above 10x"));
  }
  SECTION("accuracy back to 1.2x chance after reaching 2x") {
    automl::trials::CrashDetector d(10);
    CHECK(d.check(1, 2.0, 0.11).empty());
    CHECK(d.check(2, 2.0, 0.12).empty());  // near chance, never reached 0.2: slow, not crashed
    CHECK(d.check(3, 1.5, 0.20).empty());  // reaches 2x chance
    CHECK(d.check(4, 1.5, 0.13).empty());  // 1.3x chance: above the 1.2x line
    CHECK_THAT(d.check(5, 1.9, 0.12), Catch::Contains("1.2x chance"));
  }
  SECTION("regression has no accuracy rule") {
    automl::trials::CrashDetector d(0);
    CHECK(d.check(1, 1.0, 0.0).empty());
    CHECK(d.check(2, 0.5, 0.0).empty());
  }
}

TEST_CASE("A diverging trial ends as crashed with a reason, keeping its records", "[trials][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::diabetes());
  const std::string path = automl::test::diabetes_csv();
  TrialConfig c;
  c.data.format = "csv";
  c.data.path = path;
  c.model.name = "mlp";
  c.optimizer.lr = 1e3;  // MSE overflows within the first epochs
  c.epochs = 10;
  automl::trials::TrialSummary summary;
  const auto records = collect(c, &summary);
  CHECK(summary.status == automl::TrialStatus::crashed);
  CHECK_THAT(summary.reason, Catch::Contains("non-finite") || Catch::Contains("above 10x"));
  REQUIRE_FALSE(records.empty());
  CHECK(records.back().epoch == summary.epochs_run);
  CHECK(summary.epochs_run < 10);
}

TEST_CASE("Regression on the diabetes table: MSE training lowers the MAE", "[trials][run]") {
  AUTOML_SKIP_WITHOUT(automl::test::diabetes());
  const std::string path = automl::test::diabetes_csv();
  TrialConfig c;
  c.data.format = "csv";
  c.data.path = path;
  c.data.target_columns = {"target"};
  c.model.name = "mlp";
  c.optimizer.lr = 0.01;
  c.epochs = 20;
  c.batch_size = 32;
  c.policy.name = "mi";  // bound auto = ksg_xy for regression
  c.policy.lr_top = 0.01;
  c.policy.lr_max = 0.02;
  c.policy.lr_min = 0.001;
  c.data.validation_fraction = 0.1;
  automl::trials::TrialSummary summary;
  const auto records = collect(c, &summary);
  REQUIRE(summary.status == automl::TrialStatus::done);
  REQUIRE(records.size() == 21);
  CHECK(records.back().validation_mae > 0);
  CHECK(records.back().validation_mae < records[1].validation_mae);
  CHECK(records.back().train_mae < records[1].train_mae);
  CHECK(records[0].bound > 0);
  // The target spans 25..346 (sd ~77): a constant guess has MAE ~65; a trained model < 50.
  CHECK(records.back().test_mae < records[1].test_mae);
  CHECK(records.back().test_mae < 50);
  CHECK(records.back().ity > records[0].ity);
  CHECK(summary.best_test_mae <= records.back().test_mae);
}
