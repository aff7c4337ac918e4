// Numeric CSV tables for the `automl mi` commands.
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "common/error.h"
#include "common/text.h"
#include "mi/mi.h"

namespace automl::mi {
namespace {

constexpr const char* kSpace = " \t\r\n";  // what common/text's trim() strips

std::string_view trim_view(std::string_view s) {
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// The cells of `line` split at commas, trimmed: views into `line` (no allocation per cell, which
// was most of the time for a 50,000-row table).
void split_cells(std::string_view line, std::vector<std::string_view>& cells) {
  cells.clear();
  for (std::size_t start = 0;;) {
    const std::size_t end = line.find(',', start);
    cells.push_back(
        trim_view(line.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) return;
    start = end + 1;
  }
}

// A finite number filling the whole cell. std::from_chars (correctly rounded, like glibc's
// strtod, and several times faster on 17-digit numbers) reads the usual cells; what it does not
// take, strtod does: a leading '+', hexadecimal floats, values beyond its range. Both round
// correctly, so the value is the same either way. For strtod: the cell lies in a NUL-terminated
// line and ends at a comma, a space or the line's end, none of which strtod takes into a number,
// so it stops at the cell's end exactly when the whole cell is a number.
bool parse_number(std::string_view cell, double& value) {
  if (cell.empty()) return false;
  const char* last = cell.data() + cell.size();
  const auto [ptr, ec] = std::from_chars(cell.data(), last, value);
  if (ec == std::errc() && ptr == last) return std::isfinite(value);
  char* end = nullptr;
  errno = 0;
  value = std::strtod(cell.data(), &end);
  if (end != last) return false;
  if (errno == ERANGE && std::isinf(value)) return false;
  return std::isfinite(value);
}

// "file:line: column c ('name')" for a cell's error.
std::string cell_location(const std::string& path, int line_no, std::size_t column,
                          const std::vector<std::string>& header) {
  const std::string name = header.empty() ? "" : fmt::format(" ('{}')", header[column]);
  return location(path, line_no) + fmt::format(": column {}{}", column + 1, name);
}

}  // namespace

Table read_csv_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot open the file for reading");
  Table table;
  std::string line;
  std::vector<std::string_view> cells;
  int line_no = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim_view(line).empty()) continue;
    split_cells(line, cells);
    if (first) {
      first = false;
      table.cols = static_cast<std::int64_t>(cells.size());
      bool has_text = false;  // a non-empty, non-numeric cell makes the first row a header
      double v;
      for (const auto c : cells) has_text = has_text || (!c.empty() && !parse_number(c, v));
      if (has_text) {  // header row
        table.header.assign(cells.begin(), cells.end());
        continue;
      }
    }
    if (static_cast<std::int64_t>(cells.size()) != table.cols)
      throw InputError(location(path, line_no),
                       fmt::format("row has {} cells, expected {} like the first row", cells.size(),
                                   table.cols));
    for (std::size_t c = 0; c < cells.size(); ++c) {
      double v;
      if (!parse_number(cells[c], v))
        throw InputError(cell_location(path, line_no, c, table.header),
                         cells[c].empty() ? std::string("empty cell, expected a number")
                                          : fmt::format("'{}' is not a finite number", cells[c]));
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
