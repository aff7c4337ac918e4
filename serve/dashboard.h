#pragma once
// The dashboard's one HTML page, built into the binary (no external resources): its script
// reads the route from the address, polls /api/version and refetches only when it changed.
#include <string>

namespace automl::serve {

const std::string& dashboard_page();

}  // namespace automl::serve
