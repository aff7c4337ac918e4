#pragma once
// What the dashboard polls: an experiment's progress (per stage, device-seconds against the
// budget, ETA, its running trials) and change tokens that differ whenever what a page shows
// changed, so that the page refetches only then.
#include <string>

#include "storage/storage.h"

namespace automl::serve {

std::string progress_json(storage::Storage& db, const storage::ExperimentRow& experiment);

// Tokens built from counts, statuses and timestamps only: cheap to compute, the same until a
// trial, epoch, stage or result is written.
std::string experiment_version(storage::Storage& db, const storage::ExperimentRow& experiment);
std::string trial_version(storage::Storage& db, const storage::TrialRow& trial);
std::string database_version(storage::Storage& db);

}  // namespace automl::serve
