// The experiment loader: values land in the struct, and every kind of bad input names the file,
// the line and the key.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "experiments/experiment.h"
#include "test_support.h"

using automl::experiments::load_experiment;
using automl::experiments::parse_experiment;

namespace {

// Prefixes `body` with a data section whose path exists (line numbers in `body` start at 3).
std::string with_data_dir(const std::string& body) {
  return std::string("data:\n  path: ") + AUTOML_SOURCE_DIR + "\n" + body;
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
