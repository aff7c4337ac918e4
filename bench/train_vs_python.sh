#!/bin/bash
# The training loop in C++ (bench_train --loop-only 1) against the same loop in Python PyTorch
# (bench/train_lenet.py), side by side, for batch 64 and 256 with 1 and 2 threads: LeNet, all 60k
# Fashion-MNIST images, CPU. The two run alternately, `repeats` times each per combination, and
# the one that goes first alternates too, so that a change in the machine's load touches both
# alike. A run's figure is the median images/s of its epochs after the first (warm-up); the table
# shows the median (and best) of the runs, the ratio of the medians and the load average.
#
#   bench/train_vs_python.sh [--build build] [--repeats 5] [--epochs 3] [--batches "64 256"]
#                            [--threads "1 2"] [--python /usr/bin/python3] [--nice N]
#
# --nice N runs both (alike) at that niceness; a negative N (root) shields them from other
# builds on a shared machine. The log of every run is kept in ${TMPDIR:-/tmp}/train_vs_python.*.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$here/../build repeats=5 epochs=3 batches="64 256" threads="1 2" python=/usr/bin/python3
nice=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2 ;;
    --repeats) repeats=$2 ;;
    --epochs) epochs=$2 ;;
    --batches) batches=$2 ;;
    --threads) threads=$2 ;;
    --python) python=$2 ;;
    --nice) nice=$2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
bench=$build/bench/bench_train
[ -x "$bench" ] || { echo "no $bench: build the bench_train target first" >&2; exit 1; }
[ "$epochs" -ge 2 ] || { echo "--epochs must be >= 2 (the first is warm-up)" >&2; exit 2; }
log=$(mktemp "${TMPDIR:-/tmp}/train_vs_python.XXXXXX")

# The median of the numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
best() { sort -g | tail -1; }

# Runs one side; prints the median images/s of its epochs after the first.
run() {
  local side=$1 batch=$2 t=$3 out
  if [ "$side" = c++ ]; then
    out=$(nice -n "$nice" "$bench" --loop-only 1 --threads "$t" --batch "$batch" --epochs "$epochs")
  else
    out=$(nice -n "$nice" "$python" "$here/train_lenet.py" --device cpu --threads "$t" \
      --batch "$batch" --epochs "$epochs")
  fi
  printf '== %s batch %s threads %s\n%s\n' "$side" "$batch" "$t" "$out" >>"$log"
  echo "$out" | sed -n 's/^.* epoch \([0-9]*\): .*, \([0-9.]*\) images\/s.*$/\1 \2/p' |
    awk '$1 > 1 { print $2 }' | median
}

printf '%-6s %-7s | %-22s | %-22s | %-13s | %s\n' batch threads "c++ images/s med (best)" \
  "python images/s med (best)" "c++/python" "load average (1 min) before -> after"
for batch in $batches; do
  for t in $threads; do
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    cpp="" py=""
    for r in $(seq "$repeats"); do
      if [ $((r % 2)) -eq 1 ]; then
        cpp+="$(run c++ "$batch" "$t") " py+="$(run python "$batch" "$t") "
      else
        py+="$(run python "$batch" "$t") " cpp+="$(run c++ "$batch" "$t") "
      fi
    done
    cm=$(echo $cpp | tr ' ' '\n' | median) cb=$(echo $cpp | tr ' ' '\n' | best)
    pm=$(echo $py | tr ' ' '\n' | median) pb=$(echo $py | tr ' ' '\n' | best)
    printf '%-6s %-7s | %8.0f (%8.0f)      | %8.0f (%8.0f)      | %5.3f (%5.3f) | %s -> %s\n' \
      "$batch" "$t" "$cm" "$cb" "$pm" "$pb" "$(echo "$cm $pm" | awk '{ print $1 / $2 }')" \
      "$(echo "$cb $pb" | awk '{ print $1 / $2 }')" "$load_before" "$(cut -d' ' -f1 /proc/loadavg)"
    echo "  runs c++: $cpp| python: $py" | tr -s ' '
  done
done
echo "every run's output: $log"
