#include "common/vocabulary.h"

#include <fmt/format.h>

#include <stdexcept>

namespace automl {

void throw_unknown_name(std::string_view kind, std::string_view text,
                        const std::vector<std::string>& accepted) {
  throw std::invalid_argument(
      fmt::format("unknown {} '{}' (expected one of: {})", kind, text, fmt::join(accepted, ", ")));
}

}  // namespace automl
