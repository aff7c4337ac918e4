#include "search/baselines.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "search/c1c2.h"
#include "search/lr_grid.h"

namespace automl::search {
namespace {

int search_epochs(const BaselineConfig& config, const trials::TrialConfig& base) {
  return config.search_epochs > 0 ? config.search_epochs : base.epochs;
}

}  // namespace

const std::vector<Method>& baseline_methods() {
  static const std::vector<Method> methods = {Method::adam, Method::rmsprop, Method::lars,
                                              Method::step};
  return methods;
}

void validate_baseline_config(const BaselineConfig& c) {
  // Preconditions of the search, not rules for user input: experiments/ checks what a file
  // says (with its line, within documented limits), so a config failing here is a bug.
  const auto require = [](bool ok, const char* what) {
    if (!ok) throw std::invalid_argument(fmt::format("baseline config: {}", what));
  };
  for (const auto method : c.optimizers)
    require(std::count(baseline_methods().begin(), baseline_methods().end(), method) == 1,
            "baselines.optimizers must be baseline methods");
  require(c.candidates >= 1, "baselines.candidates must be >= 1");
  require(c.search_epochs >= 0, "baselines.search_epochs must be >= 0");
  require(c.step_gamma > 0 && c.step_gamma <= 1, "baselines.step_gamma must be in (0, 1]");
  require(c.step_size >= 1, "baselines.step_size must be >= 1");
  require(c.validation_fraction > 0 && c.validation_fraction < 1,
          "baselines.validation_fraction must be in (0, 1)");
}

LrSpan baseline_lr_span(Method optimizer) {
  // Adam and RMSprop: four decades around their usual 1e-3. LARS: the global LR is scaled per
  // layer by trust_coefficient * ||w|| / ||g|| (0.001 by default), so useful global LRs are
  // 10^3 larger than plain SGD's. Step-decay SGD with momentum 0.9: around the usual 0.1.
  switch (optimizer) {
    case Method::adam:
    case Method::rmsprop:
      return {1e-5, 1e-1};
    case Method::lars:
      return {1e-2, 1e2};
    case Method::step:
      return {1e-3, 1.0};
    default:
      throw std::invalid_argument(fmt::format("{} is not a baseline method", name(optimizer)));
  }
}

std::vector<double> baseline_candidate_lrs(Method optimizer, int count) {
  const LrSpan span = baseline_lr_span(optimizer);
  std::vector<double> lrs;
  for (double lr : log_spaced_lrs(span.low, span.high, count))
    if (lrs.empty() || lr > lrs.back()) lrs.push_back(lr);  // drop LRs that rounded together
  return lrs;
}

trials::TrialConfig baseline_trial(const BaselineConfig& config, const trials::TrialConfig& base,
                                   Method optimizer, double lr) {
  trials::TrialConfig trial = base;
  trial.policy = trials::PolicyConfig{};
  trial.optimizer.lr = lr;
  if (optimizer == Method::adam || optimizer == Method::rmsprop) {
    trial.optimizer.name = std::string(name(optimizer));
    trial.policy.name = "constant";
  } else if (optimizer == Method::lars) {
    trial.optimizer.name = "lars";
    trial.optimizer.momentum = 0.9;
    trial.policy.name = "poly";
    trial.policy.power = 2.0;
  } else if (optimizer == Method::step) {
    trial.optimizer.name = "sgd";
    trial.optimizer.momentum = 0.9;
    trial.policy.name = "step";
    trial.policy.gamma = config.step_gamma;
    trial.policy.step_size = config.step_size;
  } else {
    baseline_lr_span(optimizer);  // throws: not a baseline method
  }
  return trial;
}

std::string baseline_search_label(Method optimizer, double lr) {
  return fmt::format("baseline_search/{}/lr={:g}", name(optimizer), lr);
}

std::string baseline_label(Method optimizer, std::uint64_t seed) {
  return fmt::format("baseline/{}/seed={}", name(optimizer), seed);
}

std::vector<Job> plan_baseline_search(const BaselineConfig& config,
                                      const trials::TrialConfig& base) {
  validate_baseline_config(config);
  std::vector<Job> jobs;
  for (const auto& optimizer : config.optimizers) {
    for (double lr : baseline_candidate_lrs(optimizer, config.candidates)) {
      Job job{Stage::baseline_search, baseline_search_label(optimizer, lr),
              baseline_trial(config, base, optimizer, lr), optimizer};
      job.config.epochs = search_epochs(config, base);
      job.config.data.validation_fraction = config.validation_fraction;
      job.config.mi.enabled = false;  // the choice needs no MI: save its time
      job.config.evaluate_test = false;
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

std::vector<BaselineChoice> decide_baselines(const BaselineConfig& config,
                                             const std::vector<JobResult>& results,
                                             bool regression) {
  validate_baseline_config(config);
  std::map<std::string, const JobResult*> by_label;
  for (const auto& result : results) by_label[result.label] = &result;
  std::vector<BaselineChoice> choices;
  for (const auto& optimizer : config.optimizers) {
    BaselineChoice choice;
    choice.optimizer = optimizer;
    for (double lr : baseline_candidate_lrs(optimizer, config.candidates)) {
      BaselineCandidate candidate;
      candidate.lr = lr;
      const auto found = by_label.find(baseline_search_label(optimizer, lr));
      candidate.status =
          found == by_label.end() ? "missing" : std::string(name(found->second->status));
      candidate.score = found == by_label.end() ? -std::numeric_limits<double>::infinity()
                                                : validation_score(*found->second, regression);
      // Strictly better only: ties keep the smaller LR.
      if (std::isfinite(candidate.score) && (!choice.found || candidate.score > choice.score)) {
        choice.found = true;
        choice.lr = lr;
        choice.score = candidate.score;
      }
      choice.candidates.push_back(candidate);
    }
    choices.push_back(std::move(choice));
  }
  return choices;
}

std::vector<Job> plan_baseline_finals(const BaselineConfig& config, const trials::TrialConfig& base,
                                      const std::vector<BaselineChoice>& choices,
                                      const std::vector<std::uint64_t>& seeds) {
  std::vector<Job> jobs;
  for (const auto& choice : choices) {
    if (!choice.found) continue;
    for (std::uint64_t seed : seeds) {
      Job job{Stage::baseline, baseline_label(choice.optimizer, seed),
              baseline_trial(config, base, choice.optimizer, choice.lr), choice.optimizer};
      job.config.seed = seed;
      job.config.data.validation_fraction = 0;
      job.config.evaluate_test = true;
      jobs.push_back(std::move(job));
    }
  }
  return jobs;
}

std::vector<Job> plan_mi_sgd_finals(const trials::TrialConfig& base, const LrRange& range,
                                    const std::vector<std::uint64_t>& seeds, bool layerwise) {
  const auto method = layerwise ? Method::mi_sgd_layerwise : Method::mi_sgd;
  std::vector<Job> jobs;
  for (std::uint64_t seed : seeds) {
    Job job{Stage::mi_sgd, fmt::format("{}/seed={}", name(method), seed), base, method};
    auto& trial = job.config;
    use_mi_sgd(trial, range, layerwise);
    trial.seed = seed;
    trial.data.validation_fraction = 0;
    trial.evaluate_test = true;
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace automl::search
