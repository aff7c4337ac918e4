#pragma once
// Training one batch per learning rate, the LR given before every step: the loop of Leslie
// Smith's LR range sweep (search/smith.h holds its rules: the LR sequence, the smoothing, when to
// stop and what to suggest). No epochs, no evaluation, no MI.
#include <functional>
#include <vector>

#include "trials/config.h"

namespace automl::trials {

// Called after step `step` (0-based) trained one batch at `lr`, with that batch's mean loss
// (possibly not finite); false stops the sweep.
using StepSink = std::function<bool(int step, double lr, double loss)>;

// Trains `config`'s model with its optimizer on its training data (seeded by config.seed:
// initial weights, batch order, augmentation; another pass when one ends), setting every
// parameter group's LR to lrs[i] before step i, until the LRs run out or `on_step` says stop.
// Returns the number of steps taken. Throws InputError on bad configuration or data.
int run_lr_steps(const TrialConfig& config, const std::vector<double>& lrs,
                 const StepSink& on_step);

}  // namespace automl::trials
