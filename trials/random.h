#pragma once
// Seeded randomness that is identical on every platform and LibTorch version: every random
// choice of a trial (splits, subsets, shuffles) goes through here with the trial's seed.
#include <cstdint>
#include <vector>

namespace automl::trials {

// A permutation of 0..n-1 drawn from a 64-bit Mersenne twister seeded with `seed`
// (Fisher-Yates with an explicit modulo-free draw, so the standard library's distributions,
// which differ between implementations, play no part).
std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed);

}  // namespace automl::trials
