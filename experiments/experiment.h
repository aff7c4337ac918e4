#pragma once
// An experiment file (YAML) as a plain struct, validated once at load. docs/experiments.md lists
// every key with its default and meaning.
#include <string>

#include "trials/config.h"

namespace automl::experiments {

struct ExperimentConfig {
  std::string file;    // the YAML file it was loaded from
  std::string source;  // its text, stored with the experiment
  std::string name;
  std::string database = "automl.db";  // relative paths are relative to the working directory
  int threads = 0;                     // LibTorch threads; 0 = one per core
  trials::TrialConfig trial;           // the base trial every job of the experiment starts from
};

// Loads and validates `path`. Throws InputError naming file:line and the key on any problem:
// unreadable file, YAML syntax, unknown key, wrong type, value out of range, missing data.
ExperimentConfig load_experiment(const std::string& path);

// The same from YAML text (`file` names it in messages).
ExperimentConfig parse_experiment(const std::string& text, const std::string& file);

}  // namespace automl::experiments
