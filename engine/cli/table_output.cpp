#include "engine/cli/table_output.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace automl::cli {
namespace {

std::string csv_cell(const std::string& cell) {
  if (cell.find_first_of(",\"\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) quoted += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

void print_text(const storage::Table& t, std::ostream& out) {
  std::vector<std::size_t> width;
  for (const auto& c : t.columns) width.push_back(c.size());
  for (const auto& row : t.rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i)
      text += fmt::format("{:<{}}{}", cells[i], width[i], i + 1 < cells.size() ? "  " : "");
    out << text << "\n";
  };
  line(t.columns);
  std::vector<std::string> rule;
  for (auto w : width) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& row : t.rows) line(row);
  out << fmt::format("({} row{})\n", t.rows.size(), t.rows.size() == 1 ? "" : "s");
}

}  // namespace

void print_table(const storage::Table& t, const std::string& format, std::ostream& out) {
  if (format == "csv") {
    for (std::size_t i = 0; i < t.columns.size(); ++i)
      out << (i ? "," : "") << csv_cell(t.columns[i]);
    out << "\n";
    for (const auto& row : t.rows) {
      for (std::size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << csv_cell(row[i]);
      out << "\n";
    }
  } else if (format == "json") {
    auto rows = nlohmann::json::array();
    for (const auto& row : t.rows) {
      nlohmann::json object;
      for (std::size_t i = 0; i < row.size(); ++i) object[t.columns[i]] = row[i];
      rows.push_back(object);
    }
    out << rows.dump(2) << "\n";
  } else {
    print_text(t, out);
  }
}

}  // namespace automl::cli
