#!/usr/bin/env bash
# Installs everything, builds, and runs the default experiment, then shows what it recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
experiment=${1:-experiments/default.yaml}
./build/automl run "$experiment"
db=$(sed -n 's/^database: *//p' "$experiment")
./build/automl query --db "${db:-automl.db}" trials
