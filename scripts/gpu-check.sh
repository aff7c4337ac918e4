#!/usr/bin/env bash
# Everything this project measures on a GPU machine, in one go (see docs/RESULTS.md):
#   build against PyTorch's CUDA LibTorch, MI tests ([cuda] compares GPU and CPU counts),
#   bench_mi, bench_train vs bench/train_lenet.py, bench_gpu_share, then a short full-data
#   experiment and its report. Logs go to $OUT (default ./gpu-out).
# The machine needs python3 with a CUDA PyTorch, nvcc, CMake and ninja. Debian's -dev packages
# that such a machine lacks travel as .deb files in .gpu/debs (extracted to /opt/deps), the
# Fashion-MNIST files in .gpu/fashion-mnist.
#   usage: bash scripts/gpu-check.sh [experiment-seconds]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
experiment_seconds=${1:-150}
step() { echo "== $(date +%T) $*"; }

step deps
mkdir -p /opt/deps /usr/share/datasets/fashion-mnist
for f in .gpu/debs/*.deb; do dpkg -x "$f" /opt/deps; done
cp -n .gpu/fashion-mnist/*.gz /usr/share/datasets/fashion-mnist/ 2>/dev/null || true
libdir=/opt/deps/usr/lib/x86_64-linux-gnu
# zlib's runtime is the machine's own: point the carried dev symlink at it.
system_libz=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
[[ -n "$system_libz" ]] && ln -sf "$system_libz" "$libdir/libz.so"
torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

step configure
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;/opt/deps/usr" -DCMAKE_LIBRARY_PATH="$libdir" \
  -DCMAKE_INCLUDE_PATH=/opt/deps/usr/include -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
  -DCMAKE_CUDA_ARCHITECTURES=90 >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
grep "automl:" "$OUT/configure.log"

step build
time cmake --build build-gpu -j "$(nproc)" -- -k 0 >"$OUT/build.log" 2>&1 ||
  { grep -E "error|FAILED" "$OUT/build.log" | head -30; }
b=build-gpu

step "mi tests"
timeout 60 $b/tests/automl_tests "[mi]" 2>&1 | tail -5
timeout 60 $b/tests/automl_tests "[cuda]" -s 2>&1 | grep -E "count|agree|passed|failed|cases" | tail -8

step bench_mi
timeout 90 $b/bench/bench_mi --reps 11 2>&1 | tee "$OUT/bench_mi.txt"

step "bench_train (C++) vs train_lenet.py (Python)"
timeout 60 $b/bench/bench_train --device cuda --epochs 5 --batch 256 2>&1 | tee "$OUT/bench_train.txt"
timeout 60 python3 bench/train_lenet.py --device cuda --epochs 5 --batch 256 2>&1 | tee -a "$OUT/bench_train.txt"

step bench_gpu_share
timeout 90 $b/bench/bench_gpu_share --device cuda --epochs 6 --n 1,4,8 2>&1 | tee "$OUT/bench_gpu_share.txt"

step "experiment (at most ${experiment_seconds}s)"
export PATH=$PWD/$b:$PATH
timeout "$experiment_seconds" automl run experiments/fashion-mnist-gpu-short.yaml 2>&1 |
  grep -vE "^\s+(trial|running)" | tail -40
automl report --db runs/fashion-mnist-gpu-short.db --html "$OUT/report.html" 2>&1 | tee "$OUT/report.txt"
cp runs/fashion-mnist-gpu-short.db "$OUT/" 2>/dev/null
step done
