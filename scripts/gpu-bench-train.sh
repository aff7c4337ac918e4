#!/usr/bin/env bash
# The training-throughput check alone on a GPU machine (a subset of scripts/gpu-check.sh):
# builds bench_train against PyTorch's CUDA LibTorch and compares it with bench/train_lenet.py.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
bash scripts/gpu-configure.sh "$OUT" -DAUTOML_BUILD_TESTS=OFF || exit 1
time cmake --build build-gpu -j "$(nproc)" --target bench_train >"$OUT/build.log" 2>&1 ||
  { grep -E "error|FAILED" "$OUT/build.log" | head -20; exit 1; }
timeout 90 build-gpu/bench/bench_train --device cuda --epochs 5 --batch 256 2>&1 | tee "$OUT/bench_train.txt"
timeout 40 python3 bench/train_lenet.py --device cuda --epochs 5 --batch 256 2>&1 | tee -a "$OUT/bench_train.txt"
