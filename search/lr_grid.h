#pragma once
// The LR grids the searches try (the LR range test's candidates, the baselines' LR searches):
// log-spaced and rounded to 3 significant digits, so that labels ("lr=0.00316") stay short.
#include <vector>

namespace automl::search {

// `count` LRs from `low` to `high` (both included), evenly spaced in log, each rounded to 3
// significant digits; count = 1 gives the geometric mean. Neighbours may round to the same
// value: the caller decides whether that is an error or a duplicate to drop.
std::vector<double> log_spaced_lrs(double low, double high, int count);

}  // namespace automl::search
