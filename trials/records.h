#pragma once
// What a trial reports: one record per epoch and a summary. Free of LibTorch.
#include <string>
#include <vector>

#include "common/vocabulary.h"

namespace automl::trials {

// MI-policy state of one parameter group (the whole net, or one layer in layer-wise mode).
struct GroupRecord {
  std::string name;    // "model" or the layer's name
  double lr = 0;       // LR used during this epoch
  double ity = 0;      // I(T;Y) at the end of this epoch, nats
  double d_p = 0;      // clamped to [0, 1]
  double d_p_raw = 0;  // before clamping
  double d_s = 0;
  std::string decision;  // e.g. "top", "dp", "decay", "hold"
};

struct EpochRecord {
  int epoch = 0;  // 1-based; epoch 0 holds the pre-training state where measured
  double lr = 0;  // LR of the first group
  double train_loss = 0;
  double train_accuracy = 0;  // classification: fraction correct; regression: 0
  double train_mae = 0;       // regression only
  double test_loss = 0;
  double test_accuracy = 0;
  double test_mae = 0;
  double validation_accuracy = 0;
  double validation_mae = 0;
  double ity = 0;         // model-level I(T;Y), nats (0 when MI is off)
  double bound = 0;       // the bound d_p divides by, nats
  double seconds = 0;     // wall time of the epoch, MI included
  double mi_seconds = 0;  // of which MI
  std::vector<GroupRecord> groups;
};

struct TrialSummary {
  TrialStatus status = TrialStatus::done;  // done | crashed (| failed, set by whoever ran it)
  bool stopped = false;  // ended early on request (TrialRuntime::should_stop); never stored
  std::string reason;    // why it crashed
  int epochs_run = 0;
  double best_test_accuracy = 0;
  double final_test_accuracy = 0;
  double best_test_mae = 0;
  double seconds = 0;
};

}  // namespace automl::trials
