#include "common/error.h"

#include <fmt/format.h>

namespace automl {

InputError::InputError(const std::string& where, const std::string& what)
    : std::runtime_error(where.empty() ? what : fmt::format("{}: {}", where, what)) {}

std::string location(const std::string& file, int line) {
  return line > 0 ? fmt::format("{}:{}", file, line) : file;
}

}  // namespace automl
