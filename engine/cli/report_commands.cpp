// `automl report`: the comparison table per experiment on the terminal, and optionally an HTML
// page with SVG plots. Reads the database only.
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "engine/cli/commands.h"
#include "engine/cli/files.h"
#include "report/report.h"
#include "storage/storage.h"

namespace automl::cli {
namespace {

struct ReportArgs {
  std::string database = "automl.db";
  std::string experiment;
  std::string html;
  std::vector<double> milestones;
  std::vector<std::string> mi_curves;
};

std::vector<storage::ExperimentRow> chosen_experiments(storage::Storage& db,
                                                       const std::string& name) {
  if (name.empty()) return db.experiments();
  const auto found = db.find_experiment(name);
  if (!found) throw InputError("--experiment", fmt::format("no experiment named '{}'", name));
  return {*found};
}

void run_report(const ReportArgs& a) {
  if (!storage::is_postgres_url(a.database) && !std::filesystem::exists(a.database))
    throw InputError(a.database, "no such database");
  const auto db = storage::open_storage(a.database, storage::Access::read_only);
  report::ReportOptions options;
  if (!a.milestones.empty()) options.milestones = a.milestones;
  options.mi_curve_files = a.mi_curves;
  std::vector<report::ExperimentSummary> summaries;
  for (const auto& experiment : chosen_experiments(*db, a.experiment)) {
    summaries.push_back(report::summarize(*db, experiment, options));
    report::print_table(summaries.back(), std::cout);
  }
  if (summaries.empty()) std::cout << "the database holds no experiments\n";
  if (a.html.empty()) return;
  write_file(a.html, report::html_report(summaries, options), "the HTML report");
  std::cout << "HTML report written to " << a.html << "\n";
}

}  // namespace

void add_report_commands(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  auto* report = app.add_subcommand(
      "report",
      "Compare the methods of each experiment: best of the seeds, mean +- sd, epochs to the "
      "milestones, device-seconds including all tuning; --html adds plots");
  report->add_option("--db", a->database, "SQLite file or postgresql:// URL to read")
      ->capture_default_str();
  report->add_option("--experiment", a->experiment, "Only this experiment (default: all)");
  report->add_option("--html", a->html, "Also write an HTML page with SVG plots to this file");
  report
      ->add_option("--milestones", a->milestones,
                   "Accuracy fractions (or MAE values) to time, comma-separated; default: the "
                   "experiment's report.milestones")
      ->delimiter(',');
  report
      ->add_option("--mi-curve", a->mi_curves,
                   "CSV written by `automl mi-curve`, plotted as Figure 1 (repeatable)")
      ->check(CLI::ExistingFile);
  report->callback([a] { run_report(*a); });
}

}  // namespace automl::cli
