#pragma once
// Between what a trial reports (trials/records.h, search/plan.h) and what the database keeps
// (storage/storage.h), both ways. The worker, the scheduler and the stages convert only here.
#include <cstdint>
#include <vector>

#include "search/plan.h"
#include "storage/storage.h"
#include "trials/records.h"

namespace automl::engine {

storage::EpochRow epoch_row(std::int64_t trial_id, const trials::EpochRecord& record);
trials::EpochRecord epoch_record(const storage::EpochRow& row);

// The pending trial row of a planned job.
storage::TrialRow trial_row(std::int64_t experiment_id, const search::Job& job,
                            double estimated_seconds);

// A finished trial row and its epochs as the search functions see it.
search::JobResult job_result(const storage::TrialRow& trial,
                             const std::vector<storage::EpochRow>& epochs);

// A final run's row of the results table.
storage::ResultRow result_row(const search::JobResult& result);

// The stored summary text of a trial, and back ("" reads as the default summary).
std::string summary_text(const trials::TrialSummary& summary);
trials::TrialSummary parse_summary(const std::string& text);

}  // namespace automl::engine
