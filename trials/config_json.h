#pragma once
// JSON form of a trial's configuration: stored with every trial, and read back by the worker
// that runs it. Round-trips exactly.
#include <nlohmann/json.hpp>

#include "trials/config.h"
#include "trials/records.h"

namespace automl {
// Statuses are stored by name.
void to_json(nlohmann::json& j, TrialStatus status);
void from_json(const nlohmann::json& j, TrialStatus& status);
}  // namespace automl

namespace automl::trials {

// A trial's whole configuration; its parts (DataConfig .. MiConfig) go with it (config_json.cpp).
void to_json(nlohmann::json& j, const TrialConfig& c);
void from_json(const nlohmann::json& j, TrialConfig& c);

void to_json(nlohmann::json& j, const GroupRecord& r);
// The one serialisation of a summary: stored with every finished trial and in checkpoints.
void to_json(nlohmann::json& j, const TrialSummary& s);
void from_json(const nlohmann::json& j, TrialSummary& s);

}  // namespace automl::trials
