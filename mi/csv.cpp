// Numeric CSV tables for the `automl mi` commands.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "common/error.h"
#include "common/text.h"
#include "mi/mi.h"

namespace automl::mi {
namespace {

bool parse_number(const std::string& cell, double& value) {
  if (cell.empty()) return false;
  const char* begin = cell.c_str();
  char* end = nullptr;
  errno = 0;
  value = std::strtod(begin, &end);
  if (end != begin + cell.size()) return false;
  if (errno == ERANGE && std::isinf(value)) return false;
  return std::isfinite(value);
}

}  // namespace

Table read_csv_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open the file for reading");
  Table table;
  std::string line;
  int line_no = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    std::vector<std::string> cells = split(line, ',');
    for (auto& c : cells) c = trim(c);
    if (first) {
      first = false;
      table.cols = static_cast<std::int64_t>(cells.size());
      bool has_text = false;  // a non-empty, non-numeric cell makes the first row a header
      double v;
      for (const auto& c : cells) has_text = has_text || (!c.empty() && !parse_number(c, v));
      if (has_text) {  // header row
        table.header = cells;
        continue;
      }
    }
    if (static_cast<std::int64_t>(cells.size()) != table.cols)
      throw InputError(location(path, line_no),
                       fmt::format("row has {} cells, expected {} like the first row", cells.size(),
                                   table.cols));
    for (std::size_t c = 0; c < cells.size(); ++c) {
      double v;
      if (!parse_number(cells[c], v)) {
        const std::string name =
            table.header.empty() ? "" : fmt::format(" ('{}')", table.header[c]);
        throw InputError(location(path, line_no) + fmt::format(": column {}{}", c + 1, name),
                         cells[c].empty() ? std::string("empty cell, expected a number")
                                          : fmt::format("'{}' is not a finite number", cells[c]));
      }
      table.values.push_back(v);
    }
    ++table.rows;
  }
  if (table.rows == 0)
    throw InputError(path, table.header.empty() ? "the file is empty, expected numeric rows"
                                                : "the file has a header but no data rows");
  return table;
}

at::Tensor table_tensor(const Table& table) {
  at::Tensor t = at::empty({table.rows, table.cols}, at::TensorOptions().dtype(at::kDouble));
  std::copy(table.values.begin(), table.values.end(), t.data_ptr<double>());
  return t;
}

}  // namespace automl::mi
