#pragma once
// Raw-pointer interface of the CUDA kernels (mi/ksg_cuda.cu, built only with AUTOML_WITH_CUDA).
// Pointers named d_* are device pointers on `device`; outputs are host arrays of n entries.
#include <cstdint>

namespace automl::mi::detail {

int cuda_device_count();

// `stream` is a cudaStream_t (the caller's current LibTorch stream; nullptr = the legacy default
// stream): every kernel and copy is ordered on it, so no device-wide synchronisation is needed.

// data[e] += amplitude * uniform_from(seed, e + offset) for e in [0, count), in place.
void cuda_add_jitter(int device, double* d_data, std::int64_t count, double amplitude,
                     std::uint64_t seed, std::uint64_t offset, void* stream = nullptr);

// Same quantities as ksg_counts_cpu (mi/ksg_cpu.h) on device-resident row-major float64 input.
// Works in chunks of query rows so device memory stays bounded (about `budget_bytes` of
// distance buffers, kept between calls).
void cuda_ksg_counts(int device, const double* d_x, std::int64_t dx, const double* d_y,
                     std::int64_t dy, std::int64_t n, int k, double* eps, std::int64_t* nx,
                     std::int64_t* ny, void* stream = nullptr,
                     std::int64_t budget_bytes = std::int64_t{256} << 20);

}  // namespace automl::mi::detail
