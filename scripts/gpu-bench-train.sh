#!/usr/bin/env bash
# The training-throughput check alone on a GPU machine (a subset of scripts/gpu-check.sh):
# builds bench_train against PyTorch's CUDA LibTorch and compares it with bench/train_lenet.py.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT" /opt/deps /usr/share/datasets/fashion-mnist
for f in .gpu/debs/*.deb; do dpkg -x "$f" /opt/deps; done
cp -n .gpu/fashion-mnist/*.gz /usr/share/datasets/fashion-mnist/ 2>/dev/null || true
libdir=/opt/deps/usr/lib/x86_64-linux-gnu
system_libz=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
[[ -n "$system_libz" ]] && ln -sf "$system_libz" "$libdir/libz.so"
torch_prefix=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DAUTOML_BUILD_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$torch_prefix;/opt/deps/usr" -DCMAKE_LIBRARY_PATH="$libdir" \
  -DCMAKE_INCLUDE_PATH=/opt/deps/usr/include -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc \
  -DCMAKE_CUDA_ARCHITECTURES=90 >"$OUT/configure.log" 2>&1 || { tail -20 "$OUT/configure.log"; exit 1; }
time cmake --build build-gpu -j "$(nproc)" --target bench_train >"$OUT/build.log" 2>&1 ||
  { grep -E "error|FAILED" "$OUT/build.log" | head -20; exit 1; }
timeout 90 build-gpu/bench/bench_train --device cuda --epochs 5 --batch 256 2>&1 | tee "$OUT/bench_train.txt"
timeout 40 python3 bench/train_lenet.py --device cuda --epochs 5 --batch 256 2>&1 | tee -a "$OUT/bench_train.txt"
