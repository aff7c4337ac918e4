// CUDA path of the KSG counts (built only with AUTOML_WITH_CUDA). No LibTorch here: raw device
// pointers in, host arrays out (mi/ksg_cuda.h).
//
// Per chunk of Q query rows:
//  1. maxabs_tiles: DX[q][j] = max_c |x_q,c - x_j,c| and DY likewise, 64x64 output tiles per
//     block, 16 dimensions staged through shared memory at a time; for large d the dimension
//     range is split over blocks (grid z) that combine with an integer atomicMax on the bit
//     patterns (valid because every value is >= 0).
//  2. select_count: one block per query row finds eps = k-th smallest max(DX, DY) over j != i
//     (per-thread sorted top-k lists, then exact tie-aware merge rounds) and counts DX < eps,
//     DY < eps.
// Distances are |a - b| and max in float64, the same operations as the CPU code, so the counts
// are identical to the CPU engines'. Memory: 2 * Q * n doubles, Q chosen from a byte budget.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "mi/jitter_hash.h"
#include "mi/ksg_cuda.h"

namespace automl::mi::detail {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("mi (CUDA): ") + what + ": " + cudaGetErrorString(e));
}

constexpr int kTile = 64;
constexpr int kDepth = 16;
constexpr int kThreads = 256;

__global__ void jitter_kernel(double* data, std::int64_t count, double amplitude,
                              std::uint64_t seed, std::uint64_t offset) {
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= count) return;
  const double u = uniform_from(seed, static_cast<std::uint64_t>(e) + offset);
  data[e] = __dadd_rn(data[e], __dmul_rn(amplitude, u));  // two roundings, never an FMA
}

// out[a][b] (row stride nb) = max over dims [z*dsplit, (z+1)*dsplit) of |A[a] - B[b]|.
__global__ void __launch_bounds__(kThreads)
    maxabs_tiles(const double* __restrict__ A, std::int64_t na, const double* __restrict__ B,
                 std::int64_t nb, std::int64_t d, std::int64_t dsplit, double* __restrict__ out,
                 bool atomic) {
  __shared__ double As[kDepth][kTile + 1];
  __shared__ double Bs[kDepth][kTile + 1];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const std::int64_t a0 = static_cast<std::int64_t>(blockIdx.y) * kTile;
  const std::int64_t b0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
  const std::int64_t k_begin = static_cast<std::int64_t>(blockIdx.z) * dsplit;
  const std::int64_t k_end = k_begin + dsplit < d ? k_begin + dsplit : d;
  double acc[4][4];
#pragma unroll
  for (int u = 0; u < 4; ++u)
#pragma unroll
    for (int v = 0; v < 4; ++v) acc[u][v] = 0.0;
  for (std::int64_t k0 = k_begin; k0 < k_end; k0 += kDepth) {
    for (int e = threadIdx.x; e < kTile * kDepth; e += kThreads) {
      const int r = e / kDepth, kk = e % kDepth;
      const std::int64_t kd = k0 + kk;
      const bool in_k = kd < k_end;
      As[kk][r] = (in_k && a0 + r < na) ? A[(a0 + r) * d + kd] : 0.0;
      Bs[kk][r] = (in_k && b0 + r < nb) ? B[(b0 + r) * d + kd] : 0.0;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kDepth; ++kk) {
      double a[4], b[4];
#pragma unroll
      for (int u = 0; u < 4; ++u) a[u] = As[kk][ty + 16 * u];
#pragma unroll
      for (int v = 0; v < 4; ++v) b[v] = Bs[kk][tx + 16 * v];
#pragma unroll
      for (int u = 0; u < 4; ++u)
#pragma unroll
        for (int v = 0; v < 4; ++v) acc[u][v] = fmax(acc[u][v], fabs(a[u] - b[v]));
    }
    __syncthreads();
  }
#pragma unroll
  for (int u = 0; u < 4; ++u) {
    const std::int64_t row = a0 + ty + 16 * u;
    if (row >= na) continue;
#pragma unroll
    for (int v = 0; v < 4; ++v) {
      const std::int64_t col = b0 + tx + 16 * v;
      if (col >= nb) continue;
      double* p = out + row * nb + col;
      if (atomic) {
        atomicMax(reinterpret_cast<unsigned long long*>(p),
                  static_cast<unsigned long long>(__double_as_longlong(acc[u][v])));
      } else {
        *p = acc[u][v];
      }
    }
  }
}

__device__ double block_min(double v, double* shared) {
  for (int o = 16; o > 0; o /= 2) v = fmin(v, __shfl_down_sync(0xffffffffu, v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? shared[lane] : INFINITY;
    for (int o = 16; o > 0; o /= 2) v = fmin(v, __shfl_down_sync(0xffffffffu, v, o));
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

__device__ long long block_sum(long long v, long long* shared) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x / 32) ? shared[lane] : 0;
    for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

template <int KMAX>
__global__ void __launch_bounds__(kThreads)
    select_count(const double* __restrict__ DX, const double* __restrict__ DY, std::int64_t n,
                 std::int64_t q0, int k, double* eps, long long* nx, long long* ny) {
  __shared__ double s_min[32];
  __shared__ long long s_sum[32];
  const std::int64_t r = blockIdx.x, i = q0 + r;
  const double* dx = DX + r * n;
  const double* dy = DY + r * n;
  double best[KMAX];
  int cnt = 0;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    if (j == i) continue;
    const double v = fmax(dx[j], dy[j]);
    if (cnt == k && !(v < best[k - 1])) continue;
    int pos = cnt < k ? cnt++ : k - 1;
    while (pos > 0 && best[pos - 1] > v) {
      best[pos] = best[pos - 1];
      --pos;
    }
    best[pos] = v;
  }
  // Merge: each round takes the smallest head over all threads and pops every head equal to it;
  // the value at which k values have been popped is the k-th smallest (ties included).
  int head = 0;
  long long total = 0;
  double e = INFINITY;
  for (int round = 0; round < k; ++round) {
    const double h = head < cnt ? best[head] : INFINITY;
    const double m = block_min(h, s_min);
    const long long c = (head < cnt && h == m) ? 1 : 0;
    head += static_cast<int>(c);
    total += block_sum(c, s_sum);
    if (total >= k) {
      e = m;
      break;
    }
  }
  long long cx = 0, cy = 0;
  for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    if (j == i) continue;
    cx += dx[j] < e ? 1 : 0;
    cy += dy[j] < e ? 1 : 0;
  }
  cx = block_sum(cx, s_sum);
  cy = block_sum(cy, s_sum);
  if (threadIdx.x == 0) {
    eps[i] = e;
    nx[i] = cx;
    ny[i] = cy;
  }
}

// Device buffers kept between calls (cudaMalloc is slow next to a millisecond estimate).
struct Workspace {
  void* ptr = nullptr;
  std::size_t bytes = 0;
};
std::mutex g_mutex;
std::vector<Workspace> g_workspaces;

void* workspace(int device, std::size_t bytes) {
  if (static_cast<int>(g_workspaces.size()) <= device) g_workspaces.resize(device + 1);
  Workspace& w = g_workspaces[device];
  if (w.bytes < bytes) {
    if (w.ptr != nullptr) check(cudaFree(w.ptr), "cudaFree");
    w.ptr = nullptr;
    w.bytes = 0;
    check(cudaMalloc(&w.ptr, bytes), "cudaMalloc (MI workspace)");
    w.bytes = bytes;
  }
  return w.ptr;
}

void launch_distances(const double* A, std::int64_t na, const double* B, std::int64_t nb,
                      std::int64_t d, double* out, int sms, cudaStream_t stream) {
  const std::int64_t tiles_b = (nb + kTile - 1) / kTile, tiles_a = (na + kTile - 1) / kTile;
  const std::int64_t tiles = tiles_a * tiles_b;
  std::int64_t splits = 1;
  if (d > 256) {  // split the dimensions when the tile grid alone cannot fill the device
    splits = std::max<std::int64_t>(1, (4LL * sms + tiles - 1) / tiles);
    splits = std::min<std::int64_t>(splits, (d + 127) / 128);
  }
  std::int64_t dsplit = (d + splits - 1) / splits;
  dsplit = (dsplit + kDepth - 1) / kDepth * kDepth;
  splits = (d + dsplit - 1) / dsplit;
  const bool atomic = splits > 1;
  if (atomic) check(cudaMemsetAsync(out, 0, sizeof(double) * na * nb, stream), "cudaMemset");
  const dim3 grid(static_cast<unsigned>(tiles_b), static_cast<unsigned>(tiles_a),
                  static_cast<unsigned>(splits));
  maxabs_tiles<<<grid, kThreads, 0, stream>>>(A, na, B, nb, d, dsplit, out, atomic);
  check(cudaGetLastError(), "maxabs_tiles launch");
}

template <int KMAX>
void launch_select(const double* DX, const double* DY, std::int64_t n, std::int64_t q0,
                   std::int64_t rows, int k, double* eps, long long* nx, long long* ny,
                   cudaStream_t stream) {
  select_count<KMAX>
      <<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(DX, DY, n, q0, k, eps, nx, ny);
  check(cudaGetLastError(), "select_count launch");
}

}  // namespace

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

void cuda_add_jitter(int device, double* d_data, std::int64_t count, double amplitude,
                     std::uint64_t seed, std::uint64_t offset, void* stream) {
  if (count <= 0) return;
  check(cudaSetDevice(device), "cudaSetDevice");
  const std::int64_t blocks = (count + kThreads - 1) / kThreads;
  jitter_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      d_data, count, amplitude, seed, offset);
  check(cudaGetLastError(), "jitter launch");
}

void cuda_ksg_counts(int device, const double* d_x, std::int64_t dx, const double* d_y,
                     std::int64_t dy, std::int64_t n, int k, double* eps, std::int64_t* nx,
                     std::int64_t* ny, void* stream_ptr, std::int64_t budget_bytes) {
  if (k < 1 || n <= k) throw std::invalid_argument("mi (CUDA): need 1 <= k < n");
  if (k > 64) throw std::invalid_argument("mi (CUDA): k > 64 is not supported on the GPU");
  std::lock_guard<std::mutex> lock(g_mutex);
  check(cudaSetDevice(device), "cudaSetDevice");
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  int sms = 1;
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "SM count");
  std::int64_t q = std::max<std::int64_t>(1, budget_bytes / (2 * 8 * n));
  if (q >= kTile) q = q / kTile * kTile;
  q = std::min(q, n);
  const std::size_t dist_bytes = sizeof(double) * static_cast<std::size_t>(q * n);
  const std::size_t out_bytes = (sizeof(double) + 2 * sizeof(long long)) * n;
  char* base = static_cast<char*>(workspace(device, 2 * dist_bytes + out_bytes + 256));
  double* DX = reinterpret_cast<double*>(base);
  double* DY = reinterpret_cast<double*>(base + dist_bytes);
  double* d_eps = reinterpret_cast<double*>(base + 2 * dist_bytes);
  auto* d_nx = reinterpret_cast<long long*>(d_eps + n);
  auto* d_ny = d_nx + n;
  for (std::int64_t q0 = 0; q0 < n; q0 += q) {
    const std::int64_t rows = std::min(q, n - q0);
    launch_distances(d_x + q0 * dx, rows, d_x, n, dx, DX, sms, stream);
    launch_distances(d_y + q0 * dy, rows, d_y, n, dy, DY, sms, stream);
    if (k <= 4)
      launch_select<4>(DX, DY, n, q0, rows, k, d_eps, d_nx, d_ny, stream);
    else if (k <= 16)
      launch_select<16>(DX, DY, n, q0, rows, k, d_eps, d_nx, d_ny, stream);
    else
      launch_select<64>(DX, DY, n, q0, rows, k, d_eps, d_nx, d_ny, stream);
  }
  static_assert(sizeof(long long) == sizeof(std::int64_t), "count type");
  check(cudaMemcpyAsync(eps, d_eps, sizeof(double) * n, cudaMemcpyDeviceToHost, stream),
        "copy eps");
  check(cudaMemcpyAsync(nx, d_nx, sizeof(long long) * n, cudaMemcpyDeviceToHost, stream),
        "copy nx");
  check(cudaMemcpyAsync(ny, d_ny, sizeof(long long) * n, cudaMemcpyDeviceToHost, stream),
        "copy ny");
  // Also keeps the workspace busy until the kernels are done (the lock is held until then).
  check(cudaStreamSynchronize(stream), "MI kernels");
}

}  // namespace automl::mi::detail
