#include "trials/lr_sweep.h"

#include <torch/torch.h>

#include "trials/data.h"
#include "trials/network.h"
#include "trials/optimizers.h"
#include "trials/random.h"

namespace automl::trials {
namespace {

namespace F = torch::nn::functional;

// The training batches of pass `pass`, in a seeded order, each visited on the device until the
// visitor returns false; returns false when it did.
template <typename Visit>
bool visit_pass(const Dataset& data, const TrialConfig& config, const torch::Device& device,
                std::uint64_t pass, const Visit& visit) {
  const auto seed = config.seed * 1000003ULL + pass;
  const auto order = seeded_permutation(data.size(), seed);
  if (data.source) {
    StreamOptions options;
    options.batch_size = config.batch_size;
    options.augment = config.data.augment;
    options.seed = seed;
    const auto batches = data.stream(order, options);
    torch::Tensor inputs, targets;
    while (batches->next(inputs, targets))
      if (!visit(inputs.to(device), targets.to(device))) return false;
    return true;
  }
  const auto index = torch::tensor(order, torch::kInt64);
  for (std::int64_t begin = 0; begin < data.size(); begin += config.batch_size) {
    const auto idx =
        index.slice(0, begin, std::min<std::int64_t>(begin + config.batch_size, data.size()));
    auto inputs = data.inputs.index_select(0, idx).to(device);
    if (config.data.augment && inputs.dim() == 4) inputs = augment_batch(inputs);
    if (!visit(inputs, data.targets.index_select(0, idx).to(device))) return false;
  }
  return true;
}

}  // namespace

int run_lr_steps(const TrialConfig& config, const std::vector<double>& lrs,
                 const StepSink& on_step) {
  if (lrs.empty()) return 0;
  const torch::Device device(config.device);
  const auto splits = load_splits(config.data, config.seed);
  torch::manual_seed(config.seed);
  auto net = make_network_for(config.model, splits.train);
  net->to(device);
  net->train();
  auto optimizer = make_optimizer(config.optimizer, net->parameters());
  const bool classification = splits.train.is_classification();

  int step = 0;
  const auto train_one = [&](const torch::Tensor& inputs, const torch::Tensor& targets) {
    const double lr = lrs[static_cast<std::size_t>(step)];
    set_group_lr(*optimizer, 0, lr);
    optimizer->zero_grad();
    const auto outputs = net->forward(inputs);
    const auto loss =
        classification ? F::cross_entropy(outputs, targets) : F::mse_loss(outputs, targets);
    loss.backward();
    optimizer->step();
    const bool more = on_step(step, lr, loss.item<double>());
    ++step;
    return more && step < static_cast<int>(lrs.size());
  };
  for (std::uint64_t pass = 1; visit_pass(splits.train, config, device, pass, train_one); ++pass) {
  }
  return step;
}

}  // namespace automl::trials
