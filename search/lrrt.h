#pragma once
// Algorithm 2, the LR range test (SPEC.md 4), as a plan of independent jobs (one per trial and
// candidate LR) and pure functions that turn their results into table D and the operating range
// (LR_min, LR_max, LR_top, eps). docs/search.md states every choice made here.
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "search/config.h"
#include "search/plan.h"

namespace automl::search {

// The LRRT cannot produce a range (every candidate LR crashed in every trial). An InputError so
// that the CLI reports it like any other problem the user has to fix (lower the LRs).
class LrrtError : public InputError {
 public:
  using InputError::InputError;
};

// Resolves mode "auto" to "quick" when the engine says the budget is short, else to "full", and
// puts the numbers of the resolved mode in place: quick mode sets trials = quick_trials,
// epochs_per_trial = quick_epochs and c2 = quick_c2. Idempotent; "off" stays "off".
LrrtConfig resolve_lrrt_mode(const LrrtConfig& config, bool budget_is_short);

// Throws std::invalid_argument when `config` breaks a precondition of Algorithm 2. User input
// is validated by experiments/ (file:line); this guards the other callers.
void validate_lrrt_config(const LrrtConfig& config);

// The candidate LRs, ascending: `lrs` when given, else lr_count values log-spaced from lr_low
// to lr_high (both included), each rounded to 3 significant digits so that labels stay short.
std::vector<double> lrrt_candidate_lrs(const LrrtConfig& config);

// "lrrt/t=1/lr=0.01": the job of trial t at candidate `lr`.
std::string lrrt_label(int trial, double lr);

// One job per (trial t = 1..T, candidate LR): the base trial with SGD (the base's momentum,
// Nesterov and weight decay) at the constant LR, epochs_per_trial epochs, seed t (so every LR
// of trial t starts from the same initial weights and sees the same data), MI on, no test set.
// `config` must be resolved (mode full or quick).
std::vector<Job> plan_lrrt(const LrrtConfig& config, const trials::TrialConfig& base);

// ---- Table D ---------------------------------------------------------------------------------

// Per-layer values of one row (layer-wise LRRT): ITY of that parameter group.
struct LayerRow {
  std::string name;
  double initial_ity = 0, final_ity = 0;
  double min_d_s = 0;
};

// One (trial, LR) that completed all its epochs.
struct LrrtRow {
  int trial = 0;
  double lr = 0;
  double min_d_s = 0;  // min over epochs e = 2..E of (ITY_{e-1} - ITY_{e-2}) / ITY_{e-1}
  double initial_loss = 0, final_loss = 0;
  double initial_ity = 0, final_ity = 0;
  double initial_accuracy = 0, final_accuracy = 0;  // training accuracy
  double initial_mae = 0, final_mae = 0;            // training MAE (regression)
  std::vector<LayerRow> layers;
};

// A (trial, LR) that did not complete, and why: "crashed" (the job's own crash, or a non-finite
// value), "break" (a smaller LR of the same trial crashed), "missing" (no result), "incomplete"
// (fewer epochs than planned), or the job's own status otherwise ("failed", "stopped").
struct LrrtDropped {
  int trial = 0;
  double lr = 0;
  std::string reason;
};

// The mean over the trials that completed one LR; `completed` = 0 means crashed.
struct LrAggregate {
  double lr = 0;
  int completed = 0;
  bool crashed() const { return completed == 0; }
  double min_d_s = 0;
  double initial_loss = 0, final_loss = 0;
  double initial_ity = 0, final_ity = 0;
  double initial_accuracy = 0, final_accuracy = 0;
  double initial_mae = 0, final_mae = 0;
  std::map<std::string, LayerRow> layers;  // by layer name; min_d_s is the mean too
};

struct LrrtTable {
  std::vector<double> lrs;  // the candidates, ascending
  int trials = 0;
  int epochs = 0;
  std::vector<LrrtRow> rows;  // table D, by trial then LR
  std::vector<LrrtDropped> dropped;
  std::vector<LrAggregate> per_lr;  // one per candidate, ascending
  std::vector<std::string> warnings;
};

// Builds table D from the results of plan_lrrt's jobs (matched by label; order does not
// matter), applying the crash rule and the break after the fact, and aggregates it per LR.
LrrtTable build_lrrt_table(const LrrtConfig& config, const std::vector<JobResult>& results);

// ---- Bounds ----------------------------------------------------------------------------------

struct LrRange {
  double lr_min = 0, lr_max = 0, lr_top = 0, eps = 0;
};

// Makes `trial` an MI-SGD run (Algorithm 1: SGD, policy "mi", MI on) over `range`.
void use_mi_sgd(trials::TrialConfig& trial, const LrRange& range, bool layerwise);

// The bounds from one attribute (SPEC.md 4), with the columns they were computed from.
struct AttributeBounds {
  std::string attribute;    // train_accuracy | ity | neg_mae | ity:<layer>
  double maxval = 0;        // max over non-crashed LRs of final A
  double thresh = 0;        // maxval / c1
  std::vector<double> d1n;  // per candidate LR (0 where crashed)
  std::vector<double> dnn;  // per candidate LR (0 where crashed)
  double lr_min = 0, lr_max = 0, lr_top = 0;
  std::vector<std::string> warnings;
};

// Attribute A per aggregate: final and initial values. neg_mae is shifted by the mean initial
// MAE of the table so that MAXVAL / C1 is a fraction of the MAE reduction (docs/search.md).
struct AttributeValues {
  std::vector<double> initial, final_;
};
AttributeValues attribute_values(const LrrtTable& table, const std::string& attribute);

// LR_top, LR_min, LR_max of one attribute. Throws LrrtError when every LR crashed.
AttributeBounds attribute_bounds(const LrrtTable& table, const std::string& attribute, double c1);

struct EpsChoice {
  double median = 0;  // median over rows of min(d_s)
  double eps = 0;     // c2 * median, or c2 * median(|min d_s|) when median <= 0
  std::vector<std::string> warnings;
};
EpsChoice lrrt_eps(const std::vector<double>& min_d_s, double c2);

struct LayerRange {
  std::string layer;
  AttributeBounds bounds;  // attribute "ity:<layer>"
  LrRange range;
};

struct LrrtDecision {
  std::string mode;  // full | quick
  double c1 = 0, c2 = 0;
  std::vector<AttributeBounds> attributes;  // one per attribute computed
  std::string chosen_attribute;
  LrRange range;
  double median_min_d_s = 0;
  std::vector<LayerRange> layers;  // layer-wise LRRT only
  std::vector<std::string> warnings;
};

// The attributes `config.attribute` names: "both" = {train_accuracy, ity}.
std::vector<std::string> lrrt_attributes(const LrrtConfig& config);

// The range for (c1, c2) from table D. Several attributes: the one with the larger LR_max
// (ties: the first listed). Throws LrrtError when every LR crashed.
LrrtDecision decide_lrrt(const LrrtConfig& config, const LrrtTable& table, double c1, double c2);

// The same with the config's own C1 and C2 (quick mode: quick_c2).
LrrtDecision decide_lrrt(const LrrtConfig& config, const LrrtTable& table);

}  // namespace automl::search
