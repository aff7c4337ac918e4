// The example experiments under experiments/ validate, and the sections beyond the basics land
// in the struct with the values written (or the documented defaults).
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "common/error.h"
#include "experiments/experiment.h"
#include "test_support.h"
#include "trials/optimizers.h"
#include "trials/policies.h"

using automl::experiments::load_experiment;
using automl::experiments::LoadOptions;
using automl::experiments::parse_experiment;

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> example_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path(AUTOML_SOURCE_DIR) / "experiments"))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Relative data paths in the examples are relative to the repository root, where users run them.
class InSourceDir {
 public:
  InSourceDir() : previous_(fs::current_path()) { fs::current_path(AUTOML_SOURCE_DIR); }
  ~InSourceDir() { fs::current_path(previous_); }

 private:
  fs::path previous_;
};

}  // namespace

TEST_CASE("Every example experiment validates", "[experiments]") {
  InSourceDir here;
  const auto files = example_files();
  REQUIRE(files.size() >= 9);
  for (const auto& file : files) {
    INFO(file.string());
    // Everything but the presence of the data, on every machine.
    LoadOptions no_data_check;
    no_data_check.check_data = false;
    const auto e = load_experiment(file.string(), no_data_check);
    CHECK(e.name == file.stem().string());
    // With the data check: loads when the data is there, else says it is absent and how to get it.
    if (fs::exists(e.trial.data.path)) {
      CHECK_NOTHROW(load_experiment(file.string()));
    } else {
      WARN(file.filename().string() << ": data absent (" << e.trial.data.path << ")");
      CHECK_THROWS_WITH(load_experiment(file.string()),
                        Catch::Contains("data.path") && Catch::Contains("does not exist"));
    }
  }
}

TEST_CASE("The default experiment has the shape the issue asks for", "[experiments]") {
  InSourceDir here;
  const auto e = load_experiment("experiments/default.yaml");
  CHECK(e.trial.data.format == "idx");
  CHECK(e.trial.model.name == "lenet");
  CHECK(e.lrrt.mode == "quick");
  CHECK(e.methods.mi_sgd);
  CHECK(e.methods.mi_sgd_layerwise);
  CHECK(e.methods.baselines);
  CHECK(e.baselines.optimizers ==
        std::vector<automl::Method>{automl::Method::adam, automl::Method::rmsprop,
                                    automl::Method::lars, automl::Method::step});
  CHECK(e.seeds == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(e.budget.device_minutes == 10);
  CHECK(e.devices.kind == "cpu");
}

TEST_CASE("The full Fashion-MNIST experiment follows the paper's protocol", "[experiments]") {
  InSourceDir here;
  const auto e = load_experiment("experiments/fashion-mnist-full.yaml");
  CHECK(e.trial.epochs == 50);
  CHECK(e.trial.batch_size == 256);
  CHECK(e.seeds.size() == 3);
  CHECK(e.lrrt.mode == "full");
  CHECK(e.lrrt.trials == 3);
  CHECK(e.lrrt.epochs_per_trial == 5);
  CHECK(e.trial.data.train_subset == 0);  // all 60k
  CHECK(e.trial.policy.bound == "entropy");
  const auto ksg = load_experiment("experiments/fashion-mnist-ksg-xy.yaml");
  CHECK(ksg.trial.policy.bound == "ksg_xy");
  CHECK(ksg.database == e.database);  // one report shows both bounds
}

TEST_CASE("Absent user data sets are named, with where to put them", "[experiments]") {
  using Catch::Contains;
  const auto yaml = [](const std::string& format, const std::string& path) {
    return "name: a\ndata:\n  format: " + format + "\n  path: " + path + "\n";
  };
  CHECK_THROWS_WITH(parse_experiment(yaml("cifar10", "/nonexistent/cifar"), "c.yaml"),
                    Contains("c.yaml:4: data.path") && Contains("CIFAR-10 data set is absent") &&
                        Contains("/nonexistent/cifar/data_batch_1.bin") &&
                        Contains("test_batch.bin"));
  CHECK_THROWS_WITH(
      parse_experiment(yaml("cifar100", "/nonexistent/c100"), "c.yaml"),
      Contains("CIFAR-100 data set is absent") && Contains("/nonexistent/c100/train.bin"));
  CHECK_THROWS_WITH(parse_experiment(yaml("image_folder", "/nonexistent/in"), "c.yaml"),
                    Contains("ImageNet (ILSVRC-2012) is licensed per user") &&
                        Contains("/nonexistent/in/train/<wnid>/"));
  CHECK_THROWS_WITH(
      parse_experiment(yaml("csv", "data/sklearn/none.csv") + "  targets: [y]\n", "c.yaml"),
      Contains("scripts/extract-sklearn-data.sh"));
  CHECK_THROWS_WITH(parse_experiment(yaml("idx", "/nonexistent/fm"), "c.yaml"),
                    Contains("dataset-fashion-mnist"));
  // A folder without train/ and val/ is named at load, not after the LR range test.
  CHECK_THROWS_WITH(parse_experiment(yaml("image_folder", AUTOML_SOURCE_DIR), "c.yaml"),
                    Contains("c.yaml:4: data.path") && Contains("holds no train/ folder"));
}

TEST_CASE("Each choice a registry lists is one its factory builds", "[experiments][trials]") {
  // The loader accepts what these lists say; the factories must agree with them.
  const auto parameter = torch::zeros({2}, torch::requires_grad());
  for (const auto& name : automl::trials::optimizer_names()) {
    INFO(name);
    automl::trials::OptimizerConfig optimizer;
    optimizer.name = name;
    CHECK(automl::trials::make_optimizer(optimizer, {parameter}) != nullptr);
  }
  automl::trials::OptimizerConfig sgd;
  for (const auto& name : automl::trials::policy_names()) {
    INFO(name);
    auto optimizer = automl::trials::make_optimizer(sgd, {parameter});
    automl::trials::TrialConfig trial;
    trial.policy.name = name;
    CHECK(automl::trials::make_scheduler(trial, *optimizer, /*bound=*/1.0) != nullptr);
  }
  for (const auto& name : automl::trials::model_names()) {
    INFO(name);
    CHECK_FALSE(automl::trials::model_option_names(name).empty());
  }
  CHECK(automl::trials::model_option_names("resnet18").empty());
  // Every data format loads as a choice (the data's presence aside).
  LoadOptions no_data_check;
  no_data_check.check_data = false;
  for (const auto& format : automl::trials::data_formats()) {
    INFO(format);
    CHECK(parse_experiment("name: a\ndata: {format: " + format + "}\n", "f.yaml", no_data_check)
              .trial.data.format == format);
  }
}
