#include "search/run.h"

#include <exception>

#include "trials/trial.h"

namespace automl::search {

std::vector<JobResult> run_jobs_sequentially(const std::vector<Job>& jobs) {
  std::vector<JobResult> results;
  for (const auto& job : jobs) {
    JobResult result;
    result.label = job.label;
    result.method = job.method;
    result.seed = job.config.seed;
    try {
      result.summary = trials::run_trial(
          job.config, [&](const trials::EpochRecord& record) { result.epochs.push_back(record); });
      result.status = result.summary.status;
    } catch (const std::exception& error) {
      result.status = TrialStatus::failed;
      result.summary.status = TrialStatus::failed;
      result.summary.reason = error.what();
    }
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace automl::search
