#include "trials/trial.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "common/error.h"
#include "trials/data.h"
#include "trials/network.h"
#include "trials/optimizers.h"
#include "trials/random.h"

namespace automl::trials {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

torch::Device parse_device(const std::string& name) {
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw InputError("device",
                       fmt::format("'{}' asked for, but no CUDA device is available", name));
    return device;
  } catch (const c10::Error&) {
    throw InputError("device",
                     fmt::format("'{}' is not a device (expected cpu or cuda[:N])", name));
  }
}

struct Metrics {
  double loss = 0, accuracy = 0;
};

// Mean loss and accuracy of `net` on `data`, in eval mode, without gradients.
Metrics evaluate(Network& net, const Dataset& data, int batch_size) {
  torch::NoGradGuard no_grad;
  net.eval();
  double loss_sum = 0, correct = 0;
  for (std::int64_t begin = 0; begin < data.size(); begin += batch_size) {
    const auto end = std::min<std::int64_t>(begin + batch_size, data.size());
    const auto logits = net.forward(data.inputs.slice(0, begin, end));
    const auto labels = data.targets.slice(0, begin, end);
    loss_sum +=
        torch::nn::functional::cross_entropy(
            logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
            .item<double>();
    correct += logits.argmax(1).eq(labels).sum().item<double>();
  }
  const double n = static_cast<double>(std::max<std::int64_t>(1, data.size()));
  return {loss_sum / n, correct / n};
}

// One pass over the training set in a seeded order; returns mean loss and accuracy.
Metrics train_epoch(Network& net, torch::optim::Optimizer& optimizer, const Dataset& data,
                    int batch_size, std::uint64_t shuffle_seed) {
  net.train();
  const auto order = torch::tensor(seeded_permutation(data.size(), shuffle_seed), torch::kInt64)
                         .to(data.inputs.device());
  auto loss_sum = torch::zeros({}, data.inputs.options());
  auto correct = torch::zeros({}, data.inputs.options().dtype(torch::kInt64));
  for (std::int64_t begin = 0; begin < data.size(); begin += batch_size) {
    const auto idx = order.slice(0, begin, std::min<std::int64_t>(begin + batch_size, data.size()));
    const auto inputs = data.inputs.index_select(0, idx);
    const auto labels = data.targets.index_select(0, idx);
    optimizer.zero_grad();
    const auto logits = net.forward(inputs);
    const auto loss = torch::nn::functional::cross_entropy(logits, labels);
    loss.backward();
    optimizer.step();
    // Accumulate on the device: no host synchronisation inside the loop.
    loss_sum += loss.detach() * idx.size(0);
    correct += logits.detach().argmax(1).eq(labels).sum();
  }
  const double n = static_cast<double>(std::max<std::int64_t>(1, data.size()));
  return {loss_sum.item<double>() / n, correct.item<double>() / n};
}

}  // namespace

void set_threads(int threads) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads > 0 ? threads : cores);
}

TrialSummary run_trial(const TrialConfig& config, const EpochSink& on_epoch) {
  const auto device = parse_device(config.device);
  torch::manual_seed(config.seed);

  const Splits splits = load_splits(config.data, config.seed);
  const Dataset train = splits.train.to(device), test = splits.test.to(device);
  const InputShape shape{train.inputs.size(1), train.inputs.size(2), train.inputs.size(3)};

  auto net = make_network(config.model, shape, train.num_classes);
  net->to(device);
  auto optimizer = make_optimizer(config.optimizer, net->parameters());

  TrialSummary summary;
  const auto trial_start = Clock::now();
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    EpochRecord record;
    record.epoch = epoch;
    record.lr = config.optimizer.lr;
    const auto trained = train_epoch(*net, *optimizer, train, config.batch_size,
                                     config.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    record.train_loss = trained.loss;
    record.train_accuracy = trained.accuracy;
    if (config.evaluate_test) {
      const auto tested = evaluate(*net, test, config.batch_size);
      record.test_loss = tested.loss;
      record.test_accuracy = tested.accuracy;
    }
    record.seconds = seconds_since(epoch_start);
    summary.epochs_run = epoch;
    summary.final_test_accuracy = record.test_accuracy;
    summary.best_test_accuracy = std::max(summary.best_test_accuracy, record.test_accuracy);
    on_epoch(record);
    if (!std::isfinite(record.train_loss)) {
      summary.status = "crashed";
      summary.reason = fmt::format("non-finite training loss at epoch {}", epoch);
      break;
    }
  }
  summary.seconds = seconds_since(trial_start);
  return summary;
}

}  // namespace automl::trials
