#pragma once
// LR policies as LibTorch LR schedulers (the shape of torch::optim::LRScheduler: get_lrs()
// returns one LR per parameter group, step() applies them). The trial calls begin_epoch(e)
// before epoch e and observe() with the epoch's I(T;Y) per group after it (ITY_0 first).
#include <torch/optim/schedulers/lr_scheduler.h>

#include <memory>
#include <string>
#include <vector>

#include "trials/config.h"
#include "trials/mi_decay.h"

namespace automl::trials {

class EpochScheduler : public torch::optim::LRScheduler {
 public:
  explicit EpochScheduler(torch::optim::Optimizer& optimizer) : LRScheduler(optimizer) {}
  // Sets every group's LR for epoch `epoch` (1-based).
  void begin_epoch(int epoch) {
    epoch_ = epoch;
    step();
  }
  // I(T;Y) of every group at the end of an epoch (epoch 0 = before training first).
  virtual void observe(const std::vector<double>& /*ity_per_group*/) {}
  // The decision behind each group's LR this epoch ("constant", "step", "poly", or Algorithm
  // 1's: "top", "mi", "dp", "decay", "hold").
  virtual std::vector<std::string> decisions() const = 0;
  int epoch() const { return epoch_; }

 protected:
  int epoch_ = 0;
};

// The same LR every epoch (the LRRT's candidates, Adam/RMSprop baselines).
class ConstantScheduler : public EpochScheduler {
 public:
  ConstantScheduler(torch::optim::Optimizer& optimizer, double lr);
  std::vector<std::string> decisions() const override;

 protected:
  std::vector<double> get_lrs() override;

 private:
  double lr_;
  std::size_t groups_;
};

// lr0 * gamma^k, k = floor((e-1)/step_size), or with milestones k = #{m in milestones: m <= e-1}
// (PyTorch's StepLR / MultiStepLR, counting finished epochs).
class StepScheduler : public EpochScheduler {
 public:
  StepScheduler(torch::optim::Optimizer& optimizer, double lr0, double gamma, int step_size,
                std::vector<int> milestones);
  std::vector<std::string> decisions() const override;

 protected:
  std::vector<double> get_lrs() override;

 private:
  double lr0_, gamma_;
  int step_size_;
  std::vector<int> milestones_;
  std::size_t groups_;
};

// LARS' polynomial decay: lr0 * (1 - (e-1)/E)^power, so epoch 1 runs at lr0.
class PolyScheduler : public EpochScheduler {
 public:
  PolyScheduler(torch::optim::Optimizer& optimizer, double lr0, double power, int epochs);
  std::vector<std::string> decisions() const override;

 protected:
  std::vector<double> get_lrs() override;

 private:
  double lr0_, power_;
  int epochs_;
  std::size_t groups_;
};

// Algorithm 1 (SPEC.md 3), one MiDecay per parameter group, fed each group's ITY.
class MiDecayScheduler : public EpochScheduler {
 public:
  MiDecayScheduler(torch::optim::Optimizer& optimizer, const MiDecayOptions& options, double bound);
  void observe(const std::vector<double>& ity_per_group) override;
  std::vector<std::string> decisions() const override;
  const std::vector<MiDecay>& groups() const { return groups_; }
  std::vector<MiDecay>& groups() { return groups_; }
  const std::vector<MiStep>& steps() const { return steps_; }

 protected:
  std::vector<double> get_lrs() override;

 private:
  std::vector<MiDecay> groups_;
  std::vector<MiStep> steps_;
};

MiDecayOptions mi_decay_options(const PolicyConfig& policy, int epochs);

// The scheduler `config.policy` names over `optimizer` (whose groups are already built); the
// constant, step and poly policies start from config.optimizer.lr. `bound` is only used by the
// mi policy.
std::unique_ptr<EpochScheduler> make_scheduler(const TrialConfig& config,
                                               torch::optim::Optimizer& optimizer, double bound);

}  // namespace automl::trials
