#pragma once
// Searches are plans of independent jobs (so the engine can run them in parallel and resume
// them) plus pure functions that turn finished jobs into decisions.
#include <string>
#include <vector>

#include "trials/config.h"
#include "trials/records.h"

namespace automl::search {

struct Job {
  std::string stage;  // lrrt | c1c2 | mi_sgd | baseline_search | baseline
  std::string label;  // unique within an experiment, stable across runs (resume matches on it)
  trials::TrialConfig config;
};

struct JobResult {
  std::string label;
  std::string status;  // done | crashed | failed
  std::vector<trials::EpochRecord> epochs;
  trials::TrialSummary summary;
};

// Regression or classification decides what a validation score is (accuracy, or -MAE) and
// which LRRT attributes make sense. CSV data sets are the regression ones (SPEC.md 6).
inline bool is_regression(const trials::TrialConfig& config) {
  return config.data.format == "csv";
}

}  // namespace automl::search
