#pragma once
// Counter-based uniform generator behind the seeded jitter (SPEC.md 1). Shared by the CPU code
// and the CUDA kernels so both add bit-identical noise: u(seed, index) in [0, 1) from the top 53
// bits of splitmix64, and x' = x + amplitude * u with two correctly rounded operations (no FMA).
#include <cstdint>

#if defined(__CUDACC__)
#define AUTOML_MI_HD __host__ __device__
#else
#define AUTOML_MI_HD
#endif

namespace automl::mi::detail {

AUTOML_MI_HD inline std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

AUTOML_MI_HD inline double uniform_from(std::uint64_t seed, std::uint64_t index) {
  const std::uint64_t key = splitmix64(seed);
  const std::uint64_t bits = splitmix64(key ^ (index * 0xD1B54A32D192ED03ULL));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

}  // namespace automl::mi::detail
