#pragma once
// Runs jobs one after the other in this process: for tests and small tools. The engine runs
// them in parallel and stores them instead.
#include <vector>

#include "search/plan.h"

namespace automl::search {

// One JobResult per job, in order: its epoch records and summary. A job whose trial throws is
// "failed" (the message in summary.reason), and the next job still runs.
std::vector<JobResult> run_jobs_sequentially(const std::vector<Job>& jobs);

}  // namespace automl::search
