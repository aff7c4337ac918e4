#pragma once
// Prints a storage::Table as an aligned text table, CSV or JSON.
#include <ostream>
#include <string>

#include "storage/storage.h"

namespace automl::cli {

// format: table | csv | json
void print_table(const storage::Table& table, const std::string& format, std::ostream& out);

}  // namespace automl::cli
