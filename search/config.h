#pragma once
// Options of the searches (SPEC.md 4 and 5): plain structs with the spec's defaults, free of
// LibTorch so the experiment loader can fill them.
#include <cstdint>
#include <string>
#include <vector>

#include "common/vocabulary.h"

namespace automl::search {

// Algorithm 2, the LR range test.
struct LrrtConfig {
  std::string mode = "auto";  // full | quick | auto (quick when the budget is short) | off
  std::vector<double> lrs;    // explicit ascending candidates; empty = log-spaced range below
  double lr_low = 1e-4;
  double lr_high = 1.0;
  int lr_count = 13;
  int trials = 3;  // full mode
  int epochs_per_trial = 5;
  int quick_trials = 2;  // quick mode (SPEC.md 4): 2 trials x 3 epochs, C2 << 1
  int quick_epochs = 3;
  double quick_c2 = 0.05;
  // train_accuracy | ity | both (keep the larger LR_max); regression: ity | neg_mae
  std::string attribute = "train_accuracy";
  double c1 = 10;
  double c2 = 1;
  bool layerwise = false;  // per-layer ranges from per-layer ITY
};

// Leslie Smith's single-run LR sweep (search/smith.h), with PyTorch Lightning's lr_find
// defaults: 100 steps from 1e-8 to 1, loss smoothed with beta 0.98, stop past 4x the best.
struct SmithConfig {
  double lr_start = 1e-8;
  double lr_end = 1;
  int steps = 100;
  double beta = 0.98;      // exponential smoothing of the per-batch loss
  double stop_factor = 4;  // stop once the smoothed loss exceeds this x its best
  int skip_begin = 10;     // steps left out of the suggestion at the start
  int skip_end = 1;        // and at the end
};

// Automatic C1/C2: distinct ranges from a grid, scored by short MI-SGD runs on a validation
// split under successive halving.
struct C1C2Config {
  bool enabled = true;
  std::vector<double> c1_grid = {5, 10, 20, 30};
  std::vector<double> c2_grid = {0.01, 0.1, 1};
  int max_candidates = 8;  // distinct ranges kept for the first round
  int min_epochs = 2;      // epochs per candidate in the first round
  int max_epochs = 8;      // epochs in the last round
  double eta = 2;          // keep 1/eta of the candidates each round, eta x the epochs
  double validation_fraction = 0.1;
};

// SPEC.md 5: the baselines and how their LRs are searched.
struct BaselineConfig {
  // The baseline methods to compare (search::baseline_methods() lists those there are).
  std::vector<Method> optimizers = {Method::adam, Method::rmsprop, Method::lars, Method::step};
  int candidates = 10;      // log-spaced initial LRs per optimizer (per-optimizer ranges)
  int search_epochs = 0;    // epochs of each candidate run; 0 = the experiment's epochs
  double step_gamma = 0.5;  // step decay: x gamma every step_size epochs
  int step_size = 30;
  double validation_fraction = 0.1;
};

}  // namespace automl::search
