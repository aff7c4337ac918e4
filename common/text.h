#pragma once
// Small text helpers for user-facing messages.
#include <string>
#include <vector>

namespace automl {

// Levenshtein distance between a and b.
std::size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `word`, or "" when none is close enough to be a plausible typo.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

// Splits `line` on `sep` (no quoting rules beyond trimming spaces around cells).
std::vector<std::string> split(const std::string& line, char sep);

std::string trim(const std::string& s);

}  // namespace automl
