#pragma once
// Optimizers by name, built from an OptimizerConfig, and LARS (SPEC.md 5).
#include <torch/arg.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

#include "trials/config.h"

namespace automl::trials {

// LARS (You, Gitman, Ginsburg 2017), SPEC.md 5. For every parameter tensor w with gradient g:
//   local_lr = eta * ||w|| / (||g|| + beta * ||w||)   (1 when ||w|| or ||g|| is 0)
//   v = momentum * v + lr * local_lr * (g + beta * w);   w -= v
// with beta = weight_decay and eta = trust_coefficient; lr is the global LR of the group (the
// poly policy decays it). Each parameter group may carry its own options.
struct LarsOptions : public torch::optim::OptimizerCloneableOptions<LarsOptions> {
  LarsOptions(double lr = 0.1) : lr_(lr) {}  // NOLINT(google-explicit-constructor)
  TORCH_ARG(double, lr);
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, weight_decay) = 0.0;
  TORCH_ARG(double, trust_coefficient) = 0.001;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
};

class Lars : public torch::optim::Optimizer {
 public:
  Lars(std::vector<torch::optim::OptimizerParamGroup> groups, LarsOptions defaults);
  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;
  // The momentum buffer of parameter `index` of group `group` (undefined before its first step).
  torch::Tensor momentum_buffer(std::size_t group, std::size_t index) const;

 private:
  // Lazily created per parameter, by group and position (stable across LibTorch versions,
  // unlike the key type of Optimizer::state()).
  std::vector<std::vector<torch::Tensor>> momentum_;
};

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
