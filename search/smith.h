#pragma once
// Leslie Smith's LR range sweep (Smith 2017, "Cyclical Learning Rates for Training Neural
// Networks", section 3.3), the rule PyTorch Lightning's and fastai's lr_find use: one run whose
// LR grows exponentially every batch; the per-batch loss is smoothed; the sweep stops once the
// smoothed loss passes stop_factor x its best; the suggestion is the LR where the smoothed loss
// falls fastest. A one-run alternative to Algorithm 2 (search/lrrt.h), for comparison.
#include <cstddef>
#include <optional>
#include <vector>

#include "search/config.h"
#include "trials/config.h"

namespace automl::search {

// The LR of every step: lr_start * (lr_end / lr_start)^(i / (steps - 1)), i = 0..steps-1
// (Lightning's _ExponentialLR), so the first step trains at lr_start and the last at lr_end.
std::vector<double> smith_lrs(const SmithConfig& config);

struct SmithSweep {
  std::vector<double> lrs;       // of the steps taken
  std::vector<double> losses;    // each step's batch loss
  std::vector<double> smoothed;  // bias-corrected exponential average of losses[0..i]
  bool stopped_early = false;    // the smoothed loss passed stop_factor x its best, or diverged
  std::optional<std::size_t> suggested;  // the step of the suggestion; none with too few steps
  double suggestion() const { return suggested ? lrs[*suggested] : 0; }
};

// Records the steps of a sweep and says when to stop.
class SmithRecorder {
 public:
  explicit SmithRecorder(const SmithConfig& config) : config_(config) {}
  // Adds one step; false once the sweep should stop (this step is still recorded).
  bool add(double lr, double loss);
  // The sweep so far, with its suggestion.
  SmithSweep result() const;

 private:
  SmithConfig config_;
  SmithSweep sweep_;
  double average_ = 0;
  double best_ = 0;
};

// The step of steepest descent: the smallest numerical gradient (central differences inside,
// one-sided at the ends, as numpy.gradient) of the finite smoothed losses after skipping
// `skip_begin` steps at the start and `skip_end` at the end; none when fewer than 2 remain.
// Unlike Lightning, steps whose loss is not finite are left out without shifting the index.
std::optional<std::size_t> steepest_descent(const std::vector<double>& smoothed, int skip_begin,
                                            int skip_end);

// Runs the sweep on `base` (its model, data, optimizer and seed; LR set every step).
SmithSweep run_smith_sweep(const trials::TrialConfig& base, const SmithConfig& config);

}  // namespace automl::search
