#include "experiments/experiment.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "experiments/yaml_fields.h"

namespace automl::experiments {
namespace {

void read_data(Fields f, trials::DataConfig& d) {
  f.optional("format", d.format);
  check_choice(f, "format", d.format, {"idx", "cifar10", "cifar100", "csv"});
  f.optional("path", d.path);
  if (!std::filesystem::exists(d.path))
    throw InputError(f.where("path"), fmt::format("'{}' does not exist", d.path));
  f.optional("train_subset", d.train_subset);
  check_range(f, "train_subset", static_cast<double>(d.train_subset), 0, 1e12);
  f.optional("test_subset", d.test_subset);
  check_range(f, "test_subset", static_cast<double>(d.test_subset), 0, 1e12);
  f.optional("validation_fraction", d.validation_fraction);
  check_range(f, "validation_fraction", d.validation_fraction, 0, 0.9);
  f.optional("normalize", d.normalize);
  f.optional("augment", d.augment);
  f.optional("features", d.feature_columns);
  f.optional("targets", d.target_columns);
  f.optional("test_fraction", d.test_fraction);
  check_range(f, "test_fraction", d.test_fraction, 0.01, 0.9);
  f.reject_unknown();
}

void read_model(Fields f, trials::ModelConfig& m) {
  f.optional("name", m.name);
  f.numbers("options", m.options);
  f.reject_unknown();
}

void read_optimizer(Fields f, trials::OptimizerConfig& o) {
  f.optional("name", o.name);
  check_choice(f, "name", o.name, {"sgd", "adam", "rmsprop", "lars"});
  f.optional("lr", o.lr);
  check_range(f, "lr", o.lr, 1e-12, 100);
  f.optional("momentum", o.momentum);
  check_range(f, "momentum", o.momentum, 0, 0.999999);
  f.optional("nesterov", o.nesterov);
  f.optional("weight_decay", o.weight_decay);
  check_range(f, "weight_decay", o.weight_decay, 0, 1);
  f.optional("trust_coefficient", o.trust_coefficient);
  f.reject_unknown();
}

void read_top(Fields& f, ExperimentConfig& e) {
  f.required("name", e.name);
  if (e.name.empty()) throw InputError(f.where("name"), "must not be empty");
  f.optional("database", e.database);
  f.optional("threads", e.threads);
  check_range(f, "threads", e.threads, 0, 1024);
  f.optional("epochs", e.trial.epochs);
  check_range(f, "epochs", e.trial.epochs, 1, 100000);
  f.optional("batch_size", e.trial.batch_size);
  check_range(f, "batch_size", e.trial.batch_size, 1, 1 << 20);
  f.optional("seed", e.trial.seed);
  f.optional("device", e.trial.device);
  read_data(f.child("data"), e.trial.data);
  read_model(f.child("model"), e.trial.model);
  read_optimizer(f.child("optimizer"), e.trial.optimizer);
}

}  // namespace

ExperimentConfig parse_experiment(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw InputError(location(file, e.mark.line + 1), fmt::format("YAML syntax: {}", e.msg));
  }
  if (!root.IsMap()) throw InputError(file, "expected a YAML mapping at the top level");
  ExperimentConfig e;
  e.file = file;
  e.source = text;
  Fields fields(root, file, "");
  read_top(fields, e);
  fields.reject_unknown();
  return e;
}

ExperimentConfig load_experiment(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot read experiment file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_experiment(text.str(), path);
}

}  // namespace automl::experiments
