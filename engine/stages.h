#pragma once
// The stages of an experiment and what each one plans and decides, wired to search/:
//
//   calibrate (only with a device-minutes budget) -> plan -> lrrt -> c1c2 -> mi_sgd
//                                                    plan -> baseline_search -> baseline
//
// "plan" fits the experiment to its budget (quick-mode LRRT, fewer candidates) from the
// measured seconds per epoch; every later stage reads that choice from plan's stored decision,
// so a resumed run plans exactly as the first one did. The LRRT's decision records the mode it
// ran in, and C1/C2 reads it from there: an LRRT decided on its own (Scope::lrrt, `automl
// lrrt`) is reused as it stands by a later run of the whole experiment.
#include <map>
#include <string>
#include <vector>

#include "engine/scheduler.h"
#include "experiments/experiment.h"

namespace automl::engine {

// What a run decides: the whole experiment, or only its LR range test (calibrate -> lrrt, the
// mode chosen for the budget from the LRRT's own cost).
enum class Scope { experiment, lrrt };

// How the experiment is fitted to its budget.
struct PlanChoice {
  bool lrrt_quick = false;  // quick-mode LRRT (lrrt.mode auto and the full plan does not fit)
  int c1c2_candidates = 0;
  int baseline_candidates = 0;
  double seconds_per_epoch = 0;          // device-seconds per epoch; 0 = not measured
  std::map<Stage, std::int64_t> epochs;  // per stage
  std::map<Stage, std::int64_t> jobs;    // per stage
  std::int64_t total_epochs = 0;
  double estimated_device_seconds = 0;  // 0 when seconds_per_epoch is unknown
  bool fits = true;
};

// The plan of `experiment` at `seconds_per_epoch`: the full plan when it fits the budget, else
// quick-mode LRRT (lrrt.mode auto), then fewer C1/C2 and baseline candidates (halved in turn,
// down to 2 and 3) until it fits. `fits` says whether it does in the end.
// With Scope::lrrt only calibration and the LRRT are counted.
PlanChoice choose_plan(const experiments::ExperimentConfig& experiment, double seconds_per_epoch,
                       Scope scope = Scope::experiment);

// Lines for the terminal and --dry-run: per stage jobs, epochs and estimated device-seconds,
// then the total against the budget.
std::vector<std::string> describe_plan(const experiments::ExperimentConfig& experiment,
                                       const PlanChoice& plan);

nlohmann::json plan_json(const PlanChoice& plan);
PlanChoice plan_from_json(const nlohmann::json& j);

// The calibration job: the base trial for one epoch.
search::Job calibration_job(const experiments::ExperimentConfig& experiment);

// Device-seconds per epoch measured by a finished calibration job on a slot holding
// `device_share` of its device.
double measured_seconds_per_epoch(const search::JobResult& calibration, double device_share);

// The stage graph of `experiment` for the scheduler.
std::vector<StageSpec> experiment_stages(const experiments::ExperimentConfig& experiment,
                                         double device_share, Scope scope = Scope::experiment);

}  // namespace automl::engine
