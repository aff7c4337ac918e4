#include "trials/trial.h"

#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "common/error.h"
#include "mi/threads.h"
#include "trials/config_json.h"
#include "trials/crash.h"
#include "trials/data.h"
#include "trials/mi_probe.h"
#include "trials/network.h"
#include "trials/optimizers.h"
#include "trials/policies.h"
#include "trials/random.h"
#include "trials/step_graph.h"

namespace automl::trials {
namespace {

using Clock = std::chrono::steady_clock;
namespace F = torch::nn::functional;

// Data sets above this size stay in host memory and travel to the device batch by batch.
constexpr std::int64_t kDeviceDataLimitBytes = std::int64_t{16} << 30;

double finite_or(double value, double fallback) {
  return std::isfinite(value) ? value : fallback;
}

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

void check_config(const TrialConfig& c) {
  if (c.epochs < 1) throw InputError("epochs", fmt::format("{} is not >= 1", c.epochs));
  if (c.batch_size < 1) throw InputError("batch_size", fmt::format("{} is not >= 1", c.batch_size));
  const auto& p = c.policy;
  if (p.name == "mi") {
    if (!c.mi.enabled) throw InputError("policy.name", "the mi policy needs mi.enabled: true");
    if (!(p.lr_min > 0 && p.lr_min <= p.lr_max))
      throw InputError("policy.lr_min",
                       fmt::format("expected 0 < lr_min ({}) <= lr_max ({})", p.lr_min, p.lr_max));
    if (p.start != "top" && p.start != "mi")
      throw InputError("policy.start", fmt::format("'{}' (expected top, mi)", p.start));
    if (p.time_decay != "epoch" && p.time_decay != "none")
      throw InputError("policy.time_decay",
                       fmt::format("'{}' (expected epoch, none)", p.time_decay));
  }
  if (p.name == "step" && p.milestones.empty() && p.step_size < 1)
    throw InputError("policy.step_size", fmt::format("{} is not >= 1", p.step_size));
}

// Loss, accuracy (classification) and mean absolute error in the data's units (regression),
// summed on the device; `finish` divides and brings them to the host once.
struct Totals {
  torch::Tensor loss, correct, abs_error;
  std::int64_t samples = 0, outputs = 1;
};

struct Metrics {
  double loss = 0, accuracy = 0, mae = 0;
};

class Task {
 public:
  Task(const Dataset& data, const torch::Device& device)
      : classification_(data.is_classification()) {
    if (!classification_)
      scale_ =
          torch::tensor(data.target_scale.empty() ? std::vector<double>(data.targets.size(1), 1.0)
                                                  : data.target_scale,
                        torch::kFloat32)
              .to(device);
  }
  bool classification() const { return classification_; }
  torch::Tensor loss(const torch::Tensor& outputs, const torch::Tensor& targets) const {
    return classification_ ? F::cross_entropy(outputs, targets) : F::mse_loss(outputs, targets);
  }
  void add(Totals& totals, const torch::Tensor& outputs, const torch::Tensor& targets,
           const torch::Tensor& mean_loss) const {
    const auto n = outputs.size(0);
    accumulate(totals.loss, mean_loss.detach() * n);
    totals.samples += n;
    if (classification_) {
      accumulate(totals.correct, outputs.detach().argmax(1).eq(targets).sum());
    } else {
      totals.outputs = outputs.size(1);
      accumulate(totals.abs_error, ((outputs.detach() - targets).abs() * scale_).sum());
    }
  }
  static Metrics finish(const Totals& t) {
    Metrics m;
    const double n = static_cast<double>(std::max<std::int64_t>(1, t.samples));
    if (t.loss.defined()) m.loss = t.loss.item<double>() / n;
    if (t.correct.defined()) m.accuracy = t.correct.item<double>() / n;
    if (t.abs_error.defined()) m.mae = t.abs_error.item<double>() / (n * t.outputs);
    return m;
  }

 private:
  // sum += term, in place: no new tensor per batch. `term` is a fresh result (never a view),
  // so the first batch's can become the sum.
  static void accumulate(torch::Tensor& sum, torch::Tensor term) {
    if (sum.defined())
      sum.add_(term);
    else
      sum = std::move(term);
  }

  bool classification_;
  torch::Tensor scale_;
};

// The batches of a data set whose inputs its source makes (image folders), in `order`: decoded
// and transformed (augmented, by `seed`, when asked) ahead of the loop by the source's threads.
template <typename Visit>
void for_each_made_batch(const Dataset& data, const std::vector<std::int64_t>& order,
                         int batch_size, const torch::Device& device, bool augment,
                         std::uint64_t seed, const Visit& visit) {
  StreamOptions options;
  options.batch_size = batch_size;
  options.augment = augment;
  options.seed = seed;
  options.pin_memory = device.is_cuda();
  const auto batches = data.stream(order, options);
  torch::Tensor inputs, targets;
  while (batches->next(inputs, targets))
    visit(inputs.to(device, /*non_blocking=*/true), targets.to(device, /*non_blocking=*/true));
}

Metrics evaluate(Network& net, const Task& task, const Dataset& data, int batch_size,
                 const torch::Device& device) {
  torch::NoGradGuard no_grad;
  net.eval();
  Totals totals;
  const auto add = [&](const torch::Tensor& inputs, const torch::Tensor& targets) {
    const auto outputs = net.forward(inputs);
    task.add(totals, outputs, targets, task.loss(outputs, targets));
  };
  if (data.source) {
    std::vector<std::int64_t> in_order(static_cast<std::size_t>(data.size()));
    std::iota(in_order.begin(), in_order.end(), 0);
    for_each_made_batch(data, in_order, batch_size, device, /*augment=*/false, 0, add);
    return Task::finish(totals);
  }
  for (std::int64_t begin = 0; begin < data.size(); begin += batch_size) {
    const auto end = std::min<std::int64_t>(begin + batch_size, data.size());
    add(data.inputs.slice(0, begin, end).to(device, /*non_blocking=*/true),
        data.targets.slice(0, begin, end).to(device, /*non_blocking=*/true));
  }
  return Task::finish(totals);
}

// The batches of one epoch: a seeded order over the training set, each batch on the device.
template <typename Visit>
void for_each_batch(const Dataset& data, int batch_size, const torch::Device& device,
                    std::uint64_t shuffle_seed, bool augment, const Visit& visit) {
  if (data.source) {
    for_each_made_batch(data, seeded_permutation(data.size(), shuffle_seed), batch_size, device,
                        augment, shuffle_seed, visit);
    return;
  }
  const auto order = torch::tensor(seeded_permutation(data.size(), shuffle_seed), torch::kInt64)
                         .to(data.inputs.device());
  for (std::int64_t begin = 0; begin < data.size(); begin += batch_size) {
    const auto idx = order.slice(0, begin, std::min<std::int64_t>(begin + batch_size, data.size()));
    visit(data.inputs.index_select(0, idx).to(device, /*non_blocking=*/true),
          data.targets.index_select(0, idx).to(device, /*non_blocking=*/true));
  }
}

// zero_grad with set_to_none (LibTorch 2's default; 1.13's zero_grad() zeroes): backward then
// hands each parameter its fresh gradient instead of adding it to a zeroed one, which saves a
// fill and an add per parameter per step and gives the same values (0 + g == g).
void drop_grads(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) p.mutable_grad().reset();
}

// One pass over the training set in a seeded order. No host synchronisation inside the loop.
Metrics train_epoch(Network& net, torch::optim::Optimizer& optimizer, const Task& task,
                    const Dataset& data, const TrialConfig& config, const torch::Device& device,
                    std::uint64_t shuffle_seed) {
  net.train();
  Totals totals;
  for_each_batch(data, config.batch_size, device, shuffle_seed, config.data.augment,
                 [&](torch::Tensor inputs, const torch::Tensor& targets) {
                   // A source (image folders) augments as it makes the batch.
                   if (config.data.augment && inputs.dim() == 4 && !data.source)
                     inputs = augment_batch(inputs);
                   drop_grads(optimizer);
                   const auto outputs = net.forward(inputs);
                   const auto loss = task.loss(outputs, targets);
                   loss.backward();
                   optimizer.step();
                   task.add(totals, outputs, targets, loss);
                 });
  return Task::finish(totals);
}

// Whether full batches of this trial can replay as a CUDA graph (see trials/step_graph.h).
bool graphable(const TrialConfig& c, const torch::Device& device, const Task& task) {
  return c.cuda_graphs && device.is_cuda() && StepGraph::available() && c.optimizer.name == "sgd" &&
         task.classification() && !c.data.augment;
}

// train_epoch with full batches replayed from a CUDA graph. The first batch of every epoch runs
// eagerly (the optimizer state must exist before a capture, and the stream warms up), as does a
// short last batch. Loss and accuracy sums accumulate in place, at addresses the graph keeps.
Metrics train_epoch_graphed(Network& net, torch::optim::Optimizer& optimizer, const Task& task,
                            const Dataset& data, const TrialConfig& config,
                            const torch::Device& device, std::uint64_t shuffle_seed,
                            StepGraph& graph, Totals& sums) {
  net.train();
  sums.loss.zero_();
  sums.correct.zero_();
  const auto step = [&](const torch::Tensor& inputs, const torch::Tensor& targets) {
    optimizer.zero_grad();
    const auto outputs = net.forward(inputs);
    const auto loss = task.loss(outputs, targets);
    loss.backward();
    optimizer.step();
    sums.loss.add_(loss.detach() * inputs.size(0));
    sums.correct.add_(outputs.detach().argmax(1).eq(targets).sum());
  };
  const auto lrs = group_lrs(optimizer);
  bool first = true;
  for_each_batch(data, config.batch_size, device, shuffle_seed, /*augment=*/false,
                 [&](const torch::Tensor& inputs, const torch::Tensor& targets) {
                   if (first || inputs.size(0) != config.batch_size) {
                     graph.eager(step, inputs, targets);
                     first = false;
                     return;
                   }
                   if (!graph.ready_for(lrs)) graph.capture(step, inputs, targets, lrs);
                   graph.replay(inputs, targets);
                 });
  sums.samples = data.size();
  return Task::finish(sums);
}

// Everything one run holds; run() is the epoch loop.
class Trial {
 public:
  Trial(const TrialConfig& config, const EpochSink& sink, const TrialRuntime& runtime)
      : config_(config), sink_(sink), runtime_(runtime), device_(parse_device(config.device)) {
    check_config(config);
    load_data();
    torch::manual_seed(config.seed);
    build_model();
    crash_ = std::make_unique<CrashDetector>(train_.num_classes);
    if (config.mi.enabled)
      probe_ =
          std::make_unique<MiProbe>(config.mi, config.policy.bound, train_, config.seed, device_);
    scheduler_ = make_scheduler(config, *optimizer_, probe_ ? probe_->bound() : 0.0);
    if (graphable(config, device_, *task_)) {
      graph_ = std::make_unique<StepGraph>();
      graph_sums_.loss = torch::zeros({}, torch::TensorOptions(device_).dtype(torch::kFloat32));
      graph_sums_.correct = torch::zeros({}, torch::TensorOptions(device_).dtype(torch::kInt64));
    }
  }

  TrialSummary run() {
    const auto start = Clock::now();
    int first_epoch = 1;
    if (!runtime_.checkpoint_path.empty() && std::filesystem::exists(runtime_.checkpoint_path))
      first_epoch = load_checkpoint() + 1;
    else if (probe_)
      report_initial_mi();
    const double earlier_seconds = summary_.seconds;
    for (int epoch = first_epoch;
         epoch <= config_.epochs && summary_.status == TrialStatus::done && !summary_.stopped;
         ++epoch) {
      run_epoch(epoch);
      summary_.seconds = earlier_seconds + seconds_since(start);
      if (!runtime_.checkpoint_path.empty()) save_checkpoint(epoch);
      if (summary_.status == TrialStatus::done && epoch < config_.epochs && runtime_.should_stop &&
          runtime_.should_stop()) {
        summary_.stopped = true;
        summary_.reason = fmt::format("stopped on request after epoch {}", epoch);
      }
    }
    return summary_;
  }

 private:
  void load_data() {
    Splits splits = runtime_.load_data ? runtime_.load_data(config_.data, config_.seed)
                                       : load_splits(config_.data, config_.seed);
    const auto bytes = [](const Dataset& d) {
      return d.inputs.defined() ? d.inputs.numel() * d.inputs.element_size() : 0;
    };
    const bool fits = bytes(splits.train) + bytes(splits.validation) + bytes(splits.test) <=
                      kDeviceDataLimitBytes;
    const auto where = fits ? device_ : torch::Device(torch::kCPU);
    train_ = splits.train.to(where);
    validation_ = splits.validation.to(where);
    test_ = splits.test.to(where);
    task_ = std::make_unique<Task>(train_, device_);
  }

  void build_model() {
    net_ = make_network_for(config_.model, train_);
    net_->to(device_);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    if (config_.policy.layerwise) {
      std::int64_t covered = 0;
      for (auto& layer : net_->layers()) {
        group_names_.push_back(layer.name);
        for (const auto& p : layer.parameters) covered += p.numel();
        groups.emplace_back(layer.parameters);
      }
      if (covered != parameter_count(*net_))
        throw std::logic_error(fmt::format("model '{}': its layers hold {} of {} parameters",
                                           config_.model.name, covered, parameter_count(*net_)));
    } else {
      group_names_ = {"model"};
      groups.emplace_back(net_->parameters());
    }
    optimizer_ = make_optimizer(config_.optimizer, std::move(groups));
    history_.assign(group_names_.size(), {});
  }

  // ITY per group (the model-level value repeated for a single group) and the model-level ITY.
  std::pair<std::vector<double>, double> measure_mi(EpochRecord& record) {
    const auto start = Clock::now();
    auto ity = probe_->measure(*net_, config_.policy.layerwise, config_.batch_size);
    record.mi_seconds = seconds_since(start);
    record.bound = probe_->bound();
    return {ity, ity.back()};
  }

  void report_initial_mi() {
    EpochRecord record;
    record.epoch = 0;
    const auto start = Clock::now();
    const auto [ity, model_ity] = measure_mi(record);
    record.ity = model_ity;
    evaluate_splits(record);
    for (std::size_t g = 0; g < ity.size(); ++g) {
      history_[g].push_back(ity[g]);
      GroupRecord group = group_record(g, 0.0, "initial");
      group.ity = ity[g];
      record.groups.push_back(group);
    }
    scheduler_->observe(ity);
    record.seconds = seconds_since(start);
    sink_(record);
  }

  // The group's metrics for the coming epoch (Algorithm 1/2), from its history so far.
  GroupRecord group_record(std::size_t g, double lr, const std::string& decision) const {
    GroupRecord r;
    r.name = group_names_[g];
    r.lr = lr;
    r.decision = decision;
    if (probe_ && !history_[g].empty()) {
      const auto m = mi_metrics(history_[g], probe_->bound());
      r.d_p = m.d_p;
      r.d_p_raw = m.d_p_raw;
      r.d_s = m.d_s;
    }
    return r;
  }

  void evaluate_splits(EpochRecord& record) {
    if (validation_.size() > 0) {
      const auto v = evaluate(*net_, *task_, validation_, config_.batch_size, device_);
      record.validation_accuracy = v.accuracy;
      record.validation_mae = v.mae;
    }
    if (config_.evaluate_test && test_.size() > 0) {
      const auto t = evaluate(*net_, *task_, test_, config_.batch_size, device_);
      record.test_loss = t.loss;
      record.test_accuracy = t.accuracy;
      record.test_mae = t.mae;
    }
  }

  void run_epoch(int epoch) {
    const auto start = Clock::now();
    // Dropout masks and augmentation draw from LibTorch's generator, seeded per epoch so that a
    // resumed trial continues exactly as an uninterrupted one.
    torch::manual_seed(config_.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
    scheduler_->begin_epoch(epoch);
    const auto lrs = group_lrs(*optimizer_);
    const auto decisions = scheduler_->decisions();
    EpochRecord record;
    record.epoch = epoch;
    record.lr = lrs.front();
    for (std::size_t g = 0; g < lrs.size(); ++g)
      record.groups.push_back(group_record(g, lrs[g], decisions[g]));

    const auto shuffle_seed = config_.seed * 1000003ULL + static_cast<std::uint64_t>(epoch);
    const auto trained =
        graph_ ? train_epoch_graphed(*net_, *optimizer_, *task_, train_, config_, device_,
                                     shuffle_seed, *graph_, graph_sums_)
               : train_epoch(*net_, *optimizer_, *task_, train_, config_, device_, shuffle_seed);
    record.train_loss = trained.loss;
    record.train_accuracy = trained.accuracy;
    record.train_mae = trained.mae;
    evaluate_splits(record);
    bool diverged = false;
    if (probe_ && std::isfinite(record.train_loss)) {
      const auto [ity, model_ity] = measure_mi(record);
      diverged = std::any_of(ity.begin(), ity.end(), [](double v) { return std::isnan(v); });
      record.ity = model_ity;
      for (std::size_t g = 0; g < ity.size(); ++g) record.groups[g].ity = ity[g];
      if (!diverged) {
        for (std::size_t g = 0; g < ity.size(); ++g) history_[g].push_back(ity[g]);
        scheduler_->observe(ity);
      }
    }
    record.seconds = seconds_since(start);

    summary_.epochs_run = epoch;
    summary_.final_test_accuracy = record.test_accuracy;
    summary_.best_test_accuracy = std::max(summary_.best_test_accuracy, record.test_accuracy);
    if (!task_->classification() && config_.evaluate_test)
      summary_.best_test_mae =
          epoch == 1 ? record.test_mae : std::min(summary_.best_test_mae, record.test_mae);
    const auto reason = crash_->check(epoch, record.train_loss, record.train_accuracy);
    if (!reason.empty() || diverged) {
      summary_.status = TrialStatus::crashed;
      summary_.reason =
          !reason.empty() ? reason : fmt::format("non-finite network outputs at epoch {}", epoch);
    }
    sink_(record);
  }

  void save_checkpoint(int epoch) {
    // The summary so far in its one serialisation (config_json.h), plus the loop's own state.
    nlohmann::json state = summary_;
    state["epoch"] = epoch;
    state["history"] = history_;
    state["lrs"] = group_lrs(*optimizer_);
    state["crash"] =
        nlohmann::json::array({finite_or(crash_->first_loss(), -1), crash_->best_accuracy()});
    torch::serialize::OutputArchive archive, model, optimizer;
    net_->save(model);
    optimizer_->save(optimizer);
    archive.write("model", model);
    archive.write("optimizer", optimizer);
    archive.write("state", c10::IValue(state.dump()));
    const auto temporary = runtime_.checkpoint_path + ".tmp";
    archive.save_to(temporary);
    std::filesystem::rename(temporary, runtime_.checkpoint_path);
  }

  // Restores the saved state; returns the epoch it ended with.
  int load_checkpoint() {
    torch::serialize::InputArchive archive, model, optimizer;
    try {
      archive.load_from(runtime_.checkpoint_path, device_);
    } catch (const c10::Error& e) {
      throw InputError(runtime_.checkpoint_path, "unreadable checkpoint");
    }
    archive.read("model", model);
    archive.read("optimizer", optimizer);
    net_->load(model);
    optimizer_->load(optimizer);
    c10::IValue text;
    archive.read("state", text);
    const auto state = nlohmann::json::parse(text.toStringRef());
    history_ = state.at("history").get<std::vector<std::vector<double>>>();
    const auto lrs = state.at("lrs").get<std::vector<double>>();
    for (std::size_t g = 0; g < lrs.size(); ++g) set_group_lr(*optimizer_, g, lrs[g]);
    if (auto* mi = dynamic_cast<MiDecayScheduler*>(scheduler_.get()))
      for (std::size_t g = 0; g < mi->groups().size(); ++g)
        mi->groups()[g].restore(history_[g], lrs[g]);
    crash_->restore(state.at("crash").at(0).get<double>(), state.at("crash").at(1).get<double>());
    state.get_to(summary_);
    summary_.epochs_run = state.at("epoch").get<int>();  // the saved epoch is the authority
    return summary_.epochs_run;
  }

  const TrialConfig& config_;
  const EpochSink& sink_;
  const TrialRuntime& runtime_;
  torch::Device device_;
  Dataset train_, validation_, test_;
  std::unique_ptr<Task> task_;
  std::shared_ptr<Network> net_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<MiProbe> probe_;
  std::unique_ptr<EpochScheduler> scheduler_;
  std::unique_ptr<CrashDetector> crash_;
  std::unique_ptr<StepGraph> graph_;  // set when full batches replay as a CUDA graph
  Totals graph_sums_;                 // the graph's in-place loss and accuracy sums
  std::vector<std::string> group_names_;
  std::vector<std::vector<double>> history_;  // ITY_0.. per group
  TrialSummary summary_;
};

// LibTorch's set_num_threads sizes its OpenMP pool and MKL's, but not OpenBLAS's (Debian's
// BLAS, behind every Linear layer's GEMM), which keeps one thread per core. With fewer LibTorch
// threads that pool competes with them and with other trials' processes for the cores, and its
// GEMM results depend on the machine's core count instead of on `threads`. Looked up at run time
// so that builds against another BLAS (MKL, Accelerate) link and run unchanged.
void set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set(threads);
}

}  // namespace

void set_threads(int threads) {
  const int n = mi::resolve_threads(threads);
  torch::set_num_threads(n);
  set_blas_threads(n);
}

TrialSummary run_trial(const TrialConfig& config, const EpochSink& on_epoch,
                       const TrialRuntime& runtime) {
  return Trial(config, on_epoch, runtime).run();
}

TrialSummary run_trial(const TrialConfig& config, const EpochSink& on_epoch) {
  return run_trial(config, on_epoch, TrialRuntime{});
}

}  // namespace automl::trials
