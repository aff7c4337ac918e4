#!/usr/bin/env bash
# The newcomer's example end to end, as README.md's "Tune your own model" runs it: model.py
# (Debian's python3-torch) writes the scripted model and the tensor files, `automl lrrt` runs the
# range test inside a one-minute budget and `--method smith` Smith's sweep, `automl run` runs
# examples/your-model/experiment.yaml on the CPU reusing that range test, and `automl report`
# must list MI-SGD model- and layer-wise and every baseline, each with a finished run. It runs in a copy of the example,
# so the source tree stays clean. Exit 77 (CTest: skipped) without python3-torch or Fashion-MNIST.
#
#   tests/example_your_model.sh path/to/automl
set -euo pipefail
automl=$(realpath "$1")
example=$(cd "$(dirname "$0")/../examples/your-model" && pwd)

if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "skipped: /usr/bin/python3 cannot import torch (scripts/setup.sh installs python3-torch)"
  exit 77
fi
if [[ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  echo "skipped: Fashion-MNIST is not installed (scripts/setup.sh installs it)"
  exit 77
fi
work=$(mktemp -d)
export AUTOML_CACHE_DIR="$work/cache"  # placements measured here stay here
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"  # fail

cp "$example/model.py" "$example/experiment.yaml" "$work/"
cd "$work"
/usr/bin/python3 model.py || fail "model.py exited $?"
for file in model.pt data/train.pt data/test.pt; do
  [[ -s $file ]] || fail "model.py wrote no $file"
done
# The engine places the trials itself (slots x threads measured); AUTOML_EXAMPLE_THREADS fixes
# the threads per trial instead.
threads=()
[[ -n ${AUTOML_EXAMPLE_THREADS:-} ]] && threads=(--threads "$AUTOML_EXAMPLE_THREADS")

# The range test alone, inside a one-minute budget; then Smith's sweep beside it.
"$automl" lrrt experiment.yaml --budget 1m "${threads[@]}" >lrrt.log 2>&1 ||
  fail "automl lrrt exited $? ($(tail -n 5 lrrt.log))"
cat lrrt.log
grep -Eq "^  LR_min [0-9.e-]+  LR_max [0-9.e-]+  LR_top [0-9.e-]+  eps [0-9.e-]+$" lrrt.log ||
  fail "automl lrrt printed no range"
spent=$(sed -nE 's/^  ([0-9.]+) device-s \(calibration and range test\) of a 60 device-s budget$/\1/p' lrrt.log)
[[ -n $spent ]] || fail "automl lrrt printed no device-seconds against its budget"
awk -v s="$spent" 'BEGIN { exit !(s <= 60) }' || fail "automl lrrt spent $spent device-s of 60"
for file in table-d.csv range-test.svg; do
  [[ -s runs/your-model.db.lrrt/your-model/$file ]] || fail "automl lrrt wrote no $file"
done
"$automl" lrrt experiment.yaml --method smith "${threads[@]}" >smith.log 2>&1 ||
  fail "automl lrrt --method smith exited $? ($(tail -n 5 smith.log))"
cat smith.log
grep -Eq "suggestion \(steepest descent of the smoothed loss\): [0-9.e-]+$" smith.log ||
  fail "automl lrrt --method smith printed no suggestion"
grep -q "Algorithm 2 (stored)" smith.log || fail "the sweep did not show the stored range beside it"

"$automl" run experiment.yaml "${threads[@]}" >run.log 2>&1 ||
  fail "automl run exited $? ($(tail -n 5 run.log))"
# The whole run reuses the stored range test: it plans no LRRT trial of its own.
if grep -q "stage lrrt: planned" run.log; then fail "automl run ran the LR range test again"; fi
"$automl" report --db runs/your-model.db >report.txt 2>&1 ||
  fail "automl report exited $? ($(tail -n 5 report.txt))"
cat report.txt

# Each method's row: its title, then the number of its finished final runs (one seed: 1).
for method in "MI-SGD" "MI-SGD layer-wise" "Adam" "RMSprop" "LARS" "step-decay SGD"; do
  grep -Eq "^${method}( \([^)]*\))? +1 " report.txt ||
    fail "the report has no row for $method with a finished run"
done
echo "ok: the report lists MI-SGD, MI-SGD layer-wise and the four baselines"
