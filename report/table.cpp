// print_table(): the terminal view of one experiment's comparison.
#include <fmt/format.h>

#include "report/report.h"
#include "report/table_text.h"

namespace automl::report {

std::string format_score(double value, bool regression) {
  return regression ? fmt::format("{:.4g}", value) : fmt::format("{:.2f}", 100 * value);
}

std::string format_milestone(double milestone, bool regression) {
  return regression ? fmt::format("MAE<={:g}", milestone) : fmt::format(">={:g}%", 100 * milestone);
}

std::vector<std::string> table_header(const ExperimentSummary& s) {
  std::vector<std::string> header = {"method", "runs", "best (seed)", "mean +- sd", "peak"};
  for (double m : s.milestones) header.push_back("epoch " + format_milestone(m, s.regression));
  for (const char* c : {"runs dev-s", "tuning dev-s", "total dev-s"}) header.emplace_back(c);
  return header;
}

std::vector<std::vector<std::string>> table_rows(const ExperimentSummary& s) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : s.methods) {
    std::vector<std::string> row = {
        method_title(m.method),
        m.crashed ? fmt::format("{} (+{} failed)", m.runs, m.crashed) : std::to_string(m.runs)};
    if (m.runs == 0) {
      row.insert(row.end(), {"-", "-", "-"});
    } else {
      row.push_back(fmt::format("{} ({})", format_score(m.best, s.regression), m.best_seed));
      row.push_back(m.runs < 2 ? format_score(m.mean, s.regression) + " +- n/a"
                               : fmt::format("{} +- {}", format_score(m.mean, s.regression),
                                             format_score(m.sd, s.regression)));
      row.push_back(format_score(m.peak, s.regression));
    }
    for (std::size_t i = 0; i < s.milestones.size(); ++i) {
      const bool known = i < m.milestone_epochs.size() && m.milestone_epochs[i];
      row.push_back(known ? std::to_string(*m.milestone_epochs[i]) : "-");
    }
    row.push_back(fmt::format("{:.1f}", m.run_seconds));
    row.push_back(fmt::format("{:.1f}", m.tuning_seconds));
    row.push_back(fmt::format("{:.1f}", m.total_seconds()));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string measure_note(const ExperimentSummary& s) {
  return s.regression
             ? "test MAE at the final epoch over seeds (lower is better); peak = lowest MAE of "
               "any epoch and seed; milestone epochs are the best run's"
             : "test accuracy (%) at the final epoch over seeds; peak = highest accuracy of any "
               "epoch and seed; milestone epochs are the best run's";
}

std::string stage_line(const ExperimentSummary& s) {
  std::map<std::string_view, double> by_name;  // alphabetical, as the report always listed them
  for (const auto& [stage, seconds] : s.stage_seconds) by_name[name(stage)] = seconds;
  std::string line = "device-seconds by stage:";
  for (const auto& [stage, seconds] : by_name) line += fmt::format(" {} {:.1f},", stage, seconds);
  return line + fmt::format(" total {:.1f}", s.total_seconds);
}

std::vector<std::string> bounds_lines(const ExperimentSummary& s) {
  std::vector<std::string> lines;
  if (s.lrrt_undecided)
    lines.push_back(
        fmt::format("LRRT: {} candidate runs finished, no range decided yet", s.lrrt_table.size()));
  for (const auto& b : s.lrrt_bounds)
    lines.push_back(fmt::format("LRRT ({}, {}): LR_min {:g}, LR_max {:g}, LR_top {:g}, eps {:g}{}",
                                b.scope, b.attribute, b.lr_min, b.lr_max, b.lr_top, b.eps,
                                b.warning.empty() ? "" : " (" + b.warning + ")"));
  return lines;
}

void print_table(const ExperimentSummary& s, std::ostream& out) {
  out << fmt::format("experiment {} ({})", s.experiment.name, name(s.experiment.status));
  if (!s.description.empty()) out << ": " << s.description;
  out << "\n" << measure_note(s) << "\n";
  if (!s.warning.empty()) out << "warning: " << s.warning << "\n";
  if (s.methods.empty()) {
    out << "no final runs recorded yet\n";
  } else {
    const auto header = table_header(s);
    const auto rows = table_rows(s);
    std::vector<std::size_t> width(header.size());
    for (std::size_t c = 0; c < header.size(); ++c) {
      width[c] = header[c].size();
      for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
    }
    const auto print_row = [&](const std::vector<std::string>& row) {
      for (std::size_t c = 0; c < row.size(); ++c)
        out << (c ? "  " : "") << fmt::format(c == 0 ? "{:<{}}" : "{:>{}}", row[c], width[c]);
      out << "\n";
    };
    print_row(header);
    for (const auto& row : rows) print_row(row);
  }
  out << stage_line(s) << "\n";
  for (const auto& line : bounds_lines(s)) out << line << "\n";
  out << "\n";
}

std::string lrrt_table_csv(const ExperimentSummary& s) {
  std::string csv =
      "trial,lr,crashed,min_d_s,initial_loss,final_loss,initial_ity,final_ity,initial_accuracy,"
      "final_accuracy\n";
  for (const auto& r : s.lrrt_table)
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{}\n", r.trial, r.lr, r.crashed ? 1 : 0,
                       r.min_ds, r.initial_loss, r.final_loss, r.initial_ity, r.final_ity,
                       r.initial_accuracy, r.final_accuracy);
  return csv;
}

}  // namespace automl::report
