#pragma once
// HTML pieces shared by the report's pages (report/html.cpp, report/trial_html.cpp).
#include <string>
#include <vector>

namespace automl::report {

// A <table> of escaped cells; `css_class` names it for style sheets and tests.
std::string html_table(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows,
                       const std::string& css_class = "");

}  // namespace automl::report
