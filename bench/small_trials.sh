#!/usr/bin/env bash
# Many small trials (issue 13): the engine's training images/s over a whole `automl run` of
# bench/small-trials.yaml (17 trials of 1500 images, MI and test evaluation included, the
# placement measured; wall time of the whole process), side by side with the machine's
# single-thread aggregate: as many one-thread `bench/train_lenet.py` trainers (Debian's
# python3-torch, the same LibTorch) as there are cores, at the same batch, run together.
#
#   bench/small_trials.sh build/automl
set -euo pipefail
automl=$(realpath "${1:-build/automl}")
bench=$(cd "$(dirname "$0")" && pwd)
cores=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$(date +%s.%N)
"$automl" run "$bench/small-trials.yaml" --db "$work/small.db" >"$work/run.log" 2>&1 ||
  { tail -n 20 "$work/run.log"; exit 1; }
end=$(date +%s.%N)
grep "^placement:" "$work/run.log"
# Training images: every epoch > 0 of every trial trains the 1500-image subset once.
epochs=$(/usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM epochs WHERE epoch > 0').fetchone()[0])" "$work/small.db")
engine=$(awk -v e="$epochs" -v s="$start" -v t="$end" 'BEGIN { printf "%.0f", e * 1500 / (t - s) }')
wall=$(awk -v s="$start" -v t="$end" 'BEGIN { printf "%.1f", t - s }')

for k in $(seq "$cores"); do
  /usr/bin/python3 "$bench/train_lenet.py" --device cpu --threads 1 --batch 64 --epochs 3 \
    >"$work/python-$k.log" 2>&1 &
done
wait
# Each trainer's best epoch (the first warms up), summed over the trainers that ran together.
python=0
for k in $(seq "$cores"); do
  best=$(awk '/^python epoch/ { gsub(",", "", $6); if ($6 + 0 > b) b = $6 + 0 } END { print b + 0 }' "$work/python-$k.log")
  python=$((python + ${best%.*}))
done
echo "engine:  $epochs epochs x 1500 images in $wall s (whole automl run): $engine images/s"
echo "python:  $cores x train_lenet.py --threads 1 --batch 64 together: $python images/s"
awk -v a="$engine" -v b="$python" 'BEGIN { printf "ratio:   %.2f of the single-thread aggregate\n", a / b }'
