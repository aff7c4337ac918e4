#include "search/smith.h"

#include <cmath>
#include <limits>

#include "trials/lr_sweep.h"

namespace automl::search {

std::vector<double> smith_lrs(const SmithConfig& config) {
  std::vector<double> lrs;
  const double ratio = config.lr_end / config.lr_start;
  for (int i = 0; i < config.steps; ++i)
    lrs.push_back(config.steps == 1 ? config.lr_start
                                    : config.lr_start * std::pow(ratio, static_cast<double>(i) /
                                                                            (config.steps - 1)));
  return lrs;
}

bool SmithRecorder::add(double lr, double loss) {
  const auto n = static_cast<double>(sweep_.losses.size() + 1);
  average_ = config_.beta * average_ + (1 - config_.beta) * loss;
  const double smoothed = average_ / (1 - std::pow(config_.beta, n));
  sweep_.lrs.push_back(lr);
  sweep_.losses.push_back(loss);
  sweep_.smoothed.push_back(smoothed);
  // A diverged loss never compares greater than anything: it stops the sweep by itself.
  const bool diverged = !std::isfinite(smoothed);
  const bool past_best = n > 1 && smoothed > config_.stop_factor * best_;
  if (n == 1 || smoothed < best_) best_ = smoothed;
  sweep_.stopped_early = diverged || past_best;
  return !sweep_.stopped_early;
}

SmithSweep SmithRecorder::result() const {
  auto sweep = sweep_;
  sweep.suggested = steepest_descent(sweep.smoothed, config_.skip_begin, config_.skip_end);
  return sweep;
}

std::optional<std::size_t> steepest_descent(const std::vector<double>& smoothed, int skip_begin,
                                            int skip_end) {
  std::vector<std::size_t> steps;  // finite ones, inside the skips
  const auto end = static_cast<std::ptrdiff_t>(smoothed.size()) - skip_end;
  for (std::ptrdiff_t i = skip_begin; i < end; ++i)
    if (std::isfinite(smoothed[static_cast<std::size_t>(i)]))
      steps.push_back(static_cast<std::size_t>(i));
  if (steps.size() < 2) return std::nullopt;
  const auto value = [&](std::size_t k) { return smoothed[steps[k]]; };
  std::optional<std::size_t> best;
  double steepest = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const std::size_t lo = k == 0 ? 0 : k - 1;
    const std::size_t hi = k + 1 == steps.size() ? k : k + 1;
    const double gradient = (value(hi) - value(lo)) / static_cast<double>(hi - lo);
    if (gradient < steepest) {  // the first of equal gradients, as argmin
      steepest = gradient;
      best = steps[k];
    }
  }
  return best;
}

SmithSweep run_smith_sweep(const trials::TrialConfig& base, const SmithConfig& config) {
  SmithRecorder recorder(config);
  trials::run_lr_steps(base, smith_lrs(config),
                       [&](int, double lr, double loss) { return recorder.add(lr, loss); });
  return recorder.result();
}

}  // namespace automl::search
