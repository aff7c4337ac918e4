#pragma once
// Optimizers by name, built from an OptimizerConfig.
#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

#include "trials/config.h"

namespace automl::trials {

// One optimizer over `groups` (one parameter group each; model-wise runs pass a single group).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(
    const OptimizerConfig& config, std::vector<torch::optim::OptimizerParamGroup> groups);

// Convenience: a single group holding `parameters`.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerConfig& config,
                                                        std::vector<torch::Tensor> parameters);

// The LR of every parameter group, and setting them all (the policies' view of an optimizer).
std::vector<double> group_lrs(torch::optim::Optimizer& optimizer);
void set_group_lr(torch::optim::Optimizer& optimizer, std::size_t group, double lr);

}  // namespace automl::trials
