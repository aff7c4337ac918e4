// Training throughput of the trial loop (images/s) for the paper's LeNet on Fashion-MNIST, and
// the share of epoch time MI takes, model-wise and layer-wise. bench/train_lenet.py runs the same
// model, batch and loop in Python PyTorch for comparison.
//
//   bench_train [--device cpu|cuda] [--batch 256] [--epochs 3] [--train N] [--threads N]
//               [--mi-samples 1000] [--torchscript lenet.pt [--repeats 3]] [--loop-only 1]
//
// With --loop-only 1, only the training loop runs, and every epoch is printed as train_lenet.py
// prints it ("c++ epoch 2: 6.123 s, 9,800 images/s, ..."): bench/train_vs_python.sh alternates
// the two and compares them.
//
// With --torchscript (a LeNet written by bench/script_lenet.py), only the training loop runs:
// the native LeNet and the TorchScript one alternately, `repeats` times each, side by side.
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "trials/trial.h"

namespace {

using automl::trials::EpochRecord;
using automl::trials::TrialConfig;

struct Args {
  std::string device = "cpu";
  int batch = 256, epochs = 3, threads = 0;
  std::int64_t train = 0, mi_samples = 1000;
  std::string torchscript;
  int repeats = 3;
  bool loop_only = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--device")
      a.device = value;
    else if (key == "--batch")
      a.batch = std::atoi(value.c_str());
    else if (key == "--epochs")
      a.epochs = std::atoi(value.c_str());
    else if (key == "--train")
      a.train = std::atoll(value.c_str());
    else if (key == "--threads")
      a.threads = std::atoi(value.c_str());
    else if (key == "--mi-samples")
      a.mi_samples = std::atoll(value.c_str());
    else if (key == "--torchscript")
      a.torchscript = value;
    else if (key == "--repeats")
      a.repeats = std::max(1, std::atoi(value.c_str()));
    else if (key == "--loop-only")
      a.loop_only = std::atoi(value.c_str()) != 0;
    else
      throw std::runtime_error("unknown option " + key);
  }
  return a;
}

std::vector<EpochRecord> run(const TrialConfig& config) {
  std::vector<EpochRecord> records;
  automl::trials::run_trial(config, [&](const EpochRecord& r) {
    if (r.epoch > 0) records.push_back(r);
  });
  return records;
}

// Mean over the epochs after the first (warm-up: allocator, kernels, caches).
double steady(const std::vector<EpochRecord>& records, double EpochRecord::*field) {
  double sum = 0;
  int n = 0;
  for (std::size_t i = records.size() > 1 ? 1 : 0; i < records.size(); ++i, ++n)
    sum += records[i].*field;
  return sum / std::max(1, n);
}

// The training loop alone (no MI, no evaluation) of the native LeNet and of `args.torchscript`,
// alternately so that a change in the machine's load touches both alike: steady images/s.
void compare_torchscript(const TrialConfig& base, const Args& args, double images) {
  TrialConfig native = base;
  native.mi.enabled = false;
  native.evaluate_test = false;
  TrialConfig scripted = native;
  scripted.model.torchscript = args.torchscript;
  std::vector<double> native_rates, scripted_rates;
  for (int r = 1; r <= args.repeats; ++r) {
    for (auto* config : {&native, &scripted}) {
      const auto records = run(*config);
      const double rate = images / steady(records, &EpochRecord::seconds);
      (config == &native ? native_rates : scripted_rates).push_back(rate);
      fmt::print("run {} {:<11}: {:.0f} images/s (final train loss {:.4f})\n", r,
                 config == &native ? "native" : "torchscript", rate, records.back().train_loss);
    }
  }
  // The best run is the least disturbed by other work on the machine; the median shows the rest.
  const auto best = [](std::vector<double> v) { return *std::max_element(v.begin(), v.end()); };
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  fmt::print(
      "images/s best (median) of {}: native lenet {:.0f} ({:.0f}) | torchscript lenet {:.0f} "
      "({:.0f}) | torchscript/native {:.3f} ({:.3f})\n",
      args.repeats, best(native_rates), median(native_rates), best(scripted_rates),
      median(scripted_rates), best(scripted_rates) / best(native_rates),
      median(scripted_rates) / median(native_rates));
}

// The training loop alone, each epoch on its own line in train_lenet.py's format.
void loop_only(TrialConfig config, double images) {
  config.mi.enabled = false;
  config.evaluate_test = false;
  for (const auto& r : run(config))
    fmt::print("c++ epoch {}: {:.3f} s, {} images/s, loss {:.4f} acc {:.4f}\n", r.epoch, r.seconds,
               static_cast<std::int64_t>(images / r.seconds), r.train_loss, r.train_accuracy);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  automl::trials::set_threads(args.threads);
  TrialConfig base;
  base.device = args.device;
  base.batch_size = args.batch;
  base.epochs = args.epochs;
  base.data.train_subset = args.train;
  base.optimizer.lr = 0.05;
  base.optimizer.momentum = 0.9;
  base.optimizer.nesterov = true;
  base.mi.samples = args.mi_samples;

  // 1. The training loop alone: no MI, no evaluation; on a GPU both with and without CUDA
  //    graphs (trials/step_graph.h), which must reach the same accuracy.
  fmt::print("lenet fashion-mnist device={} batch={} train={} threads={}\n", args.device,
             args.batch, args.train ? args.train : 60000, args.threads);
  const double images = static_cast<double>(args.train ? args.train : 60000);
  if (!args.torchscript.empty()) {
    compare_torchscript(base, args, images);
    return 0;
  }
  if (args.loop_only) {
    loop_only(base, images);
    return 0;
  }
  for (const bool graphs : {false, true}) {
    if (graphs && args.device == "cpu") break;
    TrialConfig plain = base;
    plain.mi.enabled = false;
    plain.evaluate_test = false;
    plain.cuda_graphs = graphs;
    const auto trained = run(plain);
    const double epoch_s = steady(trained, &EpochRecord::seconds);
    fmt::print(
        "train loop{}: {:.3f} s/epoch, {:.0f} images/s (final train loss {:.4f} acc {:.4f})\n",
        graphs ? " (CUDA graphs)" : "", epoch_s, images / epoch_s, trained.back().train_loss,
        trained.back().train_accuracy);
  }

  // 2. MI-SGD model-wise and layer-wise: MI's share of the epoch.
  for (const bool layerwise : {false, true}) {
    TrialConfig mi = base;
    mi.policy.name = "mi";
    mi.policy.layerwise = layerwise;
    mi.mi.layer_features = "channel_mean";
    const auto records = run(mi);
    const double total = steady(records, &EpochRecord::seconds);
    const double mi_s = steady(records, &EpochRecord::mi_seconds);
    fmt::print("{}: epoch {:.3f} s (with test evaluation), MI {:.3f} s = {:.2f}% of the epoch\n",
               layerwise ? "MI-SGD layer-wise (channel_mean)" : "MI-SGD model-wise", total, mi_s,
               100 * mi_s / total);
  }
  return 0;
}
