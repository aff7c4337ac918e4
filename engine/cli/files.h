#pragma once
// Files the commands write (reports, plots, tables) and read (templates).
#include <string>

namespace automl::cli {

// Writes `text` to `path` through a temporary file renamed into place, so that a reader never
// sees a half-written file and a full disk leaves the old one. Throws InputError naming the
// path and `what` when it cannot.
void write_file(const std::string& path, const std::string& text, const std::string& what);

// The whole of a file the user named; InputError naming it and `what` when it cannot be read.
std::string read_file(const std::string& path, const std::string& what);

}  // namespace automl::cli
