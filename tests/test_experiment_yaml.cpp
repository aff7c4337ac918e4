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
  CHECK(e.baselines.optimizers ==
        std::vector<automl::Method>{automl::Method::adam, automl::Method::step});
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

namespace {

// The loader's message for `body` after `name: a` on line 3 (the body starts on line 4).
std::string error_of(const std::string& body) {
  try {
    parse_experiment(with_data_dir("name: a\n" + body), "x.yaml");
  } catch (const automl::InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("Every number must be finite: .nan and .inf are refused at load", "[experiments]") {
  using Catch::Contains;
  // Each of these passed the range checks before (every comparison with NaN is false).
  CHECK_THAT(error_of("optimizer:\n  momentum: .nan\n"),
             Contains("x.yaml:5: optimizer.momentum") && Contains("finite number, got '.nan'"));
  CHECK_THAT(error_of("optimizer: {lr: .nan}\n"),
             Contains("x.yaml:4: optimizer.lr") && Contains("finite"));
  CHECK_THAT(error_of("optimizer: {weight_decay: .inf}\n"),
             Contains("optimizer.weight_decay") && Contains("got '.inf'"));
  CHECK_THAT(error_of("lrrt:\n  c1: .nan\n"), Contains("x.yaml:5: lrrt.c1") && Contains("finite"));
  CHECK_THAT(error_of("lrrt: {quick_c2: .nan}\n"), Contains("lrrt.quick_c2") && Contains("finite"));
  CHECK_THAT(error_of("lrrt: {lrs: [0.01, .inf]}\n"),
             Contains("lrrt.lrs") && Contains("got '.inf'"));
  CHECK_THAT(error_of("c1c2: {c2_grid: [0.1, .nan]}\n"),
             Contains("c1c2.c2_grid") && Contains("finite"));
  CHECK_THAT(error_of("budget: {device_minutes: .inf}\n"),
             Contains("budget.device_minutes") && Contains("finite"));
  CHECK_THAT(error_of("model: {options: {dropout: .nan}}\n"),
             Contains("model.options.dropout") && Contains("finite"));
  CHECK_THAT(error_of("epochs: .nan\n"), Contains("x.yaml:4: epochs") && Contains("an integer"));
  CHECK_THAT(error_of("seed: 1e300\n"), Contains("x.yaml:4: seed") && Contains("integer"));
  // validation_fraction continues the data mapping that with_data_dir opens.
  CHECK_THROWS_WITH(
      parse_experiment(with_data_dir("  validation_fraction: .nan\nname: a\n"), "x.yaml"),
      Contains("x.yaml:3: data.validation_fraction") && Contains("finite"));
}

TEST_CASE("model.options are checked at load against what the model takes", "[experiments]") {
  using Catch::Contains;
  CHECK_THAT(error_of("model:\n  name: lenet\n  options: {hiden: 64}\n"),
             Contains("x.yaml:6: model.options.hiden") && Contains("did you mean 'hidden'") &&
                 Contains("model 'lenet' takes the options conv1, conv2, dropout, hidden"));
  // An option of another model.
  CHECK_THAT(error_of("model: {name: wrn, options: {hidden: 3}}\n"),
             Contains("model.options.hidden") && Contains("'wrn' takes the options depth, "
                                                          "dropout, width"));
  const auto e = parse_experiment(
      with_data_dir("name: a\nmodel: {name: wrn, options: {depth: 16, width: 2}}\n"), "x.yaml");
  CHECK(e.trial.model.options == std::map<std::string, double>{{"depth", 16}, {"width", 2}});
}

TEST_CASE("A key given twice, or a second YAML document, is an error", "[experiments]") {
  using Catch::Contains;
  CHECK_THAT(error_of("epochs: 3\nepochs: 4\n"), Contains("x.yaml:5: epochs") &&
                                                     Contains("appears twice") &&
                                                     Contains("first at line 4"));
  CHECK_THAT(error_of("lrrt:\n  c1: 10\n  mode: full\n  c1: 20\n"),
             Contains("x.yaml:7: lrrt.c1") && Contains("first at line 5"));
  CHECK_THAT(error_of("optimizer: {lr: 0.1, lr: 0.2}\n"),
             Contains("x.yaml:4: optimizer.lr") && Contains("appears twice"));
  CHECK_THAT(error_of("model: {options: {hidden: 10, hidden: 20}}\n"),
             Contains("model.options.hidden") && Contains("appears twice"));
  // The same key in two different mappings is fine.
  CHECK_NOTHROW(parse_experiment(with_data_dir("name: a\nlrrt: {c2: 1}\nc1c2: {eta: 2}\n"
                                               "budget: {epochs: 0}\nepochs: 2\n"),
                                 "x.yaml"));

  CHECK_THAT(error_of("---\nname: b\n"), Contains("x.yaml:4") && Contains("second YAML document"));
  CHECK_THAT(error_of("epochs: 2\n---\n"),
             Contains("x.yaml:5") && Contains("second YAML document"));
  // A leading '---' (or a closing '...') is one document.
  const auto one = parse_experiment("---\n" + with_data_dir("name: a\n") + "...\n", "x.yaml");
  CHECK(one.name == "a");
}

TEST_CASE("What one file may ask for is bounded, and refused at load", "[experiments]") {
  using Catch::Contains;
  const auto seeds = [](int n) {
    std::string list = "seeds: [1";
    for (int i = 2; i <= n; ++i) list += ", " + std::to_string(i);
    return list + "]\n";
  };
  CHECK(parse_experiment(with_data_dir("name: a\n" + seeds(100)), "x.yaml").seeds.size() == 100);
  CHECK_THAT(error_of(seeds(101)),
             Contains("x.yaml:4: seeds") && Contains("lists 101 seeds; at most 100"));
  CHECK_THAT(error_of("lrrt: {lr_count: 101}\n"),
             Contains("lrrt.lr_count") && Contains("out of range [2, 100]"));
  CHECK_THAT(error_of("lrrt: {trials: 101}\n"), Contains("lrrt.trials") && Contains("[1, 100]"));
  CHECK_THAT(error_of("c1c2: {max_candidates: 65}\n"),
             Contains("c1c2.max_candidates") && Contains("[1, 64]"));
  CHECK_THAT(error_of("baselines: {candidates: 101}\n"),
             Contains("baselines.candidates") && Contains("[1, 100]"));
  CHECK_THAT(error_of("epochs: 10001\n"), Contains("x.yaml:4: epochs") && Contains("10000"));
  std::string grid = "c1c2: {c1_grid: [1";
  for (int i = 2; i <= 33; ++i) grid += ", " + std::to_string(i);
  CHECK_THAT(error_of(grid + "]}\n"), Contains("c1c2.c1_grid") && Contains("at most 32"));

  // The file itself: at most 1 MiB, refused before it is read (it would be stored whole).
  const std::string big = with_data_dir("name: a\n") + "# " + std::string(1 << 20, 'x') + "\n";
  CHECK_THROWS_WITH(parse_experiment(big, "big.yaml"),
                    Contains("big.yaml") && Contains("at most 1048576"));
  automl::test::TempDir dir;
  automl::test::write_text(dir.file("big.yaml"), big);
  CHECK_THROWS_WITH(load_experiment(dir.file("big.yaml")),
                    Contains(dir.file("big.yaml")) && Contains("1 MiB"));
}

TEST_CASE("The loader applies the limits the deeper layers need", "[experiments]") {
  using Catch::Contains;
  // KSG with k neighbours needs at least k + 2 samples (trials refused 10 samples with k = 9 only
  // when the trial started).
  CHECK_THAT(error_of("mi: {samples: 10, k: 9}\n"),
             Contains("mi.k") && Contains("at most mi.samples - 2 (8)"));
  CHECK(
      parse_experiment(with_data_dir("name: a\nmi: {samples: 10, k: 8}\n"), "x.yaml").trial.mi.k ==
      8);
  // Log-spaced LRRT candidates that round to the same 3-digit label (the LRRT refused them only
  // when it was planned).
  CHECK_THAT(error_of("lrrt:\n  lr_low: 1.0\n  lr_high: 1.001\n  lr_count: 2\n"),
             Contains("x.yaml:7: lrrt.lr_count") && Contains("collide"));
  // C1 >= 1: Thresh = MAXVAL / C1 must not exceed MAXVAL (SPEC.md 4), in the grid too.
  CHECK_THAT(error_of("c1c2: {c1_grid: [0.5, 10]}\n"),
             Contains("c1c2.c1_grid") && Contains("out of range [1,"));
}

TEST_CASE("The loader's choices are those of the trials registries", "[experiments]") {
  using Catch::Contains;
  CHECK_THAT(error_of("model: {name: resnet18}\n"),
             Contains("'resnet18' is not one of: allcnn, lenet, mlp, resnet50, vgg16, wrn"));
  CHECK_THAT(error_of("optimizer: {name: adagrad}\n"),
             Contains("'adagrad' is not one of: sgd, adam, rmsprop, lars"));
  CHECK_THAT(error_of("policy: {name: cosine}\n"),
             Contains("'cosine' is not one of: constant, step, mi, poly"));
  CHECK_THAT(error_of("mi: {estimator: kde}\n"), Contains("'kde' is not one of: ksg, ksg_cd"));
  CHECK_THAT(error_of("mi: {layer_features: mean}\n"),
             Contains("'mean' is not one of: full, channel_mean"));
  CHECK_THAT(error_of("policy: {start: bottom}\n"), Contains("'bottom' is not one of: top, mi"));
  CHECK_THROWS_WITH(parse_experiment("name: a\ndata: {format: png, path: /tmp}\n", "x.yaml"),
                    Contains("x.yaml:2: data.format") &&
                        Contains("'png' is not one of: idx, cifar10, cifar100, csv, "));
}

TEST_CASE("An unreadable IDX label file is named at load", "[experiments]") {
  automl::test::TempDir dir;
  // Wrong element type (0x0D: float) in the training labels' header.
  automl::test::write_bytes(dir.file("train-labels-idx1-ubyte"), {0, 0, 0x0D, 1, 0, 0, 0, 0});
  CHECK_THROWS_WITH(
      parse_experiment("name: a\ndata: {path: " + dir.path().string() + "}\n", "x.yaml"),
      Catch::Contains("x.yaml:2: data.path") && Catch::Contains("train-labels-idx1-ubyte") &&
          Catch::Contains("wrong magic"));
}

TEST_CASE("Aliases that contain themselves or multiply are refused, not followed",
          "[experiments]") {
  using Catch::Contains;
  CHECK_THAT(error_of("model: &m {options: *m}\n"),
             Contains("x.yaml:") && Contains("nested too deeply"));
  // Ten levels of 10 aliases each: 10^10 values if expanded.
  std::string body = "description: x\nz0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
  for (int i = 1; i <= 10; ++i) {
    body += "z" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) body += (j ? ", *a" : "*a") + std::to_string(i - 1);
    body += "]\n";
  }
  CHECK_THAT(error_of(body), Contains("too many values"));
}
