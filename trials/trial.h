#pragma once
// One training run: a model, a data set, an optimizer, an LR policy, a seed and a number of
// epochs, reporting one EpochRecord per epoch as it ends.
#include <functional>

#include "trials/config.h"
#include "trials/records.h"

namespace automl::trials {

// Called once per finished epoch, in order; a sink that throws stops the trial.
using EpochSink = std::function<void(const EpochRecord&)>;

// Runs the trial to the end (or until it crashes, SPEC.md 4) and returns its summary.
// Deterministic by config.seed on the CPU. Throws InputError on bad configuration or data.
TrialSummary run_trial(const TrialConfig& config, const EpochSink& on_epoch);

// Sets LibTorch's intra-op thread count: `threads` if > 0, else the number of cores.
void set_threads(int threads);

}  // namespace automl::trials
