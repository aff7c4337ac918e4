#!/usr/bin/env bash
# The newcomer's example end to end, as README.md's "Tune your own model" runs it: model.py
# (Debian's python3-torch) writes the scripted model and the tensor files, `automl run` runs
# examples/your-model/experiment.yaml on the CPU, and `automl report` must list MI-SGD model-
# and layer-wise and every baseline, each with a finished run. It runs in a copy of the example,
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
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAILED: $*" >&2
  exit 1
}

cp "$example/model.py" "$example/experiment.yaml" "$work/"
cd "$work"
/usr/bin/python3 model.py || fail "model.py exited $?"
for file in model.pt data/train.pt data/test.pt; do
  [[ -s $file ]] || fail "model.py wrote no $file"
done
"$automl" run experiment.yaml --threads "${AUTOML_EXAMPLE_THREADS:-2}" >run.log 2>&1 ||
  fail "automl run exited $? ($(tail -n 5 run.log))"
"$automl" report --db runs/your-model.db >report.txt 2>&1 ||
  fail "automl report exited $? ($(tail -n 5 report.txt))"
cat report.txt

# Each method's row: its title, then the number of its finished final runs (one seed: 1).
for method in "MI-SGD" "MI-SGD layer-wise" "Adam" "RMSprop" "LARS" "step-decay SGD"; do
  grep -Eq "^${method}( \([^)]*\))? +1 " report.txt ||
    fail "the report has no row for $method with a finished run"
done
echo "ok: the report lists MI-SGD, MI-SGD layer-wise and the four baselines"
