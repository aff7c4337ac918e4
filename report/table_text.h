#pragma once
// The cells of the comparison table, shared by the terminal and the HTML views so both show the
// same numbers.
#include <string>
#include <vector>

#include "report/report.h"

namespace automl::report {

// Accuracy as a percentage with 2 decimals; MAE with 4 significant digits.
std::string format_score(double value, bool regression);
std::string format_milestone(double milestone, bool regression);

std::vector<std::string> table_header(const ExperimentSummary& summary);
std::vector<std::vector<std::string>> table_rows(const ExperimentSummary& summary);
// What the numbers in the table are.
std::string measure_note(const ExperimentSummary& summary);
std::string stage_line(const ExperimentSummary& summary);
std::vector<std::string> bounds_lines(const ExperimentSummary& summary);

}  // namespace automl::report
