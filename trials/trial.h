#pragma once
// One training run: a model, a data set, an optimizer, an LR policy, a seed and a number of
// epochs, reporting one EpochRecord per epoch as it ends.
#include <functional>
#include <string>

#include "trials/config.h"
#include "trials/records.h"

namespace automl::trials {

struct Splits;  // trials/data.h

// Called once per finished epoch, in order; a sink that throws stops the trial. With MI enabled,
// epoch 0 (before training: ITY_0, the bound, d_p = 1 - ITY_0/bound, d_s = 1) comes first.
using EpochSink = std::function<void(const EpochRecord&)>;

// What the engine adds around a trial.
struct TrialRuntime {
  // When non-empty: model, optimizer, policy and progress are saved here after every epoch
  // (written to a temporary file, then renamed). If the file exists when the trial starts, the
  // trial resumes after the saved epoch and does not report the earlier epochs again; a saved
  // trial that had finished (or crashed) returns its summary at once.
  std::string checkpoint_path;
  // Asked after every epoch (after its checkpoint); true ends the trial early (summary.stopped).
  std::function<bool()> should_stop;
  // When set, the trial's splits come from here instead of load_splits(config.data, seed): a
  // long-lived worker keeps data sets loaded across trials. Must return what load_splits would.
  std::function<Splits(const DataConfig& data, std::uint64_t seed)> load_data;
};

// Runs the trial to the end (or until it crashes, SPEC.md 4: summary.status "crashed" with the
// reason; the records reported so far stand) and returns its summary. Deterministic by
// config.seed on the CPU. Throws InputError on bad configuration or data.
TrialSummary run_trial(const TrialConfig& config, const EpochSink& on_epoch);
TrialSummary run_trial(const TrialConfig& config, const EpochSink& on_epoch,
                       const TrialRuntime& runtime);

// Sets LibTorch's intra-op thread count: `threads` if > 0, else the number of cores.
void set_threads(int threads);

}  // namespace automl::trials
