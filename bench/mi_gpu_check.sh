#!/usr/bin/env bash
# GPU check of the MI module, for a machine with a CUDA LibTorch (e.g. PyTorch's bundled one)
# and nvcc. Builds only common/ + mi/ (bench/mi_only), runs the MI tests (the [cuda] test
# compares GPU and CPU neighbour counts exactly) and the benchmark with CPU and GPU rows.
# Usage: bench/mi_gpu_check.sh [build-dir]   (output also copied to $OUT when set)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-mi-gpu}
prefix=${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)}
nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
log=${OUT:-.}/mi_gpu_check.log
{
  echo "== configure (Torch prefix: ${prefix:-system}, nvcc: $nvcc)"
  cmake -S bench/mi_only -B "$build" -G Ninja ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"} \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90
  echo "== build"
  cmake --build "$build" -j "$(nproc)"
  echo "== tests"
  "$build/mi_tests" "[mi]" --durations yes
  echo "== bench"
  "$build/bench_mi" --reps 21
} 2>&1 | tee "$log"
