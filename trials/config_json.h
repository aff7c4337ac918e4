#pragma once
// JSON form of a trial's configuration: stored with every trial, and read back by the worker
// that runs it. Round-trips exactly.
#include <nlohmann/json.hpp>

#include "trials/config.h"
#include "trials/records.h"

namespace automl::trials {

void to_json(nlohmann::json& j, const DataConfig& c);
void from_json(const nlohmann::json& j, DataConfig& c);
void to_json(nlohmann::json& j, const ModelConfig& c);
void from_json(const nlohmann::json& j, ModelConfig& c);
void to_json(nlohmann::json& j, const OptimizerConfig& c);
void from_json(const nlohmann::json& j, OptimizerConfig& c);
void to_json(nlohmann::json& j, const PolicyConfig& c);
void from_json(const nlohmann::json& j, PolicyConfig& c);
void to_json(nlohmann::json& j, const MiConfig& c);
void from_json(const nlohmann::json& j, MiConfig& c);
void to_json(nlohmann::json& j, const TrialConfig& c);
void from_json(const nlohmann::json& j, TrialConfig& c);

void to_json(nlohmann::json& j, const GroupRecord& r);
void to_json(nlohmann::json& j, const TrialSummary& s);

}  // namespace automl::trials
