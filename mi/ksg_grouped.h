#pragma once
// The grouping behind the grouped KSG engine (CpuAlgo::kGrouped, docs/mi.md "Algorithms"): when
// Y falls apart into separated groups (jittered one-hot labels), the joint k nearest neighbours
// of a point lie in its own group, and ny is counted within the group. This header finds the
// groups and the exact bounds that let the engine prove it; the searches are in ksg_cpu.cpp.
#include <cstdint>
#include <string>
#include <vector>

namespace automl::mi::detail {

// A partition of the rows of Y into groups, with, per group, bounds that hold for the computed
// (rounded) max-norm Y distances: every row of another group is at least `separation` away,
// and no two rows of the group are more than `extent` apart.
struct YGroups {
  std::vector<std::int32_t> group_of;              // row -> group
  std::vector<std::vector<std::int64_t>> members;  // group -> rows, ascending
  std::vector<double> separation;
  std::vector<double> extent;
  std::string declined;  // why the grouped engine cannot run (empty when it can)
};

// Groups the rows of y [n, dy] (row-major) in O(n dy) plus O(groups^2 dy) for the bounds:
// per dimension, values are bucketed and runs of occupied buckets form 1-D clusters; a row's
// group is its tuple of cluster ids. Declines (sets `declined`, leaves the rest empty) when
// there is one group, too many, or one with k or fewer rows. The grouping is only a proposal:
// the engine's exactness rests on `separation` and `extent`, never on the grouping rule.
YGroups group_rows(const double* y, std::int64_t dy, std::int64_t n, int k);

}  // namespace automl::mi::detail

namespace automl::mi::detail {

// The grouped engine on groups from group_rows: eps[i] = k-th smallest joint distance to the
// other rows of i's group, ny[i] = rows of the group nearer than eps[i] in Y, nx[i] = rows of
// the whole input nearer than eps[i] in X. Exact when every eps[i] <= its group's separation
// (every row outside the group is then at least eps[i] away in Y, so it can neither be among
// the k nearest nor counted in ny): returns true then, and false (outputs partly written) when
// some eps[i] exceeds it, so that the caller hands the input to another engine.
bool grouped_counts(const double* x, std::int64_t dx, const double* y, std::int64_t dy,
                    std::int64_t n, int k, const YGroups& groups, int threads, double* eps,
                    std::int64_t* nx, std::int64_t* ny);

}  // namespace automl::mi::detail
