#include "trials/mi_decay.h"

#include <algorithm>
#include <stdexcept>

namespace automl::trials {

bool d_s_guarded(double last_ity) {
  return last_ity <= 0;
}

double d_s(double before, double last) {
  return d_s_guarded(last) ? 0.0 : (last - before) / last;
}

MiMetrics mi_metrics(const std::vector<double>& history, double bound) {
  if (history.empty()) throw std::invalid_argument("mi_metrics: empty ITY history");
  if (!(bound > 0)) throw std::invalid_argument("mi_metrics: the bound must be positive");
  MiMetrics m;
  const double best = *std::max_element(history.begin(), history.end());
  m.d_p_raw = 1.0 - best / bound;
  m.d_p = std::clamp(m.d_p_raw, 0.0, 1.0);
  if (history.size() == 1) return m;  // d_s = 1: the algorithm's initial value
  const double last = history[history.size() - 1], before = history[history.size() - 2];
  m.d_s = d_s(before, last);
  m.guarded = d_s_guarded(last);
  return m;
}

MiStep mi_decay_step(const std::vector<double>& history, double bound, double previous_lr,
                     const MiDecayOptions& o) {
  MiStep step;
  step.metrics = mi_metrics(history, bound);
  const auto epoch = static_cast<int>(history.size());
  const double d_p = step.metrics.d_p;
  if (epoch == 1) {
    if (o.start_from_mi) {
      step.lr = std::max((1.0 - d_p) * o.lr_max, o.lr_min);
      step.decision = "mi";
    } else {
      step.lr = o.lr_top;
      step.decision = "top";
    }
  } else if (epoch == 2) {
    step.lr = std::max(d_p * o.lr_max, o.lr_min);
    step.decision = "dp";
  } else if (step.metrics.d_s < o.eps) {
    const double time = o.time_decay ? 1.0 - static_cast<double>(epoch) / o.epochs : 1.0;
    step.lr = std::max(d_p * time * o.lr_max, o.lr_min);
    step.decision = "decay";
  } else {
    step.lr = previous_lr;
    step.decision = "hold";
  }
  return step;
}

MiStep MiDecay::next() {
  MiStep step = mi_decay_step(history_, bound_, lr_, options_);
  lr_ = step.lr;
  return step;
}

}  // namespace automl::trials
