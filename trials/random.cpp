#include "trials/random.h"

#include <numeric>
#include <random>

namespace automl::trials {

std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 engine(seed);
  for (std::int64_t i = n - 1; i > 0; --i) {
    // Lemire-style bounded draw via 128-bit multiply: unbiased enough for shuffling and portable.
    const auto j = static_cast<std::int64_t>(
        (static_cast<unsigned __int128>(engine()) * static_cast<std::uint64_t>(i + 1)) >> 64);
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

}  // namespace automl::trials
