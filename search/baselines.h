#pragma once
// The final MI-SGD runs and the baselines' protocol (SPEC.md 5): for each of Adam, RMSprop,
// LARS and step-decay SGD, one run per candidate initial LR on a validation split, the best by
// validation accuracy (lowest validation MAE for regression), then one run per experiment seed
// at that LR on the full training set, evaluated on the test set.
#include <cstdint>
#include <string>
#include <vector>

#include "search/config.h"
#include "search/lrrt.h"
#include "search/plan.h"

namespace automl::search {

// Throws when `config` breaks a precondition of the baseline search (std::invalid_argument;
// an unknown optimizer: InputError). User input is validated by experiments/ (file:line).
void validate_baseline_config(const BaselineConfig& config);

// The LR range each optimizer's candidates span (docs/search.md says why).
struct LrSpan {
  double low = 0, high = 0;
};
// The methods that are baselines: adam, rmsprop, lars, step.
const std::vector<Method>& baseline_methods();

LrSpan baseline_lr_span(Method optimizer);

// `count` LRs log-spaced over the optimizer's span, rounded to 3 significant digits.
std::vector<double> baseline_candidate_lrs(Method optimizer, int count);

// The trial one baseline runs: the base with that optimizer and its LR policy at `lr`.
// adam, rmsprop: constant LR. lars: momentum 0.9, polynomial decay (power 2). step: SGD,
// momentum 0.9, x step_gamma every step_size epochs.
trials::TrialConfig baseline_trial(const BaselineConfig& config, const trials::TrialConfig& base,
                                   Method optimizer, double lr);

// "baseline_search/adam/lr=0.001" and "baseline/adam/seed=1".
std::string baseline_search_label(Method optimizer, double lr);
std::string baseline_label(const std::string& optimizer, std::uint64_t seed);

// One job per (optimizer, candidate LR): search_epochs epochs (0 = the base's), the base's seed,
// data.validation_fraction = config.validation_fraction, MI off, no test set.
std::vector<Job> plan_baseline_search(const BaselineConfig& config,
                                      const trials::TrialConfig& base);

struct BaselineCandidate {
  double lr = 0;
  std::string status;  // done | crashed | failed | missing
  double score = 0;    // validation accuracy, or -validation MAE; -inf when not done
};

struct BaselineChoice {
  Method optimizer = Method::adam;
  bool found = false;  // false when every candidate crashed or failed
  double lr = 0;
  double score = 0;
  std::vector<BaselineCandidate> candidates;
};

// The best LR per optimizer (ties: the smaller LR).
std::vector<BaselineChoice> decide_baselines(const BaselineConfig& config,
                                             const std::vector<JobResult>& results,
                                             bool regression);

// One job per (optimizer with a found LR, seed): the base's epochs on the full training set
// (no validation split), evaluated on the test set.
std::vector<Job> plan_baseline_finals(const BaselineConfig& config, const trials::TrialConfig& base,
                                      const std::vector<BaselineChoice>& choices,
                                      const std::vector<std::uint64_t>& seeds);

// The final MI-SGD runs, one per seed: SGD (the base's momentum, Nesterov, weight decay),
// policy "mi" with `range`, model-wise ("mi_sgd/seed=1") or layer-wise
// ("mi_sgd_layerwise/seed=1", every layer with the same range), the base's epochs, full
// training set, test set evaluated.
std::vector<Job> plan_mi_sgd_finals(const trials::TrialConfig& base, const LrRange& range,
                                    const std::vector<std::uint64_t>& seeds, bool layerwise);

}  // namespace automl::search
