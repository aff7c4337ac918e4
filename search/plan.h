#pragma once
// Searches are plans of independent jobs (so the engine can run them in parallel and resume
// them) plus pure functions that turn finished jobs into decisions.
#include <string>
#include <vector>

#include "common/vocabulary.h"
#include "trials/config.h"
#include "trials/records.h"

namespace automl::search {

// What a job is travels as fields (its seed is config.seed, its initial LR config.optimizer.lr);
// the label is a name for people and a stable key (resume matches on it), never parsed.
struct Job {
  Stage stage = Stage::plan;
  std::string label;  // unique within an experiment, stable across runs
  trials::TrialConfig config;
  Method method = Method::sgd;
  int repeat = 0;  // the LR range test's trial number t (1-based); 0 elsewhere
};

struct JobResult {
  std::string label;
  TrialStatus status = TrialStatus::done;  // done | crashed | failed
  Method method = Method::sgd;
  std::uint64_t seed = 0;
  std::vector<trials::EpochRecord> epochs;
  trials::TrialSummary summary;
};

// Regression or classification decides what a validation score is (accuracy, or -MAE) and
// which LRRT attributes make sense. CSV data sets are the regression ones (SPEC.md 6).
inline bool is_regression(const trials::TrialConfig& config) {
  return config.data.is_regression();
}

}  // namespace automl::search
