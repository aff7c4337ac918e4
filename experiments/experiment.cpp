#include "experiments/experiment.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "common/error.h"
#include "experiments/yaml_fields.h"
#include "search/baselines.h"
#include "search/lr_grid.h"
#include "trials/data_tensors.h"
#include "trials/idx.h"

namespace automl::experiments {
namespace {

constexpr double kHuge = 1e12;

// What one file may ask for (docs/experiments.md, "Limits"). Together they keep any plan below
// about 13,100 jobs (LRRT 100 trials x 100 LRs, C1/C2 successive halving from 64 candidates,
// 4 baselines x 100 LRs, 100 seeds x 6 final methods), so that a typo cannot plan millions of
// jobs into the database before anything runs.
constexpr std::uintmax_t kMaxFileBytes = 1 << 20;
constexpr std::size_t kMaxSeeds = 100;
constexpr int kMaxLrCandidates = 100;  // lrrt.lrs, lrrt.lr_count, baselines.candidates
constexpr int kMaxLrrtTrials = 100;
constexpr std::size_t kMaxGridValues = 32;  // c1c2.c1_grid, c1c2.c2_grid
constexpr int kMaxC1C2Candidates = 64;
constexpr int kMaxEpochs = 10000;  // of any one job

// ---- checks on lists ------------------------------------------------------------------------

template <typename T>
void check_each_in_range(const Fields& f, const std::string& key, const std::vector<T>& values,
                         double low, double high) {
  for (const auto& v : values) check_range(f, key, static_cast<double>(v), low, high);
}

template <typename T>
void check_strictly_ascending(const Fields& f, const std::string& key,
                              const std::vector<T>& values) {
  for (std::size_t i = 1; i < values.size(); ++i)
    if (!(values[i - 1] < values[i])) throw InputError(f.where(key), "must be strictly ascending");
}

template <typename T>
void check_distinct(const Fields& f, const std::string& key, const std::vector<T>& values) {
  const std::set<T> unique(values.begin(), values.end());
  if (unique.size() != values.size()) throw InputError(f.where(key), "lists a value twice");
}

void check_each_choice(const Fields& f, const std::string& key,
                       const std::vector<std::string>& values,
                       const std::vector<std::string>& allowed) {
  for (const auto& v : values) check_choice(f, key, v, allowed);
  check_distinct(f, key, values);
}

void check_not_empty(const Fields& f, const std::string& key, std::size_t size) {
  if (size == 0) throw InputError(f.where(key), "must not be empty");
}

void check_at_most(const Fields& f, const std::string& key, std::size_t size, std::size_t limit,
                   const char* what) {
  if (size > limit)
    throw InputError(f.where(key), fmt::format("lists {} {}; at most {} are allowed (docs/"
                                               "experiments.md, Limits)",
                                               size, what, limit));
}

// ---- data -----------------------------------------------------------------------------------

// Where each format's files come from, for the message when they are absent.
std::string how_to_get(const std::string& format, const std::string& path) {
  if (format == "idx")
    return fmt::format(
        "the IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) are expected in '{}'; "
        "Fashion-MNIST comes with Debian's dataset-fashion-mnist package (scripts/setup.sh "
        "installs it)",
        path);
  if (format == "cifar10")
    return fmt::format(
        "the CIFAR-10 data set is absent: download the binary version (cifar-10-binary.tar.gz, "
        "https://www.cs.toronto.edu/~kriz/cifar.html) and unpack it so that '{0}/data_batch_1.bin' "
        ".. 'data_batch_5.bin' and '{0}/test_batch.bin' exist, or set data.path to where they are",
        path);
  if (format == "cifar100")
    return fmt::format(
        "the CIFAR-100 data set is absent: download the binary version "
        "(cifar-100-binary.tar.gz, https://www.cs.toronto.edu/~kriz/cifar.html) and unpack it so "
        "that '{0}/train.bin' and '{0}/test.bin' exist, or set data.path to where they are",
        path);
  if (format == "image_folder")
    return fmt::format(
        "an image folder holds '{0}/train/<class>/' and '{0}/val/<class>/' with .jpg, .jpeg or "
        ".png files (torchvision's ImageFolder layout). ImageNet (ILSVRC-2012) is licensed per "
        "user: download it from https://image-net.org and place it so that "
        "'{0}/train/<wnid>/*.JPEG' and '{0}/val/<wnid>/*.JPEG' exist, or set data.path to where "
        "it is",
        path);
  if (format == "tensors")
    return fmt::format(
        "a tensors data set is a directory holding '{0}/{1}' and '{0}/{2}', each written by "
        "Python's torch.save({{\"x\": X, \"y\": Y}}, path) (examples/your-model/model.py "
        "writes one); set data.path to it",
        path, trials::kTensorTrainFile, trials::kTensorTestFile);
  return fmt::format(
      "the table is absent; the scikit-learn tables under data/sklearn/ are produced by "
      "scripts/extract-sklearn-data.sh (from Debian's python3-sklearn package)");
}

// The number of samples an IDX label file announces in its header; -1 when the file is missing.
// Throws the reader's InputError (naming the file) when it is not an IDX label file.
std::int64_t idx_label_count(const std::string& directory, const std::string& prefix) {
  const auto path = trials::find_idx_file(directory, prefix + "-labels-idx1-ubyte");
  if (path.empty()) return -1;
  const auto header = trials::read_idx_header(path);
  if (header.shape.size() != 1)
    throw InputError(
        path, fmt::format("expected 1 dimension [N] in a label file, got {}", header.shape.size()));
  return header.shape[0];
}

// For IDX data: the files are there and the subsets fit in them, so that an experiment never
// starts on data its trials cannot load.
void check_idx_sizes(const Fields& f, const trials::DataConfig& d) {
  const std::pair<const char*, std::int64_t> splits[] = {{"train", d.train_subset},
                                                         {"t10k", d.test_subset}};
  for (const auto& [prefix, subset] : splits) {
    std::int64_t count = -1;
    try {
      count = idx_label_count(d.path, prefix);
    } catch (const InputError& error) {
      throw InputError(f.where("path"), error.what());
    }
    if (count < 0)
      throw InputError(f.where("path"),
                       fmt::format("'{}' holds no readable {}-labels-idx1-ubyte(.gz): {}", d.path,
                                   prefix, how_to_get(d.format, d.path)));
    const char* key = std::string(prefix) == "train" ? "train_subset" : "test_subset";
    if (subset > count)
      throw InputError(f.where(key),
                       fmt::format("{} is more than the {} samples in {}", subset, count, d.path));
  }
}

// For tensor data: both files are there (`automl run` reads them in full, and checks their
// content, before it writes anything).
void check_tensor_files(const Fields& f, const trials::DataConfig& d) {
  for (const char* name : {trials::kTensorTrainFile, trials::kTensorTestFile})
    if (!std::filesystem::is_regular_file(std::filesystem::path(d.path) / name))
      throw InputError(f.where("path"), fmt::format("'{}' holds no {}: {}", d.path, name,
                                                    how_to_get(d.format, d.path)));
}

// For an image folder: train/ and val/ are there (the trial lists and checks their files).
void check_image_folder(const Fields& f, const trials::DataConfig& d) {
  for (const char* split : {"train", "val"})
    if (!std::filesystem::is_directory(std::filesystem::path(d.path) / split))
      throw InputError(f.where("path"), fmt::format("'{}' holds no {}/ folder: {}", d.path, split,
                                                    how_to_get(d.format, d.path)));
}

// The keys only an image folder takes (trials/data_image.h).
void read_image_keys(Fields& f, trials::DataConfig& d) {
  f.optional("channels", d.channels);
  if (d.channels != 1 && d.channels != 3)
    throw InputError(f.where("channels"), fmt::format("{} (expected 1 or 3)", d.channels));
  f.optional("image_size", d.image_size);
  check_range(f, "image_size", d.image_size, 8, 1024);
  f.optional("mean", d.normalize_mean);
  check_each_in_range(f, "mean", d.normalize_mean, 0, 1);
  f.optional("std", d.normalize_std);
  check_each_in_range(f, "std", d.normalize_std, 1e-3, 10);
  for (const auto& [key, values] :
       {std::pair{"mean", &d.normalize_mean}, {"std", &d.normalize_std}})
    if (!values->empty() && values->size() != static_cast<std::size_t>(d.channels))
      throw InputError(f.where(key), fmt::format("lists {} values for {} channel(s)",
                                                 values->size(), d.channels));
  f.optional("cache", d.cache);
  check_choice(f, "cache", d.cache, trials::image_caches());
  f.optional("skip_corrupt", d.skip_corrupt);
  f.optional("workers", d.workers);
  check_range(f, "workers", d.workers, 0, 256);
  if (d.format == "image_folder") return;
  for (const char* key :
       {"channels", "image_size", "mean", "std", "cache", "skip_corrupt", "workers"})
    if (f.has(key)) throw InputError(f.where(key), "only an image_folder takes this key");
}

void read_data(Fields f, trials::DataConfig& d, const LoadOptions& options) {
  f.optional("format", d.format);
  check_choice(f, "format", d.format, trials::data_formats());
  f.optional("path", d.path);
  if (d.path.empty()) throw InputError(f.where("path"), "must not be empty");
  if (options.check_data && !std::filesystem::exists(d.path))
    throw InputError(f.where("path"),
                     fmt::format("'{}' does not exist: {}", d.path, how_to_get(d.format, d.path)));
  if (options.check_data && d.format == "image_folder") check_image_folder(f, d);
  f.optional("train_subset", d.train_subset);
  check_range(f, "train_subset", static_cast<double>(d.train_subset), 0, kHuge);
  f.optional("test_subset", d.test_subset);
  check_range(f, "test_subset", static_cast<double>(d.test_subset), 0, kHuge);
  if (options.check_data && d.format == "idx") check_idx_sizes(f, d);
  if (options.check_data && d.format == "tensors") check_tensor_files(f, d);
  f.optional("validation_fraction", d.validation_fraction);
  check_range(f, "validation_fraction", d.validation_fraction, 0, 0.9);
  f.optional("normalize", d.normalize);
  f.optional("augment", d.augment);
  f.optional("features", d.feature_columns);
  f.optional("targets", d.target_columns);
  f.optional("test_fraction", d.test_fraction);
  check_range(f, "test_fraction", d.test_fraction, 0.01, 0.9);
  if (d.format != "csv" && (!d.feature_columns.empty() || !d.target_columns.empty())) {
    throw InputError(f.where(d.feature_columns.empty() ? "targets" : "features"),
                     "only a csv table has feature/target columns");
  }
  read_image_keys(f, d);
  f.optional("task", d.task);
  check_choice(f, "task", d.task, trials::data_tasks());
  if (d.format != "tensors" && f.has("task"))
    throw InputError(f.where("task"),
                     "only tensors data take a task (a csv table is a regression, the other "
                     "formats hold class labels)");
  f.reject_unknown();
}

// ---- model, optimizer, policy, MI ----------------------------------------------------------

// A TorchScript file instead of a built-in model (trials/torchscript.h). A relative path is
// relative to the experiment file's directory; it is stored absolute, for workers started
// elsewhere.
void read_torchscript(Fields& f, trials::ModelConfig& m, const LoadOptions& options) {
  for (const char* key : {"name", "options"})
    if (f.has(key))
      throw InputError(f.where(key),
                       "a torchscript model takes no name or options (its Python "
                       "code defines it): keep one of model.torchscript and model." +
                           std::string(key));
  f.required("torchscript", m.torchscript);
  if (m.torchscript.empty()) throw InputError(f.where("torchscript"), "must not be empty");
  f.optional("layers", m.layers);
  for (const auto& layer : m.layers)
    if (layer.empty()) throw InputError(f.where("layers"), "names an empty submodule");
  check_distinct(f, "layers", m.layers);
  std::filesystem::path path(m.torchscript);
  if (path.is_relative()) path = std::filesystem::path(f.file()).parent_path() / path;
  m.torchscript = std::filesystem::weakly_canonical(std::filesystem::absolute(path)).string();
  m.name = "torchscript";
  if (options.check_data && !std::filesystem::is_regular_file(m.torchscript))
    throw InputError(f.where("torchscript"),
                     fmt::format("'{}' does not exist (a relative path is relative to the "
                                 "experiment file's directory); write it from Python with "
                                 "torch.jit.script(net).save(path)",
                                 m.torchscript));
  f.reject_unknown();
}

void read_model(Fields f, trials::ModelConfig& m, const LoadOptions& load) {
  if (f.has("torchscript")) return read_torchscript(f, m, load);
  if (f.has("layers"))
    throw InputError(f.where("layers"),
                     "only a torchscript model takes layers (a built-in model's are fixed)");
  f.optional("name", m.name);
  check_choice(f, "name", m.name, trials::model_names());
  Fields options = f.child("options");
  const auto keys = trials::model_option_names(m.name);
  for (const auto& key : keys) {  // each asked for, so that a typo's hint can name it
    double value = 0;
    options.optional(key, value);
    if (options.has(key)) m.options[key] = value;
  }
  options.reject_unknown(
      fmt::format("model '{}' takes the options {}", m.name, fmt::join(keys, ", ")));
  f.reject_unknown();
}

void read_optimizer(Fields f, trials::OptimizerConfig& o) {
  f.optional("name", o.name);
  check_choice(f, "name", o.name, trials::optimizer_names());
  f.optional("lr", o.lr);
  check_range(f, "lr", o.lr, 1e-12, 100);
  f.optional("momentum", o.momentum);
  check_range(f, "momentum", o.momentum, 0, 0.999999);
  f.optional("nesterov", o.nesterov);
  f.optional("weight_decay", o.weight_decay);
  check_range(f, "weight_decay", o.weight_decay, 0, 1);
  f.optional("trust_coefficient", o.trust_coefficient);
  check_range(f, "trust_coefficient", o.trust_coefficient, 1e-9, 1);
  f.reject_unknown();
}

void read_policy(Fields f, trials::PolicyConfig& p, bool regression) {
  f.optional("name", p.name);
  check_choice(f, "name", p.name, trials::policy_names());
  f.optional("gamma", p.gamma);
  check_range(f, "gamma", p.gamma, 1e-9, 1);
  f.optional("step_size", p.step_size);
  check_range(f, "step_size", p.step_size, 1, 1e6);
  f.optional("milestones", p.milestones);
  check_each_in_range(f, "milestones", p.milestones, 1, 1e6);
  check_strictly_ascending(f, "milestones", p.milestones);
  f.optional("power", p.power);
  check_range(f, "power", p.power, 1e-9, 100);
  f.optional("lr_min", p.lr_min);
  check_range(f, "lr_min", p.lr_min, 1e-12, 100);
  f.optional("lr_max", p.lr_max);
  check_range(f, "lr_max", p.lr_max, p.lr_min, 100);
  f.optional("lr_top", p.lr_top);
  check_range(f, "lr_top", p.lr_top, p.lr_min, p.lr_max);
  f.optional("eps", p.eps);
  check_range(f, "eps", p.eps, 0, 1e6);
  f.optional("start", p.start);
  check_choice(f, "start", p.start, trials::mi_starts());
  f.optional("bound", p.bound);
  check_choice(f, "bound", p.bound, trials::mi_bounds());
  if (regression && p.bound == "entropy")
    throw InputError(f.where("bound"),
                     "'entropy' needs class labels; a regression (csv) experiment uses ksg_xy or "
                     "auto");
  f.optional("time_decay", p.time_decay);
  check_choice(f, "time_decay", p.time_decay, trials::time_decays());
  f.optional("layerwise", p.layerwise);
  f.reject_unknown();
}

void read_mi(Fields f, trials::MiConfig& m, bool regression) {
  f.optional("enabled", m.enabled);
  f.optional("samples", m.samples);
  check_range(f, "samples", static_cast<double>(m.samples), 10, 1e7);
  f.optional("k", m.k);
  check_range(f, "k", m.k, 1, 100);
  // The MI probe (trials/mi_probe.cpp) needs at least k + 2 samples: the same limit, at load.
  if (m.k + 2 > m.samples)
    throw InputError(f.where("k"),
                     fmt::format("must be at most mi.samples - 2 ({})", m.samples - 2));
  f.optional("stratified", m.stratified);
  f.optional("estimator", m.estimator);
  check_choice(f, "estimator", m.estimator, trials::mi_estimators());
  if (regression && (m.stratified || m.estimator == "ksg_cd"))
    throw InputError(f.where(m.stratified ? "stratified" : "estimator"),
                     "needs class labels; a regression (csv) experiment cannot use it");
  f.optional("layer_features", m.layer_features);
  check_choice(f, "layer_features", m.layer_features, trials::mi_layer_features());
  f.reject_unknown();
}

// ---- searches and methods -------------------------------------------------------------------

// The log-spaced candidates are rounded to 3 significant digits (their labels): too many in too
// narrow a range round together, which the LRRT would refuse only when it is planned.
void check_distinct_labels(const Fields& f, const search::LrrtConfig& l) {
  const auto lrs = search::log_spaced_lrs(l.lr_low, l.lr_high, l.lr_count);
  for (std::size_t i = 1; i < lrs.size(); ++i)
    if (!(lrs[i] > lrs[i - 1]))
      throw InputError(f.where("lr_count"),
                       fmt::format("{} LRs between {:g} and {:g} collide at 3 significant "
                                   "digits ({:g} twice); use fewer or a wider range",
                                   l.lr_count, l.lr_low, l.lr_high, lrs[i]));
}

void read_lrrt(Fields f, search::LrrtConfig& l, bool regression) {
  f.optional("mode", l.mode);
  check_choice(f, "mode", l.mode, {"auto", "full", "quick", "off"});
  f.optional("lrs", l.lrs);
  check_at_most(f, "lrs", l.lrs.size(), kMaxLrCandidates, "LRs");
  check_each_in_range(f, "lrs", l.lrs, 1e-12, 100);
  check_strictly_ascending(f, "lrs", l.lrs);
  if (f.has("lrs") && l.lrs.size() < 2)
    throw InputError(f.where("lrs"), "needs at least 2 candidate LRs");
  f.optional("lr_low", l.lr_low);
  check_range(f, "lr_low", l.lr_low, 1e-12, 100);
  f.optional("lr_high", l.lr_high);
  if (!(l.lr_high > l.lr_low))
    throw InputError(f.where("lr_high"), fmt::format("must be larger than lr_low ({})", l.lr_low));
  check_range(f, "lr_high", l.lr_high, 1e-12, 100);
  f.optional("lr_count", l.lr_count);
  check_range(f, "lr_count", l.lr_count, 2, kMaxLrCandidates);
  if (l.lrs.empty()) check_distinct_labels(f, l);
  f.optional("trials", l.trials);
  check_range(f, "trials", l.trials, 1, kMaxLrrtTrials);
  f.optional("epochs_per_trial", l.epochs_per_trial);
  check_range(f, "epochs_per_trial", l.epochs_per_trial, 2, kMaxEpochs);  // d_s needs epoch 2
  f.optional("quick_trials", l.quick_trials);
  check_range(f, "quick_trials", l.quick_trials, 1, kMaxLrrtTrials);
  f.optional("quick_epochs", l.quick_epochs);
  check_range(f, "quick_epochs", l.quick_epochs, 2, kMaxEpochs);
  f.optional("quick_c2", l.quick_c2);
  check_range(f, "quick_c2", l.quick_c2, 1e-9, 1e6);
  if (regression) l.attribute = "ity";
  f.optional("attribute", l.attribute);
  if (regression)
    check_choice(f, "attribute", l.attribute, {"ity", "neg_mae"});
  else
    check_choice(f, "attribute", l.attribute, {"train_accuracy", "ity", "both"});
  f.optional("c1", l.c1);
  check_range(f, "c1", l.c1, 1, 1e6);  // Thresh = MAXVAL / C1 must not exceed MAXVAL
  f.optional("c2", l.c2);
  check_range(f, "c2", l.c2, 1e-9, 1e6);
  f.optional("layerwise", l.layerwise);
  f.reject_unknown();
}

void read_c1c2(Fields f, search::C1C2Config& c) {
  f.optional("enabled", c.enabled);
  f.optional("c1_grid", c.c1_grid);
  check_not_empty(f, "c1_grid", c.c1_grid.size());
  check_at_most(f, "c1_grid", c.c1_grid.size(), kMaxGridValues, "values");
  check_each_in_range(f, "c1_grid", c.c1_grid, 1, 1e6);
  check_distinct(f, "c1_grid", c.c1_grid);
  f.optional("c2_grid", c.c2_grid);
  check_not_empty(f, "c2_grid", c.c2_grid.size());
  check_at_most(f, "c2_grid", c.c2_grid.size(), kMaxGridValues, "values");
  check_each_in_range(f, "c2_grid", c.c2_grid, 1e-9, 1e6);
  check_distinct(f, "c2_grid", c.c2_grid);
  f.optional("max_candidates", c.max_candidates);
  check_range(f, "max_candidates", c.max_candidates, 1, kMaxC1C2Candidates);
  f.optional("min_epochs", c.min_epochs);
  check_range(f, "min_epochs", c.min_epochs, 1, kMaxEpochs);
  f.optional("max_epochs", c.max_epochs);
  check_range(f, "max_epochs", c.max_epochs, c.min_epochs, kMaxEpochs);
  f.optional("eta", c.eta);
  check_range(f, "eta", c.eta, 1.01, 100);
  f.optional("validation_fraction", c.validation_fraction);
  check_range(f, "validation_fraction", c.validation_fraction, 0.01, 0.9);
  f.reject_unknown();
}

std::vector<std::string> baseline_names() {
  std::vector<std::string> names;
  for (const auto method : search::baseline_methods()) names.emplace_back(name(method));
  return names;
}

void read_baselines(Fields f, search::BaselineConfig& b) {
  std::vector<std::string> optimizers;
  for (const auto method : b.optimizers) optimizers.emplace_back(name(method));
  f.optional("optimizers", optimizers);
  check_each_choice(f, "optimizers", optimizers, baseline_names());
  b.optimizers.clear();
  for (const auto& optimizer : optimizers) b.optimizers.push_back(parse<Method>(optimizer));
  f.optional("candidates", b.candidates);
  check_range(f, "candidates", b.candidates, 1, kMaxLrCandidates);
  f.optional("search_epochs", b.search_epochs);
  check_range(f, "search_epochs", b.search_epochs, 0, kMaxEpochs);
  f.optional("step_gamma", b.step_gamma);
  check_range(f, "step_gamma", b.step_gamma, 1e-9, 1);
  f.optional("step_size", b.step_size);
  check_range(f, "step_size", b.step_size, 1, 1e6);
  f.optional("validation_fraction", b.validation_fraction);
  check_range(f, "validation_fraction", b.validation_fraction, 0.01, 0.9);
  f.reject_unknown();
}

void read_methods(Fields f, MethodsConfig& m) {
  f.optional("mi_sgd", m.mi_sgd);
  f.optional("mi_sgd_layerwise", m.mi_sgd_layerwise);
  f.optional("baselines", m.baselines);
  if (!m.mi_sgd && !m.mi_sgd_layerwise && !m.baselines)
    throw InputError(f.where(), "enables no method: set mi_sgd, mi_sgd_layerwise or baselines");
  f.reject_unknown();
}

void read_budget(Fields f, BudgetConfig& b) {
  f.optional("device_minutes", b.device_minutes);
  check_range(f, "device_minutes", b.device_minutes, 0, 1e9);
  f.optional("epochs", b.epochs);
  check_range(f, "epochs", static_cast<double>(b.epochs), 0, kHuge);
  f.reject_unknown();
}

// A slot count, or `auto` (DevicesConfig::kAuto).
void read_slots(Fields& f, const std::string& key, int& slots, int most) {
  if (!f.has(key)) return;
  std::string text;
  f.optional(key, text);
  if (text == "auto") {
    slots = DevicesConfig::kAuto;
    return;
  }
  const auto refuse = [&] {
    return InputError(f.where(key),
                      fmt::format("must be auto or a count from 1 to {}, got '{}'", most, text));
  };
  try {
    f.optional(key, slots);
  } catch (const InputError&) {
    throw refuse();
  }
  if (slots < 1 || slots > most) throw refuse();
}

void read_devices(Fields f, DevicesConfig& d) {
  f.optional("kind", d.kind);
  check_choice(f, "kind", d.kind, {"auto", "cpu", "cuda"});
  read_slots(f, "slots_per_gpu", d.slots_per_gpu, 256);
  read_slots(f, "cpu_slots", d.cpu_slots, 1024);
  f.reject_unknown();
}

void read_report(Fields f, ReportConfig& r, bool regression) {
  f.optional("milestones", r.milestones);
  if (regression) {
    check_each_in_range(f, "milestones", r.milestones, 1e-12, kHuge);  // MAE targets
  } else {
    check_each_in_range(f, "milestones", r.milestones, 1e-6, 1);  // accuracy as a fraction
  }
  f.reject_unknown();
}

// ---- the top level --------------------------------------------------------------------------

void read_trial_basics(Fields& f, ExperimentConfig& e) {
  f.optional("epochs", e.trial.epochs);
  check_range(f, "epochs", e.trial.epochs, 1, kMaxEpochs);
  f.optional("batch_size", e.trial.batch_size);
  check_range(f, "batch_size", e.trial.batch_size, 1, 1 << 20);
  f.optional("seed", e.trial.seed);
  f.optional("cuda_graphs", e.trial.cuda_graphs);
  f.optional("device", e.trial.device);
  if (!std::regex_match(e.trial.device, std::regex("cpu|cuda(:[0-9]+)?")))
    throw InputError(f.where("device"),
                     fmt::format("'{}' is not one of: cpu, cuda, cuda:N", e.trial.device));
}

void read_seeds(Fields& f, ExperimentConfig& e) {
  f.optional("seeds", e.seeds);
  check_not_empty(f, "seeds", e.seeds.size());
  check_at_most(f, "seeds", e.seeds.size(), kMaxSeeds, "seeds");
  check_distinct(f, "seeds", e.seeds);
}

void check_consistency(Fields& f, const ExperimentConfig& e) {
  const bool mi_method = e.methods.mi_sgd || e.methods.mi_sgd_layerwise;
  if (mi_method && !e.trial.mi.enabled)
    throw InputError(f.where("mi"), "MI-SGD needs mi.enabled: true (or disable it in methods)");
  if (e.devices.kind == "cpu" && e.trial.device != "cpu")
    throw InputError(f.where("device"),
                     fmt::format("'{}' contradicts devices.kind: cpu", e.trial.device));
}

void read_top(Fields& f, ExperimentConfig& e, const LoadOptions& options) {
  f.required("name", e.name);
  if (e.name.empty()) throw InputError(f.where("name"), "must not be empty");
  f.optional("description", e.description);
  f.optional("database", e.database);
  if (e.database.empty()) throw InputError(f.where("database"), "must not be empty");
  f.optional("checkpoints", e.checkpoints);
  f.optional("threads", e.threads);
  check_range(f, "threads", e.threads, 0, 1024);
  read_trial_basics(f, e);
  read_seeds(f, e);
  read_data(f.child("data"), e.trial.data, options);
  const bool regression = e.trial.data.is_regression();
  read_model(f.child("model"), e.trial.model, options);
  read_optimizer(f.child("optimizer"), e.trial.optimizer);
  read_policy(f.child("policy"), e.trial.policy, regression);
  read_mi(f.child("mi"), e.trial.mi, regression);
  read_methods(f.child("methods"), e.methods);
  read_lrrt(f.child("lrrt"), e.lrrt, regression);
  read_c1c2(f.child("c1c2"), e.c1c2);
  read_baselines(f.child("baselines"), e.baselines);
  read_budget(f.child("budget"), e.budget);
  read_devices(f.child("devices"), e.devices);
  read_report(f.child("report"), e.report, regression);
  check_consistency(f, e);
}

}  // namespace

ExperimentConfig parse_experiment(const std::string& text, const std::string& file,
                                  const LoadOptions& options) {
  // The text is stored with the experiment: a huge file would be copied into the database whole.
  if (text.size() > kMaxFileBytes)
    throw InputError(file,
                     fmt::format("is {} bytes; an experiment file may hold at most {} (1 MiB)",
                                 text.size(), kMaxFileBytes));
  const YAML::Node root = load_document(text, file);
  if (!root.IsMap()) throw InputError(file, "expected a YAML mapping at the top level");
  ExperimentConfig e;
  e.file = file;
  e.source = text;
  Fields fields(root, file, "");
  // Every key read_top() reads (keep the two in step).
  fields.reject_unknown_except({"name",    "description", "database",   "checkpoints", "threads",
                                "epochs",  "seed",        "batch_size", "device",      "seeds",
                                "data",    "model",       "optimizer",  "policy",      "mi",
                                "methods", "lrrt",        "c1c2",       "baselines",   "budget",
                                "devices", "report",      "cuda_graphs"});
  read_top(fields, e, options);
  fields.reject_unknown();
  return e;
}

ExperimentConfig load_experiment(const std::string& path, const LoadOptions& options) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (!error && size > kMaxFileBytes)  // refused before it is read into memory
    throw InputError(
        path, fmt::format("is {} bytes; an experiment file may hold at most {} (1 MiB)", size,
                          kMaxFileBytes));
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot read experiment file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_experiment(text.str(), path, options);
}

}  // namespace automl::experiments
