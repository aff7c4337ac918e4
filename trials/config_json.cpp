#include "trials/config_json.h"

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
AUTOML_JSON_FIELDS(TrialConfig, data, model, optimizer, policy, mi, epochs, batch_size, seed,
                   device, evaluate_test, cuda_graphs)

void to_json(nlohmann::json& j, const GroupRecord& r) {
  j = {{"name", r.name},       {"lr", r.lr},   {"ity", r.ity},          {"d_p", r.d_p},
       {"d_p_raw", r.d_p_raw}, {"d_s", r.d_s}, {"decision", r.decision}};
}

AUTOML_JSON_FIELDS(TrialSummary, status, reason, epochs_run, best_test_accuracy,
                   final_test_accuracy, best_test_mae, seconds)

}  // namespace automl::trials
