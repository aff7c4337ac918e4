#pragma once
// `automl report`: the comparison an experiment produced, read from the trial database through
// the Storage interface only (the report never writes). summarize() gathers the numbers;
// print_table() shows them on the terminal; html_report() draws them as inline SVG plots.
//
// Measures (docs/experiments.md, "The report"):
// - a run's score is its final-epoch test accuracy (classification) or test MAE (regression);
//   "best" is the best run over the seeds, "mean +- sd" the mean and sample standard deviation;
// - "peak" is the highest per-epoch test accuracy of any seed (lowest MAE), the paper's figure;
// - milestone epochs are those of the best run: the first epoch whose test accuracy is >= the
//   milestone (test MAE <= the milestone);
// - device-seconds of a method = its final runs + its own tuning: MI-SGD (model- and layer-wise)
//   both carry the whole LRRT and C1/C2 search; a baseline carries its LR search.
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "storage/storage.h"

namespace automl::report {

// One final run (one method, one seed).
struct Run {
  Method method = Method::mi_sgd;
  std::uint64_t seed = 0;
  std::int64_t trial_id = 0;
  TrialStatus status = TrialStatus::done;
  double score = 0;  // final test accuracy, or final test MAE
  double peak = 0;   // best per-epoch test accuracy, or lowest test MAE
  double device_seconds = 0;
  std::vector<int> epochs;                              // 1-based epochs with a record
  std::vector<double> test, train, lr, seconds;         // per epoch; test/train = accuracy or MAE
  std::vector<double> ity;                              // model-level I(T;Y) per epoch, nats
  std::map<std::string, std::vector<double>> group_lr;  // per layer (layer-wise runs)
};

struct MethodSummary {
  Method method = Method::mi_sgd;
  int runs = 0;     // finished runs that count
  int crashed = 0;  // final runs that crashed or failed
  double best = 0, mean = 0, sd = 0;
  std::uint64_t best_seed = 0;
  double peak = 0;
  std::vector<std::optional<int>> milestone_epochs;  // one per milestone, for the best run
  double run_seconds = 0;                            // device-seconds of its final runs
  double tuning_seconds = 0;  // device-seconds of the searches that chose its LR(s)
  double total_seconds() const { return run_seconds + tuning_seconds; }
};

struct ExperimentSummary {
  storage::ExperimentRow experiment;
  std::string description;
  std::string warning;  // what the report had to assume (empty when nothing)
  bool regression = false;
  std::vector<double> milestones;
  std::vector<MethodSummary> methods;  // in a fixed order: MI-SGD first, then the baselines
  std::vector<Run> runs;
  std::map<Stage, double> stage_seconds;     // device-seconds per stage
  double total_seconds = 0;                  // every trial of the experiment
  std::vector<storage::LrrtRow> lrrt_table;  // table D; while the LRRT is undecided, rebuilt
  bool lrrt_undecided = false;               // from its finished trials' epochs
  std::vector<storage::LrrtBoundsRow> lrrt_bounds;
  std::string lrrt_attribute;          // the attribute the LRRT ranked by
  std::vector<storage::C1C2Row> c1c2;  // the C1/C2 candidates of every scored round
};

struct ReportOptions {
  std::optional<std::vector<double>> milestones;  // overrides the experiment's report.milestones
  std::vector<std::string> mi_curve_files;        // CSV from `automl mi-curve` (Figure 1)
};

ExperimentSummary summarize(storage::Storage& storage, const storage::ExperimentRow& experiment,
                            const ReportOptions& options = {});

// The terminal table of one experiment.
void print_table(const ExperimentSummary& summary, std::ostream& out);

// A self-contained HTML page with the tables and SVG plots of every summary.
std::string html_report(const std::vector<ExperimentSummary>& summaries,
                        const ReportOptions& options = {});

// The parts of html_report(), shared with `automl serve`'s dashboard so that both draw the same
// tables and plots: the page's style sheet, and one experiment's section (comparison table,
// stage costs, LRRT bounds, every plot).
std::string html_style();
std::string experiment_html(const ExperimentSummary& summary);

// One trial's page (the dashboard's trial view): its epochs as a table, and per parameter group
// its LR (log axis), ITY, d_p and d_s per epoch and the MI policy's decision.
std::string trial_html(storage::Storage& storage, const storage::TrialRow& trial);

// `automl lrrt`'s files: the LRRT figure of `summary` (final attribute per LR, the range shaded)
// as a standalone SVG file, and table D as CSV, one row per (trial, LR).
std::string lrrt_svg(const ExperimentSummary& summary);
std::string lrrt_table_csv(const ExperimentSummary& summary);

// Smith's one-run LR sweep (`automl lrrt --method smith`): the batch and smoothed losses
// against the LR on a log axis, the suggested LR marked when there is one.
std::string lr_sweep_svg(const std::vector<double>& lrs, const std::vector<double>& losses,
                         const std::vector<double>& smoothed, std::optional<double> suggestion);

// Mean and sample standard deviation (n - 1; 0 for fewer than 2 values).
std::pair<double, double> mean_sd(const std::vector<double>& values);

// Display name of a method (mi_sgd_layerwise -> "MI-SGD layer-wise").
std::string method_title(Method method);

}  // namespace automl::report
