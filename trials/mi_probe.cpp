#include "trials/mi_probe.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "common/error.h"
#include "mi/mi.h"

namespace automl::trials {
namespace {

bool one_of(const std::string& value, const std::vector<std::string>& allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

}  // namespace

std::vector<std::string> mi_estimators() {
  return {"ksg", "ksg_cd"};
}
std::vector<std::string> mi_layer_features() {
  return {"full", "channel_mean"};
}
std::vector<std::string> mi_bounds() {
  return {"auto", "entropy", "ksg_xy"};
}

MiProbe::MiProbe(const MiConfig& config, const std::string& bound_name, const Dataset& train,
                 std::uint64_t seed, const torch::Device& device)
    : config_(config), classification_(train.is_classification()), seed_(seed) {
  if (!one_of(config.estimator, mi_estimators()))
    throw InputError("mi.estimator",
                     fmt::format("unknown estimator '{}' (expected {})", config.estimator,
                                 fmt::join(mi_estimators(), ", ")));
  if (config.estimator == "ksg_cd" && !classification_)
    throw InputError("mi.estimator", "ksg_cd needs class labels; this data set is a regression");
  if (!one_of(config.layer_features, mi_layer_features()))
    throw InputError("mi.layer_features",
                     fmt::format("unknown choice '{}' (expected {})", config.layer_features,
                                 fmt::join(mi_layer_features(), ", ")));
  if (config.k < 1) throw InputError("mi.k", fmt::format("{} is not >= 1", config.k));
  if (config.samples < config.k + 2)
    throw InputError("mi.samples",
                     fmt::format("{} samples are too few for k = {}", config.samples, config.k));
  const auto n = std::min<std::int64_t>(config.samples, train.size());
  const auto cpu_labels = classification_ ? train.targets.cpu() : torch::Tensor();
  const auto picked =
      mi::select_subset(train.size(), n, seed, config.stratified ? cpu_labels : torch::Tensor());
  inputs_ = train.gather_inputs(picked).to(device);  // decoded, for an image folder
  if (classification_) {
    labels_ = cpu_labels.index_select(0, picked);
    y_ = mi::one_hot(labels_, train.num_classes);
  } else {
    y_ = train.targets.index_select(0, picked.to(train.targets.device())).cpu().to(torch::kDouble);
  }

  std::string bound = bound_name;
  if (bound == "auto") bound = classification_ ? "entropy" : "ksg_xy";
  if (bound == "entropy") {
    if (!classification_)
      throw InputError("policy.bound", "entropy needs class labels; use ksg_xy for regression");
    bound_ = mi::label_entropy(labels_);
  } else if (bound == "ksg_xy") {
    bound_ = estimate(inputs_.flatten(1));
  } else {
    throw InputError("policy.bound", fmt::format("unknown bound '{}' (expected {})", bound_name,
                                                 fmt::join(mi_bounds(), ", ")));
  }
}

double MiProbe::estimate(const torch::Tensor& t) const {
  mi::KsgOptions options;
  options.k = config_.k;
  options.seed = seed_;
  // The trial's own threads (trials::set_threads): the machine's other cores belong to the
  // other slots' trials. The counts, and so the estimate, do not depend on it.
  options.threads = torch::get_num_threads();
  if (config_.estimator == "ksg_cd") return mi::ksg_cd(t, labels_, options);
  return mi::ksg(t, y_.to(t.device()), options);
}

std::vector<double> MiProbe::measure(Network& net, bool per_layer, int batch_size) const {
  torch::NoGradGuard no_grad;
  net.eval();
  std::vector<std::vector<torch::Tensor>> parts;  // [layer][batch]
  for (std::int64_t begin = 0; begin < inputs_.size(0); begin += batch_size) {
    const auto batch =
        inputs_.slice(0, begin, std::min<std::int64_t>(begin + batch_size, inputs_.size(0)));
    auto outputs = per_layer ? net.forward_layers(batch) : std::vector{net.forward(batch)};
    parts.resize(outputs.size());
    for (std::size_t l = 0; l < outputs.size(); ++l) {
      auto t = outputs[l];
      if (l + 1 == outputs.size()) {
        if (classification_) t = torch::softmax(t, 1);
      } else if (config_.layer_features == "channel_mean" && t.dim() == 4) {
        t = t.mean({2, 3});
      }
      parts[l].push_back(t.flatten(1));
    }
  }
  std::vector<double> ity;
  for (const auto& layer : parts) {
    const auto t = torch::cat(layer);
    // A diverged network: no estimate (the trial reports the crash).
    ity.push_back(torch::isfinite(t).all().item<bool>() ? estimate(t)
                                                        : std::numeric_limits<double>::quiet_NaN());
  }
  return ity;
}

}  // namespace automl::trials
