#include "trials/policies.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace automl::trials {

ConstantScheduler::ConstantScheduler(torch::optim::Optimizer& optimizer, double lr)
    : EpochScheduler(optimizer), lr_(lr), groups_(optimizer.param_groups().size()) {}
std::vector<double> ConstantScheduler::get_lrs() {
  return std::vector<double>(groups_, lr_);
}
std::vector<std::string> ConstantScheduler::decisions() const {
  return std::vector<std::string>(groups_, "constant");
}

StepScheduler::StepScheduler(torch::optim::Optimizer& optimizer, double lr0, double gamma,
                             int step_size, std::vector<int> milestones)
    : EpochScheduler(optimizer),
      lr0_(lr0),
      gamma_(gamma),
      step_size_(step_size),
      milestones_(std::move(milestones)),
      groups_(optimizer.param_groups().size()) {}

std::vector<double> StepScheduler::get_lrs() {
  const int finished = std::max(0, epoch_ - 1);
  int decays = 0;
  if (milestones_.empty())
    decays = finished / step_size_;
  else
    decays = static_cast<int>(std::count_if(milestones_.begin(), milestones_.end(),
                                            [&](int m) { return m <= finished; }));
  return std::vector<double>(groups_, lr0_ * std::pow(gamma_, decays));
}
std::vector<std::string> StepScheduler::decisions() const {
  return std::vector<std::string>(groups_, "step");
}

PolyScheduler::PolyScheduler(torch::optim::Optimizer& optimizer, double lr0, double power,
                             int epochs)
    : EpochScheduler(optimizer),
      lr0_(lr0),
      power_(power),
      epochs_(epochs),
      groups_(optimizer.param_groups().size()) {}

std::vector<double> PolyScheduler::get_lrs() {
  const double progress = static_cast<double>(std::max(0, epoch_ - 1)) / epochs_;
  return std::vector<double>(groups_, lr0_ * std::pow(1.0 - progress, power_));
}
std::vector<std::string> PolyScheduler::decisions() const {
  return std::vector<std::string>(groups_, "poly");
}

MiDecayScheduler::MiDecayScheduler(torch::optim::Optimizer& optimizer,
                                   const MiDecayOptions& options, double bound)
    : EpochScheduler(optimizer),
      groups_(optimizer.param_groups().size(), MiDecay(options, bound)) {}

void MiDecayScheduler::observe(const std::vector<double>& ity_per_group) {
  if (ity_per_group.size() != groups_.size())
    throw std::logic_error(fmt::format("MiDecayScheduler: {} ITY values for {} groups",
                                       ity_per_group.size(), groups_.size()));
  for (std::size_t g = 0; g < groups_.size(); ++g) groups_[g].record(ity_per_group[g]);
}

std::vector<double> MiDecayScheduler::get_lrs() {
  steps_.clear();
  std::vector<double> lrs;
  for (auto& group : groups_) {
    steps_.push_back(group.next());
    lrs.push_back(steps_.back().lr);
  }
  return lrs;
}

std::vector<std::string> MiDecayScheduler::decisions() const {
  std::vector<std::string> out;
  for (const auto& s : steps_) out.push_back(s.decision);
  return out;
}

std::vector<std::string> policy_names() {
  return {"constant", "step", "mi", "poly"};
}
std::vector<std::string> mi_starts() {
  return {"top", "mi"};
}
std::vector<std::string> time_decays() {
  return {"epoch", "none"};
}

MiDecayOptions mi_decay_options(const PolicyConfig& p, int epochs) {
  MiDecayOptions o;
  o.lr_min = p.lr_min;
  o.lr_max = p.lr_max;
  o.lr_top = p.lr_top;
  o.eps = p.eps;
  o.start_from_mi = p.start == "mi";
  o.time_decay = p.time_decay == "epoch";
  o.epochs = epochs;
  return o;
}

std::unique_ptr<EpochScheduler> make_scheduler(const TrialConfig& config,
                                               torch::optim::Optimizer& optimizer, double bound) {
  const auto& p = config.policy;
  const double lr0 = config.optimizer.lr;
  if (p.name == "constant") return std::make_unique<ConstantScheduler>(optimizer, lr0);
  if (p.name == "step")
    return std::make_unique<StepScheduler>(optimizer, lr0, p.gamma, p.step_size, p.milestones);
  if (p.name == "poly")
    return std::make_unique<PolyScheduler>(optimizer, lr0, p.power, config.epochs);
  if (p.name == "mi")
    return std::make_unique<MiDecayScheduler>(optimizer, mi_decay_options(p, config.epochs), bound);
  throw InputError("policy.name", fmt::format("unknown policy '{}' (expected {})", p.name,
                                              fmt::join(policy_names(), ", ")));
}

}  // namespace automl::trials
