#pragma once
// JSON form of a trial's configuration: stored with every trial, and read back by the worker
// that runs it. Round-trips exactly.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

#include "trials/config.h"
#include "trials/records.h"

namespace automl {
// Statuses are stored by name.
void to_json(nlohmann::json& j, TrialStatus status);
void from_json(const nlohmann::json& j, TrialStatus& status);
}  // namespace automl

namespace automl::trials {

// A trial's whole configuration; its parts (DataConfig .. MiConfig) go with it (config_json.cpp).
// to_json writes "format": kTrialConfigFormat beside the fields.
void to_json(nlohmann::json& j, const TrialConfig& c);
void from_json(const nlohmann::json& j, TrialConfig& c);

// The version of that JSON form. Reading tolerates missing keys (older configurations keep the
// defaults), so it must be raised whenever a key is added or changes meaning: a worker of an
// older release then refuses the newer configuration instead of running a different trial.
constexpr int kTrialConfigFormat = 1;

// Why this build cannot run the stored configuration `j` (a newer format, or keys it does not
// know: written by another release), or empty when it can. Configurations without "format"
// are format 1.
std::string unreadable_config(const nlohmann::json& j);

// A stored configuration this build cannot run; what() says why (unreadable_config's reasons,
// or text that is not JSON).
class UnreadableConfig : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The stored configuration `text`, read and checked once; throws UnreadableConfig.
TrialConfig read_trial_config(const std::string& text);

void to_json(nlohmann::json& j, const GroupRecord& r);
// The one serialisation of a summary: stored with every finished trial and in checkpoints.
void to_json(nlohmann::json& j, const TrialSummary& s);
void from_json(const nlohmann::json& j, TrialSummary& s);

}  // namespace automl::trials
