#pragma once
// Prints a typed view (report/views.h) as an aligned text table, CSV or JSON.
#include <ostream>
#include <string>

#include "report/views.h"

namespace automl::cli {

// format: table | csv | json
void print_view(const report::View& view, const std::string& format, std::ostream& out);

}  // namespace automl::cli
