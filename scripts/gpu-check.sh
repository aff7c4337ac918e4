#!/usr/bin/env bash
# Everything this project measures on a GPU machine, in one go (see docs/RESULTS.md):
#   build against PyTorch's CUDA LibTorch, MI tests ([cuda] compares GPU and CPU counts),
#   bench_mi, bench_train vs bench/train_lenet.py, bench_gpu_share, then a short full-data
#   experiment and its report. Logs go to $OUT (default ./gpu-out).
# scripts/gpu-configure.sh prepares the machine and configures the build.
#   usage: bash scripts/gpu-check.sh [experiment-seconds]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
experiment_seconds=${1:-150}
step() { echo "== $(date +%T) $*"; }

step configure
bash scripts/gpu-configure.sh "$OUT" || exit 1

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
