#!/usr/bin/env bash
# Runs experiments/default.yaml with two automl builds and compares what they recorded, trial by
# trial and epoch by epoch (scripts/compare-databases.py): a refactoring must give bit-identical
# results. The budget is removed from the copy both run, so that how busy the machine is cannot
# change the plan (calibration) or where the budget cuts; both use 2 LibTorch threads.
#   usage: scripts/compare-default.sh OLD/automl NEW/automl [workdir]
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2")
work=${3:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"
for side in old new; do
  sed -e 's/^  device_minutes: .*/  device_minutes: 0/' -e "s#^database: .*#database: $work/$side.db#" \
    "$here/experiments/default.yaml" >"$work/default-$side.yaml"
done
# Each build runs from a copy, so that rebuilding meanwhile cannot change the workers it starts.
cp "$old" "$work/automl-old"
cp "$new" "$work/automl-new"
"$work/automl-old" run "$work/default-old.yaml" --threads 2 >"$work/old.log" 2>&1
"$work/automl-new" run "$work/default-new.yaml" --threads 2 >"$work/new.log" 2>&1
python3 "$here/scripts/compare-databases.py" "$work/old.db" "$work/new.db"
