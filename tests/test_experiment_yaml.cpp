// The experiment loader: values land in the struct, and every kind of bad input names the file,
// the line and the key.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "experiments/experiment.h"
#include "test_support.h"

using automl::experiments::load_experiment;
using automl::experiments::parse_experiment;

namespace {

// Prefixes `body` with a data section naming a real (tiny) IDX data set (line numbers in `body`
// start at 3).
std::string with_data_dir(const std::string& body) {
  return "data:\n  path: " + automl::test::tiny_idx_dir() + "\n" + body;
}

}  // namespace

TEST_CASE("A valid experiment loads with defaults for what it leaves out", "[experiments]") {
  const auto e = parse_experiment(with_data_dir(R"(name: demo
model: {name: lenet, options: {hidden: 64}}
optimizer: {name: sgd, lr: 0.05, nesterov: true}
epochs: 7
seed: 3
)"),
                                  "demo.yaml");
  CHECK(e.name == "demo");
  CHECK(e.trial.epochs == 7);
  CHECK(e.trial.seed == 3);
  CHECK(e.trial.optimizer.lr == 0.05);
  CHECK(e.trial.optimizer.nesterov);
  CHECK(e.trial.optimizer.momentum == 0.9);  // default
  CHECK(e.trial.model.options.at("hidden") == 64);
  CHECK(e.trial.batch_size == 256);
  CHECK(e.database == "automl.db");
}

TEST_CASE("Bad experiments fail with file:line and the key", "[experiments]") {
  using Catch::Contains;
  SECTION("missing required key") {
    CHECK_THROWS_WITH(parse_experiment(with_data_dir("epochs: 3\n"), "x.yaml"),
                      Contains("x.yaml:1") && Contains("missing required key 'name'"));
  }
  SECTION("unknown key with a suggestion") {
    CHECK_THROWS_WITH(parse_experiment(with_data_dir("name: a\nepocs: 3\n"), "x.yaml"),
                      Contains("x.yaml:4: epocs") && Contains("did you mean 'epochs'"));
  }
  SECTION("unknown nested key") {
    CHECK_THROWS_WITH(
        parse_experiment(with_data_dir("name: a\noptimizer:\n  name: sgd\n  momentun: 0.5\n"),
                         "x.yaml"),
        Contains("x.yaml:6: optimizer.momentun") && Contains("did you mean 'momentum'"));
  }
  SECTION("wrong type") {
    CHECK_THROWS_WITH(parse_experiment(with_data_dir("name: a\nepochs: many\n"), "x.yaml"),
                      Contains("x.yaml:4: epochs") && Contains("expected an integer, got 'many'"));
  }
  SECTION("fraction where an integer is expected") {
    CHECK_THROWS_WITH(parse_experiment(with_data_dir("name: a\nbatch_size: 1.5\n"), "x.yaml"),
                      Contains("batch_size") && Contains("expected an integer"));
  }
  SECTION("out of range") {
    CHECK_THROWS_WITH(parse_experiment(with_data_dir("name: a\noptimizer: {lr: -1}\n"), "x.yaml"),
                      Contains("optimizer.lr") && Contains("out of range"));
  }
  SECTION("bad choice") {
    CHECK_THROWS_WITH(
        parse_experiment(with_data_dir("name: a\noptimizer: {name: adagrad}\n"), "x.yaml"),
        Contains("optimizer.name") && Contains("'adagrad' is not one of"));
  }
  SECTION("data path that does not exist") {
    CHECK_THROWS_WITH(parse_experiment("name: a\ndata: {path: /nonexistent/dir}\n", "x.yaml"),
                      Contains("x.yaml:2: data.path") && Contains("does not exist"));
  }
  SECTION("subsets larger than the data set") {
    CHECK_THROWS_WITH(
        parse_experiment(
            "name: a\ndata:\n  path: " + automl::test::tiny_idx_dir() + "\n  train_subset: 21\n",
            "x.yaml"),
        Contains("x.yaml:4: data.train_subset") && Contains("21 is more than the 20 samples"));
    CHECK_THROWS_WITH(parse_experiment("name: a\ndata:\n  path: " + automl::test::tiny_idx_dir() +
                                           "\n  test_subset: 11\n",
                                       "x.yaml"),
                      Contains("data.test_subset") && Contains("11 is more than the 10 samples"));
  }
  SECTION("a data directory without IDX files") {
    CHECK_THROWS_WITH(
        parse_experiment(std::string("name: a\ndata: {path: ") + AUTOML_SOURCE_DIR + "}\n",
                         "x.yaml"),
        Contains("x.yaml:2: data.path") && Contains("train-labels-idx1-ubyte"));
  }
  SECTION("YAML syntax error") {
    CHECK_THROWS_WITH(parse_experiment("name: [a, b\n", "x.yaml"),
                      Contains("x.yaml:") && Contains("YAML syntax"));
  }
  SECTION("a mapping expected") {
    CHECK_THROWS_WITH(parse_experiment(with_data_dir("name: a\nmodel: 3\n"), "x.yaml"),
                      Contains("model") && Contains("expected a mapping"));
  }
  SECTION("missing file") {
    CHECK_THROWS_WITH(load_experiment("/nonexistent.yaml"), Contains("/nonexistent.yaml"));
  }
}

TEST_CASE("Every section lands in the struct", "[experiments]") {
  const auto e = parse_experiment(with_data_dir(R"(name: full
description: all sections
seeds: [4, 5]
policy: {name: mi, lr_min: 0.001, lr_max: 0.1, lr_top: 0.02, eps: 0.0005, start: mi,
         bound: ksg_xy, time_decay: none, layerwise: true, milestones: [10, 20]}
mi: {samples: 800, k: 4, stratified: true, estimator: ksg_cd, layer_features: channel_mean}
methods: {mi_sgd: false, mi_sgd_layerwise: true, baselines: false}
lrrt: {mode: quick, lrs: [0.001, 0.01, 0.1], trials: 4, epochs_per_trial: 6, quick_trials: 3,
       quick_epochs: 4, quick_c2: 0.02, attribute: both, c1: 30, c2: 0.5, layerwise: true}
c1c2: {enabled: false, c1_grid: [10, 30], c2_grid: [0.1], max_candidates: 3, min_epochs: 1,
       max_epochs: 3, eta: 3, validation_fraction: 0.2}
baselines: {optimizers: [adam, step], candidates: 6, search_epochs: 2, step_gamma: 0.1,
            step_size: 7, validation_fraction: 0.15}
budget: {device_minutes: 12.5, epochs: 400}
devices: {kind: cuda, slots_per_gpu: 2, cpu_slots: 3}
device: cuda:1
report: {milestones: [0.8, 0.9]}
)"),
                                  "full.yaml");
  CHECK(e.description == "all sections");
  CHECK(e.seeds == std::vector<std::uint64_t>{4, 5});
  const auto& p = e.trial.policy;
  CHECK(p.name == "mi");
  CHECK(p.lr_min == 0.001);
  CHECK(p.lr_max == 0.1);
  CHECK(p.lr_top == 0.02);
  CHECK(p.eps == 0.0005);
  CHECK(p.start == "mi");
  CHECK(p.bound == "ksg_xy");
  CHECK(p.time_decay == "none");
  CHECK(p.layerwise);
  CHECK(p.milestones == std::vector<int>{10, 20});
  const auto& m = e.trial.mi;
  CHECK(m.samples == 800);
  CHECK(m.k == 4);
  CHECK(m.stratified);
  CHECK(m.estimator == "ksg_cd");
  CHECK(m.layer_features == "channel_mean");
  CHECK_FALSE(e.methods.mi_sgd);
  CHECK(e.methods.mi_sgd_layerwise);
  CHECK_FALSE(e.methods.baselines);
  CHECK(e.lrrt.mode == "quick");
  CHECK(e.lrrt.lrs == std::vector<double>{0.001, 0.01, 0.1});
  CHECK(e.lrrt.trials == 4);
  CHECK(e.lrrt.epochs_per_trial == 6);
  CHECK(e.lrrt.quick_trials == 3);
  CHECK(e.lrrt.quick_epochs == 4);
  CHECK(e.lrrt.quick_c2 == 0.02);
  CHECK(e.lrrt.attribute == "both");
  CHECK(e.lrrt.c1 == 30);
  CHECK(e.lrrt.c2 == 0.5);
  CHECK(e.lrrt.layerwise);
  CHECK_FALSE(e.c1c2.enabled);
  CHECK(e.c1c2.c1_grid == std::vector<double>{10, 30});
  CHECK(e.c1c2.c2_grid == std::vector<double>{0.1});
  CHECK(e.c1c2.max_candidates == 3);
  CHECK(e.c1c2.min_epochs == 1);
  CHECK(e.c1c2.max_epochs == 3);
  CHECK(e.c1c2.eta == 3);
  CHECK(e.c1c2.validation_fraction == 0.2);
  CHECK(e.baselines.optimizers == std::vector<std::string>{"adam", "step"});
  CHECK(e.baselines.candidates == 6);
  CHECK(e.baselines.search_epochs == 2);
  CHECK(e.baselines.step_gamma == 0.1);
  CHECK(e.baselines.step_size == 7);
  CHECK(e.baselines.validation_fraction == 0.15);
  CHECK(e.budget.device_minutes == 12.5);
  CHECK(e.budget.epochs == 400);
  CHECK(e.devices.kind == "cuda");
  CHECK(e.devices.slots_per_gpu == 2);
  CHECK(e.devices.cpu_slots == 3);
  CHECK(e.trial.device == "cuda:1");
  CHECK(e.report.milestones == std::vector<double>{0.8, 0.9});
}

TEST_CASE("Section defaults follow SPEC.md", "[experiments]") {
  const auto e = parse_experiment(with_data_dir("name: d\n"), "d.yaml");
  CHECK(e.seeds == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(e.trial.policy.bound == "auto");
  CHECK(e.trial.policy.start == "top");
  CHECK(e.trial.policy.time_decay == "epoch");
  CHECK(e.trial.mi.samples == 1000);
  CHECK(e.trial.mi.k == 3);
  CHECK(e.lrrt.c1 == 10);
  CHECK(e.lrrt.c2 == 1);
  CHECK(e.lrrt.quick_trials == 2);
  CHECK(e.lrrt.quick_epochs == 3);
  CHECK(e.lrrt.attribute == "train_accuracy");
  CHECK(e.baselines.optimizers.size() == 4);
}

TEST_CASE("A regression experiment defaults the LRRT attribute to ITY", "[experiments]") {
  const std::string csv =
      std::string("name: r\ndata: {format: csv, path: ") + AUTOML_SOURCE_DIR + ", targets: [y]}\n";
  CHECK(parse_experiment(csv, "r.yaml").lrrt.attribute == "ity");
  CHECK_THROWS_WITH(
      parse_experiment(csv + "lrrt: {attribute: train_accuracy}\n", "r.yaml"),
      Catch::Contains("r.yaml:3: lrrt.attribute") && Catch::Contains("not one of: ity, neg_mae"));
  CHECK_THROWS_WITH(parse_experiment(csv + "policy:\n  bound: entropy\n", "r.yaml"),
                    Catch::Contains("r.yaml:4: policy.bound") && Catch::Contains("class labels"));
}

TEST_CASE("Errors in the sections name file:line and the key path", "[experiments]") {
  using Catch::Contains;
  const auto fails = [](const std::string& body) {
    try {
      parse_experiment(with_data_dir("name: a\n" + body), "x.yaml");
    } catch (const automl::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // Line 3 is `name: a`, the body starts on line 4.
  CHECK_THAT(fails("lrrt:\n  mode: quick\n  atribute: ity\n"),
             Contains("x.yaml:6: lrrt.atribute") && Contains("did you mean 'attribute'"));
  CHECK_THAT(fails("policy:\n  bond: entropy\n"),
             Contains("x.yaml:5: policy.bond") && Contains("did you mean 'bound'"));
  // A misspelt top-level key is reported before the errors of the sections read after it.
  CHECK_THROWS_WITH(parse_experiment("name: a\nmehods: {}\ndata: {path: /nonexistent}\n", "x.yaml"),
                    Contains("x.yaml:2: mehods") && Contains("did you mean 'methods'"));
  CHECK_THAT(fails("polcy: {bound: entropy}\n"),
             Contains("x.yaml:4: polcy") && Contains("did you mean 'policy'"));
  CHECK_THAT(fails("policy:\n  bound: mutual\n"),
             Contains("x.yaml:5: policy.bound") &&
                 Contains("'mutual' is not one of: auto, entropy, ksg_xy"));
  CHECK_THAT(fails("policy: {time_decay: eps}\n"),
             Contains("policy.time_decay") && Contains("not one of: epoch, none"));
  CHECK_THAT(fails("mi:\n  samples: 5\n"),
             Contains("x.yaml:5: mi.samples") && Contains("out of range"));
  CHECK_THAT(fails("mi: {k: 0}\n"), Contains("mi.k") && Contains("out of range"));
  CHECK_THAT(fails("lrrt:\n  lrs: [0.1, 0.01]\n"),
             Contains("x.yaml:5: lrrt.lrs") && Contains("strictly ascending"));
  CHECK_THAT(fails("lrrt: {lr_low: 0.1, lr_high: 0.01}\n"),
             Contains("lrrt.lr_high") && Contains("larger than lr_low"));
  CHECK_THAT(fails("lrrt: {epochs_per_trial: 1}\n"),
             Contains("lrrt.epochs_per_trial") && Contains("out of range [2,"));
  CHECK_THAT(fails("lrrt: {c1: 0.5}\n"), Contains("lrrt.c1") && Contains("out of range"));
  CHECK_THAT(fails("c1c2: {min_epochs: 5, max_epochs: 3}\n"),
             Contains("c1c2.max_epochs") && Contains("out of range [5,"));
  CHECK_THAT(fails("c1c2: {c2_grid: []}\n"), Contains("c1c2.c2_grid") && Contains("not be empty"));
  CHECK_THAT(fails("baselines:\n  optimizers: [adam, sgdw]\n"),
             Contains("x.yaml:5: baselines.optimizers") &&
                 Contains("'sgdw' is not one of: adam, rmsprop, lars, step"));
  CHECK_THAT(fails("baselines: {optimizers: [adam, adam]}\n"), Contains("lists a value twice"));
  CHECK_THAT(fails("methods: {mi_sgd: false, baselines: false}\n"),
             Contains("methods") && Contains("enables no method"));
  CHECK_THAT(fails("methods: {mi_sgd: yes please}\n"),
             Contains("methods.mi_sgd") && Contains("expected true or false"));
  CHECK_THAT(fails("seeds: []\n"), Contains("x.yaml:4: seeds") && Contains("not be empty"));
  CHECK_THAT(fails("seeds: [1, -2]\n"), Contains("seeds") && Contains("expected"));
  CHECK_THAT(fails("budget:\n  device_minutes: -1\n"),
             Contains("x.yaml:5: budget.device_minutes") && Contains("out of range"));
  CHECK_THAT(fails("devices: {kind: tpu}\n"),
             Contains("devices.kind") && Contains("not one of: auto, cpu, cuda"));
  CHECK_THAT(fails("device: gpu\n"), Contains("x.yaml:4: device") && Contains("cpu, cuda"));
  CHECK_THAT(fails("device: cuda\ndevices: {kind: cpu}\n"), Contains("contradicts"));
  CHECK_THAT(fails("mi: {enabled: false}\n"), Contains("MI-SGD needs mi.enabled"));
  CHECK_THAT(fails("policy: {lr_min: 0.1, lr_max: 0.01}\n"),
             Contains("policy.lr_max") && Contains("out of range"));
  CHECK_THAT(fails("model: {name: resnet18}\n"),
             Contains("model.name") && Contains("'resnet18' is not one of"));
  CHECK_THAT(fails("report: {milestones: [85]}\n"),
             Contains("report.milestones") && Contains("out of range"));
}
