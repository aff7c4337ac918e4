#!/usr/bin/env bash
# Writes the HTML report of a database and a PNG screenshot of it (headless Chromium, offline).
#   scripts/screenshot-report.sh runs/default.db [out-prefix]   -> out-prefix.html, out-prefix.png
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:?usage: scripts/screenshot-report.sh DATABASE [OUT_PREFIX]}
prefix=${2:-${db%.db}-report}
automl=${AUTOML:-./build/automl}
"$automl" report --db "$db" --html "$prefix.html"
command -v chromium >/dev/null || { echo "chromium is absent (scripts/setup.sh installs it)" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --screenshot="$(realpath -m "$prefix.png")" --window-size=1400,2400 \
  "file://$(realpath "$prefix.html")" >/dev/null 2>&1
echo "wrote $prefix.html and $prefix.png"
