#include "trials/optimizers.h"

#include <fmt/format.h>
#include <torch/optim.h>

#include "common/error.h"

namespace automl::trials {
namespace optim = torch::optim;

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerConfig& c,
                                                 std::vector<optim::OptimizerParamGroup> groups) {
  if (c.name == "sgd")
    return std::make_unique<optim::SGD>(std::move(groups), optim::SGDOptions(c.lr)
                                                               .momentum(c.momentum)
                                                               .nesterov(c.nesterov)
                                                               .weight_decay(c.weight_decay));
  if (c.name == "adam")
    return std::make_unique<optim::Adam>(std::move(groups),
                                         optim::AdamOptions(c.lr).weight_decay(c.weight_decay));
  if (c.name == "rmsprop")
    return std::make_unique<optim::RMSprop>(
        std::move(groups), optim::RMSpropOptions(c.lr).weight_decay(c.weight_decay));
  throw InputError("optimizer.name",
                   fmt::format("unknown optimizer '{}' (expected sgd, adam, rmsprop)", c.name));
}

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerConfig& config,
                                                 std::vector<torch::Tensor> parameters) {
  std::vector<optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::move(parameters));
  return make_optimizer(config, std::move(groups));
}

std::vector<double> group_lrs(optim::Optimizer& optimizer) {
  std::vector<double> lrs;
  for (auto& group : optimizer.param_groups()) lrs.push_back(group.options().get_lr());
  return lrs;
}

void set_group_lr(optim::Optimizer& optimizer, std::size_t group, double lr) {
  optimizer.param_groups().at(group).options().set_lr(lr);
}

}  // namespace automl::trials
