#!/usr/bin/env bash
# The dashboard's browser test: runs experiments/smoke.yaml in the background, serves its
# database with `automl serve`, and drives the page with headless chromium (dashboard.test.js).
# Usage: tests/browser/run_dashboard_test.sh path/to/automl [screenshot dir]
# Exit 77 (skipped) with the reason when node, puppeteer-core, chromium or the data is missing.
set -euo pipefail
automl=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shots=${2:-$root/docs/results}
skip() { echo "SKIP: $*"; exit 77; }
command -v node >/dev/null || skip "node is not installed (bash scripts/setup-browser.sh)"
command -v sqlite3 >/dev/null || skip "the sqlite3 CLI is not installed"
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] || skip "chromium is not installed"
[[ -d $here/node_modules/puppeteer-core ]] || skip "puppeteer-core is not installed (bash scripts/setup-browser.sh)"
[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] || skip "no Fashion-MNIST"

work=$(mktemp -d)
export AUTOML_CACHE_DIR="$work/cache"  # placements measured here stay here
run_pid="" serve_pid=""
cleanup() {
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null || true
  [[ -n $run_pid ]] && kill -INT "$run_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$shots"
db=$work/smoke.db
(cd "$work" && exec "$automl" run "$root/experiments/smoke.yaml" --db "$db" --threads 1 >"$work/run.log" 2>&1) &
run_pid=$!
for _ in $(seq 100); do
  [[ -f $db ]] && sqlite3 -readonly "$db" "SELECT 1 FROM experiments" 2>/dev/null | grep -q 1 && break
  sleep 0.2
done
"$automl" serve --db "$db" --port 0 >"$work/serve.log" 2>&1 &
serve_pid=$!
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://[0-9.]*:[0-9]*' "$work/serve.log" || true)
  [[ -n $url ]] && break
  sleep 0.1
done
[[ -n $url ]] || { cat "$work/serve.log"; echo "automl serve did not start"; exit 1; }
status=0
node "$here/dashboard.test.js" "$url" "$db" smoke "$shots" || status=$?
[[ $status -eq 0 ]] || { echo "--- run.log"; tail -20 "$work/run.log"; }
exit $status
