#pragma once
// Algorithm 1 (SPEC.md 3) as plain arithmetic, free of LibTorch: given one parameter group's
// I(T;Y) history and the bound, the metrics d_p and d_s and the LR of the next epoch. The LR
// schedulers in trials/policies.h and the trial loop use this; the tests check it by hand.
#include <string>
#include <vector>

namespace automl::trials {

// The progress metrics of Algorithm 1 (and Algorithm 2, which records them at a constant LR)
// for epoch e = history.size(), computed from ITY_0..ITY_{e-1}:
//   e = 1: d_p = 1 - ITY_0/bound, d_s = 1 (the algorithm's initial values);
//   e > 1: d_p = 1 - max(ITY_0..ITY_{e-1})/bound, d_s = (ITY_{e-1} - ITY_{e-2}) / ITY_{e-1},
//          with d_s = 0 when ITY_{e-1} <= 0 (the guard: counts as saturated).
// d_p is clamped to [0, 1]; d_p_raw keeps the unclamped value.
struct MiMetrics {
  double d_p = 1, d_p_raw = 1, d_s = 1;
  bool guarded = false;  // the ITY <= 0 guard set d_s
};
// Throws std::invalid_argument on an empty history or a bound <= 0.
MiMetrics mi_metrics(const std::vector<double>& history, double bound);

// The ITY <= 0 guard: d_s would divide by a non-positive ITY, so it counts as saturated.
bool d_s_guarded(double last_ity);
// d_s = (ITY_{e-1} - ITY_{e-2}) / ITY_{e-1} from `before` = ITY_{e-2} and `last` = ITY_{e-1},
// 0 under the guard. Algorithm 2's min(d_s) (search/lrrt.cpp) uses it too.
double d_s(double before, double last);

struct MiDecayOptions {
  double lr_min = 1e-4, lr_max = 0.2, lr_top = 0.01, eps = 1e-3;
  bool start_from_mi = false;  // start: mi (else top)
  bool time_decay = true;      // time_decay: epoch (else none)
  int epochs = 1;              // E
};

// What Algorithm 1 decided for one group at the start of an epoch.
struct MiStep {
  double lr = 0;
  MiMetrics metrics;
  // "top" (e = 1, LR_top), "mi" (e = 1, start: mi), "dp" (e = 2), "decay" (e > 2, d_s < eps),
  // "hold" (e > 2, LR unchanged).
  std::string decision;
};

// The LR for epoch e = history.size() (1-based); `previous_lr` is epoch e-1's LR (unused for
// e <= 2). For start: mi the ratio ITY_0/bound is taken as 1 - d_p, i.e. clamped to [0, 1] like
// d_p (SPEC.md 2 clamps d_p in every mode; an unclamped ratio above 1 would start above LR_max).
MiStep mi_decay_step(const std::vector<double>& history, double bound, double previous_lr,
                     const MiDecayOptions& options);

// One group's running state: record ITY at the end of each epoch (ITY_0 first), ask for the
// next epoch's step.
class MiDecay {
 public:
  MiDecay(MiDecayOptions options, double bound) : options_(options), bound_(bound) {}
  void record(double ity) { history_.push_back(ity); }
  // The step for epoch history().size(); remembers its LR as the previous one.
  MiStep next();
  const std::vector<double>& history() const { return history_; }
  double lr() const { return lr_; }
  double bound() const { return bound_; }
  // Restores a saved state (resume).
  void restore(std::vector<double> history, double lr) {
    history_ = std::move(history);
    lr_ = lr;
  }

 private:
  MiDecayOptions options_;
  double bound_;
  std::vector<double> history_;
  double lr_ = 0;
};

}  // namespace automl::trials
