#pragma once
// Request targets: "/path?key=value&..." split and percent-decoded, strictly.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace automl::serve {

using Query = std::map<std::string, std::string>;

struct Target {
  std::string path;
  Query query;
};

// nullopt for a target that is not an absolute path, holds a bad %-escape, a control character
// or a parameter given twice.
std::optional<Target> parse_target(std::string_view target);

// A positive decimal integer of at most 18 digits; nullopt for anything else ("1e3", "+1", "").
std::optional<std::int64_t> parse_id(std::string_view text);

}  // namespace automl::serve
