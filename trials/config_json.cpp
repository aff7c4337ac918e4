#include "trials/config_json.h"

#include <fmt/format.h>

namespace automl {

void to_json(nlohmann::json& j, TrialStatus status) {
  j = std::string(name(status));
}

void from_json(const nlohmann::json& j, TrialStatus& status) {
  status = parse<TrialStatus>(j.get<std::string>());
}

}  // namespace automl

namespace automl::trials {

// Each struct lists its fields once. Reading tolerates missing keys (they keep their defaults),
// so configurations stored by older versions still load. The parameter names are the ones
// nlohmann's NLOHMANN_JSON_TO helper expects.
#define AUTOML_JSON_FROM(field) \
  if (nlohmann_json_j.contains(#field)) nlohmann_json_j.at(#field).get_to(nlohmann_json_t.field);
#define AUTOML_JSON_FIELDS(Type, ...)                                            \
  void to_json(nlohmann::json& nlohmann_json_j, const Type& nlohmann_json_t) {   \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(NLOHMANN_JSON_TO, __VA_ARGS__))     \
  }                                                                              \
  void from_json(const nlohmann::json& nlohmann_json_j, Type& nlohmann_json_t) { \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(AUTOML_JSON_FROM, __VA_ARGS__))     \
  }

AUTOML_JSON_FIELDS(DataConfig, format, path, train_subset, test_subset, validation_fraction,
                   normalize, augment, feature_columns, target_columns, test_fraction, task,
                   channels, image_size, normalize_mean, normalize_std, cache, skip_corrupt,
                   workers)
AUTOML_JSON_FIELDS(ModelConfig, name, options, torchscript, layers)
AUTOML_JSON_FIELDS(OptimizerConfig, name, lr, momentum, nesterov, weight_decay, trust_coefficient)
AUTOML_JSON_FIELDS(PolicyConfig, name, gamma, step_size, milestones, power, lr_min, lr_max, lr_top,
                   eps, start, bound, time_decay, layerwise)
AUTOML_JSON_FIELDS(MiConfig, enabled, samples, k, stratified, estimator, layer_features)
namespace {
struct TrialFields : TrialConfig {};
AUTOML_JSON_FIELDS(TrialFields, data, model, optimizer, policy, mi, epochs, batch_size, seed,
                   device, evaluate_test, cuda_graphs)

// The first key of `given` that `known` (the same document written back by this build) lacks,
// as a path ("mi.new_option"); empty when there is none.
std::string unknown_key(const nlohmann::json& given, const nlohmann::json& known,
                        const std::string& at) {
  if (!given.is_object() || !known.is_object()) return "";
  for (const auto& [key, value] : given.items()) {
    auto path = at.empty() ? key : at + "." + key;
    if (!known.contains(key)) return path;
    if (auto deeper = unknown_key(value, known.at(key), path); !deeper.empty()) return deeper;
  }
  return "";
}
}  // namespace

void to_json(nlohmann::json& j, const TrialConfig& c) {
  to_json(j, static_cast<const TrialFields&>(c));
  j["format"] = kTrialConfigFormat;
}

void from_json(const nlohmann::json& j, TrialConfig& c) {
  from_json(j, static_cast<TrialFields&>(c));
}

namespace {
// `j` as a TrialConfig this release can run; throws UnreadableConfig saying why not.
TrialConfig checked_config(const nlohmann::json& j) {
  if (!j.is_object()) throw UnreadableConfig("the configuration is not a JSON object");
  const auto format = j.value("format", 1);
  if (format > kTrialConfigFormat)
    throw UnreadableConfig(
        fmt::format("its configuration is format {}, this release reads up to format {}", format,
                    kTrialConfigFormat));
  TrialConfig config;
  try {
    config = j.get<TrialConfig>();
  } catch (const std::exception& e) {
    throw UnreadableConfig(fmt::format("its configuration does not read: {}", e.what()));
  }
  if (const auto key = unknown_key(j, nlohmann::json(config), ""); !key.empty())
    throw UnreadableConfig(
        fmt::format("its configuration holds '{}', which this release does not know", key));
  return config;
}
}  // namespace

std::string unreadable_config(const nlohmann::json& j) {
  try {
    checked_config(j);
    return "";
  } catch (const UnreadableConfig& e) {
    return e.what();
  }
}

TrialConfig read_trial_config(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw UnreadableConfig(fmt::format("its configuration is not JSON: {}", e.what()));
  }
  return checked_config(j);
}

void to_json(nlohmann::json& j, const GroupRecord& r) {
  j = {{"name", r.name},       {"lr", r.lr},   {"ity", r.ity},          {"d_p", r.d_p},
       {"d_p_raw", r.d_p_raw}, {"d_s", r.d_s}, {"decision", r.decision}};
}

AUTOML_JSON_FIELDS(TrialSummary, status, reason, epochs_run, best_test_accuracy,
                   final_test_accuracy, best_test_mae, seconds)

}  // namespace automl::trials
