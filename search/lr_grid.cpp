#include "search/lr_grid.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

namespace automl::search {
namespace {

constexpr int kDigits = 3;

// Rounds through the decimal text, so the value is exactly what "{:g}" labels print.
double round_significant(double value) {
  return std::stod(fmt::format("{:.{}g}", value, kDigits));
}

}  // namespace

std::vector<double> log_spaced_lrs(double low, double high, int count) {
  if (count == 1) return {round_significant(std::sqrt(low * high))};
  std::vector<double> lrs;
  const double step = std::log(high / low) / (count - 1);
  for (int i = 0; i < count; ++i) lrs.push_back(round_significant(low * std::exp(step * i)));
  return lrs;
}

}  // namespace automl::search
