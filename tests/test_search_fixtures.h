#pragma once
// Fabricated job results for the search tests: epoch records whose values the tests choose, so
// that table D and the bounds can be computed by hand.
#include <string>
#include <vector>

#include "search/lrrt.h"
#include "search/plan.h"

namespace automl::test {

// One LRRT job's story over epochs 0..3. ITY runs ity0 (epoch 0), 1.0 (epoch 1),
// 1 / (1 - d) (epoch 2), final_ity (epoch 3), so that
//   d_s(2) = (1.0 - ity0) / 1.0 and d_s(3) = (ITY_2 - 1) / ITY_2 = d,
// and min(d_s) = min(1 - ity0, d). Training accuracy runs initial_accuracy, then halfway, then
// final_accuracy at epochs 2 and 3; the loss falls from 2.3.
struct Story {
  double final_accuracy = 0.5;
  double d = 0.2;
  double final_ity = 1.5;
  double ity0 = 0.5;
  double initial_accuracy = 0.1;
  double initial_mae = 0, final_mae = 0;
};

inline std::vector<trials::EpochRecord> story_records(const Story& s) {
  std::vector<trials::EpochRecord> records(4);
  const double ity[] = {s.ity0, 1.0, 1.0 / (1.0 - s.d), s.final_ity};
  const double accuracy[] = {s.initial_accuracy, (s.initial_accuracy + s.final_accuracy) / 2,
                             s.final_accuracy, s.final_accuracy};
  for (int e = 0; e < 4; ++e) {
    auto& r = records[static_cast<std::size_t>(e)];
    r.epoch = e;
    r.ity = ity[e];
    r.train_accuracy = accuracy[e];
    r.train_loss = 2.3 - 0.5 * e;
    r.train_mae = e == 0 ? s.initial_mae : s.final_mae;
    r.lr = 0.1;
  }
  return records;
}

inline search::JobResult done(const std::string& label, const Story& story) {
  search::JobResult result;
  result.label = label;
  result.status = TrialStatus::done;
  result.epochs = story_records(story);
  result.summary.epochs_run = 3;
  return result;
}

// A crashed job: it reported epoch 0 and a first epoch, then its loss went non-finite.
inline search::JobResult crashed(const std::string& label) {
  search::JobResult result;
  result.label = label;
  result.status = TrialStatus::crashed;
  result.epochs = story_records(Story{});
  result.epochs.resize(2);
  result.summary.status = TrialStatus::crashed;
  result.summary.epochs_run = 1;
  return result;
}

// A job that ran `epochs` epochs and ended with this validation accuracy (and MAE).
inline search::JobResult validated(const std::string& label, int epochs, double accuracy,
                                   double mae = 0) {
  search::JobResult result;
  result.label = label;
  result.status = TrialStatus::done;
  for (int e = 1; e <= epochs; ++e) {
    trials::EpochRecord r;
    r.epoch = e;
    r.validation_accuracy = e == epochs ? accuracy : accuracy / 2;
    r.validation_mae = e == epochs ? mae : mae * 2;
    result.epochs.push_back(r);
  }
  result.summary.epochs_run = epochs;
  return result;
}

// Two trials, five LRs, all complete. Final training accuracy per (trial 1, trial 2), mean:
//   0.001: 0.12, 0.14 -> 0.13    d1n = 0.13 - 0.1 = 0.03   dnn = 0.85 - 0.13 = 0.72
//   0.01:  0.50, 0.60 -> 0.55    d1n = 0.45                dnn = 0.30
//   0.1:   0.80, 0.90 -> 0.85    d1n = 0.75                dnn = 0      <- MAXVAL
//   1:     0.80, 0.82 -> 0.81    d1n = 0.71                dnn = 0.04
//   3:     0.30, 0.20 -> 0.25    d1n = 0.15                dnn = 0.60
// Thresh = 0.85 / 10 = 0.085. LR_top = 0.1. LR_min = 0.01 (0.001's d1n 0.03 < 0.085).
// LR_max = 1 (dnn 0.04 < 0.085; above it only 3 with 0.6 >= 0.085).
// min(d_s) = min(0.5, d) = d per row: trial 1: 0.1 0.2 0.3 0.4 0.05, trial 2: 0.15 0.25 0.35
// -0.1 0.5; sorted -0.1 0.05 0.1 0.15 0.2 | 0.25 0.3 0.35 0.4 0.5, median (0.2 + 0.25) / 2 =
// 0.225 = eps with C2 = 1.
inline std::vector<search::JobResult> plain_sweep_results() {
  const double acc[2][5] = {{0.12, 0.50, 0.80, 0.80, 0.30}, {0.14, 0.60, 0.90, 0.82, 0.20}};
  const double d[2][5] = {{0.1, 0.2, 0.3, 0.4, 0.05}, {0.15, 0.25, 0.35, -0.1, 0.5}};
  const double lrs[5] = {0.001, 0.01, 0.1, 1, 3};
  std::vector<search::JobResult> results;
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < 5; ++i) {
      Story story;
      story.final_accuracy = acc[t][i];
      story.d = d[t][i];
      results.push_back(done(search::lrrt_label(t + 1, lrs[i]), story));
    }
  return results;
}

}  // namespace automl::test
