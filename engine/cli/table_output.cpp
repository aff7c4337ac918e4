#include "engine/cli/table_output.h"

#include <fmt/format.h>

#include <algorithm>

namespace automl::cli {
namespace {

void print_text(const report::View& view, std::ostream& out) {
  const auto rows = report::view_text_cells(view);
  std::vector<std::size_t> width;
  for (const auto& c : view.columns) width.push_back(c.name.size());
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i)
      text += fmt::format("{:<{}}{}", cells[i], width[i], i + 1 < cells.size() ? "  " : "");
    out << text << "\n";
  };
  std::vector<std::string> header;
  for (const auto& c : view.columns) header.push_back(c.name);
  line(header);
  std::vector<std::string> rule;
  for (auto w : width) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& row : rows) line(row);
  out << fmt::format("({} row{})\n", rows.size(), rows.size() == 1 ? "" : "s");
}

}  // namespace

void print_view(const report::View& view, const std::string& format, std::ostream& out) {
  if (format == "csv")
    out << report::view_csv(view);
  else if (format == "json")
    out << report::view_json(view, 2) << "\n";
  else
    print_text(view, out);
}

}  // namespace automl::cli
