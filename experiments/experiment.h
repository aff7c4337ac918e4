#pragma once
// An experiment file (YAML) as a plain struct, validated once at load. docs/experiments.md lists
// every key with its default and meaning.
#include <cstdint>
#include <string>
#include <vector>

#include "search/config.h"
#include "trials/config.h"

namespace automl::experiments {

// Which methods the experiment compares.
struct MethodsConfig {
  bool mi_sgd = true;             // Algorithm 1, model-wise
  bool mi_sgd_layerwise = false;  // Algorithm 1, one LR per layer
  bool baselines = true;          // the optimizers in `baselines.optimizers`
};

// What the experiment may spend; 0 = unlimited.
struct BudgetConfig {
  double device_minutes = 0;
  std::int64_t epochs = 0;  // total training epochs over all jobs
};

struct DevicesConfig {
  static constexpr int kAuto = 0;  // slots chosen by measurement (engine/placement.h)
  std::string kind = "auto";       // auto (every visible GPU, else the CPU) | cpu | cuda
  int slots_per_gpu = kAuto;       // concurrent trials per GPU, or kAuto
  int cpu_slots = kAuto;           // concurrent trials on the CPU, or kAuto
};

// What `automl report` shows for the experiment.
struct ReportConfig {
  // Accuracy targets (classification, fractions in (0, 1]) or MAE targets (regression) whose
  // first epoch of attainment the report lists per method.
  std::vector<double> milestones;
};

struct ExperimentConfig {
  std::string file;    // the YAML file it was loaded from
  std::string source;  // its text, stored with the experiment
  std::string name;
  std::string description;
  std::string database = "automl.db";  // a path (SQLite) or a postgresql:// URL; a relative
                                       // path is relative to the working directory
  // Where the trials' checkpoints go: a directory every worker's host sees (a cluster's shared
  // file system). Empty: <database>.checkpoints beside a SQLite file; for a database server,
  // automl-checkpoints in each worker's working directory (a trial retried on another host then
  // starts over). Relative to the working directory.
  std::string checkpoints;
  int threads = 0;            // LibTorch threads; 0 = one per core
  trials::TrialConfig trial;  // the base trial every job of the experiment starts from
  std::vector<std::uint64_t> seeds = {1, 2, 3};  // final runs of every method
  MethodsConfig methods;
  search::LrrtConfig lrrt;
  search::C1C2Config c1c2;
  search::BaselineConfig baselines;
  BudgetConfig budget;
  DevicesConfig devices;
  ReportConfig report;
};

struct LoadOptions {
  // Check that data.path exists. Off when re-reading an experiment stored in a database (the
  // report may run on a machine without the data).
  bool check_data = true;
};

// Loads and validates `path`. Throws InputError naming file:line and the key on any problem:
// unreadable file, YAML syntax, unknown key, wrong type, value out of range, missing data.
ExperimentConfig load_experiment(const std::string& path, const LoadOptions& options = {});

// The same from YAML text (`file` names it in messages).
ExperimentConfig parse_experiment(const std::string& text, const std::string& file,
                                  const LoadOptions& options = {});

}  // namespace automl::experiments
