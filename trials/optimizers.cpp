#include "trials/optimizers.h"

#include <fmt/format.h>
#include <torch/optim.h>
#include <torch/serialize/archive.h>

#include "common/error.h"

namespace automl::trials {
namespace optim = torch::optim;

Lars::Lars(std::vector<optim::OptimizerParamGroup> groups, LarsOptions defaults)
    : Optimizer(std::move(groups), std::make_unique<LarsOptions>(defaults)) {
  TORCH_CHECK(defaults.lr() >= 0, "Invalid learning rate: ", defaults.lr());
  TORCH_CHECK(defaults.momentum() >= 0, "Invalid momentum: ", defaults.momentum());
  TORCH_CHECK(defaults.weight_decay() >= 0, "Invalid weight_decay: ", defaults.weight_decay());
  TORCH_CHECK(defaults.trust_coefficient() > 0, "Invalid trust_coefficient");
}

torch::Tensor Lars::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  momentum_.resize(param_groups_.size());
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    auto& group = param_groups_[g];
    const auto& o = static_cast<const LarsOptions&>(group.options());
    auto& buffers = momentum_[g];
    buffers.resize(group.params().size());
    for (std::size_t i = 0; i < group.params().size(); ++i) {
      auto& w = group.params()[i];
      if (!w.grad().defined()) continue;
      const auto& grad = w.grad();
      // All on the device: no host synchronisation.
      const auto w_norm = w.norm(), g_norm = grad.norm();
      const auto trust = o.trust_coefficient() * w_norm / (g_norm + o.weight_decay() * w_norm);
      const auto local_lr =
          torch::where(w_norm.gt(0).logical_and(g_norm.gt(0)), trust, torch::ones_like(trust));
      auto update = o.weight_decay() != 0 ? grad.add(w, o.weight_decay()) : grad.clone();
      update.mul_(local_lr * o.lr());
      auto& v = buffers[i];
      if (!v.defined())
        v = update;
      else
        v.mul_(o.momentum()).add_(update);
      w.sub_(v);
    }
  }
  return loss;
}

torch::Tensor Lars::momentum_buffer(std::size_t group, std::size_t index) const {
  if (group >= momentum_.size() || index >= momentum_[group].size()) return {};
  return momentum_[group][index];
}

void Lars::save(torch::serialize::OutputArchive& archive) const {
  for (std::size_t g = 0; g < momentum_.size(); ++g)
    for (std::size_t i = 0; i < momentum_[g].size(); ++i)
      if (momentum_[g][i].defined())
        archive.write(fmt::format("momentum_{}_{}", g, i), momentum_[g][i], /*is_buffer=*/true);
}

void Lars::load(torch::serialize::InputArchive& archive) {
  momentum_.assign(param_groups_.size(), {});
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    momentum_[g].resize(param_groups_[g].params().size());
    for (std::size_t i = 0; i < momentum_[g].size(); ++i) {
      torch::Tensor v;
      if (archive.try_read(fmt::format("momentum_{}_{}", g, i), v, /*is_buffer=*/true))
        momentum_[g][i] = v.to(param_groups_[g].params()[i].device());
    }
  }
}

std::vector<std::string> optimizer_names() {
  return {"sgd", "adam", "rmsprop", "lars"};
}

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
  if (c.name == "lars")
    return std::make_unique<Lars>(std::move(groups), LarsOptions(c.lr)
                                                         .momentum(c.momentum)
                                                         .weight_decay(c.weight_decay)
                                                         .trust_coefficient(c.trust_coefficient));
  throw InputError("optimizer.name", fmt::format("unknown optimizer '{}' (expected {})", c.name,
                                                 fmt::join(optimizer_names(), ", ")));
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
