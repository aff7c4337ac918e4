#!/usr/bin/env bash
# Many small trials (issue 13): the engine's training images/s over a whole `automl run` of
# bench/small-trials.yaml (17 trials of 1500 images, MI and test evaluation included; wall time
# of the whole process), side by side with the machine's single-thread aggregate: as many
# one-thread `bench/train_lenet.py` trainers (Debian's python3-torch, the same LibTorch) as there
# are cores, at the same batch, run together. The experiment runs twice into fresh databases
# with a fresh placement memory: "first" measures the placement (a machine's first experiment
# of this model and batch), "again" finds it remembered (every later one).
#
#   bench/small_trials.sh build/automl
set -euo pipefail
automl=$(realpath "${1:-build/automl}")
bench=$(cd "$(dirname "$0")" && pwd)
cores=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export AUTOML_CACHE_DIR="$work/cache"

# run NAME: one whole `automl run`; sets epochs, wall and engine (images/s).
run() {
  local start end
  start=$(date +%s.%N)
  "$automl" run "$bench/small-trials.yaml" --db "$work/$1.db" >"$work/$1.log" 2>&1 ||
    { tail -n 20 "$work/$1.log"; exit 1; }
  end=$(date +%s.%N)
  grep "^placement:" "$work/$1.log"
  # Training images: every epoch > 0 of every trial trains the 1500-image subset once.
  epochs=$(/usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM epochs WHERE epoch > 0').fetchone()[0])" "$work/$1.db")
  engine=$(awk -v e="$epochs" -v s="$start" -v t="$end" 'BEGIN { printf "%.0f", e * 1500 / (t - s) }')
  wall=$(awk -v s="$start" -v t="$end" 'BEGIN { printf "%.1f", t - s }')
}
run first
first="$epochs epochs x 1500 images in $wall s: $engine images/s"
first_rate=$engine
run again

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
echo "engine, first (placement measured):  $first"
echo "engine, again (placement remembered): $epochs epochs x 1500 images in $wall s: $engine images/s"
echo "python:  $cores x train_lenet.py --threads 1 --batch 64 together: $python images/s"
awk -v a="$first_rate" -v c="$engine" -v b="$python" \
  'BEGIN { printf "ratio:   %.2f (first), %.2f (again) of the single-thread aggregate\n", a / b, c / b }'
